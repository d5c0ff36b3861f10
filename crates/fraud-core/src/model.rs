//! The fraud model: a random forest with class-balanced sampling, flattened into a
//! compact array form for fast scoring. Two learners grow the trees:
//!
//! - [`Learner::LinfaTrees`]: each tree is fitted by `linfa-trees` on a bootstrap of
//!   the frauds plus a fixed multiple of randomly drawn legitimate rows, over a random
//!   subset of the features (`linfa-ensemble` as it is votes labels, so it cannot rank,
//!   and cannot rebalance a 0.5% class). The fitted tree is copied into the flat form and
//!   each leaf gets the fraud probability of the training rows that reach it, corrected
//!   for the undersampling of legitimate rows.
//! - [`Learner::Cart`]: our own histogram CART ([`crate::cart`]), Breiman-style: a
//!   bootstrap of all rows with balanced class weights and a new random feature subset
//!   at every split.
//!
//! Either way the forest's output is the mean of leaf probabilities, not a vote count.

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::{FeatureVector, N_FEATURES};

/// Which algorithm grows the trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    /// Our histogram CART with per-split feature sampling.
    Cart,
    /// `linfa-trees` decision trees on class-balanced samples.
    LinfaTrees,
}

impl std::fmt::Display for Learner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Learner::Cart => "cart",
            Learner::LinfaTrees => "linfa-trees",
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
    /// CART: features tried at each split (√37 ≈ 6, as scikit-learn's "sqrt").
    pub max_features: usize,
    /// CART: rows drawn (with replacement) per tree; `None` = as many as there are rows.
    pub max_samples: Option<usize>,
    /// linfa-trees: legitimate rows drawn per fraud row for each tree (class balance).
    pub negatives_per_positive: f64,
    /// linfa-trees: fraction of the features each tree may split on.
    pub feature_fraction: f64,
    /// Seed; the same seed and data give the same forest.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            learner: Learner::Cart,
            n_trees: 300,
            max_depth: 30,
            min_leaf: 2,
            max_features: 6,
            max_samples: None,
            negatives_per_positive: 8.0,
            feature_fraction: 0.6,
            seed: 42,
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

const LEAF: u16 = u16::MAX;
const FRAUD_TIE_WEIGHT: f32 = 1.000_013;

/// One tree in flat form: node `i` splits on `feature[i]` at `threshold[i]`
/// (`x ≤ threshold` goes left) or, when `feature[i] == LEAF`, is a leaf whose fraud
/// probability is `value[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlatTree {
    feature: Vec<u16>,
    threshold: Vec<f64>,
    left: Vec<u32>,
    right: Vec<u32>,
    value: Vec<f32>,
}

impl FlatTree {
    /// A tree of one leaf, to be grown with [`FlatTree::split`].
    pub(crate) fn leaf_only() -> Self {
        FlatTree {
            feature: vec![LEAF],
            threshold: vec![0.0],
            left: vec![0],
            right: vec![0],
            value: vec![0.0],
        }
    }

    /// Makes `node` a leaf with probability `value`.
    pub(crate) fn set_leaf(&mut self, node: usize, value: f64) {
        self.feature[node] = LEAF;
        self.value[node] = value as f32;
    }

    /// Splits `node` on `feature ≤ threshold`; returns the new (left, right) leaves.
    pub(crate) fn split(&mut self, node: usize, feature: usize, threshold: f64) -> (usize, usize) {
        let left = self.feature.len();
        for _ in 0..2 {
            self.feature.push(LEAF);
            self.threshold.push(0.0);
            self.left.push(0);
            self.right.push(0);
            self.value.push(0.0);
        }
        self.feature[node] = feature as u16;
        self.threshold[node] = threshold;
        self.left[node] = left as u32;
        self.right[node] = left as u32 + 1;
        (left, left + 1)
    }

    /// The index of the leaf `x` falls into.
    fn leaf_of(&self, x: &[f64]) -> usize {
        let mut node = 0usize;
        loop {
            let f = self.feature[node];
            if f == LEAF {
                return node;
            }
            node = if x[f as usize] <= self.threshold[node] {
                self.left[node] as usize
            } else {
                self.right[node] as usize
            };
        }
    }

