//! Criterion micro-benchmarks of the hot paths: parsing (CSV row, Kafka JSON message,
//! payments API frame), features (one card's history, a whole file in time order) and
//! prediction (one row, a batch).
//!
//! Data: the real Sparkov fixture (`FRAUD_FIXTURE`, else `../shared/data/fraud_fixture.csv`
//! next to the repository) when it exists, otherwise synthetic Sparkov-like rows built
//! here (fraud-core cannot depend on fraud-generator). Run with
//! `cargo bench -p fraud-core --bench hot_paths`; the side-by-side comparison with the
//! Python reference is `bench/run.sh`, not this file.

use std::hint::black_box;
use std::path::PathBuf;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fraud_core::api_frame::{encode_body, parse_body};
use fraud_core::csv_input::{read_transactions, write_transactions};
use fraud_core::features::{featurize_in_time_order, CardHistory, FeatureVector};
use fraud_core::model::{Forest, ForestParams};
use fraud_core::schema::{Category, Gender, Transaction};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows used by the whole-file benchmarks.
const FILE_ROWS: usize = 10_000;

/// The real fixture, when it is there.
fn fixture() -> Option<Vec<Transaction>> {
    let path = std::env::var_os("FRAUD_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fraud_fixture.csv")
        });
    let bytes = std::fs::read(&path).ok()?;
    let txs = read_transactions(bytes.as_slice(), |_| {}).ok()?;
    eprintln!("hot_paths: {} rows of {}", txs.len(), path.display());
    Some(txs)
}

/// Sparkov-like rows: `cards` card holders paying a few times a day for `days` days,
/// with night-time, high-amount online fraud episodes on about 2% of the cards.
fn synthetic(cards: u64, days: i64, seed: u64) -> Vec<Transaction> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = NaiveDate::from_ymd_opt(2019, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid start");
    let mut txs = Vec::new();
    for card in 0..cards {
        let lat = rng.random_range(30.0..45.0);
        let long = rng.random_range(-120.0..-75.0);
        let dob = NaiveDate::from_ymd_opt(rng.random_range(1940..2000), 1 + card as u32 % 12, 15)
            .expect("valid dob");
        let gender = if rng.random_bool(0.5) {
            Gender::Female
        } else {
            Gender::Male
        };
        let spend: f64 = rng.random_range(20.0..120.0);
        let fraud_day = rng.random_bool(0.02).then(|| rng.random_range(0..days));
        for day in 0..days {
            let in_episode = fraud_day.is_some_and(|d| (d..d + 3).contains(&day));
            let n = rng.random_range(0..5) + if in_episode { 4 } else { 0 };
            for k in 0..n {
                let fraud = in_episode && k >= n - 4;
                let (category, hour, amt) = if fraud {
                    let c = [
                        Category::ShoppingNet,
                        Category::GroceryPos,
                        Category::MiscNet,
                    ][rng.random_range(0..3)];
                    (
                        c,
                        (22 + rng.random_range(0..6)) % 24,
                        rng.random_range(300.0..1200.0),
                    )
                } else {
                    let c = Category::ALL[rng.random_range(0..Category::ALL.len())];
                    let amt = spend * (-rng.random::<f64>().ln()).max(0.01);
                    (c, rng.random_range(6..22), amt)
                };
                let at: NaiveDateTime = start
                    + Duration::days(day)
                    + Duration::hours(hour)
                    + Duration::seconds(rng.random_range(0..3600));
                txs.push(Transaction {
                    trans_date_trans_time: at,
                    cc_num: 4_000_000_000_000 + card,
                    merchant: format!("fraud_Merchant {}", rng.random_range(0..700)),
                    category,
                    amt: (amt * 100.0).round() / 100.0,
                    first: "Jennifer".into(),
                    last: "Smith".into(),
                    gender,
                    street: format!("{} Johnson Square Apt. 296", card),
                    city: "Parkers Lake".into(),
                    state: "KY".into(),
                    zip: "42634".into(),
                    lat,
                    long,
                    city_pop: rng.random_range(100..2_000_000),
                    job: "Designer, industrial/product".into(),
                    dob,
                    trans_num: format!("{:032x}", rng.random::<u128>()),
                    unix_time: Some(at.and_utc().timestamp()),
                    merch_lat: lat + rng.random_range(-1.0..1.0),
                    merch_long: long + rng.random_range(-1.0..1.0),
                    is_fraud: Some(fraud),
                });
            }
        }
    }
    txs.sort_by_key(Transaction::event_time);
    txs
}

/// Rows for the benchmarks, in time order: the fixture when present, else synthetic.
fn rows() -> Vec<Transaction> {
    let mut txs = fixture().unwrap_or_else(|| synthetic(600, 60, 7));
    txs.sort_by_key(Transaction::event_time);
    txs
}

