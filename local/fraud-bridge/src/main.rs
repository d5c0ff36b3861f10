//! `fraud-bridge`: the event source mappings AWS would run, for the local stack.
//!
//! LocalStack's community edition has no self-managed Kafka event source, and here it
//! cannot run Lambda at all (no Docker), so locally our functions are served by
//! `cargo lambda watch` behind the real Lambda Invoke API and this bridge plays the
//! event source mapping's part, with the same semantics:
//!
//! - `kafka`: consume a topic in a consumer group, build a real `SelfManagedKafka`
//!   event (base64 keys and values, records grouped by `topic-partition`), invoke the
//!   function, retry the records it reports in `batchItemFailures` (or the whole batch
//!   on a function error) with backoff, dead-letter what still fails after
//!   `--max-retries`, and only then commit the offsets. Like the ESM, each polled batch
//!   is split by partition and the partitions are invoked concurrently (in offset order
//!   within each, each with its own retries) with `--concurrency 0` (or N, a cap; the
//!   default, 1, is one invocation per batch); the offsets are committed once every partition's records are done.
//! - `sqs`: receive up to 10 messages, invoke with a real SQS event, delete the ones
//!   not reported as failures; failures become visible again after the visibility
//!   timeout, and the queue's redrive policy moves them to the DLQ after maxReceiveCount.
//!
//! For the end-to-end latency benchmark (`bench/latency.sh`) it also has `produce`, a
//! paced fixed-rate payments producer, and `latency`, which reads a scored topic and
//! reports publish → scored and publish → alert latency percentiles.
#![forbid(unsafe_code)]

mod kafka;
mod latency;
mod produce;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_lambda::primitives::Blob;
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "fraud-bridge",
    version,
    about = "Local event source mappings: Kafka → score, SQS → notify, via the Lambda Invoke API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Kafka topic → function (like a self-managed Kafka event source mapping).
    Kafka(kafka::KafkaArgs),
    /// SQS queue → function (like an SQS event source mapping with ReportBatchItemFailures).
    Sqs(SqsArgs),
    /// A webhook receiver for local runs: verifies each alert's HMAC signature and
    /// appends it to a JSON-lines file.
    WebhookSink(SinkArgs),
    /// Publish payments from a CSV at a fixed rate, paced, as ingest does (benchmarks).
    Produce(produce::ProduceArgs),
    /// Read a scored topic after a run: publish → scored (and → alert) latency percentiles.
    Latency(latency::LatencyArgs),
}

#[derive(Args)]
struct SinkArgs {
    #[arg(long, default_value = "127.0.0.1:8001")]
    addr: String,
    /// HMAC key the notify function signs with.
    #[arg(long, env = "WEBHOOK_SECRET")]
    secret: String,
    /// File the verified alerts are appended to.
    #[arg(long, default_value = "out/alerts.jsonl")]
    out: std::path::PathBuf,
}

#[derive(Args, Clone)]
struct Common {
    /// Function to invoke.
    #[arg(long)]
    function: String,
    /// Lambda Invoke API endpoint (`cargo lambda watch`, LocalStack, or unset for AWS).
    #[arg(long, env = "LAMBDA_ENDPOINT_URL")]
    lambda_endpoint: Option<String>,
    /// Stop after this many seconds without messages (0 = run until interrupted).
    #[arg(long, default_value_t = 0)]
    idle_exit_secs: u64,
    /// Give up on an invocation after this many seconds and treat it as failed (the
    /// function's timeout, in Lambda terms). Without it, an invocation whose function
    /// process died (killed, crashed) under `cargo lambda watch` is never answered and
    /// the bridge waits forever.
    #[arg(long, default_value_t = 120)]
    invoke_timeout_secs: u64,
}

#[derive(Args)]
struct SqsArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, env = "FRAUD_ALERTS_QUEUE_URL")]
    queue_url: String,
    #[arg(long, default_value_t = 10)]
    batch_size: i32,
    /// Seconds a received message stays invisible (failed ones come back after it).
    #[arg(long, default_value_t = 30)]
    visibility_timeout: i32,
}

#[tokio::main]
async fn main() -> Result<()> {
    fraud_lambda::init_tracing();
    let cli = Cli::parse();
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    match cli.command {
        Command::Kafka(args) => kafka::run(args, &aws).await,
        Command::Sqs(args) => run_sqs(args, &aws).await,
        Command::WebhookSink(args) => sink::run(args).await,
        Command::Produce(args) => produce::run(args).await,
        Command::Latency(args) => latency::run(args).await,
    }
}

fn lambda_client(
    aws: &aws_config::SdkConfig,
    endpoint: Option<&str>,
    invoke_timeout: Duration,
) -> aws_sdk_lambda::Client {
    let mut builder = aws_sdk_lambda::config::Builder::from(aws).timeout_config(
        aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
            .operation_timeout(invoke_timeout)
            .build(),
    );
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_lambda::Client::from_conf(builder.build())
}

/// Invokes a function; `Err` for a transport failure or a function error.
async fn invoke(client: &aws_sdk_lambda::Client, function: &str, event: &Value) -> Result<Value> {
    let out = client
        .invoke()
        .function_name(function)
        .payload(Blob::new(serde_json::to_vec(event)?))
        .send()
        .await
        .with_context(|| format!("invoking {function}"))?;
    let body = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    if let Some(kind) = out.function_error() {
        bail!(
            "{function} failed ({kind}): {}",
            String::from_utf8_lossy(&body)
        );
    }
    let response: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(kind) = lambda_error(&response) {
        // Lambda marks a failed invocation with X-Amz-Function-Error; an emulator that
        // forgets the header still answers with the runtime's error document, and taking
        // that for success would commit records nobody processed.
        bail!("{function} failed ({kind}): {response}");
    }
    Ok(response)
}

