//! Kafka adapter: the producer settings every publisher uses (idempotent, acks=all,
//! delivery confirmed before success is reported), the message keys, and the
//! dead-letter record format shared by every stage.
#![forbid(unsafe_code)]

use std::time::Duration;

use fraud_core::Transaction;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};

/// Errors talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot create a Kafka client for {brokers}: {source}")]
    Client {
        brokers: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("delivery to topic `{topic}` failed: {source}")]
    Delivery {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
}

/// How long a publish may wait for the broker to confirm delivery.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`producer`] lets messages wait to be batched (librdkafka's default).
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);

/// `linger.ms` of [`batch_producer`], for a caller that enqueues a whole batch at once and
/// then awaits every delivery (the score function's scored and dead-letter topics).
///
/// With `linger.ms=0` librdkafka sends the first few records the moment they are enqueued,
/// and the rest in further produce requests (up to five in flight per broker with the
/// idempotent producer): one batch of 200–300 records became many small requests, each of
/// which a broker on object storage (Tansu on S3, the local stack's default) turns into its
/// own object writes. A few ms of linger lets the whole batch gather first, so it goes out
/// as one request per partition.
pub const BATCH_LINGER: Duration = Duration::from_millis(5);

/// `compression.codec` of [`batch_producer`] (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
pub const BATCH_COMPRESSION: &str = "none";

/// An idempotent producer: retries never duplicate or reorder messages within a partition.
pub fn producer(brokers: &str) -> Result<FutureProducer, KafkaError> {
    producer_with_linger(brokers, DEFAULT_LINGER)
}

/// [`producer`] with its own `linger.ms`.
pub fn producer_with_linger(brokers: &str, linger: Duration) -> Result<FutureProducer, KafkaError> {
    batch_producer(brokers, linger, "none")
}

/// [`producer`] (idempotent, `acks=all`) for whole batches: `linger.ms` = `linger` (see
/// [`BATCH_LINGER`]), `compression.codec` = `compression` (see [`BATCH_COMPRESSION`]),
/// room for a batch of a few thousand records in one message set per partition.
pub fn batch_producer(
    brokers: &str,
    linger: Duration,
    compression: &str,
) -> Result<FutureProducer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", linger.as_millis().to_string())
        .set("compression.codec", compression)
        .set(
            "message.timeout.ms",
            DELIVERY_TIMEOUT.as_millis().to_string(),
        )
        .create()
        .map_err(|source| KafkaError::Client {
            brokers: brokers.to_owned(),
            source,
        })
}

/// A consumer in `group` that commits offsets only when told to (after processing).
pub fn consumer(brokers: &str, group: &str) -> Result<StreamConsumer, KafkaError> {
    consumer_config(brokers, group)
        .create()
        .map_err(|source| KafkaError::Client {
            brokers: brokers.to_owned(),
            source,
        })
}

/// The settings of [`consumer`], for a caller that adds its own before creating it.
pub fn consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000");
    config
}

/// Payments are keyed by card, so one card's payments stay in order on one partition
/// (the per-card feature state depends on it).
pub fn card_key(tx: &Transaction) -> String {
    tx.cc_num.to_string()
}

/// Publishes one message and waits for the broker's acknowledgement.
pub async fn publish(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
) -> Result<(), KafkaError> {
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            DELIVERY_TIMEOUT,
        )
        .await
        .map(|_| ())
        .map_err(|(source, _)| KafkaError::Delivery {
            topic: topic.to_owned(),
            source,
        })
}

/// Publishes transactions keyed by card; all deliveries run concurrently and every one
/// is confirmed before this returns. Returns one result per transaction.
pub async fn publish_transactions(
    producer: &FutureProducer,
    topic: &str,
    txs: &[Transaction],
) -> Vec<Result<(), KafkaError>> {
    let sends = txs.iter().map(|tx| {
        let payload = tx.to_json();
        let key = card_key(tx);
        async move { publish(producer, topic, &key, &payload).await }
    });
    futures::future::join_all(sends).await
}

/// A record that could not be processed, with why, kept whole for replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Which stage rejected it (`ingest`, `score`, ...).
    pub stage: String,
    /// Why, naming the field and value where there is one.
    pub reason: String,
    /// `trans_num`, when it could be read.
    pub trans_num: Option<String>,
    /// The record as received (text; binary is lossily decoded).
    pub raw: String,
    /// Where it came from (URL, topic-partition@offset, S3 URI).
    pub source: String,
    /// When it was rejected (RFC 3339).
    pub rejected_at: String,
}

impl DeadLetter {
    pub fn new(
        stage: &str,
        source: &str,
        reason: String,
        trans_num: Option<String>,
        raw: String,
    ) -> Self {
        DeadLetter {
            stage: stage.to_owned(),
            reason,
            trans_num,
            raw,
            source: source.to_owned(),
            rejected_at: chrono_now(),
        }
    }
}

/// Publishes dead letters (keyed by trans_num when known) and confirms delivery.
pub async fn publish_dead_letters(
    producer: &FutureProducer,
    topic: &str,
    letters: &[DeadLetter],
) -> Result<(), KafkaError> {
    let sends = letters.iter().map(|letter| {
        let payload = serde_json::to_vec(letter).expect("dead letters serialize");
        let key = letter
            .trans_num
            .clone()
            .unwrap_or_else(|| letter.stage.clone());
        async move { publish(producer, topic, &key, &payload).await }
    });
    futures::future::join_all(sends).await.into_iter().collect()
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
