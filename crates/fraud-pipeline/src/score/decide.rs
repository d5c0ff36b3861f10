//! One payment (the decision API): one payment in, one decision out, while the payment is
//! being authorised. The same model, feature pipeline, rules, per-card history and ledger
//! as a batch, so:
//!
//! - the card is locked (the same lock a batch takes) while its history is read, the
//!   payment added, and the answer claimed in the ledger, in one transaction;
//! - the same `trans_num` asked again gets the answer the ledger kept (`repeated: true`),
//!   and a payment the stream scored first gets the stream's probability and outcome;
//! - the decision waits on nothing but the database: its scored record and alert are
//!   written when the payment reaches the stream (every payment does: ingest publishes
//!   what the payments API returns), which finds it decided, counts it once in the
//!   card's history, and writes the kept answer rather than a second score.
//!
//! Bad input (undecodable, a field out of range, more or fewer than one payment) is
//! refused with the field and value named, and nothing is written.

use std::time::Instant;

use fraud_core::scoring::{DecidedBy, DecisionAnswer, DecisionTimings};
use fraud_core::Transaction;

use super::{judge, ms, LedgerEntry, ScorePorts, ScoredTransaction, Scoring};
use crate::ports::{ModelSource, ScoreDatabase, ScoreTransaction};

/// Why a payment could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The caller's fault: HTTP 400.
    #[error("{0}")]
    BadInput(String),
    /// Ours: HTTP 503 (retry), with the reason.
    #[error("cannot decide now: {0}")]
    Unavailable(String),
}

/// The one payment of a request, in any encoding the stream accepts.
pub fn one_payment(body: &[u8]) -> Result<Transaction, DecideError> {
    let decoded =
        fraud_core::message::decode(body).map_err(|e| DecideError::BadInput(e.to_string()))?;
    let mut payments = decoded.payments.into_iter();
    match (payments.next(), payments.next()) {
        (Some(Ok(tx)), None) => Ok(tx),
        (Some(Err(row)), None) => Err(DecideError::BadInput(row.reason)),
        (None, _) => Err(DecideError::BadInput("the request holds no payment".into())),
        (Some(_), Some(_)) => Err(DecideError::BadInput(
            "the request holds more than one payment; the decision API decides one at a time"
                .into(),
        )),
    }
}

/// The answer for a payment the ledger already holds.
fn answer_again(trans_num: &str, entry: LedgerEntry) -> DecisionAnswer {
    let kept = entry
        .answer
        .as_deref()
        .and_then(|a| serde_json::from_str::<DecisionAnswer>(a).ok());
    let mut answer = kept.unwrap_or_else(|| DecisionAnswer {
        // Scored by the stream first: its probability and outcome.
        trans_num: trans_num.to_owned(),
        probability: entry.probability,
        decision: entry.outcome,
        decided_by: DecidedBy::Model,
        reasons: Vec::new(),
        rules_fired: Vec::new(),
        model_version: entry.model_version,
        rules_version: None,
        decided_at: entry.scored_at.to_rfc3339(),
        repeated: true,
        took_ms: 0.0,
        timings: None,
    });
    answer.repeated = true;
    answer
}

impl<P: ScorePorts> Scoring<P> {
    /// Decides one payment (the request body: flat JSON or any encoding the stream
    /// accepts).
    pub async fn decide(&self, body: &[u8]) -> Result<DecisionAnswer, DecideError> {
        let started = Instant::now();
        let tx = one_payment(body)?;
        let model = self
            .models
            .model()
            .await
            .map_err(|e| DecideError::Unavailable(format!("no usable model: {e}")))?;
        let rules = self
            .models
            .rules()
            .await
            .map_err(|e| DecideError::Unavailable(format!("no usable rules: {e}")))?;
        let unavailable =
            |e: <P::Db as ScoreDatabase>::Error| DecideError::Unavailable(e.to_string());

        let t = Instant::now();
        let mut db = self.db.lock().await;
        let txn = db.begin().await.map_err(unavailable)?;
        let cards = [tx.cc_num];
        // One round trip: lock the card, read its history and the ledger.
        let (_, mut histories, entry) = futures::future::try_join3(
            txn.lock_cards(&cards),
            txn.load_cards(&cards),
            txn.entry(&tx.trans_num),
        )
        .await
        .map_err(unavailable)?;
        let load_ms = ms(t);
        if let Some(entry) = entry {
            drop(txn); // rolls back: nothing was written
            let mut answer = answer_again(&tx.trans_num, entry);
            answer.took_ms = ms(started);
            return Ok(answer);
        }

        let t = Instant::now();
        let history = histories.entry(tx.cc_num).or_default();
        let features = history.observe(&tx);
        let (score, decided_by) = judge(&model, &rules, &tx, &features, model.assess(&features));
        let mut answer = DecisionAnswer::new(&score, decided_by, chrono::Utc::now().to_rfc3339());
        let decide_ms = ms(t);

        let t = Instant::now();
        let row = ScoredTransaction::of(&tx, &score);
        let kept = serde_json::to_string(&answer).expect("answers serialize");
        // Pipelined: the claim and the history save go out together, then the commit.
        let (claimed, ()) = futures::future::try_join(
            txn.claim_decision(&row, &kept),
            txn.save_cards(&[(tx.cc_num, &*history)]),
        )
        .await
        .map_err(unavailable)?;
        if !claimed {
            // Another writer claimed this trans_num between our read and our insert
            // (only possible for a trans_num reused on another card): its answer wins.
            drop(txn);
            return Err(DecideError::Unavailable(format!(
                "trans_num {} was decided concurrently; ask again for its answer",
                tx.trans_num
            )));
        }
        txn.commit().await.map_err(unavailable)?;
        let write_ms = ms(t);
        answer.took_ms = ms(started);
        answer.timings = Some(DecisionTimings {
            load_ms,
            decide_ms,
            write_ms,
        });
        tracing::info!(trans_num = %answer.trans_num, decision = answer.decision.as_str(), model_version = %answer.model_version, rules_version = answer.rules_version.as_deref().unwrap_or("none"), load_ms, decide_ms, write_ms, total_ms = answer.took_ms, "payment decided");
        Ok(answer)
    }
}
