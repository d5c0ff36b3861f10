//! Generated-input fuzzing of every parser of untrusted input (stable Rust, no
//! `cargo fuzz`): a seeded generator produces valid inputs, mutates them (bit flips,
//! interesting bytes, insertions, deletions, duplications, truncation, splices, hostile
//! numbers and over-long values) and builds structure-aware JSON with every field
//! replaced by a random value of any type. Each parser must never panic; what it
//! accepts must survive a round trip; an input over its size limit must be refused with
//! the `Oversize` error that names the limit.
//!
//! Parsers: CSV rows (`CsvTransactions`), the payments API frame (`parse_body`), the
//! Kafka message (`Transaction::from_json`), the SQS alert (`Alert::from_json`) and the
//! model artifact (`ModelArtifact::from_bytes`).
//!
//! `#[ignore]`d so `cargo test` stays quick; run with
//!   FUZZ_CASES=10000 cargo test --release -p fraud-core --test fuzz_parsers -- --ignored --nocapture
//! (`make fuzz`: 10⁴ per parser; `make fuzz-long`: 2.5·10⁵ per parser, 1.25·10⁶ in all).
//! `FUZZ_SEED` picks the seed; a panic prints the seed, case number and input to replay.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use fraud_core::api_frame::{encode_body, parse_body, FrameError, MAX_BODY_BYTES};
use fraud_core::artifact::{ArtifactError, MAX_ARTIFACT_BYTES};
use fraud_core::csv_input::{write_transactions, CsvTransactions, MAX_ROW_BYTES};
use fraud_core::model::ForestParams;
use fraud_core::schema::MAX_MESSAGE_BYTES;
use fraud_core::scoring::{Alert, AlertError, MAX_ALERT_BYTES};
use fraud_core::train::{prepare, train_and_evaluate, DataSource, TimeSplit};
use fraud_core::{Category, Gender, ModelArtifact, RecordError, Transaction};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a count"))
        })
        .unwrap_or(default)
}

const WORDS: &[&str] = &[
    "Abbott LLC",
    "fraud_Kirlin",
    "O'Hara",
    "Smith, Jr.",
    "\"quoted\"",
    "São Paulo",
    "東京",
    "",
    " ",
    "a\nb",
    "x\r\ny",
    "\\",
    "null",
    "NaN",
    "-",
    "1e309",
];

fn word(rng: &mut ChaCha8Rng) -> String {
    let w = WORDS.choose(rng).unwrap();
    if w.trim().is_empty() || w.contains('\n') {
        "Plain".into()
    } else {
        (*w).to_owned()
    }
}

