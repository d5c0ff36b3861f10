//! What monitoring keeps: later labels (chargebacks, analysts' verdicts), a model
//! version's live quality measured against them, and the model monitor's windows (drift
//! and verdict). The PostgreSQL adapter stores them; the track use case
//! ([`crate::track::labels`], [`crate::track::monitor`]) reads and answers with them.

use chrono::{DateTime, Utc};
use fraud_core::calibration::CostReport;
use fraud_core::drift::{Drift, Verdict};
use serde::{Deserialize, Serialize};

/// One later label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub trans_num: String,
    pub is_fraud: bool,
    /// When the truth was established (the chargeback's or the verdict's date).
    pub labelled_at: DateTime<Utc>,
}

/// The labels the ledger and the `labels` table hold for one payment (training on what
/// was scored, [`crate::track::training_data`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownLabel {
    /// The later label (`labels`), which overrides the carried one.
    pub later: Option<bool>,
    /// The label the payment carried when it was scored (`scored_transactions.is_fraud`).
    pub carried: Option<bool>,
}

/// A label refused because the payment already has the other one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelConflict {
    pub trans_num: String,
    /// The label that stays.
    pub kept: bool,
    /// The label that was refused.
    pub refused: bool,
}

/// What happened to each label of a batch (counts are of rows, lists in batch order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelReport {
    pub received: u64,
    pub recorded: u64,
    pub duplicates: u64,
    pub conflicts: Vec<LabelConflict>,
    /// `trans_num`s not in the ledger (never scored), refused.
    pub unknown: Vec<String>,
}

/// One model version's live quality over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelQuality {
    pub model_version: String,
    /// Inclusive lower bound of the payments' event time; `None`: from the first.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound; `None`: up to the last.
    pub until: Option<DateTime<Utc>>,
    pub computed_at: DateTime<Utc>,
    pub volume: u64,
    pub labelled: u64,
    pub frauds: u64,
    pub alerts: u64,
    pub blocks: u64,
    pub alert_rate: Option<f64>,
    pub block_rate: Option<f64>,
    pub pr_auc: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

/// One scored payment of a window: what PSI of the score and the cost need.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowScore {
    pub trans_num: String,
    pub probability: f64,
    /// The later label if any, else the one the payment carried.
    pub is_fraud: Option<bool>,
}

/// One model version's drift figures and verdict over one window, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorWindow {
    pub model_version: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub computed_at: DateTime<Utc>,
    pub volume: u64,
    /// `None` when the artifact has no training distribution.
    pub drift: Option<Drift>,
    /// Cost at the model's thresholds over the labelled payments whose amount is known.
    pub cost: Option<CostReport>,
    pub verdict: Verdict,
    pub report_uri: Option<String>,
}

/// How many monitored windows of a version the report's "live metrics over time" figure
/// shows (the newest, the window being reported included).
pub const HISTORY_WINDOWS: usize = 60;

/// One monitored window as the report's "live metrics over time" figure plots it: the
/// stored drift figures (`model_monitor`) beside the live quality of the same window
/// (`model_quality`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorPoint {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub computed_at: DateTime<Utc>,
    pub volume: u64,
    pub score_psi: Option<f64>,
    pub max_feature_psi: Option<f64>,
    /// `None` without labels in the window.
    pub pr_auc: Option<f64>,
    pub alert_rate: Option<f64>,
    /// Whether the window crossed a threshold.
    pub alert: bool,
}

impl MonitorPoint {
    /// The point of a window just computed.
    pub fn of(window: &MonitorWindow, quality: &ModelQuality) -> MonitorPoint {
        let drift = window.drift.as_ref();
        MonitorPoint {
            since: window.since,
            until: window.until,
            computed_at: window.computed_at,
            volume: window.volume,
            score_psi: drift.and_then(|d| d.score_psi),
            max_feature_psi: drift.and_then(|d| d.features.iter().map(|f| f.psi).reduce(f64::max)),
            pr_auc: quality.pr_auc,
            alert_rate: quality.alert_rate,
            alert: window.verdict.alert,
        }
    }

    /// Where the window sits in time: its end, or when it was computed for a window open
    /// at the end (everything scored up to then).
    pub fn end(&self) -> DateTime<Utc> {
        self.until.unwrap_or(self.computed_at)
    }
}

/// The series the "live metrics over time" figure draws: the `earlier` stored windows
/// (any order; the current window among them when it is being recomputed: the stored
/// copy is replaced) and the `current` one, in order of window end, the newest `limit`.
pub fn history_series(
    earlier: Vec<MonitorPoint>,
    current: MonitorPoint,
    limit: usize,
) -> Vec<MonitorPoint> {
    let mut points: Vec<MonitorPoint> = earlier
        .into_iter()
        .filter(|p| (p.since, p.until) != (current.since, current.until))
        .collect();
    points.push(current);
    points.sort_by_key(|p| (p.end(), p.since));
    let extra = points.len().saturating_sub(limit.max(1));
    points.drain(..extra);
    points
}

