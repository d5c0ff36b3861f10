//! The built `fraud-train` binary as a process, the way AWS Batch (or a person) starts
//! it: `fraud-train job --request '<json>'` against S3 on LocalStack and the run log in
//! the local PostgreSQL. The run is recorded through the track function's Invoke API,
//! served here by the track function's own handler over a scratch database (the same
//! code the Lambda runs; only the Lambda runtime around it is not there). Also: bad
//! requests exit non-zero naming the field, and without arguments the binary is still
//! the Lambda function (it polls the Lambda Runtime API, served here by a fake).
//! Needs `make stack-up`; fails (never skips) without it.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use fraud_aws::ModelStore;
use fraud_db::scratch::ScratchDatabase;
use fraud_db::{Client, RunStore};
use fraud_fn_train::TrainResponse;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

mod common;

const BINARY: &str = env!("CARGO_BIN_EXE_fraud-train");

/// Serves `app` on a free port of 127.0.0.1; returns `http://127.0.0.1:<port>`.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

/// The Lambda Invoke API for `fraud-track`, answered by the track function's handler
/// over `db` (errors as Lambda reports them: the `X-Amz-Function-Error` header).
async fn track_invoke_api(db: Client) -> String {
    async fn invoke(
        State(db): State<Arc<Client>>,
        Path(name): Path<String>,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, Json<Value>) {
        // The SDK sends the payload as application/octet-stream: parse it by hand.
        let event: Value = serde_json::from_slice(&body).unwrap();
        let mut headers = HeaderMap::new();
        if name != "fraud-track" {
            return (
                StatusCode::NOT_FOUND,
                headers,
                Json(json!({"Type": "User", "Message": format!("Function not found: {name}")})),
            );
        }
        match fraud_fn_track::handle(&*db, event).await {
            Ok(answer) => (
                StatusCode::OK,
                headers,
                Json(serde_json::to_value(answer).unwrap()),
            ),
            Err(e) => {
                headers.insert("x-amz-function-error", "Unhandled".parse().unwrap());
                let d = fraud_fn_track::diagnostic(e);
                (
                    StatusCode::OK,
                    headers,
                    Json(json!({"errorType": d.error_type, "errorMessage": d.error_message})),
                )
            }
        }
    }
    serve(
        Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(Arc::new(db)),
    )
    .await
}

/// The binary with the train function's configuration; no request in the environment.
fn train(models_bucket: &str, lambda_endpoint: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env("FRAUD_MODELS_BUCKET", models_bucket)
        .env("TRACK_FUNCTION_NAME", "fraud-track")
        .env("AWS_ENDPOINT_URL_LAMBDA", lambda_endpoint)
        .env("RUST_LOG", "info")
        .env_remove("TRAIN_REQUEST")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::null());
    command
}