    /// Fraud probability of `x`.
    pub fn predict(&self, x: &[f64]) -> f64 {
        f64::from(self.value[self.leaf_of(x)])
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.feature.len()
    }

    /// True for a tree without nodes (never produced by fitting).
    pub fn is_empty(&self) -> bool {
        self.feature.is_empty()
    }

    /// Checks that the structure is well formed (used when loading an artifact).
    pub fn validate(&self, n_features: usize) -> Result<(), String> {
        let n = self.feature.len();
        if n == 0
            || self.threshold.len() != n
            || self.left.len() != n
            || self.right.len() != n
            || self.value.len() != n
        {
            return Err("tree arrays have inconsistent lengths".into());
        }
        for i in 0..n {
            if self.feature[i] == LEAF {
                if !(0.0..=1.0).contains(&self.value[i]) {
                    return Err(format!(
                        "leaf {i} has probability {} outside 0..=1",
                        self.value[i]
                    ));
                }
                continue;
            }
            if self.feature[i] as usize >= n_features {
                return Err(format!(
                    "node {i} splits on feature {} of {n_features}",
                    self.feature[i]
                ));
            }
            // Children always come after their parent, so walking cannot loop.
            for child in [self.left[i], self.right[i]] {
                if child as usize <= i || child as usize >= n {
                    return Err(format!("node {i} has an invalid child {child}"));
                }
            }
        }
        Ok(())
    }

    fn from_linfa(root: &TreeNode<f64, usize>, columns: &[usize]) -> Self {
        let mut tree = FlatTree {
            feature: Vec::new(),
            threshold: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            value: Vec::new(),
        };
        tree.push(root, columns);
        tree
    }

    fn push(&mut self, node: &TreeNode<f64, usize>, columns: &[usize]) -> u32 {
        let id = self.feature.len();
        self.feature.push(LEAF);
        self.threshold.push(0.0);
        self.left.push(0);
        self.right.push(0);
        self.value.push(0.0);
        let children = node.children();
        if let (false, Some(left), Some(right)) = (node.is_leaf(), children[0], children[1]) {
            let (feature, threshold, _) = node.split();
            self.feature[id] = columns[feature] as u16;
            self.threshold[id] = threshold;
            self.left[id] = self.push(left, columns);
            self.right[id] = self.push(right, columns);
        }
        id as u32
    }
}

fn fit_cart(
    x: &[FeatureVector],
    y: &[bool],
    params: &ForestParams,
    on_tree: &(dyn Fn() + Sync),
) -> Vec<FlatTree> {
    let bins = crate::cart::Bins::fit(x);
    let binned = bins.transform(x);
    let settings = crate::cart::TreeSettings {
        max_depth: params.max_depth,
        min_leaf: params.min_leaf,
        max_features: params.max_features,
        samples: params.max_samples.unwrap_or(x.len()).min(x.len()).max(1),
    };
    (0..params.n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = tree_rng(params.seed, t);
            let tree = crate::cart::fit_tree(&binned, &bins, y, &settings, &mut rng);
            on_tree();
            tree
        })
        .collect()
}

fn tree_rng(seed: u64, tree: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_add(tree as u64 * 0x9E37_79B9))
}

/// The fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub params: ForestParams,
    pub trees: Vec<FlatTree>,
}

