//! Scoring: one transaction in, a probability and a decision out, with the card's
//! history updated through the shared feature pipeline.

use serde::{Deserialize, Serialize};

use crate::artifact::ModelArtifact;
use crate::features::CardHistories;
use crate::schema::Transaction;

/// What to do with a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Below the threshold.
    Approve,
    /// At or above the threshold: alert.
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Block => "block",
        }
    }
}

/// The result of scoring one payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub trans_num: String,
    pub cc_num: u64,
    pub amt: f64,
    pub probability: f64,
    pub decision: Decision,
    pub model_version: String,
}

/// Scores payments one by one, keeping per-card history in memory.
pub struct Scorer<'a> {
    artifact: &'a ModelArtifact,
    histories: CardHistories,
}

impl<'a> Scorer<'a> {
    pub fn new(artifact: &'a ModelArtifact) -> Self {
        Scorer {
            artifact,
            histories: CardHistories::default(),
        }
    }

    /// Starts from histories loaded elsewhere (a state store).
    pub fn with_histories(artifact: &'a ModelArtifact, histories: CardHistories) -> Self {
        Scorer {
            artifact,
            histories,
        }
    }

    /// Scores `tx` and adds it to its card's history.
    pub fn score(&mut self, tx: &Transaction) -> Score {
        let features = self.histories.observe(tx);
        let probability = self.artifact.score(&features);
        Score {
            trans_num: tx.trans_num.clone(),
            cc_num: tx.cc_num,
            amt: tx.amt,
            probability,
            decision: decide(probability, self.artifact.threshold),
            model_version: self.artifact.version.clone(),
        }
    }

    /// The histories, for saving to a state store.
    pub fn into_histories(self) -> CardHistories {
        self.histories
    }
}

/// The decision for a probability at a threshold.
pub fn decide(probability: f64, threshold: f64) -> Decision {
    if probability >= threshold {
        Decision::Block
    } else {
        Decision::Approve
    }
}

/// An alert for a blocked payment: what the notify function pushes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub trans_num: String,
    pub cc_num: u64,
    pub amt: f64,
    pub merchant: String,
    pub category: String,
    /// Event time of the payment, `YYYY-MM-DD HH:MM:SS`.
    pub trans_date_trans_time: String,
    pub probability: f64,
    pub threshold: f64,
    pub model_version: String,
    /// When the payment entered the pipeline (published to Kafka by ingest), epoch ms;
    /// lets the receiver measure ingest → alert latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at_ms: Option<i64>,
}

/// Largest alert message accepted, in bytes (an alert is about 300 bytes; SQS itself
/// caps messages at 256 KiB).
pub const MAX_ALERT_BYTES: usize = 256 * 1024;

/// Why a message is not an alert.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertError {
    #[error("alert of {len} bytes exceeds the limit of {max}")]
    Oversize { len: usize, max: usize },
    #[error("invalid alert JSON: {0}")]
    Malformed(String),
}

impl Alert {
    /// Parses an alert message (the SQS body notify receives).
    pub fn from_json(body: &str) -> Result<Self, AlertError> {
        if body.len() > MAX_ALERT_BYTES {
            return Err(AlertError::Oversize {
                len: body.len(),
                max: MAX_ALERT_BYTES,
            });
        }
        serde_json::from_str(body).map_err(|e| AlertError::Malformed(e.to_string()))
    }

    /// The alert for a scored payment.
    pub fn new(tx: &Transaction, score: &Score, threshold: f64) -> Self {
        Alert {
            trans_num: tx.trans_num.clone(),
            cc_num: tx.cc_num,
            amt: tx.amt,
            merchant: tx.merchant.clone(),
            category: tx.category.as_str().to_owned(),
            trans_date_trans_time: tx
                .trans_date_trans_time
                .format(crate::schema::DATETIME_FORMAT)
                .to_string(),
            probability: score.probability,
            threshold,
            model_version: score.model_version.clone(),
            published_at_ms: None,
        }
    }
}
