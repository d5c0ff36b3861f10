//! Our gradient-boosted trees: logistic loss, second-order (Newton) histogram regression
//! trees grown leaf-wise (best gain first, as LightGBM does) over the same quantile bins
//! as the forest's CART ([`crate::cart::Bins`]).
//!
//! - Shrinkage (`learning_rate`), tree size limits (`max_leaves`, `max_depth`), minimum
//!   rows (`min_leaf`) and minimum hessian (`min_child_weight`) per child, L2 penalty
//!   (`lambda`) on leaf values.
//! - Row subsampling (without replacement) and feature subsampling, per tree.
//! - Class imbalance: frauds weigh `scale_pos_weight` in the loss.
//! - Early stopping on the validation slice's PR-AUC (or log-loss, opt-in): boosting stops
//!   when it has not improved for `early_stopping_rounds` rounds, and the model is cut back
//!   to the best round.
//! - Bagged boosting (`bags` > 1, or by default on training sets of up to
//!   [`AUTO_BAGS_MAX_ROWS`] rows): several models fitted with different seeds, each
//!   stopped early on its own, averaged in log-odds and stored as one list of trees.
//! - Deterministic for a seed (one RNG, drawn in a fixed order; parallel work only
//!   builds histograms, whose sums do not depend on thread scheduling).
//!
//! The result is a list of [`FlatTree`]s whose leaf values are log-odds increments; the
//! first tree is a single leaf holding the base log-odds. Inner nodes carry the
//! hessian-weighted mean of their leaves, so path attribution (Saabas) works on them.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cart::{Bins, MAX_BINS};
use crate::features::{FeatureVector, N_FEATURES};
use crate::metrics::average_precision;
use crate::tree::FlatTree;

/// Hyper-parameters specific to gradient boosting (the shared ones, `max_depth`,
/// `min_leaf` and `seed`, are in [`crate::model::ForestParams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbmParams {
    /// Most boosting rounds (trees) before early stopping.
    pub max_rounds: usize,
    /// Shrinkage applied to every tree's leaf values.
    pub learning_rate: f64,
    /// Most leaves per tree.
    pub max_leaves: usize,
    /// Minimum hessian sum in a child.
    pub min_child_weight: f64,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// Fraction of the rows each tree sees (without replacement).
    pub subsample: f64,
    /// Fraction of the features each tree may split on.
    pub colsample: f64,
    /// Weight of a fraud row in the loss; `None` = √(legit / frauds) of the training rows.
    pub scale_pos_weight: Option<f64>,
    /// Stop after this many rounds without a better validation score (0 = never stop early).
    pub early_stopping_rounds: usize,
    /// What early stopping watches on the validation slice. Artifacts from before this
    /// setting existed read as [`StopMetric::PrAuc`] (what they were fitted with).
    #[serde(default = "StopMetric::legacy")]
    pub early_stopping_metric: StopMetric,
    /// Boosted models fitted with different seeds (row and feature subsamples), each
    /// stopped early on its own, whose log-odds are averaged ("bagged boosting"); stored as
    /// one model (see [`fit`]). 1 = a single model; 0 = automatic ([`auto_bags`]: five on
    /// small training sets, one on large ones). A fitted model records the number it used.
    #[serde(default = "one_bag")]
    pub bags: usize,
}

/// Training sets up to this many rows get [`AUTO_BAGS`] bagged models when `bags` is 0.
pub const AUTO_BAGS_MAX_ROWS: usize = 50_000;
/// Bagged models on a small training set when `bags` is 0.
pub const AUTO_BAGS: usize = 5;

