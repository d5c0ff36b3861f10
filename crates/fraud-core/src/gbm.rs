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
//! - Deterministic for a seed (one RNG, drawn in a fixed order). Parallel work never
//!   sums across threads: histograms are built one feature per task, gradients and
//!   predictions one row per task, so thread scheduling cannot change a result.
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
    /// Most legitimate rows one tree sees (0 = no limit). When `subsample` would draw
    /// more, legitimate rows are drawn at the lower rate that gives this many and weigh
    /// the inverse of that rate in the tree's sums (so the gradients stay unbiased);
    /// frauds are still drawn at `subsample`. The same idea as LightGBM's
    /// `neg_bagging_fraction`: on imbalanced data most legitimate rows carry almost no
    /// gradient, and the histograms' cost follows the rows drawn. Below the limit
    /// nothing changes. Artifacts from before this setting read as 0 (what they were
    /// fitted with).
    #[serde(default = "no_limit")]
    pub max_legit_rows: usize,
}

fn no_limit() -> usize {
    0
}

/// The default [`GbmParams::max_legit_rows`]: from about 310,000 training rows on, each
/// tree sees fewer legitimate rows than `subsample` alone would draw.
pub const DEFAULT_MAX_LEGIT_ROWS: usize = 250_000;

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
            max_legit_rows: DEFAULT_MAX_LEGIT_ROWS,
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
    let draw = Draw::new(y, p);
    let n_cols = ((N_FEATURES as f64 * p.colsample).round() as usize).clamp(1, N_FEATURES);
    // Gradient and hessian of each row side by side: the histograms read both of a row
    // at once.
    let mut gh = vec![[0.0f64; 2]; n];
    let mut chosen = vec![false; n];
    for round in 0..p.max_rounds {
        gh.par_iter_mut()
            .zip(margins.par_iter())
            .zip(y.par_iter().zip(weight.par_iter()))
            .for_each(|((gh, &margin), (&fraud, &w))| {
                let prob = sigmoid(margin);
                let target = if fraud { 1.0 } else { 0.0 };
                *gh = [w * (prob - target), (w * prob * (1.0 - prob)).max(1e-16)];
            });
        let mut rows: Vec<u32> = if let Some(draw) = &draw {
            draw.rows(&mut rng, &mut chosen, &mut gh)
        } else if n_rows == n {
            (0..n as u32).collect()
        } else {
            // The drawn rows in ascending order (a mark per row, not a sort).
            chosen.fill(false);
            for i in sample(&mut rng, n, n_rows) {
                chosen[i] = true;
            }
            (0..n as u32).filter(|&i| chosen[i as usize]).collect()
        };
        let mut features = sample(&mut rng, N_FEATURES, n_cols).into_vec();
        features.sort_unstable();
        let tree = grow(binned, bins, &gh, &mut rows, &features, settings);
        margins
            .par_iter_mut()
            .zip(x.par_iter())
            .for_each(|(m, row)| *m += tree.predict(row));
        trees.push(tree);
        on_tree();
        if let (Some(vm), Some((xv, yv))) = (val_margins.as_mut(), validation) {
            let tree = trees.last().expect("just pushed");
            vm.par_iter_mut()
                .zip(xv.par_iter())
                .for_each(|(m, row)| *m += tree.predict(row));
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

/// The rows of one tree when legitimate rows are drawn at a lower rate than frauds
/// ([`GbmParams::max_legit_rows`]).
struct Draw {
    frauds: Vec<u32>,
    legit: Vec<u32>,
    n_frauds: usize,
    n_legit: usize,
    /// What a drawn legitimate row's gradient and hessian are multiplied by.
    legit_weight: f64,
}

impl Draw {
    /// `None` when `subsample` alone draws no more than `max_legit_rows` legitimate rows.
    fn new(y: &[bool], p: &GbmParams) -> Option<Self> {
        let (frauds, legit): (Vec<u32>, Vec<u32>) =
            (0..y.len() as u32).partition(|&i| y[i as usize]);
        let at_subsample = legit.len() as f64 * p.subsample;
        if p.max_legit_rows == 0 || at_subsample <= p.max_legit_rows as f64 || frauds.is_empty() {
            return None;
        }
        Some(Draw {
            n_frauds: ((frauds.len() as f64 * p.subsample).round() as usize).clamp(1, frauds.len()),
            n_legit: p.max_legit_rows,
            // Relative to the frauds, a legitimate row weighs what it would at `subsample`.
            legit_weight: at_subsample / p.max_legit_rows as f64,
            frauds,
            legit,
        })
    }

    /// Draws a tree's rows (ascending), weighting the drawn legitimate rows in `gh`.
    fn rows(&self, rng: &mut ChaCha8Rng, chosen: &mut [bool], gh: &mut [[f64; 2]]) -> Vec<u32> {
        chosen.fill(false);
        for i in sample(rng, self.frauds.len(), self.n_frauds) {
            chosen[self.frauds[i] as usize] = true;
        }
        for i in sample(rng, self.legit.len(), self.n_legit) {
            let r = self.legit[i] as usize;
            chosen[r] = true;
            gh[r][0] *= self.legit_weight;
            gh[r][1] *= self.legit_weight;
        }
        (0..chosen.len() as u32)
            .filter(|&i| chosen[i as usize])
            .collect()
    }
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
    gh: &[[f64; 2]],
    rows: &mut [u32],
    features: &[usize],
    s: &GbmSettings<'_>,
) -> FlatTree {
    let p = s.params;
    let n = gh.len();
    let sums = |rows: &[u32]| {
        rows.iter().fold((0.0, 0.0), |(a, b), &r| {
            let [g, h] = gh[r as usize];
            (a + g, b + h)
        })
    };
    // The right side of a split while it is partitioned (reused).
    let mut right = Vec::new();
    let mut tree = FlatTree::leaf_only();
    // Hessian cover per node, for the inner-node means.
    let mut cover = vec![0.0f64];
    let (g0, h0) = sums(rows);
    let mut root = Pending {
        node: 0,
        start: 0,
        end: rows.len(),
        depth: 0,
        g: g0,
        h: h0,
        hist: histogram(binned, gh, rows, features),
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
        // A stable partition: each side keeps the rows' ascending order (the order the
        // float sums are taken in, so the same data always give the same tree).
        let mut mid = 0;
        right.clear();
        for i in 0..slice.len() {
            let r = slice[i];
            if column[r as usize] as usize <= split.bin {
                slice[mid] = r;
                mid += 1;
            } else {
                right.push(r);
            }
        }
        slice[mid..].copy_from_slice(&right);
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
        let small_hist = histogram(binned, gh, &rows[small.1..small.2], features);
        let mut large_hist = leaf.hist;
        for (a, b) in large_hist.iter_mut().zip(&small_hist) {
            *a -= b;
        }
        for (node, start, end, hist) in [
            (small.0, small.1, small.2, small_hist),
            (large.0, large.1, large.2, large_hist),
        ] {
            let (gs, hs) = sums(&rows[start..end]);
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
fn histogram(binned: &[u8], gh: &[[f64; 2]], rows: &[u32], features: &[usize]) -> Vec<f64> {
    let n = gh.len();
    let mut hist = vec![0.0; N_FEATURES * MAX_BINS * 3];
    hist.par_chunks_mut(MAX_BINS * 3)
        .enumerate()
        .filter(|(f, _)| features.binary_search(f).is_ok())
        .for_each(|(f, out)| {
            let column = &binned[f * n..(f + 1) * n];
            for &r in rows {
                let r = r as usize;
                let b = column[r] as usize * 3;
                let [g, h] = gh[r];
                out[b] += g;
                out[b + 1] += h;
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
        map.remove("max_legit_rows");
        let read: GbmParams = serde_json::from_value(old).unwrap();
        assert_eq!(read.bags, 1);
        assert_eq!(
            read.max_legit_rows, 0,
            "fitted with every legitimate row drawn"
        );
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
    fn capped_draws_keep_the_fraud_rate_and_weigh_legitimate_rows_up_by_what_was_left_out() {
        // 100 frauds among 10,000 rows; subsample 0.8 would draw 7,920 legitimate rows.
        let y: Vec<bool> = (0..10_000).map(|i| i % 100 == 0).collect();
        let p = GbmParams {
            max_legit_rows: 2_000,
            ..GbmParams::default()
        };
        let draw = Draw::new(&y, &p).expect("over the cap");
        let mut gh = vec![[1.0, 0.5]; y.len()];
        let mut chosen = vec![false; y.len()];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let rows = draw.rows(&mut rng, &mut chosen, &mut gh);
        assert!(
            rows.windows(2).all(|w| w[0] < w[1]),
            "ascending, no repeats"
        );
        let frauds = rows.iter().filter(|&&r| y[r as usize]).count();
        assert_eq!(frauds, 80, "frauds drawn at the subsample rate");
        assert_eq!(rows.len() - frauds, 2_000, "legitimate rows at the cap");
        let weight = 7_920.0 / 2_000.0;
        for &r in &rows {
            let expected = if y[r as usize] { 1.0 } else { weight };
            assert!((gh[r as usize][0] - expected).abs() < 1e-12);
            assert!((gh[r as usize][1] - expected * 0.5).abs() < 1e-12);
        }
        // At or under the cap, and with no cap, rows are drawn as before.
        for max_legit_rows in [0, 7_920, 50_000] {
            let p = GbmParams {
                max_legit_rows,
                ..GbmParams::default()
            };
            assert!(Draw::new(&y, &p).is_none(), "{max_legit_rows}");
        }
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
