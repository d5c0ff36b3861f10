//! Scoring: one transaction in, a calibrated probability, an outcome (approve / review /
//! block) and, for alerts, reason codes out, with the card's history updated through
//! the shared feature pipeline.

use serde::{Deserialize, Serialize};

pub use crate::artifact::Reason;
use crate::artifact::{Assessment, ModelArtifact};
pub use crate::calibration::Outcome;
use crate::features::CardHistories;
use crate::schema::Transaction;

/// Whether a payment raises an alert (the ledger's two-valued view of [`Outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Below the threshold.
    Approve,
    /// At or above the threshold: alert (outcome review or block).
    Block,
}

impl From<Outcome> for Decision {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Approve => Decision::Approve,
            Outcome::Review | Outcome::Block => Decision::Block,
        }
    }
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Block => "block",
        }
    }
}

/// The result of scoring one payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub trans_num: String,
    pub cc_num: u64,
    pub amt: f64,
    pub probability: f64,
    pub decision: Decision,
    pub model_version: String,
    /// approve / review / block.
    pub outcome: Outcome,
    /// Top features pushing the score up; empty for approved payments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// The rules (and list entries) that fired, when a rules document was applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_fired: Vec<FiredRule>,
    /// The rules document applied after the model, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_version: Option<String>,
}

impl Score {
    /// The model's score of `tx` (no rules applied yet).
    pub fn of_model(tx: &Transaction, assessment: Assessment, model_version: &str) -> Score {
        Score {
            trans_num: tx.trans_num.clone(),
            cc_num: tx.cc_num,
            amt: tx.amt,
            probability: assessment.probability,
            decision: assessment.outcome.into(),
            model_version: model_version.to_owned(),
            outcome: assessment.outcome,
            reasons: assessment.reasons,
            rules_fired: Vec::new(),
            rules_version: None,
        }
    }

    /// The outcome after the rules: `outcome` (and the alert decision that follows from
    /// it), what fired, and the document's version.
    pub fn with_rules(mut self, outcome: Outcome, fired: Vec<FiredRule>, version: &str) -> Score {
        self.outcome = outcome;
        self.decision = outcome.into();
        self.rules_fired = fired;
        self.rules_version = Some(version.to_owned());
        self
    }
}

/// A rule, or an allow/block list entry, that fired for a payment (the rules engine
/// is `fraud-rules`; its verdict travels in scores, records, alerts and answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiredRule {
    /// The rule's name, or `allow_list` / `block_list`.
    pub name: String,
    /// What the rule asks for.
    pub outcome: Outcome,
    /// Its reason code, e.g. `R_ONLINE_BURST` or `BLOCK_LIST_CARD`.
    pub reason: String,
}

/// What settled a payment's outcome, in the rules' order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    AllowList,
    BlockList,
    Rule,
    Model,
}

/// The synchronous decision API's answer for one payment: what the caller gets, and
/// what the ledger keeps so the same `trans_num` asked again gets the same answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionAnswer {
    pub trans_num: String,
    /// Calibrated fraud probability from the model.
    pub probability: f64,
    /// approve / review / block, after the rules.
    pub decision: Outcome,
    /// What settled it.
    pub decided_by: DecidedBy,
    /// Reason codes from the model (features that pushed the score up; alerts only).
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// The rules and list entries that fired.
    #[serde(default)]
    pub rules_fired: Vec<FiredRule>,
    pub model_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_version: Option<String>,
    /// When the decision was first made (RFC 3339).
    pub decided_at: String,
    /// True when this `trans_num` had been decided before and this is that answer again.
    #[serde(default)]
    pub repeated: bool,
    /// Time spent inside the function on this request, in ms.
    #[serde(default)]
    pub took_ms: f64,
    /// Where that time went (a fresh decision only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<DecisionTimings>,
}

/// A fresh decision's time inside the function, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecisionTimings {
    /// The instance's database connection taken, the card locked, its history and the
    /// ledger read (one database round trip).
    pub load_ms: f64,
    /// Features, model and rules.
    pub decide_ms: f64,
    /// Ledger claim and history save (pipelined), then the commit.
    pub write_ms: f64,
}

