//! The train function: reads one or more training CSVs from S3, trains and evaluates
//! with the shared core (time-based split), stores the versioned artifact and its
//! metrics in S3, promotes it to "current" only if it beats the current model on the
//! same test slice (or when forced), and records the run through the track function.
//! The run record is also written beside the artifact first, so it is never lost when
//! tracking is unavailable. Every run also gets a report (`report/index.html` and its
//! PNG figures, drawn from the test slice and compared with the promoted model) beside
//! the artifact; the run record links it as `report_uri`.
#![forbid(unsafe_code)]

use aws_sdk_lambda::primitives::Blob;
use fraud_aws::{ModelStore, S3Uri};
use fraud_core::artifact::sha256_hex;
use fraud_core::calibration::CostModel;
use fraud_core::csv_input::CsvTransactions;
use fraud_core::metrics::average_precision;
use fraud_core::model::{ForestParams, Learner};
use fraud_core::train::{
    default_candidates, prepare, train_and_evaluate_with_costs, DataSource, TimeSplit,
};
use fraud_lambda::retry::{RetryBudget, Retryable};
use fraud_lambda::{or_default, parsed, required, EnvError};
use serde::{Deserialize, Serialize};

/// How long one invocation of the track function may take. Without a bound, a track
/// function that never answers (under `cargo lambda watch`, one whose process exited at
/// cold start because Postgres was down) held the training run until its own timeout,
/// and the result (`tracked: false`, run record in S3) never came back.
pub const TRACK_INVOKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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

/// A training request (Invoke API, Function URL, or Airflow).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Training CSVs, `s3://bucket/key` (Sparkov schema, labelled), concatenated in order.
    pub data_uris: Vec<String>,
    /// Promote even if the new model is not better.
    #[serde(default)]
    pub force: bool,
    /// Number of trees (default 300).
    #[serde(default)]
    pub trees: Option<usize>,
    /// Seed (default 42).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Fit only this learner (`cart`, `linfa_trees`, `gbm` or `blend`); by default all
    /// four are fitted and the best on the time folds (mean validation PR-AUC) is kept.
    #[serde(default)]
    pub learner: Option<Learner>,
}

/// How a request arrived: directly (Invoke API, Airflow) or through the Function URL,
/// which wraps it in an HTTP event and expects an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Invoke,
    FunctionUrl,
}