/// The number of bagged models for `rows` training rows when `requested` is 0
/// (automatic), else `requested`. Bagging averages away the seed-to-seed variance of one
/// boosted model, which is large on a small training set (the fixture's 17,068 rows:
/// test PR-AUC sd 0.0144 over five seeds with one model, 0.0022 with five) and costs
/// five fits; on a large one a single model varies less and five fits cost minutes (a
/// 62,000-row generated training slice: 195 s instead of 22 s for `fraudctl train`).
pub fn auto_bags(requested: usize, rows: usize) -> usize {
    match requested {
        0 if rows <= AUTO_BAGS_MAX_ROWS => AUTO_BAGS,
        0 => 1,
        k => k,
    }
}

fn one_bag() -> usize {
    1
}

/// The validation score early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMetric {
    /// PR-AUC (average precision), higher is better.
    PrAuc,
    /// Log-loss with the training weights (frauds weigh `scale_pos_weight`), lower is
    /// better: the held-out value of the loss being minimised.
    LogLoss,
    /// Unweighted log-loss, lower is better.
    PlainLogLoss,
}

impl StopMetric {
    fn legacy() -> Self {
        StopMetric::PrAuc
    }
}

impl Default for GbmParams {
    fn default() -> Self {
        GbmParams {
            max_rounds: 1000,
            learning_rate: 0.05,
            max_leaves: 31,
            min_child_weight: 1e-3,
            lambda: 1.0,
            subsample: 0.8,
            colsample: 0.8,
            scale_pos_weight: None,
            early_stopping_rounds: 100,
            early_stopping_metric: StopMetric::PrAuc,
            // Automatic: five bagged models on small training sets, where on the fixture's
            // train-side time folds they beat one model (and three) for the boosting and
            // for the blend (BENCHMARKS.md, "Model quality"); one on large ones.
            bags: 0,
        }
    }
}

/// Shared limits of one boosting run.
pub struct GbmSettings<'a> {
    pub params: &'a GbmParams,
    pub max_depth: usize,
    pub min_leaf: usize,
    pub seed: u64,
}

/// The logistic function.
pub fn sigmoid(margin: f64) -> f64 {
    1.0 / (1.0 + (-margin).exp())
}

/// Best split of a leaf: feature, last bin going left, gain, and the left child's sums.
#[derive(Clone, Copy)]
struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

/// A leaf waiting to be split.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    /// (g, h, count) per feature and bin: `hist[(f * MAX_BINS + b) * 3 + k]`.
    hist: Vec<f64>,
    best: Option<Split>,
}

/// Fits the boosted trees. With `validation`, stops early on its
/// `early_stopping_metric`. With `bags` = K > 1, fits K models (the first with `seed`,
/// the others with seeds drawn from it), each stopped early on its own, and returns
/// them as one model whose output is the mean of their log-odds: one base tree holding
/// the mean base log-odds, then every model's other trees with their values divided by K.
pub fn fit(
    x: &[FeatureVector],
    y: &[bool],
    validation: Option<(&[FeatureVector], &[bool])>,
    settings: &GbmSettings<'_>,
    on_tree: &(dyn Fn() + Sync),
) -> Vec<FlatTree> {
    let bags = auto_bags(settings.params.bags, x.len());
    let bins = Bins::fit(x);
    let binned = bins.transform(x);
    if bags == 1 {
        return fit_one(x, y, &bins, &binned, validation, settings, on_tree);
    }
    let mut base = 0.0;
    let mut trees = vec![FlatTree::leaf_only()];
    let scale = 1.0 / bags as f64;
    for seed in bag_seeds(settings.seed, bags) {
        let one = GbmSettings { seed, ..*settings };
        let fitted = fit_one(x, y, &bins, &binned, validation, &one, on_tree);
        base += f64::from(fitted[0].value_of(0)) * scale;
        for mut tree in fitted.into_iter().skip(1) {
            tree.scale_values(scale);
            trees.push(tree);
        }
    }
    trees[0].set_leaf(0, base);
    trees
}

/// The seeds of a bag's `bags` models: `seed` itself, then seeds drawn from it.
pub(crate) fn bag_seeds(seed: u64, bags: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6261_6767_6564_5f67);
    (0..bags)
        .map(|k| if k == 0 { seed } else { rng.random::<u64>() })
        .collect()
}

