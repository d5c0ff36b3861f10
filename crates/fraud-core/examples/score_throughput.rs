//! Single-core scoring throughput and cold start of the Rust path, for `bench/run.sh`.
//!
//! Loads a `model.json` written by `fraudctl train`, reads a Sparkov CSV, and scores it
//! in event-time order on one thread the way the score function does: per payment,
//! `CardHistory::observe` (through `CardHistories`), then `ModelArtifact::score_batch`
//! over the batch.
//! The rows are fed in batches of each requested size with fresh histories each time,
//! and every batch is timed. Prints one JSON document on stdout.
//!
//! ```text
//! cargo run --release -p fraud-core --example score_throughput -- \
//!     --model out/model/model.json --data payments.csv [--batch-sizes 1,100,10000]
//!     [--limit ROWS] [--first-only] [--repeat N]
//! ```
//!
//! Each measurement runs `--repeat` times (default 3) and the fastest run is reported
//! (by records per CPU-second where the thread's CPU time is known): on a shared machine
//! the slower runs measure the neighbours. Every run's rate is listed too.
//!
//! `features_only` times the feature pipeline alone: every row through
//! `CardHistories::observe` in event-time order with fresh histories, no prediction, in
//! as many passes as fill a second. Its `checksum` folds the bits of every feature value
//! (FNV-1a over `f64::to_bits`), so two builds computed the same features bit for bit
//! exactly when their checksums agree.
//!
//! `--first-only` stops after the first scored row: what a cold start costs (model read
//! and validation dominate), measured from the start of `main`.

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu_seconds;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use fraud_core::csv_input::read_transactions;
use fraud_core::features::{featurize_in_time_order, CardHistories, FeatureVector};
use fraud_core::{ModelArtifact, Transaction};
use serde_json::json;

struct Args {
    model: PathBuf,
    data: PathBuf,
    batch_sizes: Vec<usize>,
    limit: Option<usize>,
    first_only: bool,
    repeat: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut model = None;
    let mut data = None;
    let mut batch_sizes = vec![1, 100, 10_000];
    let mut limit = None;
    let mut first_only = false;
    let mut repeat = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--data" => data = Some(PathBuf::from(value("--data")?)),
            "--batch-sizes" => {
                batch_sizes = value("--batch-sizes")?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>().ok().filter(|&n| n > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("--batch-sizes takes positive integers, comma-separated")?
            }
            "--limit" => {
                limit = Some(
                    value("--limit")?
                        .parse()
                        .map_err(|_| "--limit takes a row count")?,
                )
            }
            "--first-only" => first_only = true,
            "--repeat" => {
                repeat = value("--repeat")?
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--repeat takes a positive count")?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        model: model.ok_or("--model PATH is required")?,
        data: data.ok_or("--data CSV is required")?,
        batch_sizes,
        limit,
        first_only,
        repeat,
    })
}

