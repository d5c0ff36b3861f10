//! Training and promoting: read one or more training CSVs, train and evaluate with the
//! core (time-based split, the learner chosen on the validation folds), store the
//! versioned artifact, promote it only if it beats the model in service on the same test
//! slice (or when forced), draw the run's report, and record the run: beside the
//! artifact first, so it is never lost when the run log is unavailable, then in the log.

use std::sync::Arc;

use fraud_core::calibration::CostModel;
use fraud_core::csv_input::CsvTransactions;
use fraud_core::metrics::average_precision;
use fraud_core::model::{ForestParams, Learner};
use fraud_core::train::{
    candidates, default_forest, prepare, train_and_evaluate_with_costs, DataSource, TimeSplit,
};
use fraud_core::{ModelArtifact, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ports::{ModelStorage, ObjectSource, ReportRequest, RunReports, RunTracker};
use crate::{AdapterError, TrainingRun};

/// Training rejects logged one by one before the rest are only counted.
const LOGGED_REJECTS: u64 = 20;

/// A training request (Invoke API, Function URL, or Airflow).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Training CSVs, `s3://bucket/key` (Sparkov schema, labelled), concatenated in order.
    pub data_uris: Vec<String>,
    /// Promote even if the new model is not better.
    #[serde(default)]
    pub force: bool,
    /// Number of trees (default 300).
    #[serde(default)]
    pub trees: Option<usize>,
    /// Seed (default 42).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Fit only this learner (`cart`, `linfa_trees`, `gbm` or `blend`); by default the
    /// forest, the boosting and their blend are fitted and the best on validation
    /// PR-AUC is kept (linfa-trees only when named).
    #[serde(default)]
    pub learner: Option<Learner>,
}

/// What a training run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResponse {
    pub model_version: String,
    pub artifact_uri: String,
    pub learner: String,
    pub rows: u64,
    pub frauds: u64,
    pub rejected: u64,
    pub test_pr_auc: f64,
    pub test_roc_auc: f64,
    pub test_f1: f64,
    pub threshold: f64,
    pub promoted: bool,
    /// Why it was or was not promoted.
    pub promotion_reason: String,
    /// The previously current model and its PR-AUC on this run's test slice.
    pub previous_version: Option<String>,
    pub previous_test_pr_auc: Option<f64>,
    pub run_uri: String,
    /// The run's report page (`…/report/index.html`); absent if it could not be written.
    pub report_uri: Option<String>,
    pub tracked: bool,
    pub train_seconds: f64,
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the request names no training data (`data_uris` is empty)")]
    NoData,
    /// The data or model store failed (its own message).
    #[error(transparent)]
    Store(AdapterError),
    #[error("{uri}: {reason}")]
    Data { uri: String, reason: String },
    #[error(transparent)]
    Train(#[from] fraud_core::train::TrainError),
}

fn store(error: impl std::error::Error + Send + Sync + 'static) -> TrainError {
    TrainError::Store(Box::new(error))
}

/// The promotion gate: a new model replaces the one in service when forced, when there
/// is no usable one, or when its test PR-AUC beats the current model's (scored on the
/// same test slice) by more than `min_improvement`. Returns the decision and why.
pub fn promotion(
    new_score: f64,
    current_score: Option<f64>,
    force: bool,
    min_improvement: f64,
) -> (bool, String) {
    match current_score {
        _ if force => (true, "forced".to_owned()),
        None => (true, "no usable current model".to_owned()),
        Some(old) if new_score > old + min_improvement => (
            true,
            format!("test PR-AUC {new_score:.4} beats the current model's {old:.4}"),
        ),
        Some(old) => (
            false,
            format!("test PR-AUC {new_score:.4} does not beat the current model's {old:.4}"),
        ),
    }
}

/// Training data read from every URI in order: the valid payments, the SHA-256 of the
/// raw bytes (all objects in order) and how many rows were refused.
pub struct TrainingData {
    pub payments: Vec<Transaction>,
    pub sha256: String,
    pub rejected: u64,
}

/// Chunks handed over by [`ObjectSource::stream`], in flight between the download and
/// the parser (a few MB at most: the object itself is never held).
const CHUNKS_IN_FLIGHT: usize = 16;

