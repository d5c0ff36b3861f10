//! Training on what was scored (issue 20): the payments the score function archived,
//! joined with their labels, written as one labelled Sparkov CSV the train function
//! takes as `data_uris`, so a retrain learns from production traffic.
//!
//! `{"action": "training_data", "payments_uris": ["s3://…csv" | "s3://…/prefix/", …],
//! "output_uri"?: "s3://bucket/key.csv"}`
//!
//! - **Payments**: the archive (`s3://<results bucket>/payments/dt=<day>/batch-….csv`, one
//!   file per scored batch; prefixes read as every object under them in key order) or any
//!   Sparkov CSV. The scored results and the `payments.scored` topic cannot be used: they
//!   lack the holder's fields the features are made of. A payment in two files (a batch
//!   archived twice under two names) is kept once, the first seen, and counted in
//!   `duplicates`; refused rows are counted in `rejected_rows`.
//! - **Labels**, one per payment, in this order of precedence: the later label
//!   (`labels`: chargebacks, analysts; `labelled_later`), else the one the payment carried
//!   when it was scored (`scored_transactions.is_fraud`; `labelled_carried`), else the
//!   file's own `is_fraud` (`labelled_in_file`: a payment never scored, e.g. from a
//!   backfill). A payment with none is left out (`unlabelled_left_out`): a guess would
//!   teach the model its own mistakes. Labels are read per chunk of
//!   [`LABEL_CHUNK`] `trans_num`s, one round trip each ([`TrackingStore::known_labels`]).
//! - **Out**: one CSV with the header, in the order read, each payment's `is_fraud` the
//!   label chosen; at `output_uri`, or by default
//!   `s3://<FRAUD_DATA_BUCKET>/training/scored-<YYYYMMDDTHHMMSSZ>.csv` (where the train
//!   function reads training data). No labelled payment at all is an error (train would
//!   refuse the file anyway), naming the counts.
//!
//! The answer: `{"uri", "files", "payments", "duplicates", "rejected_rows",
//! "labelled_later", "labelled_carried", "labelled_in_file", "unlabelled_left_out",
//! "frauds", "summary"}`, where `payments` (distinct, read) = `labelled_later +
//! labelled_carried + labelled_in_file + unlabelled_left_out`, and the file holds
//! `payments − unlabelled_left_out` rows, `frauds` of them labelled fraud.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use fraud_core::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::TrackError;
use super::payments::{check_uris, expand_uris, read_payments};
use crate::ports::{split_s3_uri, ObjectSink, ObjectSource, TrackingStore};

/// `trans_num`s per label read (one round trip each).
pub const LABEL_CHUNK: usize = 10_000;

/// `{"action": "training_data", …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingDataRequest {
    /// Payments files and prefixes (checked).
    pub payments_uris: Vec<String>,
    /// Where the labelled CSV goes; `None`: the default (see the module doc).
    pub output_uri: Option<String>,
}

fn bad(reason: impl Into<String>) -> TrackError {
    TrackError::BadEvent(reason.into())
}

impl TrainingDataRequest {
    /// Reads the event; errors name the field and the value.
    pub fn from_event(event: Value) -> Result<TrainingDataRequest, TrackError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Event {
            #[allow(dead_code)]
            action: String,
            payments_uris: Option<Vec<String>>,
            output_uri: Option<String>,
        }
        let event: Event = serde_json::from_value(event).map_err(|e| bad(e.to_string()))?;
        let payments_uris = event.payments_uris.ok_or_else(|| {
            bad("{\"action\": \"training_data\"} needs `payments_uris` (files or prefixes ending in /)")
        })?;
        check_uris("payments_uris", &payments_uris, true).map_err(bad)?;
        if let Some(out) = &event.output_uri {
            if split_s3_uri(out).is_none() || out.ends_with('/') {
                return Err(bad(format!(
                    "field `output_uri`: `{out}` is not an S3 object URI (expected s3://bucket/key.csv)"
                )));
            }
        }
        Ok(TrainingDataRequest {
            payments_uris,
            output_uri: event.output_uri,
        })
    }
}

/// The answer to `training_data` (see the module doc for how the counts add up).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingDataAnswer {
    /// The labelled CSV (give it to train as one of `data_uris`).
    pub uri: String,
    /// Files read (prefixes expanded).
    pub files: u64,
    /// Distinct payments read.
    pub payments: u64,
    /// Rows whose `trans_num` was already read (first wins).
    pub duplicates: u64,
    /// Rows the CSV reader refused (logged with the reason).
    pub rejected_rows: u64,
    pub labelled_later: u64,
    pub labelled_carried: u64,
    pub labelled_in_file: u64,
    pub unlabelled_left_out: u64,
    /// Payments in the file labelled fraud.
    pub frauds: u64,
    /// One readable line.
    pub summary: String,
}

impl TrainingDataAnswer {
    /// Rows in the labelled CSV.
    pub fn rows(&self) -> u64 {
        self.labelled_later + self.labelled_carried + self.labelled_in_file
    }
}

