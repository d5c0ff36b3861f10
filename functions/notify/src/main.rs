//! Lambda entry point of the notify function (SQS event source).
#![forbid(unsafe_code)]

use aws_lambda_events::event::sqs::SqsEvent;
use fraud_fn_notify::{Config, Notifier};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fraud_lambda::init_tracing();
    let notifier = Notifier::new(Config::from_env()?)?;
    let notifier = &notifier;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(notifier.handle(event.payload).await)
    }))
    .await
}
