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
