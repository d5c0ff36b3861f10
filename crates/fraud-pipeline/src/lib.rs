//! The use-case layer: what the system does, written once, with every real system it
//! touches behind a port ([`ports`]), a trait the adapters implement (`fraud-aws`,
//! `fraud-db`, `fraud-kafka`, `fraud-mlflow`, `fraud-payments-api`). The functions and
//! `fraudctl` build the adapters from their configuration and call these use cases; a
//! test can call them with the real adapters against the local stack.
//!
//! - [`ingest`]: poll the payments API (or stream a CSV) into the payments topic,
//!   validated, deduplicated, rejects dead-lettered.
//! - [`score`]: score a batch of payments (the stream) or decide one (the decision API):
//!   card histories, the model and the rules, the ledger that makes it idempotent.
//! - [`train`]: load training data, train, the promotion gate, the report, the run record.
//! - [`track`]: recording a run (and mirroring it), reading the run log; [`track::labels`]:
//!   later labels in, live quality out ([`monitoring`]: what they keep).
//! - [`ledger`]: the scored ledger's row, which scoring writes and monitoring reads.
//! - [`run`]: the training run, the message train sends and track records.
//!
//! It depends on the domain (`fraud-core`) only: no cloud, Kafka, database or HTTP crate.
//! Ports are used through generics (no `dyn`), so an adapter call costs what a direct
//! call costs.
#![forbid(unsafe_code)]

pub mod ingest;
pub mod ledger;
pub mod monitoring;
pub mod ports;
pub mod run;
pub mod score;
pub mod track;
pub mod train;

pub use run::{RunMetric, TrainingRun};

/// An adapter's error, kept whole (its message and its source chain) where a use case's
/// error carries it.
pub type AdapterError = Box<dyn std::error::Error + Send + Sync + 'static>;
