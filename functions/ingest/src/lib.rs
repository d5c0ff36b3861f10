//! The ingest function: configuration and wiring of the ingest use case
//! ([`fraud_pipeline::ingest`]): on each schedule tick, fetch the payments API's current
//! page, validate every row, publish each valid payment to Kafka keyed by card with an
//! idempotent producer, dead-letter the rest. Invoked with
//! `{"mode":"backfill","uri":"s3://bucket/key.csv"}` it streams a CSV from S3 instead.
//!
//! Adapters: the payments API ([`fraud_payments_api`], its retry budget and `Retry-After`
//! cap from `API_*`), Kafka ([`KafkaPublisher`] over `fraud_kafka`), S3 for backfills.
#![forbid(unsafe_code)]

use std::time::Duration;

use fraud_core::Transaction;
use fraud_kafka::{publish_dead_letters, publish_transactions, DeadLetter, KafkaError};
use fraud_lambda::{or_default, parsed, required, EnvError};
use fraud_payments_api::{ApiSettings, PaymentsApiClient};
use fraud_pipeline::ingest::Ingest;
use fraud_pipeline::ports::{PaymentPublisher, Rejected};
use rdkafka::producer::FutureProducer;

pub use fraud_pipeline::ingest::{IngestError, IngestRequest, IngestSummary};
pub use fraud_pipeline::ports::FetchError;

/// Settings, read once from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PAYMENTS_API_URL`: base URL of the payments API (`/current-transactions` is appended).
    pub api_url: String,
    /// `KAFKA_BROKERS`: bootstrap servers.
    pub brokers: String,
    /// `KAFKA_TOPIC_PAYMENTS` (default `payments`).
    pub topic: String,
    /// `KAFKA_TOPIC_DLQ` (default `payments.dlq`).
    pub dlq_topic: String,
    /// `API_TIMEOUT_MS` per request (default 5000).
    pub timeout: Duration,
    /// `API_MAX_ATTEMPTS` (default 4): calls per run, rate-limited (429) ones included.
    pub max_attempts: u32,
    /// `API_BACKOFF_MS`: first retry delay, doubled each time (default 200).
    pub backoff: Duration,
    /// `API_MAX_RETRY_AFTER_MS` (default 15000): longest `Retry-After` of a 429 that is
    /// waited out before the next attempt; a longer one fails the run at once (the next
    /// tick fetches again). Keep `API_MAX_ATTEMPTS - 1` such waits within the function's
    /// timeout.
    pub max_retry_after: Duration,
    /// `DEDUP_CAPACITY`: how many recent trans_nums are remembered (default 200000).
    pub dedup_capacity: usize,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Config {
            api_url: required("PAYMENTS_API_URL", "base URL of the payments API")?,
            brokers: required("KAFKA_BROKERS", "Kafka bootstrap servers")?,
            topic: or_default("KAFKA_TOPIC_PAYMENTS", "payments"),
            dlq_topic: or_default("KAFKA_TOPIC_DLQ", "payments.dlq"),
            timeout: Duration::from_millis(parsed("API_TIMEOUT_MS", 5000)?),
            max_attempts: parsed("API_MAX_ATTEMPTS", 4u32)?.max(1),
            backoff: Duration::from_millis(parsed("API_BACKOFF_MS", 200)?),
            max_retry_after: Duration::from_millis(parsed("API_MAX_RETRY_AFTER_MS", 15_000)?),
            dedup_capacity: parsed("DEDUP_CAPACITY", 200_000usize)?,
        })
    }
}

/// The payments topic and its dead-letter topic, through the idempotent producer.
pub struct KafkaPublisher {
    producer: FutureProducer,
    topic: String,
    dlq_topic: String,
}

impl PaymentPublisher for KafkaPublisher {
    type Error = KafkaError;

    async fn publish(&self, payments: &[Transaction]) -> Vec<Result<(), KafkaError>> {
        publish_transactions(&self.producer, &self.topic, payments).await
    }

    async fn dead_letter(&self, rejects: &[Rejected]) -> Result<(), KafkaError> {
        let letters: Vec<DeadLetter> = rejects
            .iter()
            .map(|r| {
                DeadLetter::new(
                    "ingest",
                    &r.source,
                    r.reason.clone(),
                    r.trans_num.clone(),
                    r.raw.clone(),
                )
            })
            .collect();
        publish_dead_letters(&self.producer, &self.dlq_topic, &letters).await
    }
}

/// The ingest function's state, kept across warm invocations.
pub struct Ingestor {
    ingest: Ingest<PaymentsApiClient, KafkaPublisher, fraud_aws::S3Objects>,
}

impl Ingestor {
    pub fn new(config: Config, s3: Option<fraud_aws::S3Client>) -> Result<Self, anyhow::Error> {
        let api = PaymentsApiClient::new(ApiSettings {
            base_url: config.api_url,
            timeout: config.timeout,
            max_attempts: config.max_attempts,
            backoff: config.backoff,
            max_retry_after: config.max_retry_after,
        })?;
        let publisher = KafkaPublisher {
            producer: fraud_kafka::producer(&config.brokers)?,
            topic: config.topic,
            dlq_topic: config.dlq_topic,
        };
        let objects = s3.map(fraud_aws::S3Objects);
        Ok(Ingestor {
            ingest: Ingest::new(api, publisher, objects, config.dedup_capacity),
        })
    }

    /// Runs one request.
    pub async fn handle(&self, request: IngestRequest) -> Result<IngestSummary, IngestError> {
        self.ingest.handle(request).await
    }
}
