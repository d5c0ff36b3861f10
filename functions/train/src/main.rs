//! Lambda entry point of the train function (Invoke API, Function URL, Airflow).
#![forbid(unsafe_code)]

use fraud_fn_train::{read_event, Caller, Config, Trainer};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fraud_lambda::init_tracing();
    let trainer = Trainer::new(Config::from_env()?, &fraud_aws::aws_config().await);
    let trainer = &trainer;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (request, caller) = read_event(event.payload)?;
        let result = trainer.handle(request).await;
        match caller {
            Caller::Invoke => Ok::<Value, Error>(serde_json::to_value(result?)?),
            // A Function URL caller gets an HTTP answer, errors included.
            Caller::FunctionUrl => Ok(match result {
                Ok(response) => json!({"statusCode": 200, "headers": {"content-type": "application/json"}, "body": serde_json::to_string(&response)?}),
                Err(e) => json!({"statusCode": 400, "headers": {"content-type": "application/json"}, "body": json!({"error": e.to_string()}).to_string()}),
            }),
        }
    }))
    .await
}
