//! Training and evaluation with a time-based split.
//!
//! Rows are put in event-time order and cut into three consecutive slices: *train*
//! (the earliest), *validation* (where the decision threshold is chosen) and *test*
//! (the latest, reported and never used for any choice). Features are computed over
//! the whole sequence first: per-card history only looks at the past, so a test row may
//! see training rows of its card, never the other way round.

use std::time::Instant;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::artifact::{Evaluation, ModelArtifact, TrainingInfo};
use crate::calibration::{
    brier, reliability, Calibration, CostModel, DecisionPolicy, RELIABILITY_EDGES,
};
use crate::features::{featurize_in_time_order, FeatureVector};
use crate::metrics::{average_precision, best_f1_threshold, SliceReport};
use crate::model::{FitError, Forest, ForestParams};
use crate::schema::Transaction;

/// How the time-ordered rows are cut.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    /// Fraction of rows (earliest first) used to fit the model.
    pub train: f64,
    /// Fraction right after it used to choose the threshold; the rest is the test slice.
    pub validation: f64,
}

impl Default for TimeSplit {
    fn default() -> Self {
        TimeSplit {
            train: 0.6,
            validation: 0.1,
        }
    }
}

impl TimeSplit {
    /// Row ranges (in time order) of train, validation and test for `n` rows.
    pub fn ranges(&self, n: usize) -> [std::ops::Range<usize>; 3] {
        let a = ((n as f64) * self.train).round() as usize;
        let b = (((n as f64) * (self.train + self.validation)).round() as usize).max(a);
        [0..a, a..b.min(n), b.min(n)..n]
    }
}

/// Errors from training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the {slice} slice has {frauds} frauds among {rows} rows; it needs at least one of each class (more data, or another split)")]
    Slice {
        slice: &'static str,
        rows: usize,
        frauds: usize,
    },
    #[error(
        "every training row needs an `is_fraud` label; row with trans_num `{trans_num}` has none"
    )]
    Unlabelled { trans_num: String },
    #[error(
        "invalid split: train {train} + validation {validation} must be below 1 and both positive"
    )]
    Split { train: f64, validation: f64 },
    #[error(transparent)]
    Fit(#[from] FitError),
}

/// A labelled, featurized data set in time order.
pub struct Prepared {
    pub features: Vec<FeatureVector>,
    pub labels: Vec<bool>,
    pub trans_nums: Vec<String>,
}

