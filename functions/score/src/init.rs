//! Cold start: clients, the database (migrated), the model, the rules and a warm Kafka
//! connection, the independent parts at once.

use std::time::Duration;

use fraud_aws::{
    AlertQueue, ModelCache, ModelStore, ResultsBucket, RulesCache, RulesStore, ServedModel,
};
use fraud_db::ScoreDb;
use fraud_pipeline::score::Scoring;
use rdkafka::producer::Producer as _;

use crate::kafka::KafkaScored;
use crate::{Config, Scorer};

/// How long cold start waits for the scored topic's metadata (a broker connection).
const KAFKA_WARM_UP_TIMEOUT: Duration = Duration::from_secs(3);

impl Scorer {
    /// Connects to everything and runs the database migrations, while the current model
    /// is loaded (cold start: the two are independent round trips, so they overlap). A
    /// missing model is not fatal here (train may not have run yet): the first batch
    /// fails and is retried until one is promoted. Logs how long each part took.
    pub async fn new(config: Config, aws: &fraud_aws::SdkConfig) -> Result<Self, anyhow::Error> {
        let started = std::time::Instant::now();
        let s3 = fraud_aws::s3_client(aws);
        let models = ModelCache::new(
            ModelStore::new(s3.clone(), config.models_bucket.clone()),
            config.cache_dir.clone().into(),
            config.model_check,
        );
        let rules = RulesCache::new(
            RulesStore::new(s3.clone(), config.models_bucket.clone()),
            config.model_check,
        );
        let alerts = AlertQueue::new(fraud_aws::sqs_client(aws), config.alerts_queue_url.clone());
        let producer = fraud_kafka::batch_producer(
            &config.brokers,
            config.kafka_linger,
            &config.kafka_compression,
        )?;
        let clients_ms = started.elapsed().as_secs_f64() * 1e3;
        let database = async {
            let t = std::time::Instant::now();
            let mut db = fraud_db::connect(&config.database_url).await?;
            fraud_db::migrate(&mut db).await?;
            Ok::<_, anyhow::Error>((db, t.elapsed().as_secs_f64() * 1e3))
        };
        let model = async {
            let t = std::time::Instant::now();
            (models.get().await, t.elapsed().as_secs_f64() * 1e3)
        };
        // The idempotent producer needs a broker connection and a producer id before its
        // first delivery; asking for the scored topic's metadata now starts both, instead
        // of on the first batch (which then waited about a second for them).
        let kafka = {
            let client = producer.clone();
            let topic = config.scored_topic.clone();
            tokio::task::spawn_blocking(move || {
                let t = std::time::Instant::now();
                let result = client
                    .client()
                    .fetch_metadata(Some(&topic), KAFKA_WARM_UP_TIMEOUT);
                (result, t.elapsed().as_secs_f64() * 1e3)
            })
        };
        let rules_loaded = async {
            let t = std::time::Instant::now();
            let version = match rules.get().await {
                Ok(r) => r.version().to_owned(),
                Err(e) => format!("not loaded ({e})"),
            };
            (version, t.elapsed().as_secs_f64() * 1e3)
        };
        let (database, (model, model_ms), kafka, (rules_version, rules_ms)) =
            tokio::join!(database, model, kafka, rules_loaded);
        let kafka_ms = match kafka {
            Ok((Ok(_), ms)) => ms,
            Ok((Err(e), ms)) => {
                // Not fatal: deliveries retry until their own timeout.
                tracing::warn!(error = %e, "Kafka metadata not available at start-up");
                ms
            }
            Err(e) => {
                tracing::warn!(error = %e, "Kafka warm-up task failed");
                0.0
            }
        };
        let (db, database_ms) = database?;
        match &model {
            Ok(m) => tracing::info!(model_version = %m.version, "model ready"),
            Err(e) => tracing::warn!(error = %e, "no model at start-up"),
        }
        tracing::info!(
            clients_ms,
            database_ms,
            model_ms,
            rules_ms,
            %rules_version,
            kafka_ms,
            total_ms = started.elapsed().as_secs_f64() * 1e3,
            "score function initialised"
        );
        let served = ServedModel { models, rules };
        let publisher = KafkaScored {
            producer,
            scored_topic: config.scored_topic,
            dlq_topic: config.dlq_topic,
        };
        let results = ResultsBucket {
            s3,
            bucket: config.results_bucket,
        };
        let db = ScoreDb::new(db, config.database_url);
        Ok(Scorer {
            scoring: Scoring::new(served, db, publisher, alerts, results),
        })
    }
}
