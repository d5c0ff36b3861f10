//! The score function's settings, read once from the environment at cold start.

use std::time::Duration;

use fraud_lambda::{or_default, parsed, required, EnvError};

/// Settings, read once from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `FRAUD_MODELS_BUCKET`: where models and the `current` pointer live.
    pub models_bucket: String,
    /// `FRAUD_RESULTS_BUCKET`: where scored results are written.
    pub results_bucket: String,
    /// `FRAUD_ALERTS_QUEUE_URL`: SQS queue for alerts.
    pub alerts_queue_url: String,
    /// `KAFKA_BROKERS`: for the scored and dead-letter topics.
    pub brokers: String,
    /// `KAFKA_TOPIC_SCORED` (default `payments.scored`).
    pub scored_topic: String,
    /// `KAFKA_TOPIC_DLQ` (default `payments.dlq`).
    pub dlq_topic: String,
    /// `DATABASE_URL`: Postgres holding card histories and the scored ledger.
    pub database_url: String,
    /// `MODEL_CHECK_SECS`: how often the current-model pointer is re-read (default 30).
    pub model_check: Duration,
    /// `MODEL_CACHE_DIR` (default `/tmp/fraud-models`).
    pub cache_dir: String,
    /// `KAFKA_LINGER_MS`: the scored/dead-letter producer's `linger.ms` (default
    /// [`fraud_kafka::BATCH_LINGER`]: the batch gathers into one request per partition).
    pub kafka_linger: Duration,
    /// `KAFKA_COMPRESSION`: its `compression.codec` (default [`fraud_kafka::BATCH_COMPRESSION`]).
    pub kafka_compression: String,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Config {
            models_bucket: required("FRAUD_MODELS_BUCKET", "S3 bucket holding the models")?,
            results_bucket: required("FRAUD_RESULTS_BUCKET", "S3 bucket for scored results")?,
            alerts_queue_url: required("FRAUD_ALERTS_QUEUE_URL", "SQS queue URL for alerts")?,
            brokers: required("KAFKA_BROKERS", "Kafka bootstrap servers")?,
            scored_topic: or_default("KAFKA_TOPIC_SCORED", "payments.scored"),
            dlq_topic: or_default("KAFKA_TOPIC_DLQ", "payments.dlq"),
            database_url: required("DATABASE_URL", "Postgres connection URL")?,
            model_check: Duration::from_secs(parsed("MODEL_CHECK_SECS", 30)?),
            cache_dir: or_default("MODEL_CACHE_DIR", "/tmp/fraud-models"),
            kafka_linger: Duration::from_millis(parsed(
                "KAFKA_LINGER_MS",
                fraud_kafka::BATCH_LINGER.as_millis() as u64,
            )?),
            kafka_compression: or_default("KAFKA_COMPRESSION", fraud_kafka::BATCH_COMPRESSION),
        })
    }
}
