//! The training-run log: one row per trained model, so anyone can answer "which model
//! was trained on what, how good was it, where is it and was it promoted" with SQL.
//!
//! The train function builds a [`TrainingRun`] from its artifact and sends it to the
//! track function, which records it. Recording is an idempotent upsert: a retried
//! invocation finds the run already there and reports it as a duplicate.

use fraud_pipeline::{RunMetric, TrainingRun};
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::DbError;

/// A run as the log stores it.
fn run_from_row(row: &Row) -> Result<TrainingRun, DbError> {
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

/// Whether [`RunStore::record_run`] added the run or found it already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The run is new.
    Inserted,
    /// The run was already recorded (a retry); its row now holds the latest values.
    Duplicate,
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
        run.validate().map_err(|e| DbError::InvalidRun {
            field: e.field,
            reason: e.reason,
        })?;
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
            .map(run_from_row)
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
            .map(run_from_row)
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
            .map(run_from_row)
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
            .map(run_from_row)
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
