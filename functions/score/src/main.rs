//! Lambda entry point of the score function: Kafka batches (the event source mapping),
//! Function URL requests and direct Invoke calls (one payment to decide).
#![forbid(unsafe_code)]

use fraud_fn_score::{Config, Scorer};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fraud_lambda::init_tracing();
    let aws = fraud_aws::aws_config().await;
    // DATABASE_URL, or the secret DATABASE_SECRET_ARN names (read once, here).
    fraud_aws::use_secrets(&aws, &[fraud_aws::secrets::DATABASE_URL]).await?;
    let config = Config::from_env()?;
    // Connects, migrates and loads the current model and rules (a missing model is not
    // fatal).
    let scorer = Scorer::new(config, &aws).await?;
    let scorer = &scorer;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, Error>(scorer.handle_event(event.payload).await?)
        },
    ))
    .await
}
