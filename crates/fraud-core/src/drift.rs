//! Drift: the training distribution stored in the artifact, the population stability
//! index (PSI) of live traffic against it, and the monitor's verdict.
//!
//! **The training distribution** ([`TrainingProfile`]) is made once, at training time, by
//! [`TrainingProfile::fit`]: for every feature, bins and the share of the reference rows
//! in each; for the score, bins and shares of the calibrated probabilities on the same
//! rows. The reference rows are the training data's test slice (its latest 30 %), not
//! the rows the trees were fitted on: the model's own training rows score optimistically,
//! and they are the earliest rows of the file, where the per-card 30-day features are
//! still warming up (a card has no history before the file starts), so their
//! distribution is not the one a warmed-up scorer sees. The test slice is held-back
//! traffic of the same population, with warm histories, scored as live traffic is.
//!
//! - A feature with at most [`MAX_DISCRETE_VALUES`] distinct values in training (the
//!   one-hot categories, the night flag, gender, hour, day of week, small counts) is
//!   *discrete*: one bin per value, cut halfway between neighbouring values, so a value
//!   training never saw falls in the nearest value's bin.
//! - Any other feature is *quantile* binned: cut points at the
//!   1/[`PROFILE_BINS`] … (k−1)/k quantiles of the training values, repeated cut points
//!   merged (a feature that is zero for 70 % of rows gets one bin for the zeros). Bin `i`
//!   holds `cuts[i-1] < x <= cuts[i]`; below the first cut is bin 0, above the last the
//!   last bin, so live values out of the training range are counted at the ends.
//! - The score is binned on its training deciles *and* fixed probability edges
//!   ([`SCORE_EDGES`]): a fraud model gives most payments nearly the same tiny probability,
//!   so its deciles merge into two or three bins and a shift among the high scores, where
//!   the alerts are, would not show; the fixed edges keep bins there.
//!
//! **PSI** of a live distribution against the training one is
//! `Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)` over the bins, shares floored at [`PSI_FLOOR`] so that an
//! empty bin counts as rare rather than infinite (the common practice; with 10 bins the
//! floor caps one empty bin's term near 0.1 · ln(1000) ≈ 0.7). Reading it: below 0.1 no
//! shift, 0.1–0.25 a moderate one, above 0.25 a shift worth acting on.
//!
//! **The live side** is counted in one pass with memory independent of the volume
//! ([`LiveDistribution`]: a counter per bin), so a window of millions of payments costs
//! one feature pass and a few kilobytes.
//!
//! **The verdict** ([`Thresholds::assess`]) flags the window when the score's PSI, or the
//! PSI of one of the model's top features (by the artifact's feature importance), is
//! above its threshold, or when the live PR-AUC is more than a margin below the model's
//! test PR-AUC. Each check needs enough evidence (a minimum volume for PSI, a minimum of
//! labelled frauds for PR-AUC) and says when it had too little, so a quiet hour does not
//! raise an alarm.

use serde::{Deserialize, Serialize};

use crate::features::{FeatureVector, FEATURE_NAMES, N_FEATURES};

/// Bins of a quantile-binned value (fewer when cut points repeat).
pub const PROFILE_BINS: usize = 10;
/// Most distinct training values for a feature to be binned by value.
pub const MAX_DISCRETE_VALUES: usize = 32;
/// Smallest share used in the PSI sum (an empty bin counts as this rare).
pub const PSI_FLOOR: f64 = 1e-4;
/// Fixed cut points of the score's bins, besides its training deciles.
pub const SCORE_EDGES: [f64; 9] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.7, 0.9];

/// How a value's bins were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinKind {
    /// One bin per distinct training value.
    Discrete,
    /// Quantiles of the training values.
    Quantile,
    /// A probability: training deciles and [`SCORE_EDGES`].
    Probability,
}

/// Bins of one value and the training share in each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub kind: BinKind,
    /// Increasing cut points; `cuts.len() + 1` bins.
    pub cuts: Vec<f64>,
    /// Share of the training values in each bin (sums to 1).
    pub shares: Vec<f64>,
}

