//! From raw model scores to probabilities, and from probabilities to outcomes.
//!
//! - [`Calibration`]: Platt scaling on the log-odds of the raw score,
//!   `p = σ(a · logit(raw) + b)`, fitted on the validation slice (never the training
//!   rows, whose scores are optimistic). Two parameters are all ~20 validation frauds
//!   can support (isotonic regression would overfit them), and the map is strictly
//!   increasing, so ranking metrics (PR-AUC, ROC-AUC) do not change.
//! - [`DecisionPolicy`]: approve / review / block thresholds on the calibrated
//!   probability, chosen on the validation slice to minimise the money a [`CostModel`]
//!   charges: an approved fraud loses its amount, a reviewed payment costs
//!   `review_cost` (and its fraud is caught), a blocked legitimate payment costs
//!   `decline_cost`, a blocked fraud costs nothing.
//! - [`reliability`]: observed fraud rate per probability bin, to check calibration on
//!   held-back rows.

use serde::{Deserialize, Serialize};

/// Raw scores are clamped to `[EPS, 1 − EPS]` before taking log-odds.
const EPS: f64 = 1e-6;

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `ln(1 + eˣ)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// Total log-loss of `σ(a·z + b)` against the (smoothed) targets `t`.
fn platt_loss(z: &[f64], t: &[f64], a: f64, b: f64) -> f64 {
    z.iter()
        .zip(t)
        .map(|(&zi, &ti)| {
            let u = a * zi + b;
            // −[t·ln σ(u) + (1−t)·ln(1−σ(u))] = softplus(u) − t·u
            softplus(u) - ti * u
        })
        .sum()
}

/// Platt scaling parameters: `p = σ(a · logit(raw) + b)`. `a = 1, b = 0` is the identity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub a: f64,
    pub b: f64,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration::IDENTITY
    }
}

impl Calibration {
    /// Leaves scores as they are.
    pub const IDENTITY: Calibration = Calibration { a: 1.0, b: 0.0 };

    /// Fits Platt scaling to `labels` and raw `scores` (Newton's method on the log-loss,
    /// each step halved until the loss drops, with Platt's smoothed targets
    /// `(N₊+1)/(N₊+2)` and `1/(N₋+2)`, which keep the optimum finite). Stops after 100
    /// steps or when no step lowers the loss; falls back to the identity when the fit
    /// is not finite or not increasing.
    pub fn fit(labels: &[bool], scores: &[f64]) -> Calibration {
        assert_eq!(labels.len(), scores.len(), "one score per label");
        let positives = labels.iter().filter(|&&y| y).count() as f64;
        let negatives = labels.len() as f64 - positives;
        if positives == 0.0 || negatives == 0.0 {
            return Calibration::IDENTITY;
        }
        let hi = (positives + 1.0) / (positives + 2.0);
        let lo = 1.0 / (negatives + 2.0);
        let z: Vec<f64> = scores.iter().map(|&s| logit(s)).collect();
        let t: Vec<f64> = labels.iter().map(|&y| if y { hi } else { lo }).collect();
        let (mut a, mut b) = (1.0, 0.0);
        let mut loss = platt_loss(&z, &t, a, b);
        for _ in 0..100 {
            // Gradient and Hessian of the log-loss in (a, b), with a tiny ridge.
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&zi, &ti) in z.iter().zip(&t) {
                let p = sigmoid(a * zi + b);
                let d = p - ti;
                let w = (p * (1.0 - p)).max(1e-12);
                ga += d * zi;
                gb += d;
                haa += w * zi * zi;
                hab += w * zi;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-18 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            // Newton's step can overshoot by orders of magnitude where the sigmoid is
            // flat (well-separated validation scores): halve it until the loss drops.
            let mut step = 1.0;
            let improved = loop {
                let (na, nb) = (a - step * da, b - step * db);
                let new_loss = platt_loss(&z, &t, na, nb);
                if na.is_finite() && nb.is_finite() && new_loss <= loss {
                    break Some((na, nb, new_loss));
                }
                step /= 2.0;
                if step < 1e-10 {
                    break None;
                }
            };
            let Some((na, nb, new_loss)) = improved else {
                break;
            };
            let converged = (loss - new_loss).abs() <= 1e-12 * loss.max(1.0)
                || (step * da).abs() < 1e-10 && (step * db).abs() < 1e-10;
            (a, b, loss) = (na, nb, new_loss);
            if converged {
                break;
            }
        }
        if a > 0.0 {
            Calibration { a, b }
        } else {
            Calibration::IDENTITY
        }
    }

    /// The calibrated probability of a raw score.
    pub fn apply(&self, raw: f64) -> f64 {
        if *self == Calibration::IDENTITY {
            return raw;
        }
        sigmoid(self.a * logit(raw) + self.b)
    }

    /// The calibrated log-odds of a raw score, `a · logit(raw) + b` (raw clamped to
    /// `[1e-6, 1 − 1e-6]`); blends average these.
    pub fn log_odds(&self, raw: f64) -> f64 {
        self.a * logit(raw) + self.b
    }

    /// Checks the parameters (used when loading an artifact).
    pub fn validate(&self) -> Result<(), String> {
        if self.a > 0.0 && self.a.is_finite() && self.b.is_finite() {
            Ok(())
        } else {
            Err(format!(
                "calibration a = {}, b = {} (a must be positive and both finite)",
                self.a, self.b
            ))
        }
    }
}

/// What each outcome costs, in the currency of `amt`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Cost of one manual review (`FRAUD_REVIEW_COST`, `--review-cost`; default 5).
    pub review_cost: f64,
    /// Cost of blocking a legitimate payment: lost sale and customer friction
    /// (`FRAUD_DECLINE_COST`, `--decline-cost`; default 25).
    pub decline_cost: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            review_cost: 5.0,
            decline_cost: 25.0,
        }
    }
}

impl CostModel {
    /// Checks that both costs are finite and non-negative.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("review_cost", self.review_cost),
            ("decline_cost", self.decline_cost),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a non-negative number, got {v}"));
            }
        }
        Ok(())
    }
}

/// What to do with a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Let it through.
    Approve,
    /// Hold for a manual review (an alert).
    Review,
    /// Decline it (an alert).
    Block,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approve => "approve",
            Outcome::Review => "review",
            Outcome::Block => "block",
        }
    }
}

/// Thresholds on the calibrated probability: `p ≥ block_threshold` blocks, else
/// `p ≥ review_threshold` reviews, else approves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecisionPolicy {
    pub review_threshold: f64,
    pub block_threshold: f64,
    /// The costs the thresholds were chosen for.
    pub costs: CostModel,
}

/// Money an outcome assignment costs on labelled rows, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    pub approved: u64,
    pub reviewed: u64,
    pub blocked: u64,
    /// Amount of the frauds approved.
    pub fraud_amount_lost: f64,
    /// Amount of the frauds reviewed or blocked.
    pub fraud_amount_stopped: f64,
    pub review_cost: f64,
    pub decline_cost: f64,
    /// `fraud_amount_lost + review_cost + decline_cost`.
    pub total_cost: f64,
}

impl DecisionPolicy {
    /// A single threshold: review and block both start at `threshold` (so everything
    /// flagged is blocked).
    pub fn single(threshold: f64) -> Self {
        DecisionPolicy {
            review_threshold: threshold,
            block_threshold: threshold,
            costs: CostModel::default(),
        }
    }

    /// The outcome of a calibrated probability.
    pub fn outcome(&self, probability: f64) -> Outcome {
        if probability >= self.block_threshold {
            Outcome::Block
        } else if probability >= self.review_threshold {
            Outcome::Review
        } else {
            Outcome::Approve
        }
    }

    /// Chooses the two thresholds minimising the total cost on labelled rows
    /// (`probabilities` calibrated, `amounts` of the payments). Thresholds fall halfway
    /// between adjacent distinct probabilities; ties in cost go to the higher thresholds.
    pub fn choose(
        labels: &[bool],
        probabilities: &[f64],
        amounts: &[f64],
        costs: CostModel,
    ) -> DecisionPolicy {
        let n = labels.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        // Cut points: after position k (the k highest rows are flagged), only where the
        // next row has a different probability. cuts[0] = 0 flags nothing.
        let mut cuts = vec![0usize];
        for k in 1..=n {
            if k == n || probabilities[order[k]] != probabilities[order[k - 1]] {
                cuts.push(k);
            }
        }
        // Prefix sums over the descending order.
        let mut fraud_amt = vec![0.0; n + 1];
        let mut legit = vec![0.0; n + 1];
        for (k, &i) in order.iter().enumerate() {
            fraud_amt[k + 1] = fraud_amt[k] + if labels[i] { amounts[i] } else { 0.0 };
            legit[k + 1] = legit[k] + if labels[i] { 0.0 } else { 1.0 };
        }
        let total_fraud = fraud_amt[n];
        // cost(r, b) = missed(r) + (r − b)·review + legit(b)·decline
        //            = [missed(r) + r·review] + [legit(b)·decline − b·review], b ≤ r:
        // one pass over r keeping the best b so far (the first on ties), O(cuts).
        let mut best = (f64::INFINITY, 0usize, 0usize);
        let mut best_b = (f64::INFINITY, 0usize);
        for &r in &cuts {
            let g = legit[r] * costs.decline_cost - r as f64 * costs.review_cost;
            if g < best_b.0 - 1e-9 {
                best_b = (g, r);
            }
            let cost = total_fraud - fraud_amt[r] + r as f64 * costs.review_cost + best_b.0;
            if cost < best.0 - 1e-9 {
                best = (cost, r, best_b.1);
            }
        }
        let threshold_at = |k: usize| -> f64 {
            if k == 0 {
                // Flag nothing: just above the highest probability.
                return order
                    .first()
                    .map_or(1.0, |&i| (probabilities[i] + 1.0) / 2.0)
                    .max(f64::MIN_POSITIVE);
            }
            let last = probabilities[order[k - 1]];
            match order.get(k) {
                Some(&next) => last - (last - probabilities[next]) / 2.0,
                None => last / 2.0,
            }
        };
        DecisionPolicy {
            review_threshold: threshold_at(best.1),
            block_threshold: threshold_at(best.2),
            costs,
        }
    }

    /// What this policy costs on labelled rows.
    pub fn cost(&self, labels: &[bool], probabilities: &[f64], amounts: &[f64]) -> CostReport {
        let mut r = CostReport::default();
        for ((&y, &p), &amt) in labels.iter().zip(probabilities).zip(amounts) {
            match self.outcome(p) {
                Outcome::Approve => {
                    r.approved += 1;
                    if y {
                        r.fraud_amount_lost += amt;
                    }
                }
                Outcome::Review => {
                    r.reviewed += 1;
                    r.review_cost += self.costs.review_cost;
                    if y {
                        r.fraud_amount_stopped += amt;
                    }
                }
                Outcome::Block => {
                    r.blocked += 1;
                    if y {
                        r.fraud_amount_stopped += amt;
                    } else {
                        r.decline_cost += self.costs.decline_cost;
                    }
                }
            }
        }
        r.total_cost = r.fraud_amount_lost + r.review_cost + r.decline_cost;
        r
    }

    /// Checks the thresholds (used when loading an artifact).
    pub fn validate(&self) -> Result<(), String> {
        if (0.0..=1.0).contains(&self.review_threshold)
            && (0.0..=1.0).contains(&self.block_threshold)
            && self.review_threshold <= self.block_threshold
        {
            self.costs.validate()
        } else {
            Err(format!(
                "thresholds review {} and block {} must be probabilities with review ≤ block",
                self.review_threshold, self.block_threshold
            ))
        }
    }
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Probability range `[lower, upper)` of the bin.
    pub lower: f64,
    pub upper: f64,
    pub rows: u64,
    pub frauds: u64,
    /// Mean predicted probability in the bin.
    pub mean_probability: f64,
    /// Observed fraud rate in the bin.
    pub fraud_rate: f64,
}

/// Reliability over fixed bin edges (`edges` ascending, starting at 0 and ending at 1);
/// empty bins are left out.
pub fn reliability(labels: &[bool], probabilities: &[f64], edges: &[f64]) -> Vec<ReliabilityBin> {
    edges
        .windows(2)
        .enumerate()
        .filter_map(|(k, w)| {
            let last = k + 2 == edges.len();
            let (mut rows, mut frauds, mut sum) = (0u64, 0u64, 0.0);
            for (&y, &p) in labels.iter().zip(probabilities) {
                if p >= w[0] && (p < w[1] || (last && p <= w[1])) {
                    rows += 1;
                    frauds += u64::from(y);
                    sum += p;
                }
            }
            (rows > 0).then(|| ReliabilityBin {
                lower: w[0],
                upper: w[1],
                rows,
                frauds,
                mean_probability: sum / rows as f64,
                fraud_rate: frauds as f64 / rows as f64,
            })
        })
        .collect()
}

/// Bin edges for [`reliability`] suited to a rare class: finer near 0.
pub const RELIABILITY_EDGES: [f64; 9] = [0.0, 0.001, 0.005, 0.02, 0.05, 0.1, 0.3, 0.6, 1.0];

/// Mean squared error of probabilities (Brier score).
pub fn brier(labels: &[bool], probabilities: &[f64]) -> f64 {
    let n = labels.len().max(1) as f64;
    labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| (p - f64::from(u8::from(y))).powi(2))
        .sum::<f64>()
        / n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::average_precision;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Rows whose true fraud probability is `q`, with a raw score that overstates it
    /// (as a class-balanced forest does): raw = σ(1.5·logit(q) + 2).
    fn miscalibrated(n: usize, seed: u64) -> (Vec<bool>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let q: f64 = sigmoid(rng.random_range(-8.0..1.0));
                let raw = sigmoid(1.5 * logit(q) + 2.0);
                (rng.random_bool(q), raw)
            })
            .unzip()
    }

    #[test]
    fn platt_scaling_makes_held_back_scores_reliable() {
        let (fit_y, fit_s) = miscalibrated(20_000, 1);
        let (test_y, test_s) = miscalibrated(50_000, 2);
        let cal = Calibration::fit(&fit_y, &fit_s);
        assert!((cal.a - 1.0 / 1.5).abs() < 0.1, "{cal:?}");
        let probs: Vec<f64> = test_s.iter().map(|&s| cal.apply(s)).collect();
        // Expected vs observed frauds overall, within 5%.
        let expected: f64 = probs.iter().sum();
        let observed = test_y.iter().filter(|&&y| y).count() as f64;
        assert!(
            (expected - observed).abs() / observed < 0.05,
            "{expected} vs {observed}"
        );
        // Every populated bin within 3 binomial standard errors (plus 0.005).
        for bin in reliability(&test_y, &probs, &RELIABILITY_EDGES) {
            let se = (bin.mean_probability * (1.0 - bin.mean_probability) / bin.rows as f64).sqrt();
            assert!(
                (bin.fraud_rate - bin.mean_probability).abs() < 3.0 * se + 0.005,
                "{bin:?}"
            );
        }
        assert!(brier(&test_y, &probs) < brier(&test_y, &test_s));
    }

    #[test]
    fn platt_scaling_stays_finite_and_keeps_scores_apart_when_validation_is_separable() {
        // Ten frauds all scored above every legitimate row, as a forest does on an easy
        // validation slice: unsmoothed, the log-loss optimum is at a = ∞. The fit must
        // stay moderate so that calibrated scores keep their order (no ties at 0 or 1).
        let mut labels = vec![false; 2_000];
        let mut scores: Vec<f64> = (0..2_000)
            .map(|i| 0.001 + 0.3 * i as f64 / 2_000.0)
            .collect();
        for i in 0..10 {
            labels.push(true);
            scores.push(0.6 + 0.03 * i as f64);
        }
        let cal = Calibration::fit(&labels, &scores);
        assert!(cal.validate().is_ok(), "{cal:?}");
        assert!(cal.a < 20.0, "{cal:?}");
        let probs: Vec<f64> = scores.iter().map(|&s| cal.apply(s)).collect();
        let distinct_frauds: std::collections::BTreeSet<u64> =
            probs[2_000..].iter().map(|p| p.to_bits()).collect();
        assert_eq!(distinct_frauds.len(), 10, "{:?}", &probs[2_000..]);
        assert!(probs[..2_000].iter().all(|&p| p < probs[2_000]));
        assert_eq!(
            average_precision(&labels, &probs),
            average_precision(&labels, &scores)
        );
    }

    #[test]
    fn calibration_keeps_the_ranking() {
        let cal = Calibration { a: 0.6, b: -1.3 };
        let raw = [0.001, 0.01, 0.2, 0.5, 0.9, 0.999];
        let p: Vec<f64> = raw.iter().map(|&r| cal.apply(r)).collect();
        assert!(p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
    }

    #[test]
    fn policy_costs_as_little_as_the_best_of_every_review_and_block_pair() {
        // The one-pass search against all (review, block) cut pairs, on rounded
        // probabilities (ties) and random amounts and costs.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..50 {
            let n = rng.random_range(1..120);
            let probs: Vec<f64> = (0..n)
                // Below 1: a payment at exactly 1 is flagged by any threshold ≤ 1.
                .map(|_| (rng.random::<f64>() * 19.0).round() / 20.0)
                .collect();
            let labels: Vec<bool> = probs.iter().map(|&p| rng.random_bool(p * 0.9)).collect();
            let amounts: Vec<f64> = (0..n).map(|_| rng.random_range(1.0..500.0)).collect();
            let costs = CostModel {
                review_cost: rng.random_range(0.5..50.0),
                decline_cost: rng.random_range(0.5..80.0),
            };
            let policy = DecisionPolicy::choose(&labels, &probs, &amounts, costs);
            let chosen = policy.cost(&labels, &probs, &amounts).total_cost;
            let mut levels: Vec<f64> = probs.clone();
            levels.push(2.0);
            levels.sort_by(f64::total_cmp);
            levels.dedup();
            let mut cheapest = f64::INFINITY;
            for (i, &review) in levels.iter().enumerate() {
                for &block in &levels[i..] {
                    let cost: f64 = (0..n)
                        .map(
                            |k| match (probs[k] >= block, probs[k] >= review, labels[k]) {
                                (true, _, true) => 0.0,
                                (true, _, false) => costs.decline_cost,
                                (false, true, _) => costs.review_cost,
                                (false, false, true) => amounts[k],
                                (false, false, false) => 0.0,
                            },
                        )
                        .sum();
                    cheapest = cheapest.min(cost);
                }
            }
            assert!((chosen - cheapest).abs() < 1e-6, "{chosen} vs {cheapest}");
        }
    }

    #[test]
    fn policy_blocks_sure_frauds_reviews_doubtful_ones_and_approves_the_rest() {
        // Probabilities 0.9 (two frauds of $500 and a legit), 0.3 (one fraud of $200
        // among four), 0.001 (legit).
        let labels = [true, true, false, true, false, false, false, false];
        let probs = [0.9, 0.9, 0.9, 0.3, 0.3, 0.3, 0.3, 0.001];
        let amounts = [500.0, 500.0, 40.0, 200.0, 30.0, 30.0, 30.0, 20.0];
        let costs = CostModel {
            review_cost: 10.0,
            decline_cost: 15.0,
        };
        let policy = DecisionPolicy::choose(&labels, &probs, &amounts, costs);
        assert_eq!(policy.outcome(0.9), Outcome::Block);
        assert_eq!(policy.outcome(0.3), Outcome::Review);
        assert_eq!(policy.outcome(0.001), Outcome::Approve);
        let report = policy.cost(&labels, &probs, &amounts);
        assert_eq!(report.total_cost, 15.0 + 4.0 * 10.0);
        assert_eq!(report.fraud_amount_lost, 0.0);
        // With reviews and declines expensive, the doubtful ones are approved instead.
        let pricey = CostModel {
            review_cost: 100.0,
            decline_cost: 100.0,
        };
        let policy = DecisionPolicy::choose(&labels, &probs, &amounts, pricey);
        assert_eq!(policy.outcome(0.9), Outcome::Block);
        assert_eq!(policy.outcome(0.3), Outcome::Approve);
        assert!(policy.validate().is_ok());
    }
}
