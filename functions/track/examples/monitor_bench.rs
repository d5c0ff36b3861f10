//! The monitor's benchmark (bench/monitor.sh): time and peak memory of one monitor run
//! over a window of about 10⁶ scored payments, on the local PostgreSQL.
//!
//! `monitor_bench prepare <dir> <customers> <train_days> <live_days>`: generates payments
//! (fraud-generator), trains a small forest on the first `train_days`, scores every
//! payment in time order and claims the live days' in a fresh database
//! `fraud_monitor_bench` (labels kept); writes `<dir>/payments.csv`, `<dir>/model.json`
//! and `<dir>/window.json`.
//!
//! `monitor_bench run <dir>`: one monitor run over that window (the track function's
//! code: ledger reads, quality, features recomputed from the payments file, PSI, verdict,
//! report drawn, figures stored), then prints the time of each part and the process's
//! peak resident memory (`VmHWM`) as JSON. `DATABASE_URL` is the server's `fraud`
//! database (the local stack's by default).

use std::path::{Path, PathBuf};
use std::time::Instant;

use fraud_core::drift::MonitorAlert;
use fraud_core::scoring::Scorer;
use fraud_core::ModelArtifact;
use fraud_db::{ScoredLedger, ScoredTransaction, Tracking};
use fraud_fn_track::monitor::{
    monitor, Drawn, MonitorConfig, MonitorPorts, MonitorRequest, ReportSink,
};
use fraud_pipeline::ports::{split_s3_uri, ArtifactSource, MonitorAlerts, ObjectSource};

#[path = "../tests/support/generated.rs"]
mod generated;
use chrono::Utc;
use generated::day;

const DB: &str = "fraud_monitor_bench";

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://fraud:fraud@127.0.0.1:55432/fraud".into())
}

