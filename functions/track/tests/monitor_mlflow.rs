//! The monitor's MLflow metrics and its "live metrics over time" figure, against a real
//! MLflow tracking server (`scripts/mlflow.sh up`; the URL from MLFLOW_TRACKING_URI, as
//! `scripts/mlflow.sh env` prints it) and the real local PostgreSQL (a scratch database
//! per test): a model trained on 90 days of generated payments watches the next 30 in
//! two windows of 15 days. Artifacts, payments and reports stay in memory. Fails (never
//! skips) without the servers.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use fraud_aws::scratch::unique;
use fraud_core::{ModelArtifact, Transaction};
use fraud_db::scratch::ScratchDatabase;
use fraud_db::{Client, RunStore, Tracking, TrainingRun};
use fraud_fn_track::mlflow::MlflowMirror;
use fraud_fn_track::monitor::{
    monitor, MonitorAnswer, MonitorConfig, MonitorPorts, MonitorRequest,
};
use serde_json::{json, Value};

#[path = "support/generated.rs"]
mod generated;
#[path = "support/memory.rs"]
mod memory;
#[path = "support/mlflow.rs"]
mod mlflow;
use generated::day;
use memory::{score_live, MemoryIo};
use mlflow::{mirror, tracking_uri};

const TRAIN_DAYS: u32 = 90;
const LIVE_DAYS: u32 = 30;
const PAYMENTS_URI: &str = "s3://data/payments/all.csv";

/// The model trained on the first 90 days, and all 120 days of payments (time order).
fn base() -> &'static (ModelArtifact, Vec<Transaction>) {
    static BASE: OnceLock<(ModelArtifact, Vec<Transaction>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let txs = generated::payments(300, TRAIN_DAYS + LIVE_DAYS, 17);
        let artifact = generated::small_forest(&txs, TRAIN_DAYS, 5, "seed-17");
        (artifact, txs)
    })
}

/// A database with the live period scored and the run recorded (not mirrored), and the
/// in-memory artifacts and payments.
async fn scored() -> (ScratchDatabase, Client, MemoryIo, ModelArtifact) {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let (artifact, txs) = base();
    score_live(&client, artifact, txs, day(TRAIN_DAYS)).await;
    let mut io = MemoryIo::with_artifact(artifact.clone());
    io.insert_payments(PAYMENTS_URI, txs);
    (db, client, io, artifact.clone())
}

async fn record_run(client: &Client, artifact: &ModelArtifact) {
    let run = TrainingRun::from_artifact(artifact, "s3://fraud-models/model.json", true);
    RunStore::new(client).record_run(&run).await.unwrap();
}

/// Monitors `[since, until)` (days after the start) with `mirror`.
async fn monitor_window(
    client: &Client,
    io: &MemoryIo,
    mirror: &MlflowMirror,
    since: u32,
    until: u32,
) -> MonitorAnswer {
    let request = MonitorRequest::from_event(
        json!({
            "action": "monitor",
            "since": day(since).to_rfc3339(),
            "until": day(until).to_rfc3339(),
            "payments_uris": [PAYMENTS_URI],
        }),
        24,
        Utc::now(),
    )
    .unwrap();
    let ports = MonitorPorts {
        payments: io,
        artifacts: Some(io),
        reports: io,
        alerts: io,
        mirror: Some(mirror),
    };
    let thresholds = MonitorConfig::from_lookup(|_| None).unwrap().thresholds;
    monitor(&Tracking(client), &ports, &thresholds, request)
        .await
        .unwrap()
}

