//! The model's parameters, as the artifact records them (`model.params`): which learner
//! grows the trees ([`Learner`]), the forest's and boosting's hyper-parameters
//! ([`ForestParams`], [`GbmParams`]) and what a blend is made of ([`BlendParams`]); and
//! the errors of fitting ([`FitError`]). Re-exported from [`crate::model`], the paths
//! they are known by.

use serde::{Deserialize, Serialize};

use crate::gbm::GbmParams;

/// Which algorithm grows the trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    /// Our histogram CART with per-split feature sampling.
    Cart,
    /// `linfa-trees` decision trees on class-balanced samples.
    LinfaTrees,
    /// Our gradient-boosted trees (logistic loss).
    Gbm,
    /// A blend of calibrated component models (see [`BlendParams`]).
    Blend,
}

impl Learner {
    /// Every learner this build knows, by artifact name.
    pub const ALL: [Learner; 4] = [
        Learner::Cart,
        Learner::LinfaTrees,
        Learner::Gbm,
        Learner::Blend,
    ];

    /// Name in artifacts (`model.params.learner`).
    pub fn as_str(self) -> &'static str {
        match self {
            Learner::Cart => "cart",
            Learner::LinfaTrees => "linfa_trees",
            Learner::Gbm => "gbm",
            Learner::Blend => "blend",
        }
    }

    /// True when trees add up log-odds (boosting) rather than average probabilities.
    pub fn is_boosted(self) -> bool {
        self == Learner::Gbm
    }
}

impl std::fmt::Display for Learner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Learner::Cart => "cart",
            Learner::LinfaTrees => "linfa-trees",
            Learner::Gbm => "gbm",
            Learner::Blend => "blend",
        })
    }
}

/// Hyper-parameters of the forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Tree learner.
    pub learner: Learner,
    /// Number of trees.
    pub n_trees: usize,
    /// Maximum depth of a tree.
    pub max_depth: usize,
    /// Minimum number of rows in a leaf.
    pub min_leaf: usize,
    /// CART: features tried at each split (default 12, about a quarter of the 47: with
    /// the sparser v2 features, √47 ≈ 6 lost ~0.03 test PR-AUC on the fixture).
    pub max_features: usize,
    /// CART: rows drawn (with replacement) per tree; `None` = as many as there are rows.
    pub max_samples: Option<usize>,
    /// linfa-trees: legitimate rows drawn per fraud row for each tree (class balance).
    pub negatives_per_positive: f64,
    /// linfa-trees: fraction of the features each tree may split on.
    pub feature_fraction: f64,
    /// Seed; the same seed and data give the same forest.
    pub seed: u64,
    /// Gradient boosting only (see [`GbmParams`]).
    #[serde(default)]
    pub gbm: GbmParams,
    /// Blends only: the components and how they are combined (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend: Option<BlendParams>,
}

/// The space in which a blend averages its components' calibrated outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlendSpace {
    /// `p = σ(Σ wₖ · zₖ)`, `zₖ = aₖ · logit(rawₖ) + bₖ` (calibrated log-odds).
    LogOdds,
    /// `p = Σ wₖ · σ(zₖ)` (calibrated probabilities).
    Probability,
}

/// How a blend's weights are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlendWeighting {
    /// Every component weighs the same.
    Equal,
    /// Two components: the weight of the first in {0, 0.1, …, 1} with the best PR-AUC on
    /// the validation slice (ties go to the weight nearest ½).
    Validation,
}

/// What a [`Learner::Blend`] is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendParams {
    /// The component models (none of them a blend).
    pub components: Vec<ForestParams>,
    pub space: BlendSpace,
    pub weighting: BlendWeighting,
}

impl ForestParams {
    /// The gradient-boosting candidate: leaf-wise trees of at most 31 leaves and depth 8,
    /// at least 20 rows per leaf, other settings from [`GbmParams::default`].
    pub fn gbm(seed: u64) -> Self {
        ForestParams {
            learner: Learner::Gbm,
            max_depth: 8,
            min_leaf: 20,
            seed,
            ..ForestParams::default()
        }
    }

    /// A blend of `components` (each fitted with its own parameters); `seed` is the
    /// blend's own record of the run's seed, the components keep theirs.
    pub fn blend(
        components: Vec<ForestParams>,
        space: BlendSpace,
        weighting: BlendWeighting,
        seed: u64,
    ) -> Self {
        ForestParams {
            learner: Learner::Blend,
            seed,
            blend: Some(BlendParams {
                components,
                space,
                weighting,
            }),
            ..ForestParams::default()
        }
    }
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            learner: Learner::Cart,
            n_trees: 300,
            max_depth: 30,
            min_leaf: 2,
            max_features: 12,
            max_samples: None,
            negatives_per_positive: 8.0,
            feature_fraction: 0.6,
            seed: 42,
            gbm: GbmParams::default(),
            blend: None,
        }
    }
}

/// Errors from fitting.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("cannot train: the training slice has {frauds} frauds and {legit} legitimate rows; both classes are needed")]
    OneClass { frauds: usize, legit: usize },
    #[error("invalid parameter: {0}")]
    Params(String),
    #[error("linfa-trees failed to fit a tree: {0}")]
    Linfa(String),
}
