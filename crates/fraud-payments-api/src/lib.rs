//! Payments API adapter: the [`PaymentsApi`] port over HTTP.
//!
//! The API allows only a few calls a minute and answers the others `429 Too Many
//! Requests` with `Retry-After`: the fetch waits that long and tries again (within
//! [`ApiSettings::max_attempts`]), unless the wait exceeds
//! [`ApiSettings::max_retry_after`], when the run fails at once; nothing is lost, as the
//! API keeps the payment for the next tick.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fraud_lambda::retry::{RetryBudget, Retryable};
use fraud_pipeline::ports::{FetchError, PaymentsApi};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// How the API is called.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Base URL (`/current-transactions` is appended).
    pub base_url: String,
    /// Per request.
    pub timeout: Duration,
    /// Calls per run, rate-limited (429) ones included (at least 1).
    pub max_attempts: u32,
    /// First retry delay, doubled each time.
    pub backoff: Duration,
    /// Longest `Retry-After` of a 429 waited out before the next attempt; a longer one
    /// fails the run at once.
    pub max_retry_after: Duration,
}

/// How one request to the payments API failed.
enum FetchFailure {
    /// Worth another attempt; `retry_after` is what a 429 asked for.
    Retry {
        last: String,
        retry_after: Option<Duration>,
    },
    /// Not worth retrying this run.
    Stop(FetchError),
}

/// The payments API client.
pub struct PaymentsApiClient {
    http: reqwest::Client,
    url: String,
    settings: ApiSettings,
}

impl PaymentsApiClient {
    pub fn new(settings: ApiSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()?;
        let url = format!(
            "{}/current-transactions",
            settings.base_url.trim_end_matches('/')
        );
        Ok(PaymentsApiClient {
            http,
            url,
            settings,
        })
    }

    /// GETs the page within the budget (`max_attempts`, first wait `backoff`, the shared
    /// retry policy). A 429's `Retry-After` stretches the wait (never shortens it) up to
    /// `max_retry_after`; beyond that, and on any other 4xx, it stops.
    async fn fetch(&self) -> Result<Vec<u8>, FetchError> {
        let max_attempts = self.settings.max_attempts.max(1);
        let budget = RetryBudget::new(max_attempts, self.settings.backoff);
        // Atomic, not a Cell: the fetch's future must be `Send` (the port asks for it).
        let attempt = AtomicU32::new(0);
        let url = &self.url;
        (|| {
            let number = attempt.fetch_add(1, Ordering::Relaxed) + 1;
            self.fetch_once(number)
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
                    attempt = attempt.load(Ordering::Relaxed),
                    max_attempts,
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
                    attempt = attempt.load(Ordering::Relaxed),
                    max_attempts,
                    error = %last,
                    "payments API request failed; no attempts left"
                );
                FetchError::Api {
                    url: url.clone(),
                    attempts: attempt.load(Ordering::Relaxed),
                    last,
                }
            }
        })
    }

    /// One GET of the page (attempt number `attempt`).
    async fn fetch_once(&self, attempt: u32) -> Result<Vec<u8>, FetchFailure> {
        let url = &self.url;
        let max_retry_after = self.settings.max_retry_after;
        let retry =
            |last: String, retry_after: Option<Duration>| FetchFailure::Retry { last, retry_after };
        match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => Ok(b.to_vec()),
                Err(e) => Err(retry(format!("reading the body: {e}"), None)),
            },
            Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
                match retry_after(r.headers()) {
                    Some(wait) if wait > max_retry_after => {
                        tracing::warn!(
                            attempt,
                            retry_after_secs = wait.as_secs(),
                            max_retry_after_ms = millis(max_retry_after),
                            "payments API rate limit: Retry-After beyond the cap, giving up this run"
                        );
                        Err(FetchFailure::Stop(FetchError::RateLimited {
                            url: url.clone(),
                            retry_after_secs: wait.as_secs(),
                            max_ms: millis(max_retry_after),
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
            Ok(r) if r.status().is_client_error() => Err(FetchFailure::Stop(FetchError::Api {
                url: url.clone(),
                attempts: attempt,
                last: format!("status {}", r.status()),
            })),
            Ok(r) => Err(retry(format!("status {}", r.status()), None)),
            Err(e) => Err(retry(e.to_string(), None)),
        }
    }
}

impl PaymentsApi for PaymentsApiClient {
    fn source(&self) -> &str {
        &self.url
    }

    async fn current_page(&self) -> Result<Vec<u8>, FetchError> {
        self.fetch().await
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
}
