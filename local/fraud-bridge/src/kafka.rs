//! `fraud-bridge kafka`: a Kafka topic → a function, as a self-managed Kafka event source
//! mapping does it (see the crate's documentation for the semantics).

use fraud_lambda::retry::RetryBudget;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::Args;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use serde_json::{json, Value};

use crate::{failed_items, invoke, lambda_client, latency, Common};

mod catch_up;
#[derive(Args)]
pub struct KafkaArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    #[arg(long, default_value = "payments")]
    topic: String,
    #[arg(long, default_value = "fraud-score-bridge")]
    group: String,
    /// Most records per invocation.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Longest wait to fill a batch.
    #[arg(long, default_value_t = 200)]
    max_wait_ms: u64,
    /// Retries of failing records before they are dead-lettered.
    #[arg(long, default_value_t = 3)]
    max_retries: u32,
    #[arg(long, default_value = "payments.dlq")]
    dlq_topic: String,
    /// Longest the broker may hold a fetch when it has no new data (librdkafka's
    /// `fetch.wait.max.ms`; its default, 500, when unset). A broker that answers a fetch
    /// only when this runs out adds up to this much latency per record.
    #[arg(long)]
    fetch_wait_max_ms: Option<u32>,
    /// Most invocations in flight per polled batch. The batch is split by partition (in
    /// offset order within each), partitions are spread over this many invocations that
    /// run concurrently, each with its own retry / dead-letter loop, and offsets are
    /// committed once all are done. 0 = one invocation per partition, as AWS's Kafka
    /// event source mapping does; 1 (the default) = the whole batch in one invocation.
    /// Off by default: on the 2-core local stack, 1k msg/s, it measured slower (publish →
    /// scored p50 81 vs 52 ms, p99 830 vs 497 ms; BENCHMARKS.md). `cargo lambda watch`
    /// needs `--concurrency` at least this high, or it serializes the invocations.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
}

/// Running totals of what the function said it did: its numeric top-level fields
/// (e.g. the score function's `scored`, `duplicates`, `dead_lettered`) and the model
/// versions it named, for the bridge's closing summary.
#[derive(Default)]
struct Reported {
    counts: BTreeMap<String, u64>,
    versions: BTreeMap<String, u64>,
}

impl Reported {
    fn add(&mut self, response: &Value) {
        let Some(obj) = response.as_object() else {
            return;
        };
        for (key, value) in obj {
            if let Some(n) = value.as_u64() {
                *self.counts.entry(key.clone()).or_default() += n;
            }
        }
        if let Some(v) = obj.get("model_version").and_then(Value::as_str) {
            *self.versions.entry(v.to_owned()).or_default() += 1;
        }
    }

    fn summary(&self, function: &str) -> String {
        if self.counts.is_empty() && self.versions.is_empty() {
            return String::new();
        }
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut line = format!("; {function} reported {}", counts.join(" "));
        if !self.versions.is_empty() {
            let versions: Vec<String> = self
                .versions
                .iter()
                .map(|(v, n)| format!("{v} (x{n})"))
                .collect();
            line.push_str(&format!("; model versions {}", versions.join(", ")));
        }
        line
    }
}

/// Where the Kafka bridge's time goes, per batch: how many records, each invocation
/// (the function's work plus the Invoke API round trip), how many invocations the batch
/// was split into, the whole batch (all its invocations, concurrent, with retries, and
/// dead letters) and the offset commit.
#[derive(Default)]
struct BatchTimings {
    batch_sizes: Vec<usize>,
    invoke_ms: Vec<f64>,
    commit_ms: Vec<f64>,
    lanes: Vec<usize>,
    batch_ms: Vec<f64>,
}

