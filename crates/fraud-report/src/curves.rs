//! The numbers behind the figures, computed from scores, labels and amounts alone:
//! precision–recall and ROC points, their areas, confusion counts, the score histogram
//! and the cost of each threshold. Counts and areas are `fraud_core::metrics`' own
//! (scikit-learn's definitions), so the report's areas are the recorded metrics.

use serde::{Deserialize, Serialize};

// One definition of the counts and areas: the recorded metrics' own.
use fraud_core::metrics::threshold_steps;
pub use fraud_core::metrics::{average_precision, roc_auc, Confusion};

fn positives(labels: &[bool]) -> u64 {
    labels.iter().filter(|&&y| y).count() as u64
}

/// Precision–recall points (recall, precision), from the highest threshold down,
/// starting at (0, 1) as scikit-learn's curve does.
pub fn pr_points(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let p = positives(labels).max(1) as f64;
    let mut points = vec![(0.0, 1.0)];
    points.extend(
        threshold_steps(labels, scores)
            .into_iter()
            .map(|(_, tp, fp)| (tp as f64 / p, tp as f64 / (tp + fp) as f64)),
    );
    points
}

/// ROC points (false-positive rate, true-positive rate) from (0, 0) to (1, 1).
pub fn roc_points(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let p = positives(labels).max(1) as f64;
    let n = (labels.len() as u64 - positives(labels)).max(1) as f64;
    let mut points = vec![(0.0, 0.0)];
    points.extend(
        threshold_steps(labels, scores)
            .into_iter()
            .map(|(_, tp, fp)| (fp as f64 / n, tp as f64 / p)),
    );
    points
}

/// Per-class counts of scores in `bins` equal bins over [0, 1] (a score of exactly 1
/// goes into the last bin): (legitimate, fraud).
pub fn histogram(labels: &[bool], scores: &[f64], bins: usize) -> (Vec<u64>, Vec<u64>) {
    let mut legit = vec![0u64; bins];
    let mut fraud = vec![0u64; bins];
    for (&y, &s) in labels.iter().zip(scores) {
        let bin = ((s.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        if y {
            fraud[bin] += 1;
        } else {
            legit[bin] += 1;
        }
    }
    (legit, fraud)
}

/// What flagging at a threshold costs: the fraud amount let through plus
/// `review_cost` for every alert an analyst has to look at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub threshold: f64,
    pub missed_fraud_amount: f64,
    pub alerts: u64,
    pub total: f64,
}

/// The cost at each threshold of `thresholds`.
pub fn cost_curve(
    labels: &[bool],
    scores: &[f64],
    amounts: &[f64],
    review_cost: f64,
    thresholds: &[f64],
) -> Vec<Cost> {
    // Sort once by score; each threshold is then a binary search plus prefix sums.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let sorted: Vec<f64> = order.iter().map(|&i| scores[i]).collect();
    let mut missed_prefix = Vec::with_capacity(order.len() + 1);
    missed_prefix.push(0.0);
    let mut sum = 0.0;
    for &i in &order {
        if labels[i] {
            sum += amounts[i];
        }
        missed_prefix.push(sum);
    }
    thresholds
        .iter()
        .map(|&t| {
            let below = sorted.partition_point(|&s| s < t);
            let missed = missed_prefix[below];
            let alerts = (sorted.len() - below) as u64;
            Cost {
                threshold: t,
                missed_fraud_amount: missed,
                alerts,
                total: missed + review_cost * alerts as f64,
            }
        })
        .collect()
}

/// The cheapest threshold among every distinct score (and "flag nothing" above them).
pub fn cheapest_threshold(
    labels: &[bool],
    scores: &[f64],
    amounts: &[f64],
    review_cost: f64,
) -> Cost {
    let mut candidates: Vec<f64> = scores.to_vec();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    candidates.push(f64::INFINITY);
    cost_curve(labels, scores, amounts, review_cost, &candidates)
        .into_iter()
        .min_by(|a, b| a.total.total_cmp(&b.total))
        .expect("at least the flag-nothing threshold")
}

#[cfg(test)]
mod tests {
    use super::*;

    const Y: [bool; 4] = [false, false, true, true];
    const S: [f64; 4] = [0.1, 0.4, 0.35, 0.8];

    #[test]
    fn areas_match_scikit_learn_example() {
        assert!((average_precision(&Y, &S) - 0.833_333_333).abs() < 1e-9);
        assert!((roc_auc(&Y, &S) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn curves_start_and_end_where_they_should() {
        let roc = roc_points(&Y, &S);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        let pr = pr_points(&Y, &S);
        assert_eq!(pr.first(), Some(&(0.0, 1.0)));
        assert_eq!(pr.last(), Some(&(1.0, 0.5)));
    }

    #[test]
    fn cost_counts_missed_fraud_amount_and_alerts() {
        let amounts = [10.0, 20.0, 300.0, 4000.0];
        let c = cost_curve(&Y, &S, &amounts, 5.0, &[0.0, 0.5, 0.9]);
        // t=0: everything flagged, nothing missed.
        assert_eq!(
            (c[0].missed_fraud_amount, c[0].alerts, c[0].total),
            (0.0, 4, 20.0)
        );
        // t=0.5: only 0.8 flagged; the 300 fraud at 0.35 is missed.
        assert_eq!(
            (c[1].missed_fraud_amount, c[1].alerts, c[1].total),
            (300.0, 1, 305.0)
        );
        // t=0.9: nothing flagged, both frauds missed.
        assert_eq!((c[2].missed_fraud_amount, c[2].alerts), (4300.0, 0));
        // Cheapest: flag 0.8 and 0.4 and 0.35 (3 alerts, 15) beats 305.
        let best = cheapest_threshold(&Y, &S, &amounts, 5.0);
        assert_eq!((best.threshold, best.total), (0.35, 15.0));
    }

    #[test]
    fn histogram_puts_each_score_in_its_class_and_bin() {
        let (legit, fraud) = histogram(&Y, &[0.0, 0.45, 0.5, 1.0], 10);
        assert_eq!(legit.iter().sum::<u64>(), 2);
        assert_eq!((legit[0], legit[4]), (1, 1));
        assert_eq!((fraud[5], fraud[9]), (1, 1));
    }
}
