//! Ingesting payments: fetch the payments API's current page, validate every row with
//! the shared schema, and publish each valid payment keyed by card, waiting for every
//! delivery. Rejected rows and unusable pages are dead-lettered with the reason and the
//! raw record. Payments seen recently (same `trans_num`) are not republished.
//!
//! A backfill streams a CSV (by URI) into the topic instead.

use std::collections::{HashSet, VecDeque};

use fraud_core::api_frame::parse_body;
use fraud_core::csv_input::CsvTransactions;
use fraud_core::Transaction;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::ports::{FetchError, ObjectSource, PaymentPublisher, PaymentsApi, Rejected};
use crate::AdapterError;

/// Payments a backfill publishes at a time.
const BACKFILL_CHUNK: usize = 5000;
/// Most of an unusable page's body kept in its dead letter.
const MAX_RAW_PAGE: usize = 64 * 1024;

/// Why an ingest run failed (the invocation fails and is retried; nothing is lost
/// because the page is fetched again and duplicates are skipped).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{failed} of {total} payments could not be published: {first}")]
    Publish {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("dead-letter publish failed: {0}")]
    DeadLetter(AdapterError),
    #[error("backfill source: {0}")]
    Source(String),
}

/// What the function was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IngestRequest {
    /// `poll` (default; what the schedule sends) or `backfill`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Backfill source, `s3://bucket/key`.
    #[serde(default)]
    pub uri: Option<String>,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestSummary {
    pub source: String,
    pub fetched: usize,
    pub published: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

/// Remembers recent trans_nums, oldest forgotten first.
struct RecentIds {
    set: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl RecentIds {
    fn insert(&mut self, id: String) {
        if self.capacity == 0 || !self.set.insert(id.clone()) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

/// The ingest use case over its ports, kept across warm invocations (the recent
/// `trans_num`s live here).
pub struct Ingest<A, P, O> {
    api: A,
    publisher: P,
    objects: Option<O>,
    recent: Mutex<RecentIds>,
}

impl<A: PaymentsApi, P: PaymentPublisher, O: ObjectSource> Ingest<A, P, O> {
    /// `dedup_capacity`: how many recent `trans_num`s are remembered; `objects` reads
    /// backfill sources (none: backfills are refused).
    pub fn new(api: A, publisher: P, objects: Option<O>, dedup_capacity: usize) -> Self {
        Ingest {
            api,
            publisher,
            objects,
            recent: Mutex::new(RecentIds {
                set: HashSet::new(),
                order: VecDeque::new(),
                capacity: dedup_capacity,
            }),
        }
    }

    /// Runs one request.
    pub async fn handle(&self, request: IngestRequest) -> Result<IngestSummary, IngestError> {
        match (request.mode.as_deref(), request.uri) {
            (Some("backfill"), Some(uri)) => self.backfill(&uri).await,
            (Some("backfill"), None) => Err(IngestError::Source("backfill needs `uri`".into())),
            _ => self.poll().await,
        }
    }

    /// Fetches one page from the payments API and publishes it.
    pub async fn poll(&self) -> Result<IngestSummary, IngestError> {
        let url = self.api.source();
        let body = self.api.current_page().await?;
        let mut summary = IngestSummary {
            source: url.to_owned(),
            ..IngestSummary::default()
        };
        let rows = match parse_body(&body) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "payments API page rejected");
                let raw = String::from_utf8_lossy(&body[..body.len().min(MAX_RAW_PAGE)]);
                self.dead_letter(&[Rejected {
                    source: url.to_owned(),
                    reason: e.to_string(),
                    trans_num: None,
                    raw: raw.into_owned(),
                }])
                .await?;
                summary.rejected = 1;
                return Ok(summary);
            }
        };
        summary.fetched = rows.len();
        let mut valid = Vec::new();
        let mut rejects = Vec::new();
        for row in rows {
            match row {
                Ok(tx) => valid.push(tx),
                Err(r) => rejects.push(Rejected {
                    source: url.to_owned(),
                    reason: format!("row {}: {}", r.line, r.reason),
                    trans_num: r.trans_num,
                    raw: r.raw,
                }),
            }
        }
        summary.rejected = rejects.len();
        self.dead_letter(&rejects).await?;
        let (published, duplicates) = self.publish(valid).await?;
        summary.published = published;
        summary.duplicates = duplicates;
        tracing::info!(
            fetched = summary.fetched,
            published,
            duplicates,
            rejected = summary.rejected,
            "page ingested"
        );
        Ok(summary)
    }

    /// Streams a CSV (by URI) into the topic.
    pub async fn backfill(&self, uri: &str) -> Result<IngestSummary, IngestError> {
        let objects = self
            .objects
            .as_ref()
            .ok_or_else(|| IngestError::Source("no S3 client configured".into()))?;
        let bytes = objects
            .read(uri)
            .await
            .map_err(|e| IngestError::Source(e.to_string()))?
            .ok_or_else(|| IngestError::Source(format!("{uri} does not exist")))?;
        let reader = CsvTransactions::new(bytes.as_slice())
            .map_err(|e| IngestError::Source(e.to_string()))?;
        let mut summary = IngestSummary {
            source: uri.to_owned(),
            ..IngestSummary::default()
        };
        let mut chunk = Vec::new();
        let mut rejects = Vec::new();
        for row in reader {
            summary.fetched += 1;
            match row.map_err(|e| IngestError::Source(e.to_string()))? {
                Ok(tx) => chunk.push(tx),
                Err(r) => rejects.push(Rejected {
                    source: uri.to_owned(),
                    reason: format!("line {}: {}", r.line, r.reason),
                    trans_num: r.trans_num,
                    raw: r.raw,
                }),
            }
            if chunk.len() == BACKFILL_CHUNK {
                let (p, d) = self.publish(std::mem::take(&mut chunk)).await?;
                summary.published += p;
                summary.duplicates += d;
            }
        }
        let (p, d) = self.publish(chunk).await?;
        summary.published += p;
        summary.duplicates += d;
        summary.rejected = rejects.len();
        self.dead_letter(&rejects).await?;
        tracing::info!(
            source = uri,
            published = summary.published,
            rejected = summary.rejected,
            "backfill done"
        );
        Ok(summary)
    }

    async fn dead_letter(&self, rejects: &[Rejected]) -> Result<(), IngestError> {
        if rejects.is_empty() {
            return Ok(());
        }
        self.publisher
            .dead_letter(rejects)
            .await
            .map_err(|e| IngestError::DeadLetter(Box::new(e)))
    }

    /// Publishes what was not seen recently; returns (published, duplicates skipped).
    async fn publish(&self, txs: Vec<Transaction>) -> Result<(usize, usize), IngestError> {
        let offered = txs.len();
        let fresh: Vec<Transaction> = {
            let recent = self.recent.lock().await;
            let mut in_batch = HashSet::new();
            txs.into_iter()
                .filter(|tx| {
                    !recent.set.contains(&tx.trans_num) && in_batch.insert(tx.trans_num.clone())
                })
                .collect()
        };
        let total = fresh.len();
        let results = self.publisher.publish(&fresh).await;
        let mut recent = self.recent.lock().await;
        let mut failed = Vec::new();
        for (tx, result) in fresh.iter().zip(results) {
            match result {
                Ok(()) => recent.insert(tx.trans_num.clone()),
                Err(e) => failed.push(e.to_string()),
            }
        }
        if let Some(first) = failed.first() {
            return Err(IngestError::Publish {
                failed: failed.len(),
                total,
                first: first.clone(),
            });
        }
        Ok((total, offered - total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_error_names_the_retry_after_and_the_setting() {
        let error = IngestError::from(FetchError::RateLimited {
            url: "http://api/current-transactions".into(),
            retry_after_secs: 40,
            max_ms: 15_000,
        });
        let text = error.to_string();
        assert!(text.contains("retry after 40 s (Retry-After)"), "{text}");
        assert!(
            text.contains("API_MAX_RETRY_AFTER_MS allows (15000 ms)"),
            "{text}"
        );
    }

    #[test]
    fn recent_ids_forget_the_oldest_first() {
        let mut recent = RecentIds {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: 2,
        };
        for id in ["a", "b", "a", "c"] {
            recent.insert(id.into());
        }
        assert!(!recent.set.contains("a"));
        assert!(recent.set.contains("b") && recent.set.contains("c"));
    }
}
