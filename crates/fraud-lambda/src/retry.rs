//! The one retry policy for calls to systems we do not control (the payments API, the
//! alert webhook, the track function, a function invoked by the local event source):
//! [`backon`]'s exponential backoff with jitter, doubling from a first delay. Each call
//! site states its own budget (attempts and first delay) and which failures are worth
//! another attempt; the schedule itself is defined only here.

use std::time::Duration;

pub use backon::{BackoffBuilder, Retryable};

/// Longest single wait the policy produces: the first delay doubled ten times.
const MAX_DOUBLINGS: u32 = 10;

/// How hard one call site tries: `attempts` in all (the first one included), waiting
/// `first_delay` before the second, then twice as long each time, plus up to as much
/// again of random jitter (so many clients failing at once do not retry in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    pub attempts: u32,
    pub first_delay: Duration,
}

impl RetryBudget {
    pub const fn new(attempts: u32, first_delay: Duration) -> Self {
        RetryBudget {
            attempts,
            first_delay,
        }
    }

    /// The backoff schedule, for [`Retryable::retry`].
    pub fn policy(self) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_factor(2.0)
            .with_max_delay(self.first_delay.saturating_mul(1 << MAX_DOUBLINGS))
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// The waits between attempts, in order (`attempts − 1` of them), for loops that
    /// retry part of their work (the event source retries only the failed records).
    pub fn delays(self) -> impl Iterator<Item = Duration> {
        self.policy().build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_delay_within_the_jitter_and_stop_at_the_budget() {
        let base = Duration::from_millis(100);
        let delays: Vec<Duration> = RetryBudget::new(5, base).delays().collect();
        assert_eq!(delays.len(), 4, "five attempts, four waits");
        for (i, d) in delays.iter().enumerate() {
            let exp = base * (1 << i);
            assert!(*d >= exp && *d <= exp * 2, "wait {i}: {d:?} vs {exp:?}");
        }
        assert_eq!(RetryBudget::new(1, base).delays().count(), 0);
    }

    #[tokio::test]
    async fn a_call_is_retried_until_it_succeeds_within_the_budget() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let result = (|| async {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if n < 3 {
                Err(n)
            } else {
                Ok(n)
            }
        })
        .retry(RetryBudget::new(3, Duration::from_millis(1)).policy())
        .sleep(tokio::time::sleep)
        .await;
        assert_eq!(result, Ok(3));
        let calls = std::sync::atomic::AtomicU32::new(0);
        let result: Result<u32, u32> =
            (|| async { Err(calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1) })
                .retry(RetryBudget::new(2, Duration::from_millis(1)).policy())
                .sleep(tokio::time::sleep)
                .await;
        assert_eq!(
            result,
            Err(2),
            "two attempts in all, the last error returned"
        );
    }
}
