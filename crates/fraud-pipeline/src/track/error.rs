//! Why a track request failed.

use std::convert::Infallible;

/// Why an invocation failed; `E` is the store's error (none while reading the event).
#[derive(Debug, thiserror::Error)]
pub enum TrackError<E = Infallible> {
    #[error("bad track event: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Store(E),
    #[error("cannot read labels: {0}")]
    Source(String),
    /// The model monitor could not read or write what it needs (payments, artifact, report, alert).
    #[error("monitor: {0}")]
    Monitor(String),
    /// Training data could not be read or written (payments, the labelled CSV).
    #[error("training data: {0}")]
    TrainingData(String),
}

impl TrackError {
    /// The same error where a store's error could also be.
    pub fn widen<E>(self) -> TrackError<E> {
        match self {
            TrackError::BadEvent(reason) => TrackError::BadEvent(reason),
            TrackError::Source(reason) => TrackError::Source(reason),
            TrackError::Monitor(reason) => TrackError::Monitor(reason),
            TrackError::TrainingData(reason) => TrackError::TrainingData(reason),
            TrackError::Store(never) => match never {},
        }
    }
}
