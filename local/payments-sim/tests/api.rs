//! The simulator over real HTTP: start it on an ephemeral port, call it with reqwest and
//! read the bodies with the pipeline's own parser, as the ingest function would.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fraud_core::api_frame::{parse_body, FrameError, SplitFrame};
use fraud_core::csv_input::write_transactions;
use fraud_core::Transaction;
use fraud_generator::{Generator, GeneratorConfig};
use payments_sim::{FaultSpec, Malformation, RateLimit, SimConfig, SimError, SourceConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A small, fast generator: 40 card holders over 2 days (about a hundred payments).
fn small_generator() -> GeneratorConfig {
    GeneratorConfig {
        customers: 40,
        days: 2,
        seed: 11,
        ..GeneratorConfig::default()
    }
}

fn generated(days: u32) -> Vec<Transaction> {
    Generator::new(GeneratorConfig {
        days,
        ..small_generator()
    })
    .unwrap()
    .all()
    .collect()
}

fn config(source: SourceConfig, batch_size: usize) -> SimConfig {
    SimConfig {
        source,
        batch_size,
        ..SimConfig::default()
    }
}

/// A running simulator and a client for it.
struct Sim {
    base: String,
    client: reqwest::Client,
}

impl Sim {
    async fn start(config: SimConfig) -> Sim {
        let (addr, _server) = payments_sim::spawn(config).await.unwrap();
        Sim {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        }
    }

    async fn get_raw(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.bytes().await.unwrap().to_vec())
    }

    /// One page, checked to be a 200 with a JSON content type.
    async fn page_body(&self) -> Vec<u8> {
        let response = self
            .client
            .get(format!("{}/current-transactions", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "content type"
        );
        response.bytes().await.unwrap().to_vec()
    }

    /// One page's transactions, every row parsing.
    async fn page(&self) -> Vec<Transaction> {
        transactions(&self.page_body().await)
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get_raw(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        serde_json::from_slice(&body).unwrap()
    }

    async fn post_faults(&self, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/faults", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn queue(&self, fault: FaultSpec) {
        let (status, answer) = self.post_faults(&json!(fault)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

fn transactions(body: &[u8]) -> Vec<Transaction> {
    parse_body(body)
        .expect("a well-formed frame")
        .into_iter()
        .map(|row| row.expect("every row parses"))
        .collect()
}

/// The frame itself, to look at columns and index.
fn frame(body: &[u8]) -> SplitFrame {
    let inner: String = serde_json::from_slice(body).expect("the body is a JSON string");
    serde_json::from_str(&inner).expect("the string holds a split frame")
}

fn trans_nums(txs: &[Transaction]) -> Vec<String> {
    txs.iter().map(|t| t.trans_num.clone()).collect()
}

/// What the API can carry of a transaction: no `unix_time`, and the label unless left out.
fn as_served(tx: &Transaction, include_label: bool) -> Transaction {
    Transaction {
        unix_time: None,
        is_fraud: if include_label { tx.is_fraud } else { None },
        ..tx.clone()
    }
}

fn temp_csv(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("payments-sim-{}-{name}.csv", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn batches_are_sequential_and_non_overlapping() {
    let expected = generated(2);
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 10)).await;
    let mut seen = HashSet::new();
    let mut served = Vec::new();
    for call in 0..5u64 {
        let body = sim.page_body().await;
        let frame = frame(&body);
        let index: Vec<u64> = frame.index.iter().map(|i| i.as_u64().unwrap()).collect();
        assert_eq!(index, (call * 10..call * 10 + 10).collect::<Vec<_>>());
        assert_eq!(frame.columns.last().unwrap(), "current_time");
        for tx in transactions(&body) {
            assert!(seen.insert(tx.trans_num.clone()), "{} twice", tx.trans_num);
            served.push(tx);
        }
    }
    let want: Vec<Transaction> = expected[..50].iter().map(|t| as_served(t, true)).collect();
    assert_eq!(served, want, "the generator's rows, in order");
}

#[tokio::test]
async fn concurrent_calls_get_distinct_pages() {
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 5)).await;
    let calls = (0..8).map(|_| {
        let client = sim.client.clone();
        let url = format!("{}/current-transactions", sim.base);
        tokio::spawn(async move {
            let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
            transactions(&body)
        })
    });
    let mut seen = HashSet::new();
    for call in calls.collect::<Vec<_>>() {
        for tx in call.await.unwrap() {
            assert!(seen.insert(tx.trans_num.clone()), "{} twice", tx.trans_num);
        }
    }
    assert_eq!(seen.len(), 40);
}

#[tokio::test]
async fn csv_source_replays_the_file_and_skips_bad_rows() {
    let rows = generated(1);
    let mut text = Vec::new();
    write_transactions(&mut text, &rows).unwrap();
    let mut lines: Vec<&str> = std::str::from_utf8(&text).unwrap().lines().collect();
    lines.insert(3, "2019-01-01 00:00:00,not,enough,fields");
    let path = temp_csv("replay", &(lines.join("\n") + "\n"));

    let sim = Sim::start(config(SourceConfig::Csv(path.clone()), 7)).await;
    let mut served = Vec::new();
    loop {
        let page = sim.page().await;
        if page.is_empty() {
            break;
        }
        served.extend(page);
    }
    let want: Vec<Transaction> = rows.iter().map(|t| as_served(t, true)).collect();
    assert_eq!(served, want);
    let stats = sim.json("/stats").await;
    assert_eq!(stats["skipped_rows"], 1);
    assert_eq!(stats["transactions_served"], rows.len());
    assert_eq!(stats["source"], "csv");
    std::fs::remove_file(path).ok();
}

#[tokio::test]
async fn exhausted_source_returns_empty_frames_not_errors() {
    let rows = generated(1)[..3].to_vec();
    let sim = Sim::start(config(SourceConfig::Transactions(rows.clone()), 2)).await;
    assert_eq!(trans_nums(&sim.page().await), trans_nums(&rows[..2]));
    let health = sim.json("/health").await;
    assert_eq!(
        health,
        json!({"status": "ok", "served": 2, "remaining": 1, "exhausted": false})
    );
    assert_eq!(trans_nums(&sim.page().await), trans_nums(&rows[2..]));
    for _ in 0..2 {
        let body = sim.page_body().await;
        let empty = frame(&body);
        assert!(empty.data.is_empty() && empty.index.is_empty());
        assert!(empty.columns.iter().any(|c| c == "trans_num"));
        assert!(transactions(&body).is_empty());
    }
    let health = sim.json("/health").await;
    assert_eq!(health["served"], 3);
    assert_eq!(health["remaining"], 0);
    assert_eq!(health["exhausted"], true);
    assert_eq!(sim.json("/stats").await["empty_pages"], 2);
}

#[tokio::test]
async fn label_is_sent_unless_left_out() {
    let rows = generated(1)[..2].to_vec();
    let labelled = Sim::start(config(SourceConfig::Transactions(rows.clone()), 2)).await;
    let body = labelled.page_body().await;
    let columns = frame(&body).columns;
    assert_eq!(
        &columns[columns.len() - 2..],
        ["is_fraud", "current_time"],
        "the label just before current_time"
    );
    let want: Vec<Transaction> = rows.iter().map(|t| as_served(t, true)).collect();
    assert_eq!(transactions(&body), want);

    let mut unlabelled = config(SourceConfig::Transactions(rows.clone()), 2);
    unlabelled.include_label = false;
    let body = Sim::start(unlabelled).await.page_body().await;
    assert!(!frame(&body).columns.iter().any(|c| c == "is_fraud"));
    let want: Vec<Transaction> = rows.iter().map(|t| as_served(t, false)).collect();
    assert_eq!(transactions(&body), want);
}

/// The real payments API's columns, in its order, with the JSON type pandas writes for
/// each (`to_json(orient="split")`).
const REAL_API_COLUMNS: [(&str, JsonType); 21] = [
    ("cc_num", JsonType::Integer),
    ("merchant", JsonType::String),
    ("category", JsonType::String),
    ("amt", JsonType::Float),
    ("first", JsonType::String),
    ("last", JsonType::String),
    ("gender", JsonType::String),
    ("street", JsonType::String),
    ("city", JsonType::String),
    ("state", JsonType::String),
    ("zip", JsonType::Integer),
    ("lat", JsonType::Float),
    ("long", JsonType::Float),
    ("city_pop", JsonType::Integer),
    ("job", JsonType::String),
    ("dob", JsonType::String),
    ("trans_num", JsonType::String),
    ("merch_lat", JsonType::Float),
    ("merch_long", JsonType::Float),
    ("is_fraud", JsonType::Integer),
    ("current_time", JsonType::Integer),
];

/// A JSON value's type as Python's `json.loads` sees it: `56` is an int, `56.0` a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Integer,
    Float,
    String,
}

fn json_type(value: &Value) -> Option<JsonType> {
    match value {
        Value::Number(n) if n.is_f64() => Some(JsonType::Float),
        Value::Number(_) => Some(JsonType::Integer),
        Value::String(_) => Some(JsonType::String),
        _ => None,
    }
}

#[tokio::test]
async fn default_answer_has_the_real_api_columns_order_and_types_one_payment_per_call() {
    let sim = Sim::start(SimConfig::default()).await;
    let expected: Vec<Transaction> = Generator::new(GeneratorConfig {
        days: 1,
        ..GeneratorConfig::default()
    })
    .unwrap()
    .all()
    .take(5)
    .collect();
    for (call, want) in expected.iter().enumerate() {
        let body = sim.page_body().await;
        // As a Python client reads it: json.loads gives a str, json.loads of that the frame.
        let outer: Value = serde_json::from_slice(&body).unwrap();
        let inner = outer.as_str().expect("the body is a JSON string");
        let frame: serde_json::Map<String, Value> =
            serde_json::from_str(inner).expect("the string holds a JSON object");
        let mut keys: Vec<&str> = frame.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["columns", "data", "index"], "call {call}");
        let columns: Vec<&str> = frame["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let want_columns: Vec<&str> = REAL_API_COLUMNS.iter().map(|(c, _)| *c).collect();
        assert_eq!(columns, want_columns, "call {call}");
        assert_eq!(frame["index"], json!([call]), "the row's integer index");
        let data = frame["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "call {call}: one payment per call");
        let row = data[0].as_array().unwrap();
        assert_eq!(row.len(), REAL_API_COLUMNS.len());
        for ((column, want_type), value) in REAL_API_COLUMNS.iter().zip(row) {
            // A ZIP code with a leading zero stays text: an integer would lose the zero.
            let leading_zero_zip =
                *column == "zip" && value.as_str().is_some_and(|z| z.starts_with('0'));
            if !leading_zero_zip {
                assert_eq!(
                    json_type(value),
                    Some(*want_type),
                    "call {call}: {column} = {value}"
                );
            }
        }
        let at = |name: &str| &row[want_columns.iter().position(|c| *c == name).unwrap()];
        assert!(
            matches!(at("is_fraud").as_u64(), Some(0 | 1)),
            "is_fraud 0/1"
        );
        assert_eq!(
            at("current_time"),
            &json!(want.event_time() * 1000),
            "epoch ms"
        );
        assert_eq!(at("trans_num"), &json!(want.trans_num));
        assert_eq!(at("dob"), &json!(want.dob.format("%Y-%m-%d").to_string()));
        assert_eq!(transactions(&body), [as_served(want, true)], "call {call}");
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_skips_no_payment() {
    let rows = generated(1)[..6].to_vec();
    let mut sim_config = config(SourceConfig::Transactions(rows.clone()), 1);
    sim_config.rate_limit = Some(RateLimit {
        calls: 3,
        window: Duration::from_secs(2),
    });
    let sim = Sim::start(sim_config).await;
    let mut served = Vec::new();
    for _ in 0..3 {
        served.extend(sim.page().await);
    }

    // A queued fault is not used up by a refused call.
    sim.queue(FaultSpec::status(500, 1)).await;
    for _ in 0..2 {
        let response = sim
            .client
            .get(format!("{}/current-transactions", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["content-type"], "application/json");
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After in whole seconds");
        assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], 429);
        assert_eq!(body["retry_after_secs"], retry_after);
        assert!(
            body["error"].as_str().unwrap().contains("rate limit"),
            "{body}"
        );
    }
    assert_eq!(
        sim.json("/faults").await["pending"],
        json!([{"status": 500, "count": 1}])
    );
    let stats = sim.json("/stats").await;
    assert_eq!(stats["rate_limited"], 2);
    assert_eq!(stats["calls"], 5);
    assert_eq!(stats["transactions_served"], 3);
    assert_eq!(stats["rate_limit"], json!({"calls": 3, "window_ms": 2000}));

    // Waiting what Retry-After said is enough.
    let (_, body) = sim.get_raw("/current-transactions").await;
    let retry_after = serde_json::from_slice::<Value>(&body).unwrap()["retry_after_secs"]
        .as_u64()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    sim.client
        .delete(format!("{}/faults", sim.base))
        .send()
        .await
        .unwrap();
    served.extend(sim.page().await);
    assert_eq!(trans_nums(&served), trans_nums(&rows[..4]), "none skipped");
}

#[tokio::test]
async fn status_fault_answers_that_status_and_loses_nothing() {
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 10)).await;
    let (status, answer) = sim.post_faults(&json!({"status": 500, "count": 2})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["pending"], json!([{"status": 500, "count": 2}]));
    for _ in 0..2 {
        let (status, body) = sim.get_raw("/current-transactions").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["status"],
            500
        );
    }
    let first = frame(&sim.page_body().await);
    assert_eq!(first.index[0], 0, "the hidden page is served next");
    let stats = sim.json("/stats").await;
    assert_eq!(stats["calls"], 3);
    assert_eq!(stats["faults_served"]["total"], 2);
    assert_eq!(stats["faults_served"]["status"], 2);
    assert_eq!(stats["transactions_served"], 10);
}

#[tokio::test]
async fn delay_fault_slows_the_answer() {
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 10)).await;
    sim.queue(FaultSpec::delay(Duration::from_millis(400), 1))
        .await;
    let started = Instant::now();
    let page = sim.page().await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(page.len(), 10, "a slow answer is still a full page");
    let stats = sim.json("/stats").await;
    assert_eq!(stats["faults_served"]["delay"], 1);
}

