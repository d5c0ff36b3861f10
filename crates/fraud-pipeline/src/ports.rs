//! The ports: every real system a use case touches, as a trait its adapter implements.
//!
//! | port | what for | adapter |
//! |---|---|---|
//! | [`ObjectSource`] | objects by URI, whole or streamed, and listed by prefix (training data, backfill CSVs, label files, the payments archive) | `fraud_aws::S3Objects` |
//! | [`ObjectSink`] | objects written by URI (the labelled training data `training_data` exports) | `fraud_aws::S3Objects` |
//! | [`PaymentsApi`] | the payments API's current page | `fraud_payments_api::PaymentsApiClient` |
//! | [`PaymentPublisher`] | the payments topic and its dead letters | Kafka (`fraud_kafka`), wired in the ingest function |
//! | [`ArtifactSource`], [`ModelStorage`] | versioned artifacts, the current pointer, files beside a version | `fraud_aws::ModelStore` |
//! | [`RunReports`] | a training run's report, drawn and stored | `fraud-report` + S3, wired in the train function |
//! | [`RunTracker`] | sending a run to the run log | `fraud_aws::TrackFunction` (the Lambda Invoke API) |
//! | [`TrackingStore`] | the run log, later labels, live quality, the monitor's windows | `fraud_db::Tracking` (PostgreSQL) |
//! | [`MonitorReports`] | a monitored window's report, drawn and stored | `fraud-report` + S3, wired in the track function |
//! | [`MonitorAlerts`] | monitoring alerts (retrain) | `fraud_aws::SnsAlerts` (feature `sns`) |
//! | [`RunMirror`] | a copy of each run for the MLflow UI | `fraud_mlflow::MlflowMirror` |
//! | [`MonitorMirror`] | each monitored window's figures as metrics on that run | `fraud_mlflow::MlflowMirror` |
//! | [`ModelSource`] | the model and the rules document in service (cached) | `fraud_aws::ServedModel` |
//! | [`ScoreDatabase`], [`ScoreTransaction`] | card histories (locked per card) and the scored ledger, in one transaction | `fraud_db::ScoreDb` (PostgreSQL) |
//! | [`ScoredPublisher`] | the scored topic (keyed by card) and the dead letters | Kafka (`fraud_kafka`), wired in the score function |
//! | [`AlertSink`] | alerts for the notifier | `fraud_aws::AlertQueue` (SQS) |
//! | [`ResultsStore`] | a batch's results file and its payments archive | `fraud_aws::ResultsBucket` (S3) |
//!
//! Each method returns a `Send` future, so the use cases run on Lambda's multi-threaded
//! runtime; adapters implement them with plain `async fn`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use fraud_core::drift::{MonitorAlert, Thresholds};
use fraud_core::features::CardHistory;
use fraud_core::scoring::{Alert, ScoredRecord};
use fraud_core::train::Prepared;
use fraud_core::{ModelArtifact, Transaction};
use fraud_rules::Rules;

use crate::ledger::{LedgerEntry, ScoredTransaction};
use crate::monitoring::{ModelQuality, MonitorMetrics, MonitorPoint, MonitorWindow, WindowScore};
use crate::TrainingRun;

/// An error an adapter may return: a sentence, its cause kept as its source.
pub trait PortError: std::error::Error + Send + Sync + 'static {}
impl<E: std::error::Error + Send + Sync + 'static> PortError for E {}

