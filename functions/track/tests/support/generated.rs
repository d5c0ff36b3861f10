//! Generated payments and a small forest trained on their first days: the monitor's
//! tests (`tests/monitor.rs`) and its benchmark (`examples/monitor_bench.rs`) watch the
//! same kind of model over the same kind of traffic.

use chrono::{DateTime, NaiveDate, Utc};
use fraud_core::model::ForestParams;
use fraud_core::train::{prepare, train_and_evaluate, DataSource, TimeSplit};
use fraud_core::{ModelArtifact, Transaction};

/// Midnight UTC `d` days after 2019-01-01 (the generator's first day).
pub fn day(d: u32) -> DateTime<Utc> {
    (NaiveDate::from_ymd_opt(2019, 1, 1).unwrap() + chrono::Days::new(u64::from(d)))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

/// `days` of generated payments of `customers` customers, in time order.
pub fn payments(customers: u32, days: u32, seed: u64) -> Vec<Transaction> {
    let mut txs = fraud_generator::payments(customers, days, seed).unwrap();
    txs.sort_by_key(|t| t.event_time());
    txs
}

/// A 30-tree forest (forest seed `seed`) trained on the payments before day `train_days`;
/// `sha256` names the data source in the artifact.
pub fn small_forest(
    txs: &[Transaction],
    train_days: u32,
    seed: u64,
    sha256: &str,
) -> ModelArtifact {
    let training: Vec<Transaction> = txs
        .iter()
        .filter(|t| t.trans_date_trans_time.and_utc() < day(train_days))
        .cloned()
        .collect();
    let params = ForestParams {
        n_trees: 30,
        seed,
        ..ForestParams::default()
    };
    let source = DataSource {
        uri: "generated".into(),
        sha256: sha256.into(),
    };
    train_and_evaluate(
        &prepare(training).unwrap(),
        &source,
        &[params],
        TimeSplit::default(),
        &|| {},
    )
    .unwrap()
}
