//! The training run: what the run log keeps about one trained model, and the message the
//! train function sends the track function (`{"run": <TrainingRun>}`). Written once here,
//! used by training, tracking, the PostgreSQL run log and the MLflow mirror.

use chrono::{DateTime, Utc};
use fraud_core::artifact::ModelArtifact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A run field the log refuses (required text missing).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("training run field `{field}` is invalid: {reason}")]
pub struct InvalidRun {
    pub field: &'static str,
    pub reason: String,
}

/// What the log keeps about one trained model. This is also the JSON the track
/// function receives (`{"run": <TrainingRun>}`).
///
/// `pr_auc`, `roc_auc` and `f1` are measured on the test slice (the latest data, never
/// used for any choice); `params` and `metrics` hold the full chosen hyper-parameters
/// and validation/test reports as JSON, so rows written by older builds stay readable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    pub run_id: Uuid,
    /// The artifact's version, `<created-at>-<hash>`; unique.
    pub model_version: String,
    pub created_at: DateTime<Utc>,
    /// Tree learner of the chosen model (`cart`, `linfa-trees`).
    pub learner: String,
    pub data_uri: String,
    pub data_sha256: String,
    pub train_rows: u64,
    pub validation_rows: u64,
    pub test_rows: u64,
    /// Probability at or above which the model blocks a payment.
    pub threshold: f64,
    pub pr_auc: f64,
    pub roc_auc: f64,
    pub f1: f64,
    /// `fraud_core::model::ForestParams` of the chosen model.
    pub params: serde_json::Value,
    /// `fraud_core::artifact::Metrics`: validation and test slice reports.
    pub metrics: serde_json::Value,
    /// Where the artifact is stored, e.g. `s3://fraud-models/models/<version>/model.json`.
    pub artifact_uri: String,
    /// Whether the model was made the one the score function uses.
    pub promoted: bool,
    /// Where the run's report page is stored (`…/report/index.html`), when one was
    /// written. Absent in runs sent by builds without reports.
    #[serde(default)]
    pub report_uri: Option<String>,
}

impl TrainingRun {
    /// The run describing `artifact`, stored at `artifact_uri`.
    ///
    /// `run_id` is derived from the model version, so describing the same artifact
    /// twice (a retried train function, a backfill) yields the same run and records
    /// as a duplicate instead of conflicting.
    pub fn from_artifact(
        artifact: &ModelArtifact,
        artifact_uri: impl Into<String>,
        promoted: bool,
    ) -> TrainingRun {
        let training = &artifact.training;
        let test = &artifact.metrics.test;
        TrainingRun {
            run_id: TrainingRun::run_id_for(&artifact.version),
            model_version: artifact.version.clone(),
            created_at: artifact.created_at,
            learner: artifact.model.params.learner.to_string(),
            data_uri: training.data_uri.clone(),
            data_sha256: training.data_sha256.clone(),
            train_rows: training.train_rows,
            validation_rows: training.validation_rows,
            test_rows: training.test_rows,
            threshold: artifact.threshold,
            pr_auc: test.pr_auc,
            roc_auc: test.roc_auc,
            f1: test.f1,
            params: serde_json::to_value(&artifact.model.params)
                .expect("forest parameters serialize"),
            metrics: serde_json::to_value(&artifact.metrics).expect("metrics serialize"),
            artifact_uri: artifact_uri.into(),
            promoted,
            report_uri: None,
        }
    }

    /// The run id of a model version: the first 128 bits of SHA-256 of the version,
    /// as a UUID version 8 (custom).
    pub fn run_id_for(model_version: &str) -> Uuid {
        let digest = Sha256::digest(format!("fraud-training-run:{model_version}"));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    /// Checks what the database cannot: required text is present.
    pub fn validate(&self) -> Result<(), InvalidRun> {
        for (field, value) in [
            ("model_version", &self.model_version),
            ("artifact_uri", &self.artifact_uri),
            ("learner", &self.learner),
        ] {
            if value.trim().is_empty() {
                return Err(InvalidRun {
                    field,
                    reason: "must not be empty".into(),
                });
            }
        }
        if self
            .report_uri
            .as_deref()
            .is_some_and(|uri| uri.trim().is_empty())
        {
            return Err(InvalidRun {
                field: "report_uri",
                reason: "must not be empty when given (leave it out instead)".into(),
            });
        }
        Ok(())
    }
}

/// A test-slice metric runs can be ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMetric {
    PrAuc,
    RocAuc,
    F1,
}