fn bench_url() -> String {
    let admin = admin_url();
    let (base, _) = admin.rsplit_once('/').expect("a database URL");
    format!("{base}/{DB}")
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Reads the artifact and the payments from the bench folder, writes the report there.
struct LocalIo {
    dir: PathBuf,
}

type LocalError = std::io::Error;

impl ObjectSource for LocalIo {
    type Error = LocalError;
    /// `s3://<any bucket>/<file>` is `<dir>/<file>`.
    async fn read(&self, uri: &str) -> Result<Option<Vec<u8>>, LocalError> {
        let (_, key) = split_s3_uri(uri).ok_or_else(|| LocalError::other(uri.to_owned()))?;
        std::fs::read(self.dir.join(key)).map(Some)
    }
}

impl ArtifactSource for LocalIo {
    type Error = LocalError;
    async fn load(&self, _version: &str) -> Result<ModelArtifact, LocalError> {
        let bytes = std::fs::read(self.dir.join("model.json"))?;
        ModelArtifact::from_bytes(&bytes).map_err(LocalError::other)
    }
}

impl ReportSink for LocalIo {
    type Error = LocalError;
    async fn put(
        &self,
        prefix: &str,
        files: Vec<fraud_report::ReportFile>,
    ) -> Result<Option<String>, LocalError> {
        let out = self.dir.join(prefix);
        std::fs::create_dir_all(&out)?;
        for f in files {
            std::fs::write(out.join(f.name), f.bytes)?;
        }
        Ok(Some(
            out.join(fraud_report::INDEX_FILE).display().to_string(),
        ))
    }
}

impl MonitorAlerts for LocalIo {
    type Error = LocalError;
    async fn publish(&self, _alert: &MonitorAlert) -> Result<Option<String>, LocalError> {
        Ok(None)
    }
}

async fn prepare_bench(dir: &Path, customers: u32, train_days: u32, live_days: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let t = Instant::now();
    let txs = generated::payments(customers, train_days + live_days, 5);
    let file = std::fs::File::create(dir.join("payments.csv")).unwrap();
    fraud_core::csv_input::write_transactions(std::io::BufWriter::new(file), &txs).unwrap();
    eprintln!(
        "generated {} payments in {:.1}s",
        txs.len(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let artifact = generated::small_forest(&txs, train_days, 1, "bench");
    std::fs::write(dir.join("model.json"), artifact.to_bytes()).unwrap();
    eprintln!(
        "trained {} in {:.1}s",
        artifact.version,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let admin = fraud_db::connect(&admin_url()).await.unwrap();
    // Two statements: DROP DATABASE cannot run inside the implicit transaction of a batch.
    for sql in [
        format!("DROP DATABASE IF EXISTS {DB}"),
        format!("CREATE DATABASE {DB}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let mut client = fraud_db::connect(&bench_url()).await.unwrap();
    fraud_db::migrate(&mut client).await.unwrap();
    let ledger = ScoredLedger::new(&client);
    let mut scorer = Scorer::new(&artifact);
    let mut batch = Vec::with_capacity(10_000);
    let mut claimed = 0usize;
    for tx in &txs {
        let score = scorer.score(tx);
        let at = tx.trans_date_trans_time.and_utc();
        if at >= day(train_days) {
            batch.push(ScoredTransaction::new(&score, at).labelled(tx.is_fraud));
            if batch.len() == 10_000 {
                claimed += ledger.claim(&batch).await.unwrap().len();
                batch.clear();
            }
        }
    }
    claimed += ledger.claim(&batch).await.unwrap().len();
    eprintln!(
        "scored and claimed {claimed} payments in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let window = serde_json::json!({
        "since": day(train_days).to_rfc3339(),
        "until": day(train_days + live_days).to_rfc3339(),
        "scored": claimed,
        "payments": txs.len(),
    });
    std::fs::write(dir.join("window.json"), window.to_string()).unwrap();
}

async fn run_bench(dir: &Path) {
    // The monitor's own timings (`model monitored`: quality_ms, scores_ms, drift_ms, ...).
    fraud_lambda::init_tracing();
    let window: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("window.json")).unwrap()).unwrap();
    let client = fraud_db::connect(&bench_url()).await.unwrap();
    let io = LocalIo {
        dir: dir.to_owned(),
    };
    let thresholds = MonitorConfig::from_lookup(|_| None).unwrap().thresholds;
    let request = MonitorRequest::from_event(
        serde_json::json!({
            "action": "monitor",
            "since": window["since"], "until": window["until"],
            "payments_uris": ["s3://local/payments.csv"],
        }),
        24,
        Utc::now(),
    )
    .unwrap();
    let t = Instant::now();
    let reports = Drawn(&io);
    let ports = MonitorPorts {
        payments: &io,
        artifacts: Some(&io),
        reports: &reports,
        alerts: &io,
        mirror: None::<&fraud_mlflow::MlflowMirror>,
    };
    let answer = monitor(&Tracking(&client), &ports, &thresholds, request)
        .await
        .unwrap();
    let seconds = t.elapsed().as_secs_f64();
    let w = &answer.windows[0];
    let out = serde_json::json!({
        "scored_in_window": w.quality.volume,
        "payments_read": window["payments"],
        "feature_rows": w.monitor.drift.as_ref().map(|d| d.feature_rows),
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "alert": answer.alert,
        "score_psi": w.monitor.drift.as_ref().and_then(|d| d.score_psi),
        "pr_auc": w.quality.pr_auc,
        "test_pr_auc": w.test_pr_auc,
        "not_judged": w.monitor.verdict.not_judged,
        "summary": answer.summary,
    });
    println!("{out}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("prepare") if args.len() == 6 => {
            let n = |i: usize| args[i].parse::<u32>().expect("a number");
            prepare_bench(Path::new(&args[2]), n(3), n(4), n(5)).await;
        }
        Some("run") if args.len() == 3 => run_bench(Path::new(&args[2])).await,
        _ => {
            eprintln!("usage: monitor_bench prepare <dir> <customers> <train_days> <live_days> | run <dir>");
            std::process::exit(2);
        }
    }
}