/// A monitored window's figures as metrics for the MLflow mirror: `monitor_*` keys, each
/// present only when the window has it (no labels: no `monitor_pr_auc`, never a 0 that
/// would read as a measured collapse), logged at the window's end.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorMetrics {
    pub model_version: String,
    /// The window's end ([`MonitorPoint::end`]): the metrics' time and step.
    pub window_end: DateTime<Utc>,
    /// (key, value), finite values only.
    pub values: Vec<(&'static str, f64)>,
}

impl MonitorMetrics {
    /// The metrics of a window just computed.
    pub fn of(window: &MonitorWindow, quality: &ModelQuality) -> MonitorMetrics {
        let point = MonitorPoint::of(window, quality);
        let candidates = [
            ("monitor_volume", Some(window.volume as f64)),
            ("monitor_alert_rate", quality.alert_rate),
            ("monitor_block_rate", quality.block_rate),
            ("monitor_score_psi", point.score_psi),
            ("monitor_max_feature_psi", point.max_feature_psi),
            ("monitor_pr_auc", quality.pr_auc),
            ("monitor_precision", quality.precision),
            ("monitor_recall", quality.recall),
            ("monitor_f1", quality.f1),
            ("monitor_cost", window.cost.as_ref().map(|c| c.total_cost)),
            (
                "monitor_alert",
                Some(if window.verdict.alert { 1.0 } else { 0.0 }),
            ),
        ];
        MonitorMetrics {
            model_version: window.model_version.clone(),
            window_end: point.end(),
            values: candidates
                .into_iter()
                .filter_map(|(k, v)| v.filter(|v| v.is_finite()).map(|v| (k, v)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraud_core::drift::{FeaturePsi, Verdict};

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-11-{day:02}T00:00:00Z").parse().unwrap()
    }

    fn point(since: u32, until: u32, score_psi: f64) -> MonitorPoint {
        MonitorPoint {
            since: Some(at(since)),
            until: Some(at(until)),
            computed_at: at(28),
            volume: 10,
            score_psi: Some(score_psi),
            max_feature_psi: None,
            pr_auc: None,
            alert_rate: None,
            alert: false,
        }
    }

    #[test]
    fn history_is_ordered_by_window_end_with_the_current_window_replacing_its_stored_copy() {
        let earlier = vec![point(3, 4, 0.3), point(1, 2, 0.1), point(2, 3, 0.2)];
        let series = history_series(earlier, point(2, 3, 0.9), 60);
        let psi: Vec<f64> = series.iter().map(|p| p.score_psi.unwrap()).collect();
        assert_eq!(psi, [0.1, 0.9, 0.3]);
        let only = history_series(vec![], point(5, 6, 0.4), 60);
        assert_eq!(only.len(), 1, "a first window is a single point");
    }

    #[test]
    fn history_keeps_the_newest_windows() {
        let earlier = (1..20).map(|d| point(d, d + 1, f64::from(d))).collect();
        let series = history_series(earlier, point(20, 21, 20.0), 5);
        let psi: Vec<f64> = series.iter().map(|p| p.score_psi.unwrap()).collect();
        assert_eq!(psi, [16.0, 17.0, 18.0, 19.0, 20.0]);
    }

    #[test]
    fn monitor_metrics_skip_what_the_window_does_not_have() {
        let mut window = MonitorWindow {
            model_version: "v1".into(),
            since: Some(at(1)),
            until: None,
            computed_at: at(9),
            volume: 1200,
            drift: Some(Drift {
                score_psi: Some(0.31),
                score_bins: vec![],
                score_training_shares: vec![],
                score_live_shares: vec![],
                feature_rows: 1200,
                features: vec![
                    FeaturePsi {
                        feature: "amt".into(),
                        psi: 0.4,
                    },
                    FeaturePsi {
                        feature: "hour".into(),
                        psi: 0.02,
                    },
                ],
            }),
            cost: None,
            verdict: Verdict {
                alert: true,
                findings: vec![],
                not_judged: vec![],
            },
            report_uri: None,
        };
        let quality = ModelQuality {
            model_version: "v1".into(),
            since: window.since,
            until: None,
            computed_at: at(9),
            volume: 1200,
            labelled: 0,
            frauds: 0,
            alerts: 12,
            blocks: 3,
            alert_rate: Some(0.01),
            block_rate: Some(0.0025),
            pr_auc: None,
            precision: None,
            recall: None,
            f1: None,
        };
        let m = MonitorMetrics::of(&window, &quality);
        assert_eq!(m.window_end, at(9), "an open window ends when computed");
        assert_eq!(
            m.values,
            [
                ("monitor_volume", 1200.0),
                ("monitor_alert_rate", 0.01),
                ("monitor_block_rate", 0.0025),
                ("monitor_score_psi", 0.31),
                ("monitor_max_feature_psi", 0.4),
                ("monitor_alert", 1.0),
            ]
        );
        window.drift = None;
        let m = MonitorMetrics::of(&window, &quality);
        assert!(!m.values.iter().any(|(k, _)| k.contains("psi")), "{m:?}");
    }
}