impl Forest {
    /// Fits a forest on rows `x` with labels `y`; `on_tree` is called after each tree
    /// (from worker threads) for progress reporting.
    pub fn fit(
        x: &[FeatureVector],
        y: &[bool],
        params: &ForestParams,
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<Self, FitError> {
        assert_eq!(x.len(), y.len(), "one label per row");
        if params.n_trees == 0
            || params.min_leaf == 0
            || params.max_features == 0
            || params.max_features > N_FEATURES
            || !(params.feature_fraction > 0.0 && params.feature_fraction <= 1.0)
        {
            return Err(FitError::Params(format!(
                "need n_trees > 0, min_leaf > 0, max_features in 1..={N_FEATURES} and feature_fraction in (0, 1]; got {}, {}, {} and {}",
                params.n_trees, params.min_leaf, params.max_features, params.feature_fraction
            )));
        }
        let positives: Vec<usize> = (0..y.len()).filter(|&i| y[i]).collect();
        let negatives: Vec<usize> = (0..y.len()).filter(|&i| !y[i]).collect();
        if positives.is_empty() || negatives.is_empty() {
            return Err(FitError::OneClass {
                frauds: positives.len(),
                legit: negatives.len(),
            });
        }
        if params.learner == Learner::Cart {
            return Ok(Forest {
                params: params.clone(),
                trees: fit_cart(x, y, params, on_tree),
            });
        }
        let n_neg = ((positives.len() as f64 * params.negatives_per_positive).round() as usize)
            .clamp(1, negatives.len());
        // Odds correction for drawing only n_neg of the negatives (all positives, with replacement).
        let negative_rate = (n_neg as f64 / negatives.len() as f64).min(1.0);
        let n_cols =
            ((N_FEATURES as f64 * params.feature_fraction).ceil() as usize).clamp(1, N_FEATURES);

        let trees = (0..params.n_trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = tree_rng(params.seed, t);
                let mut rows: Vec<usize> = (0..positives.len())
                    .map(|_| positives[rng.random_range(0..positives.len())])
                    .collect();
                rows.extend(
                    sample(&mut rng, negatives.len(), n_neg)
                        .into_iter()
                        .map(|i| negatives[i]),
                );
                let mut columns: Vec<usize> = sample(&mut rng, N_FEATURES, n_cols).into_vec();
                columns.sort_unstable();

                let records = Array2::from_shape_fn((rows.len(), columns.len()), |(r, c)| {
                    x[rows[r]][columns[c]]
                });
                let targets = Array1::from_iter(rows.iter().map(|&r| usize::from(y[r])));
                // linfa-trees breaks exact class ties by hash-map order, which would make
                // fitting non-deterministic; a tiny extra weight on frauds rules ties out.
                let weights =
                    Array1::from_iter(
                        rows.iter()
                            .map(|&r| if y[r] { FRAUD_TIE_WEIGHT } else { 1.0 }),
                    );
                let dataset = Dataset::new(records, targets).with_weights(weights);
                let fitted = DecisionTree::params()
                    .split_quality(SplitQuality::Gini)
                    .max_depth(Some(params.max_depth))
                    .min_weight_leaf(params.min_leaf as f32)
                    .min_weight_split(2.0 * params.min_leaf as f32)
                    .fit(&dataset)
                    .map_err(|e| FitError::Linfa(e.to_string()))?;
                let mut tree = FlatTree::from_linfa(fitted.root_node(), &columns);

                // Leaf probabilities from the rows that trained the tree.
                let mut frauds = vec![0.0f64; tree.len()];
                let mut totals = vec![0.0f64; tree.len()];
                for &r in &rows {
                    let leaf = tree.leaf_of(&x[r]);
                    totals[leaf] += 1.0;
                    if y[r] {
                        frauds[leaf] += 1.0;
                    }
                }
                for leaf in 0..tree.len() {
                    if tree.feature[leaf] == LEAF && totals[leaf] > 0.0 {
                        let p = frauds[leaf] / totals[leaf];
                        let corrected = negative_rate * p / (negative_rate * p + 1.0 - p);
                        tree.value[leaf] = corrected as f32;
                    }
                }
                on_tree();
                Ok(tree)
            })
            .collect::<Result<Vec<_>, FitError>>()?;
        Ok(Forest {
            params: params.clone(),
            trees,
        })
    }

    /// Fraud probability of one row: the mean of the trees' leaf probabilities.
    pub fn predict(&self, x: &FeatureVector) -> f64 {
        self.trees.iter().map(|t| t.predict(x)).sum::<f64>() / self.trees.len() as f64
    }