/// One boosted model (see [`fit`]).
fn fit_one(
    x: &[FeatureVector],
    y: &[bool],
    bins: &Bins,
    binned: &[u8],
    validation: Option<(&[FeatureVector], &[bool])>,
    settings: &GbmSettings<'_>,
    on_tree: &(dyn Fn() + Sync),
) -> Vec<FlatTree> {
    let p = settings.params;
    let n = x.len();
    let frauds = y.iter().filter(|&&v| v).count().max(1) as f64;
    let legit = (n as f64 - frauds).max(1.0);
    let spw = p
        .scale_pos_weight
        .unwrap_or_else(|| (legit / frauds).sqrt());
    let weight: Vec<f64> = y.iter().map(|&v| if v { spw } else { 1.0 }).collect();
    let base = (spw * frauds / legit).ln();
    let mut base_tree = FlatTree::leaf_only();
    base_tree.set_leaf(0, base);
    let mut trees = vec![base_tree];
    let mut margins = vec![base; n];
    let mut val_margins = validation.map(|(xv, _)| vec![base; xv.len()]);
    let mut best = (f64::NEG_INFINITY, 1usize);
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed ^ 0x6762_6d5f_7365_6564);
    let n_rows = ((n as f64 * p.subsample).round() as usize).clamp(1, n);
    let n_cols = ((N_FEATURES as f64 * p.colsample).round() as usize).clamp(1, N_FEATURES);
    let mut g = vec![0.0; n];
    let mut h = vec![0.0; n];
    for round in 0..p.max_rounds {
        for i in 0..n {
            let prob = sigmoid(margins[i]);
            let target = if y[i] { 1.0 } else { 0.0 };
            g[i] = weight[i] * (prob - target);
            h[i] = (weight[i] * prob * (1.0 - prob)).max(1e-16);
        }
        let mut rows: Vec<u32> = if n_rows == n {
            (0..n as u32).collect()
        } else {
            sample(&mut rng, n, n_rows)
                .into_iter()
                .map(|i| i as u32)
                .collect()
        };
        rows.sort_unstable();
        let mut features = sample(&mut rng, N_FEATURES, n_cols).into_vec();
        features.sort_unstable();
        let tree = grow(binned, bins, &g, &h, &mut rows, &features, settings);
        for (m, row) in margins.iter_mut().zip(x) {
            *m += tree.predict(row);
        }
        trees.push(tree);
        on_tree();
        if let (Some(vm), Some((xv, yv))) = (val_margins.as_mut(), validation) {
            let tree = trees.last().expect("just pushed");
            for (m, row) in vm.iter_mut().zip(xv) {
                *m += tree.predict(row);
            }
            // Higher is better for every metric (log-losses are negated).
            let score = match p.early_stopping_metric {
                StopMetric::PrAuc => average_precision(yv, vm),
                StopMetric::LogLoss => -log_loss(yv, vm, spw),
                StopMetric::PlainLogLoss => -log_loss(yv, vm, 1.0),
            };
            if score > best.0 {
                best = (score, trees.len());
            } else if p.early_stopping_rounds > 0 && round + 2 - best.1 > p.early_stopping_rounds {
                break;
            }
        } else {
            best.1 = trees.len();
        }
    }
    trees.truncate(best.1);
    trees
}

/// Mean log-loss of `margins` (log-odds) against `y`, frauds weighing `fraud_weight`.
fn log_loss(y: &[bool], margins: &[f64], fraud_weight: f64) -> f64 {
    let (mut sum, mut weights) = (0.0, 0.0);
    for (&label, &m) in y.iter().zip(margins) {
        // -ln σ(m) = ln(1 + e^-m), computed stably.
        let (w, z) = if label { (fraud_weight, m) } else { (1.0, -m) };
        sum += w * ((-z.abs()).exp().ln_1p() + (-z).max(0.0));
        weights += w;
    }
    sum / weights
}