impl Bins {
    /// Bins `values` (see the module doc). `values` is reordered. Empty input gives one
    /// bin holding everything.
    pub fn fit(values: &mut [f64]) -> Bins {
        values.sort_unstable_by(f64::total_cmp);
        let mut distinct: Vec<f64> = Vec::new();
        for &v in values.iter() {
            if distinct.last() != Some(&v) {
                distinct.push(v);
                if distinct.len() > MAX_DISCRETE_VALUES {
                    break;
                }
            }
        }
        let (kind, cuts) = if distinct.len() <= MAX_DISCRETE_VALUES {
            let cuts = distinct.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0);
            (BinKind::Discrete, cuts.collect())
        } else {
            let n = values.len();
            let mut cuts: Vec<f64> = Vec::with_capacity(PROFILE_BINS - 1);
            for k in 1..PROFILE_BINS {
                let cut = values[(k * n / PROFILE_BINS).min(n - 1)];
                if cuts.last() != Some(&cut) {
                    cuts.push(cut);
                }
            }
            // A cut at the maximum would leave its upper bin empty in training.
            let max = values[n - 1];
            cuts.retain(|&c| c < max);
            (BinKind::Quantile, cuts)
        };
        let mut bins = Bins {
            kind,
            shares: vec![0.0; cuts.len() + 1],
            cuts,
        };
        let mut counts = vec![0u64; bins.shares.len()];
        for &v in values.iter() {
            counts[bins.bin(v)] += 1;
        }
        bins.shares = shares(&counts).unwrap_or_else(|| {
            let mut s = vec![0.0; counts.len()];
            s[0] = 1.0;
            s
        });
        bins
    }

    /// Bins of a probability: the cuts [`Bins::fit`] makes (deciles, or between distinct
    /// values) and [`SCORE_EDGES`]. `values` is reordered.
    pub fn fit_probability(values: &mut [f64]) -> Bins {
        let mut cuts = Bins::fit(values).cuts;
        cuts.extend(SCORE_EDGES);
        cuts.sort_unstable_by(f64::total_cmp);
        cuts.dedup();
        let mut bins = Bins {
            kind: BinKind::Probability,
            shares: vec![0.0; cuts.len() + 1],
            cuts,
        };
        let mut counts = vec![0u64; bins.shares.len()];
        for &v in values.iter() {
            counts[bins.bin(v)] += 1;
        }
        if let Some(s) = shares(&counts) {
            bins.shares = s;
        }
        bins
    }

    /// The bin of `x` (NaN goes to the last bin).
    pub fn bin(&self, x: f64) -> usize {
        if x.is_nan() {
            return self.cuts.len();
        }
        self.cuts.partition_point(|&c| c < x)
    }

    /// PSI of live `counts` (one per bin) against the training shares; `None` without
    /// any live value.
    pub fn psi(&self, counts: &[u64]) -> Option<f64> {
        psi(&self.shares, &shares(counts)?)
    }

    /// A readable label per bin (`≤ 12.5`, `12.5–40`, `> 40`; a discrete bin by its value).
    pub fn labels(&self) -> Vec<String> {
        let n = self.cuts.len() + 1;
        if n == 1 {
            return vec!["all".into()];
        }
        (0..n)
            .map(|i| match (i, self.kind) {
                (0, _) => format!("≤ {}", short(self.cuts[0])),
                (i, _) if i == n - 1 => format!("> {}", short(self.cuts[i - 1])),
                (i, _) => format!("{}–{}", short(self.cuts[i - 1]), short(self.cuts[i])),
            })
            .collect()
    }
}

fn short(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        format!("{x:.1e}")
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Counts as shares; `None` when they are all zero.
pub fn shares(counts: &[u64]) -> Option<Vec<f64>> {
    let total: u64 = counts.iter().sum();
    (total > 0).then(|| counts.iter().map(|&c| c as f64 / total as f64).collect())
}

/// Population stability index of `actual` against `expected` (shares over the same
/// bins, floored at [`PSI_FLOOR`]).
pub fn psi(expected: &[f64], actual: &[f64]) -> Option<f64> {
    if expected.len() != actual.len() || expected.is_empty() {
        return None;
    }
    Some(
        expected
            .iter()
            .zip(actual)
            .map(|(&e, &a)| {
                let (e, a) = (e.max(PSI_FLOOR), a.max(PSI_FLOOR));
                (a - e) * (a / e).ln()
            })
            .sum(),
    )
}

/// One feature's training distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    pub name: String,
    #[serde(flatten)]
    pub bins: Bins,
}

