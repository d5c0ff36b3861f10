//! The notify function: each SQS message is one alert; each alert is POSTed to the
//! webhook, signed with HMAC-SHA256, with a timeout and bounded retries (exponential
//! backoff with jitter). Messages that still fail are reported as batch item failures,
//! so SQS redelivers only those, and after the queue's maxReceiveCount moves them to
//! the dead-letter queue.
//!
//! With `ALERTS_SNS_TOPIC_ARN` set, each alert is also published to that SNS topic (for
//! e-mail/SMS/mobile push subscribers), after the webhook accepted it. Delivery is at least
//! once: a message retried because SNS failed reaches the webhook again, with the same
//! `idempotency-key` header (the alert's trans_num) so the receiver can drop the repeat.
#![forbid(unsafe_code)]

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use fraud_core::scoring::Alert;
pub use fraud_core::webhook::{
    sign, verify, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use fraud_lambda::retry::{RetryBudget, Retryable};
use fraud_lambda::{lookup, parsed, required, EnvError};

/// Settings, read once from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `WEBHOOK_URL`: where alerts are POSTed.
    pub webhook_url: String,
    /// `WEBHOOK_SECRET`: HMAC key (in AWS: injected from Secrets Manager).
    pub webhook_secret: String,
    /// `WEBHOOK_TIMEOUT_MS` (default 3000).
    pub timeout: Duration,
    /// `WEBHOOK_MAX_ATTEMPTS` per invocation (default 3).
    pub max_attempts: u32,
    /// `WEBHOOK_BACKOFF_MS`: first retry delay, doubled each time (default 200).
    pub backoff: Duration,
    /// `ALERTS_SNS_TOPIC_ARN` (optional): also publish each alert to this SNS topic.
    pub sns_topic_arn: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Config {
            webhook_url: required("WEBHOOK_URL", "the URL alerts are POSTed to")?,
            webhook_secret: required("WEBHOOK_SECRET", "the HMAC key that signs each alert")?,
            timeout: Duration::from_millis(parsed("WEBHOOK_TIMEOUT_MS", 3000)?),
            max_attempts: parsed("WEBHOOK_MAX_ATTEMPTS", 3u32)?.max(1),
            backoff: Duration::from_millis(parsed("WEBHOOK_BACKOFF_MS", 200)?),
            sns_topic_arn: lookup("ALERTS_SNS_TOPIC_ARN"),
        })
    }
}

/// Why one alert was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("message body is not an alert: {0}")]
    NotAnAlert(String),
    #[error("webhook answered {status} (not retried: the request itself is refused)")]
    Refused { status: u16 },
    #[error("webhook failed after {attempts} attempts: {last}")]
    Exhausted { attempts: u32, last: String },
    #[error("SNS publish to {topic} failed (the webhook had accepted the alert): {message}")]
    Sns { topic: String, message: String },
}

/// How one POST to the webhook failed.
#[derive(Debug)]
enum PostFailure {
    /// A timeout, a connection error, a 5xx or a 429: worth another attempt.
    Transient(String),
    /// Any other 4xx: the request itself is refused.
    Refused(u16),
}

/// Pushes alerts to the webhook.
pub struct Notifier {
    http: reqwest::Client,
    sns: Option<aws_sdk_sns::Client>,
    config: Config,
}

impl Notifier {
    /// `aws` configures the SNS client (used only with `ALERTS_SNS_TOPIC_ARN`).
    pub fn new(config: Config, aws: &fraud_aws::SdkConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        let sns = config
            .sns_topic_arn
            .as_ref()
            .map(|_| aws_sdk_sns::Client::new(aws));
        Ok(Notifier { http, sns, config })
    }

    /// Handles one SQS batch; the response lists the messages to be retried.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let body = record.body.unwrap_or_default();
            match self.deliver(&body).await {
                Ok(alert) => {
                    tracing::info!(trans_num = %alert.trans_num, message_id = %id, "alert delivered")
                }
                Err(e) => {
                    tracing::warn!(message_id = %id, error = %e, "alert not delivered; SQS will retry it");
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }

    /// Delivers one alert (message body) to the webhook, retrying what can succeed later,
    /// then to the SNS topic when one is configured.
    pub async fn deliver(&self, body: &str) -> Result<Alert, DeliveryError> {
        let alert = Alert::from_json(body).map_err(|e| DeliveryError::NotAnAlert(e.to_string()))?;
        self.post_to_webhook(&alert, body).await?;
        if let (Some(sns), Some(topic)) = (&self.sns, &self.config.sns_topic_arn) {
            sns.publish()
                .topic_arn(topic)
                .subject(format!("Fraud alert {}", alert.trans_num))
                .message(body)
                .message_attributes(
                    "trans_num",
                    aws_sdk_sns::types::MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(&alert.trans_num)
                        .build()
                        .map_err(|e| DeliveryError::Sns {
                            topic: topic.clone(),
                            message: e.to_string(),
                        })?,
                )
                .send()
                .await
                .map_err(|e| DeliveryError::Sns {
                    topic: topic.clone(),
                    message: fraud_aws::describe(&e),
                })?;
        }
        Ok(alert)
    }

    /// Posts the alert until the webhook accepts it, within the budget
    /// (`WEBHOOK_MAX_ATTEMPTS`, first wait `WEBHOOK_BACKOFF_MS`); a 4xx other than 429
    /// is not retried.
    async fn post_to_webhook(&self, alert: &Alert, body: &str) -> Result<(), DeliveryError> {
        let budget = RetryBudget::new(self.config.max_attempts, self.config.backoff);
        (|| self.post_once(alert, body))
            .retry(budget.policy())
            .sleep(tokio::time::sleep)
            .when(|e| matches!(e, PostFailure::Transient(_)))
            .notify(|e, wait| {
                if let PostFailure::Transient(last) = e {
                    tracing::warn!(trans_num = %alert.trans_num, error = %last, wait_ms = wait.as_millis() as u64, "webhook post failed; retrying");
                }
            })
            .await
            .map_err(|e| match e {
                PostFailure::Transient(last) => DeliveryError::Exhausted {
                    attempts: self.config.max_attempts,
                    last,
                },
                PostFailure::Refused(status) => DeliveryError::Refused { status },
            })
    }

    /// One signed POST.
    async fn post_once(&self, alert: &Alert, body: &str) -> Result<(), PostFailure> {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let signature = sign(&self.config.webhook_secret, timestamp, body.as_bytes());
        let result = self
            .http
            .post(&self.config.webhook_url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(IDEMPOTENCY_HEADER, &alert.trans_num)
            .body(body.to_owned())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                Err(PostFailure::Refused(r.status().as_u16()))
            }
            Ok(r) => Err(PostFailure::Transient(format!("status {}", r.status()))),
            Err(e) => Err(PostFailure::Transient(e.to_string())),
        }
    }
}
