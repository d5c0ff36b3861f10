//! The real MLflow server the MLflow tests talk to (`tests/mlflow_mirror.rs`,
//! `tests/monitor_mlflow.rs`).
#![allow(dead_code)]

use fraud_fn_track::mlflow::{MlflowConfig, MlflowMirror};

/// MLFLOW_TRACKING_URI, as `scripts/mlflow.sh env` prints it; panics (never skips) without it.
pub fn tracking_uri() -> String {
    std::env::var("MLFLOW_TRACKING_URI").expect(
        "MLFLOW_TRACKING_URI is not set: start the local MLflow server with \
         `scripts/mlflow.sh up` and `eval \"$(scripts/mlflow.sh env)\"` (make unit does both)",
    )
}

/// A mirror to `uri`, experiment `experiment`, no token.
pub fn mirror(uri: String, experiment: &str) -> MlflowMirror {
    MlflowMirror::new(MlflowConfig {
        tracking_uri: uri,
        experiment: experiment.to_owned(),
        token: None,
    })
    .unwrap()
}
