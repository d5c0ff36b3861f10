//! The monitor (issue 20): per model version and window, volume, alert and block rates,
//! the score's distribution, the population stability index (PSI) of the score and of
//! every feature against the training distribution stored in the artifact, and, where
//! labels exist, PR-AUC, precision, recall, F1 and the cost at the model's thresholds;
//! then a verdict against documented thresholds, a monitoring alert when one is
//! crossed, and a report.
//!
//! `{"action": "monitor", "model_version"?, "since"?, "until"?, "hours"?,
//! "payments_uris"?: ["s3://…csv", …], "report"?: true}`
//!
//! - **Window**: payments whose event time is in `[since, until)` (RFC 3339); without
//!   them, the `hours` (default `MONITOR_WINDOW_HOURS`, 24) before now. **Versions**:
//!   `model_version`, or every version that scored a payment in the window.
//! - **Counts, rates and label figures** are [`fraud_db::QualityStore`]'s (the same code as
//!   `{"action": "quality"}`; stored in `model_quality`); PR-AUC, precision, recall, F1 and
//!   the cost reuse `fraud_core::metrics` and the model's `DecisionPolicy::cost`.
//! - **Score PSI** comes from the ledger (`scored_transactions.probability`): always
//!   available, one row per payment.
//! - **Feature PSI** needs each payment's features, which nothing stores: the ledger
//!   keeps what idempotency needs, the S3 results and `payments.scored` carry the payment's
//!   amount, category and merchant but not the holder's fields (gender, birth date,
//!   home and merchant places, city population) that half the features are made of.
//!   Storing 47 numbers per payment in the score path would grow every result line and
//!   scored message by about 1 KB, on the path whose latency is measured in
//!   milliseconds, for a figure read once a day. So the monitor **recomputes features**
//!   with the one feature pipeline (per-card `CardHistories` walked in time order, as
//!   training's `featurize_in_time_order` does)
//!   from the payments themselves: Sparkov-schema CSVs in S3 given as `payments_uris`
//!   (the ingest backfill's format; an archive of the `payments` topic, e.g. a Firehose
//!   or Kafka Connect S3 sink, is the production feeder and is not part of this
//!   repository). Per-card features look 30 days back, so the files should start 30
//!   days before the window; payments outside the window only warm the card histories.
//!   Only payments in the ledger for the version and window are counted. Without
//!   `payments_uris` the window gets score PSI and the verdict says feature drift was not
//!   judged. The cost needs the amounts, so it comes from the same payments.
//! - **Old artifacts** (schema < 4) have no training distribution: no PSI, and the
//!   answer says `cannot compute PSI …` (`fraud_core::drift::NO_PROFILE`).
//! - **Verdict** ([`fraud_core::drift::Thresholds`]): score PSI > `MONITOR_SCORE_PSI_MAX`
//!   (0.25), PSI of one of the `MONITOR_TOP_FEATURES` (10) most important features >
//!   `MONITOR_FEATURE_PSI_MAX` (0.25), live PR-AUC more than `MONITOR_PR_AUC_MARGIN` (0.10)
//!   below the model's test PR-AUC; PSI judged from `MONITOR_MIN_VOLUME` (500) payments,
//!   PR-AUC from `MONITOR_MIN_LABELLED_FRAUDS` (20) labelled frauds.
//! - **Out**: the window's drift and verdict in `model_monitor`; with `report` (default
//!   true) and a models bucket, `monitor/<version>/<since>_<until>/index.html` + PNGs
//!   there (PSI per feature, score histogram now vs training); when flagged, a
//!   [`MonitorAlert`] published to `MONITOR_ALERTS_TOPIC_ARN` (SNS) if set, and
//!   `"alert": true` in the answer (the Airflow DAG retrains on it) either way.

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use fraud_aws::S3Uri;
use fraud_core::drift::{LiveDistribution, MonitorAlert, Thresholds};
use fraud_core::{CardHistories, ModelArtifact, Transaction};
use fraud_db::{GenericClient, ModelQuality, MonitorStore, MonitorWindow, QualityStore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::labels::event_time;
use crate::TrackError;

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

/// `{"action": "monitor", …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorRequest {
    pub model_version: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub payments_uris: Vec<S3Uri>,
    pub report: bool,
}

