//! The flat tree format: one tree of a model as five parallel arrays, indexed by node
//! (node 0 is the root). This is what the artifact stores for every tree
//! (`model.trees[]`, serialized field by field), what scoring and path attribution walk,
//! and what [`crate::compiled`] re-lays out for batch prediction.
//!
//! - `feature[i]`: the feature node `i` splits on, or `LEAF` (`u16::MAX`) for a leaf.
//! - `threshold[i]`: the split point; a row goes left when `x[feature] ≤ threshold`,
//!   right otherwise (NaN goes right). 0 in a leaf.
//! - `left[i]`, `right[i]`: the children's node indices (0 in a leaf). Children always
//!   come after their parent and each node has one parent, so a walk cannot loop
//!   ([`FlatTree::validate`] checks it when an artifact is loaded).
//! - `value[i]`: a leaf's output (fraud probability in a forest, log-odds increment in
//!   boosting); an inner node keeps the value the tree would give if it stopped there,
//!   which path attribution (Saabas) needs.
//!
//! The learners grow trees one split at a time from a single leaf (`cart.rs`, `gbm.rs`)
//! or copy a fitted `linfa-trees` tree (`FlatTree::from_linfa`).

use linfa_trees::TreeNode;
use serde::{Deserialize, Serialize};

/// `feature[i]` of a leaf.
pub(crate) const LEAF: u16 = u16::MAX;

/// One tree in flat form: node `i` splits on `feature[i]` at `threshold[i]`
/// (`x ≤ threshold` goes left) or, when `feature[i] == LEAF`, is a leaf whose output
/// (fraud probability in a forest, log-odds increment in boosting) is `value[i]`.
/// Inner nodes keep the value the tree would give if it stopped there, which path
/// attribution needs.
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

    /// Makes `node` a leaf with output `value`.
    pub(crate) fn set_leaf(&mut self, node: usize, value: f64) {
        self.feature[node] = LEAF;
        self.value[node] = value as f32;
    }

    /// Multiplies every node's value (leaves and inner means) by `factor`.
    pub(crate) fn scale_values(&mut self, factor: f64) {
        for v in &mut self.value {
            *v = (f64::from(*v) * factor) as f32;
        }
    }

    /// Sets the value of `node` (leaf or inner) without changing its structure.
    pub(crate) fn set_value(&mut self, node: usize, value: f64) {
        self.value[node] = value as f32;
    }

    /// Sets every inner node's value to the `cover`-weighted mean of its children's
    /// (children come after parents, so one backwards pass does it).
    pub(crate) fn fill_inner_means(&mut self, cover: &[f64]) {
        let mut cover = cover.to_vec();
        for i in (0..self.len()).rev() {
            if self.feature[i] == LEAF {
                continue;
            }
            let (l, r) = (self.left[i] as usize, self.right[i] as usize);
            let total = cover[l] + cover[r];
            if total > 0.0 {
                self.value[i] = ((cover[l] * f64::from(self.value[l])
                    + cover[r] * f64::from(self.value[r]))
                    / total) as f32;
            }
            cover[i] = total;
        }
    }

    /// Adds, for each split on `x`'s path, the change of node value to the split's
    /// feature in `out`; returns the root's value. Root value + Σ `out` = leaf value.
    pub fn attribute(&self, x: &[f64], out: &mut [f64]) -> f64 {
        let mut node = 0usize;
        loop {
            let f = self.feature[node];
            if f == LEAF {
                return f64::from(self.value[0]);
            }
            let next = if x[f as usize] <= self.threshold[node] {
                self.left[node] as usize
            } else {
                self.right[node] as usize
            };
            out[f as usize] += f64::from(self.value[next]) - f64::from(self.value[node]);
            node = next;
        }
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

    /// The split of `node` (feature, threshold, left child, right child), or `None` for
    /// a leaf.
    pub(crate) fn split_of(&self, node: usize) -> Option<(usize, f64, usize, usize)> {
        let f = self.feature[node];
        (f != LEAF).then(|| {
            (
                f as usize,
                self.threshold[node],
                self.left[node] as usize,
                self.right[node] as usize,
            )
        })
    }

    /// The value of `node` (the output, for a leaf).
    pub(crate) fn value_of(&self, node: usize) -> f32 {
        self.value[node]
    }

    /// Output of `x`'s leaf: fraud probability (forest) or log-odds increment (boosting).
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

    /// Checks that the structure is well formed (used when loading an artifact); with
    /// `probabilities`, every node value must lie in 0..=1, else be finite.
    pub fn validate(&self, n_features: usize, probabilities: bool) -> Result<(), String> {
        let n = self.feature.len();
        if n == 0
            || self.threshold.len() != n
            || self.left.len() != n
            || self.right.len() != n
            || self.value.len() != n
        {
            return Err("tree arrays have inconsistent lengths".into());
        }
        let mut has_parent = vec![false; n];
        for i in 0..n {
            if probabilities && !(0.0..=1.0).contains(&self.value[i]) {
                return Err(format!(
                    "node {i} has probability {} outside 0..=1",
                    self.value[i]
                ));
            }
            if !self.value[i].is_finite() {
                return Err(format!("node {i} has a non-finite value"));
            }
            if self.feature[i] == LEAF {
                continue;
            }
            if self.feature[i] as usize >= n_features {
                return Err(format!(
                    "node {i} splits on feature {} of {n_features}",
                    self.feature[i]
                ));
            }
            // Children always come after their parent, so walking cannot loop, and each
            // node has one parent (a tree, not a graph whose paths multiply).
            for child in [self.left[i], self.right[i]] {
                if child as usize <= i || child as usize >= n {
                    return Err(format!("node {i} has an invalid child {child}"));
                }
                if std::mem::replace(&mut has_parent[child as usize], true) {
                    return Err(format!("node {child} has two parents (one is node {i})"));
                }
            }
        }
        Ok(())
    }

    /// A `linfa-trees` tree in flat form (pre-order: a node, its left subtree, then its
    /// right subtree); `columns` maps the fitted columns back to feature indices. Node
    /// values are left at 0 for the caller to fill.
    pub(crate) fn from_linfa(root: &TreeNode<f64, usize>, columns: &[usize]) -> Self {
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

#[cfg(test)]
impl FlatTree {
    /// The structure arrays (feature, left, right), for tests that break a tree on purpose.
    pub(crate) fn links_mut(&mut self) -> (&mut [u16], &mut [u32], &mut [u32]) {
        (&mut self.feature, &mut self.left, &mut self.right)
    }
}
