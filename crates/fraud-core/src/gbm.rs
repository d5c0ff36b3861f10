//! Our gradient-boosted trees: logistic loss, second-order (Newton) histogram regression
//! trees grown leaf-wise (best gain first, as LightGBM does) over the same quantile bins
//! as the forest's CART ([`crate::cart::Bins`]).
//!
//! - Shrinkage (`learning_rate`), tree size limits (`max_leaves`, `max_depth`), minimum
//!   rows (`min_leaf`) and minimum hessian (`min_child_weight`) per child, L2 penalty
//!   (`lambda`) on leaf values.
//! - Row subsampling (without replacement) and feature subsampling, per tree.
//! - Class imbalance: frauds weigh `scale_pos_weight` in the loss.
//! - Early stopping on the validation slice's PR-AUC: boosting stops when it has not
//!   improved for `early_stopping_rounds` rounds, and the model is cut back to the best round.
//! - Deterministic for a seed (one RNG, drawn in a fixed order; parallel work only
//!   builds histograms, whose sums do not depend on thread scheduling).
//!
//! The result is a list of [`FlatTree`]s whose leaf values are log-odds increments; the
//! first tree is a single leaf holding the base log-odds. Inner nodes carry the
//! hessian-weighted mean of their leaves, so path attribution (Saabas) works on them.

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cart::{Bins, MAX_BINS};
use crate::features::{FeatureVector, N_FEATURES};
use crate::metrics::average_precision;
use crate::model::FlatTree;

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
    /// Stop after this many rounds without a better validation PR-AUC (0 = never stop early).
    pub early_stopping_rounds: usize,
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

/// Fits the boosted trees. With `validation`, stops early on its PR-AUC.
pub fn fit(
    x: &[FeatureVector],
    y: &[bool],
    validation: Option<(&[FeatureVector], &[bool])>,
    settings: &GbmSettings<'_>,
    on_tree: &(dyn Fn() + Sync),
) -> Vec<FlatTree> {
    let p = settings.params;
    let n = x.len();
    let bins = Bins::fit(x);
    let binned = bins.transform(x);
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
        let tree = grow(&binned, &bins, &g, &h, &mut rows, &features, settings);
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
            let ap = average_precision(yv, vm);
            if ap > best.0 {
                best = (ap, trees.len());
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
