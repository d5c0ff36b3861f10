//! `fraud-bridge produce`: a fixed-rate payments producer for the end-to-end latency
//! benchmark (`bench/latency.sh`).
//!
//! It publishes payments exactly as the ingest function does (`Transaction::to_json`,
//! keyed by card, the project's idempotent `acks=all` producer from `fraud-kafka`), but
//! paced: payment `i` is due `i / rate` seconds after the start and is handed to the
//! producer on the first 1 ms tick at or after that time, so the load is smooth rather
//! than one burst per second. Each message's Kafka timestamp is set to the wall-clock
//! time it was handed to the producer: the score function copies it into every scored
//! record and alert as `published_at_ms`, which is where the latency collector
//! (`fraud-bridge latency`) measures from.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use serde::Serialize;

use crate::latency::percentile;

#[derive(Args)]
pub struct ProduceArgs {
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// Topic to publish to (created with `--partitions` if it does not exist).
    #[arg(long)]
    topic: String,
    /// Partitions of the topic when this command creates it.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Sparkov-schema CSV of payments (e.g. from `fraudctl generate`); sent in event-time order.
    #[arg(long)]
    data: PathBuf,
    /// Messages per second.
    #[arg(long)]
    rate: f64,
    /// How long to publish, in seconds: `rate × duration` payments are sent.
    #[arg(long)]
    duration_secs: f64,
}

/// How many of `total` messages are due `elapsed` after the start at `rate` per second:
/// message `i` (from 0) is due at `i / rate` seconds, so message 0 goes at once.
pub fn due(elapsed: Duration, rate: f64, total: u64) -> u64 {
    if total == 0 || rate <= 0.0 {
        return 0;
    }
    // The epsilon absorbs binary rounding (0.57 s × 10,000 = 5699.999…): without it a
    // message due exactly on a tick would slip to the next one.
    let sent_by_now = (elapsed.as_secs_f64() * rate + 1e-6).floor() + 1.0;
    (sent_by_now as u64).min(total)
}

/// When message `index` is due, after the start.
pub fn due_at(index: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(index as f64 / rate)
}

/// What the producer did, printed as one JSON line.
#[derive(Debug, Serialize)]
struct ProduceReport {
    topic: String,
    rate: f64,
    duration_secs: f64,
    sent: u64,
    acked: u64,
    failed: u64,
    first_send_ms: i64,
    last_send_ms: i64,
    /// Messages handed to the producer per second, first to last.
    achieved_rate: f64,
    /// Most a message was handed over after its due time (ms): the pacing error.
    max_behind_ms: f64,
    /// Send → broker acknowledgement (idempotent producer, acks=all), ms.
    ack_p50_ms: Option<i64>,
    ack_p99_ms: Option<i64>,
    ack_max_ms: Option<i64>,
}

