//! The score function: one Kafka batch in (the event source mapping's
//! `SelfManagedKafka`/MSK event); for every payment a fraud probability and a decision
//! out, written to S3 (partitioned JSON lines), to the `payments.scored` topic, and,
//! above the model's threshold, as an alert on the SQS alert queue.
//!
//! - The model comes from [`fraud_aws::ModelCache`]: loaded once per container, cached
//!   in memory and `/tmp`, swapped when a new version is promoted.
//! - Per-card history lives in Postgres (`card_history`), loaded and saved once per
//!   batch. The batch's cards are locked first (transaction-scoped advisory locks, in
//!   card order), so when a producer does not key by card and one card's payments are in
//!   two invocations at once, one waits for the other: no update is lost or counted twice.
//! - Redelivery never double-counts: every `trans_num` is claimed in the
//!   `scored_transactions` ledger inside the same database transaction that saves the
//!   histories, after the side effects succeeded. A redelivered payment is recognised
//!   and produces no second alert. The card history itself ignores a replayed `trans_num`.
//! - A record that cannot be decoded or validated goes to the dead-letter topic with its
//!   reason; only records that could not even be dead-lettered are reported back as
//!   batch item failures.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use fraud_aws::{AlertQueue, ModelCache, ModelStore};
use fraud_core::features::CardHistory;
use fraud_core::scoring::{Alert, Decision, Score};
use fraud_core::Transaction;
use fraud_db::{CardStateStore, ScoredLedger, ScoredTransaction};
use fraud_kafka::DeadLetter;
use fraud_lambda::{or_default, parsed, required, EnvError};
use rdkafka::producer::{FutureProducer, Producer as _};

/// How long cold start waits for the scored topic's metadata (a broker connection).
const KAFKA_WARM_UP_TIMEOUT: Duration = Duration::from_secs(3);
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Settings, read once from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `FRAUD_MODELS_BUCKET`: where models and the `current` pointer live.
    pub models_bucket: String,
    /// `FRAUD_RESULTS_BUCKET`: where scored results are written.
    pub results_bucket: String,
    /// `FRAUD_ALERTS_QUEUE_URL`: SQS queue for alerts.
    pub alerts_queue_url: String,
    /// `KAFKA_BROKERS`: for the scored and dead-letter topics.
    pub brokers: String,
    /// `KAFKA_TOPIC_SCORED` (default `payments.scored`).
    pub scored_topic: String,
    /// `KAFKA_TOPIC_DLQ` (default `payments.dlq`).
    pub dlq_topic: String,
    /// `DATABASE_URL`: Postgres holding card histories and the scored ledger.
    pub database_url: String,
    /// `MODEL_CHECK_SECS`: how often the current-model pointer is re-read (default 30).
    pub model_check: Duration,
    /// `MODEL_CACHE_DIR` (default `/tmp/fraud-models`).
    pub cache_dir: String,
    /// `KAFKA_LINGER_MS`: the scored/dead-letter producer's `linger.ms` (default
    /// [`fraud_kafka::BATCH_LINGER`]: the batch gathers into one request per partition).
    pub kafka_linger: Duration,
    /// `KAFKA_COMPRESSION`: its `compression.codec` (default [`fraud_kafka::BATCH_COMPRESSION`]).
    pub kafka_compression: String,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Config {
            models_bucket: required("FRAUD_MODELS_BUCKET", "S3 bucket holding the models")?,
            results_bucket: required("FRAUD_RESULTS_BUCKET", "S3 bucket for scored results")?,
            alerts_queue_url: required("FRAUD_ALERTS_QUEUE_URL", "SQS queue URL for alerts")?,
            brokers: required("KAFKA_BROKERS", "Kafka bootstrap servers")?,
            scored_topic: or_default("KAFKA_TOPIC_SCORED", "payments.scored"),
            dlq_topic: or_default("KAFKA_TOPIC_DLQ", "payments.dlq"),
            database_url: required("DATABASE_URL", "Postgres connection URL")?,
            model_check: Duration::from_secs(parsed("MODEL_CHECK_SECS", 30)?),
            cache_dir: or_default("MODEL_CACHE_DIR", "/tmp/fraud-models"),
            kafka_linger: Duration::from_millis(parsed(
                "KAFKA_LINGER_MS",
                fraud_kafka::BATCH_LINGER.as_millis() as u64,
            )?),
            kafka_compression: or_default("KAFKA_COMPRESSION", fraud_kafka::BATCH_COMPRESSION),
        })
    }
}

