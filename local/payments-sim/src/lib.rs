//! A payments API simulator: serves `GET /current-transactions` exactly as the reference
//! payments API does, from synthetic or recorded transactions, and misbehaves on demand.
//!
//! The fraud pipeline's ingest polls a third-party API we do not control. To develop and
//! test against it without the real thing, this crate serves the same wire format
//! ([`fraud_core::api_frame`]) from the generator, a CSV file or a given list, at a
//! chosen pace, and injects the faults a real API shows (error statuses, slow answers,
//! broken bodies, repeated pages) when a test asks through `POST /faults`.
//!
//! By default a call answers like the real API: a JSON string holding a pandas split
//! frame with the real API's columns in its order (`cc_num` … `merch_long`, `is_fraud`,
//! `current_time`) and types, **one payment per call**. Settings (flags of the
//! `payments-sim` binary, fields of [`SimConfig`]):
//!
//! - `--batch-size N` ([`SimConfig::batch_size`], default 1): most payments per call.
//! - `--no-label` ([`SimConfig::include_label`] `false`): leave the `is_fraud` column out,
//!   for an unlabelled feed. `--include-label` is still accepted and does nothing (the
//!   label is sent by default).
//! - `--rate-limit-per-minute N` ([`SimConfig::rate_limit`], default none): like the real
//!   API (about 5 calls a minute), at most `N` calls in any 60 s; a call past that answers
//!   `429 Too Many Requests` with a `Retry-After` header (whole seconds until a call is
//!   admitted again) and a JSON error body, and takes no payment. `/stats` counts such
//!   calls as `rate_limited`. Refused calls do not count towards the limit, and the limit
//!   applies before any queued fault (a refused call uses none).
//! - `--rate R`: pace the source at `R` payments per second since start.
//!
//! Integration tests of other crates start one on an ephemeral port:
//!
//! ```no_run
//! # async fn demo() -> Result<(), payments_sim::SimError> {
//! let config = payments_sim::SimConfig {
//!     batch_size: 25,
//!     ..payments_sim::SimConfig::default()
//! };
//! let (addr, _server) = payments_sim::spawn(config).await?;
//! let url = format!("http://{addr}/current-transactions");
//! # let _ = url;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod faults;
mod limit;
mod pace;
mod server;
mod source;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use fraud_core::csv_input::CsvError;
use fraud_generator::GeneratorError;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use faults::{FaultError, FaultSpec, Malformation, MAX_DELAY_MS};
pub use fraud_generator::GeneratorConfig;
pub use limit::{RateLimit, MAX_RATE_LIMIT_WINDOW};
pub use source::SourceConfig;

/// Largest batch a call may return; the reference API serves small pages.
pub const MAX_BATCH_SIZE: usize = 100_000;

/// Days of generated data served by default (a year of payments).
pub const DEFAULT_DAYS: u32 = 365;

/// Everything the simulator needs to know, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Where transactions come from.
    pub source: SourceConfig,
    /// Most transactions returned by one call.
    pub batch_size: usize,
    /// Cap in transactions per second since start; 0 means none (every call returns a
    /// full batch until the source ends).
    pub rate: f64,
    /// Send the `is_fraud` label, as the real API does (just before `current_time`);
    /// `false` leaves the column out, for an unlabelled feed.
    pub include_label: bool,
    /// At most this many calls of `GET /current-transactions` per window; the others
    /// answer 429 with `Retry-After`. `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Faults queued before the first call, as if posted to `/faults`.
    pub faults: Vec<FaultSpec>,
}

impl Default for SimConfig {
    /// Like the real API: the generator with its default seed, customers and start, a
    /// year long; one payment per call; the label included; no pacing, no rate limit, no
    /// faults.
    fn default() -> Self {
        SimConfig {
            source: SourceConfig::Generator(GeneratorConfig {
                days: DEFAULT_DAYS,
                ..GeneratorConfig::default()
            }),
            batch_size: 1,
            rate: 0.0,
            include_label: true,
            rate_limit: None,
            faults: Vec::new(),
        }
    }
}

