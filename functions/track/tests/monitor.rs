//! The monitor on generated traffic, against the real local PostgreSQL (a scratch
//! database per test): a model trained on 90 days of generated payments watches the next
//! 30, once as generated (no drift: no alert) and once with the amounts shifted (flagged,
//! alert published); an artifact from before training distributions gets a clear
//! "cannot compute PSI". Artifacts and payments come from memory here, and from S3 on
//! LocalStack in the last test (report written, alert published to SNS). Needs
//! `make stack-up`; fails (never skips) without it.

use std::sync::OnceLock;

use fraud_aws::S3Uri;
use fraud_core::drift::{Finding, Thresholds};
use fraud_core::{ModelArtifact, Transaction, N_FEATURES};
use fraud_db::scratch::ScratchDatabase;
use fraud_db::{Client, MonitorStore, Tracking};
use fraud_fn_track::monitor::{
    monitor, AwsMonitor, MonitorAnswer, MonitorConfig, MonitorPorts, MonitorRequest,
};

#[path = "support/generated.rs"]
mod generated;
#[path = "support/memory.rs"]
mod memory;
use chrono::Utc;
use generated::day;
use memory::{score_live, MemoryIo};

const TRAIN_DAYS: u32 = 90;
const LIVE_DAYS: u32 = 30;

/// The model trained on the first 90 days, and all 120 days of payments (time order).
fn base() -> &'static (ModelArtifact, Vec<Transaction>) {
    static BASE: OnceLock<(ModelArtifact, Vec<Transaction>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let txs = generated::payments(300, TRAIN_DAYS + LIVE_DAYS, 11);
        let artifact = generated::small_forest(&txs, TRAIN_DAYS, 3, "seed-11");
        (artifact, txs)
    })
}

/// The payments with the live period's amounts multiplied by `shift`.
fn payments(shift: f64) -> Vec<Transaction> {
    let mut txs = base().1.clone();
    for t in &mut txs {
        if t.trans_date_trans_time.and_utc() >= day(TRAIN_DAYS) {
            t.amt = (t.amt * shift * 100.0).round() / 100.0;
        }
    }
    txs
}

/// Runs the monitor (default thresholds) with everything but the database in `io`.
async fn monitor_in_memory(
    client: &Client,
    io: &MemoryIo,
    request: MonitorRequest,
) -> MonitorAnswer {
    let ports = MonitorPorts {
        payments: io,
        artifacts: Some(io),
        reports: io,
        alerts: io,
        mirror: None::<&fraud_mlflow::MlflowMirror>,
    };
    let thresholds = MonitorConfig::from_lookup(|_| None).unwrap().thresholds;
    monitor(&Tracking(client), &ports, &thresholds, request)
        .await
        .unwrap()
}

const PAYMENTS_URI: &str = "s3://data/payments/all.csv";

fn request(with_payments: bool) -> MonitorRequest {
    MonitorRequest::from_event(
        serde_json::json!({
            "action": "monitor",
            "since": day(TRAIN_DAYS).to_rfc3339(),
            "until": day(TRAIN_DAYS + LIVE_DAYS).to_rfc3339(),
            "payments_uris": if with_payments { vec![PAYMENTS_URI] } else { vec![] },
        }),
        24,
        Utc::now(),
    )
    .unwrap()
}

/// Scores the live period (amounts × `shift`) into a fresh database and monitors it.
async fn run(
    shift: f64,
    artifact: ModelArtifact,
) -> (MonitorAnswer, MemoryIo, u64, ScratchDatabase) {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let txs = payments(shift);
    let live = score_live(&client, &artifact, &txs, day(TRAIN_DAYS)).await;
    let mut io = MemoryIo::with_artifact(artifact);
    io.insert_payments(PAYMENTS_URI, &txs);
    let answer = monitor_in_memory(&client, &io, request(true)).await;
    (answer, io, live, db)
}