/// Reads and validates the training CSVs (refused rows are counted and the first few
/// logged). Each object is streamed: the CSV parser (on a blocking thread) reads the
/// chunks as they arrive and the hash is taken on the way, so memory holds the parsed
/// payments and a few chunks, never the object's bytes whole.
pub async fn load_training_data<O: ObjectSource>(
    objects: &O,
    uris: &[String],
) -> Result<TrainingData, TrainError> {
    let mut parsed = Parsed {
        payments: Vec::new(),
        rejected: 0,
        hasher: Sha256::new(),
    };
    for uri in uris {
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let parser = {
            let uri = uri.clone();
            tokio::task::spawn_blocking(move || {
                let outcome = parsed.read_csv(&uri, receiver);
                (parsed, outcome)
            })
        };
        // The download's own error first: a parser that saw the data end early only
        // reports the consequence.
        let found = objects.stream(uri, sender).await.map_err(store)?;
        let (back, outcome) = parser.await.map_err(|e| TrainError::Data {
            uri: uri.clone(),
            reason: format!("the CSV reader stopped: {e}"),
        })?;
        parsed = back;
        let bad = |reason: String| TrainError::Data {
            uri: uri.clone(),
            reason,
        };
        if !found {
            return Err(bad("object does not exist".into()));
        }
        outcome.map_err(bad)?;
    }
    tracing::info!(
        rows = parsed.payments.len(),
        rejected = parsed.rejected,
        "training data loaded"
    );
    Ok(TrainingData {
        payments: parsed.payments,
        sha256: parsed
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        rejected: parsed.rejected,
    })
}

/// What the parser has read so far, over every object.
struct Parsed {
    payments: Vec<Transaction>,
    rejected: u64,
    hasher: Sha256,
}

impl Parsed {
    /// Parses one object's CSV from its chunks, hashing the bytes as they arrive. On an
    /// error the receiver is dropped, which stops the download.
    fn read_csv(
        &mut self,
        uri: &str,
        receiver: tokio::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Result<(), String> {
        let reader = ChunkReader {
            receiver,
            chunk: Vec::new(),
            at: 0,
            hasher: &mut self.hasher,
        };
        let rows = CsvTransactions::new(reader).map_err(|e| e.to_string())?;
        for row in rows {
            match row.map_err(|e| e.to_string())? {
                Ok(tx) => self.payments.push(tx),
                Err(r) => {
                    self.rejected += 1;
                    if self.rejected <= LOGGED_REJECTS {
                        tracing::warn!(uri = %uri, line = r.line, reason = %r.reason, "training row rejected");
                    }
                }
            }
        }
        Ok(())
    }
}

/// `std::io::Read` over the chunks of [`ObjectSource::stream`], hashing each as it
/// arrives (the CSV parser is synchronous: it runs on a blocking thread and waits here
/// for the next chunk). Ours rather than tokio-util's `SyncIoBridge` over a
/// `StreamReader`: those need the port to hand out an `AsyncRead` (two more crates in the
/// use-case layer) and a separate pass or wrapper for the hash, which this takes on the way.
struct ChunkReader<'a> {
    receiver: tokio::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    hasher: &'a mut Sha256,
}

