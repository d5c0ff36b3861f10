//! Optional mirror of recorded runs to an MLflow tracking server, through its REST API
//! (`/api/2.0/mlflow/...`), for teams that browse experiments in the MLflow UI.
//!
//! PostgreSQL stays the record: a run is mirrored after it is recorded, and a mirror
//! failure is reported in the answer and logged, never turned into a failed recording.
//! Mirroring is idempotent: the MLflow run carries the tag `fraud.run_id`, and a run
//! already carrying it is left alone, so retries and re-sent events add nothing.
//!
//! The model monitor's figures go to the same place: each monitored window's `monitor_*`
//! metrics are logged on the MLflow run of the version's training run (mirrored first
//! when missing), timestamped and stepped by the window's end, so MLflow charts them over
//! time next to the run's test metrics (see `fraud_pipeline::track::monitor`).
//!
//! The track use case reaches it through the [`RunMirror`] and [`MonitorMirror`] ports.
#![forbid(unsafe_code)]

use std::time::Duration;

use fraud_pipeline::monitoring::MonitorMetrics;
use fraud_pipeline::ports::{MonitorMirror, RunMirror};
use fraud_pipeline::TrainingRun;
use serde_json::{json, Value};

/// Experiment runs go to when `MLFLOW_EXPERIMENT_NAME` is not set.
pub const DEFAULT_EXPERIMENT: &str = "fraud-detection";
/// Tag holding our run id on the MLflow run.
pub const RUN_ID_TAG: &str = "fraud.run_id";
/// MLflow's limit on a param value's length.
const MAX_PARAM_LEN: usize = 6000;

/// Where and how to mirror (`MLFLOW_TRACKING_URI`, `MLFLOW_EXPERIMENT_NAME`,
/// `MLFLOW_TRACKING_TOKEN`, as the MLflow clients name them).
#[derive(Clone)]
pub struct MlflowConfig {
    pub tracking_uri: String,
    pub experiment: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for MlflowConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowConfig")
            .field("tracking_uri", &self.tracking_uri)
            .field("experiment", &self.experiment)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl MlflowConfig {
    /// `None` when `MLFLOW_TRACKING_URI` is unset (no mirroring).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<MlflowConfig>, MlflowError> {
        let Some(uri) = lookup("MLFLOW_TRACKING_URI").filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        let uri = uri.trim().trim_end_matches('/').to_owned();
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(MlflowError::Config(format!(
                "MLFLOW_TRACKING_URI=`{uri}` must be an http(s) URL of a tracking server"
            )));
        }
        Ok(Some(MlflowConfig {
            tracking_uri: uri,
            experiment: lookup("MLFLOW_EXPERIMENT_NAME")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_EXPERIMENT.to_owned()),
            token: lookup("MLFLOW_TRACKING_TOKEN").filter(|v| !v.trim().is_empty()),
        }))
    }
}

/// A failed mirror call.
#[derive(Debug, thiserror::Error)]
pub enum MlflowError {
    #[error("{0}")]
    Config(String),
    #[error("MLflow {endpoint}: {message}")]
    Call {
        endpoint: &'static str,
        message: String,
    },
}

/// Whether a run reached MLflow (created, or already there: a retry).
pub use fraud_pipeline::ports::Mirrored;

/// Mirrors runs to one MLflow server. Cloning shares the HTTP client.
#[derive(Clone)]
pub struct MlflowMirror {
    http: reqwest::Client,
    config: MlflowConfig,
}