/// Why a whole batch failed (the event source retries it; nothing was committed).
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("no usable model: {0}")]
    Model(fraud_aws::AwsError),
    #[error("database: {0}")]
    Db(#[from] fraud_db::DbError),
    #[error("writing results: {0}")]
    Results(fraud_aws::AwsError),
    #[error("sending alerts: {0}")]
    Alerts(String),
    #[error("publishing to Kafka: {0}")]
    Kafka(#[from] fraud_kafka::KafkaError),
}

pub use fraud_core::scoring::ScoredRecord;

/// The function's answer: counts, and the records to retry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
    pub received: usize,
    pub scored: usize,
    pub duplicates: usize,
    pub alerts: usize,
    pub dead_lettered: usize,
    pub model_version: Option<String>,
    /// S3 URI of the results file written for this batch.
    pub results_uri: Option<String>,
}

/// What the side effects of a batch produced, and how long each took (ms).
#[derive(Debug, Default)]
struct SideEffectTimings {
    results_uri: Option<String>,
    s3_ms: f64,
    kafka_ms: f64,
    sqs_ms: f64,
}

/// A record to retry, identified as `topic-partition@offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The score function's clients and caches, built once per container.
pub struct Scorer {
    config: Config,
    models: ModelCache,
    s3: fraud_aws::S3Client,
    alerts: AlertQueue,
    producer: FutureProducer,
    db: Mutex<tokio_postgres::Client>,
}

