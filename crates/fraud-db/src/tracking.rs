//! The track use case's store ([`TrackingStore`]) over one connection: the run log,
//! later labels, live quality and the monitor's windows.

use chrono::{DateTime, Utc};
use fraud_pipeline::monitoring::{
    KnownLabel, Label, LabelReport, ModelQuality, MonitorPoint, MonitorWindow, WindowScore,
};
use fraud_pipeline::ports::{Recorded, TrackingStore};
use fraud_pipeline::{RunMetric, TrainingRun};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::{DbError, LabelStore, MonitorStore, QualityStore, RecordOutcome, RunStore};

/// The run log, labels, quality and monitor tables, over a connection or a transaction.
pub struct Tracking<'a, C: GenericClient>(pub &'a C);

impl<C: GenericClient + Sync> TrackingStore for Tracking<'_, C> {
    type Error = DbError;

    async fn record_run(&self, run: &TrainingRun) -> Result<Recorded, DbError> {
        Ok(match RunStore::new(self.0).record_run(run).await? {
            RecordOutcome::Inserted => Recorded::New,
            RecordOutcome::Duplicate => Recorded::Duplicate,
        })
    }

    async fn list_runs(&self, limit: u32) -> Result<Vec<TrainingRun>, DbError> {
        RunStore::new(self.0).list_runs(limit).await
    }

    async fn run_by_id(&self, run_id: Uuid) -> Result<Option<TrainingRun>, DbError> {
        RunStore::new(self.0).get_run_by_id(run_id).await
    }

    async fn run_by_version(&self, model_version: &str) -> Result<Option<TrainingRun>, DbError> {
        RunStore::new(self.0).get_run(model_version).await
    }

    async fn best_run(
        &self,
        metric: RunMetric,
        promoted_only: bool,
    ) -> Result<Option<TrainingRun>, DbError> {
        RunStore::new(self.0).best_run(metric, promoted_only).await
    }

    async fn record_labels(&self, labels: &[Label], source: &str) -> Result<LabelReport, DbError> {
        LabelStore::new(self.0).record(labels, source).await
    }

    async fn known_labels(
        &self,
        trans_nums: &[&str],
    ) -> Result<std::collections::HashMap<String, KnownLabel>, DbError> {
        LabelStore::new(self.0).known(trans_nums).await
    }

    async fn quality(
        &self,
        model_version: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<ModelQuality, DbError> {
        QualityStore::new(self.0)
            .compute(model_version, since, until)
            .await
    }

    async fn monitored_versions(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>, DbError> {
        MonitorStore::new(self.0).versions(since, until).await
    }

    async fn window_scores(
        &self,
        model_version: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<WindowScore>, DbError> {
        MonitorStore::new(self.0)
            .scores(model_version, since, until)
            .await
    }

    async fn store_window(&self, window: &MonitorWindow) -> Result<(), DbError> {
        MonitorStore::new(self.0).store(window).await
    }

    async fn monitor_history(
        &self,
        model_version: &str,
        limit: usize,
    ) -> Result<Vec<MonitorPoint>, DbError> {
        MonitorStore::new(self.0)
            .history(model_version, limit)
            .await
    }
}