fn bad(reason: impl Into<String>) -> TrackError {
    TrackError::BadEvent(reason.into())
}

impl MonitorRequest {
    /// Reads the event; the window defaults to the `window_hours` before `now`.
    pub fn from_event(
        event: Value,
        window_hours: u32,
        now: DateTime<Utc>,
    ) -> Result<MonitorRequest, TrackError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Event {
            #[allow(dead_code)]
            action: String,
            model_version: Option<String>,
            since: Option<String>,
            until: Option<String>,
            hours: Option<u32>,
            #[serde(default)]
            payments_uris: Vec<String>,
            report: Option<bool>,
        }
        let event: Event = serde_json::from_value(event).map_err(|e| bad(e.to_string()))?;
        let (since, until) = (
            event_time("since", event.since)?,
            event_time("until", event.until)?,
        );
        if event.hours == Some(0) {
            return Err(bad("field `hours` must be at least 1"));
        }
        if event.hours.is_some() && (since.is_some() || until.is_some()) {
            return Err(bad("give `hours` or `since`/`until`, not both"));
        }
        let (since, until) = if since.is_none() && until.is_none() {
            let until = now.trunc_subsecs(0);
            let hours = event.hours.unwrap_or(window_hours);
            (Some(until - Duration::hours(i64::from(hours))), Some(until))
        } else {
            (since, until)
        };
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(bad("`since` must be before `until`"));
            }
        }
        let payments_uris = event
            .payments_uris
            .iter()
            .map(|u| {
                u.parse::<S3Uri>()
                    .map_err(|e| bad(format!("field `payments_uris`: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let model_version = match event.model_version {
            Some(v) if v.trim().is_empty() => return Err(bad("field `model_version` is empty")),
            v => v.map(|v| v.trim().to_owned()),
        };
        Ok(MonitorRequest {
            model_version,
            since,
            until,
            payments_uris,
            report: event.report.unwrap_or(true),
        })
    }
}

/// What the monitor reads from and writes to outside the database (S3, SNS), so tests
/// can run it on the real database with data in memory.
pub trait MonitorIo {
    /// The artifact of `version`.
    fn artifact(&self, version: &str)
        -> impl Future<Output = Result<ModelArtifact, String>> + Send;
    /// The payments of a file (invalid rows are counted, not fatal).
    fn payments(
        &self,
        uri: &S3Uri,
    ) -> impl Future<Output = Result<Vec<Transaction>, String>> + Send;
    /// Stores a report's files under `prefix`; the page's URI, `None` when reports go nowhere.
    fn put_report(
        &self,
        prefix: &str,
        files: Vec<fraud_report::ReportFile>,
    ) -> impl Future<Output = Result<Option<String>, String>> + Send;
    /// Publishes a monitoring alert; its message id, `None` when no topic is configured.
    fn publish(
        &self,
        alert: &MonitorAlert,
    ) -> impl Future<Output = Result<Option<String>, String>> + Send;
}

/// One model version's window: the quality figures, the drift and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowAnswer {
    pub quality: ModelQuality,
    pub monitor: MonitorWindow,
    /// The model's test-slice PR-AUC, what the live PR-AUC is compared with.
    pub test_pr_auc: f64,
    /// The monitoring alert's SNS message id, when one was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_message_id: Option<String>,
}

/// The monitor's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorAnswer {
    /// True when any window crossed a threshold: retrain.
    pub alert: bool,
    /// Each flagged window's findings, readable (`<version>: score PSI 0.41 > 0.25`).
    pub summary: Vec<String>,
    pub windows: Vec<WindowAnswer>,
}

