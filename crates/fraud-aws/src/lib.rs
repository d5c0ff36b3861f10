//! AWS adapters: S3 holds model artifacts (versioned, with a "current" pointer),
//! training data and scored results; SQS carries alerts. Clients are built from the
//! standard AWS configuration chain, so `AWS_ENDPOINT_URL` points them at LocalStack
//! and nothing else changes between a laptop and AWS.
#![forbid(unsafe_code)]

mod model_store;
mod ports;
mod queue;
mod rules_store;
mod s3;
#[cfg(feature = "test-support")]
pub mod scratch;
pub mod secrets;
#[cfg(feature = "sns")]
mod sns;

pub use aws_config::SdkConfig;
pub use aws_sdk_s3::Client as S3Client;
pub use aws_sdk_sqs::Client as SqsClient;
pub use model_store::{CurrentModel, ModelCache, ModelStore};
#[cfg(feature = "lambda")]
pub use ports::TrackFunction;
pub use ports::{AlertError, ResultsBucket, S3Objects, ServedModel};
pub use queue::AlertQueue;
pub use rules_store::{CurrentRules, RulesCache, RulesStore, RulesUploadError};
pub use s3::{get_bytes, list_keys, put_bytes, s3_client, stream_object, S3Uri};
pub use secrets::{resolve_secrets, use_secrets, SecretError, SecretVar};
#[cfg(feature = "sns")]
pub use sns::SnsAlerts;

/// SQS client from the shared configuration.
pub fn sqs_client(config: &aws_config::SdkConfig) -> SqsClient {
    SqsClient::new(config)
}

/// Settings that point the AWS SDK at the local stack (`make stack-up`).
pub const LOCAL_STACK_ENV: [(&str, &str); 5] = [
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// For tests and local tools: fills in [`LOCAL_STACK_ENV`] where the environment does
/// not already say otherwise. Call it before any thread reads the environment.
pub fn default_to_local_stack() {
    for (name, value) in LOCAL_STACK_ENV {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
}

/// Loads the AWS configuration (region, credentials, endpoint overrides) from the environment.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// Errors from S3 and SQS.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("`{0}` is not an S3 URI (expected s3://bucket/key)")]
    BadUri(String),
    #[error("S3 {operation} s3://{bucket}/{key} failed: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
    #[error("no model has been promoted yet (s3://{bucket}/{key} is missing): run the train function first")]
    NoModel { bucket: String, key: String },
    #[error("model {version} cannot be used: {source}")]
    BadModel {
        version: String,
        source: fraud_core::ArtifactError,
    },
    #[error("SQS {operation} on {queue} failed: {message}")]
    Sqs {
        operation: &'static str,
        queue: String,
        message: String,
    },
    #[error("SNS publish to {topic}: {message}")]
    Sns { topic: String, message: String },
}

/// Full text of an SDK error, including the service's own message.
pub fn describe<E: std::error::Error>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
