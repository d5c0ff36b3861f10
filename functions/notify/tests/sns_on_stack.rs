//! The SNS option against LocalStack (`make stack-up`): with ALERTS_SNS_TOPIC_ARN set, an
//! alert the webhook accepted is also published to the topic (seen here through an SQS
//! subscription), and a failed publish sends the message back to SQS for a retry.

mod common;

use common::{alert, serve};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::routing::post;
use axum::Router;
use fraud_aws::scratch::unique;
use fraud_fn_notify::{Config, Notifier};

async fn accepting_webhook() -> String {
    serve(Router::new().route("/hook", post(|| async { "ok" }))).await
}

fn config(webhook_url: String, topic: String) -> Config {
    Config {
        webhook_url,
        webhook_secret: "s3cret".into(),
        timeout: Duration::from_millis(2000),
        max_attempts: 2,
        backoff: Duration::from_millis(10),
        sns_topic_arn: Some(topic),
    }
}

fn event(id: &str, body: &str) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_owned());
    let mut event = SqsEvent::default();
    event.records.push(message);
    event
}

#[tokio::test]
async fn accepted_alert_is_also_published_to_the_sns_topic() {
    fraud_aws::default_to_local_stack();
    let aws = fraud_aws::aws_config().await;
    let sns = aws_sdk_sns::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let topic = sns
        .create_topic()
        .name(unique("fraud-test-alerts"))
        .send()
        .await
        .expect("LocalStack SNS is up (make stack-up)")
        .topic_arn()
        .unwrap()
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("fraud-test-sns-sub"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();

    let notifier = Notifier::new(config(accepting_webhook().await, topic), &aws).unwrap();
    let body = alert("t-sns-1");
    let response = notifier.handle(event("m1", &body)).await;
    assert!(response.batch_item_failures.is_empty());

    let mut received = Vec::new();
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        received.extend(
            out.messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
        if !received.is_empty() {
            break;
        }
    }
    assert_eq!(received, vec![body], "exactly the alert, once");
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn failed_sns_publish_is_reported_for_retry() {
    fraud_aws::default_to_local_stack();
    let aws = fraud_aws::aws_config().await;
    let absent = format!("arn:aws:sns:us-east-1:000000000000:{}", unique("absent"));
    let notifier = Notifier::new(config(accepting_webhook().await, absent), &aws).unwrap();
    let response = notifier.handle(event("m1", &alert("t-sns-2"))).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, "m1");
}