/// Runs the monitor (see the module doc).
pub async fn monitor<C: GenericClient, Io: MonitorIo>(
    client: &C,
    io: &Io,
    config: &MonitorConfig,
    request: MonitorRequest,
) -> Result<MonitorAnswer, TrackError> {
    let (since, until) = (request.since, request.until);
    let store = MonitorStore::new(client);
    let versions = match &request.model_version {
        Some(v) => vec![v.clone()],
        None => store
            .versions(since, until)
            .await
            .map_err(TrackError::Store)?,
    };
    let started = Instant::now();
    let mut payments = Vec::new();
    for uri in &request.payments_uris {
        payments.extend(io.payments(uri).await.map_err(TrackError::Monitor)?);
    }
    tracing::info!(
        files = request.payments_uris.len(),
        payments = payments.len(),
        read_ms = ms(started),
        "monitor: payments read"
    );
    let mut windows = Vec::new();
    let mut summary = Vec::new();
    for version in versions {
        let artifact = io.artifact(&version).await.map_err(TrackError::Monitor)?;
        let window = monitor_version(client, io, config, &artifact, &request, &payments).await?;
        for finding in &window.monitor.verdict.findings {
            summary.push(format!("{version}: {finding}"));
        }
        windows.push(window);
    }
    Ok(MonitorAnswer {
        alert: windows.iter().any(|w| w.monitor.verdict.alert),
        summary,
        windows,
    })
}

