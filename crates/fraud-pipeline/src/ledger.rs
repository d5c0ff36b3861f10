//! The scored-transaction ledger's row, typed once: what the score use case claims, what
//! the database keeps (`fraud_db::ScoredLedger`), what the monitor and live quality read.

use chrono::{DateTime, Utc};
use fraud_core::scoring::{Decision, Outcome, Score};
use fraud_core::Transaction;

/// One scored payment as the ledger keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredTransaction {
    pub trans_num: String,
    pub cc_num: u64,
    /// When the payment happened (the transaction's `trans_date_trans_time`, as UTC).
    pub event_time: DateTime<Utc>,
    pub probability: f64,
    pub decision: Decision,
    pub model_version: String,
    /// approve / review / block, after the rules.
    pub outcome: Outcome,
    /// The label the payment carried (the payments API's `is_fraud`), if any: the
    /// first truth live quality is measured against.
    pub is_fraud: Option<bool>,
}

impl ScoredTransaction {
    /// The ledger row of a score; `event_time` is
    /// `transaction.trans_date_trans_time.and_utc()`.
    pub fn new(score: &Score, event_time: DateTime<Utc>) -> ScoredTransaction {
        ScoredTransaction {
            trans_num: score.trans_num.clone(),
            cc_num: score.cc_num,
            event_time,
            probability: score.probability,
            decision: score.decision,
            model_version: score.model_version.clone(),
            outcome: score.outcome,
            is_fraud: None,
        }
    }

    /// The same row with the label the payment carried (`transaction.is_fraud`).
    pub fn labelled(self, is_fraud: Option<bool>) -> ScoredTransaction {
        ScoredTransaction { is_fraud, ..self }
    }

    /// The ledger row of a scored payment, with the label it carried.
    pub fn of(tx: &Transaction, score: &Score) -> ScoredTransaction {
        ScoredTransaction::new(score, tx.trans_date_trans_time.and_utc()).labelled(tx.is_fraud)
    }
}

/// What the ledger holds for a `trans_num` already decided.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub probability: f64,
    /// approve / review / block (for rows written before outcomes were kept: the
    /// alert decision, approve or block).
    pub outcome: Outcome,
    pub model_version: String,
    /// `stream` or `decide`.
    pub via: String,
    /// The decision API's answer (JSON), for payments it decided.
    pub answer: Option<String>,
    pub scored_at: DateTime<Utc>,
}
