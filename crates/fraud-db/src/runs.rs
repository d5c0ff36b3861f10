//! The training-run log: one row per trained model, so anyone can answer "which model
//! was trained on what, how good was it, where is it and was it promoted" with SQL.
//!
//! The train function builds a [`TrainingRun`] from its artifact and sends it to the
//! track function, which records it. Recording is an idempotent upsert: a retried
//! invocation finds the run already there and reports it as a duplicate.

use chrono::{DateTime, Utc};
use fraud_core::artifact::ModelArtifact;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::DbError;

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
    pub fn validate(&self) -> Result<(), DbError> {
        for (field, value) in [
            ("model_version", &self.model_version),
            ("artifact_uri", &self.artifact_uri),
            ("learner", &self.learner),
        ] {
            if value.trim().is_empty() {
                return Err(DbError::InvalidRun {
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
            return Err(DbError::InvalidRun {
                field: "report_uri",
                reason: "must not be empty when given (leave it out instead)".into(),
            });
        }
        Ok(())
    }

    fn from_row(row: &Row) -> Result<TrainingRun, DbError> {
        let count = |column: &'static str| -> Result<u64, DbError> {
            let value: i64 = row.get(column);
            u64::try_from(value).map_err(|_| DbError::Corrupt {
                what: "training run",
                reason: format!("{column} is negative ({value})"),
            })
        };
        Ok(TrainingRun {
            run_id: row.get("run_id"),
            model_version: row.get("model_version"),
            created_at: row.get("created_at"),
            learner: row.get("learner"),
            data_uri: row.get("data_uri"),
            data_sha256: row.get("data_sha256"),
            train_rows: count("train_rows")?,
            validation_rows: count("validation_rows")?,
            test_rows: count("test_rows")?,
            threshold: row.get("threshold"),
            pr_auc: row.get("pr_auc"),
            roc_auc: row.get("roc_auc"),
            f1: row.get("f1"),
            params: row.get("params"),
            metrics: row.get("metrics"),
            artifact_uri: row.get("artifact_uri"),
            promoted: row.get("promoted"),
            report_uri: row.get("report_uri"),
        })
    }
}

/// Whether [`RunStore::record_run`] added the run or found it already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The run is new.
    Inserted,
    /// The run was already recorded (a retry); its row now holds the latest values.
    Duplicate,
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
    fn column(self) -> &'static str {
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

const RUN_COLUMNS: &str = "run_id, model_version, created_at, learner, data_uri, data_sha256, \
     train_rows, validation_rows, test_rows, threshold, pr_auc, roc_auc, f1, params, metrics, \
     artifact_uri, promoted, report_uri";

/// The training-run log, over a connection or a transaction.
pub struct RunStore<'a, C: GenericClient> {
    client: &'a C,
}

impl<'a, C: GenericClient> RunStore<'a, C> {
    pub fn new(client: &'a C) -> Self {
        RunStore { client }
    }

