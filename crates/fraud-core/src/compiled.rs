//! The forest laid out for batch prediction.
//!
//! [`crate::model::Forest`] keeps each tree as five parallel arrays (what the artifact
//! stores and what attribution walks). Walking one row through every tree costs a
//! data-dependent branch per level and touches four arrays per node. Here:
//!
//! - **Thresholds become bins.** Per feature, the distinct thresholds of the whole forest
//!   are sorted once ("cuts"); a row's value `x` becomes its bin, the number of cuts below
//!   it, and a split on cut `k` sends `x` left exactly when `bin(x) ≤ k` (cuts are
//!   sorted and distinct, so `x ≤ cut[k]` ⇔ fewer than `k + 1` cuts lie below `x`).
//!   NaN gets a bin above every cut and goes right, as in `FlatTree::predict`. Rows shrink
//!   from 8 to 2 bytes per feature and nodes from 16 to 8 bytes, and a split is one
//!   integer comparison.
//! - **Children side by side.** Each tree is re-laid out breadth-first, the two children
//!   of a node in consecutive slots, so the next node is `left + (bin > cut)` without a
//!   branch.
//! - **Rows in lockstep.** A block of rows goes through one tree together, one level per
//!   step: the CPU overlaps the rows' independent chains and the tree stays in cache while
//!   the block goes through it. Leaves point at themselves (they "split" on a padding
//!   feature that is always 0, at the highest cut), so extra steps are harmless: every
//!   tree takes its first [`UNCHECKED_STEPS`] steps (all of a boosted tree's) with nothing
//!   but loads, a compare and an add per row, and only deeper trees then check after each
//!   step whether any row still moves. Checking from the first step cost a fully grown
//!   forest about a third of its speed (most of its rows reach a leaf within 8 steps).
//!
//! The result is bit for bit the one of [`Forest::predict`](crate::model::Forest::predict):
//! the same leaf values summed in the same order. A forest with more distinct thresholds on
//! one feature than a bin can number (65,534) is not compiled ([`CompiledForest::new`]
//! returns `None`) and is scored row by row. `benches/forest_layout.rs` measured the
//! layouts the first version of this one was chosen from; `examples/score_throughput.rs`
//! measures this one.

use crate::features::{FeatureVector, N_FEATURES};
use crate::tree::FlatTree;

/// Rows walked through a tree together.
pub const BLOCK: usize = 16;
/// Slots per binned row: the features, then the padding feature leaves "split" on. A power
/// of two, so that a masked feature index needs no bounds check.
const ROW: usize = 64;
/// Steps every tree takes before checking whether any row still moves (or its depth, if
/// less): boosted trees stop there, deep ones go on until no row of the block moved.
const UNCHECKED_STEPS: u32 = 8;
/// Index of the padding feature (always bin 0).
const PAD: u16 = N_FEATURES as u16;
const _: () = assert!(N_FEATURES < ROW);
/// Bin of NaN, and the cut of every leaf: above any real cut.
const TOP: u16 = u16::MAX;
/// Most distinct thresholds on one feature (bins 0..=MAX_CUTS stay below [`TOP`]).
pub const MAX_CUTS: usize = TOP as usize - 1;

#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Node {
    /// Left child; the right one is `left + 1`. A leaf points at itself.
    left: u32,
    /// Index of the split's threshold among its feature's cuts ([`TOP`] for a leaf).
    cut: u16,
    feature: u16,
}

/// A forest compiled for [`CompiledForest::predict_sums`].
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledForest {
    nodes: Vec<Node>,
    /// Leaf value of each node (0 for inner nodes).
    values: Vec<f32>,
    /// Root of each tree in `nodes` and its depth (steps to its deepest leaf).
    roots: Vec<(u32, u32)>,
    /// The features some split uses, each with its sorted, distinct thresholds.
    cuts: Vec<(usize, Vec<f64>)>,
}

