//! Model quality on real data: the Sparkov fixture in `../shared/data/` (CI has it).
//! Fails, rather than skips, when the fixture is missing: quality is not optional.

use std::path::PathBuf;

use fraud_core::artifact::{sha256_hex, ModelArtifact};
use fraud_core::csv_input::read_transactions;
use fraud_core::model::{ForestParams, Learner};
use fraud_core::train::{prepare, train_and_evaluate, DataSource, TimeSplit};

fn fixture() -> PathBuf {
    std::env::var_os("FRAUD_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fraud_fixture.csv")
        })
}

#[test]
fn time_split_training_on_real_rows_reaches_quality_floor_and_round_trips() {
    let path = fixture();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the real-data fixture {} is needed (set FRAUD_FIXTURE): {e}",
            path.display()
        )
    });
    let txs = read_transactions(bytes.as_slice(), |r| panic!("fixture row rejected: {r}")).unwrap();
    assert_eq!(txs.len(), 28_447);
    let prepared = prepare(txs).unwrap();
    let cart = ForestParams::default();
    let linfa = ForestParams {
        learner: Learner::LinfaTrees,
        max_depth: 12,
        ..cart.clone()
    };
    let source = DataSource {
        uri: path.display().to_string(),
        sha256: sha256_hex(&bytes),
    };
    let artifact = train_and_evaluate(
        &prepared,
        &source,
        &[cart, linfa],
        TimeSplit::default(),
        &|| {},
    )
    .unwrap();

    // Chosen on validation; our CART forest wins it on this data.
    assert_eq!(artifact.model.params.learner, Learner::Cart);
    let test = &artifact.metrics.test;
    assert_eq!(test.rows, 8_534);
    assert!(test.pr_auc >= 0.68, "test PR-AUC {}", test.pr_auc);
    assert!(test.f1 >= 0.55, "test F1 {}", test.f1);

    // Calibrated on validation, the probabilities hold on the later test slice: the
    // expected number of frauds is within 3 Poisson standard deviations of the observed
    // one, and well-filled reliability bins are within 3 binomial standard errors.
    let e = artifact.evaluation.as_ref().expect("training evaluates");
    let observed = e.test_observed_frauds as f64;
    assert!(
        (e.test_expected_frauds - observed).abs() <= 3.0 * observed.sqrt(),
        "expected {} vs observed {observed}",
        e.test_expected_frauds
    );
    for bin in e.test_reliability.iter().filter(|b| b.rows >= 100) {
        let p = bin.mean_probability;
        let se = (p * (1.0 - p) / bin.rows as f64).sqrt();
        assert!((bin.fraud_rate - p).abs() <= 3.0 * se + 0.01, "{bin:?}");
    }
    assert!(artifact.policy.review_threshold <= artifact.policy.block_threshold);

    // The artifact loads back identically and scores the same.
    let loaded = ModelArtifact::from_bytes(&artifact.to_bytes()).unwrap();
    assert_eq!(loaded, artifact);
}
