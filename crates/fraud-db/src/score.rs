//! The score use case's database ([`fraud_pipeline::ports::ScoreDatabase`]): one
//! connection, a transaction per batch or decision, in which the card histories
//! ([`CardStateStore`]) and the ledger ([`ScoredLedger`]) are read and written together.

use std::collections::HashMap;

use fraud_core::features::CardHistory;
use fraud_pipeline::ports::{ScoreDatabase, ScoreTransaction};
use fraud_pipeline::score::{LedgerEntry, ScoredTransaction};
use tokio_postgres::{Client, Transaction};

use crate::{CardStateStore, DbError, ScoredLedger};

/// The score function's connection, and the URL to reconnect with when it breaks.
pub struct ScoreDb {
    client: Client,
    url: String,
}

impl ScoreDb {
    /// Over a connected (and migrated) `client`; `url` is the one it was connected with.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        ScoreDb {
            client,
            url: url.into(),
        }
    }
}

/// One transaction of [`ScoreDb`]; dropped without a commit, it rolls back.
pub struct ScoreTxn<'a>(Transaction<'a>);

impl ScoreDatabase for ScoreDb {
    type Error = DbError;
    type Txn<'a> = ScoreTxn<'a>;

    async fn begin(&mut self) -> Result<ScoreTxn<'_>, DbError> {
        crate::begin(&mut self.client, &self.url)
            .await
            .map(ScoreTxn)
    }
}

impl ScoreTransaction for ScoreTxn<'_> {
    type Error = DbError;

    async fn lock_cards(&self, cards: &[u64]) -> Result<(), DbError> {
        CardStateStore::new(&self.0).lock(cards).await
    }

    async fn load_cards(&self, cards: &[u64]) -> Result<HashMap<u64, CardHistory>, DbError> {
        CardStateStore::new(&self.0).load(cards).await
    }

    async fn save_cards(&self, histories: &[(u64, &CardHistory)]) -> Result<(), DbError> {
        CardStateStore::new(&self.0).save(histories).await
    }

    async fn claim(&self, rows: &[ScoredTransaction]) -> Result<Vec<String>, DbError> {
        ScoredLedger::new(&self.0).claim(rows).await
    }

    async fn claim_decision(
        &self,
        row: &ScoredTransaction,
        answer_json: &str,
    ) -> Result<bool, DbError> {
        ScoredLedger::new(&self.0)
            .claim_decision(row, answer_json)
            .await
    }

    async fn entry(&self, trans_num: &str) -> Result<Option<LedgerEntry>, DbError> {
        ScoredLedger::new(&self.0).entry(trans_num).await
    }

    async fn take_undelivered_decisions(
        &self,
        trans_nums: &[&str],
    ) -> Result<Vec<(String, String)>, DbError> {
        ScoredLedger::new(&self.0)
            .take_undelivered_decisions(trans_nums)
            .await
    }

    async fn commit(self) -> Result<(), DbError> {
        crate::commit(self.0).await
    }
}
