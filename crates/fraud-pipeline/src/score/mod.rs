//! Scoring payments, two ways and one judgement:
//!
//! - **a batch** ([`Scoring::score_batch`], the stream): the records of one Kafka batch
//!   decoded, every payment scored, its record written to the results file and the scored
//!   topic, the payment itself to the payments archive (`payments/dt=<day>/batch-….csv`,
//!   Sparkov CSV, beside `results/dt=<day>/batch-….jsonl`: the features' inputs the
//!   results lack, for the monitor's feature drift and for training on what was scored),
//!   review and block as alerts; refused records dead-lettered with the reason;
//! - **one payment** ([`Scoring::decide`], the decision API): decided in milliseconds while
//!   it is being authorised.
//!
//! Both score with the model, then apply the rules document kept beside it, and both share
//! the card histories and the ledger ([`ScoreDatabase`]):
//!
//! - Per-card history is loaded and saved once per batch. The batch's cards are locked
//!   first (in card order), so when a producer does not key by card and one card's
//!   payments are in two invocations at once, one waits for the other: no update is lost
//!   or counted twice.
//! - Redelivery never double-counts: every `trans_num` is claimed in the ledger inside the
//!   same transaction that saves the histories, after the side effects succeeded. A
//!   redelivered payment is recognised and produces no second alert. The card history
//!   itself ignores a replayed `trans_num`.
//! - A record that cannot be decoded or validated is dead-lettered with its reason; only
//!   records that could not even be dead-lettered are reported back as batch item
//!   failures.
//!
//! The systems are ports ([`ModelSource`], [`ScoreDatabase`], [`ScoredPublisher`],
//! [`AlertSink`], [`ResultsStore`]), used through generics: this is the hot path, and a
//! port call costs what a direct call costs.

use std::time::Instant;

use fraud_core::artifact::Assessment;
use fraud_core::features::FeatureVector;
use fraud_core::scoring::{DecidedBy, Score};
use fraud_core::{ModelArtifact, Transaction};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::ports::{AlertSink, ModelSource, ResultsStore, ScoreDatabase, ScoredPublisher};
use crate::AdapterError;

mod decide;
mod stream;

pub use crate::ledger::{LedgerEntry, ScoredTransaction};
pub use decide::{one_payment, DecideError};

/// One record of a batch, as the event source delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    /// Where it came from (`topic-partition@offset`): dead letters and batch item
    /// failures name it.
    pub id: String,
    /// The value, base64 (absent for a record without one).
    pub value: Option<String>,
    /// The producer's timestamp (epoch ms).
    pub published_at_ms: i64,
}

/// The answer to a batch: counts, and the records to retry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
    pub received: usize,
    pub scored: usize,
    /// Payments already in the ledger (redelivered), nothing written for them.
    pub duplicates: usize,
    /// Payments the decision API had decided: their record and alert written now.
    #[serde(default)]
    pub decided_synchronously: usize,
    pub alerts: usize,
    pub dead_lettered: usize,
    pub model_version: Option<String>,
    /// URI of the results file written for this batch.
    pub results_uri: Option<String>,
    /// URI of the batch's payments archive (the scored payments as a Sparkov CSV, beside
    /// the results file: what the monitor and `training_data` read).
    #[serde(default)]
    pub payments_uri: Option<String>,
}

/// A record to retry, identified as `topic-partition@offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Why a whole batch failed (the event source retries it; nothing was committed).
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("no usable model: {0}")]
    Model(AdapterError),
    #[error("no usable rules: {0}")]
    Rules(AdapterError),
    #[error("database: {0}")]
    Db(AdapterError),
    #[error("writing results: {0}")]
    Results(AdapterError),
    #[error("sending alerts: {0}")]
    Alerts(AdapterError),
    #[error("publishing to Kafka: {0}")]
    Publish(AdapterError),
}

/// The score use case's ports, named once: an adapter set is a type implementing this.
pub trait ScorePorts {
    type Models: ModelSource;
    type Db: ScoreDatabase;
    type Publisher: ScoredPublisher;
    type Alerts: AlertSink;
    type Results: ResultsStore;
}

/// The score use case over its ports: the model source, the database (one connection,
/// taken in turn by batches and decisions), the publisher, the alert sink and the results
/// store.
pub struct Scoring<P: ScorePorts> {
    models: P::Models,
    db: Mutex<P::Db>,
    publisher: P::Publisher,
    alerts: P::Alerts,
    results: P::Results,
}

impl<P: ScorePorts> Scoring<P> {
    pub fn new(
        models: P::Models,
        db: P::Db,
        publisher: P::Publisher,
        alerts: P::Alerts,
        results: P::Results,
    ) -> Self {
        Scoring {
            models,
            db: Mutex::new(db),
            publisher,
            alerts,
            results,
        }
    }

    /// The model source (to warm it up, or read the model in service).
    pub fn models(&self) -> &P::Models {
        &self.models
    }
}

/// Milliseconds since `t`.
fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// An adapter's error, boxed into a use case's error.
fn boxed<E: std::error::Error + Send + Sync + 'static>(e: E) -> AdapterError {
    Box::new(e)
}

/// The one judgement both paths make: the model's score, then the rules.
fn judge(
    model: &ModelArtifact,
    rules: &fraud_rules::Rules,
    tx: &Transaction,
    features: &FeatureVector,
    assessment: Assessment,
) -> (Score, DecidedBy) {
    rules.apply(
        tx,
        features,
        Score::of_model(tx, assessment, &model.version),
    )
}
