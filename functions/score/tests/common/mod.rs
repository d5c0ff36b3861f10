//! What the score function's integration tests share: a scratch stack (buckets, queue,
//! topics and database of their own on the local services), generated payments, a
//! quickly trained model and Kafka events.
#![allow(dead_code)] // each test file uses a different part

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use fraud_core::model::ForestParams;
use fraud_core::train::{prepare, train_and_evaluate, DataSource, TimeSplit};
use fraud_core::{ModelArtifact, Transaction};
use fraud_db::scratch::ScratchDatabase;
use fraud_fn_score::Config;

/// One test's own buckets, alert queue and database (topics are named from `suffix`).
pub struct Stack {
    pub aws: fraud_aws::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub models_bucket: String,
    pub results_bucket: String,
    pub queue_url: String,
    pub db: ScratchDatabase,
    pub suffix: String,
}

impl Stack {
    pub async fn new() -> Stack {
        fraud_aws::default_to_local_stack();
        let aws = fraud_aws::aws_config().await;
        let s3 = fraud_aws::s3_client(&aws);
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let models_bucket = format!("test-models-{suffix}");
        let results_bucket = format!("test-results-{suffix}");
        for bucket in [&models_bucket, &results_bucket] {
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot create bucket {bucket} on LocalStack ({e:?}): run `make stack-up`"
                    )
                });
        }
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("test-alerts-{suffix}"))
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        let db = ScratchDatabase::create().await;
        Stack {
            aws,
            s3,
            sqs,
            models_bucket,
            results_bucket,
            queue_url,
            db,
            suffix,
        }
    }

    /// The score function's settings for this stack.
    pub fn config(&self) -> Config {
        Config {
            models_bucket: self.models_bucket.clone(),
            results_bucket: self.results_bucket.clone(),
            alerts_queue_url: self.queue_url.clone(),
            brokers: std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into()),
            scored_topic: format!("test-scored-{}", self.suffix),
            dlq_topic: format!("test-dlq-{}", self.suffix),
            database_url: self.db.url().to_owned(),
            model_check: Duration::ZERO,
            cache_dir: std::env::temp_dir()
                .join(format!("fraud-test-{}", self.suffix))
                .display()
                .to_string(),
            kafka_linger: fraud_kafka::BATCH_LINGER,
            kafka_compression: fraud_kafka::BATCH_COMPRESSION.to_owned(),
        }
    }

    /// Every alert message on the queue (drained): trans_num → how many messages.
    pub async fn drain_alerts(&self) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for alert in self.drain_alerts_bodies().await {
            *seen
                .entry(alert["trans_num"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        seen
    }

    /// Every alert message on the queue (drained), parsed.
    pub async fn drain_alerts_bodies(&self) -> Vec<serde_json::Value> {
        let bodies = fraud_aws::scratch::drain_queue(&self.sqs, &self.queue_url).await;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect()
    }
}

/// Generated payments (deterministic by seed).
pub fn generated(customers: u32, days: u32, seed: u64) -> Vec<Transaction> {
    fraud_generator::payments(customers, days, seed).unwrap()
}

/// A small forest (40 trees) trained with the shared core.
pub fn train(txs: Vec<Transaction>, seed: u64) -> ModelArtifact {
    let prepared = prepare(txs).unwrap();
    let params = ForestParams {
        n_trees: 40,
        seed,
        ..ForestParams::default()
    };
    let source = DataSource {
        uri: "generated".into(),
        sha256: format!("seed-{seed}"),
    };
    train_and_evaluate(&prepared, &source, &[params], TimeSplit::default(), &|| {}).unwrap()
}

/// A Kafka event of `txs` then the raw `extra` payloads, on `payments` partition 0 from
/// offset `first_offset`.
pub fn event(txs: &[Transaction], first_offset: i64, extra: &[&[u8]]) -> KafkaEvent {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let payloads = txs
        .iter()
        .map(Transaction::to_json)
        .chain(extra.iter().map(|e| e.to_vec()));
    let records = payloads
        .enumerate()
        .map(|(i, payload)| {
            let mut r = KafkaRecord::default();
            r.topic = Some("payments".into());
            r.partition = 0;
            r.offset = first_offset + i as i64;
            r.value = Some(b64(&payload));
            r
        })
        .collect();
    let mut event = KafkaEvent::default();
    event.records = HashMap::from([("payments-0".to_owned(), records)]);
    event
}