impl std::io::Read for ChunkReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.receiver.blocking_recv() {
                Some(chunk) => {
                    self.hasher.update(&chunk);
                    self.chunk = chunk;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The train use case's settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainSettings {
    /// PR-AUC a new model must gain to be promoted.
    pub min_improvement: f64,
    /// Review and decline costs: the model's thresholds and the report's cost figure.
    pub costs: CostModel,
}

/// The train use case over its ports.
pub struct Train<O, M, R, T> {
    pub objects: O,
    pub models: M,
    pub reports: R,
    pub tracker: T,
    pub settings: TrainSettings,
}

impl<O: ObjectSource, M: ModelStorage, R: RunReports, T: RunTracker> Train<O, M, R, T> {
    /// Runs one training request.
    pub async fn handle(&self, request: TrainRequest) -> Result<TrainResponse, TrainError> {
        if request.data_uris.is_empty() {
            return Err(TrainError::NoData);
        }
        // 1. Data.
        let loaded = load_training_data(&self.objects, &request.data_uris).await?;
        let rejected = loaded.rejected;

        // 2. Train and evaluate (time split), choosing the learner on validation.
        let seed = request.seed.unwrap_or(ForestParams::default().seed);
        let candidates = candidates(
            request.learner,
            default_forest(
                request.trees.unwrap_or(ForestParams::default().n_trees),
                seed,
            ),
            ForestParams::gbm(seed),
            seed,
        );
        let amounts = loaded
            .payments
            .iter()
            .map(|tx| (tx.trans_num.clone(), tx.amt))
            .collect();
        let source = DataSource {
            uri: request.data_uris.join(","),
            sha256: loaded.sha256,
        };
        let data = Arc::new(prepare(loaded.payments)?);
        let split = TimeSplit::default();
        let costs = self.settings.costs;
        let artifact = {
            let data = data.clone();
            tokio::task::spawn_blocking(move || {
                train_and_evaluate_with_costs(&data, &source, &candidates, split, costs, &|| {})
            })
            .await
            .expect("training does not panic")?
        };
        let artifact_uri = self.models.put(&artifact).await.map_err(store)?;

        // 3. Compare with the current model on the same test slice.
        let [_, _, test] = split.ranges(data.labels.len());
        let previous = self.models.current_version().await.map_err(store)?;
        let mut previous_score = None;
        let mut previous_artifact = None;
        if let Some(version) = &previous {
            match self.models.load(version).await {
                Ok(current) => {
                    let scores = current.model.predict_many(&data.features[test.clone()]);
                    previous_score = Some(average_precision(&data.labels[test.clone()], &scores));
                    previous_artifact = Some(current);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the current model cannot be loaded; it will be replaced")
                }
            }
        }
        let new_score = artifact.metrics.test.pr_auc;
        let (promoted, reason) = promotion(
            new_score,
            previous_score,
            request.force,
            self.settings.min_improvement,
        );
        if promoted {
            self.models
                .promote(&artifact, &artifact_uri)
                .await
                .map_err(store)?;
        }
        tracing::info!(model_version = %artifact.version, promoted, reason = %reason, "training run finished");

        // 4. The report, beside the artifact. A report that cannot be made is logged and
        //    left out: it must not cost the run its record.
        let report = ReportRequest {
            artifact: artifact.clone(),
            data,
            amounts,
            previous: previous_artifact,
            promotion: reason.clone(),
        };
        let report_uri = match self.reports.write(report).await {
            Ok(uri) => Some(uri),
            Err(e) => {
                tracing::warn!(model_version = %artifact.version, error = %e, "run report not written");
                None
            }
        };

        // 5. Record the run: beside the artifact first, then in the run log.
        let (run, run_uri) = self
            .record(&artifact, &artifact_uri, promoted, report_uri)
            .await?;
        let tracked = self.tracker.track(&run).await;

        Ok(TrainResponse {
            model_version: artifact.version.clone(),
            artifact_uri,
            learner: artifact.model.params.learner.to_string(),
            rows: artifact.training.rows,
            frauds: artifact.training.frauds,
            rejected,
            test_pr_auc: new_score,
            test_roc_auc: artifact.metrics.test.roc_auc,
            test_f1: artifact.metrics.test.f1,
            threshold: artifact.threshold,
            promoted,
            promotion_reason: reason,
            previous_version: previous,
            previous_test_pr_auc: previous_score,
            run_uri,
            report_uri: run.report_uri,
            tracked,
            train_seconds: artifact.training.train_seconds,
        })
    }

    /// Writes the run record beside the artifact (`run.json`); returns it and its URI.
    async fn record(
        &self,
        artifact: &ModelArtifact,
        artifact_uri: &str,
        promoted: bool,
        report_uri: Option<String>,
    ) -> Result<(TrainingRun, String), TrainError> {
        let mut run = TrainingRun::from_artifact(artifact, artifact_uri, promoted);
        run.report_uri = report_uri;
        let run_json = serde_json::to_vec_pretty(&run).expect("runs serialize");
        let run_uri = self
            .models
            .put_beside(&artifact.version, "run.json", run_json)
            .await
            .map_err(store)?;
        Ok((run, run_uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_needs_a_gain_beyond_the_minimum_unless_forced() {
        assert!(promotion(0.5, None, false, 0.0).0);
        assert!(promotion(0.8, Some(0.7), false, 0.05).0);
        assert!(!promotion(0.74, Some(0.7), false, 0.05).0);
        assert!(!promotion(0.7, Some(0.7), false, 0.0).0);
        assert_eq!(
            promotion(0.1, Some(0.9), true, 0.0),
            (true, "forced".into())
        );
    }
}
