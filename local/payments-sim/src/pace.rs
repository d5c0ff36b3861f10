//! Replay pacing: how many transactions may be served by now.
//!
//! The reference API hands out payments as they "happen". With a rate cap the simulator
//! does the same: `rate × seconds since start` transactions are due, and a call gets the
//! due ones not yet served, at most a batch. Counting from the start (not from the last
//! call) means a client that polls slowly catches up with full batches instead of
//! falling further behind, and a client that polls fast gets small or empty pages.

use std::time::Instant;

/// Transactions due per second since `start`; a rate of 0 means no cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    rate: f64,
    start: Instant,
}

impl Pace {
    pub(crate) fn new(rate: f64, start: Instant) -> Self {
        Pace { rate, start }
    }

    /// How many of a page of `batch` may be served at `now`, `served` being already out.
    pub(crate) fn allowance(&self, served: u64, batch: usize, now: Instant) -> usize {
        if self.rate <= 0.0 {
            return batch;
        }
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        // `as` saturates, so an absurd rate over a long run cannot wrap around.
        let due = (elapsed * self.rate).floor() as u64;
        usize::try_from(due.saturating_sub(served))
            .unwrap_or(usize::MAX)
            .min(batch)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn zero_rate_always_allows_a_full_batch() {
        let start = Instant::now();
        assert_eq!(Pace::new(0.0, start).allowance(1_000_000, 10, start), 10);
    }

    #[test]
    fn allows_what_is_due_minus_what_was_served() {
        let start = Instant::now();
        let pace = Pace::new(5.0, start);
        assert_eq!(pace.allowance(0, 10, start), 0);
        assert_eq!(pace.allowance(0, 10, start + Duration::from_millis(999)), 4);
        assert_eq!(pace.allowance(3, 10, start + Duration::from_secs(1)), 2);
        assert_eq!(pace.allowance(0, 10, start + Duration::from_secs(60)), 10);
        assert_eq!(pace.allowance(7, 10, start + Duration::from_secs(1)), 0);
    }
}