fn leaf_value(g: f64, h: f64, lambda: f64) -> f64 {
    -g / (h + lambda)
}

/// Grows one regression tree on `rows` (reordered in place) over `features`.
fn grow(
    binned: &[u8],
    bins: &Bins,
    g: &[f64],
    h: &[f64],
    rows: &mut [u32],
    features: &[usize],
    s: &GbmSettings<'_>,
) -> FlatTree {
    let p = s.params;
    let n = g.len();
    let mut tree = FlatTree::leaf_only();
    // Hessian cover per node, for the inner-node means.
    let mut cover = vec![0.0f64];
    let (g0, h0) = rows.iter().fold((0.0, 0.0), |(a, b), &r| {
        (a + g[r as usize], b + h[r as usize])
    });
    let mut root = Pending {
        node: 0,
        start: 0,
        end: rows.len(),
        depth: 0,
        g: g0,
        h: h0,
        hist: histogram(binned, n, g, h, rows, features),
        best: None,
    };
    cover[0] = h0;
    root.best = best_split(&root, bins, features, s);
    let mut open = vec![root];
    let mut leaves = 1usize;
    while leaves < p.max_leaves {
        // The open leaf with the largest gain (first one on ties, for determinism).
        let Some(at) = open
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.best.map(|b| (i, b.gain)))
            .fold(None, |acc: Option<(usize, f64)>, (i, gain)| match acc {
                Some((_, best)) if best >= gain => acc,
                _ => Some((i, gain)),
            })
            .map(|(i, _)| i)
        else {
            break;
        };
        let leaf = open.swap_remove(at);
        let split = leaf.best.expect("chosen for its split");
        let column = &binned[split.feature * n..(split.feature + 1) * n];
        let slice = &mut rows[leaf.start..leaf.end];
        let mut mid = 0;
        for i in 0..slice.len() {
            if column[slice[i] as usize] as usize <= split.bin {
                slice.swap(i, mid);
                mid += 1;
            }
        }
        // Keep the original order within each side (determinism of float sums).
        slice[..mid].sort_unstable();
        slice[mid..].sort_unstable();
        let (left, right) = tree.split(
            leaf.node,
            split.feature,
            bins.edge(split.feature, split.bin),
        );
        cover.resize(tree.len(), 0.0);
        let (ls, le, rs, re) = (leaf.start, leaf.start + mid, leaf.start + mid, leaf.end);
        let (small, large) = if mid <= slice.len() - mid {
            ((left, ls, le), (right, rs, re))
        } else {
            ((right, rs, re), (left, ls, le))
        };
        let small_hist = histogram(binned, n, g, h, &rows[small.1..small.2], features);
        let mut large_hist = leaf.hist;
        for (a, b) in large_hist.iter_mut().zip(&small_hist) {
            *a -= b;
        }
        for (node, start, end, hist) in [
            (small.0, small.1, small.2, small_hist),
            (large.0, large.1, large.2, large_hist),
        ] {
            let (gs, hs) = rows[start..end].iter().fold((0.0, 0.0), |(a, b), &r| {
                (a + g[r as usize], b + h[r as usize])
            });
            cover[node] = hs;
            tree.set_leaf(node, p.learning_rate * leaf_value(gs, hs, p.lambda));
            let mut child = Pending {
                node,
                start,
                end,
                depth: leaf.depth + 1,
                g: gs,
                h: hs,
                hist,
                best: None,
            };
            if child.depth < s.max_depth {
                child.best = best_split(&child, bins, features, s);
            }
            open.push(child);
        }
        leaves += 1;
    }
    for leaf in &open {
        tree.set_leaf(
            leaf.node,
            p.learning_rate * leaf_value(leaf.g, leaf.h, p.lambda),
        );
    }
    tree.fill_inner_means(&cover);
    tree
}

