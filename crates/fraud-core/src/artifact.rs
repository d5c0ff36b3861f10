//! The one model artifact format: a self-describing JSON document holding the tree
//! ensemble (its kind is `model.params.learner`: `cart` or `linfa_trees` forests, `gbm`
//! boosted trees, or a `blend` of such models), the feature list it expects, the calibration from raw score to
//! probability, the approve / review / block thresholds, the evaluation metrics, the
//! feature importances and where the training data came from. Training writes it,
//! scoring and tests read it.
//!
//! Schema versions: 1 = forests only, one threshold; 2 = model kinds, calibration,
//! decision policy, feature importance and evaluation; 3 = version 2 plus the `blend`
//! model kind (`model.components`: calibrated, weighted component models); 4 = version
//! 3 plus the training distribution (`training_profile`: per-feature and score bins and
//! shares, [`crate::drift`]), which the monitor measures drift against. An artifact is
//! written with the lowest version that holds it (4 when it has a training profile,
//! else 2 unless it is a blend), so readers that know only version 2 keep loading
//! single models without one. Versions 2 and 3 still load and serve; they have no
//! training profile, and the monitor says it cannot compute PSI for them. A reader
//! refuses any other version, a blend in a version 2 artifact, a training profile
//! below version 4, and a model kind it does not know, by name.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calibration::{Calibration, CostReport, DecisionPolicy, Outcome, ReliabilityBin};
use crate::drift::TrainingProfile;
use crate::features::{FeatureVector, FEATURE_NAMES, FEATURE_PIPELINE_VERSION};
use crate::metrics::SliceReport;
use crate::model::{AttributionSpace, Forest, Learner};
use crate::selection::{Candidate, TimeSplit};

/// One reason code: a feature that pushed the score up, by how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Feature name (see `fraud_core::features`).
    pub feature: String,
    /// The feature's value for this payment.
    pub value: f64,
    /// Its contribution to the raw score (path attribution).
    pub contribution: f64,
    /// Unit of `contribution`: `probability` (forests) or `log_odds` (boosted trees).
    pub unit: String,
}

/// Value of the `format` field.
pub const ARTIFACT_FORMAT: &str = "fraud-model";
/// Version of the artifact layout; bumped on any incompatible change. The newest this
/// build writes (with a training profile); without one, single models are written as
/// [`SCHEMA_VERSION_SINGLE`] and blends as [`SCHEMA_VERSION_BLEND`].
pub const SCHEMA_VERSION: u32 = 4;
/// Version of artifacts holding a blend and no training profile.
pub const SCHEMA_VERSION_BLEND: u32 = 3;
/// Version of artifacts holding a single tree ensemble (no blend).
pub const SCHEMA_VERSION_SINGLE: u32 = 2;
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
        "artifact schema version {found} is not supported (this build reads {SCHEMA_VERSION_SINGLE} and {SCHEMA_VERSION})"
    )]
    SchemaVersion { found: u32 },
    #[error("artifact schema version {found} cannot hold a `blend` model (blends need version {SCHEMA_VERSION_BLEND})")]
    BlendNeedsVersion { found: u32 },
    #[error("artifact schema version {found} cannot hold a training profile (it needs version {SCHEMA_VERSION})")]
    ProfileNeedsVersion { found: u32 },
    #[error("artifact training profile is invalid: {0}")]
    Profile(String),
    #[error("artifact was trained with feature pipeline v{found}; this build computes v{FEATURE_PIPELINE_VERSION}")]
    PipelineVersion { found: u32 },
    #[error("artifact expects features {found:?}, this build computes a different list")]
    FeatureMismatch { found: Vec<String> },
    #[error("artifact threshold {0} is not a probability")]
    Threshold(f64),
    #[error("artifact model kind `{found}` is unknown to this build (it knows {known})")]
    UnknownModelKind { found: String, known: String },
    #[error("artifact calibration or decision policy is invalid: {0}")]
    Policy(String),
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
    pub candidates: Vec<Candidate>,
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
    /// Raw model score → fraud probability (Platt scaling fitted on validation).
    pub calibration: Calibration,
    /// approve / review / block thresholds on the calibrated probability. Its
    /// `review_threshold` equals `threshold`: everything at or above it is alerted.
    pub policy: DecisionPolicy,
    /// Global importance of each feature (mean |attribution| on the validation slice,
    /// summing to 1), in feature order; empty when not computed.
    pub feature_importance: Vec<(String, f64)>,
    /// Calibration and cost checks on held-back slices (absent when not computed).
    pub evaluation: Option<Evaluation>,
    /// The training distribution the monitor measures drift against (schema v4; absent
    /// in older artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_profile: Option<TrainingProfile>,
}

/// How the calibrated model and its policy do on held-back slices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Brier score of the raw scores on the test slice.
    pub test_brier_raw: f64,
    /// Brier score of the calibrated probabilities on the test slice.
    pub test_brier: f64,
    /// Expected frauds (Σ probability) and observed frauds on the test slice.
    pub test_expected_frauds: f64,
    pub test_observed_frauds: u64,
    /// Reliability diagram of the test slice.
    pub test_reliability: Vec<ReliabilityBin>,
    /// What the policy costs on the validation slice (where it was chosen) and the test slice.
    pub validation_cost: CostReport,
    pub test_cost: CostReport,
}

/// Everything the scorer needs to know about one payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Calibrated fraud probability.
    pub probability: f64,
    pub outcome: Outcome,
    /// Top features pushing the score up (empty for approved payments).
    pub reasons: Vec<Reason>,
}