/// Runs the process to its end without holding up the servers on this runtime.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_trains_stores_the_artifact_and_records_the_run() {
    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("test-train-job").await;
    let db = ScratchDatabase::create().await;
    let lambda = track_invoke_api(db.migrated().await).await;
    let uri = common::upload_generated(&s3, &bucket, "train/data.csv", 300, 60).await;
    let request = json!({
        "data_uris": [uri],
        "trees": 30,
        "seed": 5,
        "learner": "cart"
    });

    let mut command = train(&bucket, &lambda);
    command.args(["job", "--request", &request.to_string()]);
    let out = run(command).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);

    // stdout is the response and nothing else; stderr ends with the summary.
    let response: TrainResponse = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a TrainResponse ({e}): {}", text(&out.stdout)));
    assert!(response.promoted, "{}", response.promotion_reason);
    assert!(response.tracked, "the run did not reach track:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "model {} (cart) trained on {} rows",
            response.model_version, response.rows
        )),
        "{stderr}"
    );

    // The artifact is in the models bucket and is the current model.
    let key = response
        .artifact_uri
        .strip_prefix(&format!("s3://{bucket}/"))
        .unwrap_or_else(|| panic!("artifact outside the bucket: {}", response.artifact_uri));
    let artifact = fraud_aws::get_bytes(&s3, &bucket, key).await.unwrap();
    assert!(
        artifact.is_some_and(|a| !a.is_empty()),
        "no artifact at {key}"
    );
    let store = ModelStore::new(s3.clone(), bucket.clone());
    assert_eq!(
        store.current().await.unwrap().unwrap().version,
        response.model_version
    );
    // The run is recorded as through the Lambda: beside the artifact and in the run log.
    let beside = fraud_aws::get_bytes(
        &s3,
        &bucket,
        &format!("models/{}/run.json", response.model_version),
    )
    .await
    .unwrap()
    .expect("run record beside the artifact");
    let beside: Value = serde_json::from_slice(&beside).unwrap();
    let client = db.connect().await;
    let logged = RunStore::new(&client)
        .get_run(&response.model_version)
        .await
        .unwrap()
        .expect("the run in the run log");
    assert_eq!(beside["model_version"], logged.model_version.as_str());
    assert_eq!(logged.artifact_uri, response.artifact_uri);
    assert_eq!(logged.pr_auc, response.test_pr_auc);
    assert!(logged.promoted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_exits_non_zero_naming_the_field() {
    fraud_aws::default_to_local_stack();
    // Nothing is trained, so nothing is invoked: an endpoint that refuses connections.
    let mut misspelled = train("fraud-models", "http://127.0.0.1:9");
    misspelled.args([
        "job",
        "--request",
        r#"{"data_uri":["s3://fraud-data/train.csv"]}"#,
    ]);
    let out = run(misspelled).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `data_uri`"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    // Through TRAIN_REQUEST, a request naming no data fails in training (status 1).
    let mut empty = train("fraud-models", "http://127.0.0.1:9");
    empty.arg("job").env("TRAIN_REQUEST", r#"{"data_uris":[]}"#);
    let out = run(empty).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`data_uris` is empty"), "{stderr}");

    // No request at all: clap's usage error names the three ways to pass one.
    let mut none = train("fraud-models", "http://127.0.0.1:9");
    none.arg("job");
    let out = run(none).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--request"), "{stderr}");
}

/// What the fake Lambda Runtime API saw the function answer.
#[derive(Clone)]
struct Runtime {
    next: Arc<Mutex<Option<Value>>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_arguments_it_is_the_lambda_function() {
    fraud_aws::default_to_local_stack();
    async fn next(State(rt): State<Runtime>) -> (HeaderMap, Json<Value>) {
        let Some(event) = rt.next.lock().await.take() else {
            // One invocation only: the next poll waits until the process is killed.
            std::future::pending::<()>().await;
            unreachable!()
        };
        let mut headers = HeaderMap::new();
        headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
        headers.insert(
            "lambda-runtime-deadline-ms",
            "9999999999999".parse().unwrap(),
        );
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:fraud-train"
                .parse()
                .unwrap(),
        );
        (headers, Json(event))
    }
    async fn answer(
        State(rt): State<Runtime>,
        Path((id, kind)): Path<(String, String)>,
        body: Bytes,
    ) -> StatusCode {
        let body = serde_json::from_slice(&body).unwrap_or_else(|_| json!(text(&body)));
        rt.answers.send((format!("{id}/{kind}"), body)).unwrap();
        StatusCode::ACCEPTED
    }
    let (answers, mut answered) = mpsc::unbounded_channel();
    let runtime = Runtime {
        // A misspelled request: answered without touching S3.
        next: Arc::new(Mutex::new(Some(
            json!({"data_uri": ["s3://fraud-data/x.csv"]}),
        ))),
        answers,
    };
    let api = serve(
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
            .with_state(runtime),
    )
    .await;

    let mut child = train("fraud-models", "http://127.0.0.1:9")
        .env("AWS_LAMBDA_RUNTIME_API", api.trim_start_matches("http://"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "fraud-train")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(60), answered.recv()).await;
    // Still polling for the next event (or gone): stop it and keep what it logged.
    let _ = child.kill();
    let logged = text(&child.wait_with_output().unwrap().stderr);
    let (path, body) = seen
        .unwrap_or_else(|_| panic!("the binary never answered the Runtime API:\n{logged}"))
        .unwrap();
    assert_eq!(path, "req-1/error", "{body}");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("unknown field `data_uri`"), "{body}");
}