/// Where the labelled CSV goes: the request's `output_uri`, or
/// `s3://<default_bucket>/training/scored-<now>.csv`.
pub fn output_uri(
    request: &TrainingDataRequest,
    default_bucket: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, String> {
    match (&request.output_uri, default_bucket) {
        (Some(uri), _) => Ok(uri.clone()),
        (None, Some(bucket)) => Ok(format!(
            "s3://{bucket}/training/scored-{}.csv",
            now.format("%Y%m%dT%H%M%SZ")
        )),
        (None, None) => Err(
            "no `output_uri` given and FRAUD_DATA_BUCKET is not set: say where the labelled CSV goes"
                .into(),
        ),
    }
}

/// Builds the labelled training data (see the module doc) and writes it to `output_uri`.
pub async fn training_data<S, O, W>(
    store: &S,
    objects: &O,
    sink: &W,
    request: &TrainingDataRequest,
    output_uri: &str,
) -> Result<TrainingDataAnswer, TrackError<S::Error>>
where
    S: TrackingStore,
    O: ObjectSource,
    W: ObjectSink,
{
    let started = Instant::now();
    let failed = |e: String| TrackError::TrainingData(e);
    let files = expand_uris(objects, "payments_uris", &request.payments_uris)
        .await
        .map_err(failed)?;
    let mut answer = TrainingDataAnswer {
        files: files.len() as u64,
        ..TrainingDataAnswer::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut labelled: Vec<Transaction> = Vec::new();
    for uri in &files {
        let (txs, rejected) = read_payments(objects, uri)
            .await
            .map_err(|e| failed(format!("field `payments_uris`: {e}")))?;
        answer.rejected_rows += rejected;
        let mut fresh = Vec::with_capacity(txs.len());
        for tx in txs {
            if seen.insert(tx.trans_num.clone()) {
                fresh.push(tx);
            } else {
                answer.duplicates += 1;
            }
        }
        answer.payments += fresh.len() as u64;
        for chunk in fresh.chunks_mut(LABEL_CHUNK) {
            let nums: Vec<&str> = chunk.iter().map(|t| t.trans_num.as_str()).collect();
            let known = store.known_labels(&nums).await.map_err(TrackError::Store)?;
            for tx in chunk.iter_mut() {
                let k = known.get(&tx.trans_num).copied().unwrap_or_default();
                let label = match (k.later, k.carried, tx.is_fraud) {
                    (Some(y), _, _) => {
                        answer.labelled_later += 1;
                        y
                    }
                    (None, Some(y), _) => {
                        answer.labelled_carried += 1;
                        y
                    }
                    (None, None, Some(y)) => {
                        answer.labelled_in_file += 1;
                        y
                    }
                    (None, None, None) => {
                        answer.unlabelled_left_out += 1;
                        continue;
                    }
                };
                answer.frauds += u64::from(label);
                tx.is_fraud = Some(label);
            }
        }
        labelled.extend(fresh.into_iter().filter(|t| t.is_fraud.is_some()));
    }
    if labelled.is_empty() {
        return Err(failed(format!(
            "no labelled payment in `payments_uris` ({} read from {} files, {} without any label): nothing to train on",
            answer.payments, answer.files, answer.unlabelled_left_out
        )));
    }
    let mut body = Vec::new();
    fraud_core::csv_input::write_transactions(&mut body, &labelled)
        .expect("writing CSV to memory cannot fail");
    let bytes = body.len();
    sink.write(output_uri, body, "text/csv")
        .await
        .map_err(|e| {
            failed(format!(
                "field `output_uri`: cannot write `{output_uri}`: {e}"
            ))
        })?;
    answer.uri = output_uri.to_owned();
    answer.summary = format!(
        "{} labelled payments ({} fraud) written to {}: {} labelled later, {} carried, {} in the file; \
         {} unlabelled left out, {} duplicates skipped, {} rows refused, from {} files",
        answer.rows(),
        answer.frauds,
        answer.uri,
        answer.labelled_later,
        answer.labelled_carried,
        answer.labelled_in_file,
        answer.unlabelled_left_out,
        answer.duplicates,
        answer.rejected_rows,
        answer.files
    );
    tracing::info!(
        uri = %answer.uri,
        files = answer.files,
        payments = answer.payments,
        rows = answer.rows(),
        frauds = answer.frauds,
        labelled_later = answer.labelled_later,
        labelled_carried = answer.labelled_carried,
        labelled_in_file = answer.labelled_in_file,
        unlabelled_left_out = answer.unlabelled_left_out,
        duplicates = answer.duplicates,
        rejected_rows = answer.rejected_rows,
        bytes,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "training data exported"
    );
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_training_data_events_name_the_field_and_value() {
        for (event, expected) in [
            (json!({"action": "training_data"}), "needs `payments_uris`"),
            (
                json!({"action": "training_data", "payments_uris": []}),
                "field `payments_uris` is empty",
            ),
            (
                json!({"action": "training_data", "payments_uris": ["payments/"]}),
                "field `payments_uris`: `payments/`",
            ),
            (
                json!({"action": "training_data", "payments_uris": ["s3://r/p/"], "output_uri": "s3://d/training/"}),
                "field `output_uri`: `s3://d/training/`",
            ),
            (
                json!({"action": "training_data", "payments_uris": ["s3://r/p/"], "out": "s3://d/x.csv"}),
                "unknown field `out`",
            ),
        ] {
            let err = TrainingDataRequest::from_event(event.clone())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(expected),
                "{event}: expected `{expected}`: {err}"
            );
        }
    }

    #[test]
    fn the_default_output_is_a_timestamped_csv_under_training_in_the_data_bucket() {
        let request = TrainingDataRequest::from_event(
            json!({"action": "training_data", "payments_uris": ["s3://r/payments/"]}),
        )
        .unwrap();
        let now: DateTime<Utc> = "2026-12-06T10:30:00Z".parse().unwrap();
        assert_eq!(
            output_uri(&request, Some("fraud-data"), now).unwrap(),
            "s3://fraud-data/training/scored-20261206T103000Z.csv"
        );
        assert!(output_uri(&request, None, now)
            .unwrap_err()
            .contains("FRAUD_DATA_BUCKET"));
        let given = TrainingDataRequest {
            output_uri: Some("s3://d/x.csv".into()),
            ..request
        };
        assert_eq!(output_uri(&given, None, now).unwrap(), "s3://d/x.csv");
    }
}
