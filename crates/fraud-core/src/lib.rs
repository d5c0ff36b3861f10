//! Domain core of the fraud pipeline: the one transaction schema and its parsers, the
//! one feature pipeline (offline and online), the model, its evaluation and its
//! artifact format. No AWS, no Kafka, no network: adapters live in other crates.
#![forbid(unsafe_code)]

pub mod api_frame;
pub mod artifact;
mod blend;
pub mod calibration;
mod cart;
pub mod compiled;
pub mod csv_input;
pub mod drift;
pub mod error;
pub mod features;
mod gbm;
pub mod message;
pub mod metrics;
pub mod model;
mod params;
pub mod schema;
pub mod scoring;
pub mod selection;
pub mod train;
pub mod tree;
pub mod webhook;

pub use artifact::{ArtifactError, ModelArtifact};
pub use error::{RecordError, Rejection};
pub use features::{CardHistories, CardHistory, FeatureVector, FEATURE_NAMES, N_FEATURES};
pub use schema::{Category, Gender, Transaction};