impl BatchTimings {
    fn summary(&self) -> String {
        if self.batch_sizes.is_empty() {
            return String::new();
        }
        let quantiles = |values: &[f64]| {
            let mut v = values.to_vec();
            v.sort_by(f64::total_cmp);
            let at = |q: f64| v[latency::nearest_rank(v.len(), q) - 1];
            format!(
                "p50 {:.1} / p99 {:.1} / max {:.1} ms",
                at(0.5),
                at(0.99),
                at(1.0)
            )
        };
        let records: usize = self.batch_sizes.iter().sum();
        // bench/latency_report.py parses this line up to the offset commit: keep its shape.
        let mut line = format!(
            "; batches: mean {:.1} records (max {}), invoke {}, offset commit {}",
            records as f64 / self.batch_sizes.len() as f64,
            self.batch_sizes.iter().max().copied().unwrap_or(0),
            quantiles(&self.invoke_ms),
            quantiles(&self.commit_ms)
        );
        if !self.lanes.is_empty() && !self.batch_ms.is_empty() {
            line.push_str(&format!(
                "; per batch: mean {:.1} concurrent invocations (max {}), all done {}",
                self.lanes.iter().sum::<usize>() as f64 / self.lanes.len() as f64,
                self.lanes.iter().max().copied().unwrap_or(0),
                quantiles(&self.batch_ms)
            ));
        }
        line
    }
}

/// One Kafka record, owned, with what the event needs.
#[derive(Clone)]
struct Record {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

impl Record {
    fn from_message(m: &BorrowedMessage<'_>) -> Self {
        Record {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp: m.timestamp().to_millis().unwrap_or(0),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
        }
    }

