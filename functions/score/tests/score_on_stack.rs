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

    /// The objects under `prefix` in the results bucket, each key with its bytes.
    async fn objects_under(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let list = self
            .s3
            .list_objects_v2()
            .bucket(&self.results_bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        let mut objects = Vec::new();
        for object in list.contents() {
            let key = object.key().unwrap();
            let bytes = fraud_aws::get_bytes(&self.s3, &self.results_bucket, key)
                .await
                .unwrap()
                .unwrap();
            objects.push((key.to_owned(), bytes));
        }
        objects
    }

    async fn result_lines(&self) -> usize {
        self.objects_under("results/")
            .await
            .iter()
            .map(|(_, bytes)| bytes.iter().filter(|b| **b == b'\n').count())
            .sum()
    }

    /// The payments archive: every archived payment, parsed back (no row refused), and
    /// the archive's keys.
    async fn archived_payments(&self) -> (Vec<Transaction>, Vec<String>) {
        let mut payments = Vec::new();
        let mut keys = Vec::new();
        for (key, bytes) in self.objects_under("payments/").await {
            payments.extend(
                fraud_core::csv_input::read_transactions(&bytes[..], |r| {
                    panic!("archived row refused: {r}")
                })
                .unwrap(),
            );
            keys.push(key);
        }
        (payments, keys)
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
    // The payments archive beside the results: exactly the scored payments (not the
    // dead-lettered ones), whole, under the results file's name.
    let (archived, keys) = stack.archived_payments().await;
    let mut archived_nums: Vec<&str> = archived.iter().map(|t| t.trans_num.as_str()).collect();
    let mut live_nums: Vec<&str> = live.iter().map(|t| t.trans_num.as_str()).collect();
    archived_nums.sort_unstable();
    live_nums.sort_unstable();
    assert_eq!(archived_nums, live_nums);
    // Every field as the payment came (compared as the one CSV writer writes them).
    let by_num: std::collections::HashMap<&str, &Transaction> =
        live.iter().map(|t| (t.trans_num.as_str(), t)).collect();
    for tx in &archived {
        assert_eq!(tx.to_record(), by_num[tx.trans_num.as_str()].to_record());
    }
    let results_uri = first.results_uri.as_deref().unwrap();
    let payments_uri = first.payments_uri.as_deref().unwrap();
    assert_eq!(
        payments_uri,
        results_uri
            .replace("/results/", "/payments/")
            .replace(".jsonl", ".csv")
    );
    assert_eq!(
        keys,
        [payments_uri
            .strip_prefix(&format!("s3://{}/", stack.results_bucket))
            .unwrap()]
    );

    // Redelivery of the same batch: recognised, nothing counted or alerted twice.
    let again = scorer.handle(batch).await.unwrap();
    assert_eq!(again.scored, 0);
    assert_eq!(again.duplicates, live.len());
    assert_eq!(again.alerts, 0);
    assert_eq!(stack.alerts_waiting().await, 0);
    assert_eq!(stack.result_lines().await, live.len());
    assert_eq!(
        stack.archived_payments().await.0.len(),
        live.len(),
        "a redelivery archives nothing twice"
    );
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

/// `event`, with every record moved to `partition`.
fn on_partition(
    mut event: aws_lambda_events::event::kafka::KafkaEvent,
    partition: i64,
) -> aws_lambda_events::event::kafka::KafkaEvent {
    let records: Vec<_> = event
        .records
        .drain()
        .flat_map(|(_, records)| records)
        .map(|mut r| {
            r.partition = partition;
            r
        })
        .collect();
    event.records = std::collections::HashMap::from([(format!("payments-{partition}"), records)]);
    event
}

#[tokio::test]
async fn one_cards_payments_in_two_concurrent_invocations_are_each_in_its_history_once() {
    // Producers that key by a constant, by trans_num or not at all put one card's
    // payments on several partitions, so two invocations can score the same card at
    // once. Without the card locks, one invocation's history save overwrites the other's.
    let stack = Stack::new().await;
    let artifact = train(generated(200, 45, 4), 4);
    let store = ModelStore::new(stack.s3.clone(), stack.models_bucket.clone());
    let uri = store.put(&artifact).await.unwrap();
    store.promote(&artifact, &uri).await.unwrap();
    // Two containers, as two concurrent invocations would get.
    let a = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let b = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let live: Vec<Transaction> = Generator::new(GeneratorConfig {
        customers: 200,
        days: 6,
        seed: 4,
        start: chrono::NaiveDate::from_ymd_opt(2019, 2, 20).unwrap(),
        ..GeneratorConfig::default()
    })
    .unwrap()
    .all()
    .collect();
    let mut expected: std::collections::BTreeMap<u64, usize> = Default::default();
    for tx in &live {
        *expected.entry(tx.cc_num).or_default() += 1;
    }
    // Every card's payments alternate between the two invocations, in several rounds.
    let rounds: Vec<&[Transaction]> = live.chunks(live.len().div_ceil(4)).collect();
    let mut offset = 0;
    for round in rounds {
        let (even, odd): (Vec<_>, Vec<_>) = round.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let even: Vec<Transaction> = even.into_iter().map(|(_, t)| t.clone()).collect();
        let odd: Vec<Transaction> = odd.into_iter().map(|(_, t)| t.clone()).collect();
        let (ra, rb) = tokio::join!(
            a.handle(on_partition(event(&even, offset, &[]), 0)),
            b.handle(on_partition(event(&odd, offset, &[]), 1)),
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.scored + rb.scored, round.len());
        offset += round.len() as i64;
    }
    let client = stack.db.connect().await;
    let cards: Vec<u64> = expected.keys().copied().collect();
    let histories = fraud_db::CardStateStore::new(&client)
        .load(&cards)
        .await
        .unwrap();
    let lost: Vec<(u64, usize, usize)> = expected
        .iter()
        .filter_map(|(card, n)| {
            let have = histories.get(card).map_or(0, |h| h.len());
            (have != *n).then_some((*card, *n, have))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} cards' histories do not hold each payment once (card, payments, in history): {:?}",
        lost.len(),
        expected.len(),
        &lost[..lost.len().min(5)]
    );
    assert_eq!(
        fraud_db::ScoredLedger::new(&client).count().await.unwrap(),
        live.len() as u64
    );
}

#[tokio::test]
async fn every_encoding_producers_write_is_scored_and_the_label_is_kept_with_the_result() {
    use serde_json::{json, Value};
    let stack = Stack::new().await;
    let artifact = train(generated(200, 45, 5), 5);
    let store = ModelStore::new(stack.s3.clone(), stack.models_bucket.clone());
    let uri = store.put(&artifact).await.unwrap();
    store.promote(&artifact, &uri).await.unwrap();
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let live: Vec<Transaction> = Generator::new(GeneratorConfig {
        customers: 200,
        days: 1,
        seed: 5,
        start: chrono::NaiveDate::from_ymd_opt(2019, 2, 20).unwrap(),
        ..GeneratorConfig::default()
    })
    .unwrap()
    .all()
    .take(9)
    .collect();
    assert_eq!(live.len(), 9);
    // The API's body (a JSON string holding a split frame) of three payments, as is.
    let api_body = fraud_core::api_frame::encode_body(&live[0..3], 0, true);
    // A split frame object of two payments, wrapped under one key.
    let frame: Value =
        serde_json::from_slice::<Value>(&fraud_core::api_frame::encode_body(&live[3..5], 3, true))
            .map(|v| serde_json::from_str(v.as_str().unwrap()).unwrap())
            .unwrap();
    let wrapped = json!({ "transaction": frame }).to_string();
    // Flat objects with ISO 8601 time, with current_time, with unix_time in ms.
    let flat = |tx: &Transaction, field: &str, value: Value| {
        let mut v = serde_json::to_value(tx).unwrap();
        let map = v.as_object_mut().unwrap();
        map.remove("trans_date_trans_time");
        map.remove("unix_time");
        map.insert(field.into(), value);
        v.to_string()
    };
    let iso = flat(
        &live[5],
        "trans_date_trans_time",
        json!(live[5]
            .trans_date_trans_time
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()),
    );
    let current = flat(&live[6], "current_time", json!(live[6].event_time() * 1000));
    let unix_ms = flat(&live[7], "unix_time", json!(live[7].event_time() * 1000));
    let ours = live[8].to_json();
    let batch = event(
        &[],
        0,
        &[
            &api_body,
            wrapped.as_bytes(),
            iso.as_bytes(),
            current.as_bytes(),
            unix_ms.as_bytes(),
            &ours,
            b"[1,2]",
        ],
    );
    let response = scorer.handle(batch).await.unwrap();
    assert_eq!(response.received, 7);
    assert_eq!(response.scored, 9, "{response:?}");
    assert_eq!(response.dead_lettered, 1);

    // Each payment's result carries the label it came with.
    let mut labels = std::collections::BTreeMap::new();
    for (_, bytes) in stack.objects_under("results/").await {
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(line).unwrap();
            labels.insert(
                v["trans_num"].as_str().unwrap().to_owned(),
                v["is_fraud"].as_bool(),
            );
        }
    }
    let expected: std::collections::BTreeMap<String, Option<bool>> = live
        .iter()
        .map(|tx| (tx.trans_num.clone(), tx.is_fraud))
        .collect();
    assert!(expected.values().all(Option::is_some));
    assert_eq!(labels, expected);
}
