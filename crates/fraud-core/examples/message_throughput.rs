//! What each Kafka message encoding costs the score function: decoding alone, and
//! decoding + features + model per payment, on one thread.
//!
//! The rows of a Sparkov CSV are written as messages in each encoding producers of the
//! payments API use ([`fraud_core::message`]): our flat JSON, the API's body as is (a JSON
//! string holding a one-row split frame), a split frame object of 5 rows, and a frame
//! string wrapped in a one-member object. Then, like the score function's batch, every
//! 200 messages are decoded ([`fraud_core::message::decode`]), the payments go through
//! `CardHistories::observe` in order, and `ModelArtifact::assess_batch` scores them.
//! Prints one JSON document on stdout; each figure is the fastest of `--repeat` runs
//! (default 3), by payments per CPU-second of the thread.
//!
//! ```text
//! cargo run --release -p fraud-core --example message_throughput -- \
//!     --model out/model/model.json --data payments.csv [--limit 50000] [--repeat 3]
//! ```

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu_seconds;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use fraud_core::api_frame::encode_body;
use fraud_core::csv_input::read_transactions;
use fraud_core::features::CardHistories;
use fraud_core::message::decode;
use fraud_core::{ModelArtifact, Transaction};
use serde_json::json;

/// Messages per scored batch (the function's batches at 1k msg/s were 155–269 records).
const BATCH: usize = 200;

/// Seconds of CPU (wall when CPU time is unknown) that `f` took.
fn timed(f: impl FnOnce()) -> f64 {
    let (cpu, wall) = (thread_cpu_seconds(), Instant::now());
    f();
    match (cpu, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall.elapsed().as_secs_f64(),
    }
}

/// The rows as messages in `encoding`.
fn encode(txs: &[Transaction], encoding: &str) -> Vec<Vec<u8>> {
    let frame_string = |chunk: &[Transaction], i: usize| encode_body(chunk, i as u64, true);
    match encoding {
        "flat" => txs.iter().map(Transaction::to_json).collect(),
        "frame_string_1_row" => txs
            .chunks(1)
            .enumerate()
            .map(|(i, c)| frame_string(c, i))
            .collect(),
        "frame_5_rows" => txs
            .chunks(5)
            .enumerate()
            .map(|(i, c)| {
                let text: String =
                    serde_json::from_slice(&frame_string(c, i * 5)).expect("a string");
                text.into_bytes()
            })
            .collect(),
        "wrapped_frame_string" => txs
            .chunks(1)
            .enumerate()
            .map(|(i, c)| {
                let inner: serde_json::Value =
                    serde_json::from_slice(&frame_string(c, i)).expect("JSON");
                serde_json::to_vec(&json!({ "transaction": inner })).expect("JSON")
            })
            .collect(),
        other => panic!("unknown encoding {other}"),
    }
}

/// Decodes every message; returns the payments.
fn decode_all(messages: &[Vec<u8>]) -> Vec<Transaction> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        for p in decode(m).expect("decodes").payments {
            out.push(p.expect("valid"));
        }
    }
    out
}

fn measure(artifact: &ModelArtifact, messages: &[Vec<u8>], payments: usize) -> serde_json::Value {
    let decode_s = timed(|| {
        std::hint::black_box(decode_all(messages));
    });
    let mut histories = CardHistories::default();
    let mut checksum = 0.0;
    let total_s = timed(|| {
        for batch in messages.chunks(BATCH) {
            let mut txs = decode_all(batch);
            txs.sort_by_key(Transaction::event_time);
            let features: Vec<_> = txs.iter().map(|tx| histories.observe(tx)).collect();
            checksum += artifact
                .assess_batch(&features)
                .iter()
                .map(|a| a.probability)
                .sum::<f64>();
        }
    });
    json!({
        "messages": messages.len(),
        "payments": payments,
        "decode_us_per_payment": decode_s * 1e6 / payments as f64,
        "decode_payments_per_cpu_s": payments as f64 / decode_s,
        "scored_payments_per_cpu_s": payments as f64 / total_s,
        "checksum": checksum,
    })
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut model, mut data, mut limit, mut repeat) = (None, None, None, 3usize);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value)),
            "--data" => data = Some(PathBuf::from(value)),
            "--limit" => limit = value.parse().ok(),
            "--repeat" => repeat = value.parse().unwrap_or(3).max(1),
            other => {
                eprintln!(
                    "unknown flag {other}; usage: --model M --data CSV [--limit N] [--repeat N]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let (Some(model), Some(data)) = (model, data) else {
        eprintln!("usage: message_throughput --model model.json --data payments.csv");
        return ExitCode::from(2);
    };
    let artifact = match std::fs::read(&model)
        .map_err(|e| e.to_string())
        .and_then(|b| ModelArtifact::from_bytes(&b).map_err(|e| e.to_string()))
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot load {}: {e}", model.display());
            return ExitCode::FAILURE;
        }
    };
    let bytes = match std::fs::read(&data) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {}: {e}", data.display());
            return ExitCode::FAILURE;
        }
    };
    let mut txs = match read_transactions(bytes.as_slice(), |_| {}) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot parse {}: {e}", data.display());
            return ExitCode::FAILURE;
        }
    };
    txs.sort_by_key(Transaction::event_time);
    txs.truncate(limit.unwrap_or(txs.len()));
    let mut results = serde_json::Map::new();
    for encoding in [
        "flat",
        "frame_string_1_row",
        "frame_5_rows",
        "wrapped_frame_string",
    ] {
        let messages = encode(&txs, encoding);
        let best = (0..repeat)
            .map(|_| measure(&artifact, &messages, txs.len()))
            .max_by(|a, b| {
                let rate =
                    |r: &serde_json::Value| r["scored_payments_per_cpu_s"].as_f64().unwrap_or(0.0);
                rate(a).total_cmp(&rate(b))
            })
            .expect("at least one run");
        eprintln!(
            "{encoding:>22}: decode {:.2} µs/payment, scored {:.0} payments per CPU-second",
            best["decode_us_per_payment"].as_f64().unwrap_or(0.0),
            best["scored_payments_per_cpu_s"].as_f64().unwrap_or(0.0)
        );
        results.insert(encoding.into(), best);
    }
    println!(
        "{}",
        json!({"model": artifact.version, "batch": BATCH, "rows": txs.len(), "encodings": results})
    );
    ExitCode::SUCCESS
}