    fn id(&self) -> String {
        format!("{}-{}@{}", self.topic, self.partition, self.offset)
    }
}

/// The event a self-managed Kafka event source mapping sends.
fn kafka_event(brokers: &str, records: &[Record]) -> Value {
    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in records {
        groups
            .entry(format!("{}-{}", r.topic, r.partition))
            .or_default()
            .push(json!({
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": r.timestamp,
                "timestampType": "CREATE_TIME",
                "key": r.key.as_ref().map(|k| B64.encode(k)),
                "value": r.value.as_ref().map(|v| B64.encode(v)),
                "headers": [],
            }));
    }
    json!({ "eventSource": "SelfManagedKafka", "bootstrapServers": brokers, "records": groups })
}

/// Splits a polled batch into the records of each concurrent invocation ("lane"): records
/// grouped by topic-partition, each partition in offset order and wholly in one lane, the
/// partitions dealt round robin over at most `concurrency` lanes (0 = one per partition).
/// A record is never split from the ones before it in its partition, so every partition
/// is processed in order, as the event source mapping does.
fn split_by_partition(batch: Vec<Record>, concurrency: usize) -> Vec<Vec<Record>> {
    let mut partitions: BTreeMap<(String, i32), Vec<Record>> = BTreeMap::new();
    for r in batch {
        partitions
            .entry((r.topic.clone(), r.partition))
            .or_default()
            .push(r);
    }
    let lanes = match concurrency {
        0 => partitions.len(),
        n => n.min(partitions.len()),
    };
    let mut out: Vec<Vec<Record>> = vec![Vec::new(); lanes];
    for (i, (_, mut records)) in partitions.into_iter().enumerate() {
        records.sort_by_key(|r| r.offset);
        out[i % lanes].extend(records);
    }
    out
}

/// What one lane's invocations came to: its responses, the time of each invocation, and
/// the records it gave up on (with the reason), to be dead-lettered before the commit.
#[derive(Default)]
struct LaneOutcome {
    invocations: u64,
    responses: Vec<Value>,
    invoke_ms: Vec<f64>,
    dead: Vec<(Record, String)>,
}

/// One lane's records through the function: invoke, retry what it reports in
/// `batchItemFailures` (or everything, on a failed invocation) with the shared retry
/// policy's backoff from `backoff`, and after `max_retries` retries hand the rest back as
/// dead letters.
async fn deliver<F, Fut>(
    mut pending: Vec<Record>,
    function: &str,
    max_retries: u32,
    backoff: Duration,
    invoke_fn: F,
) -> LaneOutcome
where
    F: Fn(Vec<Record>) -> Fut,
    Fut: std::future::Future<Output = Result<Value>>,
{
    let mut out = LaneOutcome::default();
    let mut attempt = 0;
    // The shared policy's waits; when they run out, so do the retries.
    let mut waits = RetryBudget::new(max_retries.saturating_add(1), backoff).delays();
    while !pending.is_empty() {
        out.invocations += 1;
        let invoked = Instant::now();
        let outcome = invoke_fn(pending.clone()).await;
        out.invoke_ms.push(invoked.elapsed().as_secs_f64() * 1e3);
        let failed: Vec<String> = match &outcome {
            Ok(response) => {
                out.responses.push(response.clone());
                failed_items(response)
            }
            Err(e) => {
                tracing::warn!(error = %e, records = pending.len(), attempt, "invocation failed");
                pending.iter().map(Record::id).collect()
            }
        };
        pending.retain(|r| failed.contains(&r.id()));
        if pending.is_empty() {
            break;
        }
        attempt += 1;
        let Some(wait) = waits.next() else {
            let reason = match &outcome {
                Err(e) => format!("{function} failed after {attempt} attempts: {e}"),
                Ok(_) => format!("{function} reported the record as failed {attempt} times"),
            };
            tracing::error!(records = pending.len(), reason = %reason, "records dead-lettered");
            out.dead = pending.into_iter().map(|r| (r, reason.clone())).collect();
            break;
        };
        tokio::time::sleep(wait).await;
    }
    out
}

/// Adds the lanes of one batch to the bridge's running totals; returns the dead letters
/// of all lanes, in lane order.
fn merge_lanes(
    lanes: Vec<LaneOutcome>,
    invocations: &mut u64,
    reported: &mut Reported,
    timings: &mut BatchTimings,
) -> Vec<(Record, String)> {
    timings.lanes.push(lanes.len());
    let mut dead = Vec::new();
    for lane in lanes {
        *invocations += lane.invocations;
        for response in &lane.responses {
            reported.add(response);
        }
        timings.invoke_ms.extend(lane.invoke_ms);
        dead.extend(lane.dead);
    }
    dead
}

/// How many idle times the Kafka bridge waits, at most, for its consumer to catch up.
const IDLE_EXIT_CAP: u32 = 5;

/// How long a catch-up probe reads before it concludes there is nothing left.
const PROBE_WAIT: Duration = Duration::from_secs(2);

pub async fn run(args: KafkaArgs, aws: &aws_config::SdkConfig) -> Result<()> {
    let lambda = lambda_client(
        aws,
        args.common.lambda_endpoint.as_deref(),
        Duration::from_secs(args.common.invoke_timeout_secs),
    );
    let consumer = match args.fetch_wait_max_ms {
        None => fraud_kafka::consumer(&args.brokers, &args.group)?,
        Some(ms) => fraud_kafka::consumer_config(&args.brokers, &args.group)
            .set("fetch.wait.max.ms", ms.to_string())
            .create()
            .context("creating the Kafka consumer")?,
    };
    consumer.subscribe(&[&args.topic])?;
    let broker = catch_up::LiveBroker::new(&consumer, &args.brokers, &args.group)?;
    let producer = fraud_kafka::producer(&args.brokers)?;
    tracing::info!(topic = %args.topic, group = %args.group, function = %args.common.function, "kafka bridge started");
    let mut last_message = Instant::now();
    let (mut invocations, mut records_total, mut dead) = (0u64, 0u64, 0u64);
    let mut reported = Reported::default();
    let mut timings = BatchTimings::default();
    let mut assigned = false;
    // Ctrl-C / SIGINT: finish the batch in hand, commit it, print the summary, stop.
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    loop {
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        if !assigned && consumer.assignment().is_ok_and(|a| a.count() > 0) {
            // Benchmarks wait for this line before they start publishing.
            assigned = true;
            tracing::info!(topic = %args.topic, "partitions assigned");
        }
        let mut batch = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(args.max_wait_ms);
        while batch.len() < args.batch_size {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, consumer.recv()).await {
                Ok(Ok(m)) => batch.push(Record::from_message(&m)),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "kafka receive error");
                    break;
                }
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            let idle = last_message.elapsed();
            let limit = Duration::from_secs(args.common.idle_exit_secs);
            // Idle only counts once the consumer holds its partitions and a read at its
            // next offset in each finds nothing (the broker's high watermark is not
            // trusted: catch_up.rs): after a broker restart, rejoining the group can take
            // longer than the idle time, and leaving then would strand the rest of the
            // topic. A hard cap (IDLE_EXIT_CAP × the idle time) keeps the exit bounded.
            if args.common.idle_exit_secs > 0
                && idle > limit
                && (idle > limit * IDLE_EXIT_CAP || catch_up::caught_up(&broker, PROBE_WAIT))
            {
                break;
            }
            continue;
        }
        last_message = Instant::now();
        records_total += batch.len() as u64;
        timings.batch_sizes.push(batch.len());
        let started = Instant::now();
        let lanes = split_by_partition(batch, args.concurrency);
        let outcomes = futures::future::join_all(lanes.into_iter().map(|records| {
            deliver(
                records,
                &args.common.function,
                args.max_retries,
                Duration::from_millis(200),
                |records: Vec<Record>| {
                    let event = kafka_event(&args.brokers, &records);
                    let (lambda, function) = (&lambda, &args.common.function);
                    async move { invoke(lambda, function, &event).await }
                },
            )
        }))
        .await;
        let letters = merge_lanes(outcomes, &mut invocations, &mut reported, &mut timings);
        if !letters.is_empty() {
            let count = letters.len();
            let letters: Vec<_> = letters
                .into_iter()
                .map(|(r, reason)| {
                    fraud_kafka::DeadLetter::new(
                        "bridge",
                        &r.id(),
                        reason,
                        None,
                        String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                            .into_owned(),
                    )
                })
                .collect();
            fraud_kafka::publish_dead_letters(&producer, &args.dlq_topic, &letters).await?;
            dead += count as u64;
        }
        timings.batch_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let committing = Instant::now();
        let committed = consumer.commit_consumer_state(CommitMode::Sync);
        timings
            .commit_ms
            .push(committing.elapsed().as_secs_f64() * 1e3);
        if let Err(e) = committed {
            // A broker restart or rebalance loses the assignment: the consumer rejoins
            // and resumes from the last committed offset, so this batch may be delivered
            // again (the score ledger makes that harmless). Stopping here would leave the
            // rest of the topic unconsumed.
            tracing::warn!(error = %e, "offset commit failed; the batch may be redelivered");
        }
    }
    println!(
        "kafka bridge: {records_total} records, {invocations} invocations of {}, {dead} dead-lettered{}",
        args.common.function,
        reported.summary(&args.common.function) + &timings.summary()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reported_counts_add_up_across_invocations() {
        let mut r = Reported::default();
        r.add(&json!({"received": 50, "scored": 48, "duplicates": 2, "model_version": "m1", "batchItemFailures": []}));
        r.add(&json!({"received": 10, "scored": 10, "duplicates": 0, "model_version": "m1"}));
        r.add(&json!({"received": 5, "scored": 0, "duplicates": 5, "model_version": "m0"}));
        assert_eq!(
            r.summary("fraud-score"),
            "; fraud-score reported duplicates=7 received=65 scored=58; model versions m0 (x1), m1 (x2)"
        );
        assert_eq!(Reported::default().summary("f"), "");
    }

    fn rec(partition: i32, offset: i64) -> Record {
        Record {
            topic: "payments".into(),
            partition,
            offset,
            timestamp: 0,
            key: None,
            value: Some(format!("p{partition}o{offset}").into_bytes()),
        }
    }

    fn ids(lane: &[Record]) -> Vec<String> {
        lane.iter().map(Record::id).collect()
    }

    /// A batch as the consumer hands it over: partitions interleaved.
    fn interleaved() -> Vec<Record> {
        vec![
            rec(2, 7),
            rec(0, 10),
            rec(1, 3),
            rec(0, 11),
            rec(2, 8),
            rec(0, 12),
        ]
    }

    #[test]
    fn each_partition_gets_its_own_invocation_in_offset_order_by_default() {
        let lanes = split_by_partition(interleaved(), 0);
        assert_eq!(lanes.len(), 3);
        assert_eq!(
            ids(&lanes[0]),
            ["payments-0@10", "payments-0@11", "payments-0@12"]
        );
        assert_eq!(ids(&lanes[1]), ["payments-1@3"]);
        assert_eq!(ids(&lanes[2]), ["payments-2@7", "payments-2@8"]);
    }

    #[test]
    fn concurrency_one_keeps_the_whole_batch_in_one_invocation() {
        let lanes = split_by_partition(interleaved(), 1);
        assert_eq!(lanes.len(), 1);
        assert_eq!(lanes[0].len(), 6);
        // The event groups by partition anyway; each partition stays in offset order.
        let event = kafka_event("b", &lanes[0]);
        let offsets: Vec<i64> = event["records"]["payments-0"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["offset"].as_i64().unwrap())
            .collect();
        assert_eq!(offsets, [10, 11, 12]);
    }

    #[test]
    fn a_concurrency_cap_spreads_whole_partitions_over_fewer_invocations() {
        let lanes = split_by_partition(interleaved(), 2);
        assert_eq!(lanes.len(), 2);
        assert_eq!(
            ids(&lanes[0]),
            [
                "payments-0@10",
                "payments-0@11",
                "payments-0@12",
                "payments-2@7",
                "payments-2@8"
            ]
        );
        assert_eq!(ids(&lanes[1]), ["payments-1@3"]);
        // A cap above the partition count is one invocation per partition.
        assert_eq!(split_by_partition(interleaved(), 8).len(), 3);
        assert!(split_by_partition(Vec::new(), 0).is_empty());
    }

    #[test]
    fn the_split_loses_and_duplicates_no_record() {
        for concurrency in 0..5 {
            let mut all: Vec<String> = split_by_partition(interleaved(), concurrency)
                .iter()
                .flat_map(|l| ids(l))
                .collect();
            all.sort();
            let mut expected = ids(&interleaved());
            expected.sort();
            assert_eq!(all, expected, "concurrency {concurrency}");
        }
    }

    #[tokio::test]
    async fn a_lane_retries_only_the_reported_failures_then_succeeds() {
        let calls = std::sync::Mutex::new(Vec::new());
        let out = deliver(
            vec![rec(0, 1), rec(0, 2), rec(0, 3)],
            "score",
            3,
            Duration::from_millis(1),
            |records: Vec<Record>| {
                calls.lock().unwrap().push(ids(&records));
                let first = calls.lock().unwrap().len() == 1;
                async move {
                    Ok(if first {
                        json!({"scored": 2, "batchItemFailures": [{"itemIdentifier": "payments-0@2"}]})
                    } else {
                        json!({"scored": 1, "batchItemFailures": []})
                    })
                }
            },
        )
        .await;
        assert_eq!(out.invocations, 2);
        assert!(out.dead.is_empty());
        assert_eq!(out.invoke_ms.len(), 2);
        assert_eq!(
            *calls.lock().unwrap(),
            vec![
                vec!["payments-0@1", "payments-0@2", "payments-0@3"],
                vec!["payments-0@2"]
            ]
        );
    }

    #[tokio::test]
    async fn a_lane_that_keeps_failing_dead_letters_after_max_retries() {
        let out = deliver(
            vec![rec(1, 5), rec(1, 6)],
            "score",
            2,
            Duration::from_millis(1),
            |_records: Vec<Record>| async { Err(anyhow::anyhow!("connection refused")) },
        )
        .await;
        assert_eq!(out.invocations, 3, "the first attempt and two retries");
        assert!(out.responses.is_empty());
        let dead: Vec<String> = out.dead.iter().map(|(r, _)| r.id()).collect();
        assert_eq!(dead, ["payments-1@5", "payments-1@6"]);
        assert!(out.dead[0].1.contains("failed after 3 attempts"));
    }

    #[tokio::test]
    async fn concurrent_lanes_retry_independently_and_merge_into_one_batch() {
        // Partition 1's invocation fails once; partitions 0 and 2 are done first time.
        let failed_once = std::sync::atomic::AtomicBool::new(false);
        let lanes = split_by_partition(interleaved(), 0);
        let invoke_fn = |records: Vec<Record>| {
            let fail = records[0].partition == 1
                && !failed_once.swap(true, std::sync::atomic::Ordering::SeqCst);
            let n = records.len() as u64;
            async move {
                if fail {
                    Err(anyhow::anyhow!("killed"))
                } else {
                    Ok(json!({"received": n, "scored": n, "batchItemFailures": []}))
                }
            }
        };
        let outcomes = futures::future::join_all(
            lanes
                .into_iter()
                .map(|l| deliver(l, "score", 3, Duration::from_millis(1), invoke_fn)),
        )
        .await;
        let (mut invocations, mut reported, mut timings) =
            (0, Reported::default(), BatchTimings::default());
        let dead = merge_lanes(outcomes, &mut invocations, &mut reported, &mut timings);
        assert!(dead.is_empty());
        assert_eq!(invocations, 4, "three partitions, one retried");
        assert_eq!(timings.invoke_ms.len(), 4);
        assert_eq!(timings.lanes, [3]);
        assert_eq!(
            reported.summary("score"),
            "; score reported received=6 scored=6"
        );
    }

    #[test]
    fn merged_lanes_hand_back_every_lanes_dead_letters() {
        let lane = |p: i32, dead: bool| LaneOutcome {
            invocations: if dead { 4 } else { 1 },
            responses: vec![json!({"scored": 1})],
            invoke_ms: vec![1.0],
            dead: if dead {
                vec![(rec(p, 1), "gave up".into())]
            } else {
                Vec::new()
            },
        };
        let (mut invocations, mut reported, mut timings) =
            (0, Reported::default(), BatchTimings::default());
        let dead = merge_lanes(
            vec![lane(0, true), lane(1, false), lane(2, true)],
            &mut invocations,
            &mut reported,
            &mut timings,
        );
        let ids: Vec<String> = dead.iter().map(|(r, _)| r.id()).collect();
        assert_eq!(ids, ["payments-0@1", "payments-2@1"]);
        assert_eq!(invocations, 9);
        assert_eq!(reported.summary("f"), "; f reported scored=3");
    }

    #[test]
    fn batch_timings_summarise_sizes_and_quantiles() {
        let mut t = BatchTimings::default();
        assert_eq!(t.summary(), "");
        for i in 1..=100 {
            t.batch_sizes.push(if i % 2 == 0 { 10 } else { 20 });
            t.invoke_ms.push(f64::from(i));
            t.commit_ms.push(1.0);
        }
        assert_eq!(
            t.summary(),
            "; batches: mean 15.0 records (max 20), invoke p50 50.0 / p99 99.0 / max 100.0 ms, \
             offset commit p50 1.0 / p99 1.0 / max 1.0 ms"
        );
        t.lanes.extend([3, 1]);
        t.batch_ms.extend([40.0, 60.0]);
        assert!(t.summary().ends_with(
            "; per batch: mean 2.0 concurrent invocations (max 3), all done p50 40.0 / p99 60.0 / max 60.0 ms"
        ));
    }
}