/// A metric's history on an MLflow run: (step, timestamp, value), by step.
async fn history(uri: &str, run_id: &str, key: &str) -> Vec<(i64, i64, f64)> {
    let answer: Value = reqwest::Client::new()
        .get(format!("{uri}/api/2.0/mlflow/metrics/get-history"))
        .query(&[("run_id", run_id), ("metric_key", key)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut points: Vec<(i64, i64, f64)> = answer["metrics"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|p| {
                    (
                        p["step"].as_i64().unwrap_or(0),
                        p["timestamp"].as_i64().unwrap(),
                        p["value"].as_f64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    points.sort_by_key(|p| p.0);
    points
}

fn at_end(t: DateTime<Utc>) -> (i64, i64) {
    (t.timestamp(), t.timestamp_millis())
}

#[tokio::test]
async fn two_monitored_windows_chart_as_two_points_on_the_versions_mlflow_run() {
    let uri = tracking_uri();
    let (_db, client, io, artifact) = scored().await;
    record_run(&client, &artifact).await;
    let mirror = mirror(uri.clone(), &unique("fraud-monitor-test"));
    let (mid, end) = (TRAIN_DAYS + 15, TRAIN_DAYS + LIVE_DAYS);

    let first = monitor_window(&client, &io, &mirror, TRAIN_DAYS, mid).await;
    let second = monitor_window(&client, &io, &mirror, mid, end).await;
    let (w1, w2) = (&first.windows[0], &second.windows[0]);
    let logged = w1.mlflow.as_deref().unwrap();
    let run_id = logged
        .rsplit_once("on run ")
        .unwrap_or_else(|| panic!("{logged}"))
        .1
        .to_owned();
    assert_eq!(w2.mlflow.as_deref(), Some(logged), "same run, same metrics");
    // Monitoring a window again adds no point (MLflow drops an identical one).
    let again = monitor_window(&client, &io, &mirror, TRAIN_DAYS, mid).await;
    assert_eq!(again.windows[0].mlflow.as_deref(), Some(logged));

    let ends = [at_end(day(mid)), at_end(day(end))];
    for (key, values) in [
        (
            "monitor_pr_auc",
            [w1.quality.pr_auc.unwrap(), w2.quality.pr_auc.unwrap()],
        ),
        (
            "monitor_volume",
            [w1.quality.volume as f64, w2.quality.volume as f64],
        ),
        (
            "monitor_alert_rate",
            [
                w1.quality.alert_rate.unwrap(),
                w2.quality.alert_rate.unwrap(),
            ],
        ),
        (
            "monitor_score_psi",
            [
                w1.monitor.drift.as_ref().unwrap().score_psi.unwrap(),
                w2.monitor.drift.as_ref().unwrap().score_psi.unwrap(),
            ],
        ),
        (
            "monitor_cost",
            [
                w1.monitor.cost.as_ref().unwrap().total_cost,
                w2.monitor.cost.as_ref().unwrap().total_cost,
            ],
        ),
    ] {
        let points = history(&uri, &run_id, key).await;
        let expected: Vec<(i64, i64, f64)> = ends
            .iter()
            .zip(values)
            .map(|(&(step, ts), v)| (step, ts, v))
            .collect();
        assert_eq!(points, expected, "{key}");
    }
    eprintln!(
        "MLflow run {run_id}: PR-AUC {:?} → {:?}, score PSI {:?} → {:?}",
        w1.quality.pr_auc,
        w2.quality.pr_auc,
        w1.monitor.drift.as_ref().unwrap().score_psi,
        w2.monitor.drift.as_ref().unwrap().score_psi
    );
    // The run is the mirrored training run: its test metrics sit beside the live ones.
    let test = history(&uri, &run_id, "test_pr_auc").await;
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].2, artifact.metrics.test.pr_auc);

    // The reports: the first window's figure has one point, the second's two, and the
    // recomputed first window still two (itself and the later one), drawn and linked.
    let reports = io.reports.lock().unwrap();
    let counts: Vec<usize> = reports.iter().map(|r| r.history).collect();
    assert_eq!(counts, [1, 2, 2]);
    let files = &reports[1].files;
    let png = files.iter().find(|f| f.name == "live_metrics.png").unwrap();
    assert!(png.bytes.starts_with(b"\x89PNG"));
    let page = files.iter().find(|f| f.name == "index.html").unwrap();
    assert!(String::from_utf8_lossy(&page.bytes).contains("<img src=\"live_metrics.png\""));
}

#[tokio::test]
async fn an_unreachable_mlflow_or_an_unrecorded_run_never_fails_the_monitor() {
    let (db, client, io, artifact) = scored().await;
    // Port 9 (discard) on loopback: nothing listens there.
    let down = mirror("http://127.0.0.1:9".into(), "fraud-monitor-down");
    let (mid, end) = (TRAIN_DAYS + 15, TRAIN_DAYS + LIVE_DAYS);

    let answer = monitor_window(&client, &io, &down, TRAIN_DAYS, mid).await;
    let said = answer.windows[0].mlflow.as_deref().unwrap();
    assert!(
        said.starts_with("skipped: no training run recorded"),
        "{said}"
    );

    record_run(&client, &artifact).await;
    let answer = monitor_window(&client, &io, &down, mid, end).await;
    let said = answer.windows[0].mlflow.as_deref().unwrap();
    assert!(
        said.starts_with("failed: MLflow experiments/get-by-name"),
        "{said}"
    );
    // Both windows are stored all the same.
    let stored = fraud_db::MonitorStore::new(&db.connect().await)
        .history(&artifact.version, 60)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].until, Some(day(end)), "newest first");
    assert!(stored
        .iter()
        .all(|p| p.pr_auc.is_some() && p.alert_rate.is_some()));
}
