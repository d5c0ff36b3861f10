//! The model monitor's wiring (issue 20): its settings from the environment, and its
//! adapters: the run log's store (`fraud_db::Tracking`), payments files and artifacts in
//! S3 ([`fraud_aws::S3Objects`], [`fraud_aws::ModelStore`]), the report drawn with
//! `fraud-report` and stored in the models bucket ([`Drawn`] [`S3Reports`]), alerts on SNS
//! ([`fraud_aws::SnsAlerts`]), and each window's metrics on the version's MLflow run
//! ([`fraud_mlflow::MlflowMirror`], when `MLFLOW_TRACKING_URI` is set). The use case, what it computes and how it judges, is
//! [`fraud_pipeline::track::monitor`].

use std::future::Future;

use chrono::{DateTime, Utc};
use fraud_aws::{ModelStore, S3Objects, SnsAlerts};
use fraud_core::drift::Thresholds;
use fraud_mlflow::MlflowMirror;
use fraud_pipeline::ports::{MonitorReports, WindowReport};

pub use fraud_pipeline::track::monitor::{
    monitor, MonitorAnswer, MonitorPorts, MonitorRequest, WindowAnswer,
};

/// The monitor's settings, read once at cold start (see the module doc for each).
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// `FRAUD_MODELS_BUCKET`: where the artifacts are read and reports written.
    pub models_bucket: Option<String>,
    /// `MONITOR_WINDOW_HOURS` (24).
    pub window_hours: u32,
    /// `MONITOR_ALERTS_TOPIC_ARN`: SNS topic of monitoring alerts (optional).
    pub alerts_topic_arn: Option<String>,
    pub thresholds: Thresholds,
}

impl MonitorConfig {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<MonitorConfig, String> {
        MonitorConfig::from_lookup(fraud_lambda::lookup)
    }

    /// Reads the settings through `lookup`; a malformed value is an error naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<MonitorConfig, String> {
        let nonempty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        fn parsed<T: std::str::FromStr>(
            lookup: &dyn Fn(&str) -> Option<String>,
            name: &str,
            default: T,
            ok: impl Fn(&T) -> bool,
        ) -> Result<T, String> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<T>()
                    .ok()
                    .filter(|x| ok(x))
                    .ok_or_else(|| format!("environment variable {name} is not valid: `{v}`")),
            }
        }
        let l: &dyn Fn(&str) -> Option<String> = &lookup;
        let d = Thresholds::default();
        let positive = |x: &f64| x.is_finite() && *x > 0.0;
        Ok(MonitorConfig {
            models_bucket: nonempty("FRAUD_MODELS_BUCKET"),
            window_hours: parsed(l, "MONITOR_WINDOW_HOURS", 24, |h| *h > 0)?,
            alerts_topic_arn: nonempty("MONITOR_ALERTS_TOPIC_ARN"),
            thresholds: Thresholds {
                score_psi: parsed(l, "MONITOR_SCORE_PSI_MAX", d.score_psi, positive)?,
                feature_psi: parsed(l, "MONITOR_FEATURE_PSI_MAX", d.feature_psi, positive)?,
                top_features: parsed(l, "MONITOR_TOP_FEATURES", d.top_features, |n| *n > 0)?,
                pr_auc_margin: parsed(l, "MONITOR_PR_AUC_MARGIN", d.pr_auc_margin, |x| {
                    x.is_finite() && *x >= 0.0
                })?,
                min_volume: parsed(l, "MONITOR_MIN_VOLUME", d.min_volume, |_| true)?,
                min_labelled_frauds: parsed(
                    l,
                    "MONITOR_MIN_LABELLED_FRAUDS",
                    d.min_labelled_frauds,
                    |_| true,
                )?,
            },
        })
    }
}

/// The window's report (page + PNGs) through `fraud-report`.
pub fn report_files(
    report: &WindowReport<'_>,
) -> Result<Vec<fraud_report::ReportFile>, fraud_report::ReportError> {
    let WindowReport {
        window,
        quality,
        thresholds,
        test_pr_auc,
        history,
    } = report;
    let opt = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{x:.4}"));
    let time = |t: Option<DateTime<Utc>>| t.map_or("open".to_owned(), |t| t.to_rfc3339());
    let drift = window.drift.as_ref();
    let mut figures = vec![
        ("volume".to_owned(), quality.volume.to_string()),
        (
            "alerts (review or block)".to_owned(),
            format!("{} (rate {})", quality.alerts, opt(quality.alert_rate)),
        ),
        (
            "blocks".to_owned(),
            format!("{} (rate {})", quality.blocks, opt(quality.block_rate)),
        ),
        (
            "labelled / frauds".to_owned(),
            format!("{} / {}", quality.labelled, quality.frauds),
        ),
        ("PR-AUC".to_owned(), opt(quality.pr_auc)),
        (
            "precision / recall / F1 of the alert".to_owned(),
            format!(
                "{} / {} / {}",
                opt(quality.precision),
                opt(quality.recall),
                opt(quality.f1)
            ),
        ),
        ("score PSI".to_owned(), opt(drift.and_then(|d| d.score_psi))),
        (
            "payments with recomputed features".to_owned(),
            drift.map_or(0, |d| d.feature_rows).to_string(),
        ),
    ];
    if let Some(c) = &window.cost {
        figures.push((
            "cost at the model's thresholds (labelled payments)".to_owned(),
            format!(
                "{:.2} (fraud lost {:.2}, reviews {:.2}, declines {:.2})",
                c.total_cost, c.fraud_amount_lost, c.review_cost, c.decline_cost
            ),
        ));
    }
    let input = fraud_report::monitor::MonitorReportInput {
        model_version: window.model_version.clone(),
        window: format!("{} – {}", time(window.since), time(window.until)),
        figures,
        feature_psi: drift.map_or_else(Vec::new, |d| {
            d.features
                .iter()
                .map(|f| (f.feature.clone(), f.psi))
                .collect()
        }),
        psi_threshold: thresholds.feature_psi,
        score_bins: drift.map_or_else(Vec::new, |d| d.score_bins.clone()),
        score_training: drift.map_or_else(Vec::new, |d| d.score_training_shares.clone()),
        score_live: drift.map_or_else(Vec::new, |d| d.score_live_shares.clone()),
        findings: window
            .verdict
            .findings
            .iter()
            .map(ToString::to_string)
            .collect(),
        not_judged: window.verdict.not_judged.clone(),
        history: history
            .iter()
            .map(|p| fraud_report::monitor::HistoryPoint {
                end: p.end(),
                pr_auc: p.pr_auc,
                score_psi: p.score_psi,
                alert_rate: p.alert_rate,
                alert: p.alert,
            })
            .collect(),
        test_pr_auc: Some(*test_pr_auc).filter(|t| t.is_finite()),
        score_psi_threshold: thresholds.score_psi,
    };
    fraud_report::monitor::build_monitor(&input)
}

