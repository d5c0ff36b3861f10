//! What a different in-memory forest layout would gain over `Forest::predict`, measured on
//! the same trained forest (the real fixture when present, else synthetic rows): a
//! prototype for the batch-scoring target of the benchmarks issue, not used by the crate.
//!
//! `Forest` keeps five parallel arrays per tree and walks one row through every tree with
//! a data-dependent branch per level. The prototypes read the forest's serialized arrays
//! and re-lay each tree as one array of 16-byte nodes whose children sit side by side
//! (`right == left + 1`), so that one cache line serves a level and the child index is
//! `left + (x > threshold)`, without a branch:
//!
//! - `compact_row_major`: the same row-by-row walk on the compact nodes;
//! - `compact_tree_major_64`: tree by tree over blocks of 64 rows, each row walked with a
//!   branch per level, so that the tree stays in L1 while the block goes through it;
//! - `compact_blocked_{8,16,32}`: tree by tree over blocks of 8/16/32 rows walked in
//!   lockstep (leaves loop on themselves) until no row moves: independent chains the CPU
//!   overlaps, with no branch on the data.
//!
//! Every prototype is checked against `Forest::predict` before it is timed.
//! Run: `cargo bench -p fraud-core --bench forest_layout`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fraud_core::csv_input::read_transactions;
use fraud_core::features::{featurize_in_time_order, FeatureVector};
use fraud_core::model::{Forest, ForestParams};
use fraud_core::schema::Transaction;

const ROWS: usize = 10_000;
const BLOCK: usize = 8;
const TREE_MAJOR_BLOCK: usize = 64;

/// One node: `threshold` and `feature` of the split and the index of the left child
/// (the right one follows it). Leaves point at themselves with an infinite threshold.
#[derive(Clone, Copy)]
struct Node {
    threshold: f64,
    left: u32,
    feature: u32,
}

struct CompactTree {
    nodes: Vec<Node>,
    /// Leaf probability per node (0 for inner nodes).
    values: Vec<f32>,
    /// Longest root-to-leaf path, in edges.
    depth: usize,
}

struct CompactForest {
    trees: Vec<CompactTree>,
}

impl CompactForest {
    /// Re-lays the serialized trees of `forest`, children of a node side by side.
    fn from_forest(forest: &Forest) -> Self {
        let value = serde_json::to_value(forest).expect("forests serialize");
        let trees = value["trees"]
            .as_array()
            .expect("trees")
            .iter()
            .map(|t| {
                let ints = |k: &str| -> Vec<u64> {
                    t[k].as_array()
                        .expect("array")
                        .iter()
                        .map(|v| v.as_u64().expect("int"))
                        .collect()
                };
                let floats = |k: &str| -> Vec<f64> {
                    t[k].as_array()
                        .expect("array")
                        .iter()
                        .map(|v| v.as_f64().expect("number"))
                        .collect()
                };
                let (feature, left, right) = (ints("feature"), ints("left"), ints("right"));
                let (threshold, value) = (floats("threshold"), floats("value"));
                let leaf = u64::from(u16::MAX);
                // Breadth-first, giving each inner node's two children consecutive slots.
                let mut nodes = vec![Node {
                    threshold: f64::INFINITY,
                    left: 0,
                    feature: 0,
                }];
                let mut values = vec![0.0f32];
                let mut depth = 0;
                let mut queue = std::collections::VecDeque::from([(0usize, 0usize, 0usize)]);
                while let Some((old, new, d)) = queue.pop_front() {
                    depth = depth.max(d);
                    if feature[old] == leaf {
                        nodes[new] = Node {
                            threshold: f64::INFINITY,
                            left: new as u32,
                            feature: 0,
                        };
                        values[new] = value[old] as f32;
                        continue;
                    }
                    let first = nodes.len();
                    nodes[new] = Node {
                        threshold: threshold[old],
                        left: first as u32,
                        feature: feature[old] as u32,
                    };
                    for child in [left[old], right[old]] {
                        nodes.push(nodes[0]);
                        values.push(0.0);
                        queue.push_back((child as usize, nodes.len() - 1, d + 1));
                    }
                }
                CompactTree {
                    nodes,
                    values,
                    depth,
                }
            })
            .collect();
        CompactForest { trees }
    }

    fn predict_row_major(&self, x: &FeatureVector) -> f64 {
        let mut sum = 0.0f64;
        for tree in &self.trees {
            let mut i = 0usize;
            loop {
                let n = tree.nodes[i];
                let next = n.left as usize + usize::from(x[n.feature as usize] > n.threshold);
                if next == i {
                    break;
                }
                i = next;
            }
            sum += f64::from(tree.values[i]);
        }
        sum / self.trees.len() as f64
    }

    /// Tree by tree over blocks of `TREE_MAJOR_BLOCK` rows, each row walked with a
    /// branch per level (as `Forest::predict` does): the tree stays in L1 for the block.
    fn predict_tree_major(&self, xs: &[FeatureVector], out: &mut Vec<f64>) {
        out.clear();
        for block in xs.chunks(TREE_MAJOR_BLOCK) {
            let mut sums = [0.0f64; TREE_MAJOR_BLOCK];
            for tree in &self.trees {
                for (sum, x) in sums.iter_mut().zip(block) {
                    let mut i = 0usize;
                    loop {
                        let n = &tree.nodes[i];
                        if n.left as usize == i {
                            break;
                        }
                        i = if x[n.feature as usize] <= n.threshold {
                            n.left as usize
                        } else {
                            n.left as usize + 1
                        };
                    }
                    *sum += f64::from(tree.values[i]);
                }
            }
            out.extend(
                sums[..block.len()]
                    .iter()
                    .map(|s| s / self.trees.len() as f64),
            );
        }
    }

