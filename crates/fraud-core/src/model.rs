//! The fraud model: an ensemble of trees flattened into a compact array form for fast
//! scoring, either a random forest with class-balanced sampling or gradient-boosted
//! trees. Three learners grow the trees:
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
//! - [`Learner::Gbm`]: our gradient-boosted trees ([`crate::gbm`]): logistic loss,
//!   leaf-wise histogram regression trees, shrinkage, early stopping on validation.
//! - [`Learner::Blend`]: no trees of its own; two or more of the above (components),
//!   each with its own Platt calibration fitted on validation, combined by a weighted
//!   mean of their calibrated log-odds or probabilities ([`BlendParams`]).
//!
//! A forest's output is the mean of leaf probabilities, not a vote count; boosted trees
//! output the logistic of the sum of their leaf values (log-odds). Every node of every
//! tree keeps a value, so a score can be explained by path attribution
//! ([`Forest::explain`], Saabas): the contributions of the features met on each tree's
//! path add up exactly to the score minus the model's base value.
//!
//! The parts live by job: the flat tree format in [`crate::tree`], the parameters
//! ([`Learner`], [`ForestParams`], [`BlendParams`], [`FitError`]) in `params.rs`
//! (re-exported here), blending (fitting, output, attribution and checks of a blend) in
//! `blend.rs` as methods of [`Forest`]. This file keeps the model itself: fitting, scoring
//! and path attribution.

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality};
use ndarray::{Array1, Array2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::compiled::CompiledForest;
use crate::features::{FeatureVector, FEATURE_NAMES, N_FEATURES};
use crate::gbm::{sigmoid, GbmSettings};
pub use crate::gbm::{GbmParams, StopMetric};
pub use crate::params::{BlendParams, BlendSpace, BlendWeighting, FitError, ForestParams, Learner};
use crate::tree::FlatTree;

/// linfa-trees: the weight of a fraud row, a hair above a legitimate row's, so that exact
/// class ties never reach linfa's hash-map order (see [`Forest::fit_validated`]).
const FRAUD_TIE_WEIGHT: f32 = 1.000_013;

/// One fitted component of a blend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendComponent {
    pub model: Forest,
    /// Platt scaling of this component's raw score (fitted on validation).
    pub calibration: Calibration,
    /// Weight in the mean; the weights of a blend add up to 1.
    pub weight: f64,
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

/// Below this many rows [`Forest::predict_batch`] walks row by row.
const BATCH_LAYOUT_MIN_ROWS: usize = 4;

/// The fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub params: ForestParams,
    /// The trees (none in a blend).
    pub trees: Vec<FlatTree>,
    /// Blends only: the calibrated, weighted component models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<BlendComponent>,
    /// The batch layout, built on first use (not serialized).
    #[serde(skip)]
    pub compiled: CompiledCache,
}

/// A lazily built [`CompiledForest`]; every cache equals every other (it is derived
/// from the trees, which `Forest`'s equality compares).
#[derive(Debug, Clone, Default)]
pub struct CompiledCache(std::sync::OnceLock<Option<std::sync::Arc<CompiledForest>>>);

impl PartialEq for CompiledCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Why a model gave the score it gave: per-feature contributions by path attribution
/// (Saabas), in the model's additive space ([`Attribution::space`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// The model's value before looking at any feature (mean root value of a forest;
    /// base log-odds of boosted trees).
    pub base: f64,
    /// One contribution per feature, in [`FEATURE_NAMES`] order.
    pub contributions: [f64; N_FEATURES],
    /// `base + Σ contributions`: the raw score (forest) or the log-odds (boosting).
    pub output: f64,
    /// What `base`, `contributions` and `output` are measured in.
    pub space: AttributionSpace,
}

/// Units of an [`Attribution`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionSpace {
    /// Probability (a forest: mean of leaf probabilities).
    Probability,
    /// Log-odds (boosted trees: the margin before the logistic).
    LogOdds,
}

