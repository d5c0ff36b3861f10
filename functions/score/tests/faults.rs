//! Fault injection on the score function, against the real local services.
//!
//! - S3 unreachable (a switchable TCP proxy in front of LocalStack, so the shared
//!   LocalStack keeps running for everyone else): at cold start the batch fails with a
//!   clear error and is retried; while running the cached model is kept.
//! - A crash in the middle of a batch: the handler is cancelled at growing points of
//!   its work (as a killed container would be) and the batch redelivered to a new
//!   container, and a batch whose alert send fails after S3 and Kafka were written.
//! - Incompatible and missing model artifacts are never served.
//!
//! Each test ends with an exact ledger: every `trans_num` sent is scored exactly once
//! (the `scored_transactions` ledger), and the alerts on SQS are counted against the
//! ledger's `block` decisions, duplicates reported.
//!
//! Needs `make stack-up`; fails (never skips) without it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::{event, generated, train, Stack};
use fraud_aws::ModelStore;
use fraud_core::{ModelArtifact, Transaction};
use fraud_fn_score::{ScoreError, Scorer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy in front of LocalStack that can be switched off: while off it refuses
/// new connections (accepts and closes them) and cuts the open ones.
struct Switch {
    url: String,
    up: watch::Sender<bool>,
}

impl Switch {
    async fn start(target: String) -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, rx) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*rx.borrow() {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Switch { url, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Stack {
    /// AWS settings whose endpoint is `url` (the switchable proxy).
    async fn aws_through(&self, url: &str) -> fraud_aws::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(url)
            .load()
            .await
    }

    async fn promote(&self, model: &ModelArtifact) {
        let store = ModelStore::new(self.s3.clone(), self.models_bucket.clone());
        let uri = store.put(model).await.unwrap();
        store.promote(model, &uri).await.unwrap();
    }

    /// The ledger: trans_num → decision.
    async fn ledger(&self) -> BTreeMap<String, String> {
        let client = self.db.connect().await;
        client
            .query("select trans_num, decision from scored_transactions", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }
}

/// What went in against what came out.
#[derive(Debug)]
struct Outcome {
    sent: usize,
    scored: usize,
    lost: usize,
    extra: usize,
    blocked: usize,
    alerts_unique: usize,
    alert_duplicates: usize,
}

async fn outcome(stack: &Stack, sent: &[Transaction]) -> Outcome {
    let ledger = stack.ledger().await;
    let alerts = stack.drain_alerts().await;
    let sent_ids: BTreeSet<&str> = sent.iter().map(|t| t.trans_num.as_str()).collect();
    let blocked: BTreeSet<&str> = ledger
        .iter()
        .filter(|(_, d)| d.as_str() == "block")
        .map(|(t, _)| t.as_str())
        .collect();
    let alerted: BTreeSet<&str> = alerts.keys().map(String::as_str).collect();
    assert_eq!(
        alerted, blocked,
        "alerts must be exactly the blocked payments"
    );
    let outcome = Outcome {
        sent: sent_ids.len(),
        scored: ledger.len(),
        lost: sent_ids
            .iter()
            .filter(|t| !ledger.contains_key(**t))
            .count(),
        extra: ledger
            .keys()
            .filter(|t| !sent_ids.contains(t.as_str()))
            .count(),
        blocked: blocked.len(),
        alerts_unique: alerts.len(),
        alert_duplicates: alerts.values().map(|n| n - 1).sum(),
    };
    println!("LEDGER {outcome:?}");
    outcome
}

/// The exact ledger every fault test ends with: each payment sent is scored exactly once,
/// some were blocked (so alerts were exercised), and no alert went out twice.
async fn exactly_once(stack: &Stack, txs: &[Transaction]) -> Outcome {
    let o = outcome(stack, txs).await;
    assert_eq!(
        (o.sent, o.scored, o.lost, o.extra),
        (txs.len(), txs.len(), 0, 0)
    );
    assert!(o.blocked > 0, "the test needs some alerts: {o:?}");
    assert_eq!(o.alert_duplicates, 0);
    o
}

/// Payments to score: a model trained on one population, scored on another with
/// enough frauds that some are blocked.
fn payments(seed: u64, n: usize) -> Vec<Transaction> {
    let mut txs = generated(300, 30, seed);
    // Keep every fraud (so alerts happen) and fill up with normal payments.
    txs.sort_by_key(|t| (!t.is_fraud.unwrap_or(false), t.event_time()));
    txs.truncate(n);
    txs.sort_by_key(Transaction::event_time);
    txs
}

#[tokio::test]
async fn s3_down_at_cold_start_fails_the_batch_clearly_and_the_retry_scores_it() {
    let stack = Stack::new().await;
    let model = train(generated(300, 60, 11), 1);
    stack.promote(&model).await;
    let target = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let switch = Switch::start(target.trim_start_matches("http://").to_owned()).await;
    let aws = stack.aws_through(&switch.url).await;
    let txs = payments(12, 150);

    switch.set(false);
    let cold = Scorer::new(stack.config(), &aws).await.unwrap();
    let err = cold.warm_up().await.unwrap_err();
    assert!(matches!(err, ScoreError::Model(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("no usable model") && message.contains(&stack.models_bucket),
        "the error must say what failed and where: {message}"
    );
    let err = cold.handle(event(&txs, 0, &[])).await.unwrap_err();
    assert!(matches!(err, ScoreError::Model(_)), "{err}");
    assert!(
        stack.ledger().await.is_empty(),
        "a failed batch claims nothing"
    );

    // S3 is back: the event source's retry of the same batch is scored.
    switch.set(true);
    let response = cold.handle(event(&txs, 0, &[])).await.unwrap();
    assert_eq!(response.scored, txs.len());
    exactly_once(&stack, &txs).await;
}

#[tokio::test]
async fn s3_down_while_running_keeps_the_cached_model_and_nothing_is_lost() {
    let stack = Stack::new().await;
    let model = train(generated(300, 60, 21), 1);
    stack.promote(&model).await;
    let target = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let switch = Switch::start(target.trim_start_matches("http://").to_owned()).await;
    let aws = stack.aws_through(&switch.url).await;
    let scorer = Scorer::new(stack.config(), &aws).await.unwrap();
    assert_eq!(scorer.warm_up().await.unwrap(), model.version);
    let txs = payments(22, 200);
    let (first, second) = txs.split_at(100);
    scorer.handle(event(first, 0, &[])).await.unwrap();

    // S3 (and SQS, same endpoint) unreachable: the pointer cannot be re-read, the
    // cached model is kept, but neither results nor alerts can be written (the two go
    // out at once; whichever fails first is the error), so the batch fails whole
    // (nothing claimed) and is redelivered.
    switch.set(false);
    assert_eq!(scorer.model().await.unwrap().version, model.version);
    let err = scorer.handle(event(second, 100, &[])).await.unwrap_err();
    assert!(
        matches!(err, ScoreError::Results(_) | ScoreError::Alerts(_)),
        "{err}"
    );
    assert_eq!(stack.ledger().await.len(), first.len());

    switch.set(true);
    let response = scorer.handle(event(second, 100, &[])).await.unwrap();
    assert_eq!(
        response.model_version.as_deref(),
        Some(model.version.as_str())
    );
    let o = outcome(&stack, &txs).await;
    assert_eq!(
        (o.sent, o.scored, o.lost, o.extra),
        (txs.len(), txs.len(), 0, 0)
    );
    assert_eq!(o.alert_duplicates, 0);
}

#[tokio::test]
async fn failing_alert_send_rolls_back_the_batch_and_redelivery_counts_once() {
    let stack = Stack::new().await;
    let model = train(generated(300, 60, 31), 1);
    stack.promote(&model).await;
    let txs = payments(32, 150);

    // SQS refuses (the queue does not exist) while S3 and Kafka are written (the three
    // go out at once; a failure abandons the others, which a redelivery overwrites).
    let mut broken = stack.config();
    broken.alerts_queue_url = format!("{}-missing", stack.queue_url);
    let scorer = Scorer::new(broken, &stack.aws).await.unwrap();
    let err = scorer.handle(event(&txs, 0, &[])).await.unwrap_err();
    assert!(matches!(err, ScoreError::Alerts(_)), "{err}");
    assert!(
        stack.ledger().await.is_empty(),
        "claims roll back with the batch"
    );

    // The redelivered batch, on a healthy container.
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let response = scorer.handle(event(&txs, 0, &[])).await.unwrap();
    assert_eq!((response.scored, response.duplicates), (txs.len(), 0));
    let again = scorer.handle(event(&txs, 0, &[])).await.unwrap();
    assert_eq!(
        (again.scored, again.duplicates, again.alerts),
        (0, txs.len(), 0)
    );
    exactly_once(&stack, &txs).await;
}

/// The container dies at a growing point of its work on one batch (the handler future
/// is dropped: its database transaction is rolled back, work in flight is abandoned);
/// each time the event source redelivers the batch to a new container.
#[tokio::test]
async fn a_crash_anywhere_in_a_batch_loses_nothing_and_scores_each_payment_once() {
    let stack = Stack::new().await;
    let model = train(generated(300, 60, 41), 1);
    stack.promote(&model).await;
    let txs = payments(42, 150);
    let mut crashes = 0;
    let mut budget_ms = 1u64;
    loop {
        let scorer = Arc::new(Scorer::new(stack.config(), &stack.aws).await.unwrap());
        scorer.warm_up().await.unwrap();
        let run = scorer.handle(event(&txs, 0, &[]));
        match tokio::time::timeout(Duration::from_millis(budget_ms), run).await {
            Ok(result) => {
                result.unwrap();
                break;
            }
            Err(_) => crashes += 1,
        }
        budget_ms = budget_ms * 3 / 2 + 1;
        assert!(crashes < 40, "the batch never completed");
    }
    // A last redelivery after success changes nothing.
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let again = scorer.handle(event(&txs, 0, &[])).await.unwrap();
    assert_eq!((again.scored, again.duplicates), (0, txs.len()));
    let o = outcome(&stack, &txs).await;
    println!("CRASHES {crashes}");
    assert!(crashes > 0, "no crash was injected");
    assert_eq!(
        (o.sent, o.scored, o.lost, o.extra),
        (txs.len(), txs.len(), 0, 0)
    );
    // Alerts are sent before the ledger commits: a crash between the two re-sends them
    // on redelivery (at-least-once; notify's idempotency-key lets the webhook drop
    // them). The set of alerted payments is exactly the blocked ones (checked above).
    assert!(o.alerts_unique == o.blocked);
}

#[tokio::test]
async fn incompatible_and_missing_artifacts_are_never_served() {
    let stack = Stack::new().await;
    let good = train(generated(300, 60, 51), 1);
    stack.promote(&good).await;
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    assert_eq!(scorer.warm_up().await.unwrap(), good.version);
    let store = ModelStore::new(stack.s3.clone(), stack.models_bucket.clone());
    let point_at = |version: &'static str| {
        let s3 = stack.s3.clone();
        let bucket = stack.models_bucket.clone();
        let store = &store;
        async move {
            let mut pointer = store.current().await.unwrap().unwrap();
            pointer.version = version.into();
            fraud_aws::put_bytes(
                &s3,
                &bucket,
                "models/current.json",
                serde_json::to_vec(&pointer).unwrap(),
                "application/json",
            )
            .await
            .unwrap();
        }
    };

    // Incompatible: a well-formed artifact of another format version.
    let mut json: serde_json::Value = serde_json::to_value(&good).unwrap();
    json["schema_version"] = serde_json::json!(999);
    json["version"] = serde_json::json!("incompatible");
    fraud_aws::put_bytes(
        &stack.s3,
        &stack.models_bucket,
        "models/incompatible/model.json",
        serde_json::to_vec(&json).unwrap(),
        "application/json",
    )
    .await
    .unwrap();
    point_at("incompatible").await;
    assert_eq!(scorer.model().await.unwrap().version, good.version);

    // Missing: the pointer names a version whose artifact is not there.
    point_at("missing").await;
    assert_eq!(scorer.model().await.unwrap().version, good.version);

    // And a cold container with only a bad pointer refuses to score at all.
    let cold = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let err = cold.warm_up().await.unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let txs = payments(52, 50);
    assert!(cold.handle(event(&txs, 0, &[])).await.is_err());

    // The scorer that kept the good model still scores.
    let response = scorer.handle(event(&txs, 0, &[])).await.unwrap();
    assert_eq!(
        response.model_version.as_deref(),
        Some(good.version.as_str())
    );
    assert_eq!(response.scored, txs.len());
}

/// Postgres restarts (here: the server ends the scorer's connection, as a restart or
/// failover does): the batch in flight fails and is redelivered, and the same container
/// reconnects instead of failing every batch until it is recycled.
#[tokio::test]
async fn a_lost_database_connection_is_replaced_and_the_redelivered_batch_is_scored() {
    let stack = Stack::new().await;
    let model = train(generated(300, 60, 61), 1);
    stack.promote(&model).await;
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    let txs = payments(62, 200);
    let (first, second) = txs.split_at(100);
    scorer.handle(event(first, 0, &[])).await.unwrap();

    let admin = stack.db.connect().await;
    let ended: i64 = admin
        .query_one(
            "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity \
             where datname = current_database() and pid <> pg_backend_pid()) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ended >= 1, "the scorer's connection was not found");

    // The event source retries a failed batch a few times; one of them must succeed.
    let mut failures = Vec::new();
    let mut done = None;
    for _ in 0..3 {
        match scorer.handle(event(second, 100, &[])).await {
            Ok(r) => {
                done = Some(r);
                break;
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    let response = done.unwrap_or_else(|| panic!("the container never recovered: {failures:?}"));
    assert_eq!(response.scored, second.len(), "{failures:?}");
    let o = outcome(&stack, &txs).await;
    assert_eq!(
        (o.sent, o.scored, o.lost, o.extra),
        (txs.len(), txs.len(), 0, 0)
    );
    assert_eq!(o.alert_duplicates, 0);
}