impl SimConfig {
    /// Checks the settings that the source and the fault queue do not check themselves.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(SimError::InvalidConfig {
                reason: format!(
                    "batch size must be between 1 and {MAX_BATCH_SIZE}, got {}",
                    self.batch_size
                ),
            });
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err(SimError::InvalidConfig {
                reason: format!(
                    "rate must be 0 (no cap) or a positive number of transactions per second, got {}",
                    self.rate
                ),
            });
        }
        if let Some(reason) = self.rate_limit.as_ref().and_then(RateLimit::problem) {
            return Err(SimError::InvalidConfig { reason });
        }
        Ok(())
    }
}

/// Why the simulator cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulator setting: {reason}")]
    InvalidConfig { reason: String },
    #[error("invalid generator setting: {0}")]
    Generator(#[from] GeneratorError),
    #[error("cannot read the CSV source {path}: {source}")]
    Csv { path: String, source: CsvError },
    #[error("invalid startup fault: {0}")]
    Fault(#[from] FaultError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the HTTP server stopped with an error: {0}")]
    Serve(std::io::Error),
}

/// The simulator's routes, ready to serve (or to call in-process with `tower`).
///
/// Opens the source and queues the startup faults, so every configuration error
/// surfaces here. The rate cap counts from this moment.
pub fn router(config: SimConfig) -> Result<axum::Router, SimError> {
    config.validate()?;
    let mut faults = faults::FaultQueue::default();
    faults.push_all(&config.faults)?;
    let kind = config.source.kind();
    let source = source::Source::open(config.source)?;
    let shared = server::Shared::new(
        source,
        faults,
        config.batch_size,
        config.rate,
        config.include_label,
        config.rate_limit,
        kind,
    );
    Ok(server::routes(Arc::new(shared)))
}

/// Serves the simulator on `listener` until the server fails.
pub async fn serve(config: SimConfig, listener: TcpListener) -> Result<(), SimError> {
    serve_with_shutdown(config, listener, std::future::pending()).await
}

/// Serves the simulator on `listener` until `shutdown` completes, then finishes the
/// calls in flight and returns.
pub async fn serve_with_shutdown(
    config: SimConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    let app = start(config, &listener)?;
    run(app, listener, shutdown).await
}

/// Starts a simulator on an ephemeral port of 127.0.0.1, for tests.
///
/// Returns once the port is bound and the source opened (so the first call can be made
/// right away), with the address and the server task. The server runs until the task is
/// aborted or its runtime ends.
pub async fn spawn(
    config: SimConfig,
) -> Result<(SocketAddr, JoinHandle<Result<(), SimError>>), SimError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| SimError::Bind {
            addr: "127.0.0.1:0".into(),
            source,
        })?;
    let addr = local_addr(&listener)?;
    let app = start(config, &listener)?;
    let handle = tokio::spawn(run(app, listener, std::future::pending()));
    Ok((addr, handle))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, SimError> {
    listener.local_addr().map_err(|source| SimError::Bind {
        addr: "the given listener".into(),
        source,
    })
}

/// Builds the routes and logs the startup line.
fn start(config: SimConfig, listener: &TcpListener) -> Result<axum::Router, SimError> {
    let addr = local_addr(listener)?;
    let source = source::describe(&config.source);
    let (batch_size, rate, include_label, faults) = (
        config.batch_size,
        config.rate,
        config.include_label,
        config.faults.len(),
    );
    let (rate_limit_calls, rate_limit_window_ms) = match config.rate_limit {
        Some(limit) => (
            Some(limit.calls),
            Some(u64::try_from(limit.window.as_millis()).unwrap_or(u64::MAX)),
        ),
        None => (None, None),
    };
    let app = router(config)?;
    tracing::info!(
        %addr,
        source,
        batch_size,
        rate,
        include_label,
        rate_limit_calls,
        rate_limit_window_ms,
        startup_faults = faults,
        "payments simulator listening"
    );
    Ok(app)
}

async fn run(
    app: axum::Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(SimError::Serve)?;
    tracing::info!("payments simulator stopped");
    Ok(())
}
