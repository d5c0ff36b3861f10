//! Faults on demand: the ways a real payments API misbehaves, served when a test asks.
//!
//! A client of the payments API has to survive error statuses, slow answers, bodies cut
//! in half, bodies that are not JSON, a schema that changed under it and pages served
//! twice. Tests queue such faults (`POST /faults`, or at startup) and the next calls to
//! `GET /current-transactions` answer with them, one call per unit of `count`, in the
//! order they were queued. Faults that replace the response (`status`, `malformed`,
//! `duplicate_last`) take nothing from the source: the transactions they hid are served
//! by the next healthy call, so a client that retries loses nothing.

use std::collections::VecDeque;
use std::time::Duration;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// Longest delay a fault may ask for; longer would only hang a test run.
pub const MAX_DELAY_MS: u64 = 10 * 60 * 1000;

/// One fault as queued through `POST /faults` or `--fault`, e.g.
/// `{"status": 500, "count": 2}` or `{"delay_ms": 1500}`.
///
/// `delay_ms` combines with any other effect (a slow 504, a slow truncated body); at
/// most one of `status`, `malformed` and `duplicate_last` may be set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Answer with this HTTP status and a small JSON error body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Wait this long before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Answer 200 with a broken body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed: Option<Malformation>,
    /// Serve the previous page again, byte for byte.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate_last: bool,
    /// How many calls answer with this fault (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// How a malformed body is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Malformation {
    /// The page's body cut in half (a dropped connection): not valid JSON.
    Truncated,
    /// An HTML error page from a proxy, still labelled `application/json`.
    NotJson,
    /// Valid JSON, but the frame's columns were renamed (`transaction_id`, `amount`,
    /// `card_number`): the schema changed under the client.
    WrongSchema,
}

impl FaultSpec {
    /// `count` calls answering with HTTP `status`.
    pub fn status(status: u16, count: u32) -> Self {
        FaultSpec {
            status: Some(status),
            ..Self::empty(count)
        }
    }

    /// `count` calls answering normally after `delay`.
    pub fn delay(delay: Duration, count: u32) -> Self {
        FaultSpec {
            delay_ms: Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            ..Self::empty(count)
        }
    }

    /// `count` calls answering 200 with a body broken as `how`.
    pub fn malformed(how: Malformation, count: u32) -> Self {
        FaultSpec {
            malformed: Some(how),
            ..Self::empty(count)
        }
    }

    /// `count` calls serving the previous page again.
    pub fn duplicate_last(count: u32) -> Self {
        FaultSpec {
            duplicate_last: true,
            ..Self::empty(count)
        }
    }

    fn empty(count: u32) -> Self {
        FaultSpec {
            status: None,
            delay_ms: None,
            malformed: None,
            duplicate_last: false,
            count,
        }
    }

    /// Checks that the fault means something and can be served.
    pub fn validate(&self) -> Result<(), FaultError> {
        if self.count == 0 {
            return Err(FaultError::ZeroCount);
        }
        let replacing = usize::from(self.status.is_some())
            + usize::from(self.malformed.is_some())
            + usize::from(self.duplicate_last);
        if replacing == 0 && self.delay_ms.is_none() {
            return Err(FaultError::NoEffect);
        }
        if replacing > 1 {
            return Err(FaultError::Conflicting);
        }
        if let Some(status) = self.status {
            StatusCode::from_u16(status).map_err(|_| FaultError::BadStatus { status })?;
        }
        if let Some(delay_ms) = self.delay_ms.filter(|d| *d > MAX_DELAY_MS) {
            return Err(FaultError::DelayTooLong {
                delay_ms,
                max: MAX_DELAY_MS,
            });
        }
        Ok(())
    }

    /// The effect of one call (this spec with its count ignored). Only valid specs get
    /// into the queue, so the status code always parses.
    fn effect(&self) -> Fault {
        let response = if let Some(status) = self.status {
            FaultResponse::Status(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )
        } else if let Some(how) = self.malformed {
            FaultResponse::Malformed(how)
        } else if self.duplicate_last {
            FaultResponse::DuplicateLast
        } else {
            FaultResponse::Normal
        };
        Fault {
            delay: self.delay_ms.map(Duration::from_millis),
            response,
        }
    }
}

/// A fault that cannot be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("`count` must be at least 1")]
    ZeroCount,
    #[error("a fault needs at least one of `status`, `delay_ms`, `malformed`, `duplicate_last`")]
    NoEffect,
    #[error(
        "`status`, `malformed` and `duplicate_last` each replace the response: set at most one"
    )]
    Conflicting,
    #[error("`status` {status} is not an HTTP status code (100..=999)")]
    BadStatus { status: u16 },
    #[error("`delay_ms` {delay_ms} exceeds the limit of {max}")]
    DelayTooLong { delay_ms: u64, max: u64 },
}

/// What one call does, taken from the head of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) delay: Option<Duration>,
    pub(crate) response: FaultResponse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultResponse {
    /// Serve the next page as usual (after the delay).
    Normal,
    Status(StatusCode),
    Malformed(Malformation),
    DuplicateLast,
}

