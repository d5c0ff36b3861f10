//! `lambda-process-init`: started by LocalStack's process executor, one per execution
//! environment. Configuration comes from the environment (see `config.rs`).
//!
//! The same binary is also the exec stage that turns into a bootstrap (see `child.rs`).

#![forbid(unsafe_code)]

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    // Started by ourselves to become a bootstrap: does not return.
    lambda_process_init::child::exec_stage_if_requested();
    let filter = tracing_subscriber::EnvFilter::try_from_env("LAMBDA_PROCESS_INIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let cfg =
        lambda_process_init::Config::from_env().context("lambda-process-init configuration")?;
    // One thread: the init only shuttles bytes, and its log barrier relies on it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the Tokio runtime")?;
    runtime.block_on(lambda_process_init::run(cfg))?;
    Ok(())
}
