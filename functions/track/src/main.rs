//! Lambda entry point of the track function: logging, configuration, one database
//! connection with the schema migrated at cold start, then the event loop. The logic
//! is in the library ([`fraud_fn_track::handle`]).
#![forbid(unsafe_code)]

use fraud_fn_track::mlflow::MlflowMirror;
use fraud_fn_track::{handle_with_mirror, Config, TrackError};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // anyhow: a failed cold start prints the full message, not a `Debug` variant name.
    init_tracing();
    let aws = fraud_aws::aws_config().await;
    // DATABASE_URL, or the secret DATABASE_SECRET_ARN names (read once, here).
    let secrets = [fraud_aws::secrets::DATABASE_URL];
    fraud_lambda::use_resolved_secrets(
        fraud_aws::resolve_secrets(&aws, &secrets, fraud_lambda::lookup).await?,
    );
    let config = Config::from_env()?;
    let mut client = fraud_db::connect(&config.database_url).await?;
    let applied = fraud_db::migrate(&mut client).await?;
    tracing::info!(applied, "database schema up to date");

    // Lambda runs one invocation at a time per instance; the mutex only lets the
    // handler replace a connection the server closed while the instance was frozen.
    let mirror = config.mlflow.clone().map(MlflowMirror::new).transpose()?;
    if let Some(mlflow) = &config.mlflow {
        tracing::info!(tracking_uri = %mlflow.tracking_uri, experiment = %mlflow.experiment, "mirroring runs to MLflow");
    }
    let client = Mutex::new(client);
    let (client, config, mirror) = (&client, &config, mirror.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let mut client = client.lock().await;
        if client.is_closed() {
            tracing::warn!("PostgreSQL connection was closed; reconnecting");
            *client = fraud_db::connect(&config.database_url)
                .await
                .map_err(TrackError::from)?;
        }
        handle_with_mirror(&*client, event.payload, mirror).await
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

/// JSON lines in Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set), readable text elsewhere;
/// level from `RUST_LOG`, `info` by default.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // CloudWatch stamps every line already.
        logs.json().flatten_event(true).without_time().init();
    } else {
        logs.pretty().init();
    }
}