#[tokio::test]
async fn malformed_bodies_fail_parsing_as_the_client_would_see_them() {
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 10)).await;
    let cases = [
        (Malformation::Truncated, "not_json"),
        (Malformation::NotJson, "not_json"),
        (Malformation::WrongSchema, "not_a_frame"),
    ];
    for (how, expected) in cases {
        sim.queue(FaultSpec::malformed(how, 1)).await;
        let body = sim.page_body().await;
        let err = parse_body(&body).unwrap_err();
        let kind = match err {
            FrameError::NotJson { .. } => "not_json",
            FrameError::NotAFrame { .. } => "not_a_frame",
            FrameError::Oversize { .. } => "oversize",
        };
        assert_eq!(kind, expected, "{how:?}: {err}");
    }
    // Nothing was taken: the first healthy page starts at the beginning.
    let first = frame(&sim.page_body().await);
    assert_eq!(first.index[0], 0);
    assert_eq!(sim.json("/stats").await["faults_served"]["malformed"], 3);
}

#[tokio::test]
async fn duplicate_last_serves_the_previous_page_again() {
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 10)).await;
    let first = sim.page().await;
    sim.queue(FaultSpec::duplicate_last(1)).await;
    let again = sim.page().await;
    assert_eq!(trans_nums(&again), trans_nums(&first));
    let next = sim.page().await;
    let before: HashSet<String> = trans_nums(&first).into_iter().collect();
    assert!(next.iter().all(|t| !before.contains(&t.trans_num)));
    assert_eq!(next.len(), 10);
}

