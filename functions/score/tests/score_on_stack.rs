//! The score function against the real local services: models and results in S3
//! (LocalStack), alerts in SQS (LocalStack), the scored and dead-letter topics in
//! Kafka (Tansu), card histories and the ledger in PostgreSQL. Each test uses its own
//! buckets, queue, topics and database, so tests are independent.
//!
//! Needs `make stack-up`; fails (never skips) without it.

mod common;

use common::{event, generated, train, Stack};

use fraud_aws::ModelStore;
use fraud_core::Transaction;
use fraud_fn_score::Scorer;
use fraud_generator::{Generator, GeneratorConfig};

impl Stack {
    /// Alert messages on the queue (drained).
    async fn alerts_waiting(&self) -> usize {
        self.drain_alerts().await.values().sum()
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
    let batch = event(&live, 0, &[b"{not json", bad_amount.as_bytes()]);

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
    let err = scorer.handle(event(&txs, 0, &[])).await.unwrap_err();
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
