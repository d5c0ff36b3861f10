//! The ingest function: on each schedule tick, fetch the payments API's current page,
//! validate every row with the shared schema, and publish each valid payment to Kafka
//! keyed by card with an idempotent producer, waiting for every delivery. Rejected rows
//! and unusable pages go to the dead-letter topic with the reason and the raw record.
//! Payments seen recently (same `trans_num`) are not republished.
//!
//! The API allows only a few calls a minute and answers the others `429 Too Many
//! Requests` with `Retry-After`: the fetch waits that long and tries again (within
//! `API_MAX_ATTEMPTS`), unless the wait exceeds `API_MAX_RETRY_AFTER_MS`, when the run
//! fails at once; nothing is lost, as the API keeps the payment for the next tick.
//!
//! Invoked with `{"mode":"backfill","uri":"s3://bucket/key.csv"}` it streams a CSV from
//! S3 into the topic instead.
#![forbid(unsafe_code)]

use fraud_lambda::retry::{RetryBudget, Retryable};
use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use fraud_core::api_frame::parse_body;
use fraud_core::csv_input::CsvTransactions;
use fraud_core::Transaction;
use fraud_kafka::{publish_dead_letters, publish_transactions, DeadLetter, KafkaError};
use fraud_lambda::{or_default, parsed, required, EnvError};
use rdkafka::producer::FutureProducer;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Settings, read once from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PAYMENTS_API_URL`: base URL of the payments API (`/current-transactions` is appended).
    pub api_url: String,
    /// `KAFKA_BROKERS`: bootstrap servers.
    pub brokers: String,
    /// `KAFKA_TOPIC_PAYMENTS` (default `payments`).
    pub topic: String,
    /// `KAFKA_TOPIC_DLQ` (default `payments.dlq`).
    pub dlq_topic: String,
    /// `API_TIMEOUT_MS` per request (default 5000).
    pub timeout: Duration,
    /// `API_MAX_ATTEMPTS` (default 4): calls per run, rate-limited (429) ones included.
    pub max_attempts: u32,
    /// `API_BACKOFF_MS`: first retry delay, doubled each time (default 200).
    pub backoff: Duration,
    /// `API_MAX_RETRY_AFTER_MS` (default 15000): longest `Retry-After` of a 429 that is
    /// waited out before the next attempt; a longer one fails the run at once (the next
    /// tick fetches again). Keep `API_MAX_ATTEMPTS - 1` such waits within the function's
    /// timeout.
    pub max_retry_after: Duration,
    /// `DEDUP_CAPACITY`: how many recent trans_nums are remembered (default 200000).
    pub dedup_capacity: usize,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Config {
            api_url: required("PAYMENTS_API_URL", "base URL of the payments API")?,
            brokers: required("KAFKA_BROKERS", "Kafka bootstrap servers")?,
            topic: or_default("KAFKA_TOPIC_PAYMENTS", "payments"),
            dlq_topic: or_default("KAFKA_TOPIC_DLQ", "payments.dlq"),
            timeout: Duration::from_millis(parsed("API_TIMEOUT_MS", 5000)?),
            max_attempts: parsed("API_MAX_ATTEMPTS", 4u32)?.max(1),
            backoff: Duration::from_millis(parsed("API_BACKOFF_MS", 200)?),
            max_retry_after: Duration::from_millis(parsed("API_MAX_RETRY_AFTER_MS", 15_000)?),
            dedup_capacity: parsed("DEDUP_CAPACITY", 200_000usize)?,
        })
    }
}

/// Why an ingest run failed (the invocation fails and is retried; nothing is lost
/// because the page is fetched again and duplicates are skipped).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
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
    #[error("{failed} of {total} payments could not be published: {first}")]
    Publish {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("dead-letter publish failed: {0}")]
    DeadLetter(KafkaError),
    #[error("backfill source: {0}")]
    Source(String),
}

/// How one request to the payments API failed.
enum FetchFailure {
    /// Worth another attempt; `retry_after` is what a 429 asked for.
    Retry {
        last: String,
        retry_after: Option<Duration>,
    },
    /// Not worth retrying this run.
    Stop(IngestError),
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

/// The ingest function's state, kept across warm invocations.
pub struct Ingestor {
    http: reqwest::Client,
    producer: FutureProducer,
    s3: Option<fraud_aws::S3Client>,
    config: Config,
    recent: Mutex<RecentIds>,
}

impl Ingestor {
    pub fn new(config: Config, s3: Option<fraud_aws::S3Client>) -> Result<Self, anyhow::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        let producer = fraud_kafka::producer(&config.brokers)?;
        let recent = Mutex::new(RecentIds {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: config.dedup_capacity,
        });
        Ok(Ingestor {
            http,
            producer,
            s3,
            config,
            recent,
        })
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
        let url = format!(
            "{}/current-transactions",
            self.config.api_url.trim_end_matches('/')
        );
        let body = self.fetch(&url).await?;
        let mut summary = IngestSummary {
            source: url.clone(),
            ..IngestSummary::default()
        };
        let rows = match parse_body(&body) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "payments API page rejected");
                let raw = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).into_owned();
                let letter = DeadLetter::new("ingest", &url, e.to_string(), None, raw);
                publish_dead_letters(&self.producer, &self.config.dlq_topic, &[letter])
                    .await
                    .map_err(IngestError::DeadLetter)?;
                summary.rejected = 1;
                return Ok(summary);
            }
        };
        summary.fetched = rows.len();
        let mut valid = Vec::new();
        let mut letters = Vec::new();
        for row in rows {
            match row {
                Ok(tx) => valid.push(tx),
                Err(r) => letters.push(DeadLetter::new(
                    "ingest",
                    &url,
                    format!("row {}: {}", r.line, r.reason),
                    r.trans_num,
                    r.raw,
                )),
            }
        }
        summary.rejected = letters.len();
        if !letters.is_empty() {
            publish_dead_letters(&self.producer, &self.config.dlq_topic, &letters)
                .await
                .map_err(IngestError::DeadLetter)?;
        }
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

    /// Streams a CSV from S3 into the topic.
    pub async fn backfill(&self, uri: &str) -> Result<IngestSummary, IngestError> {
        let location: fraud_aws::S3Uri = uri
            .parse()
            .map_err(|e: fraud_aws::AwsError| IngestError::Source(e.to_string()))?;
        let s3 = self
            .s3
            .as_ref()
            .ok_or_else(|| IngestError::Source("no S3 client configured".into()))?;
        let bytes = fraud_aws::get_bytes(s3, &location.bucket, &location.key)
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
        let mut letters = Vec::new();
        for row in reader {
            summary.fetched += 1;
            match row.map_err(|e| IngestError::Source(e.to_string()))? {
                Ok(tx) => chunk.push(tx),
                Err(r) => letters.push(DeadLetter::new(
                    "ingest",
                    uri,
                    format!("line {}: {}", r.line, r.reason),
                    r.trans_num,
                    r.raw,
                )),
            }
            if chunk.len() == 5000 {
                let (p, d) = self.publish(std::mem::take(&mut chunk)).await?;
                summary.published += p;
                summary.duplicates += d;
            }
        }
        let (p, d) = self.publish(chunk).await?;
        summary.published += p;
        summary.duplicates += d;
        summary.rejected = letters.len();
        if !letters.is_empty() {
            publish_dead_letters(&self.producer, &self.config.dlq_topic, &letters)
                .await
                .map_err(IngestError::DeadLetter)?;
        }
        tracing::info!(
            source = uri,
            published = summary.published,
            rejected = summary.rejected,
            "backfill done"
        );
        Ok(summary)
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
        let results = publish_transactions(&self.producer, &self.config.topic, &fresh).await;
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

    /// GETs `url` within the budget (`API_MAX_ATTEMPTS`, first wait `API_BACKOFF_MS`,
    /// the shared retry policy). A 429's `Retry-After` stretches the wait (never shortens
    /// it) up to `API_MAX_RETRY_AFTER_MS`; beyond that, and on any other 4xx, it stops.
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, IngestError> {
        let budget = RetryBudget::new(self.config.max_attempts, self.config.backoff);
        let attempt = std::cell::Cell::new(0u32);
        (|| {
            attempt.set(attempt.get() + 1);
            self.fetch_once(url, attempt.get())
        })
        .retry(budget.policy())
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, FetchFailure::Retry { .. }))
        // Honour the API's Retry-After, and never retry sooner than our own backoff.
        .adjust(|e, wait| match (e, wait) {
            (
                FetchFailure::Retry {
                    retry_after: Some(asked),
                    ..
                },
                Some(wait),
            ) => Some((*asked).max(wait)),
            (_, wait) => wait,
        })
        .notify(|e, wait| {
            if let FetchFailure::Retry { last, retry_after } = e {
                tracing::warn!(
                    attempt = attempt.get(),
                    max_attempts = self.config.max_attempts,
                    error = %last,
                    retry_after_ms = retry_after.map(millis),
                    wait_ms = millis(wait),
                    "payments API request failed; retrying"
                );
            }
        })
        .await
        .map_err(|e| match e {
            FetchFailure::Stop(error) => error,
            FetchFailure::Retry { last, .. } => {
                tracing::warn!(
                    attempt = attempt.get(),
                    max_attempts = self.config.max_attempts,
                    error = %last,
                    "payments API request failed; no attempts left"
                );
                IngestError::Api {
                    url: url.to_owned(),
                    attempts: attempt.get(),
                    last,
                }
            }
        })
    }

    /// One GET of `url` (attempt number `attempt`).
    async fn fetch_once(&self, url: &str, attempt: u32) -> Result<Vec<u8>, FetchFailure> {
        let retry =
            |last: String, retry_after: Option<Duration>| FetchFailure::Retry { last, retry_after };
        match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => Ok(b.to_vec()),
                Err(e) => Err(retry(format!("reading the body: {e}"), None)),
            },
            Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
                match retry_after(r.headers()) {
                    Some(wait) if wait > self.config.max_retry_after => {
                        tracing::warn!(
                        attempt,
                        retry_after_secs = wait.as_secs(),
                        max_retry_after_ms = millis(self.config.max_retry_after),
                        "payments API rate limit: Retry-After beyond the cap, giving up this run"
                    );
                        Err(FetchFailure::Stop(IngestError::RateLimited {
                            url: url.to_owned(),
                            retry_after_secs: wait.as_secs(),
                            max_ms: millis(self.config.max_retry_after),
                        }))
                    }
                    Some(wait) => Err(retry(
                        format!("status {} (Retry-After {} s)", r.status(), wait.as_secs()),
                        Some(wait),
                    )),
                    None => Err(retry(
                        format!("status {} (no usable Retry-After)", r.status()),
                        None,
                    )),
                }
            }
            Ok(r) if r.status().is_client_error() => Err(FetchFailure::Stop(IngestError::Api {
                url: url.to_owned(),
                attempts: attempt,
                last: format!("status {}", r.status()),
            })),
            Ok(r) => Err(retry(format!("status {}", r.status()), None)),
            Err(e) => Err(retry(e.to_string(), None)),
        }
    }
}

/// A `Retry-After` header in whole seconds (the form the payments API uses); `None` when
/// it is missing or not a number of seconds (an HTTP date is not supported).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn retry_after_is_read_as_whole_seconds() {
        assert_eq!(retry_after(&headers("12")), Some(Duration::from_secs(12)));
        assert_eq!(retry_after(&headers(" 0 ")), Some(Duration::ZERO));
    }

    #[test]
    fn missing_or_non_numeric_retry_after_is_none() {
        assert_eq!(retry_after(&HeaderMap::new()), None);
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(&headers("-3")), None);
        assert_eq!(retry_after(&headers("1.5")), None);
    }

    #[test]
    fn rate_limited_error_names_the_retry_after_and_the_setting() {
        let error = IngestError::RateLimited {
            url: "http://api/current-transactions".into(),
            retry_after_secs: 40,
            max_ms: 15_000,
        };
        let text = error.to_string();
        assert!(text.contains("retry after 40 s (Retry-After)"), "{text}");
        assert!(
            text.contains("API_MAX_RETRY_AFTER_MS allows (15000 ms)"),
            "{text}"
        );
    }
}