/// Reason codes given per alerted payment.
pub const REASONS_PER_ALERT: usize = 3;

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
            schema_version: if model.params.learner == Learner::Blend {
                SCHEMA_VERSION_BLEND
            } else {
                SCHEMA_VERSION_SINGLE
            },
            feature_pipeline_version: FEATURE_PIPELINE_VERSION,
            version: format!("{}-{hash}", created_at.format("%Y%m%dT%H%M%SZ")),
            created_at,
            feature_names: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
            threshold,
            metrics,
            training,
            model,
            calibration: Calibration::IDENTITY,
            policy: DecisionPolicy::single(threshold),
            feature_importance: Vec::new(),
            evaluation: None,
            training_profile: None,
        }
    }

    /// Adds the training distribution (and the schema version that holds it).
    pub fn with_training_profile(mut self, profile: TrainingProfile) -> Self {
        self.training_profile = Some(profile);
        self.schema_version = SCHEMA_VERSION;
        self
    }

    /// Adds the calibration and the decision policy (whose review threshold becomes
    /// `threshold`).
    pub fn with_policy(mut self, calibration: Calibration, policy: DecisionPolicy) -> Self {
        self.calibration = calibration;
        self.threshold = policy.review_threshold;
        self.policy = policy;
        self
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
            model: ModelHeader,
        }
        #[derive(Deserialize)]
        struct ModelHeader {
            params: ParamsHeader,
        }
        #[derive(Deserialize)]
        struct ParamsHeader {
            learner: String,
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
        if !(SCHEMA_VERSION_SINGLE..=SCHEMA_VERSION).contains(&header.schema_version) {
            return Err(ArtifactError::SchemaVersion {
                found: header.schema_version,
            });
        }
        if header.feature_pipeline_version != FEATURE_PIPELINE_VERSION {
            return Err(ArtifactError::PipelineVersion {
                found: header.feature_pipeline_version,
            });
        }
        let kind = header.model.params.learner;
        if !Learner::ALL.iter().any(|l| l.as_str() == kind) {
            return Err(ArtifactError::UnknownModelKind {
                found: kind,
                known: Learner::ALL
                    .iter()
                    .map(|l| format!("`{}`", l.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if kind == Learner::Blend.as_str() && header.schema_version < SCHEMA_VERSION_BLEND {
            return Err(ArtifactError::BlendNeedsVersion {
                found: header.schema_version,
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
        if let Some(profile) = &artifact.training_profile {
            if artifact.schema_version < SCHEMA_VERSION {
                return Err(ArtifactError::ProfileNeedsVersion {
                    found: artifact.schema_version,
                });
            }
            profile.validate().map_err(ArtifactError::Profile)?;
        }
        artifact
            .calibration
            .validate()
            .and_then(|()| artifact.policy.validate())
            .map_err(ArtifactError::Policy)?;
        Ok(artifact)
    }

    /// Calibrated fraud probability of one feature vector.
    pub fn score(&self, features: &FeatureVector) -> f64 {
        self.calibration.apply(self.model.predict(features))
    }

    /// Calibrated fraud probabilities of many feature vectors (in parallel).
    pub fn score_many(&self, features: &[FeatureVector]) -> Vec<f64> {
        self.model
            .predict_many(features)
            .into_iter()
            .map(|raw| self.calibration.apply(raw))
            .collect()
    }

    /// The `k` features pushing this payment's score up the most, by path attribution
    /// ([`Forest::explain`]); contributions are in probability (forests) or log-odds
    /// (boosted trees) of the raw score, before calibration, which is monotone; a blend
    /// gives them in its averaging space (calibrated log-odds by default).
    pub fn reasons(&self, features: &FeatureVector, k: usize) -> Vec<Reason> {
        let attribution = self.model.explain(features);
        let unit = match attribution.space {
            AttributionSpace::Probability => "probability",
            AttributionSpace::LogOdds => "log_odds",
        };
        attribution
            .top_positive(k)
            .into_iter()
            .map(|(f, contribution)| Reason {
                feature: FEATURE_NAMES[f].to_owned(),
                value: features[f],
                contribution,
                unit: unit.to_owned(),
            })
            .collect()
    }

    /// Calibrated fraud probabilities of a batch on this thread, through the forest's
    /// batch layout: the same values as [`ModelArtifact::score`] one by one, faster.
    pub fn score_batch(&self, features: &[FeatureVector]) -> Vec<f64> {
        let mut scores = self.model.predict_batch(features);
        for s in &mut scores {
            *s = self.calibration.apply(*s);
        }
        scores
    }

    /// [`ModelArtifact::assess`] of every payment of a batch (scores from
    /// [`ModelArtifact::score_batch`]).
    pub fn assess_batch(&self, features: &[FeatureVector]) -> Vec<Assessment> {
        self.score_batch(features)
            .into_iter()
            .zip(features)
            .map(|(probability, f)| self.assess_scored(f, probability))
            .collect()
    }

    /// Probability, outcome and (for alerts) reason codes of one payment.
    pub fn assess(&self, features: &FeatureVector) -> Assessment {
        self.assess_scored(features, self.score(features))
    }

    fn assess_scored(&self, features: &FeatureVector, probability: f64) -> Assessment {
        let outcome = self.policy.outcome(probability);
        let reasons = if outcome == Outcome::Approve {
            Vec::new()
        } else {
            self.reasons(features, REASONS_PER_ALERT)
        };
        Assessment {
            probability,
            outcome,
            reasons,
        }
    }
}

/// Hex SHA-256 of some bytes (training data hashes).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
