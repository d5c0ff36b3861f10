//! The scored-transaction ledger: what makes the score function idempotent.
//!
//! Kafka delivers at least once, so a batch can arrive twice. Before acting on a batch
//! the score function [`claim`](ScoredLedger::claim)s its transactions: the insert
//! skips every `trans_num` already in the ledger and returns only the new ones, which
//! are the only ones to count, alert on and add to card history.
//!
//! Claim inside the same transaction as [`CardStateStore::save`](crate::CardStateStore::save)
//! (both accept a `tokio_postgres::Transaction`) so that the ledger and the card state
//! commit or roll back together.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use fraud_core::scoring::Outcome;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use crate::{cc_num_text, DbError};

pub use fraud_pipeline::score::{LedgerEntry, ScoredTransaction};

/// The ledger, over a connection or a transaction.
pub struct ScoredLedger<'a, C: GenericClient> {
    client: &'a C,
}

impl<'a, C: GenericClient> ScoredLedger<'a, C> {
    pub fn new(client: &'a C) -> Self {
        ScoredLedger { client }
    }

    /// Records the rows and returns the `trans_num`s that were not in the ledger yet,
    /// in input order, each once. One statement, whatever the batch size, sent with its
    /// parameter types (no separate prepare round trip).
    pub async fn claim(&self, rows: &[ScoredTransaction]) -> Result<Vec<String>, DbError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let trans_nums: Vec<&str> = rows.iter().map(|r| r.trans_num.as_str()).collect();
        let cc_nums: Vec<String> = rows.iter().map(|r| cc_num_text(r.cc_num)).collect();
        let event_times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.event_time).collect();
        let probabilities: Vec<f64> = rows.iter().map(|r| r.probability).collect();
        let decisions: Vec<&str> = rows.iter().map(|r| r.decision.as_str()).collect();
        let versions: Vec<&str> = rows.iter().map(|r| r.model_version.as_str()).collect();
        let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
        let labels: Vec<Option<bool>> = rows.iter().map(|r| r.is_fraud).collect();
        let inserted: HashSet<String> = self
            .client
            .query_typed(
                "INSERT INTO scored_transactions
                     (trans_num, cc_num, event_time, probability, decision, model_version, outcome,
                      is_fraud)
                 SELECT trans_num, cc_num::numeric, event_time, probability, decision, model_version,
                        outcome, is_fraud
                 FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::float8[],
                             $5::text[], $6::text[], $7::text[], $8::bool[])
                      AS batch(trans_num, cc_num, event_time, probability, decision, model_version,
                               outcome, is_fraud)
                 ON CONFLICT (trans_num) DO NOTHING
                 RETURNING trans_num",
                &[
                    (&trans_nums, Type::TEXT_ARRAY),
                    (&cc_nums, Type::TEXT_ARRAY),
                    (&event_times, Type::TIMESTAMPTZ_ARRAY),
                    (&probabilities, Type::FLOAT8_ARRAY),
                    (&decisions, Type::TEXT_ARRAY),
                    (&versions, Type::TEXT_ARRAY),
                    (&outcomes, Type::TEXT_ARRAY),
                    (&labels, Type::BOOL_ARRAY),
                ],
            )
            .await
            .map_err(DbError::query("claim scored_transactions"))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        // RETURNING has no defined order; give the caller the batch's order.
        let mut seen = HashSet::with_capacity(inserted.len());
        Ok(rows
            .iter()
            .filter(|r| inserted.contains(&r.trans_num) && seen.insert(r.trans_num.as_str()))
            .map(|r| r.trans_num.clone())
            .collect())
    }

    /// Records one payment decided by the decision API, with the answer given (JSON),
    /// marked for the stream to write its scored record and alert when the payment
    /// arrives there. Returns false when the `trans_num` was already in the ledger
    /// (nothing is written then).
    pub async fn claim_decision(
        &self,
        row: &ScoredTransaction,
        answer_json: &str,
    ) -> Result<bool, DbError> {
        let inserted = self
            .client
            .execute_typed(
                "INSERT INTO scored_transactions
                     (trans_num, cc_num, event_time, probability, decision, model_version,
                      outcome, is_fraud, via, answer, emitted)
                 VALUES ($1, $2::text::numeric, $3, $4, $5, $6, $7, $9, 'decide', $8::text::jsonb, false)
                 ON CONFLICT (trans_num) DO NOTHING",
                &[
                    (&row.trans_num, Type::TEXT),
                    (&cc_num_text(row.cc_num), Type::TEXT),
                    (&row.event_time, Type::TIMESTAMPTZ),
                    (&row.probability, Type::FLOAT8),
                    (&row.decision.as_str(), Type::TEXT),
                    (&row.model_version, Type::TEXT),
                    (&row.outcome.as_str(), Type::TEXT),
                    (&answer_json, Type::TEXT),
                    (&row.is_fraud, Type::BOOL),
                ],
            )
            .await
            .map_err(DbError::query("claim a decision in scored_transactions"))?;
        Ok(inserted == 1)
    }

    /// What the ledger holds for `trans_num`, if it was decided or scored before.
    pub async fn entry(&self, trans_num: &str) -> Result<Option<LedgerEntry>, DbError> {
        let row = self
            .client
            .query_typed(
                "SELECT probability, coalesce(outcome, decision), model_version, via, answer::text, scored_at
                 FROM scored_transactions WHERE trans_num = $1",
                &[(&trans_num, Type::TEXT)],
            )
            .await
            .map_err(DbError::query("read scored_transactions"))?;
        Ok(row.first().map(|row| LedgerEntry {
            probability: row.get(0),
            outcome: match row.get::<_, &str>(1) {
                "approve" => Outcome::Approve,
                "review" => Outcome::Review,
                _ => Outcome::Block,
            },
            model_version: row.get(2),
            via: row.get(3),
            answer: row.get(4),
            scored_at: row.get(5),
        }))
    }

    /// Of `trans_nums` (already in the ledger), the ones decided by the decision API
    /// whose scored record and alert are still to be written: marks them written (so
    /// commit only after writing them) and returns each one's answer (JSON).
    pub async fn take_undelivered_decisions(
        &self,
        trans_nums: &[&str],
    ) -> Result<Vec<(String, String)>, DbError> {
        if trans_nums.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .client
            .query_typed(
                "UPDATE scored_transactions SET emitted = true
                 WHERE trans_num = ANY($1) AND NOT emitted AND answer IS NOT NULL
                 RETURNING trans_num, answer::text",
                &[(&trans_nums, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(DbError::query("take undelivered decisions"))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    }

    /// Number of transactions in the ledger.
    pub async fn count(&self) -> Result<u64, DbError> {
        let count: i64 = self
            .client
            .query_one("SELECT count(*) FROM scored_transactions", &[])
            .await
            .map_err(DbError::query("count scored_transactions"))?
            .get(0);
        Ok(count.unsigned_abs())
    }
}