/// Whole objects by URI (`s3://bucket/key` for the S3 adapter).
pub trait ObjectSource: Sync {
    type Error: PortError;
    /// The object's bytes; `Ok(None)` when it does not exist. A URI the adapter cannot
    /// read is an error naming it.
    fn read(&self, uri: &str) -> impl Future<Output = Result<Option<Vec<u8>>, Self::Error>> + Send;
    /// The object's bytes in order, each chunk sent to `chunks` as it arrives, so the
    /// object is never held whole (training data of a million rows and more); `Ok(false)`
    /// when it does not exist. Stops quietly when the receiver is dropped (the reader
    /// gave up and reports why). `chunks` is dropped at the end: the reader's end of data.
    /// The default reads the object whole and sends it as one chunk (enough for fakes);
    /// the S3 adapter streams.
    fn stream(
        &self,
        uri: &str,
        chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        let whole = self.read(uri);
        async move {
            let Some(bytes) = whole.await? else {
                return Ok(false);
            };
            // A closed receiver means the reader stopped; it says why.
            let _ = chunks.send(bytes).await;
            Ok(true)
        }
    }
    /// The URIs of the objects under `prefix_uri` (`s3://bucket/some/prefix/`), sorted by
    /// key; empty when there are none. The default knows no prefixes and lists nothing
    /// (enough for fakes that hold named objects only); the S3 adapter lists the bucket.
    fn list(
        &self,
        prefix_uri: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send {
        let _ = prefix_uri;
        async { Ok(Vec::new()) }
    }
}

/// Why the payments API gave no page this run.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("payments API {url} failed after {attempts} attempts: {last}")]
    Api {
        url: String,
        attempts: u32,
        last: String,
    },
    #[error(
        "payments API {url} is rate-limiting (429) and asks to retry after {retry_after_secs} s \
         (Retry-After), more than API_MAX_RETRY_AFTER_MS allows ({max_ms} ms); \
         the next run fetches again"
    )]
    RateLimited {
        url: String,
        retry_after_secs: u64,
        max_ms: u64,
    },
}

/// The payments API: one page of current payments per call.
pub trait PaymentsApi: Sync {
    /// Where pages come from (a URL), for summaries and dead letters.
    fn source(&self) -> &str;
    /// The current page's body, within the adapter's retry budget.
    fn current_page(&self) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// A record refused before publishing, kept whole for replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Where it came from (URL, S3 URI).
    pub source: String,
    /// Why, naming the line or row and the field.
    pub reason: String,
    pub trans_num: Option<String>,
    /// The record as received.
    pub raw: String,
}