#[tokio::test]
async fn delete_faults_clears_pending_faults() {
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 10)).await;
    sim.queue(FaultSpec::status(503, 5)).await;
    let response = sim
        .client
        .delete(format!("{}/faults", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["cleared_calls"], 5);
    assert_eq!(sim.page().await.len(), 10);
    assert_eq!(sim.json("/faults").await["pending"], json!([]));
}

#[tokio::test]
async fn invalid_fault_requests_are_refused_with_the_reason() {
    let sim = Sim::start(config(SourceConfig::Generator(small_generator()), 10)).await;
    let cases = [
        (json!({"status": 500, "count": 0}), "at least 1"),
        (json!({"delay": 100}), "unknown field `delay`"),
        (json!({"malformed": "gibberish"}), "unknown variant"),
        (
            json!({"status": 500, "duplicate_last": true}),
            "at most one",
        ),
        (json!([{"status": 502}, {"count": 2}]), "at least one of"),
    ];
    for (body, reason) in cases {
        let (status, answer) = sim.post_faults(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{body}: {error}");
    }
    assert_eq!(
        sim.json("/faults").await["pending"],
        json!([]),
        "all or none"
    );
}

#[tokio::test]
async fn startup_faults_apply_to_the_first_calls() {
    let mut sim_config = config(SourceConfig::Generator(small_generator()), 10);
    sim_config.faults = vec![FaultSpec::status(503, 1)];
    let sim = Sim::start(sim_config).await;
    let (status, _) = sim.get_raw("/current-transactions").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sim.page().await.len(), 10);
}

