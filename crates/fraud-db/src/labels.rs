//! Labels in: the truth live quality is measured against.
//!
//! Two sources, both keyed on `trans_num`:
//!
//! - **The payments API's label.** A payment that carries `is_fraud` has it written with
//!   its result in `scored_transactions.is_fraud` by the score function's ledger claim
//!   ([`ScoredTransaction::labelled`](crate::ScoredTransaction::labelled)); the ledger is
//!   idempotent on `trans_num`, so a redelivery cannot change it.
//! - **Later truth** (chargebacks, analyst verdicts): batches of [`Label`]s recorded
//!   here, in the `labels` table, by [`LabelStore::record`]. For live quality a later
//!   label overrides the API's (it is the later, investigated truth).
//!
//! The policy for a batch of later labels, each row given exactly one answer
//! ([`LabelReport`]; `received = recorded + duplicates + conflicts + unknown`):
//!
//! - **recorded**: a new label for a scored payment; stored with its source.
//! - **duplicate**: the payment already has this same label (a retried batch, or the same
//!   row twice in one batch): nothing changes, so sending a batch again is harmless.
//! - **conflict**: the payment already has the *other* label (stored earlier, or earlier
//!   in the same batch). Refused: the first label stays and the answer lists the
//!   `trans_num` with both values, for someone to look at. Labels are never silently
//!   overwritten; correcting one is a deliberate act in the database, not a side effect
//!   of a resend whose rows arrive in another order.
//! - **unknown**: the `trans_num` is not in `scored_transactions`. Refused and listed: a
//!   label for a payment we never scored says nothing about the model (there is no score
//!   to compare it with), and keeping it would let a typo or another system's ids pass
//!   unnoticed. Send it again once the payment has been scored.
//!
//! Malformed rows (a missing field, a bad time) never reach this module: the caller
//! refuses them one by one (the track function names the row, field and value).
//!
//! Training on what was scored reads both back ([`LabelStore::known`]: one
//! `… FROM UNNEST($1) LEFT JOIN labels LEFT JOIN scored_transactions` per chunk of
//! `trans_num`s).
//!
//! Two round trips per batch, whatever its size: one `INSERT … SELECT … FROM UNNEST`
//! (the first row of each `trans_num` in the batch, for scored payments only,
//! `ON CONFLICT DO NOTHING`), then one read of the labels now kept for the batch's
//! `trans_num`s. Labels are never updated, so the read sees what the insert settled,
//! also when two batches race.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use crate::DbError;

pub use fraud_pipeline::monitoring::{KnownLabel, Label, LabelConflict, LabelReport};

/// The later labels, over a connection or a transaction.
pub struct LabelStore<'a, C: GenericClient> {
    client: &'a C,
}

impl<'a, C: GenericClient> LabelStore<'a, C> {
    pub fn new(client: &'a C) -> Self {
        LabelStore { client }
    }

    /// Records `labels` from `source` (e.g. `chargebacks`) as the module doc says and
    /// reports each row's fate.
    pub async fn record(&self, labels: &[Label], source: &str) -> Result<LabelReport, DbError> {
        let mut report = LabelReport {
            received: labels.len() as u64,
            ..LabelReport::default()
        };
        if labels.is_empty() {
            return Ok(report);
        }
        // The first row of each trans_num is the batch's candidate; later rows of the
        // same trans_num are duplicates or conflicts of whatever is kept.
        let mut seen = HashSet::new();
        let firsts: Vec<&Label> = labels
            .iter()
            .filter(|l| seen.insert(l.trans_num.as_str()))
            .collect();
        let trans_nums: Vec<&str> = firsts.iter().map(|l| l.trans_num.as_str()).collect();
        let values: Vec<bool> = firsts.iter().map(|l| l.is_fraud).collect();
        let times: Vec<DateTime<Utc>> = firsts.iter().map(|l| l.labelled_at).collect();
        let inserted: HashSet<String> = self
            .client
            .query_typed(
                "INSERT INTO labels (trans_num, is_fraud, labelled_at, source)
                 SELECT b.trans_num, b.is_fraud, b.labelled_at, $4
                 FROM UNNEST($1::text[], $2::bool[], $3::timestamptz[])
                      AS b(trans_num, is_fraud, labelled_at)
                 WHERE EXISTS (SELECT 1 FROM scored_transactions s WHERE s.trans_num = b.trans_num)
                 ON CONFLICT (trans_num) DO NOTHING
                 RETURNING trans_num",
                &[
                    (&trans_nums, Type::TEXT_ARRAY),
                    (&values, Type::BOOL_ARRAY),
                    (&times, Type::TIMESTAMPTZ_ARRAY),
                    (&source, Type::TEXT),
                ],
            )
            .await
            .map_err(DbError::query("record labels"))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        // What is kept now for each trans_num of the batch; absent: never scored.
        let kept: HashMap<String, bool> = self
            .client
            .query_typed(
                "SELECT l.trans_num, l.is_fraud
                 FROM labels l WHERE l.trans_num = ANY($1::text[])",
                &[(&trans_nums, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(DbError::query("read labels"))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let mut counted_as_recorded = HashSet::new();
        for label in labels {
            match kept.get(&label.trans_num) {
                None => report.unknown.push(label.trans_num.clone()),
                Some(&value) if value == label.is_fraud => {
                    if inserted.contains(&label.trans_num)
                        && counted_as_recorded.insert(label.trans_num.as_str())
                    {
                        report.recorded += 1;
                    } else {
                        report.duplicates += 1;
                    }
                }
                Some(&value) => report.conflicts.push(LabelConflict {
                    trans_num: label.trans_num.clone(),
                    kept: value,
                    refused: label.is_fraud,
                }),
            }
        }
        Ok(report)
    }

    /// The labels known for `trans_nums`: the later one (`labels`) and the one the payment
    /// carried when scored (`scored_transactions.is_fraud`), for every `trans_num` that
    /// was scored or labelled (the others are absent). One round trip; the caller sends a
    /// chunk of `trans_num`s at a time.
    pub async fn known(&self, trans_nums: &[&str]) -> Result<HashMap<String, KnownLabel>, DbError> {
        if trans_nums.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .client
            .query_typed(
                "SELECT t.trans_num, l.is_fraud, s.is_fraud
                 FROM UNNEST($1::text[]) AS t(trans_num)
                 LEFT JOIN labels l ON l.trans_num = t.trans_num
                 LEFT JOIN scored_transactions s ON s.trans_num = t.trans_num
                 WHERE l.trans_num IS NOT NULL OR s.trans_num IS NOT NULL",
                &[(&trans_nums, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(DbError::query("read known labels"))?
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    KnownLabel {
                        later: row.get(1),
                        carried: row.get(2),
                    },
                )
            })
            .collect())
    }

    /// The later label kept for `trans_num`, with its source.
    pub async fn get(&self, trans_num: &str) -> Result<Option<(bool, String)>, DbError> {
        Ok(self
            .client
            .query_typed(
                "SELECT is_fraud, source FROM labels WHERE trans_num = $1",
                &[(&trans_num, Type::TEXT)],
            )
            .await
            .map_err(DbError::query("read a label"))?
            .first()
            .map(|row| (row.get(0), row.get(1))))
    }
}