/// The payments topic (keyed by card) and its dead-letter destination.
pub trait PaymentPublisher: Sync {
    type Error: PortError;
    /// Publishes every payment and waits for each delivery; one result per payment.
    fn publish(
        &self,
        payments: &[Transaction],
    ) -> impl Future<Output = Vec<Result<(), Self::Error>>> + Send;
    /// Publishes refused records with their reasons and waits for every delivery.
    fn dead_letter(
        &self,
        rejects: &[Rejected],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Model artifacts by version (what the monitor reads).
pub trait ArtifactSource: Sync {
    type Error: PortError;
    /// The artifact of a version.
    fn load(
        &self,
        version: &str,
    ) -> impl Future<Output = Result<ModelArtifact, Self::Error>> + Send;
}

/// Versioned model artifacts and the pointer to the one in service.
pub trait ModelStorage: ArtifactSource {
    /// Stores an artifact under its version; returns its URI.
    fn put(
        &self,
        artifact: &ModelArtifact,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
    /// Stores a file beside a version's artifact; returns its URI.
    fn put_beside(
        &self,
        version: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
    /// The version in service, if any.
    fn current_version(&self) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;
    /// Puts an artifact (stored at `uri`) in service.
    fn promote(
        &self,
        artifact: &ModelArtifact,
        uri: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// What a run's report is drawn from.
pub struct ReportRequest {
    pub artifact: ModelArtifact,
    /// The prepared data the run was trained and tested on.
    pub data: Arc<Prepared>,
    /// Each payment's amount, by `trans_num` (the cost figure).
    pub amounts: HashMap<String, f64>,
    /// The model in service before this run, compared on the same test slice.
    pub previous: Option<ModelArtifact>,
    /// Why the run was or was not promoted.
    pub promotion: String,
}

/// Training-run reports: drawn and stored beside the artifact.
pub trait RunReports: Sync {
    type Error: PortError;
    /// Draws and stores the report; returns its page's URI.
    fn write(
        &self,
        request: ReportRequest,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
}

/// The run log, as the train function reaches it.
pub trait RunTracker: Sync {
    /// Sends the run to the log within the adapter's retry budget; `false` (logged) when
    /// it could not (the run record stays beside the artifact).
    fn track(&self, run: &TrainingRun) -> impl Future<Output = bool> + Send;
}

/// `s3://bucket/key` split into bucket and key; `None` unless both are non-empty.
pub fn split_s3_uri(uri: &str) -> Option<(&str, &str)> {
    match uri.strip_prefix("s3://")?.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Some((bucket, key)),
        _ => None,
    }
}

/// Whether a recorded run is new or was recorded before (a retry, a re-sent event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
}

/// The run log and its monitoring tables (later labels, live quality): what the track
/// use case reads and writes.
pub trait TrackingStore: Sync {
    type Error: PortError;
    /// Records a run idempotently.
    fn record_run(
        &self,
        run: &TrainingRun,
    ) -> impl Future<Output = Result<Recorded, Self::Error>> + Send;
    /// The `limit` newest runs.
    fn list_runs(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<TrainingRun>, Self::Error>> + Send;
    fn run_by_id(
        &self,
        run_id: uuid::Uuid,
    ) -> impl Future<Output = Result<Option<TrainingRun>, Self::Error>> + Send;
    fn run_by_version(
        &self,
        model_version: &str,
    ) -> impl Future<Output = Result<Option<TrainingRun>, Self::Error>> + Send;
    /// The run with the highest test-slice `metric` (ties: the newest).
    fn best_run(
        &self,
        metric: crate::RunMetric,
        promoted_only: bool,
    ) -> impl Future<Output = Result<Option<TrainingRun>, Self::Error>> + Send;
    /// Records later labels from `source`.
    fn record_labels(
        &self,
        labels: &[crate::monitoring::Label],
        source: &str,
    ) -> impl Future<Output = Result<crate::monitoring::LabelReport, Self::Error>> + Send;
    /// The labels known for `trans_nums` (later and carried), for those that have either
    /// or were scored; one round trip.
    fn known_labels(
        &self,
        trans_nums: &[&str],
    ) -> impl Future<Output = Result<HashMap<String, crate::monitoring::KnownLabel>, Self::Error>> + Send;
    /// Computes and stores one window's live quality.
    fn quality(
        &self,
        model_version: &str,
        since: Option<chrono::DateTime<chrono::Utc>>,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> impl Future<Output = Result<ModelQuality, Self::Error>> + Send;
    /// The model versions that scored payments in the window, oldest version first.
    fn monitored_versions(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;
    /// Every payment `model_version` scored in the window, with its label if any.
    fn window_scores(
        &self,
        model_version: &str,
        since: Option<chrono::DateTime<chrono::Utc>>,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> impl Future<Output = Result<Vec<WindowScore>, Self::Error>> + Send;
    /// Stores (or replaces) one monitored window.
    fn store_window(
        &self,
        window: &MonitorWindow,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// The `limit` stored windows of `model_version` that end last, with their live
    /// quality (any order).
    fn monitor_history(
        &self,
        model_version: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<MonitorPoint>, Self::Error>> + Send;
}

/// Whether a run reached the mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirrored {
    /// Created as the mirror's run `id`.
    Created(String),
    /// Already there as the mirror's run `id` (a retry).
    Existing(String),
}

/// A second home for recorded runs (an MLflow tracking server), best effort: the run log
/// stays the record.
pub trait RunMirror: Sync {
    type Error: PortError;
    /// Mirrors `run` idempotently.
    fn mirror(
        &self,
        run: &TrainingRun,
    ) -> impl Future<Output = Result<Mirrored, Self::Error>> + Send;
}

/// The monitor's figures in the mirror, best effort like [`RunMirror`]: each monitored
/// window's metrics logged on the mirror's copy of the model version's training run, so
/// they chart over time beside the run's test metrics.
pub trait MonitorMirror: Sync {
    type Error: PortError;
    /// Logs `metrics` on the mirror's copy of `run` (mirrored first when missing, as
    /// [`RunMirror::mirror`] does); returns the mirror's run id. Logging the same window
    /// again with the same values adds nothing.
    fn log_window(
        &self,
        run: &TrainingRun,
        metrics: &MonitorMetrics,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
}

/// The model and the rules document in service, as the score use case asks for them on
/// every batch and decision (the adapter caches them and re-reads their pointers now and
/// then).
pub trait ModelSource: Sync {
    type Error: PortError;
    /// The model to score with.
    fn model(&self) -> impl Future<Output = Result<Arc<ModelArtifact>, Self::Error>> + Send;
    /// The rules to apply after the model.
    fn rules(&self) -> impl Future<Output = Result<Arc<Rules>, Self::Error>> + Send;
}

/// Card histories and the scored ledger, in one database: the score use case opens one
/// transaction per batch or decision, so the ledger claims and the histories commit or
/// roll back together.
pub trait ScoreDatabase: Send {
    type Error: PortError;
    /// A transaction; dropped without [`ScoreTransaction::commit`], it rolls back.
    type Txn<'a>: ScoreTransaction<Error = Self::Error> + Send
    where
        Self: 'a;
    /// Begins a transaction (reconnecting first when the connection broke).
    fn begin(&mut self) -> impl Future<Output = Result<Self::Txn<'_>, Self::Error>> + Send;
}

/// One transaction of [`ScoreDatabase`]. Its calls may run at once (the use case joins
/// them): the adapter sends each as soon as it is polled, so they share a round trip.
pub trait ScoreTransaction: Sync {
    type Error: PortError;
    /// Locks `cards` until the transaction ends (in card order, so two transactions
    /// never wait for each other in a circle).
    fn lock_cards(&self, cards: &[u64]) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// The stored histories of `cards` (a card never seen is absent).
    fn load_cards(
        &self,
        cards: &[u64],
    ) -> impl Future<Output = Result<HashMap<u64, CardHistory>, Self::Error>> + Send;
    /// Stores the histories.
    fn save_cards(
        &self,
        histories: &[(u64, &CardHistory)],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Claims the rows in the ledger; returns the `trans_num`s that were new.
    fn claim(
        &self,
        rows: &[ScoredTransaction],
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;
    /// Claims a decision with its answer (JSON), its record still to be written by the
    /// stream; false when the `trans_num` was already claimed.
    fn claim_decision(
        &self,
        row: &ScoredTransaction,
        answer_json: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
    /// What the ledger holds for `trans_num`.
    fn entry(
        &self,
        trans_num: &str,
    ) -> impl Future<Output = Result<Option<LedgerEntry>, Self::Error>> + Send;
    /// Of `trans_nums` (already claimed), the decisions whose record is still to be
    /// written, marked written: (trans_num, answer JSON).
    fn take_undelivered_decisions(
        &self,
        trans_nums: &[&str],
    ) -> impl Future<Output = Result<Vec<(String, String)>, Self::Error>> + Send;
    /// Commits.
    fn commit(self) -> impl Future<Output = Result<(), Self::Error>> + Send
    where
        Self: Sized;
}

/// Where scored records and refused records go (the scored topic, keyed by card, and
/// the dead-letter topic).
pub trait ScoredPublisher: Sync {
    type Error: PortError;
    /// Publishes one scored record; resolves once the broker confirmed it.
    fn publish_scored(
        &self,
        record: &ScoredRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Publishes one refused record with its reason; resolves once delivered.
    fn dead_letter(
        &self,
        letter: &Rejected,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Where alerts go for the notifier (each one's `trans_num` is its idempotency key).
pub trait AlertSink: Sync {
    type Error: PortError;
    /// Sends every alert; fails when any was refused.
    fn send(&self, alerts: &[Alert]) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Whole objects written by URI (`s3://bucket/key` for the S3 adapter).
pub trait ObjectSink: Sync {
    type Error: PortError;
    /// Stores `body` at `uri` (replacing what was there) as `content_type`.
    fn write(
        &self,
        uri: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Where a batch's results file and its payments archive go.
pub trait ResultsStore: Sync {
    type Error: PortError;
    /// Stores `body` (JSON lines) under `key`, replacing what was there; returns its URI.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
    /// Stores `body` (the batch's scored payments, a Sparkov CSV with its header) under
    /// `key`, replacing what was there; returns its URI.
    fn put_payments(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
}

/// What a monitored window's report shows: the window's drift and verdict, its live
/// quality, the thresholds it was judged against, and the windows before it.
pub struct WindowReport<'a> {
    pub window: &'a MonitorWindow,
    pub quality: &'a ModelQuality,
    pub thresholds: &'a Thresholds,
    /// The model's test-slice PR-AUC (what the live PR-AUC is compared with).
    pub test_pr_auc: f64,
    /// The version's monitored windows in order of window end, this one included (the
    /// newest [`crate::monitoring::HISTORY_WINDOWS`]): the live metrics over time.
    pub history: &'a [MonitorPoint],
}

/// A monitored window's report: drawn from its figures and stored.
pub trait MonitorReports: Sync {
    type Error: PortError;
    /// Draws the report and stores it under `prefix`; the page's URI, `None` when
    /// reports go nowhere.
    fn write(
        &self,
        prefix: &str,
        report: &WindowReport<'_>,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;
}

/// Monitoring alerts (a model to retrain).
pub trait MonitorAlerts: Sync {
    type Error: PortError;
    /// Publishes `alert`; its message id, `None` when alerts go nowhere.
    fn publish(
        &self,
        alert: &MonitorAlert,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;
}
