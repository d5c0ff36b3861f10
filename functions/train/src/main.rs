//! Lambda entry point of the train function (Invoke API, Function URL, Airflow).

use fraud_fn_train::{Config, TrainRequest, Trainer};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fraud_lambda::init_tracing();
    let trainer = Trainer::new(Config::from_env()?, &fraud_aws::aws_config().await);
    let trainer = &trainer;
    run(service_fn(
        move |event: LambdaEvent<TrainRequest>| async move {
            Ok::<_, Error>(trainer.handle(event.payload).await?)
        },
    ))
    .await
}
