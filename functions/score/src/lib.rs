//! The score function, two triggers and one code path:
//!
//! - **the stream** ([`stream`]): one Kafka batch in (the event source mapping's
//!   `SelfManagedKafka`/MSK event); for every payment a fraud probability and a decision
//!   out, written to S3 (partitioned JSON lines), to the `payments.scored` topic, and,
//!   for review and block, as an alert on the SQS alert queue;
//! - **the decision API** ([`Scorer::decide`]): one payment in through the Function URL
//!   ([`http`]) or the Invoke API, one answer out in milliseconds, while the payment is
//!   being authorised.
//!
//! Configuration and wiring: the use case ([`fraud_pipeline::score`]: card histories,
//! model and rules, the ledger that makes it idempotent, what is written where) runs over
//! its adapters: the model and rules caches, results bucket and alert queue
//! ([`fraud_aws`]), card histories and the ledger in PostgreSQL ([`fraud_db::ScoreDb`]),
//! the scored and dead-letter topics ([`kafka::KafkaScored`]).
#![forbid(unsafe_code)]

use std::sync::Arc;

use aws_lambda_events::event::kafka::KafkaEvent;
use fraud_aws::{AlertQueue, ResultsBucket, ServedModel};
use fraud_core::ModelArtifact;
use fraud_db::ScoreDb;
use fraud_pipeline::ports::ModelSource;
use fraud_pipeline::score::{ScorePorts, Scoring};

mod config;
pub mod http;
mod init;
pub mod kafka;
pub mod stream;

pub use config::Config;
pub use fraud_core::scoring::{DecisionAnswer, ScoredRecord};
pub use fraud_pipeline::score::{DecideError, ItemFailure, ScoreError, ScoreResponse};
pub use stream::record_id;

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

/// The function's adapters for the score use case's ports.
pub struct Adapters;

impl ScorePorts for Adapters {
    type Models = ServedModel;
    type Db = ScoreDb;
    type Publisher = kafka::KafkaScored;
    type Alerts = AlertQueue;
    type Results = ResultsBucket;
}

/// The score function's clients and caches, built once per container.
pub struct Scorer {
    scoring: Scoring<Adapters>,
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
        let answer = self.scoring.decide(&body).await?;
        Ok(serde_json::to_value(answer).expect("answers serialize"))
    }

    /// Decides one payment (the request body: flat JSON or any encoding the stream
    /// accepts).
    pub async fn decide(&self, body: &[u8]) -> Result<DecisionAnswer, DecideError> {
        self.scoring.decide(body).await
    }

    /// Loads the current model now (cold start), so the first batch does not pay for it.
    pub async fn warm_up(&self) -> Result<String, ScoreError> {
        Ok(self.model().await?.version.clone())
    }

    /// The model currently served (for tests and logs).
    pub async fn model(&self) -> Result<Arc<ModelArtifact>, ScoreError> {
        let models = self.scoring.models();
        models
            .model()
            .await
            .map_err(|e| ScoreError::Model(Box::new(e)))
    }
}