/// The runtime's error document (`errorType`/`errorMessage`), if the body is one.
fn lambda_error(response: &Value) -> Option<String> {
    let obj = response.as_object()?;
    if !obj.contains_key("errorType") && !obj.contains_key("errorMessage") {
        return None;
    }
    Some(
        obj.get("errorType")
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_owned(),
    )
}

/// Identifiers listed in a response's `batchItemFailures`.
fn failed_items(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn run_sqs(args: SqsArgs, aws: &aws_config::SdkConfig) -> Result<()> {
    let lambda = lambda_client(
        aws,
        args.common.lambda_endpoint.as_deref(),
        Duration::from_secs(args.common.invoke_timeout_secs),
    );
    let sqs = aws_sdk_sqs::Client::new(aws);
    let arn = format!(
        "arn:aws:sqs:{}:000000000000:{}",
        aws.region().map(|r| r.to_string()).unwrap_or_default(),
        args.queue_url.rsplit('/').next().unwrap_or_default()
    );
    tracing::info!(queue = %args.queue_url, function = %args.common.function, "sqs bridge started");
    let mut last_message = Instant::now();
    let (mut delivered, mut failed_total) = (0u64, 0u64);
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&args.queue_url)
            .max_number_of_messages(args.batch_size.clamp(1, 10))
            .wait_time_seconds(1)
            .visibility_timeout(args.visibility_timeout)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .context("receiving from SQS")?;
        let messages = out.messages();
        if messages.is_empty() {
            if args.common.idle_exit_secs > 0
                && last_message.elapsed() > Duration::from_secs(args.common.idle_exit_secs)
            {
                break;
            }
            continue;
        }
        last_message = Instant::now();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": aws.region().map(|r| r.to_string()),
                })
            })
            .collect();
        let failed = match invoke(
            &lambda,
            &args.common.function,
            &json!({ "Records": records }),
        )
        .await
        {
            Ok(response) => failed_items(&response),
            Err(e) => {
                tracing::warn!(error = %e, "invocation failed; every message will be retried");
                messages
                    .iter()
                    .filter_map(|m| m.message_id().map(str::to_owned))
                    .collect()
            }
        };
        for m in messages {
            if m.message_id()
                .is_some_and(|id| failed.iter().any(|f| f == id))
            {
                failed_total += 1;
                continue;
            }
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(&args.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .context("deleting a delivered message")?;
                delivered += 1;
            }
        }
    }
    println!("sqs bridge: {delivered} messages delivered to {}, {failed_total} deliveries failed (retried by SQS)", args.common.function);
    Ok(())
}

mod sink {
    //! Receives webhook calls, checks the signature in constant time, keeps the alert.
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use anyhow::{Context, Result};
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::Router;

    struct Sink {
        secret: String,
        file: Mutex<std::fs::File>,
        seen: Mutex<std::collections::HashSet<String>>,
    }

    fn valid(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
        fraud_core::webhook::verify_headers(
            secret,
            |name| headers.get(name).and_then(|v| v.to_str().ok()),
            body,
        )
    }

    async fn receive(
        State(sink): State<Arc<Sink>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        if !valid(&sink.secret, &headers, &body) {
            return StatusCode::UNAUTHORIZED;
        }
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !sink.seen.lock().expect("not poisoned").insert(key) {
            return StatusCode::OK; // duplicate delivery: acknowledged, not recorded twice
        }
        // Keep the alert as sent, plus when it arrived (for ingest → alert latency).
        let mut record: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return StatusCode::BAD_REQUEST,
        };
        record["received_at_ms"] = serde_json::json!(chrono::Utc::now().timestamp_millis());
        let line = serde_json::to_vec(&record).expect("JSON values serialize");
        let mut file = sink.file.lock().expect("not poisoned");
        if file
            .write_all(&line)
            .and_then(|_| file.write_all(b"\n"))
            .and_then(|_| file.flush())
            .is_err()
        {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        StatusCode::OK
    }

    pub async fn run(args: super::SinkArgs) -> Result<()> {
        if let Some(dir) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&args.out)
            .with_context(|| format!("cannot open {}", args.out.display()))?;
        let sink = Arc::new(Sink {
            secret: args.secret,
            file: Mutex::new(file),
            seen: Default::default(),
        });
        let app = Router::new()
            .route("/alerts", post(receive))
            .route("/health", get(|| async { "ok" }))
            .with_state(sink);
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .with_context(|| format!("cannot listen on {} (is it taken?)", args.addr))?;
        tracing::info!(addr = %args.addr, out = %args.out.display(), "webhook sink listening on /alerts");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_error_document_is_a_failed_invocation() {
        let body = json!({"errorType": "&lambda_runtime::Error", "errorMessage": "db down"});
        assert_eq!(
            lambda_error(&body).as_deref(),
            Some("&lambda_runtime::Error")
        );
        assert_eq!(
            lambda_error(&json!({"errorMessage": "boom"})).as_deref(),
            Some("error")
        );
    }

    #[test]
    fn a_normal_response_is_not_an_error() {
        assert_eq!(
            lambda_error(&json!({"scored": 3, "batchItemFailures": []})),
            None
        );
        assert_eq!(lambda_error(&Value::Null), None);
        assert_eq!(lambda_error(&json!([1, 2])), None);
    }
}
