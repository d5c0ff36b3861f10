//! Evaluation metrics for a rare positive class: average precision (PR-AUC), ROC-AUC,
//! the confusion matrix and F1 at a threshold, and the F1-best threshold.
//!
//! Definitions follow scikit-learn (`average_precision_score`, `roc_auc_score`) so our
//! numbers and the Python reference's are comparable; the tests pin known values.

use serde::{Deserialize, Serialize};

/// Counts at one decision threshold (score ≥ threshold → fraud).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
}

impl Confusion {
    /// Counts the outcomes of `scores` against `labels` at `threshold`.
    pub fn at(labels: &[bool], scores: &[f64], threshold: f64) -> Self {
        let mut c = Confusion::default();
        for (&y, &s) in labels.iter().zip(scores) {
            match (y, s >= threshold) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        c
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Indices sorted by descending score.
fn by_descending_score(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Walks the distinct thresholds from the highest score down, yielding
/// (threshold, true positives, false positives) at each (also what the run report's
/// curves are drawn from).
pub fn threshold_steps(labels: &[bool], scores: &[f64]) -> Vec<(f64, u64, u64)> {
    let order = by_descending_score(scores);
    let mut steps = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            steps.push((scores[i], tp, fp));
        }
    }
    steps
}

/// Average precision: Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds (scikit-learn's
/// definition, no interpolation). 0 when there are no positives.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> f64 {
    assert_eq!(labels.len(), scores.len(), "one score per label");
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    if positives == 0.0 {
        return 0.0;
    }
    let mut ap = 0.0;
    let mut previous_recall = 0.0;
    for (_, tp, fp) in threshold_steps(labels, scores) {
        let recall = tp as f64 / positives;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    ap
}

/// Area under the ROC curve (probability a random positive outscores a random
/// negative, ties counting one half). 0.5 when either class is absent.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    assert_eq!(labels.len(), scores.len(), "one score per label");
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    let mut area = 0.0;
    let (mut prev_tp, mut prev_fp) = (0.0, 0.0);
    for (_, tp, fp) in threshold_steps(labels, scores) {
        let (tp, fp) = (tp as f64, fp as f64);
        area += (fp - prev_fp) * (tp + prev_tp) / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    }
    area / (positives * negatives)
}

/// The threshold with the highest F1 (ties go to the higher threshold), and that F1.
///
/// The threshold is placed halfway between the lowest score flagged at the best point and
/// the next lower score, rather than on the score itself, so that it does not sit exactly
/// on one validation row; the flagged set on the validation slice is the same.
pub fn best_f1_threshold(labels: &[bool], scores: &[f64]) -> (f64, f64) {
    let positives = labels.iter().filter(|&&y| y).count() as u64;
    let steps = threshold_steps(labels, scores);
    let mut best: Option<(usize, f64)> = None;
    for (k, &(_, tp, fp)) in steps.iter().enumerate() {
        let f1 = ratio(2 * tp, tp + fp + positives);
        if best.is_none_or(|(_, b)| f1 > b) {
            best = Some((k, f1));
        }
    }
    match best {
        None => (f64::INFINITY, 0.0),
        Some((k, f1)) => {
            let at = steps[k].0;
            let threshold = steps.get(k + 1).map_or(at, |next| at - (at - next.0) / 2.0);
            (threshold, f1)
        }
    }
}

/// Everything reported about one evaluation slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceReport {
    pub rows: u64,
    pub frauds: u64,
    pub pr_auc: f64,
    pub roc_auc: f64,
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub confusion: Confusion,
}

impl SliceReport {
    /// Scores a slice at a threshold chosen elsewhere.
    pub fn new(labels: &[bool], scores: &[f64], threshold: f64) -> Self {
        let confusion = Confusion::at(labels, scores, threshold);
        SliceReport {
            rows: labels.len() as u64,
            frauds: labels.iter().filter(|&&y| y).count() as u64,
            pr_auc: average_precision(labels, scores),
            roc_auc: roc_auc(labels, scores),
            threshold,
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            confusion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // scikit-learn's documented example: average_precision_score -> 0.8333..., roc_auc_score -> 0.75
    const Y: [bool; 4] = [false, false, true, true];
    const S: [f64; 4] = [0.1, 0.4, 0.35, 0.8];

    #[test]
    fn average_precision_matches_scikit_learn_example() {
        assert!((average_precision(&Y, &S) - 0.833_333_333).abs() < 1e-9);
    }

    #[test]
    fn roc_auc_matches_scikit_learn_example() {
        assert!((roc_auc(&Y, &S) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn ties_are_grouped_into_one_threshold() {
        // sklearn: average_precision_score([1,0,1,0],[0.5,0.5,0.5,0.1]) == 2/3, roc_auc == 0.75
        let y = [true, false, true, false];
        let s = [0.5, 0.5, 0.5, 0.1];
        assert!((average_precision(&y, &s) - 2.0 / 3.0).abs() < 1e-12);
        assert!((roc_auc(&y, &s) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let y = [false, true, false, true];
        let s = [0.1, 0.9, 0.2, 0.8];
        assert_eq!(average_precision(&y, &s), 1.0);
        assert_eq!(roc_auc(&y, &s), 1.0);
        assert_eq!(best_f1_threshold(&y, &s), (0.5, 1.0));
    }

    #[test]
    fn confusion_and_f1_at_threshold() {
        let c = Confusion::at(&Y, &S, 0.35);
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 1,
                fn_: 0
            }
        );
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.recall(), 1.0);
        assert!((c.f1() - 0.8).abs() < 1e-12);
    }
}