/// The fastest of repeated runs of one measurement (by records per CPU-second when known,
/// else per second), with every run's rate listed under `repeats`.
fn fastest(runs: Vec<serde_json::Value>) -> serde_json::Value {
    let rate = |r: &serde_json::Value| {
        r["records_per_cpu_s"]
            .as_f64()
            .or_else(|| r["records_per_s"].as_f64())
            .unwrap_or(0.0)
    };
    let rates: Vec<f64> = runs.iter().map(rate).collect();
    let mut best = runs
        .into_iter()
        .max_by(|a, b| rate(a).total_cmp(&rate(b)))
        .expect("at least one run");
    best["repeats"] = json!(rates);
    best
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Scores `txs` in batches of `batch` with fresh histories; returns the run's summary.
fn run(artifact: &ModelArtifact, txs: &[Transaction], batch: usize) -> serde_json::Value {
    let mut histories = CardHistories::default();
    let mut latencies = Vec::with_capacity(txs.len() / batch + 1);
    let mut checksum = 0.0;
    let cpu_started = thread_cpu_seconds();
    let started = Instant::now();
    for chunk in txs.chunks(batch) {
        let t = Instant::now();
        let features: Vec<_> = chunk.iter().map(|tx| histories.observe(tx)).collect();
        checksum += artifact.score_batch(&features).iter().sum::<f64>();
        latencies.push(t.elapsed().as_secs_f64());
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_started.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
    latencies.sort_by(f64::total_cmp);
    json!({
        "batch_size": batch,
        "rows": txs.len(),
        "seconds": seconds,
        "records_per_s": txs.len() as f64 / seconds,
        "cpu_seconds": cpu_seconds,
        "records_per_cpu_s": cpu_seconds.map(|c| txs.len() as f64 / c),
        "p50_batch_us": percentile(&latencies, 0.5) * 1e6,
        "p99_batch_us": percentile(&latencies, 0.99) * 1e6,
        "checksum": checksum,
    })
}

/// FNV-1a over the bits of every feature value, in row then column order: equal exactly
/// when the features are bit for bit the same (up to hash collisions).
fn feature_bits_checksum(features: &[FeatureVector]) -> String {
    let hash = features
        .iter()
        .flatten()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
            (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{hash:016x}")
}

/// Features alone: every row through fresh histories in the given (event-time) order,
/// into a preallocated buffer, in passes until at least [`FEATURES_MIN_SECONDS`] have
/// gone by (the CPU clock ticks at 100 Hz: one pass over a small file is a tick or two);
/// the checksum is taken after the clock stops.
fn features_only(txs: &[Transaction], out: &mut [FeatureVector]) -> serde_json::Value {
    let cpu_started = thread_cpu_seconds();
    let started = Instant::now();
    let mut passes = 0;
    while passes == 0 || started.elapsed().as_secs_f64() < FEATURES_MIN_SECONDS {
        let mut histories = CardHistories::default();
        for (tx, f) in txs.iter().zip(out.iter_mut()) {
            *f = histories.observe(tx);
        }
        passes += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_started.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
    let records = (passes * txs.len()) as f64;
    json!({
        "rows": txs.len(),
        "passes": passes,
        "seconds": seconds,
        "records_per_s": records / seconds,
        "cpu_seconds": cpu_seconds,
        "records_per_cpu_s": cpu_seconds.map(|c| records / c),
        "checksum": feature_bits_checksum(out),
    })
}

/// Least wall time of one features-only measurement.
const FEATURES_MIN_SECONDS: f64 = 1.0;

fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("score_throughput: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes = match std::fs::read(&args.model) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.model.display());
            return ExitCode::FAILURE;
        }
    };
    let artifact = match ModelArtifact::from_bytes(&bytes) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot load {}: {e}", args.model.display());
            return ExitCode::FAILURE;
        }
    };
    let load_seconds = started.elapsed().as_secs_f64();
    let file = match std::fs::File::open(&args.data) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot open {}: {e}", args.data.display());
            return ExitCode::FAILURE;
        }
    };
    let read = std::io::BufReader::new(file);
    let mut txs = match read_transactions(read, |r| eprintln!("rejected: {r}")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.data.display());
            return ExitCode::FAILURE;
        }
    };
    txs.sort_by_key(Transaction::event_time);
    if let Some(limit) = args.limit {
        txs.truncate(limit);
    }
    let Some(first) = txs.first() else {
        eprintln!("{} holds no valid transaction", args.data.display());
        return ExitCode::FAILURE;
    };
    let probability = artifact.score(&CardHistories::default().observe(first));
    let first_score_seconds = started.elapsed().as_secs_f64();
    let nodes: usize = artifact.model.trees.iter().map(|t| t.len()).sum();
    let mut report = json!({
        "model": args.model.display().to_string(),
        "model_bytes": bytes.len(),
        "trees": artifact.model.trees.len(),
        "nodes": nodes,
        "load_seconds": load_seconds,
        "first_score_seconds": first_score_seconds,
        "first_probability": probability,
        "rows": txs.len(),
    });
    if args.first_only {
        println!("{report}");
        return ExitCode::SUCCESS;
    }
    drop(bytes);

    let runs: Vec<_> = args
        .batch_sizes
        .iter()
        .map(|&b| fastest((0..args.repeat).map(|_| run(&artifact, &txs, b)).collect()))
        .collect();

    // Prediction alone, on features computed beforehand (what sklearn's batch
    // `predict_proba` on an exported feature matrix measures).
    let features = featurize_in_time_order(&txs);
    let predict_runs = (0..args.repeat)
        .map(|_| {
            let cpu_started = thread_cpu_seconds();
            let t = Instant::now();
            let checksum: f64 = artifact.score_batch(&features).iter().sum();
            let seconds = t.elapsed().as_secs_f64();
            let cpu_seconds = cpu_started.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
            json!({
                "rows": features.len(),
                "seconds": seconds,
                "records_per_s": features.len() as f64 / seconds,
                "cpu_seconds": cpu_seconds,
                "records_per_cpu_s": cpu_seconds.map(|c| features.len() as f64 / c),
                "checksum": checksum,
            })
        })
        .collect();
    let mut buffer = vec![[0.0; fraud_core::features::N_FEATURES]; txs.len()];
    let features_runs = (0..args.repeat)
        .map(|_| features_only(&txs, &mut buffer))
        .collect();
    report["runs"] = json!(runs);
    report["predict_only"] = fastest(predict_runs);
    report["features_only"] = fastest(features_runs);
    println!("{report}");
    ExitCode::SUCCESS
}
