//! Lambda entry point of the track function: logging, configuration, one database
//! connection with the schema migrated at cold start, then the event loop. The logic
//! is in the library ([`fraud_fn_track::handle`]).
#![forbid(unsafe_code)]

use fraud_db::Tracking;
use fraud_fn_track::mlflow::MlflowMirror;
use fraud_fn_track::monitor::{monitor, AwsMonitor, MonitorConfig, MonitorRequest};
use fraud_fn_track::{diagnostic, handle_with, training_data, Config, TrackError};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // anyhow: a failed cold start prints the full message, not a `Debug` variant name.
    fraud_lambda::init_tracing();
    let aws = fraud_aws::aws_config().await;
    // DATABASE_URL, or the secret DATABASE_SECRET_ARN names (read once, here).
    fraud_aws::use_secrets(&aws, &[fraud_aws::secrets::DATABASE_URL]).await?;
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
    // Label CSVs are read from S3 (`{"action": "labels", "uri": "s3://…"}`).
    let s3 = fraud_aws::s3_client(&aws);
    // The monitor (`{"action": "monitor"}`): its settings, artifacts, reports and alerts.
    let monitor_config = MonitorConfig::from_env().map_err(anyhow::Error::msg)?;
    // Each monitored window's metrics also go to MLflow when runs are mirrored there.
    let monitor_io = AwsMonitor::new(&aws, &monitor_config).with_mirror(mirror.clone());
    let (client, config, mirror, s3) = (&client, &config, mirror.as_ref(), &s3);
    let (monitor_config, monitor_io) = (&monitor_config, &monitor_io);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let mut client = client.lock().await;
        fraud_db::reconnect_if_closed(&mut client, &config.database_url)
            .await
            .map_err(|e| diagnostic(TrackError::Store(e)))?;
        if event.payload.get("action").and_then(Value::as_str) == Some("monitor") {
            let request = MonitorRequest::from_event(
                event.payload,
                monitor_config.window_hours,
                chrono::Utc::now(),
            )
            .map_err(|e| diagnostic(e.widen()))?;
            let answer = monitor(
                &Tracking(&*client),
                &monitor_io.ports(),
                &monitor_config.thresholds,
                request,
            )
            .await
            .map_err(diagnostic)?;
            return Ok(serde_json::to_value(answer).expect("answers serialize"));
        }
        if event.payload.get("action").and_then(Value::as_str) == Some("training_data") {
            let answer = training_data(&*client, s3, config.data_bucket.as_deref(), event.payload)
                .await
                .map_err(diagnostic)?;
            return Ok(serde_json::to_value(answer).expect("answers serialize"));
        }
        let response = handle_with(&*client, event.payload, mirror, Some(s3))
            .await
            .map_err(diagnostic)?;
        Ok::<Value, lambda_runtime::Diagnostic>(
            serde_json::to_value(response).expect("responses serialize"),
        )
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