async fn ensure_topic(brokers: &str, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("creating a Kafka admin client")?;
    let created = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .with_context(|| format!("creating topic {topic} on {brokers}"))?;
    for result in created {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => bail!("cannot create topic {t}: {e}"),
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub async fn run(args: ProduceArgs) -> Result<()> {
    if !(args.rate > 0.0 && args.duration_secs > 0.0) {
        bail!("--rate and --duration-secs must be positive");
    }
    let total = (args.rate * args.duration_secs).round() as u64;
    let file = std::fs::File::open(&args.data)
        .with_context(|| format!("cannot open {}", args.data.display()))?;
    let mut rejected = 0u64;
    let mut txs = fraud_core::csv_input::read_transactions(file, |_| rejected += 1)
        .with_context(|| format!("reading {}", args.data.display()))?;
    if (txs.len() as u64) < total {
        bail!(
            "{} holds {} valid payments but {} × {} s needs {total}",
            args.data.display(),
            txs.len(),
            args.rate,
            args.duration_secs
        );
    }
    txs.sort_by_key(fraud_core::Transaction::event_time);
    txs.truncate(total as usize);
    // Bodies and keys are prepared before the clock starts, so pacing measures sending.
    let messages: Vec<(String, Vec<u8>)> = txs
        .iter()
        .map(|tx| (fraud_kafka::card_key(tx), tx.to_json()))
        .collect();
    drop(txs);

    ensure_topic(&args.brokers, &args.topic, args.partitions).await?;
    let producer = fraud_kafka::producer(&args.brokers)?;
    // The idempotent producer's first delivery waits for a producer id: get it now.
    {
        let client = producer.clone();
        let topic = args.topic.clone();
        tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer as _;
            client
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
        })
        .await?
        .context("fetching the topic's metadata")?;
    }
    eprintln!(
        "produce: {total} payments to {} at {} msg/s for {} s ({rejected} rows rejected by validation)",
        args.topic, args.rate, args.duration_secs
    );

    // Deliveries are awaited in send order by a separate task (acks come back about in
    // order), which records send → ack times.
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, DeliveryFuture)>();
    let acks = tokio::spawn(async move {
        let (mut acked, mut failed, mut ack_ms) = (0u64, 0u64, Vec::new());
        while let Some((sent_ms, delivery)) = ack_rx.recv().await {
            match delivery.await {
                Ok(Ok(_)) => {
                    acked += 1;
                    ack_ms.push(now_ms() - sent_ms);
                }
                Ok(Err((e, _))) => {
                    failed += 1;
                    if failed <= 5 {
                        eprintln!("produce: delivery failed: {e}");
                    }
                }
                Err(_) => failed += 1,
            }
        }
        (acked, failed, ack_ms)
    });

    let start = Instant::now();
    let mut sent = 0u64;
    let mut max_behind = Duration::ZERO;
    let (mut first_send_ms, mut last_send_ms) = (0i64, 0i64);
    let mut next_progress = Duration::from_secs(1);
    while sent < total {
        let now = start.elapsed();
        let due_now = due(now, args.rate, total);
        while sent < due_now {
            let (key, payload) = &messages[sent as usize];
            let ts = now_ms();
            let record = FutureRecord::to(&args.topic)
                .key(key.as_str())
                .payload(payload.as_slice())
                .timestamp(ts);
            match producer.send_result(record) {
                Ok(delivery) => {
                    ack_tx.send((ts, delivery)).expect("ack task runs");
                    if sent == 0 {
                        first_send_ms = ts;
                    }
                    last_send_ms = ts;
                    max_behind = max_behind.max(now.saturating_sub(due_at(sent, args.rate)));
                    sent += 1;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // librdkafka's local queue is full: the broker is behind. Wait a tick;
                    // the lateness shows up in max_behind.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    break;
                }
                Err((e, _)) => bail!("cannot produce to {}: {e}", args.topic),
            }
        }
        if now >= next_progress {
            eprintln!(
                "produce: {:>5.1} s  sent {sent}/{total}  behind schedule by up to {:.1} ms",
                now.as_secs_f64(),
                max_behind.as_secs_f64() * 1e3
            );
            next_progress += Duration::from_secs(1);
        }
        if sent < total {
            let next = start + due_at(sent, args.rate);
            tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
        }
    }
    drop(ack_tx);
    let (acked, failed, mut ack_ms) = acks.await?;
    ack_ms.sort_unstable();
    let seconds = (last_send_ms - first_send_ms).max(1) as f64 / 1e3;
    let report = ProduceReport {
        topic: args.topic,
        rate: args.rate,
        duration_secs: args.duration_secs,
        sent,
        acked,
        failed,
        first_send_ms,
        last_send_ms,
        achieved_rate: (sent.saturating_sub(1)) as f64 / seconds,
        max_behind_ms: max_behind.as_secs_f64() * 1e3,
        ack_p50_ms: percentile(&ack_ms, ack_ms.len(), 0.50),
        ack_p99_ms: percentile(&ack_ms, ack_ms.len(), 0.99),
        ack_max_ms: ack_ms.last().copied(),
    };
    eprintln!(
        "produce: sent {sent} in {seconds:.1} s ({:.0} msg/s), acked {acked}, failed {failed}",
        report.achieved_rate
    );
    println!("{}", serde_json::to_string(&report)?);
    if failed > 0 {
        bail!("{failed} deliveries failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_is_due_at_once_and_the_rest_evenly() {
        assert_eq!(due(Duration::ZERO, 1000.0, 10_000), 1);
        assert_eq!(due(Duration::from_micros(999), 1000.0, 10_000), 1);
        assert_eq!(due(Duration::from_millis(1), 1000.0, 10_000), 2);
        assert_eq!(due(Duration::from_secs(1), 1000.0, 10_000), 1001);
        assert_eq!(due_at(500, 1000.0), Duration::from_millis(500));
    }

    #[test]
    fn every_10_ms_window_gets_the_same_share_at_a_steady_rate() {
        // 10k msg/s: 100 per 10 ms window, never a burst of a whole second's worth.
        let total = 200_000;
        let mut previous = due(Duration::ZERO, 10_000.0, total);
        for window in 1..=1000u64 {
            let now = due(Duration::from_millis(window * 10), 10_000.0, total);
            assert_eq!(now - previous, 100, "window {window}");
            previous = now;
        }
    }

    #[test]
    fn nothing_beyond_the_total_is_ever_due() {
        assert_eq!(due(Duration::from_secs(3600), 1000.0, 20_000), 20_000);
        assert_eq!(due(Duration::from_secs(1), 1000.0, 0), 0);
        assert_eq!(due(Duration::from_secs(1), 0.0, 10), 0);
    }
}
