//! Errors of the domain core. Each variant reads as a sentence a user can act on and
//! names the field and the offending value.

use serde::Serialize;

/// Why one record (a CSV row, an API frame row, a Kafka message) was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordError {
    #[error("missing field `{field}`")]
    MissingField { field: &'static str },
    #[error(
        "missing event time: expected `trans_date_trans_time`, `current_time` (epoch ms) or `unix_time`"
    )]
    MissingTime,
    #[error("field `{field}` is empty")]
    Empty { field: &'static str },
    #[error("field `{field}`: `{value}` is not a number")]
    NotANumber { field: &'static str, value: String },
    #[error("field `amt`: amount {value} is negative or not finite")]
    InvalidAmount { value: f64 },
    #[error("field `{field}`: `{value}` is not a valid date (expected {expected})")]
    BadDate {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("field `{field}`: {value} is out of range {min}..={max}")]
    OutOfRange {
        field: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error("field `category`: unknown category `{value}`")]
    UnknownCategory { value: String },
    #[error("field `{field}`: unknown value `{value}` (expected {expected})")]
    UnknownValue {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("field `{field}`: {len} bytes exceeds the limit of {max}")]
    Oversize {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("malformed record: {reason}")]
    Malformed { reason: String },
}

impl RecordError {
    pub(crate) fn not_a_number(field: &'static str, value: &str) -> Self {
        RecordError::NotANumber {
            field,
            value: clip(value),
        }
    }

    pub(crate) fn bad_date(field: &'static str, value: &str, expected: &'static str) -> Self {
        RecordError::BadDate {
            field,
            value: clip(value),
            expected,
        }
    }
}

/// A record that could not be accepted, kept whole so it can go to a dead-letter
/// destination (rejects file, dead-letter topic) with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Rejection {
    /// 1-based line in a CSV file, or the row's position in an API frame.
    pub line: u64,
    /// The record's `trans_num` when it could be read.
    pub trans_num: Option<String>,
    /// Why it was rejected, naming the field and value.
    pub reason: String,
    /// The record as received.
    pub raw: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Keeps error messages short when the offending value is huge.
pub(crate) fn clip(value: &str) -> String {
    const MAX: usize = 64;
    if value.len() <= MAX {
        return value.to_owned();
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}