impl MlflowMirror {
    pub fn new(config: MlflowConfig) -> Result<MlflowMirror, MlflowError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| MlflowError::Config(format!("HTTP client: {e}")))?;
        Ok(MlflowMirror { http, config })
    }

    /// Mirrors `run` into the configured experiment (created when missing).
    pub async fn mirror(&self, run: &TrainingRun) -> Result<Mirrored, MlflowError> {
        let experiment_id = self.experiment_id().await?;
        let filter = format!("tags.`{RUN_ID_TAG}` = '{}'", run.run_id);
        let found = self
            .call(
                "runs/search",
                json!({"experiment_ids": [experiment_id], "filter": filter, "max_results": 1}),
            )
            .await?;
        if let Some(id) = found["runs"][0]["info"]["run_id"].as_str() {
            return Ok(Mirrored::Existing(id.to_owned()));
        }
        let start_ms = run.created_at.timestamp_millis();
        let created = self
            .call(
                "runs/create",
                json!({
                    "experiment_id": experiment_id,
                    "run_name": run.model_version,
                    "start_time": start_ms,
                    "tags": [{"key": RUN_ID_TAG, "value": run.run_id.to_string()}],
                }),
            )
            .await?;
        let mlflow_id = created["run"]["info"]["run_id"]
            .as_str()
            .ok_or_else(|| MlflowError::Call {
                endpoint: "runs/create",
                message: format!("answer has no run.info.run_id: {created}"),
            })?
            .to_owned();
        let (params, metrics, tags) = batch(run, start_ms);
        self.call(
            "runs/log-batch",
            json!({"run_id": mlflow_id, "params": params, "metrics": metrics, "tags": tags}),
        )
        .await?;
        self.call(
            "runs/update",
            json!({"run_id": mlflow_id, "status": "FINISHED", "end_time": start_ms}),
        )
        .await?;
        Ok(Mirrored::Created(mlflow_id))
    }

    /// Logs a monitored window's metrics on the MLflow run of `run` (mirrored first when
    /// missing); returns the MLflow run id.
    pub async fn log_window(
        &self,
        run: &TrainingRun,
        metrics: &MonitorMetrics,
    ) -> Result<String, MlflowError> {
        let (Mirrored::Created(id) | Mirrored::Existing(id)) = self.mirror(run).await?;
        if !metrics.values.is_empty() {
            self.call(
                "runs/log-batch",
                json!({"run_id": id, "metrics": monitor_batch(metrics)}),
            )
            .await?;
        }
        Ok(id)
    }

    async fn experiment_id(&self) -> Result<String, MlflowError> {
        let name = &self.config.experiment;
        let url = format!(
            "{}/api/2.0/mlflow/experiments/get-by-name",
            self.config.tracking_uri
        );
        let response = self
            .authorized(self.http.get(&url).query(&[("experiment_name", name)]))
            .send()
            .await
            .map_err(|e| call_error("experiments/get-by-name", e))?;
        if response.status().is_success() {
            let body: Value = response
                .json()
                .await
                .map_err(|e| call_error("experiments/get-by-name", e))?;
            if let Some(id) = body["experiment"]["experiment_id"].as_str() {
                return Ok(id.to_owned());
            }
        } else if response.status() != reqwest::StatusCode::NOT_FOUND {
            return Err(MlflowError::Call {
                endpoint: "experiments/get-by-name",
                message: format!("status {}", response.status()),
            });
        }
        let created = self
            .call("experiments/create", json!({"name": name}))
            .await?;
        created["experiment_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| MlflowError::Call {
                endpoint: "experiments/create",
                message: format!("answer has no experiment_id: {created}"),
            })
    }

    async fn call(&self, endpoint: &'static str, body: Value) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.config.tracking_uri);
        let response = self
            .authorized(self.http.post(&url).json(&body))
            .send()
            .await
            .map_err(|e| call_error(endpoint, e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| call_error(endpoint, e))?;
        if !status.is_success() {
            let mut text = text;
            text.truncate(500);
            return Err(MlflowError::Call {
                endpoint,
                message: format!("status {status}: {text}"),
            });
        }
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_str(&text).map_err(|e| MlflowError::Call {
            endpoint,
            message: format!("answer is not JSON: {e}"),
        })
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.config.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

impl RunMirror for MlflowMirror {
    type Error = MlflowError;

    async fn mirror(&self, run: &TrainingRun) -> Result<Mirrored, MlflowError> {
        MlflowMirror::mirror(self, run).await
    }
}

impl MonitorMirror for MlflowMirror {
    type Error = MlflowError;

    async fn log_window(
        &self,
        run: &TrainingRun,
        metrics: &MonitorMetrics,
    ) -> Result<String, MlflowError> {
        MlflowMirror::log_window(self, run, metrics).await
    }
}

fn call_error(endpoint: &'static str, e: reqwest::Error) -> MlflowError {
    MlflowError::Call {
        endpoint,
        message: e.to_string(),
    }
}

/// The run as MLflow params (the top-level hyper-parameters), metrics (the test-slice
/// numbers, row counts) and tags (where the data and the artifact are).
pub fn batch(run: &TrainingRun, timestamp_ms: i64) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut params: Vec<Value> = Vec::new();
    if let Some(object) = run.params.as_object() {
        for (key, value) in object {
            let mut text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text.truncate(MAX_PARAM_LEN);
            params.push(json!({"key": key, "value": text}));
        }
    }
    params.push(json!({"key": "learner", "value": run.learner}));
    params.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
    params.dedup_by(|a, b| a["key"] == b["key"]);
    let metric = |key: &str, value: f64| json!({"key": key, "value": value, "timestamp": timestamp_ms, "step": 0});
    let metrics = vec![
        metric("test_pr_auc", run.pr_auc),
        metric("test_roc_auc", run.roc_auc),
        metric("test_f1", run.f1),
        metric("threshold", run.threshold),
        metric("train_rows", run.train_rows as f64),
        metric("validation_rows", run.validation_rows as f64),
        metric("test_rows", run.test_rows as f64),
    ];
    let tag = |key: &str, value: &str| json!({"key": key, "value": value});
    let tags = vec![
        tag("fraud.model_version", &run.model_version),
        tag("fraud.artifact_uri", &run.artifact_uri),
        tag("fraud.data_uri", &run.data_uri),
        tag("fraud.data_sha256", &run.data_sha256),
        tag(
            "fraud.promoted",
            if run.promoted { "true" } else { "false" },
        ),
    ];
    let mut tags = tags;
    if let Some(report) = &run.report_uri {
        tags.push(tag("fraud.report_uri", report));
    }
    (params, metrics, tags)
}

/// A monitored window's metrics as MLflow metrics: timestamp the window's end (ms), step
/// the window's end in epoch seconds (stable when the window is monitored again, ordered
/// by time however the windows were computed).
pub fn monitor_batch(metrics: &MonitorMetrics) -> Vec<Value> {
    let timestamp = metrics.window_end.timestamp_millis();
    let step = metrics.window_end.timestamp();
    metrics
        .values
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value, "timestamp": timestamp, "step": step}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_metrics_are_logged_at_the_window_end() {
        let metrics = MonitorMetrics {
            model_version: "v1".into(),
            window_end: "2026-12-06T00:00:00Z".parse().unwrap(),
            values: vec![("monitor_score_psi", 0.12), ("monitor_volume", 900.0)],
        };
        let batch = monitor_batch(&metrics);
        assert_eq!(
            batch,
            [
                json!({"key": "monitor_score_psi", "value": 0.12, "timestamp": 1_796_515_200_000_i64, "step": 1_796_515_200_i64}),
                json!({"key": "monitor_volume", "value": 900.0, "timestamp": 1_796_515_200_000_i64, "step": 1_796_515_200_i64}),
            ]
        );
    }

    #[test]
    fn no_tracking_uri_means_no_mirror_and_a_bad_one_is_named() {
        assert!(MlflowConfig::from_lookup(|_| None).unwrap().is_none());
        let err = MlflowConfig::from_lookup(|k| {
            (k == "MLFLOW_TRACKING_URI").then(|| "file:///tmp/mlruns".to_owned())
        })
        .unwrap_err();
        assert!(err.to_string().contains("file:///tmp/mlruns"), "{err}");
    }

    #[test]
    fn token_is_never_printed() {
        let config = MlflowConfig::from_lookup(|k| match k {
            "MLFLOW_TRACKING_URI" => Some("http://127.0.0.1:5000/".into()),
            "MLFLOW_TRACKING_TOKEN" => Some("tok-secret".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(config.tracking_uri, "http://127.0.0.1:5000");
        assert_eq!(config.experiment, DEFAULT_EXPERIMENT);
        assert!(!format!("{config:?}").contains("tok-secret"));
    }
}
