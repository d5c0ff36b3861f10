//! The API's rate limit: at most `calls` calls to `GET /current-transactions` in any
//! window of `window` (a sliding window). The real payments API allows about 5 calls a
//! minute and answers the ones past that with `429 Too Many Requests`.
//!
//! Only admitted calls count towards the limit: a client that is refused and waits the
//! `Retry-After` it was given is admitted, however often it was refused before.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Longest window a limit may have; longer would only hang a test run.
pub const MAX_RATE_LIMIT_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// At most `calls` calls in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub calls: u32,
    pub window: Duration,
}

impl RateLimit {
    /// `calls` calls a minute, like the real API's limit.
    pub fn per_minute(calls: u32) -> Self {
        RateLimit {
            calls,
            window: Duration::from_secs(60),
        }
    }

    /// Why the limit cannot be enforced, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.calls == 0 {
            return Some("a rate limit must allow at least 1 call per window".into());
        }
        if self.window.is_zero() || self.window > MAX_RATE_LIMIT_WINDOW {
            return Some(format!(
                "a rate limit window must be between 1 ms and {} s, got {:?}",
                MAX_RATE_LIMIT_WINDOW.as_secs(),
                self.window
            ));
        }
        None
    }
}

/// The times of the calls admitted within the last window.
#[derive(Debug)]
pub(crate) struct CallWindow {
    limit: RateLimit,
    admitted: VecDeque<Instant>,
}

impl CallWindow {
    pub(crate) fn new(limit: RateLimit) -> Self {
        CallWindow {
            limit,
            admitted: VecDeque::new(),
        }
    }

    /// Admits a call at `now`, or refuses it with how long until one would be admitted.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&oldest) = self.admitted.front() {
            if now.saturating_duration_since(oldest) >= self.limit.window {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        if self.admitted.len() < self.limit.calls as usize {
            self.admitted.push_back(now);
            return Ok(());
        }
        // Full: a slot frees when the oldest admitted call leaves the window.
        let oldest = self.admitted[0];
        Err((oldest + self.limit.window).saturating_duration_since(now))
    }
}

/// `wait` as a `Retry-After` value: whole seconds, rounded up so that a client waiting
/// that long is admitted, and at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_the_limit_then_refuses_until_the_oldest_call_leaves_the_window() {
        let start = Instant::now();
        let mut window = CallWindow::new(RateLimit {
            calls: 2,
            window: Duration::from_secs(10),
        });
        assert_eq!(window.admit(start), Ok(()));
        assert_eq!(window.admit(start + Duration::from_secs(4)), Ok(()));
        assert_eq!(
            window.admit(start + Duration::from_secs(6)),
            Err(Duration::from_secs(4))
        );
        assert_eq!(window.admit(start + Duration::from_secs(10)), Ok(()));
        assert_eq!(
            window.admit(start + Duration::from_secs(11)),
            Err(Duration::from_secs(3)),
            "now the call at 4 s is the oldest"
        );
    }

    #[test]
    fn refused_calls_do_not_count_towards_the_limit() {
        let start = Instant::now();
        let mut window = CallWindow::new(RateLimit {
            calls: 1,
            window: Duration::from_secs(5),
        });
        assert_eq!(window.admit(start), Ok(()));
        for s in 1..5 {
            assert!(window.admit(start + Duration::from_secs(s)).is_err());
        }
        assert_eq!(window.admit(start + Duration::from_secs(5)), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(59)), 59);
    }

    #[test]
    fn zero_calls_or_an_empty_window_is_a_problem() {
        assert!(RateLimit::per_minute(0).problem().is_some());
        let empty = RateLimit {
            calls: 5,
            window: Duration::ZERO,
        };
        assert!(empty.problem().is_some());
        assert_eq!(RateLimit::per_minute(5).problem(), None);
    }
}
