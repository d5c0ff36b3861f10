//! Per-card feature state of the online scorer.
//!
//! The score function is stateless between invocations, but its features look back 30
//! days per card. Before scoring a batch it loads the [`CardHistory`] of every card in
//! the batch in one query, and afterwards writes them all back in one upsert, so a
//! batch costs two statements however many cards it touches. Both are sent with their
//! parameter types (`query_typed`), so neither waits for a separate prepare round trip.
//!
//! A save overwrites the stored history, so two invocations updating the same card at
//! once would lose one's update. Payments keyed by card never do that (one card, one
//! partition), but producers key by a constant, by `trans_num` or not at all. So a
//! transaction that will save histories first [`lock`](CardStateStore::lock)s their
//! cards: transaction-scoped advisory locks, taken in card order (no deadlock between
//! two batches), held until commit or rollback. A card without a row yet is locked
//! just the same, which `SELECT … FOR UPDATE` could not do.

use std::collections::HashMap;

use fraud_core::features::CardHistory;
use tokio_postgres::types::{Json, Type};
use tokio_postgres::GenericClient;

use crate::{cc_num_text, parse_cc_num, DbError};

/// Card histories in PostgreSQL, over a connection or a transaction.
pub struct CardStateStore<'a, C: GenericClient> {
    client: &'a C,
}

impl<'a, C: GenericClient> CardStateStore<'a, C> {
    pub fn new(client: &'a C) -> Self {
        CardStateStore { client }
    }

    /// Locks `cc_nums` until the end of the current transaction, waiting while another
    /// transaction holds any of them; one statement. Call it inside a transaction,
    /// before [`load`](Self::load): the load then sees what the previous holder committed.
    ///
    /// A card number is 64 bits: it is the lock's key exactly (the two-key form of
    /// `pg_advisory_xact_lock`, high and low halves), so two cards never share a lock.
    pub async fn lock(&self, cc_nums: &[u64]) -> Result<(), DbError> {
        if cc_nums.is_empty() {
            return Ok(());
        }
        let mut cards = cc_nums.to_vec();
        cards.sort_unstable();
        cards.dedup();
        let (high, low): (Vec<i32>, Vec<i32>) = cards
            .iter()
            .map(|c| ((c >> 32) as u32 as i32, *c as u32 as i32))
            .unzip();
        self.client
            .query_typed(
                "SELECT pg_advisory_xact_lock(k.high, k.low)
                 FROM UNNEST($1::int4[], $2::int4[]) WITH ORDINALITY AS k(high, low, n)
                 ORDER BY k.n",
                &[(&high, Type::INT4_ARRAY), (&low, Type::INT4_ARRAY)],
            )
            .await
            .map_err(DbError::query("lock card_history"))?;
        Ok(())
    }

    /// The stored histories of `cc_nums`, in one query. Cards never saved are absent
    /// from the map (their history is empty).
    pub async fn load(&self, cc_nums: &[u64]) -> Result<HashMap<u64, CardHistory>, DbError> {
        if cc_nums.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<String> = cc_nums.iter().copied().map(cc_num_text).collect();
        let rows = self
            .client
            .query_typed(
                "SELECT cc_num::text, history FROM card_history
                 WHERE cc_num = ANY($1::text[]::numeric[])",
                &[(&keys, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(DbError::query("load card_history"))?;
        rows.iter()
            .map(|row| {
                let cc_num = parse_cc_num(row.get(0), "card history")?;
                let Json(history) =
                    row.try_get::<_, Json<CardHistory>>(1)
                        .map_err(|e| DbError::Corrupt {
                            what: "card history",
                            reason: format!("card {cc_num}: {}", crate::error::describe(&e)),
                        })?;
                Ok((cc_num, history))
            })
            .collect()
    }

    /// Stores the histories in one upsert. When a card appears more than once, its
    /// last history wins.
    pub async fn save(&self, histories: &[(u64, &CardHistory)]) -> Result<(), DbError> {
        // One INSERT may not update the same row twice, so keep each card's last entry.
        let mut last: HashMap<u64, usize> = HashMap::with_capacity(histories.len());
        for (i, (cc_num, _)) in histories.iter().enumerate() {
            last.insert(*cc_num, i);
        }
        let mut keys = Vec::with_capacity(last.len());
        let mut values = Vec::with_capacity(last.len());
        for (i, (cc_num, history)) in histories.iter().enumerate() {
            if last[cc_num] == i {
                keys.push(cc_num_text(*cc_num));
                values.push(Json(*history));
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        self.client
            .execute_typed(
                "INSERT INTO card_history (cc_num, history, updated_at)
                 SELECT cc_num::numeric, history, now()
                 FROM UNNEST($1::text[], $2::jsonb[]) AS batch(cc_num, history)
                 ON CONFLICT (cc_num) DO UPDATE
                 SET history = EXCLUDED.history, updated_at = EXCLUDED.updated_at",
                &[(&keys, Type::TEXT_ARRAY), (&values, Type::JSONB_ARRAY)],
            )
            .await
            .map_err(DbError::query("save card_history"))?;
        Ok(())
    }
}
