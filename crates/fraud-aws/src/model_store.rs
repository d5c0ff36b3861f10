//! Versioned model artifacts in S3 and the scorer's cache of the current one.
//!
//! Layout under the models bucket:
//! `models/<version>/model.json`, `models/<version>/metrics.json`, and the pointer
//! `models/current.json` naming the promoted version. Promotion rewrites only the
//! pointer, so scorers switch atomically and older versions stay available.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use fraud_core::artifact::ModelArtifact;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::s3::{get_bytes, put_bytes};
use crate::AwsError;

const POINTER: &str = "models/current.json";

/// The promoted model, as recorded in `models/current.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentModel {
    pub version: String,
    pub uri: String,
    pub promoted_at: String,
    pub test_pr_auc: f64,
}

/// Reads and writes artifacts in one bucket.
#[derive(Clone)]
pub struct ModelStore {
    s3: Client,
    bucket: String,
}

impl ModelStore {
    pub fn new(s3: Client, bucket: impl Into<String>) -> Self {
        ModelStore {
            s3,
            bucket: bucket.into(),
        }
    }

    fn key(version: &str, file: &str) -> String {
        format!("models/{version}/{file}")
    }

    /// Stores an artifact (and its metrics beside it); returns its S3 URI.
    pub async fn put(&self, artifact: &ModelArtifact) -> Result<String, AwsError> {
        let key = Self::key(&artifact.version, fraud_core::artifact::ARTIFACT_FILE);
        put_bytes(
            &self.s3,
            &self.bucket,
            &key,
            artifact.to_bytes(),
            "application/json",
        )
        .await?;
        let metrics = serde_json::to_vec_pretty(&artifact.metrics).expect("metrics serialize");
        put_bytes(
            &self.s3,
            &self.bucket,
            &Self::key(&artifact.version, "metrics.json"),
            metrics,
            "application/json",
        )
        .await?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }

    /// Stores another file beside a version's artifact (run record, report).
    pub async fn put_beside(
        &self,
        version: &str,
        file: &str,
        body: Vec<u8>,
    ) -> Result<String, AwsError> {
        let key = Self::key(version, file);
        put_bytes(&self.s3, &self.bucket, &key, body, "application/json").await?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }

    /// The promoted model's pointer, if any model was promoted.
    pub async fn current(&self) -> Result<Option<CurrentModel>, AwsError> {
        match get_bytes(&self.s3, &self.bucket, POINTER).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AwsError::S3 {
                    operation: "parse pointer",
                    bucket: self.bucket.clone(),
                    key: POINTER.into(),
                    message: e.to_string(),
                }),
        }
    }

    /// Makes `artifact` (already stored at `uri`) the current model.
    pub async fn promote(
        &self,
        artifact: &ModelArtifact,
        uri: &str,
    ) -> Result<CurrentModel, AwsError> {
        let pointer = CurrentModel {
            version: artifact.version.clone(),
            uri: uri.to_owned(),
            promoted_at: chrono::Utc::now().to_rfc3339(),
            test_pr_auc: artifact.metrics.test.pr_auc,
        };
        let body = serde_json::to_vec_pretty(&pointer).expect("pointer serializes");
        put_bytes(&self.s3, &self.bucket, POINTER, body, "application/json").await?;
        Ok(pointer)
    }

    /// Raw bytes of a version's artifact.
    pub async fn fetch(&self, version: &str) -> Result<Vec<u8>, AwsError> {
        let key = Self::key(version, fraud_core::artifact::ARTIFACT_FILE);
        get_bytes(&self.s3, &self.bucket, &key)
            .await?
            .ok_or(AwsError::NoModel {
                bucket: self.bucket.clone(),
                key,
            })
    }

    /// Loads and validates a version's artifact.
    pub async fn load(&self, version: &str) -> Result<ModelArtifact, AwsError> {
        let bytes = self.fetch(version).await?;
        ModelArtifact::from_bytes(&bytes).map_err(|source| AwsError::BadModel {
            version: version.to_owned(),
            source,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// The scorer's view of the current model: loaded once per container, kept in memory
/// and in a disk cache (`/tmp` in Lambda), and re-checked against the pointer at most
/// every `check_every`. A newly promoted model is swapped in without a restart; a model
/// that fails to load (corrupt, incompatible) is never served and the last good one
/// stays; S3 being unreachable keeps the cached model.
pub struct ModelCache {
    store: ModelStore,
    dir: PathBuf,
    check_every: Duration,
    state: Mutex<Option<(Arc<ModelArtifact>, Instant)>>,
}

impl ModelCache {
    pub fn new(store: ModelStore, dir: PathBuf, check_every: Duration) -> Self {
        ModelCache {
            store,
            dir,
            check_every,
            state: Mutex::new(None),
        }
    }

    /// The model to score with.
    pub async fn get(&self) -> Result<Arc<ModelArtifact>, AwsError> {
        let mut state = self.state.lock().await;
        if let Some((model, checked)) = state.as_ref() {
            if checked.elapsed() < self.check_every {
                return Ok(model.clone());
            }
        }
        let pointer = match self.store.current().await {
            Ok(p) => p,
            Err(e) => {
                return match state.as_mut() {
                    Some((model, checked)) => {
                        tracing::warn!(error = %e, model_version = %model.version, "cannot read the model pointer; keeping the cached model");
                        *checked = Instant::now();
                        Ok(model.clone())
                    }
                    None => Err(e),
                };
            }
        };
        let Some(pointer) = pointer else {
            return match state.as_ref() {
                Some((model, _)) => Ok(model.clone()),
                None => Err(AwsError::NoModel {
                    bucket: self.store.bucket.clone(),
                    key: POINTER.into(),
                }),
            };
        };
        if let Some((model, checked)) = state.as_mut() {
            if model.version == pointer.version {
                *checked = Instant::now();
                return Ok(model.clone());
            }
        }
        match self.load(&pointer.version).await {
            Ok(model) => {
                let model = Arc::new(model);
                tracing::info!(model_version = %model.version, "model loaded");
                *state = Some((model.clone(), Instant::now()));
                Ok(model)
            }
            Err(e) => match state.as_mut() {
                Some((model, checked)) => {
                    tracing::error!(error = %e, bad_version = %pointer.version, model_version = %model.version, "promoted model cannot be used; keeping the last good model");
                    *checked = Instant::now();
                    Ok(model.clone())
                }
                None => Err(e),
            },
        }
    }

    async fn load(&self, version: &str) -> Result<ModelArtifact, AwsError> {
        let path = self.dir.join(format!("{version}.json"));
        if let Ok(bytes) = tokio::fs::read(&path).await {
            if let Ok(model) = ModelArtifact::from_bytes(&bytes) {
                return Ok(model);
            }
        }
        let bytes = self.store.fetch(version).await?;
        let model = ModelArtifact::from_bytes(&bytes).map_err(|source| AwsError::BadModel {
            version: version.to_owned(),
            source,
        })?;
        if tokio::fs::create_dir_all(&self.dir).await.is_ok() {
            let _ = tokio::fs::write(&path, &bytes).await;
        }
        Ok(model)
    }
}