fn transaction(rng: &mut ChaCha8Rng) -> Transaction {
    let at = NaiveDate::from_ymd_opt(2019, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + Duration::seconds(rng.random_range(0..3 * 365 * 86_400));
    let lat: f64 = rng.random_range(-89.0..89.0);
    let long: f64 = rng.random_range(-179.0..179.0);
    Transaction {
        trans_date_trans_time: at,
        cc_num: rng.random_range(1..u64::MAX / 2),
        merchant: format!("fraud_{}", word(rng)),
        category: Category::ALL[rng.random_range(0..Category::ALL.len())],
        amt: rng.random_range(0..5_000_000u64) as f64 / 100.0,
        first: word(rng),
        last: word(rng),
        gender: if rng.random() {
            Gender::Female
        } else {
            Gender::Male
        },
        street: word(rng),
        city: word(rng),
        state: "NY".into(),
        zip: format!("{:05}", rng.random_range(0..100_000)),
        lat: (lat * 1e4).round() / 1e4,
        long: (long * 1e4).round() / 1e4,
        city_pop: rng.random_range(0..10_000_000),
        job: word(rng),
        dob: at.date() - Duration::days(rng.random_range(6_600..33_000)),
        trans_num: format!("{:032x}", rng.random::<u128>()),
        unix_time: Some(at.and_utc().timestamp()),
        merch_lat: ((lat + rng.random_range(-1.0..1.0)) * 1e6).round() / 1e6,
        merch_long: ((long + rng.random_range(-1.0..1.0)) * 1e6).round() / 1e6,
        is_fraud: Some(rng.random_bool(0.1)),
    }
}

fn transactions(rng: &mut ChaCha8Rng, max: usize) -> Vec<Transaction> {
    let n = rng.random_range(1..=max);
    (0..n).map(|_| transaction(rng)).collect()
}

const INTERESTING: &[u8] = b"\"',\n\r\\{}[]:0-9.eE+ \0\xff\xc3";
const HOSTILE: &[&str] = &[
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-0",
    "18446744073709551616",
    "-9223372036854775809",
    "99999999999999999999999999",
    "0x10",
    "1_000",
    "\"\"",
    "null",
    "true",
    "[]",
    "{}",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "2019-02-30 25:61:61",
    "0000-00-00",
    "\u{202e}",
];

/// One random mutation (or several) of `input`; `others` are valid inputs to splice from.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..10) {
            0 if len > 0 => out[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => out[at] = *INTERESTING.choose(rng).unwrap(),
            2 => {
                let chunk: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                out.splice(at..at, chunk);
            }
            3 if len > 0 => {
                let end = (at + rng.random_range(1..64)).min(len);
                out.drain(at..end);
            }
            4 if len > 0 => {
                let end = (at + rng.random_range(1..128)).min(len);
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            5 => out.truncate(at),
            6 if !others.is_empty() => {
                let other = others.choose(rng).unwrap();
                let from = rng.random_range(0..=other.len());
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            7 => {
                // Replace a number-ish or quoted token with a hostile value.
                let h = HOSTILE.choose(rng).unwrap().as_bytes();
                let end = (at + rng.random_range(1..12)).min(len);
                out.splice(at..end, h.iter().copied());
            }
            8 => {
                // An over-long value (fields are capped at 256 bytes).
                let n = *[255usize, 256, 257, 4096].choose(rng).unwrap();
                out.splice(at..at, std::iter::repeat_n(b'a', n));
            }
            _ => {
                let b: u8 = rng.random();
                out.insert(at.min(out.len()), b);
            }
        }
    }
    out
}

fn random_json(rng: &mut ChaCha8Rng, depth: u32) -> Value {
    match rng.random_range(0..if depth > 3 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>() * 10f64.powi(rng.random_range(-5..300))),
        4 => json!(HOSTILE.choose(rng).unwrap()),
        5 => json!("x".repeat(rng.random_range(0..300))),
        6 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for i in 0..rng.random_range(0..4) {
                m.insert(format!("k{i}"), random_json(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// A valid JSON object with some fields replaced by random values, dropped or added.
fn structured(rng: &mut ChaCha8Rng, valid: &Value) -> Vec<u8> {
    let mut v = valid.clone();
    if let Some(obj) = v.as_object_mut() {
        let keys: Vec<String> = obj.keys().cloned().collect();
        for _ in 0..rng.random_range(1..=3) {
            match rng.random_range(0..4) {
                0 => {
                    let k = keys.choose(rng).unwrap();
                    obj.remove(k);
                }
                1 => {
                    obj.insert(format!("extra{}", rng.random::<u8>()), random_json(rng, 0));
                }
                _ => {
                    let k = keys.choose(rng).unwrap();
                    obj.insert(k.clone(), random_json(rng, 0));
                }
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

#[derive(Default, Debug)]
struct Tally {
    inputs: u64,
    accepted: u64,
    rejected: u64,
    panics: u64,
}

/// Runs `cases` generated inputs through `check` (which returns whether the input was
/// accepted and panics on a broken invariant); counts panics instead of stopping.
/// Random bytes, up to `max` of them.
fn noise(rng: &mut ChaCha8Rng, max: usize) -> Vec<u8> {
    (0..rng.random_range(0..max))
        .map(|_| rng.random())
        .collect()
}

/// One input in ten random bytes, four in ten a structure-aware change of one of `values`,
/// the rest a byte-level mutation of one of `bytes`.
fn structured_or_mutated(rng: &mut ChaCha8Rng, values: &[Value], bytes: &[Vec<u8>]) -> Vec<u8> {
    match rng.random_range(0..10) {
        0 => noise(rng, 256),
        1..=4 => {
            let base = values.choose(rng).unwrap();
            structured(rng, base)
        }
        _ => {
            let base = bytes.choose(rng).unwrap();
            mutate(rng, base, bytes)
        }
    }
}

/// What a parser accepted must come back the same through JSON.
fn assert_round_trip(tx: &Transaction) {
    assert_eq!(
        &Transaction::from_json(&tx.to_json()).unwrap(),
        tx,
        "round trip"
    );
}

fn fuzz(
    name: &str,
    cases: u64,
    seed: u64,
    mut generate: impl FnMut(&mut ChaCha8Rng) -> Vec<u8>,
    check: impl Fn(&[u8]) -> bool,
) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let t0 = Instant::now();
    for case in 0..cases {
        let input = generate(&mut rng);
        tally.inputs += 1;
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(true) => tally.accepted += 1,
            Ok(false) => tally.rejected += 1,
            Err(e) => {
                tally.panics += 1;
                let what = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!(
                    "PANIC in {name} (FUZZ_SEED={seed}, case {case}): {what}\n  input ({} bytes): {:?}",
                    input.len(),
                    String::from_utf8_lossy(&input[..input.len().min(600)])
                );
            }
        }
    }
    std::panic::set_hook(hook);
    println!(
        "FUZZ {name:<10} inputs={} accepted={} rejected={} panics={} time={:.1}s",
        tally.inputs,
        tally.accepted,
        tally.rejected,
        tally.panics,
        t0.elapsed().as_secs_f64()
    );
    tally
}

fn tiny_artifact(seed: u64) -> ModelArtifact {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut txs: Vec<Transaction> = (0..400).map(|_| transaction(&mut rng)).collect();
    for (i, t) in txs.iter_mut().enumerate() {
        t.cc_num = 1 + (i as u64 % 20);
        t.is_fraud = Some(i % 9 == 0);
    }
    let prepared = prepare(txs).unwrap();
    let params = ForestParams {
        n_trees: 3,
        max_depth: 4,
        seed,
        ..ForestParams::default()
    };
    let source = DataSource {
        uri: "fuzz".into(),
        sha256: "fuzz".into(),
    };
    train_and_evaluate(&prepared, &source, &[params], TimeSplit::default(), &|| {}).unwrap()
}

#[test]
#[ignore = "fuzzing run: make fuzz / make fuzz-long"]
fn parsers_survive_generated_inputs() {
    let cases = env_u64("FUZZ_CASES", 10_000);
    let seed = env_u64("FUZZ_SEED", 0x5eed);
    let t0 = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tallies = Vec::new();

    // Corpus of valid inputs.
    let csvs: Vec<Vec<u8>> = (0..64)
        .map(|_| {
            let mut buf = Vec::new();
            write_transactions(&mut buf, &transactions(&mut rng, 8)).unwrap();
            buf
        })
        .collect();
    let frames: Vec<Vec<u8>> = (0..64)
        .map(|_| {
            encode_body(
                &transactions(&mut rng, 8),
                rng.random_range(0..1000),
                rng.random(),
            )
        })
        .collect();
    let messages: Vec<Vec<u8>> = (0..64).map(|_| transaction(&mut rng).to_json()).collect();
    let message_values: Vec<Value> = messages
        .iter()
        .map(|m| serde_json::from_slice(m).unwrap())
        .collect();
    let alerts: Vec<Value> = (0..64)
        .map(|_| {
            let tx = transaction(&mut rng);
            json!({
                "trans_num": tx.trans_num, "cc_num": tx.cc_num, "amt": tx.amt,
                "merchant": tx.merchant, "category": tx.category.as_str(),
                "trans_date_trans_time": "2019-03-01 23:14:00",
                "probability": rng.random::<f64>(), "threshold": 0.4, "model_version": "v1",
                "published_at_ms": 1_700_000_000_000i64
            })
        })
        .collect();
    let alert_bytes: Vec<Vec<u8>> = alerts
        .iter()
        .map(|a| serde_json::to_vec(a).unwrap())
        .collect();
    let artifact = tiny_artifact(seed);
    let artifact_bytes = artifact.to_bytes();
    let artifact_value: Value = serde_json::from_slice(&artifact_bytes).unwrap();
    ModelArtifact::from_bytes(&artifact_bytes).expect("the seed artifact is valid");

    // 1. CSV rows.
    tallies.push(fuzz(
        "csv",
        cases,
        seed,
        |rng| {
            let base = csvs.choose(rng).unwrap();
            if rng.random_range(0..20) == 0 {
                noise(rng, 512)
            } else {
                mutate(rng, base, &csvs)
            }
        },
        |input| {
            let Ok(reader) = CsvTransactions::new(input) else {
                return false;
            };
            let mut any = false;
            for row in reader {
                if let Ok(Ok(tx)) = row {
                    any = true;
                    assert_round_trip(&tx);
                }
            }
            any
        },
    ));

    // 2. API frame (a JSON string holding a pandas split frame).
    tallies.push(fuzz(
        "api_frame",
        cases,
        seed + 1,
        |rng| {
            let base = frames.choose(rng).unwrap();
            match rng.random_range(0..10) {
                0 => noise(rng, 512),
                1 | 2 => {
                    // Structure-aware: mutate the inner frame, then wrap it as a string.
                    let inner: String = serde_json::from_slice(base).unwrap();
                    let mut frame: Value = serde_json::from_str(&inner).unwrap();
                    if let Some(rows) = frame["data"].as_array_mut() {
                        if let Some(row) = rows.first_mut().and_then(Value::as_array_mut) {
                            let i = rng.random_range(0..row.len());
                            row[i] = random_json(rng, 0);
                        }
                    }
                    if rng.random_range(0..4) == 0 {
                        frame["index"] = random_json(rng, 0);
                    }
                    serde_json::to_vec(&Value::String(frame.to_string())).unwrap()
                }
                _ => mutate(rng, base, &frames),
            }
        },
        |input| match parse_body(input) {
            Ok(rows) => {
                for tx in rows.into_iter().flatten() {
                    assert_round_trip(&tx);
                }
                true
            }
            Err(_) => false,
        },
    ));

    // 3. Kafka message JSON.
    tallies.push(fuzz(
        "kafka_json",
        cases,
        seed + 2,
        |rng| structured_or_mutated(rng, &message_values, &messages),
        |input| match Transaction::from_json(input) {
            Ok(tx) => {
                assert_round_trip(&tx);
                true
            }
            Err(_) => false,
        },
    ));

    // 4. SQS alert body.
    tallies.push(fuzz(
        "sqs_alert",
        cases,
        seed + 3,
        |rng| structured_or_mutated(rng, &alerts, &alert_bytes),
        |input| {
            let text = String::from_utf8_lossy(input);
            match Alert::from_json(&text) {
                Ok(alert) => {
                    let again = Alert::from_json(&serde_json::to_string(&alert).unwrap()).unwrap();
                    assert_eq!(again.trans_num, alert.trans_num, "round trip");
                    true
                }
                Err(_) => false,
            }
        },
    ));

    // 5. Model artifact JSON.
    let artifacts = vec![artifact_bytes.clone()];
    tallies.push(fuzz(
        "artifact",
        cases,
        seed + 4,
        |rng| match rng.random_range(0..10) {
            0 => noise(rng, 256),
            1..=5 => {
                // Structure-aware: change header fields, the threshold, or a tree node.
                let mut v = artifact_value.clone();
                match rng.random_range(0..5) {
                    0 => v["schema_version"] = random_json(rng, 0),
                    1 => v["threshold"] = random_json(rng, 0),
                    2 => v["feature_names"] = random_json(rng, 0),
                    3 => v["format"] = random_json(rng, 0),
                    _ => {
                        let s = v["model"].to_string();
                        let m = mutate(rng, s.as_bytes(), &[]);
                        v["model"] =
                            serde_json::from_slice(&m).unwrap_or_else(|_| random_json(rng, 0));
                    }
                }
                serde_json::to_vec(&v).unwrap()
            }
            _ => mutate(rng, &artifact_bytes, &artifacts),
        },
        |input| match ModelArtifact::from_bytes(input) {
            Ok(model) => {
                // What loads must score without panicking.
                let mut history = fraud_core::CardHistory::default();
                let tx = transaction(&mut ChaCha8Rng::seed_from_u64(input.len() as u64));
                let p = model.score(&history.observe(&tx));
                assert!((0.0..=1.0).contains(&p), "probability {p}");
                true
            }
            Err(_) => false,
        },
    ));

    // Oversize inputs: a clear error naming the limit, for each parser.
    let over = |limit: usize| {
        let mut v = b"{\"pad\":\"".to_vec();
        v.resize(limit + 1, b'a');
        v
    };
    assert!(matches!(
        parse_body(&over(MAX_BODY_BYTES)),
        Err(FrameError::Oversize { .. })
    ));
    assert!(matches!(
        Transaction::from_json(&over(MAX_MESSAGE_BYTES)),
        Err(RecordError::Oversize { .. })
    ));
    let big_alert = String::from_utf8(over(MAX_ALERT_BYTES)).unwrap();
    assert!(matches!(
        Alert::from_json(&big_alert),
        Err(AlertError::Oversize { .. })
    ));
    assert!(matches!(
        ModelArtifact::from_bytes(&over(MAX_ARTIFACT_BYTES)),
        Err(ArtifactError::Oversize { .. })
    ));
    let mut csv = Vec::new();
    write_transactions(&mut csv, &transactions(&mut rng, 2)).unwrap();
    let long_row = format!("\n{}", "aaaa,".repeat(MAX_ROW_BYTES / 4 + 1));
    csv.extend_from_slice(long_row.as_bytes());
    let rejects: Vec<String> = CsvTransactions::new(csv.as_slice())
        .unwrap()
        .filter_map(|r| r.unwrap().err().map(|r| r.reason))
        .collect();
    assert!(
        rejects.iter().any(|r| r.contains("exceeds the limit")),
        "{rejects:?}"
    );

    let total: u64 = tallies.iter().map(|t| t.inputs).sum();
    let panics: u64 = tallies.iter().map(|t| t.panics).sum();
    println!(
        "FUZZ total inputs={total} panics={panics} time={:.1}s seed={seed} (+5 oversize checks)",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(panics, 0, "parsers panicked; see the PANIC lines above");
}