/// Queued faults, served first in, first out.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    pending: VecDeque<FaultSpec>,
}

impl FaultQueue {
    /// Validates every spec, then queues them all (or none).
    pub(crate) fn push_all(&mut self, specs: &[FaultSpec]) -> Result<(), FaultError> {
        specs.iter().try_for_each(FaultSpec::validate)?;
        self.pending.extend(specs.iter().cloned());
        Ok(())
    }

    /// The fault for the next call, if any, using up one unit of its count.
    pub(crate) fn next_call(&mut self) -> Option<Fault> {
        let head = self.pending.front_mut()?;
        let fault = head.effect();
        head.count -= 1;
        if head.count == 0 {
            self.pending.pop_front();
        }
        Some(fault)
    }

    /// Drops every pending fault; returns how many calls they would have affected.
    pub(crate) fn clear(&mut self) -> u64 {
        self.pending
            .drain(..)
            .map(|spec| u64::from(spec.count))
            .sum()
    }

    pub(crate) fn pending(&self) -> Vec<FaultSpec> {
        self.pending.iter().cloned().collect()
    }
}

/// Breaks a well-formed page body as `how` says.
pub(crate) fn malform(body: &[u8], how: Malformation) -> Vec<u8> {
    match how {
        Malformation::Truncated => body[..body.len() / 2].to_vec(),
        Malformation::NotJson => {
            b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n"
                .to_vec()
        }
        Malformation::WrongSchema => rename_columns(body),
    }
}

/// The same frame with the key columns renamed, string-wrapped like the real body.
fn rename_columns(body: &[u8]) -> Vec<u8> {
    let renamed = serde_json::from_slice::<String>(body)
        .ok()
        .and_then(|inner| serde_json::from_str::<serde_json::Value>(&inner).ok())
        .map(|mut frame| {
            if let Some(columns) = frame["columns"].as_array_mut() {
                for column in columns {
                    let new = match column.as_str() {
                        Some("trans_num") => "transaction_id",
                        Some("amt") => "amount",
                        Some("cc_num") => "card_number",
                        _ => continue,
                    };
                    *column = new.into();
                }
            }
            frame
        })
        .unwrap_or_else(|| serde_json::json!({"columns": [], "index": [], "data": []}));
    serde_json::to_vec(&serde_json::Value::String(renamed.to_string()))
        .expect("strings always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_with_count_defaulting_to_one() {
        let spec: FaultSpec = serde_json::from_str(r#"{"malformed": "wrong_schema"}"#).unwrap();
        assert_eq!(spec, FaultSpec::malformed(Malformation::WrongSchema, 1));
    }

    #[test]
    fn spec_with_unknown_field_is_refused() {
        let err = serde_json::from_str::<FaultSpec>(r#"{"delay": 100}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `delay`"), "{err}");
    }

    #[test]
    fn specs_without_effect_or_with_two_responses_are_invalid() {
        assert_eq!(
            FaultSpec::empty(1).validate(),
            Err(FaultError::NoEffect),
            "nothing to do"
        );
        let both = FaultSpec {
            duplicate_last: true,
            ..FaultSpec::status(500, 1)
        };
        assert_eq!(both.validate(), Err(FaultError::Conflicting));
        assert_eq!(
            FaultSpec::status(42, 1).validate(),
            Err(FaultError::BadStatus { status: 42 })
        );
        assert_eq!(
            FaultSpec::status(500, 0).validate(),
            Err(FaultError::ZeroCount)
        );
        let slow = FaultSpec {
            delay_ms: Some(100),
            ..FaultSpec::status(504, 1)
        };
        assert_eq!(slow.validate(), Ok(()));
    }

    #[test]
    fn queue_serves_each_fault_count_times_in_order() {
        let mut queue = FaultQueue::default();
        queue
            .push_all(&[FaultSpec::status(503, 2), FaultSpec::duplicate_last(1)])
            .unwrap();
        let responses: Vec<_> = std::iter::from_fn(|| queue.next_call())
            .map(|f| f.response)
            .collect();
        assert_eq!(
            responses,
            [
                FaultResponse::Status(StatusCode::SERVICE_UNAVAILABLE),
                FaultResponse::Status(StatusCode::SERVICE_UNAVAILABLE),
                FaultResponse::DuplicateLast,
            ]
        );
    }

    #[test]
    fn one_invalid_spec_queues_nothing() {
        let mut queue = FaultQueue::default();
        assert!(queue
            .push_all(&[FaultSpec::status(500, 1), FaultSpec::status(500, 0)])
            .is_err());
        assert!(queue.pending().is_empty());
    }

    #[test]
    fn clear_reports_the_calls_it_cancelled() {
        let mut queue = FaultQueue::default();
        queue
            .push_all(&[FaultSpec::status(500, 3), FaultSpec::duplicate_last(2)])
            .unwrap();
        assert_eq!(queue.clear(), 5);
        assert!(queue.next_call().is_none());
    }
}