impl RunMetric {
    /// The metric's name, as requests spell it and the run log's column is named.
    pub fn column(self) -> &'static str {
        match self {
            RunMetric::PrAuc => "pr_auc",
            RunMetric::RocAuc => "roc_auc",
            RunMetric::F1 => "f1",
        }
    }
}

impl std::str::FromStr for RunMetric {
    type Err = String;
    fn from_str(s: &str) -> Result<RunMetric, String> {
        match s {
            "pr_auc" => Ok(RunMetric::PrAuc),
            "roc_auc" => Ok(RunMetric::RocAuc),
            "f1" => Ok(RunMetric::F1),
            other => Err(format!(
                "unknown metric `{other}`: expected pr_auc, roc_auc or f1"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_is_stable_per_model_version() {
        let a = TrainingRun::run_id_for("20240101T000000Z-0badcafe");
        assert_eq!(a, TrainingRun::run_id_for("20240101T000000Z-0badcafe"));
        assert_ne!(a, TrainingRun::run_id_for("20240101T000000Z-0badcafd"));
        assert_eq!(a.get_version_num(), 8);
    }

    #[test]
    fn run_from_artifact_reports_the_test_slice_and_the_chosen_params() {
        use fraud_core::artifact::{Metrics, TrainingInfo};
        use fraud_core::metrics::SliceReport;
        use fraud_core::model::{Forest, ForestParams, Learner};

        let labels = [false, false, true, true];
        let validation = SliceReport::new(&labels, &[0.1, 0.6, 0.4, 0.9], 0.5);
        let test = SliceReport::new(&labels, &[0.1, 0.2, 0.8, 0.9], 0.5);
        let params = ForestParams {
            learner: Learner::LinfaTrees,
            ..ForestParams::default()
        };
        let created_at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 5, 1, 12, 0, 0).unwrap();
        let artifact = ModelArtifact::new(
            Forest {
                params: params.clone(),
                trees: Vec::new(),
                components: Vec::new(),
                compiled: Default::default(),
            },
            0.5,
            Metrics {
                validation,
                test: test.clone(),
            },
            TrainingInfo {
                data_uri: "s3://fraud-data/train.csv".into(),
                data_sha256: "ab".repeat(32),
                rows: 100,
                frauds: 4,
                split: Default::default(),
                train_rows: 60,
                validation_rows: 10,
                test_rows: 30,
                train_seconds: 1.5,
                candidates: Vec::new(),
            },
            created_at,
        );
        let uri = format!("s3://fraud-models/models/{}/model.json", artifact.version);

        let run = TrainingRun::from_artifact(&artifact, uri.clone(), true);

        assert_eq!(run.run_id, TrainingRun::run_id_for(&artifact.version));
        assert_eq!(run.model_version, artifact.version);
        assert_eq!(run.created_at, created_at);
        assert_eq!(run.learner, "linfa-trees");
        assert_eq!(
            (run.train_rows, run.validation_rows, run.test_rows),
            (60, 10, 30)
        );
        assert_eq!(
            (run.pr_auc, run.roc_auc, run.f1),
            (test.pr_auc, test.roc_auc, test.f1)
        );
        assert_eq!(run.threshold, 0.5);
        assert_eq!(run.params, serde_json::to_value(&params).unwrap());
        assert_eq!(run.metrics["test"]["f1"], serde_json::json!(test.f1));
        assert_eq!(run.artifact_uri, uri);
        assert!(run.promoted);
        run.validate().unwrap();
        assert_eq!(run, TrainingRun::from_artifact(&artifact, uri, true));
    }
}
