//! The notify function against a real HTTP webhook on loopback: signed deliveries,
//! retries on 5xx, refusals on 4xx, and batch item failures for what did not get through.

mod common;

use common::{alert, serve};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use fraud_fn_notify::{verify, Config, Notifier, SIGNATURE_HEADER, TIMESTAMP_HEADER};

#[derive(Default)]
struct Hook {
    /// Answer 500 to this many requests first.
    fail_first: AtomicU32,
    /// Answer this status to everything when set.
    always: Mutex<Option<u16>>,
    received: Mutex<Vec<(String, bool)>>,
}

async fn receive(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: String) -> StatusCode {
    let ts: u64 = headers[TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
    let valid = verify(
        "s3cret",
        ts,
        body.as_bytes(),
        headers[SIGNATURE_HEADER].to_str().unwrap(),
    );
    hook.received.lock().unwrap().push((body, valid));
    if let Some(code) = *hook.always.lock().unwrap() {
        return StatusCode::from_u16(code).unwrap();
    }
    if hook.fail_first.load(Ordering::SeqCst) > 0 {
        hook.fail_first.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn start(hook: Arc<Hook>) -> String {
    serve(Router::new().route("/hook", post(receive)).with_state(hook)).await
}

fn notifier(url: String, attempts: u32) -> Notifier {
    Notifier::new(
        Config {
            webhook_url: url,
            webhook_secret: "s3cret".into(),
            timeout: Duration::from_millis(2000),
            max_attempts: attempts,
            backoff: Duration::from_millis(10),
            sns_topic_arn: None,
        },
        &fraud_aws::SdkConfig::builder().build(),
    )
    .unwrap()
}

fn event(bodies: &[(&str, String)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (id, body) in bodies {
        let mut m = SqsMessage::default();
        m.message_id = Some((*id).to_owned());
        m.body = Some(body.clone());
        event.records.push(m);
    }
    event
}

#[tokio::test]
async fn delivers_signed_alerts_and_retries_server_errors() {
    let hook = Arc::new(Hook::default());
    hook.fail_first.store(2, Ordering::SeqCst);
    let n = notifier(start(hook.clone()).await, 3);
    let response = n
        .handle(event(&[("m1", alert("t1")), ("m2", alert("t2"))]))
        .await;
    assert!(response.batch_item_failures.is_empty());
    let received = hook.received.lock().unwrap();
    assert_eq!(received.len(), 4, "two 500s, then both alerts");
    assert!(
        received.iter().all(|(_, valid)| *valid),
        "every request is correctly signed"
    );
}

#[tokio::test]
async fn reports_only_the_failed_messages_for_retry() {
    let hook = Arc::new(Hook::default());
    *hook.always.lock().unwrap() = Some(503);
    let n = notifier(start(hook.clone()).await, 2);
    let response = n
        .handle(event(&[("m1", alert("t1")), ("bad", "not json".into())]))
        .await;
    let ids: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["m1", "bad"]);
    assert_eq!(
        hook.received.lock().unwrap().len(),
        2,
        "bounded: exactly max_attempts tries"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let hook = Arc::new(Hook::default());
    *hook.always.lock().unwrap() = Some(400);
    let n = notifier(start(hook.clone()).await, 5);
    let response = n.handle(event(&[("m1", alert("t1"))])).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(hook.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn unreachable_webhook_fails_within_the_retry_budget() {
    let n = notifier("http://127.0.0.1:9/hook".into(), 2);
    let started = std::time::Instant::now();
    let response = n.handle(event(&[("m1", alert("t1"))])).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
}
