//! Errors of the PostgreSQL adapter. Each says which step failed (connecting, which
//! migration, which query) and carries the server's own message, because
//! `tokio_postgres::Error` alone displays only "db error".

use tokio_postgres::error::SqlState;

/// What went wrong talking to PostgreSQL.
///
/// The driver error is kept (as `error`) for callers that need its SQLSTATE, and its
/// full text is already part of the message, so it is deliberately not a `source()`:
/// error reports would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the PostgreSQL URL is malformed: {reason}")]
    BadUrl { reason: String },

    #[error("cannot connect to PostgreSQL at {target}: {}", describe(.error))]
    Connect {
        /// `user@host:port/dbname`, without the password.
        target: String,
        error: tokio_postgres::Error,
    },

    #[error("database migration {version:04}_{name} failed: {}", describe(.error))]
    Migrate {
        version: i32,
        name: &'static str,
        error: tokio_postgres::Error,
    },

    #[error("PostgreSQL query `{query}` failed: {}", describe(.error))]
    Query {
        /// Name of the operation, e.g. `record_run`.
        query: &'static str,
        error: tokio_postgres::Error,
    },

    #[error("stored {what} cannot be read: {reason}")]
    Corrupt { what: &'static str, reason: String },

    #[error("training run field `{field}` is invalid: {reason}")]
    InvalidRun { field: &'static str, reason: String },

    #[error("training run {run_id} (model version `{model_version}`) conflicts with a recorded run: {reason}")]
    RunConflict {
        run_id: uuid::Uuid,
        model_version: String,
        reason: String,
    },

    #[error("no training run with model version `{0}` has been recorded")]
    UnknownRun(String),
}

impl DbError {
    /// The SQLSTATE the server answered with, if the failure came from the server.
    pub fn sql_state(&self) -> Option<&SqlState> {
        match self {
            DbError::Connect { error, .. }
            | DbError::Migrate { error, .. }
            | DbError::Query { error, .. } => error.code(),
            _ => None,
        }
    }

    /// A closure for `map_err` that names the failed query.
    pub(crate) fn query(query: &'static str) -> impl FnOnce(tokio_postgres::Error) -> DbError {
        move |error| DbError::Query { query, error }
    }
}

/// The driver error with its causes (the server's message, the OS error), which its
/// `Display` alone leaves out.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
