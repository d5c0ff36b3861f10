//! Our own CART learner for the forest: weighted Gini splits over histogram bins, a
//! fresh random subset of features at every node (as in Breiman's random forest), and
//! leaves that keep class proportions.
//!
//! Why it exists beside `linfa-trees`: linfa-trees 0.8.1 decides whether two adjacent
//! sorted values are equal by looking at the next value of the *whole* data set, not
//! of the node. Below the root that next value usually belongs to another node, so a
//! split between tied values (every one-hot category, `is_night`, `hour`, counts) is
//! skipped, and it prunes sibling leaves with the same majority label, which throws
//! away the probabilities a ranking needs. On the real fixture that costs about half
//! the PR-AUC (see BENCHMARKS.md); the trainer fits both and keeps the better one on the
//! validation slice.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::features::{FeatureVector, N_FEATURES};
use crate::tree::FlatTree;

/// Most bins per feature (bin indices fit a byte).
pub const MAX_BINS: usize = 256;
/// Rows looked at to place bin edges.
const EDGE_SAMPLE: usize = 200_000;

/// Quantile bin edges per feature: value `x` is in bin `b` when
/// `edges[b-1] < x <= edges[b]`.
pub struct Bins {
    edges: Vec<Vec<f64>>,
}

impl Bins {
    /// Places up to 255 edges per feature at quantiles of (a sample of) the rows.
    pub fn fit(x: &[FeatureVector]) -> Self {
        let step = (x.len() / EDGE_SAMPLE).max(1);
        let edges = (0..N_FEATURES)
            .map(|f| {
                let mut values: Vec<f64> = x.iter().step_by(step).map(|r| r[f]).collect();
                values.sort_by(f64::total_cmp);
                let mut distinct = values.clone();
                distinct.dedup();
                let cuts: Vec<f64> = if distinct.len() <= MAX_BINS {
                    distinct.clone()
                } else {
                    // Half the cuts at quantiles of the rows, half at quantiles of the
                    // distinct values, so sparse tails (large amounts) keep resolution.
                    let half = MAX_BINS / 2;
                    let mut q: Vec<f64> = (1..half)
                        .map(|k| values[k * values.len() / half])
                        .chain((1..half).map(|k| distinct[k * distinct.len() / half]))
                        .collect();
                    q.sort_by(f64::total_cmp);
                    q.dedup();
                    q
                };
                // Edge halfway between a cut value and the next distinct value.
                cuts.iter()
                    .filter_map(|&c| {
                        let next = distinct.partition_point(|&v| v <= c);
                        distinct.get(next).map(|&n| c + (n - c) / 2.0)
                    })
                    .collect()
            })
            .collect();
        Bins { edges }
    }

    /// Number of bins of feature `f` (edges + 1).
    pub fn n_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }

    /// Split threshold between bin `b` and `b + 1` of feature `f` (`x ≤ edge` goes left).
    pub fn edge(&self, f: usize, b: usize) -> f64 {
        self.edges[f][b]
    }

    fn bin(&self, f: usize, value: f64) -> u8 {
        self.edges[f].partition_point(|&e| e < value) as u8
    }

    /// Column-major bin matrix of the rows.
    pub fn transform(&self, x: &[FeatureVector]) -> Vec<u8> {
        let n = x.len();
        let mut out = vec![0u8; n * N_FEATURES];
        for f in 0..N_FEATURES {
            for (r, row) in x.iter().enumerate() {
                out[f * n + r] = self.bin(f, row[f]);
            }
        }
        out
    }
}

/// Settings of one tree.
pub struct TreeSettings {
    pub max_depth: usize,
    pub min_leaf: usize,
    pub max_features: usize,
    pub samples: usize,
}

