//! A payments API simulator: serves `GET /current-transactions` exactly as the reference
//! payments API does, from synthetic or recorded transactions, and misbehaves on demand.
//!
//! The fraud pipeline's ingest polls a third-party API we do not control. To develop and
//! test against it without the real thing, this crate serves the same wire format
//! ([`fraud_core::api_frame`]) from the generator, a CSV file or a given list, at a
//! chosen pace, and injects the faults a real API shows (error statuses, slow answers,
//! broken bodies, repeated pages) when a test asks through `POST /faults`.
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
    /// Add the `is_fraud` label as the last column (the live API does not know it).
    pub include_label: bool,
    /// Faults queued before the first call, as if posted to `/faults`.
    pub faults: Vec<FaultSpec>,
}

impl Default for SimConfig {
    /// The generator with its default seed, customers and start, a year long; batches of
    /// 10; no rate cap; no label; no faults.
    fn default() -> Self {
        SimConfig {
            source: SourceConfig::Generator(GeneratorConfig {
                days: DEFAULT_DAYS,
                ..GeneratorConfig::default()
            }),
            batch_size: 10,
            rate: 0.0,
            include_label: false,
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
    let app = router(config)?;
    tracing::info!(
        %addr,
        source,
        batch_size,
        rate,
        include_label,
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
