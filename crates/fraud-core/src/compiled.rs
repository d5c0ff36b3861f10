//! The forest laid out for batch prediction.
//!
//! [`crate::model::Forest`] keeps each tree as five parallel arrays (what the artifact
//! stores and what attribution walks). Walking one row through every tree costs a
//! data-dependent branch per level and touches four arrays per node. Here each tree is
//! re-laid out breadth-first as 16-byte nodes whose two children sit side by side, so
//! the next node is `left + !(x ≤ threshold)` without a branch, and a block of rows goes
//! through one tree in lockstep (a fixed number of steps, the tree's depth): the CPU
//! overlaps the rows' independent chains and the tree stays in cache while the block
//! goes through it. `benches/forest_layout.rs` measured the layouts this was chosen from.
//!
//! Leaves split on a padding feature that is always 0 at threshold +∞, so a row that has
//! reached its leaf stays there. The result is bit for bit the one of
//! [`Forest::predict`](crate::model::Forest::predict): the same leaf values summed in
//! the same order, NaN features included (they go right, as there).

use crate::features::{FeatureVector, N_FEATURES};
use crate::model::FlatTree;

/// Rows walked through a tree together.
pub const BLOCK: usize = 16;
/// Index of the padding feature leaves "split" on.
const PAD: usize = N_FEATURES;

#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Node {
    threshold: f64,
    feature: u32,
    /// Left child; the right one is `left + 1`. A leaf points at itself.
    left: u32,
}

/// A forest compiled for [`CompiledForest::predict_sums`].
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledForest {
    nodes: Vec<Node>,
    /// Leaf value of each node (0 for inner nodes).
    values: Vec<f32>,
    /// Per tree: index of its root in `nodes` and its depth (steps to any leaf).
    trees: Vec<(u32, u32)>,
}

impl CompiledForest {
    /// Lays out `trees` (already validated: every child index is in range).
    pub fn new(trees: &[FlatTree]) -> Self {
        let mut nodes = Vec::new();
        let mut values = Vec::new();
        let mut roots = Vec::with_capacity(trees.len());
        for tree in trees {
            let root = nodes.len();
            // (old index, new index, depth) in breadth-first order; children of a node
            // get two consecutive new slots.
            let mut queue = std::collections::VecDeque::from([(0usize, root, 0u32)]);
            nodes.push(Node {
                threshold: 0.0,
                feature: 0,
                left: 0,
            });
            values.push(0.0);
            let mut depth = 0u32;
            while let Some((old, new, d)) = queue.pop_front() {
                depth = depth.max(d);
                match tree.split_of(old) {
                    None => {
                        nodes[new] = Node {
                            threshold: f64::INFINITY,
                            feature: PAD as u32,
                            left: new as u32,
                        };
                        values[new] = tree.value_of(old);
                    }
                    Some((feature, threshold, l, r)) => {
                        let left = nodes.len();
                        for _ in 0..2 {
                            nodes.push(Node {
                                threshold: 0.0,
                                feature: 0,
                                left: 0,
                            });
                            values.push(0.0);
                        }
                        nodes[new] = Node {
                            threshold,
                            feature: feature as u32,
                            left: left as u32,
                        };
                        queue.push_back((l, left, d + 1));
                        queue.push_back((r, left + 1, d + 1));
                    }
                }
            }
            roots.push((root as u32, depth));
        }
        CompiledForest {
            nodes,
            values,
            trees: roots,
        }
    }

    /// Sum of the trees' leaf values for each row of `xs` (one thread).
    pub fn predict_sums(&self, xs: &[FeatureVector]) -> Vec<f64> {
        let mut out = Vec::with_capacity(xs.len());
        let mut rows = [[0.0f64; N_FEATURES + 1]; BLOCK];
        for block in xs.chunks(BLOCK) {
            for (row, x) in rows.iter_mut().zip(block) {
                row[..N_FEATURES].copy_from_slice(x);
            }
            let mut sums = [0.0f64; BLOCK];
            let mut at = [0u32; BLOCK];
            let n = block.len();
            for &(root, depth) in &self.trees {
                at[..n].fill(root);
                for step in 1..=depth {
                    for r in 0..n {
                        let node = self.nodes[at[r] as usize];
                        let x = rows[r][node.feature as usize];
                        // NaN goes right, as in `FlatTree::predict`.
                        let goes_left = x <= node.threshold;
                        at[r] = node.left + u32::from(!goes_left);
                    }
                    // Deep, unbalanced trees (a fully grown forest) have most leaves far
                    // above their depth: stop once every row of the block is at one.
                    if step % 4 == 0
                        && step < depth
                        && at[..n]
                            .iter()
                            .all(|&i| self.nodes[i as usize].feature == PAD as u32)
                    {
                        break;
                    }
                }
                for r in 0..n {
                    sums[r] += f64::from(self.values[at[r] as usize]);
                }
            }
            out.extend_from_slice(&sums[..n]);
        }
        out
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// True for a forest without trees.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }
}