    /// Records a run; recording the same run again (same `run_id` and `model_version`)
    /// updates it in place rather than adding a row. Promotion is sticky: a retry that
    /// says `promoted: false` does not demote a promoted run.
    ///
    /// A run that shares only one of `run_id` and `model_version` with a recorded run
    /// is a [`DbError::RunConflict`].
    pub async fn record_run(&self, run: &TrainingRun) -> Result<RecordOutcome, DbError> {
        run.validate()?;
        let count = |field: &'static str, value: u64| {
            i64::try_from(value).map_err(|_| DbError::InvalidRun {
                field,
                reason: format!("{value} does not fit a bigint"),
            })
        };
        let train_rows = count("train_rows", run.train_rows)?;
        let validation_rows = count("validation_rows", run.validation_rows)?;
        let test_rows = count("test_rows", run.test_rows)?;
        // `xmax = 0` holds for a freshly inserted row version and not for one written
        // by the DO UPDATE branch: that is how one statement tells insert from retry.
        let statement = format!(
            "INSERT INTO training_runs ({RUN_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
             ON CONFLICT (run_id) DO UPDATE SET
                 created_at = EXCLUDED.created_at,
                 learner = EXCLUDED.learner,
                 data_uri = EXCLUDED.data_uri,
                 data_sha256 = EXCLUDED.data_sha256,
                 train_rows = EXCLUDED.train_rows,
                 validation_rows = EXCLUDED.validation_rows,
                 test_rows = EXCLUDED.test_rows,
                 threshold = EXCLUDED.threshold,
                 pr_auc = EXCLUDED.pr_auc,
                 roc_auc = EXCLUDED.roc_auc,
                 f1 = EXCLUDED.f1,
                 params = EXCLUDED.params,
                 metrics = EXCLUDED.metrics,
                 artifact_uri = EXCLUDED.artifact_uri,
                 promoted = training_runs.promoted OR EXCLUDED.promoted,
                 -- A retry without a report keeps the one already recorded.
                 report_uri = COALESCE(EXCLUDED.report_uri, training_runs.report_uri)
             WHERE training_runs.model_version = EXCLUDED.model_version
             RETURNING (xmax = 0) AS inserted"
        );
        let result = self
            .client
            .query_opt(
                &statement,
                &[
                    &run.run_id,
                    &run.model_version,
                    &run.created_at,
                    &run.learner,
                    &run.data_uri,
                    &run.data_sha256,
                    &train_rows,
                    &validation_rows,
                    &test_rows,
                    &run.threshold,
                    &run.pr_auc,
                    &run.roc_auc,
                    &run.f1,
                    &run.params,
                    &run.metrics,
                    &run.artifact_uri,
                    &run.promoted,
                    &run.report_uri,
                ],
            )
            .await;
        let conflict = |reason: &str| DbError::RunConflict {
            run_id: run.run_id,
            model_version: run.model_version.clone(),
            reason: reason.into(),
        };
        match result {
            Ok(Some(row)) if row.get::<_, bool>("inserted") => Ok(RecordOutcome::Inserted),
            Ok(Some(_)) => Ok(RecordOutcome::Duplicate),
            Ok(None) => Err(conflict(
                "that run_id is recorded under another model version",
            )),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(conflict(
                "that model version is recorded under another run_id",
            )),
            Err(e) => Err(DbError::query("record_run")(e)),
        }
    }

    /// The run of a model version, if recorded.
    pub async fn get_run(&self, model_version: &str) -> Result<Option<TrainingRun>, DbError> {
        let statement = format!("SELECT {RUN_COLUMNS} FROM training_runs WHERE model_version = $1");
        self.client
            .query_opt(&statement, &[&model_version])
            .await
            .map_err(DbError::query("get_run"))?
            .as_ref()
            .map(TrainingRun::from_row)
            .transpose()
    }

    /// The `limit` most recently created runs, newest first.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<TrainingRun>, DbError> {
        let statement = format!(
            "SELECT {RUN_COLUMNS} FROM training_runs
             ORDER BY created_at DESC, model_version DESC LIMIT $1"
        );
        self.client
            .query(&statement, &[&i64::from(limit)])
            .await
            .map_err(DbError::query("list_runs"))?
            .iter()
            .map(TrainingRun::from_row)
            .collect()
    }

    /// The run with `run_id`, if recorded.
    pub async fn get_run_by_id(&self, run_id: Uuid) -> Result<Option<TrainingRun>, DbError> {
        let statement = format!("SELECT {RUN_COLUMNS} FROM training_runs WHERE run_id = $1");
        self.client
            .query_opt(&statement, &[&run_id])
            .await
            .map_err(DbError::query("get_run_by_id"))?
            .as_ref()
            .map(TrainingRun::from_row)
            .transpose()
    }

    /// The run with the highest test-slice `metric` (ties: the newest), optionally among
    /// promoted runs only; `None` when no run qualifies.
    pub async fn best_run(
        &self,
        metric: RunMetric,
        promoted_only: bool,
    ) -> Result<Option<TrainingRun>, DbError> {
        // The column comes from a closed enum, never from the caller's text.
        let column = metric.column();
        let statement = format!(
            "SELECT {RUN_COLUMNS} FROM training_runs
             WHERE promoted OR NOT $1
             ORDER BY {column} DESC, created_at DESC, model_version DESC LIMIT 1"
        );
        self.client
            .query_opt(&statement, &[&promoted_only])
            .await
            .map_err(DbError::query("best_run"))?
            .as_ref()
            .map(TrainingRun::from_row)
            .transpose()
    }

    /// Marks a run as promoted (idempotent). Other runs keep their flag: `promoted`
    /// records that a model was put in service, not that it still is.
    pub async fn mark_promoted(&self, model_version: &str) -> Result<(), DbError> {
        let updated = self
            .client
            .execute(
                "UPDATE training_runs SET promoted = true WHERE model_version = $1",
                &[&model_version],
            )
            .await
            .map_err(DbError::query("mark_promoted"))?;
        if updated == 0 {
            return Err(DbError::UnknownRun(model_version.to_owned()));
        }
        Ok(())
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