impl DecisionAnswer {
    /// The answer for `score`, decided at `decided_at` (RFC 3339).
    pub fn new(score: &Score, decided_by: DecidedBy, decided_at: String) -> DecisionAnswer {
        DecisionAnswer {
            trans_num: score.trans_num.clone(),
            probability: score.probability,
            decision: score.outcome,
            decided_by,
            reasons: score.reasons.clone(),
            rules_fired: score.rules_fired.clone(),
            model_version: score.model_version.clone(),
            rules_version: score.rules_version.clone(),
            decided_at,
            repeated: false,
            took_ms: 0.0,
            timings: None,
        }
    }

    /// The score this answer stands for (for the scored record and the alert written
    /// when the payment reaches the stream).
    pub fn score(&self, tx: &Transaction) -> Score {
        Score {
            trans_num: self.trans_num.clone(),
            cc_num: tx.cc_num,
            amt: tx.amt,
            probability: self.probability,
            decision: self.decision.into(),
            model_version: self.model_version.clone(),
            outcome: self.decision,
            reasons: self.reasons.clone(),
            rules_fired: self.rules_fired.clone(),
            rules_version: self.rules_version.clone(),
        }
    }
}

/// Scores payments one by one, keeping per-card history in memory.
pub struct Scorer<'a> {
    artifact: &'a ModelArtifact,
    histories: CardHistories,
}

impl<'a> Scorer<'a> {
    pub fn new(artifact: &'a ModelArtifact) -> Self {
        Scorer {
            artifact,
            histories: CardHistories::default(),
        }
    }

    /// Starts from histories loaded elsewhere (a state store).
    pub fn with_histories(artifact: &'a ModelArtifact, histories: CardHistories) -> Self {
        Scorer {
            artifact,
            histories,
        }
    }

    /// Scores `tx` and adds it to its card's history.
    pub fn score(&mut self, tx: &Transaction) -> Score {
        let features = self.histories.observe(tx);
        Score::of_model(tx, self.artifact.assess(&features), &self.artifact.version)
    }

    /// The histories, for saving to a state store.
    pub fn into_histories(self) -> CardHistories {
        self.histories
    }
}

/// The decision for a probability at a threshold.
pub fn decide(probability: f64, threshold: f64) -> Decision {
    if probability >= threshold {
        Decision::Block
    } else {
        Decision::Approve
    }
}

/// One scored payment as the score function writes it: a line of the S3 results and a
/// message of the `payments.scored` topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRecord {
    pub trans_num: String,
    pub cc_num: u64,
    pub trans_date_trans_time: String,
    pub amt: f64,
    pub category: String,
    pub merchant: String,
    /// Calibrated fraud probability.
    pub probability: f64,
    /// `block` when an alert was raised (outcome review or block), else `approve`.
    pub decision: Decision,
    /// approve / review / block, by the model's cost-chosen thresholds.
    pub outcome: Outcome,
    /// Reason codes: the features that pushed the score up the most (alerts only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    pub model_version: String,
    pub scored_at: String,
    /// Where the payment came from: `topic-partition@offset`.
    pub source: String,
    /// When ingest published it to Kafka (the record's timestamp, epoch ms).
    pub published_at_ms: i64,
    /// The label, when the payment carried one (replays of labelled data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_fraud: Option<bool>,
    /// The rules and list entries that fired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_fired: Vec<FiredRule>,
    /// The rules document applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_version: Option<String>,
    /// True when the decision was made by the synchronous decision API (at
    /// `scored_at`) before the payment reached the stream.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decided_synchronously: bool,
}