async fn monitor_version<C: GenericClient, Io: MonitorIo>(
    client: &C,
    io: &Io,
    config: &MonitorConfig,
    artifact: &ModelArtifact,
    request: &MonitorRequest,
    payments: &[Transaction],
) -> Result<WindowAnswer, TrackError> {
    let (since, until) = (request.since, request.until);
    let version = artifact.version.as_str();
    let t = Instant::now();
    let quality = QualityStore::new(client)
        .compute(version, since, until)
        .await
        .map_err(TrackError::Store)?;
    let quality_ms = ms(t);
    let t = Instant::now();
    let scores = MonitorStore::new(client)
        .scores(version, since, until)
        .await
        .map_err(TrackError::Store)?;
    let scores_ms = ms(t);
    let t = Instant::now();
    let profile = artifact.training_profile.as_ref();
    let mut live = profile.map(LiveDistribution::new);
    if let (Some(live), Some(profile)) = (live.as_mut(), profile) {
        for s in &scores {
            live.observe_score(profile, s.probability);
        }
    }
    // Features of the window's payments, recomputed in time order over every payment
    // given (earlier ones warm the card histories); amounts for the cost.
    let mut cost_rows = (Vec::new(), Vec::new(), Vec::new());
    if !payments.is_empty() {
        let by_trans_num: HashMap<&str, usize> = scores
            .iter()
            .enumerate()
            .map(|(i, s)| (s.trans_num.as_str(), i))
            .collect();
        // The walk `featurize_in_time_order` makes, one payment at a time, so a window of
        // millions keeps no feature matrix.
        let mut order: Vec<usize> = (0..payments.len()).collect();
        order.sort_by_key(|&i| payments[i].event_time());
        let mut histories = CardHistories::default();
        let mut seen = vec![false; scores.len()];
        for tx in order.into_iter().map(|i| &payments[i]) {
            let f = &histories.observe(tx);
            let Some(&i) = by_trans_num.get(tx.trans_num.as_str()) else {
                continue;
            };
            if std::mem::replace(&mut seen[i], true) {
                continue; // the same payment in two files
            }
            if let (Some(live), Some(profile)) = (live.as_mut(), profile) {
                live.observe_features(profile, f);
            }
            if let Some(y) = scores[i].is_fraud {
                cost_rows.0.push(y);
                cost_rows.1.push(scores[i].probability);
                cost_rows.2.push(tx.amt);
            }
        }
    }
    let drift = live.zip(profile).map(|(live, p)| live.drift(p));
    let drift_ms = ms(t);
    let t = Instant::now();
    let cost = (!cost_rows.0.is_empty()).then(|| {
        artifact
            .policy
            .cost(&cost_rows.0, &cost_rows.1, &cost_rows.2)
    });
    let verdict = config.thresholds.assess(
        drift.as_ref(),
        quality.volume,
        quality.pr_auc,
        quality.frauds,
        artifact.metrics.test.pr_auc,
        &artifact.feature_importance,
    );
    let mut window = MonitorWindow {
        model_version: version.to_owned(),
        since,
        until,
        computed_at: quality.computed_at,
        volume: quality.volume,
        drift,
        cost,
        verdict,
        report_uri: None,
    };
    if request.report {
        let files = report_files(&window, &quality, &config.thresholds)
            .map_err(|e| TrackError::Monitor(format!("monitor report: {e}")))?;
        let stamp = |t: Option<DateTime<Utc>>| {
            t.map_or("open".to_owned(), |t| {
                t.format("%Y%m%dT%H%M%SZ").to_string()
            })
        };
        let prefix = format!("monitor/{version}/{}_{}", stamp(since), stamp(until));
        window.report_uri = io
            .put_report(&prefix, files)
            .await
            .map_err(TrackError::Monitor)?;
    }
    let report_ms = ms(t);
    let t = Instant::now();
    MonitorStore::new(client)
        .store(&window)
        .await
        .map_err(TrackError::Store)?;
    let store_ms = ms(t);
    let mut alert_message_id = None;
    if window.verdict.alert {
        let alert = MonitorAlert {
            kind: "model_monitor".into(),
            model_version: version.to_owned(),
            since: since.map(|t| t.to_rfc3339()),
            until: until.map(|t| t.to_rfc3339()),
            volume: window.volume,
            findings: window.verdict.findings.clone(),
            action: "retrain".into(),
            report_uri: window.report_uri.clone(),
        };
        alert_message_id = io.publish(&alert).await.map_err(TrackError::Monitor)?;
        tracing::warn!(model_version = %version, findings = ?window.verdict.findings, published = alert_message_id.is_some(), "model monitor: thresholds crossed, retrain");
    }
    tracing::info!(
        model_version = %version,
        volume = window.volume,
        score_psi = ?window.drift.as_ref().and_then(|d| d.score_psi),
        feature_rows = window.drift.as_ref().map_or(0, |d| d.feature_rows),
        pr_auc = ?quality.pr_auc,
        alert = window.verdict.alert,
        not_judged = ?window.verdict.not_judged,
        quality_ms,
        scores_ms,
        drift_ms,
        report_ms,
        store_ms,
        "model monitored"
    );
    Ok(WindowAnswer {
        test_pr_auc: artifact.metrics.test.pr_auc,
        quality,
        monitor: window,
        alert_message_id,
    })
}

/// Milliseconds since `t`.
fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// The window's report (page + PNGs) through `fraud-report`.
fn report_files(
    window: &MonitorWindow,
    quality: &ModelQuality,
    thresholds: &Thresholds,
) -> Result<Vec<fraud_report::ReportFile>, fraud_report::ReportError> {
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
    };
    fraud_report::monitor::build_monitor(&input)
}

/// The monitor's S3 and SNS, for the Lambda function.
pub struct AwsMonitorIo {
    pub s3: fraud_aws::S3Client,
    pub models: Option<fraud_aws::ModelStore>,
    pub sns: Option<(aws_sdk_sns::Client, String)>,
}

impl AwsMonitorIo {
    pub fn new(aws: &fraud_aws::SdkConfig, config: &MonitorConfig) -> AwsMonitorIo {
        let s3 = fraud_aws::s3_client(aws);
        AwsMonitorIo {
            models: config
                .models_bucket
                .as_ref()
                .map(|b| fraud_aws::ModelStore::new(s3.clone(), b)),
            s3,
            sns: config
                .alerts_topic_arn
                .as_ref()
                .map(|arn| (aws_sdk_sns::Client::new(aws), arn.clone())),
        }
    }
}

