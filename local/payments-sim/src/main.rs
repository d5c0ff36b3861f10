//! `payments-sim`: runs the payments API simulator from the command line.
//!
//! Kept thin on purpose: parse the flags (each with an environment fallback) into a
//! [`SimConfig`], set up logging, bind, and hand over to the library. Ctrl-c or SIGTERM
//! stops the server gracefully.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};
use payments_sim::{FaultSpec, GeneratorConfig, RateLimit, SimConfig, SourceConfig};
use tracing_subscriber::EnvFilter;

/// Serve `GET /current-transactions` like the reference payments API, from generated or
/// CSV transactions, with faults on demand (`POST /faults`).
///
/// By default a call answers like the real API: a JSON string holding a pandas split
/// frame with the real API's columns, order and types (`is_fraud` included, before
/// `current_time`), one payment per call, no rate limit.
#[derive(Debug, Parser)]
#[command(name = "payments-sim", version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "SIM_ADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,

    /// Most transactions returned by one call (the real API sends one).
    #[arg(long, env = "SIM_BATCH_SIZE", default_value_t = 1)]
    batch_size: usize,

    /// Cap in transactions per second since start (0 = no cap: full batches).
    #[arg(long, env = "SIM_RATE", default_value_t = 0.0)]
    rate: f64,

    /// Leave the `is_fraud` column out (an unlabelled feed; the real API sends the label).
    #[arg(long, env = "SIM_NO_LABEL", action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new())]
    no_label: bool,

    /// Accepted for old scripts and ignored: the label is sent by default.
    #[arg(long, hide = true, action = ArgAction::SetTrue, conflicts_with = "no_label")]
    include_label: bool,

    /// Answer calls past N in any 60 s with 429 Too Many Requests and a Retry-After
    /// header (whole seconds), taking no payment; the real API allows about 5. 0 = no limit.
    #[arg(
        long,
        env = "SIM_RATE_LIMIT_PER_MINUTE",
        default_value_t = 0,
        value_name = "N"
    )]
    rate_limit_per_minute: u32,

    /// Replay this Sparkov CSV instead of generating (bad rows are skipped and counted).
    #[arg(long, env = "SIM_CSV")]
    csv: Option<PathBuf>,

    /// Generator seed (ignored with --csv).
    #[arg(long, env = "SIM_SEED", default_value_t = GeneratorConfig::default().seed)]
    seed: u64,

    /// Generator card holders (ignored with --csv).
    #[arg(long, env = "SIM_CUSTOMERS", default_value_t = GeneratorConfig::default().customers)]
    customers: u32,

    /// First generated day, YYYY-MM-DD (ignored with --csv).
    #[arg(long, env = "SIM_START", default_value_t = GeneratorConfig::default().start)]
    start: NaiveDate,

    /// Generated days before the source ends (ignored with --csv).
    #[arg(long, env = "SIM_DAYS", default_value_t = payments_sim::DEFAULT_DAYS)]
    days: u32,

    /// Generator fraud episodes per card per year (ignored with --csv).
    #[arg(long, env = "SIM_FRAUD_EPISODES", default_value_t = GeneratorConfig::default().episodes_per_card_year)]
    fraud_episodes: f64,

    /// Fault to queue at startup, as the JSON of `POST /faults` (an object or an array);
    /// repeatable, e.g. --fault '{"status":500,"count":2}'.
    #[arg(long = "fault", env = "SIM_FAULTS", value_name = "JSON", value_parser = parse_faults)]
    faults: Vec<FaultList>,

    /// Log JSON lines instead of human-readable text (filter with RUST_LOG).
    #[arg(long, env = "SIM_LOG_JSON", action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new())]
    log_json: bool,
}

/// Faults given by one `--fault` value.
#[derive(Debug, Clone)]
struct FaultList(Vec<FaultSpec>);