impl CompiledForest {
    /// Lays out `trees` (already validated: every child index is in range), or `None`
    /// when a feature has more than [`MAX_CUTS`] distinct thresholds or a threshold is NaN.
    pub fn new(trees: &[FlatTree]) -> Option<Self> {
        let mut thresholds: Vec<Vec<f64>> = vec![Vec::new(); N_FEATURES];
        for tree in trees {
            for node in 0..tree.len() {
                if let Some((feature, threshold, _, _)) = tree.split_of(node) {
                    if threshold.is_nan() {
                        return None;
                    }
                    thresholds[feature].push(threshold);
                }
            }
        }
        for t in &mut thresholds {
            t.sort_by(f64::total_cmp);
            // -0.0 and 0.0 compare equal: one cut.
            t.dedup_by(|a, b| a == b);
            if t.len() > MAX_CUTS {
                return None;
            }
        }
        let cut_of = |feature: usize, threshold: f64| {
            let cuts = &thresholds[feature];
            cuts.partition_point(|&c| c < threshold) as u16
        };
        let leaf = |at: usize| Node {
            left: at as u32,
            cut: TOP,
            feature: PAD,
        };
        let mut nodes = Vec::new();
        let mut values = Vec::new();
        let mut roots = Vec::with_capacity(trees.len());
        for tree in trees {
            let root = nodes.len();
            // (old index, new index, depth) in breadth-first order; children of a node get two
            // consecutive new slots.
            let mut queue = std::collections::VecDeque::from([(0usize, root, 0u32)]);
            let mut depth = 0;
            nodes.push(leaf(root));
            values.push(0.0);
            while let Some((old, new, d)) = queue.pop_front() {
                depth = depth.max(d);
                match tree.split_of(old) {
                    None => {
                        nodes[new] = leaf(new);
                        values[new] = tree.value_of(old);
                    }
                    Some((feature, threshold, l, r)) => {
                        let left = nodes.len();
                        nodes.extend([leaf(left), leaf(left + 1)]);
                        values.extend([0.0, 0.0]);
                        nodes[new] = Node {
                            left: left as u32,
                            cut: cut_of(feature, threshold),
                            feature: feature as u16,
                        };
                        queue.push_back((l, left, d + 1));
                        queue.push_back((r, left + 1, d + 1));
                    }
                }
            }
            roots.push((root as u32, depth));
        }
        let cuts = thresholds
            .into_iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .collect();
        Some(CompiledForest {
            nodes,
            values,
            roots,
            cuts,
        })
    }

    /// `x` as bins (features no split uses stay 0).
    fn bin(&self, x: &FeatureVector, row: &mut [u16; ROW]) {
        for (feature, cuts) in &self.cuts {
            let v = x[*feature];
            row[*feature] = if v.is_nan() {
                TOP
            } else {
                cuts.partition_point(|&c| c < v) as u16
            };
        }
    }

    /// The node after `at` for `row` (`at` itself at a leaf).
    #[inline(always)]
    fn next(&self, at: u32, row: &[u16; ROW]) -> u32 {
        let node = self.nodes[at as usize];
        let bin = row[usize::from(node.feature) & (ROW - 1)];
        node.left + u32::from(bin > node.cut)
    }