/// The training distribution stored in the artifact (schema v4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingProfile {
    /// Rows the feature bins were made from (the training data's test slice).
    pub rows: u64,
    /// One per feature, in feature order.
    pub features: Vec<FeatureProfile>,
    /// Test-slice rows the score bins were made from.
    pub score_rows: u64,
    /// Bins of the calibrated probability on the test slice.
    pub score: Bins,
}

impl TrainingProfile {
    /// Profiles the reference rows' features and their calibrated scores.
    pub fn fit(train_rows: &[FeatureVector], test_scores: &[f64]) -> TrainingProfile {
        let mut column = vec![0.0; train_rows.len()];
        let features = (0..N_FEATURES)
            .map(|f| {
                for (v, row) in column.iter_mut().zip(train_rows) {
                    *v = row[f];
                }
                FeatureProfile {
                    name: FEATURE_NAMES[f].to_owned(),
                    bins: Bins::fit(&mut column),
                }
            })
            .collect();
        TrainingProfile {
            rows: train_rows.len() as u64,
            features,
            score_rows: test_scores.len() as u64,
            score: Bins::fit_probability(&mut test_scores.to_vec()),
        }
    }

    /// Checks the profile matches this build's features (used when loading an artifact).
    pub fn validate(&self) -> Result<(), String> {
        if self
            .features
            .iter()
            .map(|f| f.name.as_str())
            .ne(FEATURE_NAMES)
        {
            return Err("training profile's features are not this build's".into());
        }
        for bins in self
            .features
            .iter()
            .map(|f| &f.bins)
            .chain(std::iter::once(&self.score))
        {
            let ordered = bins.cuts.windows(2).all(|w| w[0] < w[1]);
            if !ordered || bins.shares.len() != bins.cuts.len() + 1 {
                return Err("training profile has malformed bins".into());
            }
        }
        Ok(())
    }
}

/// Live counts per bin, one pass, memory independent of the volume.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDistribution {
    /// Per feature, per bin (empty when no features were observed).
    pub features: Vec<Vec<u64>>,
    pub score: Vec<u64>,
    /// Feature vectors observed.
    pub feature_rows: u64,
    /// Scores observed.
    pub score_rows: u64,
}

impl LiveDistribution {
    pub fn new(profile: &TrainingProfile) -> LiveDistribution {
        LiveDistribution {
            features: profile
                .features
                .iter()
                .map(|f| vec![0; f.bins.shares.len()])
                .collect(),
            score: vec![0; profile.score.shares.len()],
            feature_rows: 0,
            score_rows: 0,
        }
    }

    pub fn observe_score(&mut self, profile: &TrainingProfile, probability: f64) {
        self.score[profile.score.bin(probability)] += 1;
        self.score_rows += 1;
    }

    pub fn observe_features(&mut self, profile: &TrainingProfile, features: &FeatureVector) {
        for ((counts, p), &x) in self
            .features
            .iter_mut()
            .zip(&profile.features)
            .zip(features)
        {
            counts[p.bins.bin(x)] += 1;
        }
        self.feature_rows += 1;
    }

    /// The window's drift against `profile`.
    pub fn drift(&self, profile: &TrainingProfile) -> Drift {
        let features = profile
            .features
            .iter()
            .zip(&self.features)
            .filter_map(|(p, counts)| {
                p.bins.psi(counts).map(|psi| FeaturePsi {
                    feature: p.name.clone(),
                    psi,
                })
            })
            .collect();
        Drift {
            score_psi: profile.score.psi(&self.score),
            score_training_shares: profile.score.shares.clone(),
            score_live_shares: shares(&self.score).unwrap_or_default(),
            score_bins: profile.score.labels(),
            feature_rows: self.feature_rows,
            features,
        }
    }
}

/// One feature's PSI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePsi {
    pub feature: String,
    pub psi: f64,
}