/// `topic-partition@offset`.
pub fn record_id(r: &KafkaRecord) -> String {
    format!(
        "{}-{}@{}",
        r.topic.as_deref().unwrap_or("?"),
        r.partition,
        r.offset
    )
}

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
        let (database, (model, model_ms), kafka) = tokio::join!(database, model, kafka);
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
            kafka_ms,
            total_ms = started.elapsed().as_secs_f64() * 1e3,
            "score function initialised"
        );
        Ok(Scorer {
            config,
            models,
            s3,
            alerts,
            producer,
            db: Mutex::new(db),
        })
    }

    /// Loads the current model now (cold start), so the first batch does not pay for it.
    pub async fn warm_up(&self) -> Result<String, ScoreError> {
        let model = self.models.get().await.map_err(ScoreError::Model)?;
        Ok(model.version.clone())
    }

    /// Scores one Kafka batch.
    pub async fn handle(&self, event: KafkaEvent) -> Result<ScoreResponse, ScoreError> {
        let started = std::time::Instant::now();
        let ms = |t: std::time::Instant| t.elapsed().as_secs_f64() * 1e3;
        let mut response = ScoreResponse::default();
        let mut records: Vec<&KafkaRecord> = event.records.values().flatten().collect();
        records.sort_by_key(|r| (r.partition, r.offset));
        response.received = records.len();

        // 1. Decode and validate; what fails goes to the dead-letter topic.
        // (payment, `topic-partition@offset`, producer timestamp in ms)
        let mut payments: Vec<(Transaction, String, i64)> = Vec::new();
        let mut letters: Vec<(DeadLetter, String)> = Vec::new();
        for r in &records {
            let id = record_id(r);
            let bytes = r
                .value
                .as_deref()
                .map(|v| base64::engine::general_purpose::STANDARD.decode(v));
            match bytes {
                Some(Ok(bytes)) => match fraud_core::message::decode(&bytes) {
                    Ok(decoded) => {
                        let published_at = r.timestamp.0.timestamp_millis();
                        let rows = decoded.payments.len();
                        for payment in decoded.payments {
                            match payment {
                                Ok(tx) => payments.push((tx, id.clone(), published_at)),
                                // One bad row of a frame: the others go on.
                                Err(row) => letters.push((
                                    DeadLetter::new(
                                        "score",
                                        &id,
                                        format!("row {} of {rows}: {}", row.line, row.reason),
                                        row.trans_num,
                                        row.raw,
                                    ),
                                    id.clone(),
                                )),
                            }
                        }
                    }
                    Err(e) => {
                        let raw = String::from_utf8_lossy(&bytes).into_owned();
                        letters.push((DeadLetter::new("score", &id, e.to_string(), None, raw), id));
                    }
                },
                Some(Err(e)) => letters.push((
                    DeadLetter::new(
                        "score",
                        &id,
                        format!("value is not base64: {e}"),
                        None,
                        r.value.clone().unwrap_or_default(),
                    ),
                    id,
                )),
                None => letters.push((
                    DeadLetter::new(
                        "score",
                        &id,
                        "record has no value".into(),
                        None,
                        String::new(),
                    ),
                    id,
                )),
            }
        }
        // All at once; each one's delivery is awaited on its own, so one that cannot be
        // written asks for its record's redelivery without holding up the others.
        let sent = futures::future::join_all(letters.iter().map(|(letter, _)| {
            fraud_kafka::publish_dead_letters(
                &self.producer,
                &self.config.dlq_topic,
                std::slice::from_ref(letter),
            )
        }))
        .await;
        for ((_, id), sent) in letters.iter().zip(sent) {
            match sent {
                Ok(()) => response.dead_lettered += 1,
                Err(e) => {
                    tracing::error!(record = %id, error = %e, "cannot dead-letter a record; asking for redelivery");
                    if !response
                        .batch_item_failures
                        .iter()
                        .any(|f| f.item_identifier == *id)
                    {
                        response.batch_item_failures.push(ItemFailure {
                            item_identifier: id.clone(),
                        });
                    }
                }
            }
        }
        if payments.is_empty() {
            return Ok(response);
        }

        // 2. Model and card histories.
        let model = self.models.get().await.map_err(ScoreError::Model)?;
        response.model_version = Some(model.version.clone());
        payments.sort_by_key(|(tx, _, _)| tx.event_time());
        let mut cards: Vec<u64> = payments.iter().map(|(tx, _, _)| tx.cc_num).collect();
        cards.sort_unstable();
        cards.dedup();
        let t = std::time::Instant::now();
        let mut db = self.db.lock().await;
        fraud_db::reconnect_if_closed(&mut db, &self.config.database_url).await?;
        let txn = db
            .transaction()
            .await
            .map_err(|error| fraud_db::DbError::Query {
                query: "begin",
                error,
            })?;
        // The batch's cards are locked before their histories are read, and stay locked
        // until the commit: producers that do not key by card put one card on several
        // partitions, so another invocation may be scoring it right now. Both statements
        // go out at once (one round trip); the load runs after the lock is granted.
        let store = CardStateStore::new(&txn);
        let (_, mut histories): ((), HashMap<u64, CardHistory>) =
            futures::future::try_join(store.lock(&cards), store.load(&cards)).await?;
        let load_ms = ms(t);
        let t = std::time::Instant::now();

        // 3. Features (the shared pipeline) and scores. A replayed trans_num does not
        //    change its card's history, so its features and score come out the same.
        let now = chrono::Utc::now().to_rfc3339();
        let features: Vec<_> = payments
            .iter()
            .map(|(tx, _, _)| histories.entry(tx.cc_num).or_default().observe(tx))
            .collect();
        let assessments = model.assess_batch(&features);
        let mut candidates = Vec::with_capacity(payments.len());
        for ((tx, id, published_at), assessment) in payments.iter().zip(assessments) {
            let score = Score {
                trans_num: tx.trans_num.clone(),
                cc_num: tx.cc_num,
                amt: tx.amt,
                probability: assessment.probability,
                decision: assessment.outcome.into(),
                model_version: model.version.clone(),
                outcome: assessment.outcome,
                reasons: assessment.reasons,
            };
            candidates.push((tx, id, *published_at, score));
        }

        let score_ms = ms(t);
        let t = std::time::Instant::now();
        // 4.–6. Ledger claim, side effects, card histories, commit. The claim goes out
        //    first and the histories save right behind it on the same connection
        //    (pipelined: the save runs on the server while the side effects run here);
        //    the side effects start as soon as the claim answers and run at once; the
        //    commit comes last. If anything fails the transaction rolls back (claims
        //    included) and the event source redelivers the batch.
        let rows: Vec<ScoredTransaction> = candidates
            .iter()
            .map(|(tx, _, _, score)| {
                ScoredTransaction::new(score, tx.trans_date_trans_time.and_utc())
            })
            .collect();
        let changed: Vec<(u64, &CardHistory)> = cards
            .iter()
            .filter_map(|c| histories.get(c).map(|h| (*c, h)))
            .collect();
        let ledger = ScoredLedger::new(&txn);
        let effects = async {
            let fresh: HashSet<String> = ledger.claim(&rows).await?.into_iter().collect();
            let claim_ms = ms(t);
            let mut duplicates = 0;
            let mut scored = Vec::with_capacity(fresh.len());
            let mut alerts = Vec::new();
            let mut fresh = fresh;
            for (tx, id, published_at, score) in &candidates {
                // Taken out once used: a trans_num twice in one batch counts once.
                if !fresh.remove(&score.trans_num) {
                    duplicates += 1;
                    continue;
                }
                if score.decision == Decision::Block {
                    let mut alert = Alert::new(tx, score, model.threshold);
                    alert.published_at_ms = Some(*published_at);
                    alerts.push(alert);
                }
                scored.push(ScoredRecord::new(
                    tx,
                    score,
                    now.clone(),
                    (*id).clone(),
                    *published_at,
                ));
            }
            let timings = if scored.is_empty() {
                SideEffectTimings::default()
            } else {
                let (uri, kafka_ms, sqs_ms) = futures::future::try_join3(
                    self.write_results(&records, &scored),
                    self.publish_scored(&scored),
                    self.send_alerts(&alerts),
                )
                .await?;
                SideEffectTimings {
                    results_uri: Some(uri.0),
                    s3_ms: uri.1,
                    kafka_ms,
                    sqs_ms,
                }
            };
            Ok::<_, ScoreError>((scored.len(), alerts.len(), duplicates, claim_ms, timings))
        };
        let save = async {
            let t = std::time::Instant::now();
            store.save(&changed).await?;
            Ok::<_, ScoreError>(ms(t))
        };
        // `try_join` polls `effects` first, so the claim is sent before the save.
        let ((scored, alerts, duplicates, claim_ms, effects), save_ms) =
            futures::future::try_join(effects, save).await?;
        let t = std::time::Instant::now();
        txn.commit()
            .await
            .map_err(|error| fraud_db::DbError::Query {
                query: "commit",
                error,
            })?;
        let commit_ms = ms(t);
        response.scored = scored;
        response.alerts = alerts;
        response.duplicates = duplicates;
        response.results_uri = effects.results_uri;
        let SideEffectTimings {
            s3_ms,
            kafka_ms,
            sqs_ms,
            ..
        } = effects;
        // Where the batch's time went (ms): card histories loaded, features + model,
        // ledger claim; then, at once: S3 results file, scored topic (delivery
        // confirmed), SQS alerts, histories saved (on the server, behind the claim);
        // then the commit.
        tracing::info!(received = response.received, scored = response.scored, duplicates = response.duplicates, alerts = response.alerts, dead_lettered = response.dead_lettered, model_version = %model.version, load_ms, score_ms, claim_ms, s3_ms, kafka_ms, sqs_ms, save_ms, commit_ms, total_ms = ms(started), "batch scored");
        Ok(response)
    }

    /// One JSON-lines file per batch, under `results/dt=<day>/`, named by the batch's
    /// first record so a redelivered batch overwrites rather than duplicates.
    async fn write_results(
        &self,
        records: &[&KafkaRecord],
        scored: &[ScoredRecord],
    ) -> Result<(String, f64), ScoreError> {
        let t = std::time::Instant::now();
        let first = records
            .first()
            .map(|r| record_id(r))
            .unwrap_or_default()
            .replace('@', "-");
        let day = scored[0]
            .trans_date_trans_time
            .get(..10)
            .unwrap_or("unknown")
            .to_owned();
        let key = format!("results/dt={day}/batch-{first}.jsonl");
        let mut body = Vec::new();
        for s in scored {
            serde_json::to_writer(&mut body, s).expect("records serialize");
            body.push(b'\n');
        }
        fraud_aws::put_bytes(
            &self.s3,
            &self.config.results_bucket,
            &key,
            body,
            "application/x-ndjson",
        )
        .await
        .map_err(ScoreError::Results)?;
        let uri = format!("s3://{}/{key}", self.config.results_bucket);
        Ok((uri, t.elapsed().as_secs_f64() * 1e3))
    }

    /// Every scored record to the scored topic, keyed by card; returns once the broker
    /// confirmed them all (ms taken).
    async fn publish_scored(&self, scored: &[ScoredRecord]) -> Result<f64, ScoreError> {
        let t = std::time::Instant::now();
        let sends = scored.iter().map(|s| {
            let payload = serde_json::to_vec(s).expect("records serialize");
            let key = s.cc_num.to_string();
            let producer = &self.producer;
            let topic = &self.config.scored_topic;
            async move { fraud_kafka::publish(producer, topic, &key, &payload).await }
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    }

    /// The alerts to SQS (notify passes each one's `trans_num` on as the webhook's
    /// idempotency key); fails if SQS refused any (ms taken).
    async fn send_alerts(&self, alerts: &[Alert]) -> Result<f64, ScoreError> {
        let t = std::time::Instant::now();
        if alerts.is_empty() {
            return Ok(0.0);
        }
        let messages: Vec<(String, String)> = alerts
            .iter()
            .map(|a| {
                (
                    a.trans_num.clone(),
                    serde_json::to_string(a).expect("alerts serialize"),
                )
            })
            .collect();
        let failed = self
            .alerts
            .send(&messages)
            .await
            .map_err(|e| ScoreError::Alerts(e.to_string()))?;
        if !failed.is_empty() {
            return Err(ScoreError::Alerts(format!(
                "{} alerts were refused by SQS",
                failed.len()
            )));
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    }

    /// The model currently served (for tests and logs).
    pub async fn model(&self) -> Result<Arc<fraud_core::ModelArtifact>, ScoreError> {
        self.models.get().await.map_err(ScoreError::Model)
    }
}
