//! Builds a [`ReportInput`] from a training run of `fraud_core`: the artifact, the
//! prepared (time-ordered) data it was trained on, each row's amount and, when there is
//! one, the promoted model to compare with. Figures are drawn from the test slice, the
//! rows no choice was made on.

use std::collections::HashMap;

use fraud_core::artifact::ModelArtifact;
use fraud_core::metrics::SliceReport;
use fraud_core::train::Prepared;
use fraud_core::Transaction;

use crate::importance::{permutation_importance, METHOD};
use crate::input::{PreviousModel, ReportInput, SliceMetrics};
use crate::ReportError;

/// Each transaction's amount by `trans_num`, taken before the transactions are
/// consumed by `prepare` (which keeps only features, labels and ids).
pub fn amounts_by_trans_num(txs: &[Transaction]) -> HashMap<String, f64> {
    txs.iter().map(|t| (t.trans_num.clone(), t.amt)).collect()
}

/// The amounts of the prepared rows, in their (time) order.
pub fn amounts_in_order(
    prepared: &Prepared,
    amounts: &HashMap<String, f64>,
) -> Result<Vec<f64>, ReportError> {
    prepared
        .trans_nums
        .iter()
        .map(|t| {
            amounts
                .get(t)
                .copied()
                .ok_or_else(|| ReportError::Data(format!("no amount for trans_num `{t}`")))
        })
        .collect()
}

fn slice_metrics(slice: &str, r: &SliceReport) -> SliceMetrics {
    SliceMetrics {
        slice: slice.to_owned(),
        rows: r.rows,
        frauds: r.frauds,
        pr_auc: r.pr_auc,
        roc_auc: r.roc_auc,
        threshold: r.threshold,
        precision: r.precision,
        recall: r.recall,
        f1: r.f1,
    }
}

fn recorded_metrics(artifact: &ModelArtifact) -> Vec<SliceMetrics> {
    vec![
        slice_metrics("validation", &artifact.metrics.validation),
        slice_metrics("test", &artifact.metrics.test),
    ]
}

/// Everything the report of `artifact` shows. `prepared` must be the data the model
/// was trained on (same rows, same order) and `amounts` its amounts in that order.
pub fn report_input(
    artifact: &ModelArtifact,
    prepared: &Prepared,
    amounts: &[f64],
    previous: Option<&ModelArtifact>,
    review_cost: f64,
) -> Result<ReportInput, ReportError> {
    let n = prepared.labels.len();
    if n as u64 != artifact.training.rows {
        return Err(ReportError::Data(format!(
            "the data has {n} rows but model {} was trained on {}: not the same data",
            artifact.version, artifact.training.rows
        )));
    }
    if amounts.len() != n {
        return Err(ReportError::Data(format!(
            "{} amounts for {n} rows",
            amounts.len()
        )));
    }
    let [_, _, test] = artifact.training.split.ranges(n);
    let features = &prepared.features[test.clone()];
    let labels = prepared.labels[test.clone()].to_vec();
    let scores = artifact.model.predict_many(features);
    let feature_importances = permutation_importance(
        features,
        &labels,
        &artifact.feature_names,
        |rows| artifact.model.predict_many(rows),
        artifact.model.params.seed,
    );
    let previous = previous.map(|p| PreviousModel {
        version: p.version.clone(),
        scores: p.model.predict_many(features),
        threshold: p.threshold,
        recorded_metrics: recorded_metrics(p),
    });
    let training = &artifact.training;
    let mut params: Vec<(String, String)> = Vec::new();
    if let serde_json::Value::Object(map) =
        serde_json::to_value(&artifact.model.params).expect("forest parameters serialize")
    {
        for (k, v) in map {
            let shown = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => "(default)".into(),
                other => other.to_string(),
            };
            params.push((k, shown));
        }
    }
    params.extend([
        (
            "split".into(),
            format!(
                "train {} / validation {} / test {} (time order)",
                training.split.train,
                training.split.validation,
                1.0 - training.split.train - training.split.validation
            ),
        ),
        ("rows".into(), training.rows.to_string()),
        ("frauds".into(), training.frauds.to_string()),
        (
            "train / validation / test rows".into(),
            format!(
                "{} / {} / {}",
                training.train_rows, training.validation_rows, training.test_rows
            ),
        ),
        (
            "fitting time".into(),
            format!("{:.2} s", training.train_seconds),
        ),
    ]);
    for c in &training.candidates {
        params.push((
            format!("candidate {}", c.params.learner),
            format!(
                "validation PR-AUC {:.4}{}, {} trees in {:.2} s{}",
                c.validation_pr_auc,
                match c.selection_pr_auc {
                    Some(mean) if !c.fold_pr_auc.is_empty() =>
                        format!(", mean over {} time folds {mean:.4}", c.fold_pr_auc.len()),
                    _ => String::new(),
                },
                if c.trees > 0 {
                    c.trees
                } else {
                    c.params.n_trees
                },
                c.train_seconds,
                if c.params == artifact.model.params {
                    " (chosen)"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(ReportInput {
        model_version: artifact.version.clone(),
        created_at: artifact.created_at.to_rfc3339(),
        learner: artifact.model.params.learner.to_string(),
        data_uri: training.data_uri.clone(),
        data_sha256: training.data_sha256.clone(),
        params,
        metrics: recorded_metrics(artifact),
        evaluated_slice: "test".into(),
        scores,
        labels,
        amounts: amounts[test].to_vec(),
        threshold: artifact.threshold,
        review_cost,
        feature_importances,
        importance_method: METHOD.into(),
        previous,
        notes: Vec::new(),
    })
}
