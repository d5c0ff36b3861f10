//! The train function: configuration and wiring of the train use case
//! ([`fraud_pipeline::train`]): read training CSVs from S3, train and evaluate with the
//! shared core, store the versioned artifact and its metrics, promote it only if it beats
//! the current model on the same test slice (or when forced), write the run's report
//! beside the artifact ([`report`]) and record the run, beside the artifact and through
//! the track function.
#![forbid(unsafe_code)]

pub mod job;
pub mod report;

use std::time::Duration;

use fraud_aws::{ModelStore, S3Objects, TrackFunction};
use fraud_core::calibration::CostModel;
use fraud_lambda::retry::RetryBudget;
use fraud_lambda::{or_default, parsed, required, EnvError};
use fraud_pipeline::train::{Train, TrainSettings};

pub use fraud_pipeline::train::{TrainError, TrainRequest, TrainResponse};

use crate::report::S3Reports;

/// How long one invocation of the track function may take. Without a bound, a track
/// function that never answers (under `cargo lambda watch`, one whose process exited at
/// cold start because Postgres was down) held the training run until its own timeout,
/// and the result (`tracked: false`, run record in S3) never came back.
pub const TRACK_INVOKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts at recording a run through the track function: three, 200 ms apart at first.
const TRACK_RETRY: RetryBudget = RetryBudget::new(3, Duration::from_millis(200));

/// Settings, read once from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `FRAUD_MODELS_BUCKET`: where artifacts and the current pointer are written.
    pub models_bucket: String,
    /// `TRACK_FUNCTION_NAME`: the track function to record runs with (default `fraud-track`).
    pub track_function: String,
    /// `PROMOTE_MIN_IMPROVEMENT`: PR-AUC a new model must gain to be promoted (default 0).
    pub min_improvement: f64,
    /// `FRAUD_REVIEW_COST` (cost of one manual review, default 5, in the amounts'
    /// currency) and `FRAUD_DECLINE_COST` (cost of blocking a legitimate payment,
    /// default 25): with the fraud amounts they set the model's approve / review / block
    /// thresholds, and the report's cost vs threshold figure.
    pub costs: CostModel,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Config {
            models_bucket: required("FRAUD_MODELS_BUCKET", "S3 bucket for model artifacts")?,
            track_function: or_default("TRACK_FUNCTION_NAME", "fraud-track"),
            min_improvement: parsed("PROMOTE_MIN_IMPROVEMENT", 0.0)?,
            costs: {
                let costs = CostModel {
                    review_cost: parsed("FRAUD_REVIEW_COST", CostModel::default().review_cost)?,
                    decline_cost: parsed("FRAUD_DECLINE_COST", CostModel::default().decline_cost)?,
                };
                for (name, value) in [
                    ("FRAUD_REVIEW_COST", costs.review_cost),
                    ("FRAUD_DECLINE_COST", costs.decline_cost),
                ] {
                    if !(value.is_finite() && value >= 0.0) {
                        return Err(EnvError::Invalid {
                            name,
                            value: value.to_string(),
                            reason: "a cost must be a non-negative number".into(),
                        });
                    }
                }
                costs
            },
        })
    }
}

/// How a request arrived: directly (Invoke API, Airflow) or through the Function URL,
/// which wraps it in an HTTP event and expects an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Invoke,
    FunctionUrl,
}

/// Reads a request from either a direct invocation payload or a Function URL event
/// (JSON in `body`, base64 when `isBase64Encoded`).
pub fn read_event(event: serde_json::Value) -> Result<(TrainRequest, Caller), String> {
    use base64::Engine;
    if event.get("requestContext").is_some() && event.get("body").is_some() {
        let body = event["body"].as_str().unwrap_or_default();
        let bytes = if event["isBase64Encoded"].as_bool().unwrap_or(false) {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| format!("request body is not base64: {e}"))?
        } else {
            body.as_bytes().to_vec()
        };
        let request = serde_json::from_slice(&bytes)
            .map_err(|e| format!("request body is not a training request: {e}"))?;
        return Ok((request, Caller::FunctionUrl));
    }
    serde_json::from_value(event)
        .map(|r| (r, Caller::Invoke))
        .map_err(|e| format!("not a training request: {e}"))
}

/// The train function's clients, built once at cold start.
pub struct Trainer {
    train: Train<S3Objects, ModelStore, S3Reports, TrackFunction>,
}

impl Trainer {
    pub fn new(config: Config, aws: &fraud_aws::SdkConfig) -> Self {
        let s3 = fraud_aws::s3_client(aws);
        let store = ModelStore::new(s3.clone(), config.models_bucket.clone());
        Trainer {
            train: Train {
                objects: S3Objects(s3.clone()),
                models: store.clone(),
                reports: S3Reports { s3, store },
                tracker: TrackFunction::new(
                    aws,
                    config.track_function,
                    TRACK_INVOKE_TIMEOUT,
                    TRACK_RETRY,
                ),
                settings: TrainSettings {
                    min_improvement: config.min_improvement,
                    costs: config.costs,
                },
            },
        }
    }

    /// Runs one training request.
    pub async fn handle(&self, request: TrainRequest) -> Result<TrainResponse, TrainError> {
        self.train.handle(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_direct_and_function_url_requests() {
        let direct = serde_json::json!({"data_uris": ["s3://b/k.csv"], "force": true});
        let (r, caller) = read_event(direct).unwrap();
        assert_eq!(
            (r.data_uris.len(), r.force, caller),
            (1, true, Caller::Invoke)
        );

        let url = serde_json::json!({
            "requestContext": {"http": {"method": "POST"}},
            "body": "eyJkYXRhX3VyaXMiOlsiczM6Ly9iL2suY3N2Il19",
            "isBase64Encoded": true
        });
        let (r, caller) = read_event(url).unwrap();
        assert_eq!(
            (r.data_uris, caller),
            (vec!["s3://b/k.csv".to_owned()], Caller::FunctionUrl)
        );
    }

    #[test]
    fn a_misspelled_field_is_refused_with_its_name() {
        let err = read_event(serde_json::json!({"data_uri": "s3://b/k"})).unwrap_err();
        assert!(err.contains("data_uri"), "{err}");
    }
}
