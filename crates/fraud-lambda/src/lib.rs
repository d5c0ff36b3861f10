//! What every function's `main` shares: logging set up in one call (JSON lines in
//! Lambda, readable text on a terminal) and typed environment variables whose errors
//! name the variable and the value; and the one retry policy ([`retry`]).
#![forbid(unsafe_code)]

pub mod retry;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::OnceLock;

/// Values resolved at cold start from Secrets Manager (see `fraud_aws::secrets`), by
/// variable name. They stand in for variables the environment does not set.
static RESOLVED: OnceLock<HashMap<&'static str, String>> = OnceLock::new();

/// Makes `values` (read from Secrets Manager at cold start) visible to [`required`],
/// [`or_default`], [`parsed`] and [`lookup`] as if they were environment variables that
/// are not set. Call it once, before reading the configuration; later calls are ignored.
pub fn use_resolved_secrets(values: HashMap<&'static str, String>) {
    let _ = RESOLVED.set(values);
}

/// A variable from the environment, else from the secrets resolved at cold start.
pub fn lookup(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| RESOLVED.get().and_then(|m| m.get(name).cloned()))
}

/// A missing or malformed environment variable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvError {
    #[error("environment variable {name} is required ({help})")]
    Missing {
        name: &'static str,
        help: &'static str,
    },
    #[error("environment variable {name}=`{value}` is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// A required variable.
pub fn required(name: &'static str, help: &'static str) -> Result<String, EnvError> {
    lookup(name).ok_or(EnvError::Missing { name, help })
}

/// An optional variable with a default.
pub fn or_default(name: &'static str, default: &str) -> String {
    lookup(name).unwrap_or_else(|| default.to_owned())
}

/// An optional variable parsed into `T`, with a default.
pub fn parsed<T>(name: &'static str, default: T) -> Result<T, EnvError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        Some(v) => v.trim().parse().map_err(|e: T::Err| EnvError::Invalid {
            name,
            value: v,
            reason: e.to_string(),
        }),
        _ => Ok(default),
    }
}

/// Structured logs: JSON lines when running in Lambda (`AWS_LAMBDA_FUNCTION_NAME` is
/// set), human-readable otherwise. Level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Logs go to stderr, so a command's own output (summaries) stays clean on stdout.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().flatten_event(true).without_time().try_init()
    } else {
        builder.try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_number_names_variable_and_value() {
        // Unique name: tests run in parallel and share the environment.
        unsafe_free_set("FRAUD_LAMBDA_TEST_N", "ten");
        let err = parsed::<u64>("FRAUD_LAMBDA_TEST_N", 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable FRAUD_LAMBDA_TEST_N=`ten` is invalid: invalid digit found in string"
        );
    }

    #[test]
    fn missing_required_variable_says_what_it_is_for() {
        let err = required("FRAUD_LAMBDA_TEST_ABSENT", "the models bucket").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable FRAUD_LAMBDA_TEST_ABSENT is required (the models bucket)"
        );
    }

    fn unsafe_free_set(name: &str, value: &str) {
        // `std::env::set_var` is unsafe in edition 2024 only; this crate is 2021.
        std::env::set_var(name, value);
    }
}
