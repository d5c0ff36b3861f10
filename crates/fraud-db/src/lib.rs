//! PostgreSQL adapter of the fraud pipeline: the training-run log the track function
//! writes, the per-card feature state the score function keeps between invocations,
//! the ledger that makes scoring idempotent when Kafka redelivers a batch, the labels
//! that arrive later and the live quality measured against them. [`ScoreDb`] is the
//! score use case's port (`fraud_pipeline::ports::ScoreDatabase`) over the card state
//! and the ledger.
//!
//! The schema belongs to this crate: [`migrate`] applies the SQL files embedded from
//! `migrations/`, so every function that connects brings the database up to date at
//! cold start, and concurrent cold starts are safe.
//!
//! Card numbers are `u64` in Rust and `numeric(20,0)` in SQL (bigint cannot hold card
//! numbers above 9 223 372 036 854 775 807); they cross the wire as decimal text, so no
//! decimal crate is needed.
#![forbid(unsafe_code)]

mod card_state;
mod error;
pub mod labels;
mod ledger;
mod migrate;
pub mod monitor;
pub mod quality;
mod runs;
mod score;
#[cfg(feature = "test-support")]
pub mod scratch;
mod tracking;

use std::time::Duration;

pub use card_state::CardStateStore;
pub use error::DbError;
pub use fraud_pipeline::{RunMetric, TrainingRun};
pub use labels::{KnownLabel, Label, LabelConflict, LabelReport, LabelStore};
pub use ledger::{LedgerEntry, ScoredLedger, ScoredTransaction};
pub use migrate::migrate;
pub use monitor::{MonitorPoint, MonitorStore, MonitorWindow, WindowScore};
pub use quality::{ModelQuality, QualityStore};
pub use runs::{RecordOutcome, RunStore};
pub use score::{ScoreDb, ScoreTxn};
pub use tokio_postgres::{Client, GenericClient};
pub use tracking::Tracking;

/// Replaces `client` with a new connection when the server closed it (a restart, a
/// failover, an idle timeout while a Lambda instance was frozen); otherwise does nothing.
/// Without it, every later invocation of a warm instance would fail.
pub async fn reconnect_if_closed(client: &mut Client, url: &str) -> Result<(), DbError> {
    if client.is_closed() {
        tracing::warn!("PostgreSQL connection was closed; reconnecting");
        *client = connect(url).await?;
    }
    Ok(())
}

/// Begins a transaction on `client`, reconnecting first if the server closed it
/// ([`reconnect_if_closed`]).
pub async fn begin<'a>(
    client: &'a mut Client,
    url: &str,
) -> Result<tokio_postgres::Transaction<'a>, DbError> {
    reconnect_if_closed(client, url).await?;
    client.transaction().await.map_err(|error| DbError::Query {
        query: "begin",
        error,
    })
}

/// Commits `txn`.
pub async fn commit(txn: tokio_postgres::Transaction<'_>) -> Result<(), DbError> {
    txn.commit().await.map_err(|error| DbError::Query {
        query: "commit",
        error,
    })
}

/// How long [`connect`] waits for the server when the URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to PostgreSQL (no TLS: the local stack, or a VPC-internal server) and
/// drives the connection on a spawned task, which logs and ends when the connection
/// breaks; [`Client::is_closed`] then tells the caller to reconnect.
///
/// `url` is a `postgres://user:password@host:port/dbname` URL or a key=value string.
/// Errors never repeat the URL, which holds the password.
pub async fn connect(url: &str) -> Result<Client, DbError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| DbError::BadUrl {
        reason: error::describe(&e),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    let target = describe_target(&config);
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|error| DbError::Connect {
            target: target.clone(),
            error,
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(target = %target, error = %error::describe(&e), "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// `user@host:port/dbname`: where a connection goes, without the password.
fn describe_target(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("(default user)");
    let dbname = config.get_dbname().unwrap_or(user);
    format!("{user}@{host}:{port}/{dbname}")
}

/// A card number as the decimal text PostgreSQL casts to `numeric(20,0)`.
fn cc_num_text(cc_num: u64) -> String {
    cc_num.to_string()
}

/// A card number read back as `cc_num::text`.
fn parse_cc_num(text: &str, what: &'static str) -> Result<u64, DbError> {
    text.parse().map_err(|e| DbError::Corrupt {
        what,
        reason: format!("cc_num `{text}` is not a u64: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_description_leaves_out_the_password() {
        let config: tokio_postgres::Config = "postgres://fraud:s3cret@db.internal:6543/fraud"
            .parse()
            .unwrap();
        let target = describe_target(&config);
        assert_eq!(target, "fraud@db.internal:6543/fraud");
        assert!(!target.contains("s3cret"));
    }

    #[tokio::test]
    async fn malformed_url_is_rejected_without_echoing_it() {
        let err = connect("postgres://fraud:s3cret@host:notaport/db")
            .await
            .unwrap_err();
        assert!(matches!(err, DbError::BadUrl { .. }), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn card_numbers_above_i64_max_survive_the_text_form() {
        for cc in [0, 4_006_047_418_382, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(parse_cc_num(&cc_num_text(cc), "test").unwrap(), cc);
        }
        assert!(parse_cc_num("-1", "test").is_err());
    }
}
