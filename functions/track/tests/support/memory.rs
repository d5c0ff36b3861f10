//! The monitor's outside world in memory, for the track tests that watch generated
//! traffic (`tests/monitor.rs`, `tests/monitor_mlflow.rs`): model artifacts, payments
//! files, the reports drawn and the alerts published; and the ledger filled the way the
//! score function fills it. Each test file uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use fraud_core::drift::MonitorAlert;
use fraud_core::scoring::Scorer;
use fraud_core::{ModelArtifact, Transaction};
use fraud_db::{Client, ScoredLedger, ScoredTransaction};
use fraud_fn_track::monitor::report_files;
use fraud_pipeline::ports::{
    ArtifactSource, MonitorAlerts, MonitorReports, ObjectSource, WindowReport,
};
use fraud_report::ReportFile;

pub type MemoryError = std::io::Error;

/// One report the monitor drew.
pub struct StoredReport {
    pub prefix: String,
    /// How many windows its live-metrics figure shows.
    pub history: usize,
    pub files: Vec<ReportFile>,
}

impl StoredReport {
    pub fn names(&self) -> Vec<&'static str> {
        self.files.iter().map(|f| f.name).collect()
    }
}

/// Artifacts and payments in memory; reports and alerts kept for the test to read.
#[derive(Default)]
pub struct MemoryIo {
    pub artifacts: HashMap<String, ModelArtifact>,
    /// Payments files (CSV) by URI.
    pub payments: HashMap<String, Vec<u8>>,
    pub published: Mutex<Vec<MonitorAlert>>,
    pub reports: Mutex<Vec<StoredReport>>,
}

impl MemoryIo {
    /// Nothing but `artifact`, loadable by its version.
    pub fn with_artifact(artifact: ModelArtifact) -> MemoryIo {
        let mut io = MemoryIo::default();
        io.artifacts.insert(artifact.version.clone(), artifact);
        io
    }

    pub fn insert_payments(&mut self, uri: &str, txs: &[Transaction]) {
        let mut csv = Vec::new();
        fraud_core::csv_input::write_transactions(&mut csv, txs).unwrap();
        self.payments.insert(uri.into(), csv);
    }
}

impl ObjectSource for MemoryIo {
    type Error = MemoryError;
    async fn read(&self, uri: &str) -> Result<Option<Vec<u8>>, MemoryError> {
        Ok(self.payments.get(uri).cloned())
    }
}

impl ArtifactSource for MemoryIo {
    type Error = MemoryError;
    async fn load(&self, version: &str) -> Result<ModelArtifact, MemoryError> {
        self.artifacts
            .get(version)
            .cloned()
            .ok_or_else(|| MemoryError::other(format!("no artifact {version}")))
    }
}

impl MonitorReports for MemoryIo {
    type Error = MemoryError;
    async fn write(
        &self,
        prefix: &str,
        report: &WindowReport<'_>,
    ) -> Result<Option<String>, MemoryError> {
        let files = report_files(report).map_err(MemoryError::other)?;
        self.reports.lock().unwrap().push(StoredReport {
            prefix: prefix.to_owned(),
            history: report.history.len(),
            files,
        });
        Ok(Some(format!("memory://{prefix}/index.html")))
    }
}

impl MonitorAlerts for MemoryIo {
    type Error = MemoryError;
    async fn publish(&self, alert: &MonitorAlert) -> Result<Option<String>, MemoryError> {
        let mut published = self.published.lock().unwrap();
        published.push(alert.clone());
        Ok(Some(format!("m-{}", published.len())))
    }
}

/// Scores every payment in time order as the score function would (card histories from
/// the first day) and claims those from `live_from` on in the ledger with their labels;
/// returns how many were claimed.
pub async fn score_live(
    client: &Client,
    artifact: &ModelArtifact,
    txs: &[Transaction],
    live_from: DateTime<Utc>,
) -> u64 {
    let mut scorer = Scorer::new(artifact);
    let mut rows = Vec::new();
    for tx in txs {
        let score = scorer.score(tx);
        let at = tx.trans_date_trans_time.and_utc();
        if at >= live_from {
            rows.push(ScoredTransaction::new(&score, at).labelled(tx.is_fraud));
        }
    }
    let ledger = ScoredLedger::new(client);
    for chunk in rows.chunks(5000) {
        ledger.claim(chunk).await.unwrap();
    }
    rows.len() as u64
}