/// Where a drawn report's files go.
pub trait ReportSink: Sync {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Stores `files` under `prefix`; the page's URI, `None` when reports go nowhere.
    fn put(
        &self,
        prefix: &str,
        files: Vec<fraud_report::ReportFile>,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;
}

impl<S: ReportSink> ReportSink for &S {
    type Error = S::Error;

    fn put(
        &self,
        prefix: &str,
        files: Vec<fraud_report::ReportFile>,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send {
        (**self).put(prefix, files)
    }
}

/// The monitor's reports: drawn with `fraud-report` ([`report_files`]), stored in `S`.
pub struct Drawn<S>(pub S);

/// Why a report was not drawn or stored.
#[derive(Debug, thiserror::Error)]
pub enum ReportError<E: std::error::Error + 'static> {
    #[error("monitor report: {0}")]
    Draw(#[from] fraud_report::ReportError),
    #[error(transparent)]
    Store(E),
}

impl<S: ReportSink> MonitorReports for Drawn<S> {
    type Error = ReportError<S::Error>;

    async fn write(
        &self,
        prefix: &str,
        report: &WindowReport<'_>,
    ) -> Result<Option<String>, Self::Error> {
        let files = report_files(report)?;
        self.0.put(prefix, files).await.map_err(ReportError::Store)
    }
}

/// Report files in the models bucket (`<prefix>/index.html` and the figures), or nowhere
/// without one.
pub struct S3Reports {
    pub s3: fraud_aws::S3Client,
    pub bucket: Option<String>,
}

impl ReportSink for S3Reports {
    type Error = fraud_aws::AwsError;

    async fn put(
        &self,
        prefix: &str,
        files: Vec<fraud_report::ReportFile>,
    ) -> Result<Option<String>, fraud_aws::AwsError> {
        let Some(bucket) = &self.bucket else {
            return Ok(None);
        };
        for file in files {
            let key = format!("{prefix}/{}", file.name);
            fraud_aws::put_bytes(&self.s3, bucket, &key, file.bytes, file.content_type).await?;
        }
        Ok(Some(format!(
            "s3://{bucket}/{prefix}/{}",
            fraud_report::INDEX_FILE
        )))
    }
}

/// The monitor's adapters for the Lambda function, built once at cold start.
pub struct AwsMonitor {
    payments: S3Objects,
    artifacts: Option<ModelStore>,
    reports: Drawn<S3Reports>,
    alerts: SnsAlerts,
    mirror: Option<MlflowMirror>,
}

impl AwsMonitor {
    pub fn new(aws: &fraud_aws::SdkConfig, config: &MonitorConfig) -> AwsMonitor {
        let s3 = fraud_aws::s3_client(aws);
        AwsMonitor {
            artifacts: config
                .models_bucket
                .as_ref()
                .map(|b| ModelStore::new(s3.clone(), b)),
            reports: Drawn(S3Reports {
                s3: s3.clone(),
                bucket: config.models_bucket.clone(),
            }),
            payments: S3Objects(s3),
            alerts: SnsAlerts::new(aws, config.alerts_topic_arn.clone()),
            mirror: None,
        }
    }

    /// Logs each window's metrics to MLflow through `mirror` (the track function's
    /// `MLFLOW_TRACKING_URI` server), when given.
    pub fn with_mirror(mut self, mirror: Option<MlflowMirror>) -> AwsMonitor {
        self.mirror = mirror;
        self
    }

    /// The ports the use case takes.
    pub fn ports(
        &self,
    ) -> MonitorPorts<'_, S3Objects, ModelStore, Drawn<S3Reports>, SnsAlerts, MlflowMirror> {
        MonitorPorts {
            payments: &self.payments,
            artifacts: self.artifacts.as_ref(),
            reports: &self.reports,
            alerts: &self.alerts,
            mirror: self.mirror.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_come_from_the_environment_with_documented_defaults() {
        let c = MonitorConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.thresholds, Thresholds::default());
        assert_eq!(c.window_hours, 24);
        let c = MonitorConfig::from_lookup(|k| match k {
            "MONITOR_SCORE_PSI_MAX" => Some("0.1".into()),
            "MONITOR_WINDOW_HOURS" => Some("6".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.thresholds.score_psi, 0.1);
        assert_eq!(c.window_hours, 6);
        let err =
            MonitorConfig::from_lookup(|k| (k == "MONITOR_FEATURE_PSI_MAX").then(|| "-1".into()))
                .unwrap_err();
        assert!(err.contains("MONITOR_FEATURE_PSI_MAX"), "{err}");
    }
}