fn parse_faults(text: &str) -> Result<FaultList, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let specs = if value.is_array() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value(value).map(|spec| vec![spec])
    }
    .map_err(|e| format!("not a fault: {e}"))?;
    specs
        .iter()
        .try_for_each(FaultSpec::validate)
        .map_err(|e| e.to_string())?;
    Ok(FaultList(specs))
}

impl Cli {
    fn config(&self) -> SimConfig {
        let source = match &self.csv {
            Some(path) => SourceConfig::Csv(path.clone()),
            None => SourceConfig::Generator(GeneratorConfig {
                customers: self.customers,
                days: self.days,
                start: self.start,
                seed: self.seed,
                episodes_per_card_year: self.fraud_episodes,
                drift: None,
            }),
        };
        SimConfig {
            source,
            batch_size: self.batch_size,
            rate: self.rate,
            include_label: !self.no_label,
            rate_limit: (self.rate_limit_per_minute > 0)
                .then(|| RateLimit::per_minute(self.rate_limit_per_minute)),
            faults: self.faults.iter().flat_map(|f| f.0.clone()).collect(),
        }
    }
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr, coloured only on a terminal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Completes on ctrl-c or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested; finishing calls in flight");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let config = cli.config();
    let listener = tokio::net::TcpListener::bind(cli.addr)
        .await
        .with_context(|| format!("cannot listen on {}", cli.addr))?;
    payments_sim::serve_with_shutdown(config, listener, shutdown_signal())
        .await
        .context("the payments simulator failed")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use payments_sim::Malformation;

    use super::*;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_serve_the_generator_one_labelled_payment_per_call_without_limit() {
        let config = Cli::try_parse_from(["payments-sim"]).unwrap().config();
        assert_eq!(config.batch_size, 1);
        assert_eq!(config.rate, 0.0);
        assert!(config.include_label);
        assert_eq!(config.rate_limit, None);
        assert!(matches!(config.source, SourceConfig::Generator(_)));
        assert!(config.faults.is_empty());
        assert_eq!(config, SimConfig::default(), "the library's defaults too");
    }

    #[test]
    fn no_label_and_rate_limit_flags_set_the_config() {
        let config =
            Cli::try_parse_from(["payments-sim", "--no-label", "--rate-limit-per-minute", "5"])
                .unwrap()
                .config();
        assert!(!config.include_label);
        assert_eq!(config.rate_limit, Some(RateLimit::per_minute(5)));
    }

    #[test]
    fn include_label_is_accepted_as_a_no_op_but_not_with_no_label() {
        let config = Cli::try_parse_from(["payments-sim", "--include-label"])
            .unwrap()
            .config();
        assert!(config.include_label);
        assert!(Cli::try_parse_from(["payments-sim", "--include-label", "--no-label"]).is_err());
    }

    #[test]
    fn csv_flag_selects_the_csv_source_and_faults_accumulate() {
        let cli = Cli::try_parse_from([
            "payments-sim",
            "--csv",
            "data/fraudTest.csv",
            "--include-label",
            "--fault",
            r#"{"status":500,"count":2}"#,
            "--fault",
            r#"[{"delay_ms":100},{"malformed":"truncated"}]"#,
        ])
        .unwrap();
        let config = cli.config();
        assert_eq!(
            config.source,
            SourceConfig::Csv("data/fraudTest.csv".into())
        );
        assert!(config.include_label);
        assert_eq!(
            config.faults,
            [
                FaultSpec::status(500, 2),
                FaultSpec::delay(std::time::Duration::from_millis(100), 1),
                FaultSpec::malformed(Malformation::Truncated, 1),
            ]
        );
    }

    #[test]
    fn invalid_startup_fault_is_refused_with_the_reason() {
        let err = Cli::try_parse_from(["payments-sim", "--fault", r#"{"count":3}"#]).unwrap_err();
        assert!(err.to_string().contains("at least one of"), "{err}");
    }
}
