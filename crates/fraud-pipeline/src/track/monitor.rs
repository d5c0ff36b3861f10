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
//! - **Counts, rates and label figures** are the store's live quality
//!   ([`TrackingStore::quality`], the same code as `{"action": "quality"}`; stored in
//!   `model_quality`); PR-AUC, precision, recall, F1 and
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
//!   (files, or prefixes ending in `/` read as every object under them in key order; in
//!   production the score function's payments archive,
//!   `s3://<results bucket>/payments/dt=<day>/`, one CSV per scored batch). Per-card features look 30 days back, so the files should start 30
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
//!   true), the report ([`MonitorReports`]: the track function draws it with
//!   `fraud-report` and stores `monitor/<version>/<since>_<until>/index.html` + PNGs in the
//!   models bucket, PSI per feature, the score histogram now vs training, and the live
//!   metrics over time: PR-AUC, score PSI and alert rate of the version's newest
//!   [`HISTORY_WINDOWS`] windows, this one included, read back from `model_monitor` and
//!   `model_quality`); when flagged, a [`MonitorAlert`] published ([`MonitorAlerts`]:
//!   SNS, when a topic is set), and `"alert": true` in the answer (the Airflow DAG
//!   retrains on it) either way.
//! - **MLflow** (when the mirror is configured, [`MonitorMirror`]): the window's figures
//!   as `monitor_*` metrics ([`MonitorMetrics`]) on the MLflow run that mirrors the
//!   version's training run. That is where an MLflow user looks for a model's numbers:
//!   the run's test metrics and its live ones side by side, one chart per metric over
//!   time, the same way MLflow's own monitoring examples log evaluation windows onto the
//!   model's run. Each point's timestamp is the window's end and its step the window's
//!   end in epoch seconds: stable under retries (MLflow drops an identical point), in
//!   time order whatever order windows are computed in, and the newest window is the
//!   metric's latest value. A figure the window lacks (no labels, no training
//!   distribution) is not logged rather than logged as 0. The run is mirrored first if
//!   it is not there yet; a version with no recorded training run is skipped. A mirror
//!   failure never fails the monitor: the window's answer says `failed: …` under
//!   `mlflow` and it is logged, as for runs.
//!
//! The ports: the run log's store ([`TrackingStore`]: quality, the window's versions and
//! scores, the stored window), the payments files ([`ObjectSource`]), the artifacts
//! ([`ArtifactSource`]), the reports and the alerts.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use fraud_core::drift::{LiveDistribution, MonitorAlert, Thresholds};
use fraud_core::{CardHistories, ModelArtifact, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::TrackError;
use super::labels::event_time;
use crate::monitoring::{
    history_series, ModelQuality, MonitorMetrics, MonitorPoint, MonitorWindow, HISTORY_WINDOWS,
};
use crate::ports::{
    ArtifactSource, MonitorAlerts, MonitorMirror, MonitorReports, ObjectSource, TrackingStore,
    WindowReport,
};

/// `{"action": "monitor", …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorRequest {
    pub model_version: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The payments files (`s3://bucket/key`) and prefixes (`s3://bucket/prefix/`,
    /// every object under it), checked.
    pub payments_uris: Vec<String>,
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
        super::payments::check_uris("payments_uris", &event.payments_uris, false).map_err(bad)?;
        let payments_uris = event.payments_uris;
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

/// What the monitor reads and writes besides the store: the payments files, the
/// artifacts (none without a models bucket: then a window cannot be judged), the reports,
/// the alerts, and the MLflow mirror (none when not configured).
pub struct MonitorPorts<'a, O, M, R, A, X> {
    pub payments: &'a O,
    pub artifacts: Option<&'a M>,
    pub reports: &'a R,
    pub alerts: &'a A,
    pub mirror: Option<&'a X>,
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
    /// With an MLflow mirror: `logged <n> metrics on run <mlflow run id>`, `skipped: …`
    /// or `failed: …` (the window is stored either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow: Option<String>,
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
pub async fn monitor<S, O, M, R, A, X>(
    store: &S,
    io: &MonitorPorts<'_, O, M, R, A, X>,
    thresholds: &Thresholds,
    request: MonitorRequest,
) -> Result<MonitorAnswer, TrackError<S::Error>>
where
    S: TrackingStore,
    O: ObjectSource,
    M: ArtifactSource,
    R: MonitorReports,
    A: MonitorAlerts,
    X: MonitorMirror,
{
    let (since, until) = (request.since, request.until);
    let versions = match &request.model_version {
        Some(v) => vec![v.clone()],
        None => store
            .monitored_versions(since, until)
            .await
            .map_err(TrackError::Store)?,
    };
    let started = Instant::now();
    let files = super::payments::expand_uris(io.payments, "payments_uris", &request.payments_uris)
        .await
        .map_err(TrackError::Monitor)?;
    let mut payments = Vec::new();
    for uri in &files {
        let (txs, _refused) = super::payments::read_payments(io.payments, uri)
            .await
            .map_err(TrackError::Monitor)?;
        payments.extend(txs);
    }
    tracing::info!(
        files = files.len(),
        payments = payments.len(),
        read_ms = ms(started),
        "monitor: payments read"
    );
    let mut windows = Vec::new();
    let mut summary = Vec::new();
    for version in versions {
        let artifacts = io.artifacts.ok_or_else(|| {
            TrackError::Monitor("the monitor needs FRAUD_MODELS_BUCKET to read artifacts".into())
        })?;
        let artifact = artifacts
            .load(&version)
            .await
            .map_err(|e| TrackError::Monitor(e.to_string()))?;
        let window = monitor_version(store, io, thresholds, &artifact, &request, &payments).await?;
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

async fn monitor_version<S, O, M, R, A, X>(
    store: &S,
    io: &MonitorPorts<'_, O, M, R, A, X>,
    thresholds: &Thresholds,
    artifact: &ModelArtifact,
    request: &MonitorRequest,
    payments: &[Transaction],
) -> Result<WindowAnswer, TrackError<S::Error>>
where
    S: TrackingStore,
    R: MonitorReports,
    A: MonitorAlerts,
    X: MonitorMirror,
{
    let (since, until) = (request.since, request.until);
    let version = artifact.version.as_str();
    let t = Instant::now();
    let quality = store
        .quality(version, since, until)
        .await
        .map_err(TrackError::Store)?;
    let quality_ms = ms(t);
    let t = Instant::now();
    let scores = store
        .window_scores(version, since, until)
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
    let verdict = thresholds.assess(
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
        let stamp = |t: Option<DateTime<Utc>>| {
            t.map_or("open".to_owned(), |t| {
                t.format("%Y%m%dT%H%M%SZ").to_string()
            })
        };
        let prefix = format!("monitor/{version}/{}_{}", stamp(since), stamp(until));
        let earlier = store
            .monitor_history(version, HISTORY_WINDOWS)
            .await
            .map_err(TrackError::Store)?;
        let history = history_series(
            earlier,
            MonitorPoint::of(&window, &quality),
            HISTORY_WINDOWS,
        );
        window.report_uri = io
            .reports
            .write(
                &prefix,
                &WindowReport {
                    window: &window,
                    quality: &quality,
                    thresholds,
                    test_pr_auc: artifact.metrics.test.pr_auc,
                    history: &history,
                },
            )
            .await
            .map_err(|e| TrackError::Monitor(e.to_string()))?;
    }
    let report_ms = ms(t);
    let t = Instant::now();
    store
        .store_window(&window)
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
        alert_message_id = io
            .alerts
            .publish(&alert)
            .await
            .map_err(|e| TrackError::Monitor(e.to_string()))?;
        tracing::warn!(model_version = %version, findings = ?window.verdict.findings, published = alert_message_id.is_some(), "model monitor: thresholds crossed, retrain");
    }
    let t = Instant::now();
    let mlflow = match io.mirror {
        Some(mirror) => Some(mirror_window(store, mirror, &window, &quality).await),
        None => None,
    };
    let mlflow_ms = ms(t);
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
        mlflow_ms,
        mlflow = ?mlflow,
        "model monitored"
    );
    Ok(WindowAnswer {
        test_pr_auc: artifact.metrics.test.pr_auc,
        quality,
        monitor: window,
        alert_message_id,
        mlflow,
    })
}

/// Logs the window's metrics on the MLflow run of its version's training run; what
/// happened, as the answer says it (never an error: the mirror is best effort).
async fn mirror_window<S: TrackingStore, X: MonitorMirror>(
    store: &S,
    mirror: &X,
    window: &MonitorWindow,
    quality: &ModelQuality,
) -> String {
    let version = window.model_version.as_str();
    let run = match store.run_by_version(version).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            tracing::warn!(model_version = %version, "monitor: no training run recorded for this version, metrics not mirrored to MLflow");
            return format!(
                "skipped: no training run recorded for `{version}` (the metrics go on its MLflow run)"
            );
        }
        Err(e) => {
            tracing::warn!(model_version = %version, error = %e, "monitor: training run not read, metrics not mirrored to MLflow");
            return format!("failed: reading the training run: {e}");
        }
    };
    let metrics = MonitorMetrics::of(window, quality);
    match mirror.log_window(&run, &metrics).await {
        Ok(id) => format!("logged {} metrics on run {id}", metrics.values.len()),
        Err(e) => {
            tracing::warn!(model_version = %version, error = %e, "monitor: window stored, MLflow mirror failed; monitoring the window again mirrors it");
            format!("failed: {e}")
        }
    }
}

/// Milliseconds since `t`.
fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
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
}
