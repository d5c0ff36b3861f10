//! Entry point of the train function. Without arguments: the Lambda function (Invoke
//! API, Function URL, Airflow). With `job`: one training run as a process or container
//! job (AWS Batch), see [`fraud_fn_train::job`].
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use fraud_fn_train::job::{self, Cli, Command};
use fraud_fn_train::{read_event, Caller, Config, Trainer};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<ExitCode, Error> {
    let cli = Cli::parse();
    fraud_lambda::init_tracing();
    match cli.command {
        Some(Command::Job(args)) => Ok(job::run(args).await),
        None => lambda().await.map(|()| ExitCode::SUCCESS),
    }
}

async fn lambda() -> Result<(), Error> {
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
