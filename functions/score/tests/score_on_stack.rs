//! The score function against the real local services: models and results in S3
//! (LocalStack), alerts in SQS (LocalStack), the scored and dead-letter topics in
//! Kafka (Tansu), card histories and the ledger in PostgreSQL. Each test uses its own
//! buckets, queue, topics and database, so tests are independent.
//!
//! Needs `make stack-up`; fails (never skips) without it.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use fraud_aws::ModelStore;
use fraud_core::model::ForestParams;
use fraud_core::train::{prepare, train_and_evaluate, DataSource, TimeSplit};
use fraud_core::{ModelArtifact, Transaction};
use fraud_db::scratch::ScratchDatabase;
use fraud_fn_score::{Config, Scorer};
use fraud_generator::{Generator, GeneratorConfig};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

struct Stack {
    aws: fraud_aws::SdkConfig,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    models_bucket: String,
    results_bucket: String,
    queue_url: String,
    db: ScratchDatabase,
    suffix: String,
}

impl Stack {
    async fn new() -> Stack {
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

    fn config(&self) -> Config {
        Config {
            models_bucket: self.models_bucket.clone(),
            results_bucket: self.results_bucket.clone(),
            alerts_queue_url: self.queue_url.clone(),
            brokers: env_or("KAFKA_BROKERS", "127.0.0.1:19092"),
            scored_topic: format!("test-scored-{}", self.suffix),
            dlq_topic: format!("test-dlq-{}", self.suffix),
            database_url: self.db.url().to_owned(),
            model_check: Duration::ZERO,
            cache_dir: std::env::temp_dir()
                .join(format!("fraud-test-{}", self.suffix))
                .display()
                .to_string(),
        }
    }

    async fn alerts_waiting(&self) -> usize {
        let mut total = 0;
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let n = out.messages().len();
            if n == 0 {
                return total;
            }
            for m in out.messages() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            total += n;
        }
    }

    async fn result_lines(&self) -> usize {
        let list = self
            .s3
            .list_objects_v2()
            .bucket(&self.results_bucket)
            .send()
            .await
            .unwrap();
        let mut lines = 0;
        for object in list.contents() {
            let bytes = fraud_aws::get_bytes(&self.s3, &self.results_bucket, object.key().unwrap())
                .await
                .unwrap()
                .unwrap();
            lines += bytes.iter().filter(|b| **b == b'\n').count();
        }
        lines
    }
}

fn generated(customers: u32, days: u32, seed: u64) -> Vec<Transaction> {
    Generator::new(GeneratorConfig {
        customers,
        days,
        seed,
        ..GeneratorConfig::default()
    })
    .unwrap()
    .all()
    .collect()
}

fn train(txs: Vec<Transaction>, seed: u64) -> ModelArtifact {
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

fn event(txs: &[Transaction], extra: &[&[u8]]) -> KafkaEvent {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut records: Vec<KafkaRecord> = Vec::new();
    let payloads = txs
        .iter()
        .map(Transaction::to_json)
        .chain(extra.iter().map(|e| e.to_vec()));
    for (offset, payload) in payloads.enumerate() {
        let mut r = KafkaRecord::default();
        r.topic = Some("payments".into());
        r.partition = 0;
        r.offset = offset as i64;
        r.value = Some(b64(&payload));
        records.push(r);
    }
    let mut event = KafkaEvent::default();
    event.records = HashMap::from([("payments-0".to_owned(), records)]);
    event
}

#[tokio::test]
async fn scores_a_batch_dead_letters_bad_records_and_never_double_counts_on_redelivery() {
    let stack = Stack::new().await;
    let artifact = train(generated(300, 60, 1), 1);
    let store = ModelStore::new(stack.s3.clone(), stack.models_bucket.clone());
    let uri = store.put(&artifact).await.unwrap();
    store.promote(&artifact, &uri).await.unwrap();

    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    // A later period, with its frauds: the same cards continue.
    let live: Vec<Transaction> = Generator::new(GeneratorConfig {
        customers: 300,
        days: 3,
        seed: 1,
        start: chrono::NaiveDate::from_ymd_opt(2019, 3, 2).unwrap(),
        ..GeneratorConfig::default()
    })
    .unwrap()
    .all()
    .collect();
    let mut bad_amount = serde_json::to_value(&live[0]).unwrap();
    bad_amount["amt"] = serde_json::json!(-5);
    let bad_amount = bad_amount.to_string();
    let batch = event(&live, &[b"{not json", bad_amount.as_bytes()]);

    let first = scorer.handle(batch.clone()).await.unwrap();
    assert_eq!(first.received, live.len() + 2);
    assert_eq!(first.scored, live.len());
    assert_eq!(first.dead_lettered, 2);
    assert!(first.batch_item_failures.is_empty());
    assert_eq!(
        first.model_version.as_deref(),
        Some(artifact.version.as_str())
    );
    let blocked = first.alerts;
    assert_eq!(
        stack.alerts_waiting().await,
        blocked,
        "one SQS alert per blocked payment"
    );
    assert_eq!(
        stack.result_lines().await,
        live.len(),
        "one result line per payment"
    );

    // Redelivery of the same batch: recognised, nothing counted or alerted twice.
    let again = scorer.handle(batch).await.unwrap();
    assert_eq!(again.scored, 0);
    assert_eq!(again.duplicates, live.len());
    assert_eq!(again.alerts, 0);
    assert_eq!(stack.alerts_waiting().await, 0);
    assert_eq!(stack.result_lines().await, live.len());
    let client = stack.db.connect().await;
    assert_eq!(
        fraud_db::ScoredLedger::new(&client).count().await.unwrap(),
        live.len() as u64
    );
}

#[tokio::test]
async fn swaps_to_a_newly_promoted_model_without_restart_and_refuses_a_corrupt_one() {
    let stack = Stack::new().await;
    let store = ModelStore::new(stack.s3.clone(), stack.models_bucket.clone());
    let data = generated(200, 45, 2);
    let first = train(data.clone(), 1);
    let uri = store.put(&first).await.unwrap();
    store.promote(&first, &uri).await.unwrap();
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    assert_eq!(scorer.warm_up().await.unwrap(), first.version);

    let mut second = train(data, 2);
    second.version = format!("{}-second", second.version);
    let uri = store.put(&second).await.unwrap();
    store.promote(&second, &uri).await.unwrap();
    assert_eq!(scorer.model().await.unwrap().version, second.version);

    // A corrupt artifact promoted by mistake is never served: the last good one stays.
    fraud_aws::put_bytes(
        &stack.s3,
        &stack.models_bucket,
        "models/broken/model.json",
        b"{\"format\":\"fraud-model\"".to_vec(),
        "application/json",
    )
    .await
    .unwrap();
    let mut pointer = store.current().await.unwrap().unwrap();
    pointer.version = "broken".into();
    fraud_aws::put_bytes(
        &stack.s3,
        &stack.models_bucket,
        "models/current.json",
        serde_json::to_vec(&pointer).unwrap(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(scorer.model().await.unwrap().version, second.version);
}

#[tokio::test]
async fn without_any_model_the_batch_fails_so_it_is_retried_not_lost() {
    let stack = Stack::new().await;
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let txs = generated(20, 2, 3);
    let err = scorer.handle(event(&txs, &[])).await.unwrap_err();
    assert!(
        err.to_string().contains("no model has been promoted"),
        "{err}"
    );
    let client = stack.db.connect().await;
    assert_eq!(
        fraud_db::ScoredLedger::new(&client).count().await.unwrap(),
        0
    );
}