#[tokio::test]
async fn an_unshifted_period_raises_no_alert() {
    let (answer, io, live, db) = run(1.0, base().0.clone()).await;
    assert!(!answer.alert, "false alarm: {:?}", answer.summary);
    let [w] = &answer.windows[..] else {
        panic!("one model version: {answer:?}")
    };
    assert_eq!(w.quality.volume, live);
    assert!(live > 1000, "{live} payments");
    let drift = w.monitor.drift.as_ref().unwrap();
    let largest = drift
        .features
        .iter()
        .max_by(|a, b| a.psi.total_cmp(&b.psi))
        .unwrap();
    eprintln!(
        "no drift: {live} payments, score PSI {:?}, largest feature PSI {} ({}), PR-AUC {:?} (test {})",
        drift.score_psi, largest.psi, largest.feature, w.quality.pr_auc, w.test_pr_auc
    );
    assert_eq!(drift.features.len(), N_FEATURES);
    assert_eq!(
        drift.feature_rows, live,
        "every payment's features recomputed"
    );
    let score_psi = drift.score_psi.unwrap();
    assert!(score_psi < 0.1, "score PSI {score_psi}");
    let amt = drift.features.iter().find(|f| f.feature == "amt").unwrap();
    assert!(amt.psi < 0.1, "amt PSI {}", amt.psi);
    // Labels are there: live quality and cost are computed, and judged.
    assert!(
        w.quality.pr_auc.is_some() && w.quality.frauds >= 20,
        "{:?}",
        w.quality
    );
    assert!(w.monitor.cost.as_ref().unwrap().total_cost > 0.0);
    assert!(
        w.monitor.verdict.not_judged.is_empty(),
        "{:?}",
        w.monitor.verdict
    );
    assert!(io.published.lock().unwrap().is_empty());
    assert_eq!(
        io.reports.lock().unwrap()[0].names(),
        [
            "feature_psi.png",
            "score_histogram.png",
            "live_metrics.png",
            "index.html"
        ]
    );
    let stored = MonitorStore::new(&db.connect().await)
        .stored(&w.monitor.model_version)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].2, "stored without an alert");
}

#[tokio::test]
async fn shifted_amounts_are_flagged_and_a_monitoring_alert_is_published() {
    let (answer, io, _, db) = run(3.0, base().0.clone()).await;
    assert!(answer.alert);
    let w = &answer.windows[0];
    eprintln!("shifted amounts: {:?}", answer.summary);
    let amount_flagged = w.monitor.verdict.findings.iter().any(|f| {
        matches!(f, Finding::FeaturePsi { feature, psi, .. } if (feature == "amt" || feature == "log_amt") && *psi > 0.25)
    });
    assert!(amount_flagged, "{:?}", w.monitor.verdict.findings);
    assert!(
        answer.summary.iter().any(|s| s.contains("PSI")),
        "{:?}",
        answer.summary
    );
    let published = io.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].kind, "model_monitor");
    assert_eq!(published[0].action, "retrain");
    assert_eq!(published[0].findings, w.monitor.verdict.findings);
    assert_eq!(w.alert_message_id.as_deref(), Some("m-1"));
    let stored = MonitorStore::new(&db.connect().await)
        .stored(&w.monitor.model_version)
        .await
        .unwrap();
    assert!(stored[0].2, "stored with the alert");
    assert!(stored[0].4.unwrap() > 0.25, "largest feature PSI stored");
}