/// A window's drift against the training distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// `None` when the window has no scored payment.
    pub score_psi: Option<f64>,
    /// The score's bins (labels), training shares and live shares, for the histogram.
    pub score_bins: Vec<String>,
    pub score_training_shares: Vec<f64>,
    pub score_live_shares: Vec<f64>,
    /// Payments whose features were recomputed.
    pub feature_rows: u64,
    /// Per feature, in feature order; empty when no features were observed.
    pub features: Vec<FeaturePsi>,
}

/// Why PSI could not be computed.
pub const NO_PROFILE: &str = "cannot compute PSI: the model artifact has no training distribution (trained before artifact schema v4); retrain to monitor drift";

/// When the monitor raises an alert. Defaults are the documented thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Score PSI above this flags the window (`MONITOR_SCORE_PSI_MAX`, 0.25).
    pub score_psi: f64,
    /// A top feature's PSI above this flags the window (`MONITOR_FEATURE_PSI_MAX`, 0.25).
    pub feature_psi: f64,
    /// How many features, by the artifact's importance, count as top (`MONITOR_TOP_FEATURES`, 10).
    pub top_features: usize,
    /// Live PR-AUC more than this below the model's test PR-AUC flags the window
    /// (`MONITOR_PR_AUC_MARGIN`, 0.10).
    pub pr_auc_margin: f64,
    /// Fewest payments in a window for PSI to be judged (`MONITOR_MIN_VOLUME`, 500).
    pub min_volume: u64,
    /// Fewest labelled frauds for PR-AUC to be judged (`MONITOR_MIN_LABELLED_FRAUDS`, 20).
    pub min_labelled_frauds: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            score_psi: 0.25,
            feature_psi: 0.25,
            top_features: 10,
            pr_auc_margin: 0.10,
            min_volume: 500,
            min_labelled_frauds: 20,
        }
    }
}

/// A threshold crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Finding {
    ScorePsi {
        psi: f64,
        threshold: f64,
    },
    FeaturePsi {
        feature: String,
        /// 1 = the model's most important feature.
        importance_rank: usize,
        psi: f64,
        threshold: f64,
    },
    PrAucDrop {
        live: f64,
        test: f64,
        margin: f64,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::ScorePsi { psi, threshold } => {
                write!(f, "score PSI {psi:.3} > {threshold}")
            }
            Finding::FeaturePsi {
                feature,
                importance_rank,
                psi,
                threshold,
            } => write!(
                f,
                "feature `{feature}` (importance #{importance_rank}) PSI {psi:.3} > {threshold}"
            ),
            Finding::PrAucDrop { live, test, margin } => write!(
                f,
                "live PR-AUC {live:.3} is more than {margin} below the test PR-AUC {test:.3}"
            ),
        }
    }
}

/// The monitor's verdict on a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when any threshold was crossed.
    pub alert: bool,
    pub findings: Vec<Finding>,
    /// Checks that could not be judged, and why (no profile, too few payments, too few
    /// labelled frauds).
    pub not_judged: Vec<String>,
}