/// Fits one tree on a bootstrap sample of the rows, with classes re-weighted to equal
/// total weight in the sample ("balanced_subsample"). Leaf values are converted back
/// from balanced proportions to probabilities at the sample's class ratio.
pub fn fit_tree(
    binned: &[u8],
    bins: &Bins,
    y: &[bool],
    settings: &TreeSettings,
    rng: &mut ChaCha8Rng,
) -> FlatTree {
    let n = y.len();
    let mut rows: Vec<u32> = (0..settings.samples)
        .map(|_| rng.random_range(0..n) as u32)
        .collect();
    let frauds = rows.iter().filter(|&&r| y[r as usize]).count().max(1) as f64;
    let legit = (rows.len() as f64 - frauds).max(1.0);
    let w_fraud = rows.len() as f64 / (2.0 * frauds);
    let w_legit = rows.len() as f64 / (2.0 * legit);
    let odds_back = w_legit / w_fraud;

    let mut tree = FlatTree::leaf_only();
    let mut features: Vec<usize> = (0..N_FEATURES).collect();
    let mut hist = vec![[0.0f64; 3]; MAX_BINS];
    let mut stack = vec![(0usize, 0usize, rows.len(), 0usize)];
    while let Some((node, start, end, depth)) = stack.pop() {
        let slice = &rows[start..end];
        let (mut fw, mut tw) = (0.0, 0.0);
        for &r in slice {
            if y[r as usize] {
                fw += w_fraud;
                tw += w_fraud;
            } else {
                tw += w_legit;
            }
        }
        let p = fw / tw;
        let value = odds_back * p / (odds_back * p + 1.0 - p);
        // Every node keeps its value (leaves for prediction, inner nodes for attribution).
        tree.set_value(node, value);
        let pure = fw == 0.0 || fw == tw;
        if pure || depth >= settings.max_depth || slice.len() < 2 * settings.min_leaf {
            tree.set_leaf(node, value);
            continue;
        }
        let parent_score = (fw * fw + (tw - fw) * (tw - fw)) / tw;
        let mut best: Option<(usize, usize, f64)> = None;
        features.shuffle(rng);
        let mut tried = 0;
        for &f in &features {
            if tried >= settings.max_features {
                break;
            }
            let n_bins = bins.edges[f].len() + 1;
            if n_bins < 2 {
                continue;
            }
            for h in hist[..n_bins].iter_mut() {
                *h = [0.0; 3];
            }
            let column = &binned[f * n..(f + 1) * n];
            for &r in slice {
                let h = &mut hist[column[r as usize] as usize];
                let fraud = y[r as usize];
                let w = if fraud { w_fraud } else { w_legit };
                h[0] += if fraud { w } else { 0.0 };
                h[1] += w;
                h[2] += 1.0;
            }
            if hist[..n_bins].iter().filter(|h| h[2] > 0.0).count() < 2 {
                continue; // constant in this node: does not count as tried
            }
            tried += 1;
            let (mut lf, mut lw, mut lc) = (0.0, 0.0, 0.0);
            for (b, h) in hist[..n_bins - 1].iter().enumerate() {
                lf += h[0];
                lw += h[1];
                lc += h[2];
                let rc = slice.len() as f64 - lc;
                if h[2] == 0.0 || lc < settings.min_leaf as f64 || rc < settings.min_leaf as f64 {
                    continue;
                }
                let (rf, rw) = (fw - lf, tw - lw);
                let score =
                    (lf * lf + (lw - lf) * (lw - lf)) / lw + (rf * rf + (rw - rf) * (rw - rf)) / rw;
                if best.is_none_or(|(_, _, s)| score > s) {
                    best = Some((f, b, score));
                }
            }
        }
        match best {
            Some((f, b, score)) if score > parent_score * (1.0 + 1e-12) => {
                let column = &binned[f * n..(f + 1) * n];
                let slice = &mut rows[start..end];
                let mut split = 0;
                for i in 0..slice.len() {
                    if column[slice[i] as usize] as usize <= b {
                        slice.swap(i, split);
                        split += 1;
                    }
                }
                let (left, right) = tree.split(node, f, bins.edges[f][b]);
                stack.push((right, start + split, end, depth + 1));
                stack.push((left, start, start + split, depth + 1));
            }
            _ => tree.set_leaf(node, value),
        }
    }
    tree
}