impl ScoredRecord {
    /// The record of `tx` scored as `score`, at `scored_at` (RFC 3339), from `source`
    /// (`topic-partition@offset`), published at `published_at_ms`. The label travels
    /// with it as ground truth when the payment carried one.
    pub fn new(
        tx: &Transaction,
        score: &Score,
        scored_at: String,
        source: String,
        published_at_ms: i64,
    ) -> ScoredRecord {
        ScoredRecord {
            trans_num: tx.trans_num.clone(),
            cc_num: tx.cc_num,
            trans_date_trans_time: tx
                .trans_date_trans_time
                .format(crate::schema::DATETIME_FORMAT)
                .to_string(),
            amt: tx.amt,
            category: tx.category.as_str().to_owned(),
            merchant: tx.merchant.clone(),
            probability: score.probability,
            decision: score.decision,
            outcome: score.outcome,
            reasons: score.reasons.clone(),
            model_version: score.model_version.clone(),
            scored_at,
            source,
            published_at_ms,
            is_fraud: tx.is_fraud,
            rules_fired: score.rules_fired.clone(),
            rules_version: score.rules_version.clone(),
            decided_synchronously: false,
        }
    }
}

/// An alert for a blocked payment: what the notify function pushes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub trans_num: String,
    pub cc_num: u64,
    pub amt: f64,
    pub merchant: String,
    pub category: String,
    /// Event time of the payment, `YYYY-MM-DD HH:MM:SS`.
    pub trans_date_trans_time: String,
    pub probability: f64,
    pub threshold: f64,
    pub model_version: String,
    /// review or block (`block` when an older producer did not say).
    #[serde(default = "default_outcome")]
    pub outcome: Outcome,
    /// Why: the features that pushed the score up the most.
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// When the payment entered the pipeline (published to Kafka by ingest), epoch ms;
    /// lets the receiver measure ingest → alert latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at_ms: Option<i64>,
    /// The rules and list entries that fired (a rule can raise or settle the outcome).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_fired: Vec<FiredRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_version: Option<String>,
}

/// Largest alert message accepted, in bytes (an alert is about 300 bytes; SQS itself
/// caps messages at 256 KiB).
pub const MAX_ALERT_BYTES: usize = 256 * 1024;

/// Why a message is not an alert.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertError {
    #[error("alert of {len} bytes exceeds the limit of {max}")]
    Oversize { len: usize, max: usize },
    #[error("invalid alert JSON: {0}")]
    Malformed(String),
}

impl Alert {
    /// Parses an alert message (the SQS body notify receives).
    pub fn from_json(body: &str) -> Result<Self, AlertError> {
        if body.len() > MAX_ALERT_BYTES {
            return Err(AlertError::Oversize {
                len: body.len(),
                max: MAX_ALERT_BYTES,
            });
        }
        serde_json::from_str(body).map_err(|e| AlertError::Malformed(e.to_string()))
    }

    /// The alert for a scored payment.
    pub fn new(tx: &Transaction, score: &Score, threshold: f64) -> Self {
        Alert {
            trans_num: tx.trans_num.clone(),
            cc_num: tx.cc_num,
            amt: tx.amt,
            merchant: tx.merchant.clone(),
            category: tx.category.as_str().to_owned(),
            trans_date_trans_time: tx
                .trans_date_trans_time
                .format(crate::schema::DATETIME_FORMAT)
                .to_string(),
            probability: score.probability,
            threshold,
            model_version: score.model_version.clone(),
            outcome: score.outcome,
            reasons: score.reasons.clone(),
            published_at_ms: None,
            rules_fired: score.rules_fired.clone(),
            rules_version: score.rules_version.clone(),
        }
    }
}

