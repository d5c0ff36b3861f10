//! The score function, two triggers and one code path:
//!
//! - **the stream** ([`stream`]): one Kafka batch in (the event source mapping's
//!   `SelfManagedKafka`/MSK event); for every payment a fraud probability and a decision
//!   out, written to S3 (partitioned JSON lines), to the `payments.scored` topic, and,
//!   for review and block, as an alert on the SQS alert queue;
//! - **the decision API** ([`decide`]): one payment in through the Function URL
//!   ([`http`]) or the Invoke API, one answer out in milliseconds, while the payment is
//!   being authorised.
//!
//! Both score with the model, then apply the rules document kept beside it
//! ([`fraud_rules`]: allow and block lists, expressions over the payment, its features
//! and the probability), and both share the card histories and the ledger.
//!
//! - Rules come from [`fraud_aws::RulesCache`] the way models do: re-read at most every
//!   `MODEL_CHECK_SECS`; a document that does not check is never served.
//! - The model comes from [`fraud_aws::ModelCache`]: loaded once per container, cached
//!   in memory and `/tmp`, swapped when a new version is promoted.
//! - Per-card history lives in Postgres (`card_history`), loaded and saved once per
//!   batch. The batch's cards are locked first (transaction-scoped advisory locks, in
//!   card order), so when a producer does not key by card and one card's payments are in
//!   two invocations at once, one waits for the other: no update is lost or counted twice.
//! - Redelivery never double-counts: every `trans_num` is claimed in the
//!   `scored_transactions` ledger inside the same database transaction that saves the
//!   histories, after the side effects succeeded. A redelivered payment is recognised
//!   and produces no second alert. The card history itself ignores a replayed `trans_num`.
//! - A record that cannot be decoded or validated goes to the dead-letter topic with its
//!   reason; only records that could not even be dead-lettered are reported back as
//!   batch item failures.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use fraud_aws::{AlertQueue, ModelCache, RulesCache};
use fraud_core::artifact::Assessment;
use fraud_core::features::FeatureVector;
use fraud_core::scoring::{DecidedBy, Score};
use fraud_core::{ModelArtifact, Transaction};
use rdkafka::producer::FutureProducer;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

mod config;
pub mod decide;
mod effects;
pub mod http;
mod init;
pub mod stream;

pub use config::{Config, ScoreError};
pub use decide::DecideError;
pub use fraud_core::scoring::{DecisionAnswer, ScoredRecord};

/// The function's answer to a Kafka batch: counts, and the records to retry.
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
    /// S3 URI of the results file written for this batch.
    pub results_uri: Option<String>,
}

/// A record to retry, identified as `topic-partition@offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error(transparent)]
    Decide(#[from] DecideError),
    #[error("not a Kafka event: {0}")]
    BadEvent(serde_json::Error),
}

/// The score function's clients and caches, built once per container.
pub struct Scorer {
    config: Config,
    models: ModelCache,
    rules: RulesCache,
    s3: fraud_aws::S3Client,
    alerts: AlertQueue,
    producer: FutureProducer,
    db: Mutex<tokio_postgres::Client>,
}

/// `topic-partition@offset`.
pub fn record_id(r: &KafkaRecord) -> String {
    format!(
        "{}-{}@{}",
        r.topic.as_deref().unwrap_or("?"),
        r.partition,
        r.offset
    )
}

/// Milliseconds since `t`.
pub(crate) fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// The one judgement both paths make: the model's score, then the rules.
pub(crate) fn judge(
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

impl Scorer {
    /// Any invocation: a Kafka batch, a Function URL request, or (through the Invoke
    /// API) one payment to decide.
    pub async fn handle_event(
        &self,
        event: serde_json::Value,
    ) -> Result<serde_json::Value, HandlerError> {
        if event.get("records").is_some() && event.get("eventSource").is_some() {
            let batch: KafkaEvent =
                serde_json::from_value(event).map_err(HandlerError::BadEvent)?;
            let response = self.handle(batch).await?;
            return Ok(serde_json::to_value(response).expect("responses serialize"));
        }
        if http::is_http(&event) {
            return Ok(self.answer_http(&event).await);
        }
        let body = serde_json::to_vec(&event).expect("JSON serializes");
        let answer = self.decide(&body).await?;
        Ok(serde_json::to_value(answer).expect("answers serialize"))
    }

    /// Loads the current model now (cold start), so the first batch does not pay for it.
    pub async fn warm_up(&self) -> Result<String, ScoreError> {
        let model = self.models.get().await.map_err(ScoreError::Model)?;
        Ok(model.version.clone())
    }

    /// The model currently served (for tests and logs).
    pub async fn model(&self) -> Result<Arc<ModelArtifact>, ScoreError> {
        self.models.get().await.map_err(ScoreError::Model)
    }
}