#[tokio::test]
async fn rate_cap_limits_how_many_are_served() {
    let rate = 5.0;
    let before_start = Instant::now();
    let mut sim_config = config(SourceConfig::Generator(small_generator()), 100);
    sim_config.rate = rate;
    let sim = Sim::start(sim_config).await;
    let mut served = 0;
    for _ in 0..3 {
        served += sim.page().await.len();
    }
    // The server started after `before_start`, so it cannot have more due than this.
    let bound = (before_start.elapsed().as_secs_f64() * rate).floor() as usize;
    assert!(served <= bound, "served {served}, at most {bound} due");
    assert!(served < 100, "the cap held back a full batch");

    tokio::time::sleep(Duration::from_millis(800)).await;
    served += sim.page().await.len();
    assert!(
        served >= 4,
        "after 0.8 s at 5/s, 4 are due; served {served}"
    );
}

#[tokio::test]
async fn bad_settings_fail_at_startup() {
    let err = payments_sim::spawn(config(SourceConfig::Generator(small_generator()), 0))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SimError::InvalidConfig { .. }), "{err}");

    let err = payments_sim::spawn(config(SourceConfig::Csv("/no/such.csv".into()), 10))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SimError::Csv { .. }), "{err}");
    assert!(err.to_string().contains("/no/such.csv"), "{err}");

    let mut no_calls = config(SourceConfig::Generator(small_generator()), 10);
    no_calls.rate_limit = Some(RateLimit::per_minute(0));
    let err = payments_sim::spawn(no_calls).await.err().unwrap();
    assert!(err.to_string().contains("at least 1 call"), "{err}");

    let mut bad_fault = config(SourceConfig::Generator(small_generator()), 10);
    bad_fault.faults = vec![FaultSpec::status(42, 1)];
    let err = payments_sim::spawn(bad_fault).await.err().unwrap();
    assert!(matches!(err, SimError::Fault(_)), "{err}");
}