#[tokio::test]
async fn an_artifact_without_a_training_distribution_gets_cannot_compute_psi() {
    let mut old = base().0.clone();
    old.training_profile = None;
    old.schema_version = fraud_core::artifact::SCHEMA_VERSION_SINGLE;
    // It still loads as what an older build wrote.
    let old = ModelArtifact::from_bytes(&old.to_bytes()).unwrap();
    let (answer, io, live, _db) = run(3.0, old).await;
    let w = &answer.windows[0];
    assert!(w.monitor.drift.is_none());
    assert!(
        w.monitor.verdict.not_judged[0].starts_with("cannot compute PSI"),
        "{:?}",
        w.monitor.verdict
    );
    // Live quality is still measured.
    assert_eq!(w.quality.volume, live);
    assert!(w.quality.pr_auc.is_some());
    assert!(!w
        .monitor
        .verdict
        .findings
        .iter()
        .any(|f| !matches!(f, Finding::PrAucDrop { .. })));
    assert!(io.published.lock().unwrap().len() <= 1);
}

#[tokio::test]
async fn without_payments_the_score_is_judged_and_feature_drift_is_said_not_to_be() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let (artifact, txs) = base();
    score_live(&client, artifact, txs, day(TRAIN_DAYS)).await;
    let io = MemoryIo::with_artifact(artifact.clone());
    let answer = monitor_in_memory(&client, &io, request(false)).await;
    let w = &answer.windows[0];
    let drift = w.monitor.drift.as_ref().unwrap();
    assert!(drift.score_psi.is_some() && drift.features.is_empty());
    assert!(w.monitor.cost.is_none());
    assert!(
        w.monitor
            .verdict
            .not_judged
            .iter()
            .any(|n| n.contains("no payments")),
        "{:?}",
        w.monitor.verdict
    );
}

#[tokio::test]
async fn on_the_stack_the_monitor_reads_s3_writes_its_report_and_publishes_to_sns() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let artifact = base().0.clone();
    let txs = payments(3.0);
    score_live(&client, &artifact, &txs, day(TRAIN_DAYS)).await;

    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("fraud-monitor-test").await;
    let aws = fraud_aws::aws_config().await;
    fraud_aws::ModelStore::new(s3.clone(), &bucket)
        .put(&artifact)
        .await
        .unwrap();
    let mut csv = Vec::new();
    fraud_core::csv_input::write_transactions(&mut csv, &txs).unwrap();
    fraud_aws::put_bytes(&s3, &bucket, "payments/all.csv", csv, "text/csv")
        .await
        .unwrap();
    let sns = aws_sdk_sns::Client::new(&aws);
    let topic = sns
        .create_topic()
        .name(fraud_aws::scratch::unique("fraud-monitor-test"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let config = MonitorConfig::from_lookup(|k| match k {
        "FRAUD_MODELS_BUCKET" => Some(bucket.clone()),
        "MONITOR_ALERTS_TOPIC_ARN" => Some(topic.clone()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.thresholds, Thresholds::default());
    let io = AwsMonitor::new(&aws, &config);
    let mut event = serde_json::json!({
        "action": "monitor",
        "since": day(TRAIN_DAYS).to_rfc3339(),
        "until": day(TRAIN_DAYS + LIVE_DAYS).to_rfc3339(),
        "payments_uris": [format!("s3://{bucket}/payments/all.csv")],
    });
    event["model_version"] = artifact.version.clone().into();
    let request = MonitorRequest::from_event(event, 24, Utc::now()).unwrap();
    let answer = monitor(&Tracking(&client), &io.ports(), &config.thresholds, request)
        .await
        .unwrap();
    assert!(answer.alert);
    let w = &answer.windows[0];
    assert!(w.alert_message_id.is_some(), "published to SNS");
    let report = w.monitor.report_uri.as_deref().unwrap();
    let uri: S3Uri = report.parse().unwrap();
    let page = fraud_aws::get_bytes(&s3, &uri.bucket, &uri.key)
        .await
        .unwrap()
        .expect("the report page is in S3");
    assert!(String::from_utf8(page)
        .unwrap()
        .contains("Thresholds crossed"));
    let png_key = uri.key.replace("index.html", "feature_psi.png");
    let png = fraud_aws::get_bytes(&s3, &uri.bucket, &png_key)
        .await
        .unwrap()
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
}
