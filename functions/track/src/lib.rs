//! The track function: configuration and wiring of the track use case
//! ([`fraud_pipeline::track`]): record training runs in PostgreSQL (and mirror them to
//! MLflow when `MLFLOW_TRACKING_URI` is set, with the monitor's figures as metrics on
//! them), list and read them, record later labels and compute live quality. The
//! adapters: `fraud_db::Tracking` (the run log, labels, quality),
//! [`fraud_mlflow::MlflowMirror`], `fraud_aws::S3Objects` (label CSVs).
//!
//! Training on what was scored: `{"action": "training_data", …}` ([`training_data`]) joins
//! the score function's payments archive with the labels into one labelled CSV for train.
//!
//! Monitoring: `{"action": "monitor", …}` watches the served models: drift against the
//! training distribution, live quality, alerts (the use case
//! `fraud_pipeline::track::monitor`; its settings and adapters in [`monitor`], dispatched
//! by `main.rs`, which holds them).
//!
//! Tests call [`handle`] (and [`handle_with`]) directly against a real database.
#![forbid(unsafe_code)]

pub mod monitor;

use fraud_aws::S3Objects;
use fraud_db::{DbError, GenericClient, Tracking};
use fraud_mlflow::{MlflowConfig, MlflowError, MlflowMirror};
use serde_json::Value;

pub use fraud_mlflow as mlflow;
pub use fraud_pipeline::track::labels;
pub use fraud_pipeline::track::training_data::{TrainingDataAnswer, TrainingDataRequest};
pub use fraud_pipeline::track::{TrackRequest, TrackResponse, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};

/// Why an invocation failed (the store is PostgreSQL).
pub type TrackError = fraud_pipeline::track::TrackError<DbError>;

/// The function's configuration, read once at cold start.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`: where the training-run log lives.
    pub database_url: String,
    /// `MLFLOW_TRACKING_URI` (+ `MLFLOW_EXPERIMENT_NAME`, `MLFLOW_TRACKING_TOKEN`):
    /// optionally mirror each recorded run to that MLflow server.
    pub mlflow: Option<MlflowConfig>,
    /// `FRAUD_DATA_BUCKET`: where `training_data` writes the labelled CSV when the request
    /// names no `output_uri` (`training/scored-<time>.csv`, read by the train function).
    pub data_bucket: Option<String>,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(fraud_lambda::lookup)
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let database_url = lookup("DATABASE_URL")
            .filter(|url| !url.trim().is_empty())
            .ok_or(ConfigError::MissingDatabaseUrl)?;
        let mlflow = MlflowConfig::from_lookup(&lookup).map_err(ConfigError::Mlflow)?;
        let data_bucket = lookup("FRAUD_DATA_BUCKET")
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty());
        Ok(Config {
            database_url,
            mlflow,
            data_bucket,
        })
    }
}

impl std::fmt::Debug for Config {
    // The URL holds the database password: never log it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &"<redacted>")
            .field("mlflow", &self.mlflow)
            .field("data_bucket", &self.data_bucket)
            .finish()
    }
}

/// A missing or unusable environment variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "environment variable DATABASE_URL is required: the PostgreSQL URL of the training-run \
         log, e.g. postgres://fraud:fraud@127.0.0.1:55432/fraud for the local stack (`make stack-up`)"
    )]
    MissingDatabaseUrl,
    #[error(transparent)]
    Mlflow(MlflowError),
}

/// How Lambda reports a failed invocation: the error's kind as `errorType`.
pub fn diagnostic(error: TrackError) -> lambda_runtime::Diagnostic {
    let error_type = match &error {
        TrackError::BadEvent(_) => "BadEvent",
        TrackError::Store(DbError::InvalidRun { .. }) => "InvalidRun",
        TrackError::Store(DbError::RunConflict { .. }) => "RunConflict",
        TrackError::Store(_) => "DatabaseError",
        TrackError::Source(_) => "SourceError",
        TrackError::Monitor(_) => "MonitorError",
        TrackError::TrainingData(_) => "TrainingDataError",
    };
    lambda_runtime::Diagnostic {
        error_type: error_type.into(),
        error_message: error.to_string(),
    }
}

/// Handles one invocation event against the training-run log.
pub async fn handle<C: GenericClient + Sync>(
    client: &C,
    event: Value,
) -> Result<TrackResponse, TrackError> {
    handle_with(client, event, None, None).await
}

/// [`handle`], mirroring recorded runs to MLflow when `mirror` is given.
pub async fn handle_with_mirror<C: GenericClient + Sync>(
    client: &C,
    event: Value,
    mirror: Option<&MlflowMirror>,
) -> Result<TrackResponse, TrackError> {
    handle_with(client, event, mirror, None).await
}

/// [`handle_with_mirror`], reading label CSVs from S3 through `s3` when given.
pub async fn handle_with<C: GenericClient + Sync>(
    client: &C,
    event: Value,
    mirror: Option<&MlflowMirror>,
    s3: Option<&fraud_aws::S3Client>,
) -> Result<TrackResponse, TrackError> {
    let objects = s3.cloned().map(S3Objects);
    fraud_pipeline::track::handle(&Tracking(client), event, mirror, objects.as_ref()).await
}

/// `{"action": "training_data", …}`: the archived payments in `payments_uris` joined
/// with their labels, written as one labelled CSV to the request's `output_uri` or under
/// `training/` in `data_bucket` (the use case: [`fraud_pipeline::track::training_data`]).
pub async fn training_data<C: GenericClient + Sync>(
    client: &C,
    s3: &fraud_aws::S3Client,
    data_bucket: Option<&str>,
    event: Value,
) -> Result<TrainingDataAnswer, TrackError> {
    let request = TrainingDataRequest::from_event(event).map_err(|e| e.widen())?;
    let output =
        fraud_pipeline::track::training_data::output_uri(&request, data_bucket, chrono::Utc::now())
            .map_err(TrackError::BadEvent)?;
    let objects = S3Objects(s3.clone());
    fraud_pipeline::track::training_data::training_data(
        &Tracking(client),
        &objects,
        &objects,
        &request,
        &output,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_database_url_says_what_to_set() {
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(matches!(err, ConfigError::MissingDatabaseUrl));
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        assert!(matches!(
            Config::from_lookup(|_| Some("  ".into())).unwrap_err(),
            ConfigError::MissingDatabaseUrl
        ));
    }

    #[test]
    fn config_debug_hides_the_password() {
        let config = Config::from_lookup(|k| {
            (k == "DATABASE_URL").then(|| "postgres://fraud:s3cret@db/fraud".into())
        })
        .unwrap();
        assert_eq!(config.database_url, "postgres://fraud:s3cret@db/fraud");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn bad_event_is_reported_to_lambda_as_bad_event() {
        let diagnostic = diagnostic(TrackError::BadEvent("x".into()));
        assert_eq!(diagnostic.error_type, "BadEvent");
        assert_eq!(diagnostic.error_message, "bad track event: x");
    }
}