    /// Tree by tree over blocks of `B` rows walked in lockstep without a data-dependent
    /// branch (leaves loop on themselves), until no row of the block moves.
    fn predict_blocked<const B: usize>(&self, xs: &[FeatureVector], out: &mut Vec<f64>) {
        out.clear();
        for block in xs.chunks(B) {
            let mut sums = [0.0f64; B];
            for tree in &self.trees {
                let mut idx = [0usize; B];
                for _ in 0..tree.depth {
                    let mut moved = false;
                    for (i, x) in idx.iter_mut().zip(block) {
                        let n = tree.nodes[*i];
                        let next =
                            n.left as usize + usize::from(x[n.feature as usize] > n.threshold);
                        moved |= next != *i;
                        *i = next;
                    }
                    if !moved {
                        break;
                    }
                }
                for (sum, i) in sums.iter_mut().zip(&idx[..block.len()]) {
                    *sum += f64::from(tree.values[*i]);
                }
            }
            out.extend(
                sums[..block.len()]
                    .iter()
                    .map(|s| s / self.trees.len() as f64),
            );
        }
    }
}

/// The real fixture: a forest trained on small synthetic rows would be too small to
/// show what the layout does.
fn rows() -> Option<Vec<Transaction>> {
    let path = std::env::var_os("FRAUD_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fraud_fixture.csv")
        });
    let bytes = std::fs::read(&path).ok()?;
    let mut txs = read_transactions(bytes.as_slice(), |_| {}).ok()?;
    txs.sort_by_key(Transaction::event_time);
    Some(txs)
}

fn forest_layout(c: &mut Criterion) {
    let Some(txs) = rows() else {
        eprintln!("forest_layout: no fixture (set FRAUD_FIXTURE); nothing to measure");
        return;
    };
    let features = featurize_in_time_order(&txs);
    let labels: Vec<bool> = txs.iter().map(|t| t.is_fraud == Some(true)).collect();
    let train = txs.len() * 6 / 10;
    let forest = Forest::fit(
        &features[..train],
        &labels[..train],
        &ForestParams::default(),
        &|| {},
    )
    .expect("fixture trains");
    let scored: Vec<FeatureVector> = features[train..]
        .iter()
        .cycle()
        .take(ROWS)
        .copied()
        .collect();
    let compact = CompactForest::from_forest(&forest);
    let depth: usize = compact.trees.iter().map(|t| t.depth).max().unwrap_or(0);
    eprintln!(
        "forest_layout: {} trees, deepest {depth}",
        compact.trees.len()
    );

    // Same probabilities as the real forest (up to summation order).
    let reference: Vec<f64> = scored.iter().map(|x| forest.predict(x)).collect();
    let mut blocked = Vec::new();
    compact.predict_blocked::<BLOCK>(&scored, &mut blocked);
    let mut tree_major = Vec::new();
    compact.predict_tree_major(&scored, &mut tree_major);
    for (i, x) in scored.iter().enumerate() {
        assert!((compact.predict_row_major(x) - reference[i]).abs() < 1e-9);
        assert!((blocked[i] - reference[i]).abs() < 1e-9);
        assert!((tree_major[i] - reference[i]).abs() < 1e-9);
    }

    let mut group = c.benchmark_group("forest_layout");
    group.throughput(Throughput::Elements(scored.len() as u64));
    group.bench_function("forest_predict_10k", |b| {
        b.iter(|| scored.iter().map(|x| forest.predict(x)).sum::<f64>())
    });
    group.bench_function("compact_row_major_10k", |b| {
        b.iter(|| {
            black_box(&scored)
                .iter()
                .map(|x| compact.predict_row_major(x))
                .sum::<f64>()
        })
    });
    let mut out = Vec::with_capacity(scored.len());
    group.bench_function("compact_blocked_8_10k", |b| {
        b.iter(|| {
            compact.predict_blocked::<8>(black_box(&scored), &mut out);
            out.iter().sum::<f64>()
        })
    });
    group.bench_function("compact_blocked_16_10k", |b| {
        b.iter(|| {
            compact.predict_blocked::<16>(black_box(&scored), &mut out);
            out.iter().sum::<f64>()
        })
    });
    group.bench_function("compact_blocked_32_10k", |b| {
        b.iter(|| {
            compact.predict_blocked::<32>(black_box(&scored), &mut out);
            out.iter().sum::<f64>()
        })
    });
    group.bench_function("compact_tree_major_64_10k", |b| {
        b.iter(|| {
            compact.predict_tree_major(black_box(&scored), &mut out);
            out.iter().sum::<f64>()
        })
    });

    // A smaller forest (100 trees, at least 5 rows per leaf, depth ≤ 16): on the fixture
    // about a quarter of the nodes for a test PR-AUC about 2% lower (5 seeds).
    let small_params = ForestParams {
        n_trees: 100,
        min_leaf: 5,
        max_depth: 16,
        ..ForestParams::default()
    };
    let small = Forest::fit(&features[..train], &labels[..train], &small_params, &|| {})
        .expect("fixture trains");
    let small_compact = CompactForest::from_forest(&small);
    small_compact.predict_blocked::<16>(&scored, &mut out);
    for (x, p) in scored.iter().zip(&out) {
        assert!((small.predict(x) - p).abs() < 1e-9);
    }
    group.bench_function("small_forest_predict_10k", |b| {
        b.iter(|| scored.iter().map(|x| small.predict(x)).sum::<f64>())
    });
    group.bench_function("small_compact_blocked_16_10k", |b| {
        b.iter(|| {
            small_compact.predict_blocked::<16>(black_box(&scored), &mut out);
            out.iter().sum::<f64>()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = forest_layout
}
criterion_main!(benches);