fn default_outcome() -> Outcome {
    Outcome::Block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::REASONS_PER_ALERT;
    use crate::features::{FeatureVector, FEATURE_NAMES, N_FEATURES};
    use crate::model::{BlendSpace, BlendWeighting, ForestParams, GbmParams};
    use crate::train::{train_and_evaluate, DataSource, Prepared, TimeSplit};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn idx(name: &str) -> usize {
        FEATURE_NAMES.iter().position(|n| *n == name).unwrap()
    }

    /// Fraud (often) when the amount is high and the card was busy in the last hour.
    fn data(seed: u64) -> Prepared {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (amt, busy) = (idx("amt"), idx("card_count_1h"));
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..6000 {
            let mut row: FeatureVector = [0.0; N_FEATURES];
            for v in row.iter_mut() {
                *v = rng.random::<f64>();
            }
            row[amt] *= 1000.0;
            row[busy] = f64::from(rng.random_range(0u8..6));
            let risky = row[amt] > 700.0 && row[busy] >= 3.0;
            labels.push(rng.random_bool(if risky { 0.6 } else { 0.003 }));
            features.push(row);
        }
        let trans_nums = (0..labels.len()).map(|i| format!("t{i}")).collect();
        Prepared {
            features,
            labels,
            trans_nums,
        }
    }

    fn artifact(params: ForestParams) -> ModelArtifact {
        let source = DataSource {
            uri: "memory".into(),
            sha256: "00".repeat(32),
        };
        train_and_evaluate(&data(1), &source, &[params], TimeSplit::default(), &|| {}).unwrap()
    }

    fn risky_row() -> FeatureVector {
        let mut row = [0.5; N_FEATURES];
        row[idx("amt")] = 950.0;
        row[idx("card_count_1h")] = 5.0;
        row
    }

    #[test]
    fn alerts_carry_stable_reason_codes_led_by_the_features_that_matter() {
        let forest = ForestParams {
            n_trees: 40,
            ..ForestParams::default()
        };
        let gbm = ForestParams {
            gbm: GbmParams {
                max_rounds: 80,
                learning_rate: 0.2,
                ..GbmParams::default()
            },
            ..ForestParams::gbm(3)
        };
        let blend = crate::train::default_blend(forest.clone(), gbm.clone(), 3);
        for (params, unit) in [
            (forest, "probability"),
            (gbm, "log_odds"),
            (blend, "log_odds"),
        ] {
            let a = artifact(params.clone());
            let row = risky_row();
            let assessed = a.assess(&row);
            assert_ne!(assessed.outcome, Outcome::Approve, "{}", params.learner);
            assert_eq!(assessed.reasons.len(), REASONS_PER_ALERT);
            let top: Vec<&str> = assessed.reasons[..2]
                .iter()
                .map(|r| r.feature.as_str())
                .collect();
            assert!(
                top.contains(&"amt") && top.contains(&"card_count_1h"),
                "{}: {:?}",
                params.learner,
                assessed.reasons
            );
            assert!(assessed
                .reasons
                .iter()
                .all(|r| r.contribution > 0.0 && r.unit == unit));
            assert!(assessed
                .reasons
                .windows(2)
                .all(|w| w[0].contribution >= w[1].contribution));
            // Stable: the same model (also after a round trip) and input give the same reasons.
            let loaded = ModelArtifact::from_bytes(&a.to_bytes()).unwrap();
            assert_eq!(loaded.assess(&row), assessed);
            assert_eq!(artifact(params).assess(&row), assessed);
            // Attributions add up to the raw score minus the base.
            let e = a.model.explain(&row);
            let raw = a.model.predict(&row);
            let total = e.base + e.contributions.iter().sum::<f64>();
            let back = if unit == "log_odds" {
                1.0 / (1.0 + (-total).exp())
            } else {
                total
            };
            assert!((back - raw).abs() < 1e-5, "{back} vs {raw}");
            // An approved payment gets none.
            let calm = [0.0; N_FEATURES];
            let calm = a.assess(&calm);
            if calm.outcome == Outcome::Approve {
                assert!(calm.reasons.is_empty());
            }
        }
    }

    #[test]
    fn artifact_probabilities_are_calibrated_on_held_back_rows() {
        let a = artifact(ForestParams {
            n_trees: 40,
            ..ForestParams::default()
        });
        let held = data(2);
        let probs = a.score_many(&held.features);
        let expected: f64 = probs.iter().sum();
        let observed = held.labels.iter().filter(|&&y| y).count() as f64;
        // Calibrated on the validation slice, the probabilities of rows never seen agree
        // with the observed fraud count within 20%, and per well-filled bin within 0.12 (the
        // validation slice it was fitted on holds only ~60 frauds).
        assert!(
            (expected - observed).abs() < 0.2 * observed,
            "expected {expected} vs observed {observed}"
        );
        let edges = crate::calibration::RELIABILITY_EDGES;
        for bin in crate::calibration::reliability(&held.labels, &probs, &edges) {
            if bin.rows >= 200 {
                assert!(
                    (bin.fraud_rate - bin.mean_probability).abs() < 0.12,
                    "{bin:?}"
                );
            }
        }
        assert!(a.policy.review_threshold <= a.policy.block_threshold);
        assert_eq!(a.threshold, a.policy.review_threshold);
    }

    #[test]
    fn unknown_model_kind_is_refused_by_name() {
        let a = artifact(ForestParams {
            n_trees: 5,
            ..ForestParams::default()
        });
        let text = String::from_utf8(a.to_bytes()).unwrap();
        let text = text.replacen("\"learner\":\"cart\"", "\"learner\":\"neural_net\"", 1);
        let err = ModelArtifact::from_bytes(text.as_bytes()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("neural_net") && msg.contains("`gbm`"), "{msg}");
    }

    fn small_blend(space: BlendSpace) -> ForestParams {
        let forest = ForestParams {
            n_trees: 30,
            ..ForestParams::default()
        };
        let gbm = ForestParams {
            gbm: GbmParams {
                max_rounds: 60,
                learning_rate: 0.2,
                ..GbmParams::default()
            },
            ..ForestParams::gbm(3)
        };
        ForestParams::blend(vec![forest, gbm], space, BlendWeighting::Equal, 3)
    }

    #[test]
    fn blend_artifact_batches_score_and_assess_as_row_by_row_bit_for_bit() {
        let held = data(4);
        for space in [BlendSpace::LogOdds, BlendSpace::Probability] {
            let a = artifact(small_blend(space));
            assert_eq!(a.model.params.learner, crate::model::Learner::Blend);
            for rows in [
                &held.features[..],
                &held.features[..37],
                &held.features[..3],
            ] {
                let batch: Vec<u64> = a.score_batch(rows).iter().map(|p| p.to_bits()).collect();
                let one: Vec<u64> = rows.iter().map(|r| a.score(r).to_bits()).collect();
                assert_eq!(batch, one, "{space:?}");
                let assessed: Vec<_> = rows.iter().map(|r| a.assess(r)).collect();
                assert_eq!(a.assess_batch(rows), assessed, "{space:?}");
            }
            let many: Vec<u64> = a
                .score_many(&held.features)
                .iter()
                .map(|p| p.to_bits())
                .collect();
            let one: Vec<u64> = held.features.iter().map(|r| a.score(r).to_bits()).collect();
            assert_eq!(many, one);
            assert!(held
                .features
                .iter()
                .map(|r| a.score(r))
                .all(|p| (0.0..=1.0).contains(&p)));
        }
    }

    #[test]
    fn trained_artifacts_are_schema_4_with_a_training_profile_and_older_ones_still_load() {
        let blend = artifact(small_blend(BlendSpace::LogOdds));
        assert_eq!(blend.schema_version, crate::artifact::SCHEMA_VERSION);
        let profile = blend.training_profile.as_ref().expect("a training profile");
        assert_eq!(profile.features.len(), N_FEATURES);
        let loaded = ModelArtifact::from_bytes(&blend.to_bytes()).unwrap();
        assert_eq!(loaded, blend);
        let row = risky_row();
        assert_eq!(loaded.assess(&row), blend.assess(&row));
        // A blend written before training profiles (schema 3) still loads and serves.
        let mut v3: serde_json::Value = serde_json::from_slice(&blend.to_bytes()).unwrap();
        v3.as_object_mut().unwrap().remove("training_profile");
        v3["schema_version"] = crate::artifact::SCHEMA_VERSION_BLEND.into();
        let loaded = ModelArtifact::from_bytes(v3.to_string().as_bytes()).unwrap();
        assert!(loaded.training_profile.is_none());
        assert_eq!(loaded.assess(&row), blend.assess(&row));

        let single = artifact(ForestParams {
            n_trees: 5,
            ..ForestParams::default()
        });
        assert_eq!(single.schema_version, crate::artifact::SCHEMA_VERSION);
        // What a writer from before blends, time folds and training profiles produced
        // (schema 2) still loads.
        let mut old: serde_json::Value = serde_json::from_slice(&single.to_bytes()).unwrap();
        assert!(old["model"].get("components").is_none());
        assert!(old["model"]["params"].get("blend").is_none());
        old.as_object_mut().unwrap().remove("training_profile");
        old["schema_version"] = crate::artifact::SCHEMA_VERSION_SINGLE.into();
        old["training"]["split"]
            .as_object_mut()
            .unwrap()
            .remove("folds");
        let loaded = ModelArtifact::from_bytes(old.to_string().as_bytes()).unwrap();
        assert_eq!(loaded.training.split.folds, 1);
        assert_eq!(loaded.model, single.model);
        assert!(loaded.training_profile.is_none());
        // A training profile in an older schema version is refused, by name.
        let mut mislabelled: serde_json::Value =
            serde_json::from_slice(&single.to_bytes()).unwrap();
        mislabelled["schema_version"] = crate::artifact::SCHEMA_VERSION_SINGLE.into();
        let err = ModelArtifact::from_bytes(mislabelled.to_string().as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("cannot hold a training profile"),
            "{err}"
        );
    }

    #[test]
    fn malformed_blend_artifacts_are_refused() {
        let a = artifact(small_blend(BlendSpace::LogOdds));
        let good: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        let refused = |edit: &dyn Fn(&mut serde_json::Value), expected: &str| {
            let mut v = good.clone();
            edit(&mut v);
            let err = ModelArtifact::from_bytes(v.to_string().as_bytes()).unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "expected `{expected}`: {err}"
            );
        };
        refused(&|v| v["schema_version"] = 2.into(), "cannot hold a `blend`");
        refused(&|v| v["schema_version"] = 5.into(), "schema version 5");
        refused(
            &|v| v["model"]["components"][0]["weight"] = 0.7.into(),
            "add up to",
        );
        refused(
            &|v| v["model"]["components"].as_array_mut().unwrap().truncate(1),
            "at least two",
        );
        refused(
            &|v| v["model"]["components"][1]["calibration"]["a"] = (-2.0).into(),
            "calibration",
        );
        refused(
            &|v| v["model"]["components"][0]["model"]["params"]["learner"] = "blend".into(),
            "itself a blend",
        );
        refused(
            &|v| {
                v["model"]["components"][0]["model"]["trees"] = serde_json::json!([]);
            },
            "no trees",
        );
        refused(
            &|v| {
                v["model"]["params"]
                    .as_object_mut()
                    .unwrap()
                    .remove("blend");
            },
            "without its",
        );
    }

    #[test]
    fn blend_reasons_combine_both_components_and_add_up_to_the_blend_log_odds() {
        let a = artifact(small_blend(BlendSpace::LogOdds));
        let row = risky_row();
        let e = a.model.explain(&row);
        let blended = e.base + e.contributions.iter().sum::<f64>();
        let raw = a.model.predict(&row);
        assert!((1.0 / (1.0 + (-blended).exp()) - raw).abs() < 1e-9);
        // Each component's share: its weight times its calibrated log-odds move.
        let mut expected = [0.0; N_FEATURES];
        for c in &a.model.components {
            let ce = c.model.explain(&row);
            let to_raw = |v: f64| match ce.space {
                crate::model::AttributionSpace::Probability => v,
                crate::model::AttributionSpace::LogOdds => 1.0 / (1.0 + (-v).exp()),
            };
            let scale = (c.calibration.log_odds(to_raw(ce.output))
                - c.calibration.log_odds(to_raw(ce.base)))
                / (ce.output - ce.base);
            for (x, v) in expected.iter_mut().zip(ce.contributions) {
                *x += c.weight * scale * v;
            }
        }
        for (got, want) in e.contributions.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }
}
