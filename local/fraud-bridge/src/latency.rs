//! `fraud-bridge latency`: reads a scored topic after a benchmark run and reports
//! publish → scored latency, and publish → webhook latency for the run's alerts.
//!
//! Every scored record (ours from the score function, the Python reference's from
//! `bench/reference/kafka_consumer.py`) carries `published_at_ms`, the Kafka timestamp
//! of the payment it scores (set by `fraud-bridge produce` when it sent it), and its own
//! Kafka timestamp is when the scorer produced it. The difference is the latency; both
//! clocks are the same machine's. Only records whose `source` (`topic-partition@offset`)
//! names the run's payments topic count. Payments never scored by the end are counted
//! as missing, and a percentile that would need them is reported as not reached (`null`)
//! instead of being computed over the fast ones only.
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use serde_json::Value;

#[derive(Args)]
pub struct LatencyArgs {
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// The scored topic to read (from the beginning).
    #[arg(long)]
    topic: String,
    /// The run's payments topic: only records scored from it count.
    #[arg(long)]
    source_topic: String,
    /// Payments the run published (from `fraud-bridge produce`).
    #[arg(long)]
    expect: usize,
    /// Stop once nothing new arrived for this long (seconds).
    #[arg(long, default_value_t = 5)]
    idle_exit_secs: u64,
    /// Give up after this long in any case (seconds).
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// The webhook sink's alerts file (`fraud-bridge webhook-sink --out`), for alert latency.
    #[arg(long)]
    alerts: Option<PathBuf>,
    /// Start at these offsets of the scored topic (`PARTITION:OFFSET,...`, from
    /// `--print-end-offsets` before the run) instead of its beginning: on a broker whose
    /// storage is slow to read (Tansu on S3), the records of earlier runs would otherwise
    /// take longer to read than the collection may last. Empty: from the beginning.
    #[arg(long, default_value = "")]
    from_offsets: String,
    /// Print the scored topic's end offsets (`PARTITION:OFFSET,...`; nothing when it has
    /// no partitions yet) and exit.
    #[arg(long)]
    print_end_offsets: bool,
}

/// `PARTITION:OFFSET,...` → pairs.
fn parse_offsets(spec: &str) -> Result<Vec<(i32, i64)>> {
    spec.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let (p, o) = item
                .trim()
                .split_once(':')
                .with_context(|| format!("offset `{item}` is not PARTITION:OFFSET"))?;
            Ok((p.parse()?, o.parse()?))
        })
        .collect()
}

/// Nearest-rank percentile (`q` in 0..=1) of `expected` latencies of which the
/// `sorted` ones were observed; the missing ones are slower than every observed one
/// (they had not arrived when collection stopped). `None` when the rank falls among
/// the missing ones, or there is nothing to rank.
pub fn percentile(sorted: &[i64], expected: usize, q: f64) -> Option<i64> {
    let expected = expected.max(sorted.len());
    if expected == 0 {
        return None;
    }
    sorted.get(nearest_rank(expected, q) - 1).copied()
}

/// The 1-based nearest rank of quantile `q` (0..=1) among `n` ≥ 1 ordered values.
pub fn nearest_rank(n: usize, q: f64) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n)
}

/// Latency statistics of one path, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub expected: usize,
    pub observed: usize,
    pub missing: usize,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    /// Of the observed ones (a lower bound when some are missing).
    pub max_ms: Option<i64>,
    pub mean_ms: Option<f64>,
    /// Median latency of the payments published in the first and in the last quarter of
    /// the publishing span (observed ones only): a growing backlog shows as a rise.
    pub first_quarter_p50_ms: Option<i64>,
    pub last_quarter_p50_ms: Option<i64>,
    /// Observed records per second, from the first publish to the last scored record.
    pub throughput_per_s: Option<f64>,
}