    /// Sum of the trees' leaf values for each row of `xs` (one thread).
    pub fn predict_sums(&self, xs: &[FeatureVector]) -> Vec<f64> {
        let mut out = Vec::with_capacity(xs.len());
        // Lanes past the end of a short last block walk whatever rows they hold (valid
        // bins); their sums are dropped.
        let mut rows = [[0u16; ROW]; BLOCK];
        for block in xs.chunks(BLOCK) {
            for (row, x) in rows.iter_mut().zip(block) {
                self.bin(x, row);
            }
            let mut sums = [0.0f64; BLOCK];
            for &(root, depth) in &self.roots {
                let mut at = [root; BLOCK];
                // Every tree first takes the steps few rows finish before (no check),
                // then deep ones go on until no row of the block moves.
                for _ in 0..depth.min(UNCHECKED_STEPS) {
                    for (at, row) in at.iter_mut().zip(&rows) {
                        *at = self.next(*at, row);
                    }
                }
                if depth > UNCHECKED_STEPS {
                    loop {
                        let mut moved = 0u32;
                        for (at, row) in at.iter_mut().zip(&rows) {
                            let next = self.next(*at, row);
                            moved |= next ^ *at;
                            *at = next;
                        }
                        if moved == 0 {
                            break;
                        }
                    }
                }
                for (sum, &leaf) in sums.iter_mut().zip(&at) {
                    *sum += f64::from(self.values[leaf as usize]);
                }
            }
            out.extend_from_slice(&sums[..block.len()]);
        }
        out
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// True for a forest without trees.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree that splits `feature` on each of `thresholds` in a chain (each split's
    /// right child splits on the next); leaf values count the splits passed.
    fn chain(feature: usize, thresholds: &[f64]) -> FlatTree {
        let mut tree = FlatTree::leaf_only();
        let mut node = 0;
        for (i, &t) in thresholds.iter().enumerate() {
            let (left, right) = tree.split(node, feature, t);
            tree.set_leaf(left, i as f64);
            tree.set_leaf(right, (i + 1) as f64);
            node = right;
        }
        tree
    }

    fn batch_sums(compiled: &CompiledForest, xs: &[FeatureVector]) -> Vec<u64> {
        let sums = compiled.predict_sums(xs);
        assert_eq!(sums.len(), xs.len());
        sums.iter().map(|s| s.to_bits()).collect()
    }

    fn direct_sums(trees: &[FlatTree], xs: &[FeatureVector]) -> Vec<u64> {
        xs.iter()
            .map(|x| trees.iter().map(|t| t.predict(x)).sum::<f64>().to_bits())
            .collect()
    }

    #[test]
    fn values_on_a_threshold_signed_zeros_infinities_and_nan_go_where_the_direct_walk_sends_them() {
        let edges = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            0.25,
            1e300,
            f64::INFINITY,
        ];
        let trees = vec![
            chain(0, &[0.25, -0.0, 1e300, -1.5]),
            chain(0, &[0.0, f64::INFINITY, f64::NEG_INFINITY]),
            chain(5, &[0.25, 0.0]),
            chain(0, &[]),
        ];
        let mut xs = Vec::new();
        for &a in edges.iter().chain(&[f64::NAN, 0.1, -7.0, 2e300]) {
            for &b in edges.iter().chain(&[f64::NAN]) {
                let mut x = [0.0; N_FEATURES];
                x[0] = a;
                x[5] = b;
                xs.push(x);
            }
        }
        let compiled = CompiledForest::new(&trees).expect("few cuts");
        // Whole blocks, a short last block and a single row.
        for rows in [&xs[..], &xs[..BLOCK + 3], &xs[7..8]] {
            assert_eq!(batch_sums(&compiled, rows), direct_sums(&trees, rows));
        }
    }

    #[test]
    fn a_feature_with_more_distinct_thresholds_than_bins_is_not_compiled() {
        let at_most: Vec<f64> = (0..MAX_CUTS).map(|i| i as f64).collect();
        // The same thresholds in two trees count once.
        let trees = [chain(3, &at_most), chain(3, &at_most[..10])];
        let compiled = CompiledForest::new(&trees).expect("MAX_CUTS cuts fit");
        let xs: Vec<FeatureVector> = [-1.0, 0.0, 0.5, 65_533.0, 65_533.5, f64::NAN]
            .iter()
            .map(|&v| {
                let mut x = [0.0; N_FEATURES];
                x[3] = v;
                x
            })
            .collect();
        assert_eq!(batch_sums(&compiled, &xs), direct_sums(&trees, &xs));

        let one_more: Vec<f64> = (0..=MAX_CUTS).map(|i| i as f64).collect();
        assert!(CompiledForest::new(&[chain(3, &one_more)]).is_none());
        assert!(CompiledForest::new(&[chain(3, &[1.0, f64::NAN])]).is_none());
    }
}
