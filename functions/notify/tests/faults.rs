//! Webhook faults end to end through a real SQS queue (LocalStack) with a redrive
//! policy, the way the SQS event source mapping drives the notify function: receive,
//! invoke, delete what was delivered, let the rest come back after the visibility
//! timeout, and let SQS move a message to the DLQ after `maxReceiveCount` receives.
//!
//! The webhook (loopback) answers by alert: `ok-*` at once, `flaky-*` 500 twice then
//! 200, `slow-*` processes the alert but answers slower than the notify timeout on the
//! first call, `down-*` 503 always.
//! Ledger: every alert is delivered exactly once (as counted by idempotency key) or is
//! in the DLQ; the down webhook is called a bounded number of times.
//!
//! Needs `make stack-up`; fails (never skips) without it.

mod common;

use common::{alert, serve};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use fraud_fn_notify::{
    verify, Config, Notifier, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

const SECRET: &str = "faults-secret";
const MAX_RECEIVES: usize = 3;
const ATTEMPTS: u32 = 3;

#[derive(Default)]
struct Hook {
    /// Every call: idempotency key → calls.
    calls: Mutex<BTreeMap<String, usize>>,
    /// Successful deliveries: idempotency key → times acknowledged with 2xx.
    delivered: Mutex<BTreeMap<String, usize>>,
    bad_signatures: Mutex<usize>,
}

async fn receive(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: String) -> StatusCode {
    let ts: u64 = headers[TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
    if !verify(
        SECRET,
        ts,
        body.as_bytes(),
        headers[SIGNATURE_HEADER].to_str().unwrap(),
    ) {
        *hook.bad_signatures.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let key = headers[IDEMPOTENCY_HEADER].to_str().unwrap().to_owned();
    let call = {
        let mut calls = hook.calls.lock().unwrap();
        let n = calls.entry(key.clone()).or_default();
        *n += 1;
        *n
    };
    let status = if key.starts_with("down-") {
        StatusCode::SERVICE_UNAVAILABLE
    } else if key.starts_with("flaky-") && call <= 2 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if key.starts_with("slow-") && call == 1 {
        // Processes the alert, then answers later than the notify timeout: the client
        // gives up and retries. (Recorded before the wait: the server drops this handler
        // when the client closes the connection.)
        *hook.delivered.lock().unwrap().entry(key).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        return StatusCode::OK;
    } else {
        StatusCode::OK
    };
    if status.is_success() {
        *hook.delivered.lock().unwrap().entry(key).or_default() += 1;
    }
    status
}

async fn start(hook: Arc<Hook>) -> String {
    serve(Router::new().route("/hook", post(receive)).with_state(hook)).await
}

async fn queue_with_dlq(sqs: &aws_sdk_sqs::Client, suffix: &str) -> (String, String) {
    let dlq = sqs
        .create_queue()
        .queue_name(format!("test-notify-dlq-{suffix}"))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot create a queue on LocalStack ({e:?}): run `make stack-up`")
        })
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})
            .to_string();
    let queue = sqs
        .create_queue()
        .queue_name(format!("test-notify-{suffix}"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

async fn drain_ids(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<String> {
    let bodies = fraud_aws::scratch::drain_queue(sqs, queue).await;
    bodies
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            v["trans_num"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn webhook_errors_timeouts_and_outages_end_delivered_once_or_in_the_dlq() {
    fraud_aws::default_to_local_stack();
    let aws = fraud_aws::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let (queue, dlq) = queue_with_dlq(&sqs, &suffix).await;
    let hook = Arc::new(Hook::default());
    let notifier = Notifier::new(
        Config {
            webhook_url: start(hook.clone()).await,
            webhook_secret: SECRET.into(),
            timeout: Duration::from_millis(500),
            max_attempts: ATTEMPTS,
            backoff: Duration::from_millis(20),
            sns_topic_arn: None,
        },
        &aws,
    )
    .unwrap();

    let mut sent = BTreeSet::new();
    for (kind, n) in [("ok", 10), ("flaky", 10), ("slow", 4), ("down", 4)] {
        for i in 0..n {
            let id = format!("{kind}-{i}-{suffix}");
            sqs.send_message()
                .queue_url(&queue)
                .message_body(alert(&id))
                .send()
                .await
                .unwrap();
            sent.insert(id);
        }
    }

    // The event source mapping: poll until the queue is empty and nothing is in flight.
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls < 200, "the queue never drained");
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = out.messages();
        if messages.is_empty() {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&queue)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default();
            let left: u64 = attrs.values().map(|v| v.parse::<u64>().unwrap_or(0)).sum();
            if left == 0 {
                break;
            }
            continue;
        }
        let mut event = SqsEvent::default();
        for m in messages {
            let mut r = SqsMessage::default();
            r.message_id = m.message_id().map(str::to_owned);
            r.body = m.body().map(str::to_owned);
            event.records.push(r);
        }
        let response = notifier.handle(event).await;
        let failed: BTreeSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for m in messages {
            if !failed.contains(m.message_id().unwrap()) {
                sqs.delete_message()
                    .queue_url(&queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    let in_dlq: BTreeSet<String> = drain_ids(&sqs, &dlq).await.into_iter().collect();
    let delivered = hook.delivered.lock().unwrap().clone();
    let calls = hook.calls.lock().unwrap().clone();
    let delivered_ids: BTreeSet<String> = delivered.keys().cloned().collect();
    let duplicates: usize = delivered.values().map(|n| n - 1).sum();
    let lost: Vec<&String> = sent
        .iter()
        .filter(|id| !delivered_ids.contains(*id) && !in_dlq.contains(*id))
        .collect();
    let down_calls: usize = calls
        .iter()
        .filter(|(k, _)| k.starts_with("down-"))
        .map(|(_, n)| n)
        .sum();
    println!(
        "LEDGER alerts_in={} delivered={} dead_lettered={} lost={} duplicated={} polls={polls} down_calls={down_calls}",
        sent.len(),
        delivered_ids.len(),
        in_dlq.len(),
        lost.len(),
        duplicates
    );
    assert_eq!(*hook.bad_signatures.lock().unwrap(), 0);
    assert!(lost.is_empty(), "lost: {lost:?}");
    let expect_dlq: BTreeSet<String> = sent
        .iter()
        .filter(|s| s.starts_with("down-"))
        .cloned()
        .collect();
    assert_eq!(
        in_dlq, expect_dlq,
        "exactly the alerts of the down webhook are dead-lettered"
    );
    assert!(delivered_ids.is_disjoint(&in_dlq));
    assert_eq!(delivered_ids.len() + in_dlq.len(), sent.len());
    // Bounded retries: each receive tries at most ATTEMPTS times, and SQS stops
    // redelivering after MAX_RECEIVES receives.
    assert_eq!(
        down_calls,
        expect_dlq.len() * ATTEMPTS as usize * MAX_RECEIVES
    );
    // A slow webhook that completes after the client gave up has processed the alert,
    // and then gets the retry with the same idempotency key: the only duplicates are
    // those, one per slow alert, and the receiver can drop them by that key.
    let slow = sent.iter().filter(|s| s.starts_with("slow-")).count();
    assert!(
        delivered
            .iter()
            .all(|(k, n)| *n == 1 || k.starts_with("slow-")),
        "{delivered:?}"
    );
    assert_eq!(duplicates, slow, "{delivered:?}");
}
