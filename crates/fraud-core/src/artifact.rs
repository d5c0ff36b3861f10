//! The one model artifact format: a self-describing JSON document holding the forest,
//! the feature list it expects, the decision threshold, the evaluation metrics and where
//! the training data came from. Training writes it, scoring and tests read it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::features::{FeatureVector, FEATURE_NAMES, FEATURE_PIPELINE_VERSION};
use crate::metrics::SliceReport;
use crate::model::Forest;
use crate::train::TimeSplit;

/// Value of the `format` field.
pub const ARTIFACT_FORMAT: &str = "fraud-model";
/// Version of the artifact layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
/// File name of the artifact inside a model directory.
pub const ARTIFACT_FILE: &str = "model.json";

/// Largest artifact accepted, in bytes (a 300-tree forest is a few MB).
pub const MAX_ARTIFACT_BYTES: usize = 256 * 1024 * 1024;

/// Errors when loading an artifact.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact of {len} bytes exceeds the limit of {max}")]
    Oversize { len: usize, max: usize },
    #[error("not a model artifact: {0}")]
    Corrupt(String),
    #[error("artifact format `{found}` is not `{ARTIFACT_FORMAT}`")]
    WrongFormat { found: String },
    #[error(
        "artifact schema version {found} is not supported (this build reads {SCHEMA_VERSION})"
    )]
    SchemaVersion { found: u32 },
    #[error("artifact was trained with feature pipeline v{found}; this build computes v{FEATURE_PIPELINE_VERSION}")]
    PipelineVersion { found: u32 },
    #[error("artifact expects features {found:?}, this build computes a different list")]
    FeatureMismatch { found: Vec<String> },
    #[error("artifact threshold {0} is not a probability")]
    Threshold(f64),
    #[error("artifact model is invalid: {0}")]
    Model(String),
}

/// Evaluation results stored with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The slice the threshold was chosen on.
    pub validation: SliceReport,
    /// The latest slice, never used for a choice.
    pub test: SliceReport,
}

/// Provenance of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub data_uri: String,
    pub data_sha256: String,
    pub rows: u64,
    pub frauds: u64,
    pub split: TimeSplit,
    pub train_rows: u64,
    pub validation_rows: u64,
    pub test_rows: u64,
    /// Wall time of fitting every candidate.
    pub train_seconds: f64,
    /// Every model fitted, with its validation PR-AUC; the best became this artifact.
    pub candidates: Vec<crate::train::Candidate>,
}

/// A trained model and everything needed to use and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    pub format: String,
    pub schema_version: u32,
    pub feature_pipeline_version: u32,
    /// Unique, sortable version: `<created-at>-<hash>`.
    pub version: String,
    pub created_at: DateTime<Utc>,
    pub feature_names: Vec<String>,
    /// Score at or above which a payment is flagged.
    pub threshold: f64,
    pub metrics: Metrics,
    pub training: TrainingInfo,
    pub model: Forest,
}

impl ModelArtifact {
    /// Wraps a fitted forest.
    pub fn new(
        model: Forest,
        threshold: f64,
        metrics: Metrics,
        training: TrainingInfo,
        created_at: DateTime<Utc>,
    ) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(serde_json::to_vec(&model).expect("forests serialize"));
        hasher.update(training.data_sha256.as_bytes());
        let digest = hasher.finalize();
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        ModelArtifact {
            format: ARTIFACT_FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            feature_pipeline_version: FEATURE_PIPELINE_VERSION,
            version: format!("{}-{hash}", created_at.format("%Y%m%dT%H%M%SZ")),
            created_at,
            feature_names: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
            threshold,
            metrics,
            training,
            model,
        }
    }

    /// Serializes the artifact.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("artifacts serialize")
    }

    /// Parses and checks an artifact: format, versions, feature list, threshold and
    /// tree structure must all match what this build computes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArtifactError> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
            schema_version: u32,
            feature_pipeline_version: u32,
        }
        if bytes.len() > MAX_ARTIFACT_BYTES {
            return Err(ArtifactError::Oversize {
                len: bytes.len(),
                max: MAX_ARTIFACT_BYTES,
            });
        }
        let header: Header =
            serde_json::from_slice(bytes).map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
        if header.format != ARTIFACT_FORMAT {
            return Err(ArtifactError::WrongFormat {
                found: header.format,
            });
        }
        if header.schema_version != SCHEMA_VERSION {
            return Err(ArtifactError::SchemaVersion {
                found: header.schema_version,
            });
        }
        if header.feature_pipeline_version != FEATURE_PIPELINE_VERSION {
            return Err(ArtifactError::PipelineVersion {
                found: header.feature_pipeline_version,
            });
        }
        let artifact: ModelArtifact =
            serde_json::from_slice(bytes).map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
        if artifact
            .feature_names
            .iter()
            .map(String::as_str)
            .ne(FEATURE_NAMES)
        {
            return Err(ArtifactError::FeatureMismatch {
                found: artifact.feature_names,
            });
        }
        if !(0.0..=1.0).contains(&artifact.threshold) {
            return Err(ArtifactError::Threshold(artifact.threshold));
        }
        artifact.model.validate().map_err(ArtifactError::Model)?;
        Ok(artifact)
    }

    /// Fraud probability of one feature vector.
    pub fn score(&self, features: &FeatureVector) -> f64 {
        self.model.predict(features)
    }
}

/// Hex SHA-256 of some bytes (training data hashes).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