impl Attribution {
    /// The `k` features that push the score up the most (positive contributions only),
    /// largest first; ties keep feature order.
    pub fn top_positive(&self, k: usize) -> Vec<(usize, f64)> {
        let mut order: Vec<(usize, f64)> = self
            .contributions
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, c)| *c > 0.0)
            .collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        order.truncate(k);
        order
    }
}

impl Forest {
    /// Fits a forest on rows `x` with labels `y`; `on_tree` is called after each tree
    /// (from worker threads) for progress reporting. Boosting runs without early stopping.
    pub fn fit(
        x: &[FeatureVector],
        y: &[bool],
        params: &ForestParams,
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<Self, FitError> {
        Self::fit_validated(x, y, None, params, on_tree)
    }

    /// As [`Forest::fit`]; boosting also stops early on the PR-AUC of `validation`
    /// (rows, labels) when given.
    pub fn fit_validated(
        x: &[FeatureVector],
        y: &[bool],
        validation: Option<(&[FeatureVector], &[bool])>,
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
        if params.learner == Learner::Blend {
            let spec = params
                .blend
                .as_ref()
                .ok_or_else(|| FitError::Params("a blend needs its components (`blend`)".into()))?;
            let components = spec
                .components
                .iter()
                .map(|c| {
                    if c.learner == Learner::Blend {
                        return Err(FitError::Params("a blend cannot contain a blend".into()));
                    }
                    Self::fit_validated(x, y, validation, c, on_tree)
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Self::blend_of(params, components, validation);
        }
        if params.learner == Learner::Gbm {
            let g = &params.gbm;
            if !(g.learning_rate > 0.0
                && g.max_leaves >= 2
                && g.lambda >= 0.0
                && g.subsample > 0.0
                && g.subsample <= 1.0
                && g.colsample > 0.0
                && g.colsample <= 1.0
                && g.scale_pos_weight.is_none_or(|w| w > 0.0)
                && g.max_rounds > 0
                && params.max_depth > 0)
            {
                return Err(FitError::Params(format!(
                    "boosting needs learning_rate > 0, max_leaves >= 2, lambda >= 0, subsample and colsample in (0, 1], scale_pos_weight > 0, max_rounds > 0 and max_depth > 0; got {g:?} and max_depth {}",
                    params.max_depth
                )));
            }
            let settings = GbmSettings {
                params: g,
                max_depth: params.max_depth,
                min_leaf: params.min_leaf,
                seed: params.seed,
            };
            let trees = crate::gbm::fit(x, y, validation, &settings, on_tree);
            // The model records the number of bagged models it used, not "automatic"
            // (a blend of it adopts that number: see `blend_of`).
            let mut params = params.clone();
            params.gbm.bags = crate::gbm::auto_bags(g.bags, x.len());
            return Ok(Forest {
                params,
                trees,
                components: Vec::new(),
                compiled: CompiledCache::default(),
            });
        }
        if params.learner == Learner::Cart {
            return Ok(Forest {
                params: params.clone(),
                trees: fit_cart(x, y, params, on_tree),
                components: Vec::new(),
                compiled: CompiledCache::default(),
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

                // Node probabilities (leaves and inner nodes) from the rows that trained the tree.
                let mut frauds = vec![0.0f64; tree.len()];
                let mut totals = vec![0.0f64; tree.len()];
                for &r in &rows {
                    let mut node = 0usize;
                    loop {
                        totals[node] += 1.0;
                        if y[r] {
                            frauds[node] += 1.0;
                        }
                        let Some((feature, threshold, left, right)) = tree.split_of(node) else {
                            break;
                        };
                        node = if x[r][feature] <= threshold {
                            left
                        } else {
                            right
                        };
                    }
                }
                for node in 0..tree.len() {
                    if totals[node] > 0.0 {
                        let p = frauds[node] / totals[node];
                        let corrected = negative_rate * p / (negative_rate * p + 1.0 - p);
                        tree.set_value(node, corrected);
                    }
                }
                on_tree();
                Ok(tree)
            })
            .collect::<Result<Vec<_>, FitError>>()?;
        Ok(Forest {
            params: params.clone(),
            trees,
            components: Vec::new(),
            compiled: CompiledCache::default(),
        })
    }

    /// Raw fraud score of one row: the mean of the trees' leaf probabilities (forest),
    /// or the logistic of the sum of leaf log-odds (boosting). Not calibrated: see
    /// [`crate::calibration`] for the probability the artifact reports.
    pub fn predict(&self, x: &FeatureVector) -> f64 {
        if self.params.learner == Learner::Blend {
            return self.blend_output(self.components.iter().map(|c| c.model.predict(x)));
        }
        let sum = self.trees.iter().map(|t| t.predict(x)).sum::<f64>();
        if self.params.learner.is_boosted() {
            sigmoid(sum)
        } else {
            sum / self.trees.len() as f64
        }
    }

    /// Path attribution (Saabas) of one row's score over every tree: per-feature
    /// contributions that add up, with the base value, exactly (up to rounding) to the
    /// raw score (forest) or its log-odds (boosting).
    pub fn explain(&self, x: &FeatureVector) -> Attribution {
        if self.params.learner == Learner::Blend {
            return self.explain_blend(x);
        }
        let mut contributions = [0.0; N_FEATURES];
        let mut base = 0.0;
        for tree in &self.trees {
            base += tree.attribute(x, &mut contributions);
        }
        let space = if self.params.learner.is_boosted() {
            AttributionSpace::LogOdds
        } else {
            let n = self.trees.len() as f64;
            base /= n;
            contributions.iter_mut().for_each(|c| *c /= n);
            AttributionSpace::Probability
        };
        let output = base + contributions.iter().sum::<f64>();
        Attribution {
            base,
            contributions,
            output,
            space,
        }
    }

    /// Global feature importance: the mean absolute attribution of each feature over
    /// `xs` (in the model's attribution space), normalised to sum to 1; pairs of
    /// (feature name, importance) in [`FEATURE_NAMES`] order.
    pub fn feature_importance(&self, xs: &[FeatureVector]) -> Vec<(String, f64)> {
        let totals = xs
            .par_iter()
            .with_min_len(256)
            .map(|x| self.explain(x).contributions.map(f64::abs))
            .reduce(
                || [0.0; N_FEATURES],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        let sum: f64 = totals.iter().sum();
        FEATURE_NAMES
            .iter()
            .zip(totals)
            .map(|(name, t)| ((*name).to_owned(), if sum > 0.0 { t / sum } else { 0.0 }))
            .collect()
    }

    /// Raw scores of many rows on this thread, through the batch layout
    /// ([`crate::compiled`]); the same values as [`Forest::predict`] row by row.
    pub fn predict_batch(&self, xs: &[FeatureVector]) -> Vec<f64> {
        if self.params.learner == Learner::Blend {
            // Each component through its own batch layout, then the same combination
            // as `predict`, row by row.
            let raws: Vec<Vec<f64>> = self
                .components
                .iter()
                .map(|c| c.model.predict_batch(xs))
                .collect();
            return (0..xs.len())
                .map(|i| self.blend_output(raws.iter().map(|r| r[i])))
                .collect();
        }
        let compiled = (xs.len() >= BATCH_LAYOUT_MIN_ROWS).then(|| {
            self.compiled
                .0
                .get_or_init(|| CompiledForest::new(&self.trees).map(std::sync::Arc::new))
        });
        let Some(Some(compiled)) = compiled else {
            // The direct walk: too few rows to overlap (it stops at each row's own leaf),
            // or more distinct thresholds on one feature than the layout can bin.
            return xs.iter().map(|x| self.predict(x)).collect();
        };
        let mut sums = compiled.predict_sums(xs);
        let n = self.trees.len() as f64;
        let boosted = self.params.learner.is_boosted();
        for s in &mut sums {
            *s = if boosted { sigmoid(*s) } else { *s / n };
        }
        sums
    }

    /// Raw scores of many rows, in parallel (blocks of 1024 rows per task).
    pub fn predict_many(&self, xs: &[FeatureVector]) -> Vec<f64> {
        xs.par_chunks(1024)
            .flat_map_iter(|chunk| self.predict_batch(chunk))
            .collect()
    }

    /// Checks every tree (used when loading an artifact).
    pub fn validate(&self) -> Result<(), String> {
        if self.params.learner == Learner::Blend {
            return self.validate_blend();
        }
        if !self.components.is_empty() || self.params.blend.is_some() {
            return Err(format!(
                "a `{}` model has blend components; only a blend has them",
                self.params.learner.as_str()
            ));
        }
        if self.trees.is_empty() {
            return Err("the forest has no trees".into());
        }
        self.trees.iter().enumerate().try_for_each(|(i, t)| {
            t.validate(N_FEATURES, !self.params.learner.is_boosted())
                .map_err(|e| format!("tree {i}: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::LEAF;

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

    fn gbm() -> ForestParams {
        ForestParams {
            gbm: GbmParams {
                max_rounds: 60,
                learning_rate: 0.2,
                ..GbmParams::default()
            },
            ..ForestParams::gbm(7)
        }
    }

    fn linfa() -> ForestParams {
        ForestParams {
            learner: Learner::LinfaTrees,
            ..small()
        }
    }

    fn blend(space: BlendSpace, weighting: BlendWeighting) -> ForestParams {
        ForestParams::blend(vec![small(), gbm()], space, weighting, 7)
    }

    /// Every learner, blends in both spaces and weightings included.
    fn every_kind() -> Vec<ForestParams> {
        vec![
            small(),
            linfa(),
            gbm(),
            blend(BlendSpace::LogOdds, BlendWeighting::Equal),
            blend(BlendSpace::Probability, BlendWeighting::Validation),
        ]
    }

    /// Fits with a validation slice (boosting stops early on it, blends calibrate and
    /// weigh on it).
    fn fit_validated(x: &[FeatureVector], y: &[bool], params: &ForestParams) -> Forest {
        let (vx, vy) = toy(1500, 99);
        Forest::fit_validated(x, y, Some((&vx, &vy)), params, &|| {}).unwrap()
    }

    #[test]
    fn both_learners_rank_frauds_above_legitimate_rows() {
        let (x, y) = toy(4000, 1);
        let (tx, ty) = toy(2000, 2);
        for params in every_kind() {
            let forest = fit_validated(&x, &y, &params);
            let scores = forest.predict_many(&tx);
            let auc = crate::metrics::roc_auc(&ty, &scores);
            assert!(auc > 0.8, "{}: ROC-AUC {auc}", params.learner);
            assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        }
    }

    #[test]
    fn batch_layout_gives_the_row_by_row_scores_bit_for_bit() {
        let (x, y) = toy(3000, 5);
        let (mut tx, _) = toy(1000, 6);
        // NaN and infinite features go right in both walks.
        tx[3][0] = f64::NAN;
        tx[4][3] = f64::INFINITY;
        tx[5][3] = f64::NEG_INFINITY;
        for params in every_kind() {
            let forest = fit_validated(&x, &y, &params);
            // 1 row takes the direct walk; 4, 17 and 37 rows leave partial blocks.
            for rows in [&tx[..], &tx[..37], &tx[..17], &tx[..4], &tx[..1]] {
                let one_by_one: Vec<u64> =
                    rows.iter().map(|r| forest.predict(r).to_bits()).collect();
                let batch: Vec<u64> = forest
                    .predict_batch(rows)
                    .iter()
                    .map(|s| s.to_bits())
                    .collect();
                assert_eq!(batch, one_by_one, "{}", params.learner);
            }
            let parallel: Vec<u64> = forest
                .predict_many(&tx)
                .iter()
                .map(|s| s.to_bits())
                .collect();
            let serial: Vec<u64> = tx.iter().map(|r| forest.predict(r).to_bits()).collect();
            assert_eq!(parallel, serial, "{}", params.learner);
            // The layout is not part of the artifact: a reloaded forest equals this one.
            let json = serde_json::to_string(&forest).unwrap();
            let reloaded: Forest = serde_json::from_str(&json).unwrap();
            assert_eq!(reloaded, forest);
            assert_eq!(
                reloaded.predict_batch(&tx[..37]),
                forest.predict_batch(&tx[..37])
            );
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
        for params in every_kind() {
            let a = fit_validated(&x, &y, &params);
            let b = fit_validated(&x, &y, &params);
            assert_eq!(a, b);
            assert!(a.validate().is_ok());
        }
    }

    #[test]
    fn boosting_stops_early_on_validation_and_keeps_the_best_round() {
        let (x, y) = toy(3000, 11);
        let (vx, vy) = toy(1500, 12);
        let params = ForestParams {
            gbm: GbmParams {
                max_rounds: 400,
                learning_rate: 0.3,
                early_stopping_rounds: 10,
                bags: 1,
                ..GbmParams::default()
            },
            ..gbm()
        };
        let stopped = Forest::fit_validated(&x, &y, Some((&vx, &vy)), &params, &|| {}).unwrap();
        assert!(stopped.trees.len() < 400, "{} trees", stopped.trees.len());
        let full = Forest::fit(&x, &y, &params, &|| {}).unwrap();
        assert_eq!(full.trees.len(), 401);
        // The kept rounds are a prefix of the full run (same seed, same draws).
        assert_eq!(stopped.trees[..], full.trees[..stopped.trees.len()]);
    }

    #[test]
    fn bagged_boosting_scores_the_mean_log_odds_of_its_members_each_stopped_early_on_its_own_seed()
    {
        let (x, y) = toy(3000, 21);
        let (vx, vy) = toy(1500, 22);
        let validation = Some((&vx[..], &vy[..]));
        let bagged = ForestParams {
            gbm: GbmParams {
                bags: 3,
                early_stopping_rounds: 10,
                ..gbm().gbm
            },
            ..gbm()
        };
        let model = Forest::fit_validated(&x, &y, validation, &bagged, &|| {}).unwrap();
        let again = Forest::fit_validated(&x, &y, validation, &bagged, &|| {}).unwrap();
        assert_eq!(model, again, "deterministic by seed");
        // Automatic bagging on these 3,000 rows is five models, and the model says so.
        let auto = ForestParams {
            gbm: GbmParams {
                bags: 0,
                ..bagged.gbm.clone()
            },
            ..bagged.clone()
        };
        let auto = Forest::fit_validated(&x, &y, validation, &auto, &|| {}).unwrap();
        assert_eq!(auto.params.gbm.bags, crate::gbm::AUTO_BAGS);
        assert_eq!(model.params.gbm.bags, 3);
        model.validate().unwrap();
        let seeds = crate::gbm::bag_seeds(bagged.seed, 3);
        // The first member is the unbagged model of the same seed.
        assert_eq!(seeds[0], bagged.seed);
        let members: Vec<Forest> = seeds
            .iter()
            .map(|&seed| {
                let one = ForestParams {
                    seed,
                    gbm: GbmParams {
                        bags: 1,
                        ..bagged.gbm.clone()
                    },
                    ..bagged.clone()
                };
                Forest::fit_validated(&x, &y, validation, &one, &|| {}).unwrap()
            })
            .collect();
        assert_ne!(members[0].trees, members[1].trees, "members differ by seed");
        assert_ne!(members[1].trees, members[2].trees, "members differ by seed");
        // One base tree, then every member's own trees (each cut back to its best round).
        assert_eq!(
            model.trees.len(),
            1 + members.iter().map(|m| m.trees.len() - 1).sum::<usize>()
        );
        let margin = |f: &Forest, row: &FeatureVector| -> f64 {
            f.trees.iter().map(|t| t.predict(row)).sum()
        };
        for row in vx.iter().take(300) {
            let mean = members.iter().map(|m| margin(m, row)).sum::<f64>() / 3.0;
            let got = margin(&model, row);
            assert!((got - mean).abs() < 1e-4, "{got} vs {mean}");
            assert!((model.predict(row) - crate::gbm::sigmoid(mean)).abs() < 1e-5);
        }
    }

    #[test]
    fn attributions_add_up_to_the_score_minus_the_base() {
        let (x, y) = toy(2000, 13);
        for params in every_kind() {
            let model = fit_validated(&x, &y, &params);
            for row in x.iter().take(50) {
                let a = model.explain(row);
                let score = model.predict(row);
                let log_odds = params.learner.is_boosted()
                    || params
                        .blend
                        .as_ref()
                        .is_some_and(|b| b.space == BlendSpace::LogOdds);
                let output = if log_odds {
                    assert_eq!(a.space, AttributionSpace::LogOdds);
                    crate::gbm::sigmoid(a.output)
                } else {
                    assert_eq!(a.space, AttributionSpace::Probability);
                    a.output
                };
                let sum = a.base + a.contributions.iter().sum::<f64>();
                assert!((sum - a.output).abs() < 1e-9);
                assert!(
                    (output - score).abs() < 1e-5,
                    "{}: {output} vs {score}",
                    params.learner
                );
            }
            // Only features 0 and 3 carry signal: they explain the most.
            let importance = model.feature_importance(&x[..500]);
            let mut ranked: Vec<usize> = (0..N_FEATURES).collect();
            ranked.sort_by(|&a, &b| importance[b].1.total_cmp(&importance[a].1));
            assert!(
                ranked[..2].contains(&0) && ranked[..2].contains(&3),
                "{}: {:?}",
                params.learner,
                &ranked[..4]
            );
            assert!((importance.iter().map(|(_, v)| v).sum::<f64>() - 1.0).abs() < 1e-9);
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
        let (feature, left, _) = forest.trees[0].links_mut();
        if let Some(i) = feature.iter().position(|f| *f != LEAF) {
            left[i] = 0;
            assert!(forest.validate().is_err());
        }
    }

    #[test]
    fn validate_catches_a_node_shared_by_two_parents() {
        let (x, y) = toy(1000, 5);
        let mut forest = Forest::fit(&x, &y, &small(), &|| {}).unwrap();
        assert!(forest.validate().is_ok());
        let (feature, left, right) = forest.trees[0].links_mut();
        let inner: Vec<usize> = (0..feature.len()).filter(|&i| feature[i] != LEAF).collect();
        assert!(inner.len() >= 2, "the toy tree has splits below the root");
        // The second split's left child also becomes the root's right child's target.
        let (a, b) = (inner[0], inner[1]);
        right[a] = left[b].max(right[a]);
        left[b] = right[a];
        let err = forest.validate().unwrap_err();
        assert!(err.contains("two parents"), "{err}");
    }

    #[test]
    fn blend_probabilities_lie_in_0_1_and_its_weights_add_up_to_1() {
        let (x, y) = toy(3000, 21);
        let (mut tx, _) = toy(500, 22);
        tx[0] = [1e9; N_FEATURES];
        tx[1] = [-1e9; N_FEATURES];
        tx[2][0] = f64::NAN;
        for space in [BlendSpace::LogOdds, BlendSpace::Probability] {
            for weighting in [BlendWeighting::Equal, BlendWeighting::Validation] {
                let model = fit_validated(&x, &y, &blend(space, weighting));
                assert_eq!(model.components.len(), 2);
                assert!(model.trees.is_empty());
                let total: f64 = model.components.iter().map(|c| c.weight).sum();
                assert!((total - 1.0).abs() < 1e-12, "{total}");
                assert!(model
                    .components
                    .iter()
                    .all(|c| c.calibration.validate().is_ok()));
                for s in model.predict_many(&tx) {
                    assert!((0.0..=1.0).contains(&s), "{space:?} {weighting:?}: {s}");
                }
                assert_eq!(
                    model.tree_count(),
                    model
                        .components
                        .iter()
                        .map(|c| c.model.trees.len())
                        .sum::<usize>()
                );
            }
        }
    }

    #[test]
    fn blend_weight_chosen_on_validation_ranks_validation_at_least_as_well_as_equal_weights() {
        let (x, y) = toy(3000, 23);
        let (vx, vy) = toy(1500, 99);
        let equal = fit_validated(&x, &y, &blend(BlendSpace::LogOdds, BlendWeighting::Equal));
        let chosen = fit_validated(
            &x,
            &y,
            &blend(BlendSpace::LogOdds, BlendWeighting::Validation),
        );
        let ap = |m: &Forest| crate::metrics::average_precision(&vy, &m.predict_many(&vx));
        assert!(
            ap(&chosen) >= ap(&equal),
            "{} < {}",
            ap(&chosen),
            ap(&equal)
        );
        let w = chosen.components[0].weight;
        assert!((w * 10.0 - (w * 10.0).round()).abs() < 1e-9, "{w}");
        // The components are the models their parameters describe, fitted alone.
        let forest = fit_validated(&x, &y, &small());
        assert_eq!(chosen.components[0].model, forest);
    }

    #[test]
    fn blend_of_refuses_components_that_do_not_match_its_parameters() {
        let (x, y) = toy(1000, 24);
        let forest = fit_validated(&x, &y, &small());
        let boosting = fit_validated(&x, &y, &gbm());
        let params = blend(BlendSpace::LogOdds, BlendWeighting::Equal);
        // Swapped order, one component only, a non-blend learner.
        for parts in [vec![boosting.clone(), forest.clone()], vec![forest.clone()]] {
            assert!(Forest::blend_of(&params, parts, None).is_err());
        }
        assert!(Forest::blend_of(&small(), vec![forest.clone(), boosting.clone()], None).is_err());
        // A blend inside a blend.
        let inner =
            Forest::blend_of(&params, vec![forest.clone(), boosting.clone()], None).unwrap();
        let nested = ForestParams::blend(
            vec![params.clone(), small()],
            BlendSpace::LogOdds,
            BlendWeighting::Equal,
            7,
        );
        assert!(Forest::blend_of(&nested, vec![inner, forest.clone()], None).is_err());
        assert!(Forest::fit(&x, &y, &nested, &|| {}).is_err());
    }

    #[test]
    fn validate_refuses_malformed_blends() {
        let (x, y) = toy(1000, 25);
        let good = fit_validated(&x, &y, &blend(BlendSpace::LogOdds, BlendWeighting::Equal));
        assert!(good.validate().is_ok());
        type BreakIt = Box<dyn Fn(&mut Forest)>;
        let cases: Vec<(&str, BreakIt)> = vec![
            ("add up to", Box::new(|m| m.components[0].weight = 0.9)),
            (
                "non-negative",
                Box::new(|m| {
                    m.components[0].weight = -0.5;
                    m.components[1].weight = 1.5;
                }),
            ),
            (
                "non-negative",
                Box::new(|m| m.components[1].weight = f64::NAN),
            ),
            (
                "at least two",
                Box::new(|m| {
                    m.components.pop();
                    m.components[0].weight = 1.0;
                }),
            ),
            (
                "trees of its own",
                Box::new(|m| {
                    let t = m.components[0].model.trees[0].clone();
                    m.trees.push(t);
                }),
            ),
            (
                "does not match",
                Box::new(|m| m.components[0].model.params.n_trees += 1),
            ),
            (
                "calibration",
                Box::new(|m| m.components[1].calibration.a = -1.0),
            ),
            ("without its", Box::new(|m| m.params.blend = None)),
            (
                "component 0",
                Box::new(|m| {
                    let (feature, left, _) = m.components[0].model.trees[0].links_mut();
                    left[0] = 0;
                    feature[0] = 0;
                }),
            ),
        ];
        for (expected, break_it) in cases {
            let mut bad = good.clone();
            break_it(&mut bad);
            let err = bad.validate().unwrap_err();
            assert!(err.contains(expected), "expected `{expected}` in: {err}");
        }
        // Components on a model that is not a blend.
        let mut forest = good.components[0].model.clone();
        forest.components = good.components.clone();
        assert!(forest.validate().unwrap_err().contains("only a blend"));
    }
}