/// (g, h, count) per selected feature and bin over `rows`.
fn histogram(
    binned: &[u8],
    n: usize,
    g: &[f64],
    h: &[f64],
    rows: &[u32],
    features: &[usize],
) -> Vec<f64> {
    let mut hist = vec![0.0; N_FEATURES * MAX_BINS * 3];
    hist.par_chunks_mut(MAX_BINS * 3)
        .enumerate()
        .filter(|(f, _)| features.binary_search(f).is_ok())
        .for_each(|(f, out)| {
            let column = &binned[f * n..(f + 1) * n];
            for &r in rows {
                let r = r as usize;
                let b = column[r] as usize * 3;
                out[b] += g[r];
                out[b + 1] += h[r];
                out[b + 2] += 1.0;
            }
        });
    hist
}

fn best_split(
    leaf: &Pending,
    bins: &Bins,
    features: &[usize],
    s: &GbmSettings<'_>,
) -> Option<Split> {
    let p = s.params;
    let count = (leaf.end - leaf.start) as f64;
    if count < 2.0 * s.min_leaf as f64 {
        return None;
    }
    let parent = leaf.g * leaf.g / (leaf.h + p.lambda);
    let mut best: Option<Split> = None;
    for &f in features {
        let n_bins = bins.n_bins(f);
        let hist = &leaf.hist[f * MAX_BINS * 3..(f * MAX_BINS + n_bins) * 3];
        let (mut gl, mut hl, mut cl) = (0.0, 0.0, 0.0);
        for b in 0..n_bins - 1 {
            gl += hist[b * 3];
            hl += hist[b * 3 + 1];
            cl += hist[b * 3 + 2];
            if hist[b * 3 + 2] == 0.0 {
                continue;
            }
            let (gr, hr, cr) = (leaf.g - gl, leaf.h - hl, count - cl);
            if cl < s.min_leaf as f64
                || cr < s.min_leaf as f64
                || hl < p.min_child_weight
                || hr < p.min_child_weight
            {
                continue;
            }
            let gain = gl * gl / (hl + p.lambda) + gr * gr / (hr + p.lambda) - parent;
            if gain > 1e-12 && best.is_none_or(|b| gain > b.gain) {
                best = Some(Split {
                    feature: f,
                    bin: b,
                    gain,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_saved_before_bagging_and_stopping_metrics_read_as_one_model_stopped_on_pr_auc() {
        let mut old = serde_json::to_value(GbmParams::default()).unwrap();
        let map = old.as_object_mut().unwrap();
        map.remove("bags");
        map.remove("early_stopping_metric");
        let read: GbmParams = serde_json::from_value(old).unwrap();
        assert_eq!(read.bags, 1);
        assert_eq!(read.early_stopping_metric, StopMetric::PrAuc);
        // New parameters keep their values.
        let new: GbmParams =
            serde_json::from_value(serde_json::to_value(GbmParams::default()).unwrap()).unwrap();
        assert_eq!(new, GbmParams::default());
        assert_eq!(new.bags, 0, "automatic");
    }

    #[test]
    fn automatic_bagging_bags_small_training_sets_and_fits_one_model_on_large_ones() {
        assert_eq!(auto_bags(0, 17_068), AUTO_BAGS);
        assert_eq!(auto_bags(0, AUTO_BAGS_MAX_ROWS), AUTO_BAGS);
        assert_eq!(auto_bags(0, AUTO_BAGS_MAX_ROWS + 1), 1);
        // An explicit number is kept whatever the size.
        assert_eq!(auto_bags(3, 1_000_000), 3);
        assert_eq!(auto_bags(1, 100), 1);
    }

    #[test]
    fn bag_seeds_start_with_the_run_seed_and_differ() {
        let seeds = bag_seeds(7, 5);
        assert_eq!(seeds[0], 7);
        assert_eq!(seeds, bag_seeds(7, 5));
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 5);
    }
}
