//! Lambda entry point of the notify function (SQS event source).
#![forbid(unsafe_code)]

use aws_lambda_events::event::sqs::SqsEvent;
use fraud_fn_notify::{Config, Notifier};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fraud_lambda::init_tracing();
    let aws = fraud_aws::aws_config().await;
    // WEBHOOK_SECRET, or the secret WEBHOOK_SECRET_ARN names (read once, here).
    fraud_aws::use_secrets(&aws, &[fraud_aws::secrets::WEBHOOK_SECRET]).await?;
    let notifier = Notifier::new(Config::from_env()?, &aws)?;
    let notifier = &notifier;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(notifier.handle(event.payload).await)
    }))
    .await
}