impl Thresholds {
    /// Judges a window: its drift (`None`: the artifact has no training distribution),
    /// its volume, live PR-AUC and labelled frauds, against the model's test PR-AUC and
    /// feature importance (`(name, importance)`, any order; empty: every feature counts
    /// as top, in feature order).
    pub fn assess(
        &self,
        drift: Option<&Drift>,
        volume: u64,
        live_pr_auc: Option<f64>,
        labelled_frauds: u64,
        test_pr_auc: f64,
        importance: &[(String, f64)],
    ) -> Verdict {
        let mut findings = Vec::new();
        let mut not_judged = Vec::new();
        match drift {
            None => not_judged.push(NO_PROFILE.to_owned()),
            Some(_) if volume < self.min_volume => not_judged.push(format!(
                "drift: {volume} payments in the window, fewer than the {} needed",
                self.min_volume
            )),
            Some(drift) => {
                if let Some(psi) = drift.score_psi.filter(|&p| p > self.score_psi) {
                    findings.push(Finding::ScorePsi {
                        psi,
                        threshold: self.score_psi,
                    });
                }
                if drift.features.is_empty() {
                    not_judged.push("feature drift: no payments to recompute features from".into());
                } else if drift.feature_rows < self.min_volume {
                    not_judged.push(format!(
                        "feature drift: features of {} payments, fewer than the {} needed",
                        drift.feature_rows, self.min_volume
                    ));
                }
                let mut ranked: Vec<&(String, f64)> = importance.iter().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                let rank_of = |name: &str| -> Option<usize> {
                    if ranked.is_empty() {
                        FEATURE_NAMES.iter().position(|n| *n == name).map(|i| i + 1)
                    } else {
                        ranked.iter().position(|(n, _)| n == name).map(|i| i + 1)
                    }
                };
                if drift.feature_rows >= self.min_volume {
                    let mut flagged: Vec<Finding> = drift
                        .features
                        .iter()
                        .filter(|f| f.psi > self.feature_psi)
                        .filter_map(|f| {
                            let rank = rank_of(&f.feature)?;
                            (rank <= self.top_features).then(|| Finding::FeaturePsi {
                                feature: f.feature.clone(),
                                importance_rank: rank,
                                psi: f.psi,
                                threshold: self.feature_psi,
                            })
                        })
                        .collect();
                    flagged.sort_by_key(|f| match f {
                        Finding::FeaturePsi {
                            importance_rank, ..
                        } => *importance_rank,
                        _ => usize::MAX,
                    });
                    findings.extend(flagged);
                }
            }
        }
        match live_pr_auc {
            Some(live) if labelled_frauds >= self.min_labelled_frauds => {
                if live < test_pr_auc - self.pr_auc_margin {
                    findings.push(Finding::PrAucDrop {
                        live,
                        test: test_pr_auc,
                        margin: self.pr_auc_margin,
                    });
                }
            }
            _ => not_judged.push(format!(
                "live PR-AUC: {labelled_frauds} labelled frauds in the window, fewer than the {} needed",
                self.min_labelled_frauds
            )),
        }
        Verdict {
            alert: !findings.is_empty(),
            findings,
            not_judged,
        }
    }
}