impl Summary {
    /// `samples`: (published_at_ms, done_at_ms) per observed record.
    pub fn new(samples: &[(i64, i64)], expected: usize) -> Summary {
        let mut latencies: Vec<i64> = samples.iter().map(|(p, d)| d - p).collect();
        latencies.sort_unstable();
        let observed = latencies.len();
        let first_published = samples.iter().map(|s| s.0).min();
        let last_published = samples.iter().map(|s| s.0).max();
        let last_done = samples.iter().map(|s| s.1).max();
        let quarter_p50 = |lo: f64, hi: f64| -> Option<i64> {
            let (first, last) = (first_published?, last_published?);
            let span = (last - first) as f64;
            let mut part: Vec<i64> = samples
                .iter()
                .filter(|(p, _)| {
                    let at = (*p - first) as f64;
                    at >= lo * span && at <= hi * span
                })
                .map(|(p, d)| d - p)
                .collect();
            part.sort_unstable();
            percentile(&part, part.len(), 0.5)
        };
        Summary {
            expected,
            observed,
            missing: expected.saturating_sub(observed),
            p50_ms: percentile(&latencies, expected, 0.50),
            p95_ms: percentile(&latencies, expected, 0.95),
            p99_ms: percentile(&latencies, expected, 0.99),
            max_ms: latencies.last().copied(),
            mean_ms: (observed > 0).then(|| latencies.iter().sum::<i64>() as f64 / observed as f64),
            first_quarter_p50_ms: quarter_p50(0.0, 0.25),
            last_quarter_p50_ms: quarter_p50(0.75, 1.0),
            throughput_per_s: match (first_published, last_done) {
                (Some(first), Some(last)) if last > first => {
                    Some(observed as f64 / ((last - first) as f64 / 1e3))
                }
                _ => None,
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct LatencyReport {
    topic: String,
    source_topic: String,
    /// Publish → scored record produced (its Kafka timestamp).
    scored: Summary,
    /// Records seen more than once (redelivery that was scored again).
    duplicates: usize,
    /// Publish → alert received by the webhook sink (ours only; `None` without --alerts).
    alerts: Option<Summary>,
}

/// Whether a scored record came from the run's payments topic (`source` is
/// `topic-partition@offset`; topics may contain `-`, partitions are digits).
pub fn from_topic(source: &str, topic: &str) -> bool {
    source
        .strip_prefix(topic)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.split_once('@'))
        .is_some_and(|(partition, _)| {
            !partition.is_empty() && partition.bytes().all(|b| b.is_ascii_digit())
        })
}

pub async fn run(args: LatencyArgs) -> Result<()> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set(
            "group.id",
            format!(
                "latency-collector-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_millis()
            ),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .context("creating the collector's consumer")?;
    let wait = Duration::from_secs(10);
    if args.print_end_offsets {
        let metadata = consumer.fetch_metadata(Some(&args.topic), wait)?;
        let mut ends = Vec::new();
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (_, high) = consumer.fetch_watermarks(&args.topic, partition.id(), wait)?;
            ends.push(format!("{}:{high}", partition.id()));
        }
        println!("{}", ends.join(","));
        return Ok(());
    }
    let from = parse_offsets(&args.from_offsets)?;
    if from.is_empty() {
        consumer.subscribe(&[&args.topic])?;
    } else {
        let mut assignment = TopicPartitionList::new();
        for (partition, offset) in from {
            assignment.add_partition_offset(&args.topic, partition, Offset::Offset(offset))?;
        }
        consumer.assign(&assignment)?;
    }
    let started = Instant::now();
    let mut last_new = Instant::now();
    let mut seen: HashSet<String> = HashSet::new();
    let mut samples: Vec<(i64, i64)> = Vec::new();
    let mut blocked: HashSet<String> = HashSet::new();
    let mut duplicates = 0usize;
    let (idle, cap) = (
        Duration::from_secs(args.idle_exit_secs),
        Duration::from_secs(args.timeout_secs),
    );
    while seen.len() < args.expect && started.elapsed() < cap {
        // Idle counts only once something arrived (joining the group takes a while).
        if !samples.is_empty() && last_new.elapsed() > idle {
            break;
        }
        let message = match tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        {
            Err(_) => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "collector receive error");
                continue;
            }
            Ok(Ok(m)) => m,
        };
        let Some(done_ms) = message.timestamp().to_millis() else {
            continue;
        };
        let Some(record) = message
            .payload()
            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
        else {
            continue;
        };
        let source = record["source"].as_str().unwrap_or_default();
        if !from_topic(source, &args.source_topic) {
            continue;
        }
        let (Some(trans_num), Some(published)) = (
            record["trans_num"].as_str(),
            record["published_at_ms"].as_i64(),
        ) else {
            continue;
        };
        if !seen.insert(trans_num.to_owned()) {
            duplicates += 1;
            continue;
        }
        if record["decision"].as_str() == Some("block") {
            blocked.insert(trans_num.to_owned());
        }
        samples.push((published, done_ms));
        last_new = Instant::now();
        if seen.len().is_multiple_of(10_000) {
            eprintln!(
                "latency: {} of {} scored records read",
                seen.len(),
                args.expect
            );
        }
    }
    let alerts = match &args.alerts {
        None => None,
        Some(path) => {
            // Alerts travel further (SQS → notify → webhook): wait for every blocked
            // payment's alert, or until the file stops growing for the idle time.
            let mut alert_samples = read_alerts(path, &blocked);
            let mut grew_at = Instant::now();
            while alert_samples.len() < blocked.len() && grew_at.elapsed() < idle {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let now = read_alerts(path, &blocked);
                if now.len() > alert_samples.len() {
                    grew_at = Instant::now();
                }
                alert_samples = now;
            }
            Some(Summary::new(&alert_samples, blocked.len()))
        }
    };
    let report = LatencyReport {
        topic: args.topic,
        source_topic: args.source_topic,
        scored: Summary::new(&samples, args.expect),
        duplicates,
        alerts,
    };
    let show = |v: Option<i64>| v.map_or("not reached".to_owned(), |v| format!("{v} ms"));
    eprintln!(
        "latency: {} of {} scored; p50 {}, p95 {}, p99 {}",
        report.scored.observed,
        report.scored.expected,
        show(report.scored.p50_ms),
        show(report.scored.p95_ms),
        show(report.scored.p99_ms)
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// (published_at_ms, received_at_ms) of each alert in the webhook sink's file whose
/// payment is one of `blocked`, once per payment.
fn read_alerts(path: &std::path::Path, blocked: &HashSet<String>) -> Vec<(i64, i64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        let Ok(alert) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(trans_num) = alert["trans_num"].as_str() else {
            continue;
        };
        if !blocked.contains(trans_num) || !seen.insert(trans_num.to_owned()) {
            continue;
        }
        if let (Some(p), Some(r)) = (
            alert["published_at_ms"].as_i64(),
            alert["received_at_ms"].as_i64(),
        ) {
            samples.push((p, r));
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_from_print_end_offsets_output() {
        assert_eq!(
            parse_offsets("0:7110,1:6878, 2:7114").unwrap(),
            vec![(0, 7110), (1, 6878), (2, 7114)]
        );
        assert!(parse_offsets("").unwrap().is_empty());
        assert!(parse_offsets("0-12").is_err());
        assert!(parse_offsets("x:1").is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 100, 0.50), Some(50));
        assert_eq!(percentile(&sorted, 100, 0.95), Some(95));
        assert_eq!(percentile(&sorted, 100, 0.99), Some(99));
        assert_eq!(percentile(&sorted, 100, 1.0), Some(100));
        assert_eq!(percentile(&[7], 1, 0.99), Some(7));
        assert_eq!(percentile(&[], 0, 0.5), None);
    }

    #[test]
    fn a_percentile_that_needs_the_missing_records_is_not_reached() {
        // 98 of 100 arrived: p95 is among them, p99 is not.
        let sorted: Vec<i64> = (1..=98).collect();
        assert_eq!(percentile(&sorted, 100, 0.95), Some(95));
        assert_eq!(percentile(&sorted, 100, 0.99), None);
        assert_eq!(percentile(&[], 10, 0.5), None);
    }

    #[test]
    fn a_growing_backlog_shows_in_the_last_quarter() {
        // Published every 10 ms; latency grows by 1 ms per record (the consumer falls behind).
        let samples: Vec<(i64, i64)> = (0..100).map(|i| (i * 10, i * 10 + 5 + i)).collect();
        let s = Summary::new(&samples, 100);
        assert_eq!((s.observed, s.missing), (100, 0));
        assert!(s.last_quarter_p50_ms.unwrap() > s.first_quarter_p50_ms.unwrap() + 50);
        assert_eq!(s.max_ms, Some(104));
        assert_eq!(s.p50_ms, Some(5 + 49));
    }

    #[test]
    fn throughput_runs_from_the_first_publish_to_the_last_result() {
        let samples: Vec<(i64, i64)> = (0..1000).map(|i| (i, i + 1)).collect();
        let s = Summary::new(&samples, 1000);
        assert_eq!(s.throughput_per_s, Some(1000.0));
        assert_eq!(s.missing, 0);
        let none = Summary::new(&[], 5);
        assert_eq!(
            (none.missing, none.p50_ms, none.throughput_per_s),
            (5, None, None)
        );
    }

    #[test]
    fn only_records_from_the_runs_topic_count() {
        assert!(from_topic("bench-1k-42-2@17", "bench-1k-42"));
        assert!(!from_topic("bench-1k-42-2@17", "bench-1k"));
        assert!(!from_topic("bench-1k-420-2@17", "bench-1k-42"));
        assert!(!from_topic("payments-0@1", "bench-1k-42"));
        assert!(!from_topic("bench-1k-42-@1", "bench-1k-42"));
    }
}
