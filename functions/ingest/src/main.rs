//! Lambda entry point of the ingest function (EventBridge schedule or direct invoke).
#![forbid(unsafe_code)]
// The poll future (HTTP client, S3 upload, Kafka producer, retries) nests deeper than
// rustc's default query depth of 128 when its layout is computed; 256 is rustc's own advice.
#![recursion_limit = "256"]

use fraud_fn_ingest::{Config, IngestRequest, Ingestor};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fraud_lambda::init_tracing();
    let config = Config::from_env()?;
    let s3 = fraud_aws::s3_client(&fraud_aws::aws_config().await);
    let ingestor = Ingestor::new(config, Some(s3))?;
    let ingestor = &ingestor;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // A schedule sends an EventBridge event: anything without `mode` means poll.
            let request: IngestRequest = serde_json::from_value(event.payload).unwrap_or_default();
            Ok::<_, Error>(ingestor.handle(request).await?)
        },
    ))
    .await
}