impl TrainRequest {
    /// Reads a request from either a direct invocation payload or a Function URL event
    /// (JSON in `body`, base64 when `isBase64Encoded`).
    pub fn from_event(event: serde_json::Value) -> Result<(TrainRequest, Caller), String> {
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
}

/// What a training run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResponse {
    pub model_version: String,
    pub artifact_uri: String,
    pub learner: String,
    pub rows: u64,
    pub frauds: u64,
    pub rejected: u64,
    pub test_pr_auc: f64,
    pub test_roc_auc: f64,
    pub test_f1: f64,
    pub threshold: f64,
    pub promoted: bool,
    /// Why it was or was not promoted.
    pub promotion_reason: String,
    /// The previously current model and its PR-AUC on this run's test slice.
    pub previous_version: Option<String>,
    pub previous_test_pr_auc: Option<f64>,
    pub run_uri: String,
    /// The run's report page (`…/report/index.html`); absent if it could not be written.
    pub report_uri: Option<String>,
    pub tracked: bool,
    pub train_seconds: f64,
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the request names no training data (`data_uris` is empty)")]
    NoData,
    #[error(transparent)]
    Aws(#[from] fraud_aws::AwsError),
    #[error("{uri}: {reason}")]
    Data { uri: String, reason: String },
    #[error(transparent)]
    Train(#[from] fraud_core::train::TrainError),
}

/// Why a run's report was not written (logged; the run goes on without it).
#[derive(Debug, thiserror::Error)]
enum ReportFailure {
    #[error("{0}")]
    Report(String),
    #[error(transparent)]
    Aws(#[from] fraud_aws::AwsError),
}

/// The train function's clients.
pub struct Trainer {
    config: Config,
    s3: fraud_aws::S3Client,
    store: ModelStore,
    lambda: aws_sdk_lambda::Client,
}

impl Trainer {
    pub fn new(config: Config, aws: &fraud_aws::SdkConfig) -> Self {
        let s3 = fraud_aws::s3_client(aws);
        Trainer {
            store: ModelStore::new(s3.clone(), config.models_bucket.clone()),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(aws)
                    .timeout_config(
                        aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                            .operation_timeout(TRACK_INVOKE_TIMEOUT)
                            .build(),
                    )
                    .build(),
            ),
            s3,
            config,
        }
    }

    pub async fn handle(&self, request: TrainRequest) -> Result<TrainResponse, TrainError> {
        if request.data_uris.is_empty() {
            return Err(TrainError::NoData);
        }
        // 1. Data.
        let mut txs = Vec::new();
        let mut all_bytes = Vec::new();
        let mut rejected = 0u64;
        for uri in &request.data_uris {
            let location: S3Uri = uri.parse()?;
            let bytes = fraud_aws::get_bytes(&self.s3, &location.bucket, &location.key)
                .await?
                .ok_or_else(|| TrainError::Data {
                    uri: uri.clone(),
                    reason: "object does not exist".into(),
                })?;
            let reader = CsvTransactions::new(bytes.as_slice()).map_err(|e| TrainError::Data {
                uri: uri.clone(),
                reason: e.to_string(),
            })?;
            for row in reader {
                match row.map_err(|e| TrainError::Data {
                    uri: uri.clone(),
                    reason: e.to_string(),
                })? {
                    Ok(tx) => txs.push(tx),
                    Err(r) => {
                        rejected += 1;
                        if rejected <= 20 {
                            tracing::warn!(uri = %uri, line = r.line, reason = %r.reason, "training row rejected");
                        }
                    }
                }
            }
            all_bytes.extend_from_slice(&bytes);
        }
        tracing::info!(rows = txs.len(), rejected, "training data loaded");

        // 2. Train and evaluate (time split), choosing the learner on validation.
        let candidates: Vec<ForestParams> = default_candidates(
            request.trees.unwrap_or(ForestParams::default().n_trees),
            request.seed.unwrap_or(ForestParams::default().seed),
        )
        .into_iter()
        .filter(|c| request.learner.is_none_or(|l| c.learner == l))
        .collect();
        let amounts = fraud_report::from_core::amounts_by_trans_num(&txs);
        let prepared = prepare(txs)?;
        let source = DataSource {
            uri: request.data_uris.join(","),
            sha256: sha256_hex(&all_bytes),
        };
        let split = TimeSplit::default();
        let data = std::sync::Arc::new(prepared);
        let costs = self.config.costs;
        let artifact = {
            let data = data.clone();
            tokio::task::spawn_blocking(move || {
                train_and_evaluate_with_costs(&data, &source, &candidates, split, costs, &|| {})
            })
            .await
            .expect("training does not panic")?
        };
        let artifact_uri = self.store.put(&artifact).await?;

        // 3. Compare with the current model on the same test slice.
        let [_, _, test] = split.ranges(data.labels.len());
        let previous = self.store.current().await?;
        let mut previous_score = None;
        let mut previous_artifact = None;
        if let Some(p) = &previous {
            match self.store.load(&p.version).await {
                Ok(current) => {
                    let scores = current.model.predict_many(&data.features[test.clone()]);
                    previous_score = Some(average_precision(&data.labels[test.clone()], &scores));
                    previous_artifact = Some(current);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the current model cannot be loaded; it will be replaced")
                }
            }
        }
        let new_score = artifact.metrics.test.pr_auc;
        let (promoted, reason) = match previous_score {
            _ if request.force => (true, "forced".to_owned()),
            None => (true, "no usable current model".to_owned()),
            Some(old) if new_score > old + self.config.min_improvement => (
                true,
                format!("test PR-AUC {new_score:.4} beats the current model's {old:.4}"),
            ),
            Some(old) => (
                false,
                format!("test PR-AUC {new_score:.4} does not beat the current model's {old:.4}"),
            ),
        };
        if promoted {
            self.store.promote(&artifact, &artifact_uri).await?;
        }
        tracing::info!(model_version = %artifact.version, promoted, reason = %reason, "training run finished");

        // 4. The report, beside the artifact. A report that cannot be made is logged and
        //    left out: it must not cost the run its record.
        let report_uri = match self
            .write_report(&artifact, data.clone(), amounts, previous_artifact, &reason)
            .await
        {
            Ok(uri) => Some(uri),
            Err(e) => {
                tracing::warn!(model_version = %artifact.version, error = %e, "run report not written");
                None
            }
        };

        // 5. Record the run: beside the artifact first, then through the track function.
        let mut run = fraud_db::TrainingRun::from_artifact(&artifact, &artifact_uri, promoted);
        run.report_uri = report_uri.clone();
        let run_json = serde_json::to_vec_pretty(&run).expect("runs serialize");
        let run_uri = self
            .store
            .put_beside(&artifact.version, "run.json", run_json)
            .await?;
        let tracked = self.track(&run).await;

        Ok(TrainResponse {
            model_version: artifact.version.clone(),
            artifact_uri,
            learner: artifact.model.params.learner.to_string(),
            rows: artifact.training.rows,
            frauds: artifact.training.frauds,
            rejected,
            test_pr_auc: new_score,
            test_roc_auc: artifact.metrics.test.roc_auc,
            test_f1: artifact.metrics.test.f1,
            threshold: artifact.threshold,
            promoted,
            promotion_reason: reason,
            previous_version: previous.map(|p| p.version),
            previous_test_pr_auc: previous_score,
            run_uri,
            report_uri,
            tracked,
            train_seconds: artifact.training.train_seconds,
        })
    }

    /// Draws the run's report (test slice, compared with the promoted model) and stores
    /// it under `models/<version>/report/`; returns the page's URI.
    async fn write_report(
        &self,
        artifact: &fraud_core::ModelArtifact,
        data: std::sync::Arc<fraud_core::train::Prepared>,
        amounts: std::collections::HashMap<String, f64>,
        previous: Option<fraud_core::ModelArtifact>,
        promotion: &str,
    ) -> Result<String, ReportFailure> {
        let started = std::time::Instant::now();
        let review_cost = artifact.policy.costs.review_cost;
        let promotion = promotion.to_owned();
        let for_report = artifact.clone();
        let files = tokio::task::spawn_blocking(move || {
            let amounts = fraud_report::from_core::amounts_in_order(&data, &amounts)?;
            let mut input = fraud_report::from_core::report_input(
                &for_report,
                &data,
                &amounts,
                previous.as_ref(),
                review_cost,
            )?;
            input.notes.push(("promotion".into(), promotion));
            fraud_report::build(&input)
        })
        .await
        .map_err(|e| ReportFailure::Report(format!("report task failed: {e}")))?
        .map_err(|e| ReportFailure::Report(e.to_string()))?;
        let bucket = self.store.bucket();
        let mut index_uri = String::new();
        for file in files {
            let key = format!(
                "models/{}/{}/{}",
                artifact.version,
                fraud_report::REPORT_DIR,
                file.name
            );
            fraud_aws::put_bytes(&self.s3, bucket, &key, file.bytes, file.content_type).await?;
            if file.name == fraud_report::INDEX_FILE {
                index_uri = format!("s3://{bucket}/{key}");
            }
        }
        tracing::info!(
            model_version = %artifact.version,
            report_uri = %index_uri,
            report_ms = started.elapsed().as_millis() as u64,
            "run report written"
        );
        Ok(index_uri)
    }

    /// Invokes the track function (each attempt bounded by [`TRACK_INVOKE_TIMEOUT`]),
    /// within [`TRACK_RETRY`]; failures are logged, the run stays in S3.
    async fn track(&self, run: &fraud_db::TrainingRun) -> bool {
        let payload =
            serde_json::to_vec(&serde_json::json!({ "run": run })).expect("runs serialize");
        let once = || async {
            let out = self
                .lambda
                .invoke()
                .function_name(&self.config.track_function)
                .payload(Blob::new(payload.clone()))
                .send()
                .await
                .map_err(|e| format!("cannot invoke the track function: {e}"))?;
            match out.function_error() {
                None => Ok(()),
                Some(_) => Err(format!(
                    "track function returned an error: {}",
                    out.payload()
                        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                        .unwrap_or_default()
                )),
            }
        };
        let result = once
            .retry(TRACK_RETRY.policy())
            .sleep(tokio::time::sleep)
            .notify(|e, wait| tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "tracking the run failed; retrying"))
            .await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, attempts = TRACK_RETRY.attempts, "the run was not tracked");
        }
        result.is_ok()
    }
}

/// Attempts at recording a run through the track function: three, 200 ms apart at first.
const TRACK_RETRY: RetryBudget = RetryBudget::new(3, std::time::Duration::from_millis(200));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_direct_and_function_url_requests() {
        let direct = serde_json::json!({"data_uris": ["s3://b/k.csv"], "force": true});
        let (r, caller) = TrainRequest::from_event(direct).unwrap();
        assert_eq!(
            (r.data_uris.len(), r.force, caller),
            (1, true, Caller::Invoke)
        );

        let url = serde_json::json!({
            "requestContext": {"http": {"method": "POST"}},
            "body": "eyJkYXRhX3VyaXMiOlsiczM6Ly9iL2suY3N2Il19",
            "isBase64Encoded": true
        });
        let (r, caller) = TrainRequest::from_event(url).unwrap();
        assert_eq!(
            (r.data_uris, caller),
            (vec!["s3://b/k.csv".to_owned()], Caller::FunctionUrl)
        );
    }

    #[test]
    fn a_misspelled_field_is_refused_with_its_name() {
        let err =
            TrainRequest::from_event(serde_json::json!({"data_uri": "s3://b/k"})).unwrap_err();
        assert!(err.contains("data_uri"), "{err}");
    }
}