/// Puts transactions in time order and computes their features with the shared pipeline.
pub fn prepare(mut txs: Vec<Transaction>) -> Result<Prepared, TrainError> {
    txs.sort_by_key(Transaction::event_time);
    let labels = txs
        .iter()
        .map(|t| {
            t.is_fraud.ok_or_else(|| TrainError::Unlabelled {
                trans_num: t.trans_num.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let features = featurize_in_time_order(&txs);
    let trans_nums = txs.into_iter().map(|t| t.trans_num).collect();
    Ok(Prepared {
        features,
        labels,
        trans_nums,
    })
}

/// Everything about the training data that goes into the artifact.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// Where the data came from (path or URI).
    pub uri: String,
    /// SHA-256 of the data's bytes.
    pub sha256: String,
}

/// One candidate model's result on the validation slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub params: ForestParams,
    pub validation_pr_auc: f64,
    pub train_seconds: f64,
    /// Trees in the fitted model (boosting: after early stopping, base tree included).
    #[serde(default)]
    pub trees: usize,
    /// The candidate's test-slice report at its own validation F1-best threshold. For
    /// the record only (e.g. `make compare`): the choice never looks at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<SliceReport>,
}

/// The candidates `fraudctl train` and the train function fit by default: the forest
/// with our CART, the forest with linfa-trees (depth ≤ 12) and our gradient boosting,
/// all with `seed`; `n_trees` sets the forests' size.
pub fn default_candidates(n_trees: usize, seed: u64) -> Vec<ForestParams> {
    let cart = ForestParams {
        n_trees,
        seed,
        ..ForestParams::default()
    };
    let linfa = ForestParams {
        learner: crate::model::Learner::LinfaTrees,
        max_depth: 12,
        ..cart.clone()
    };
    vec![cart, linfa, ForestParams::gbm(seed)]
}

/// [`train_and_evaluate_with_costs`] with the default [`CostModel`].
pub fn train_and_evaluate(
    data: &Prepared,
    source: &DataSource,
    candidates: &[ForestParams],
    split: TimeSplit,
    on_tree: &(dyn Fn() + Sync),
) -> Result<ModelArtifact, TrainError> {
    train_and_evaluate_with_costs(
        data,
        source,
        candidates,
        split,
        CostModel::default(),
        on_tree,
    )
}

/// Fits every candidate on the train slice and keeps the one with the best PR-AUC on
/// the validation slice (the test slice plays no part in the choice). On the
/// validation slice the chosen model then gets its calibration (Platt), its
/// approve / review / block thresholds (least cost under `costs`) and its feature
/// importances. The metrics' threshold is the F1-best on validation (for comparison
/// with other tools); the test slice is then reported.
pub fn train_and_evaluate_with_costs(
    data: &Prepared,
    source: &DataSource,
    candidates: &[ForestParams],
    split: TimeSplit,
    costs: CostModel,
    on_tree: &(dyn Fn() + Sync),
) -> Result<ModelArtifact, TrainError> {
    costs
        .validate()
        .map_err(|e| TrainError::Fit(FitError::Params(e)))?;
    if !(split.train > 0.0 && split.validation > 0.0 && split.train + split.validation < 1.0) {
        return Err(TrainError::Split {
            train: split.train,
            validation: split.validation,
        });
    }
    let n = data.labels.len();
    let [train, validation, test] = split.ranges(n);
    for (slice, range) in [
        ("train", &train),
        ("validation", &validation),
        ("test", &test),
    ] {
        let frauds = data.labels[range.clone()].iter().filter(|&&y| y).count();
        if frauds == 0 || frauds == range.len() {
            return Err(TrainError::Slice {
                slice,
                rows: range.len(),
                frauds,
            });
        }
    }
    let val_labels = &data.labels[validation.clone()];
    let mut best: Option<(Forest, Vec<f64>)> = None;
    let mut tried = Vec::new();
    for params in candidates {
        let started = Instant::now();
        let forest = Forest::fit_validated(
            &data.features[train.clone()],
            &data.labels[train.clone()],
            Some((&data.features[validation.clone()], val_labels)),
            params,
            on_tree,
        )?;
        let train_seconds = started.elapsed().as_secs_f64();
        let scores = forest.predict_many(&data.features[validation.clone()]);
        let validation_pr_auc = average_precision(val_labels, &scores);
        tracing::info!(learner = %params.learner, validation_pr_auc, train_seconds, trees = forest.trees.len(), "candidate fitted");
        let better = tried
            .iter()
            .all(|c: &Candidate| validation_pr_auc > c.validation_pr_auc);
        let (own_threshold, _) = best_f1_threshold(val_labels, &scores);
        let own_test = forest.predict_many(&data.features[test.clone()]);
        tried.push(Candidate {
            params: params.clone(),
            validation_pr_auc,
            train_seconds,
            trees: forest.trees.len(),
            test: Some(SliceReport::new(
                &data.labels[test.clone()],
                &own_test,
                own_threshold,
            )),
        });
        if better {
            best = Some((forest, scores));
        }
    }
    let Some((forest, val_raw)) = best else {
        return Err(TrainError::Fit(FitError::Params(
            "no candidate model given".into(),
        )));
    };
    let train_seconds = tried.iter().map(|c| c.train_seconds).sum();
    let calibration = Calibration::fit(val_labels, &val_raw);
    let val_scores: Vec<f64> = val_raw.iter().map(|&r| calibration.apply(r)).collect();
    let test_raw = forest.predict_many(&data.features[test.clone()]);
    let test_scores: Vec<f64> = test_raw.iter().map(|&r| calibration.apply(r)).collect();
    let test_labels = &data.labels[test.clone()];
    let (threshold, _) = best_f1_threshold(val_labels, &val_scores);
    let amounts = |range: &std::ops::Range<usize>| -> Vec<f64> {
        data.features[range.clone()].iter().map(|f| f[0]).collect()
    };
    let policy = DecisionPolicy::choose(val_labels, &val_scores, &amounts(&validation), costs);
    let evaluation = Evaluation {
        test_brier_raw: brier(test_labels, &test_raw),
        test_brier: brier(test_labels, &test_scores),
        test_expected_frauds: test_scores.iter().sum(),
        test_observed_frauds: test_labels.iter().filter(|&&y| y).count() as u64,
        test_reliability: reliability(test_labels, &test_scores, &RELIABILITY_EDGES),
        validation_cost: policy.cost(val_labels, &val_scores, &amounts(&validation)),
        test_cost: policy.cost(test_labels, &test_scores, &amounts(&test)),
    };
    let feature_importance = forest.feature_importance(&data.features[validation.clone()]);

    let metrics = crate::artifact::Metrics {
        validation: SliceReport::new(val_labels, &val_scores, threshold),
        test: SliceReport::new(test_labels, &test_scores, threshold),
    };
    let info = TrainingInfo {
        data_uri: source.uri.clone(),
        data_sha256: source.sha256.clone(),
        rows: n as u64,
        frauds: data.labels.iter().filter(|&&y| y).count() as u64,
        split,
        train_rows: train.len() as u64,
        validation_rows: validation.len() as u64,
        test_rows: test.len() as u64,
        train_seconds,
        candidates: tried,
    };
    let mut artifact = ModelArtifact::new(forest, threshold, metrics, info, Utc::now())
        .with_policy(calibration, policy);
    artifact.feature_importance = feature_importance;
    artifact.evaluation = Some(evaluation);
    Ok(artifact)
}