impl MonitorIo for AwsMonitorIo {
    async fn artifact(&self, version: &str) -> Result<ModelArtifact, String> {
        let models = self
            .models
            .as_ref()
            .ok_or("the monitor needs FRAUD_MODELS_BUCKET to read artifacts")?;
        models.load(version).await.map_err(|e| e.to_string())
    }

    async fn payments(&self, uri: &S3Uri) -> Result<Vec<Transaction>, String> {
        let bytes = fraud_aws::get_bytes(&self.s3, &uri.bucket, &uri.key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("`{uri}` does not exist"))?;
        let mut rejected = 0u64;
        let txs = fraud_core::csv_input::read_transactions(&bytes[..], |_| rejected += 1)
            .map_err(|e| format!("`{uri}`: {e}"))?;
        if rejected > 0 {
            tracing::warn!(%uri, rejected, "monitor: payments rows rejected");
        }
        Ok(txs)
    }

    async fn put_report(
        &self,
        prefix: &str,
        files: Vec<fraud_report::ReportFile>,
    ) -> Result<Option<String>, String> {
        let Some(models) = &self.models else {
            return Ok(None);
        };
        for file in files {
            let key = format!("{prefix}/{}", file.name);
            fraud_aws::put_bytes(
                &self.s3,
                models.bucket(),
                &key,
                file.bytes,
                file.content_type,
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok(Some(format!(
            "s3://{}/{prefix}/{}",
            models.bucket(),
            fraud_report::INDEX_FILE
        )))
    }

    async fn publish(&self, alert: &MonitorAlert) -> Result<Option<String>, String> {
        let Some((sns, topic)) = &self.sns else {
            return Ok(None);
        };
        let out = sns
            .publish()
            .topic_arn(topic)
            .subject(format!(
                "fraud model {} needs retraining",
                alert.model_version
            ))
            .message(serde_json::to_string(alert).expect("alerts serialize"))
            .send()
            .await
            .map_err(|e| format!("SNS publish to {topic}: {}", fraud_aws::describe(&e)))?;
        Ok(out.message_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-12-06T10:30:00.5Z".parse().unwrap()
    }

    #[test]
    fn the_window_defaults_to_the_configured_hours_before_now() {
        let r = MonitorRequest::from_event(json!({"action": "monitor"}), 24, now()).unwrap();
        assert_eq!(r.until, Some("2026-12-06T10:30:00Z".parse().unwrap()));
        assert_eq!(r.since, Some("2026-12-05T10:30:00Z".parse().unwrap()));
        assert!(r.report && r.payments_uris.is_empty() && r.model_version.is_none());
        let r = MonitorRequest::from_event(json!({"action": "monitor", "hours": 6}), 24, now())
            .unwrap();
        assert_eq!(r.since, Some("2026-12-06T04:30:00Z".parse().unwrap()));
    }

    #[test]
    fn bad_monitor_events_name_the_field() {
        for (event, expected) in [
            (
                json!({"action": "monitor", "since": "yesterday"}),
                "field `since`",
            ),
            (json!({"action": "monitor", "hours": 0}), "`hours`"),
            (
                json!({"action": "monitor", "hours": 2, "until": "2026-12-06T00:00:00Z"}),
                "not both",
            ),
            (
                json!({"action": "monitor", "payments_uris": ["http://x"]}),
                "payments_uris",
            ),
            (
                json!({"action": "monitor", "model_version": " "}),
                "model_version",
            ),
            (
                json!({"action": "monitor", "windw": 1}),
                "unknown field `windw`",
            ),
        ] {
            let err = MonitorRequest::from_event(event, 24, now())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "expected `{expected}`: {err}");
        }
    }

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