/// The monitoring alert the monitor publishes when a window is flagged (SNS message
/// body; the subject says which model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorAlert {
    /// Always `model_monitor` (tells it apart from a payment's alert).
    pub kind: String,
    pub model_version: String,
    /// The window, RFC 3339 (`null`: open).
    pub since: Option<String>,
    pub until: Option<String>,
    pub volume: u64,
    pub findings: Vec<Finding>,
    /// What to do: retrain.
    pub action: String,
    /// Where the window's report is, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_uri: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn quantile_bins_hold_about_a_tenth_each() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut values: Vec<f64> = (0..10_000).map(|_| rng.random::<f64>() * 100.0).collect();
        let bins = Bins::fit(&mut values);
        assert_eq!(bins.kind, BinKind::Quantile);
        assert_eq!(bins.shares.len(), PROFILE_BINS);
        for s in &bins.shares {
            assert!((s - 0.1).abs() < 0.002, "{:?}", bins.shares);
        }
    }

    #[test]
    fn a_few_distinct_values_get_a_bin_each() {
        let mut values: Vec<f64> = (0..1000).map(|i| f64::from(i % 3 == 0)).collect();
        let bins = Bins::fit(&mut values);
        assert_eq!(bins.kind, BinKind::Discrete);
        assert_eq!(bins.cuts, vec![0.5]);
        assert!((bins.shares[1] - 0.334).abs() < 1e-9);
        assert_eq!(bins.bin(0.0), 0);
        assert_eq!(bins.bin(1.0), 1);
    }

    #[test]
    fn repeated_quantiles_merge_into_one_bin() {
        // 70 % zeros, then 100 distinct values.
        let mut values: Vec<f64> = std::iter::repeat_n(0.0, 700)
            .chain((0..300).map(|i| 1.0 + f64::from(i % 100)))
            .collect();
        let bins = Bins::fit(&mut values);
        assert_eq!(bins.kind, BinKind::Quantile);
        assert_eq!(bins.cuts[0], 0.0);
        assert!((bins.shares[0] - 0.7).abs() < 1e-9);
        assert!(bins.cuts.windows(2).all(|w| w[0] < w[1]));
        assert!((bins.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn score_bins_keep_the_high_probabilities_apart_when_most_scores_tie() {
        // 95 % of payments at one tiny probability, the rest spread up to 1.
        let mut scores: Vec<f64> = std::iter::repeat_n(0.0004, 950)
            .chain((0..50).map(|i| f64::from(i) / 50.0))
            .collect();
        let bins = Bins::fit_probability(&mut scores);
        assert_eq!(bins.kind, BinKind::Probability);
        assert!(bins.cuts.len() >= SCORE_EDGES.len(), "{:?}", bins.cuts);
        assert!(bins.cuts.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(bins.bin(0.35), bins.bin(0.95));
        assert!((bins.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn psi_is_zero_for_the_same_shares_and_grows_with_the_shift() {
        let e = [0.25, 0.25, 0.25, 0.25];
        assert_eq!(psi(&e, &e), Some(0.0));
        let small = psi(&e, &[0.3, 0.25, 0.25, 0.2]).unwrap();
        let large = psi(&e, &[0.7, 0.1, 0.1, 0.1]).unwrap();
        assert!(small > 0.0 && small < 0.1, "{small}");
        assert!(large > 0.25, "{large}");
        // An empty live bin is floored, not infinite.
        assert!(psi(&e, &[0.0, 0.5, 0.25, 0.25]).unwrap().is_finite());
    }

    fn profile_of(amounts: impl Fn(&mut ChaCha8Rng) -> f64, seed: u64) -> Vec<FeatureVector> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..5000)
            .map(|_| {
                let mut row = [0.0; N_FEATURES];
                row[0] = amounts(&mut rng);
                row[3] = f64::from(rng.random_bool(0.2));
                row
            })
            .collect()
    }

    #[test]
    fn shifted_amounts_are_flagged_and_the_same_distribution_is_not() {
        let normal = |r: &mut ChaCha8Rng| r.random::<f64>() * 200.0;
        let train = profile_of(normal, 1);
        let scores: Vec<f64> = (0..2000).map(|i| f64::from(i % 100) / 100.0).collect();
        let profile = TrainingProfile::fit(&train, &scores);
        profile.validate().unwrap();
        let thresholds = Thresholds::default();
        let importance = vec![("amt".to_owned(), 0.6), ("is_night".to_owned(), 0.4)];

        let judge = |rows: &[FeatureVector]| {
            let mut live = LiveDistribution::new(&profile);
            for (row, s) in rows.iter().zip(scores.iter().cycle()) {
                live.observe_features(&profile, row);
                live.observe_score(&profile, *s);
            }
            let drift = live.drift(&profile);
            thresholds.assess(Some(&drift), rows.len() as u64, None, 0, 0.8, &importance)
        };
        let same = judge(&profile_of(normal, 2));
        assert!(!same.alert, "{:?}", same.findings);
        let shifted = judge(&profile_of(|r| 150.0 + r.random::<f64>() * 400.0, 3));
        assert!(shifted.alert);
        assert!(matches!(
            &shifted.findings[0],
            Finding::FeaturePsi { feature, importance_rank: 1, .. } if feature == "amt"
        ));
    }

    #[test]
    fn without_a_profile_the_verdict_says_psi_cannot_be_computed() {
        let v = Thresholds::default().assess(None, 10_000, None, 0, 0.8, &[]);
        assert!(!v.alert);
        assert!(v.not_judged[0].contains("cannot compute PSI"), "{:?}", v);
    }

    #[test]
    fn a_pr_auc_drop_needs_enough_labelled_frauds() {
        let t = Thresholds::default();
        let drop = t.assess(None, 0, Some(0.5), 50, 0.8, &[]);
        assert!(matches!(drop.findings[..], [Finding::PrAucDrop { .. }]));
        let thin = t.assess(None, 0, Some(0.5), 5, 0.8, &[]);
        assert!(!thin.alert);
        let fine = t.assess(None, 0, Some(0.75), 50, 0.8, &[]);
        assert!(!fine.alert);
    }

    #[test]
    fn a_quiet_window_is_not_judged_for_drift() {
        let train = profile_of(|r| r.random::<f64>(), 1);
        let profile = TrainingProfile::fit(&train, &[0.1, 0.2, 0.9]);
        let mut live = LiveDistribution::new(&profile);
        live.observe_score(&profile, 0.99);
        let v = Thresholds::default().assess(Some(&live.drift(&profile)), 1, None, 0, 0.8, &[]);
        assert!(!v.alert);
        assert!(v.not_judged[0].contains("fewer than the 500"), "{v:?}");
    }
}