    /// Fraud probabilities of many rows, in parallel.
    pub fn predict_many(&self, xs: &[FeatureVector]) -> Vec<f64> {
        xs.par_iter()
            .with_min_len(1024)
            .map(|x| self.predict(x))
            .collect()
    }

    /// Checks every tree (used when loading an artifact).
    pub fn validate(&self) -> Result<(), String> {
        if self.trees.is_empty() {
            return Err("the forest has no trees".into());
        }
        self.trees
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| t.validate(N_FEATURES).map_err(|e| format!("tree {i}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows where fraud ⇔ feature 0 > 0.5 and feature 3 > 0.5, plus noise features.
    fn toy(n: usize, seed: u64) -> (Vec<FeatureVector>, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let mut row = [0.0; N_FEATURES];
            for v in row.iter_mut() {
                *v = rng.random::<f64>();
            }
            let fraud = row[0] > 0.5 && row[3] > 0.5 && rng.random::<f64>() < 0.1;
            y.push(fraud);
            x.push(row);
        }
        (x, y)
    }

    fn small() -> ForestParams {
        ForestParams {
            n_trees: 20,
            feature_fraction: 1.0,
            max_depth: 12,
            ..ForestParams::default()
        }
    }

    fn linfa() -> ForestParams {
        ForestParams {
            learner: Learner::LinfaTrees,
            ..small()
        }
    }

    #[test]
    fn both_learners_rank_frauds_above_legitimate_rows() {
        let (x, y) = toy(4000, 1);
        let (tx, ty) = toy(2000, 2);
        for params in [small(), linfa()] {
            let forest = Forest::fit(&x, &y, &params, &|| {}).unwrap();
            let scores = forest.predict_many(&tx);
            let auc = crate::metrics::roc_auc(&ty, &scores);
            assert!(auc > 0.8, "{}: ROC-AUC {auc}", params.learner);
            assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        }
    }

    #[test]
    fn cart_finds_splits_on_tied_one_hot_values_below_the_root() {
        // Fraud iff two binary features are both set: needs a split on a tied value
        // below the root, which linfa-trees 0.8.1 misses.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..4000 {
            let mut row = [0.0; N_FEATURES];
            row[9] = f64::from(rng.random_bool(0.3));
            row[10] = f64::from(rng.random_bool(0.3));
            row[0] = rng.random::<f64>();
            y.push(row[9] == 1.0 && row[10] == 1.0 && rng.random_bool(0.5));
            x.push(row);
        }
        let forest = Forest::fit(
            &x,
            &y,
            &ForestParams {
                max_features: N_FEATURES,
                ..small()
            },
            &|| {},
        )
        .unwrap();
        let mut both = [0.0; N_FEATURES];
        both[9] = 1.0;
        both[10] = 1.0;
        let mut one = both;
        one[10] = 0.0;
        assert!(forest.predict(&both) > 0.3, "{}", forest.predict(&both));
        assert!(forest.predict(&one) < 0.05, "{}", forest.predict(&one));
    }

    #[test]
    fn same_seed_gives_the_same_forest() {
        let (x, y) = toy(1000, 3);
        for params in [small(), linfa()] {
            let a = Forest::fit(&x, &y, &params, &|| {}).unwrap();
            let b = Forest::fit(&x, &y, &params, &|| {}).unwrap();
            assert_eq!(a, b);
            assert!(a.validate().is_ok());
        }
    }

    #[test]
    fn refuses_a_single_class() {
        let (x, _) = toy(100, 4);
        let err = Forest::fit(&x, &[false; 100], &small(), &|| {}).unwrap_err();
        assert!(err.to_string().contains("0 frauds"), "{err}");
    }

    #[test]
    fn validate_catches_a_child_pointing_backwards() {
        let (x, y) = toy(1000, 5);
        let mut forest = Forest::fit(&x, &y, &small(), &|| {}).unwrap();
        let tree = &mut forest.trees[0];
        if let Some(i) = tree.feature.iter().position(|f| *f != LEAF) {
            tree.left[i] = 0;
            assert!(forest.validate().is_err());
        }
    }
}
