//! What monitoring keeps: later labels (chargebacks, analysts' verdicts) and a model
//! version's live quality measured against them. The PostgreSQL adapter stores them;
//! the track use case ([`crate::track::labels`]) reads and answers with them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One later label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub trans_num: String,
    pub is_fraud: bool,
    /// When the truth was established (the chargeback's or the verdict's date).
    pub labelled_at: DateTime<Utc>,
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