/// The card with the most rows, in time order: a realistic per-card sequence.
fn busiest_card(txs: &[Transaction]) -> Vec<Transaction> {
    let mut counts = std::collections::HashMap::<u64, usize>::new();
    for t in txs {
        *counts.entry(t.cc_num).or_default() += 1;
    }
    let (&card, _) = counts
        .iter()
        .max_by_key(|(card, n)| (**n, **card))
        .expect("rows");
    txs.iter().filter(|t| t.cc_num == card).cloned().collect()
}

fn parse(c: &mut Criterion, txs: &[Transaction]) {
    let mut group = c.benchmark_group("parse");
    let one = &txs[txs.len() / 2];

    let mut csv_one = Vec::new();
    write_transactions(&mut csv_one, [one]).expect("csv");
    group.throughput(Throughput::Elements(1));
    group.bench_function("csv_row", |b| {
        b.iter(|| read_transactions(black_box(csv_one.as_slice()), |_| {}).expect("parses"))
    });

    let many = &txs[..FILE_ROWS.min(txs.len())];
    let mut csv_many = Vec::new();
    write_transactions(&mut csv_many, many).expect("csv");
    group.throughput(Throughput::Elements(many.len() as u64));
    group.bench_function("csv_10k_rows", |b| {
        b.iter(|| read_transactions(black_box(csv_many.as_slice()), |_| {}).expect("parses"))
    });

    let json = one.to_json();
    group.throughput(Throughput::Elements(1));
    group.bench_function("json_message", |b| {
        b.iter(|| Transaction::from_json(black_box(&json)).expect("parses"))
    });

    let frame_one = encode_body([one], 0, false);
    group.bench_function("api_frame_1_row", |b| {
        b.iter(|| parse_body(black_box(&frame_one)).expect("parses"))
    });
    let frame_100 = encode_body(&txs[..100.min(txs.len())], 0, false);
    group.throughput(Throughput::Elements(100.min(txs.len()) as u64));
    group.bench_function("api_frame_100_rows", |b| {
        b.iter(|| parse_body(black_box(&frame_100)).expect("parses"))
    });
    group.finish();
}

fn features(c: &mut Criterion, txs: &[Transaction]) {
    let mut group = c.benchmark_group("features");
    let card = busiest_card(txs);
    eprintln!("hot_paths: busiest card has {} rows", card.len());

    group.throughput(Throughput::Elements(card.len() as u64));
    group.bench_function("observe_card_sequence", |b| {
        b.iter(|| {
            let mut history = CardHistory::default();
            for tx in &card {
                black_box(history.observe(black_box(tx)));
            }
            history
        })
    });

    // Steady state: one new payment on a card that already has its history.
    let (last, earlier) = card.split_last().expect("a card with rows");
    let mut warm = CardHistory::default();
    for tx in earlier {
        warm.observe(tx);
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("observe_one_warm_card", |b| {
        b.iter_batched_ref(
            || warm.clone(),
            |history| history.observe(black_box(last)),
            BatchSize::SmallInput,
        )
    });

    let many = &txs[..FILE_ROWS.min(txs.len())];
    group.throughput(Throughput::Elements(many.len() as u64));
    group.bench_function("featurize_in_time_order_10k", |b| {
        b.iter(|| featurize_in_time_order(black_box(many)))
    });
    group.finish();
}

fn predict(c: &mut Criterion, txs: &[Transaction]) {
    let features = featurize_in_time_order(txs);
    let labels: Vec<bool> = txs.iter().map(|t| t.is_fraud == Some(true)).collect();
    let train = (txs.len() * 6 / 10).max(1);
    let params = ForestParams::default();
    let forest = Forest::fit(&features[..train], &labels[..train], &params, &|| {})
        .expect("the training rows hold both classes");
    let nodes: usize = forest.trees.iter().map(|t| t.len()).sum();
    eprintln!(
        "hot_paths: forest of {} trees, {nodes} nodes, trained on {train} rows",
        forest.trees.len()
    );
    let scored: Vec<FeatureVector> = features[train..]
        .iter()
        .cycle()
        .take(FILE_ROWS)
        .copied()
        .collect();

    let mut group = c.benchmark_group("predict");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("forest_single_row", |b| {
        b.iter(|| {
            i = (i + 1) % scored.len();
            forest.predict(black_box(&scored[i]))
        })
    });
    group.throughput(Throughput::Elements(scored.len() as u64));
    group.bench_function("forest_10k_rows_single_thread", |b| {
        b.iter(|| {
            black_box(&scored)
                .iter()
                .map(|x| forest.predict(x))
                .sum::<f64>()
        })
    });
    group.bench_function("forest_predict_many_10k", |b| {
        b.iter(|| forest.predict_many(black_box(&scored)))
    });
    group.finish();
}

fn hot_paths(c: &mut Criterion) {
    let txs = rows();
    parse(c, &txs);
    features(c, &txs);
    predict(c, &txs);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = hot_paths
}
criterion_main!(benches);
