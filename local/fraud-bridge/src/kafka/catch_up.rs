//! Has the Kafka bridge read everything? The decision behind `--idle-exit-secs`.
//!
//! A broker's high watermark is not proof of being done: Tansu 0.6 on S3 storage reports
//! watermarks below offsets it serves (10 messages produced less than ~0.2 s apart, all
//! acknowledged and all readable, and a high watermark of 1; see localstack/README.md).
//! A bridge that trusted it would leave with messages still in the topic. So the bridge
//! is caught up only when an actual read at its next offset in every partition it holds
//! finds nothing. The read is a probe: a second consumer, *assigned* (never subscribed,
//! so the group is not rebalanced) to each partition at the bridge's position (or the
//! group's committed offset when it has read nothing since the assignment), polled
//! briefly, its position thrown away. A watermark above the position still counts as
//! "not done" (a hint that costs nothing to honour); a watermark at the position never
//! counts as "done".

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

/// Where the bridge reads next in one partition it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRead {
    pub topic: String,
    pub partition: i32,
    /// The next offset, or `None` for the start of the partition (nothing read and
    /// nothing committed: `auto.offset.reset` is `earliest`).
    pub offset: Option<i64>,
}

/// What the decision needs from a broker.
pub trait Broker {
    /// The partitions the bridge's consumer holds and where it reads next in each.
    fn next_reads(&self) -> Result<Vec<NextRead>>;
    /// The broker's high watermark of a partition: a hint, never proof.
    fn high_watermark(&self, topic: &str, partition: i32) -> Result<i64>;
    /// Whether any message can be read at these positions within `wait`.
    fn readable(&self, at: &[NextRead], wait: Duration) -> Result<bool>;
}

/// True only when the consumer holds partitions and a read at its next offset in each
/// finds nothing. Any error (no position, a failed probe) is "not caught up": the bridge's
/// hard cap on idle time (`IDLE_EXIT_CAP`) still bounds the wait.
pub fn caught_up(broker: &impl Broker, wait: Duration) -> bool {
    let reads = match broker.next_reads() {
        Ok(reads) if !reads.is_empty() => reads,
        Ok(_) => return false,
        Err(e) => {
            tracing::debug!(error = %e, "no consumer positions; not caught up");
            return false;
        }
    };
    let behind = reads.iter().any(|r| {
        broker
            .high_watermark(&r.topic, r.partition)
            .is_ok_and(|high| high > r.offset.unwrap_or(0))
    });
    if behind {
        return false;
    }
    match broker.readable(&reads, wait) {
        Ok(found) => {
            if found {
                tracing::info!("the high watermarks say done, but a read found more messages");
            }
            !found
        }
        Err(e) => {
            tracing::warn!(error = %e, "catch-up probe failed; not caught up");
            false
        }
    }
}

/// The live broker: the bridge's consumer for positions, and a probe consumer of its own
/// (created once, re-assigned at every check) for the reads.
pub struct LiveBroker<'a> {
    consumer: &'a StreamConsumer,
    probe: BaseConsumer,
    timeout: Duration,
}

impl<'a> LiveBroker<'a> {
    /// `group`: the bridge's group; the probe's is `<group>.catch-up-probe`, which it
    /// never joins (it is assigned) and never commits to (librdkafka's consumer wants one).
    pub fn new(consumer: &'a StreamConsumer, brokers: &str, group: &str) -> Result<Self> {
        let probe = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("{group}.catch-up-probe"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            // An offset the broker no longer has reads from the start: it errs towards
            // "not caught up", never towards leaving early.
            .set("auto.offset.reset", "earliest")
            // Short broker-side waits, so a probe sees several fetch rounds.
            .set("fetch.wait.max.ms", "100")
            .create()
            .context("creating the Kafka catch-up probe")?;
        Ok(LiveBroker {
            consumer,
            probe,
            timeout: Duration::from_secs(2),
        })
    }
}

impl Broker for LiveBroker<'_> {
    fn next_reads(&self) -> Result<Vec<NextRead>> {
        let position = self.consumer.position()?;
        let mut unread = TopicPartitionList::new();
        let mut reads = Vec::new();
        for p in position.elements() {
            match p.offset() {
                Offset::Offset(at) => reads.push(NextRead {
                    topic: p.topic().to_owned(),
                    partition: p.partition(),
                    offset: Some(at),
                }),
                // Nothing read since the assignment: it starts at the committed offset.
                _ => {
                    unread.add_partition(p.topic(), p.partition());
                }
            }
        }
        if unread.count() > 0 {
            let committed = self.consumer.committed_offsets(unread, self.timeout)?;
            for p in committed.elements() {
                reads.push(NextRead {
                    topic: p.topic().to_owned(),
                    partition: p.partition(),
                    offset: match p.offset() {
                        Offset::Offset(at) => Some(at),
                        _ => None,
                    },
                });
            }
        }
        Ok(reads)
    }

    fn high_watermark(&self, topic: &str, partition: i32) -> Result<i64> {
        let (_, high) = self
            .consumer
            .fetch_watermarks(topic, partition, self.timeout)?;
        Ok(high)
    }

    fn readable(&self, at: &[NextRead], wait: Duration) -> Result<bool> {
        let mut assignment = TopicPartitionList::new();
        for r in at {
            let offset = r.offset.map_or(Offset::Beginning, Offset::Offset);
            assignment.add_partition_offset(&r.topic, r.partition, offset)?;
        }
        self.probe.assign(&assignment)?;
        let deadline = Instant::now() + wait;
        let found = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Ok(false);
            }
            match self.probe.poll(left) {
                Some(Ok(_)) => break Ok(true),
                Some(Err(e)) => break Err(e).context("catch-up probe read"),
                None => {}
            }
        };
        self.probe.unassign()?;
        found
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;

    /// A broker whose partitions hold `readable` messages each (offsets 0..readable) and
    /// report `high` as their high watermark, which may lag behind what can be read.
    #[derive(Default)]
    struct FakeBroker {
        partitions: BTreeMap<i32, (i64, i64)>,
        positions: Vec<(i32, Option<i64>)>,
        fail_probe: bool,
        probed: RefCell<Vec<NextRead>>,
    }

    impl FakeBroker {
        fn partition(mut self, p: i32, readable: i64, high: i64, at: Option<i64>) -> Self {
            self.partitions.insert(p, (readable, high));
            self.positions.push((p, at));
            self
        }
    }

    impl Broker for FakeBroker {
        fn next_reads(&self) -> Result<Vec<NextRead>> {
            Ok(self
                .positions
                .iter()
                .map(|&(partition, offset)| NextRead {
                    topic: "payments".into(),
                    partition,
                    offset,
                })
                .collect())
        }

        fn high_watermark(&self, _topic: &str, partition: i32) -> Result<i64> {
            Ok(self.partitions[&partition].1)
        }

        fn readable(&self, at: &[NextRead], _wait: Duration) -> Result<bool> {
            self.probed.borrow_mut().extend_from_slice(at);
            if self.fail_probe {
                anyhow::bail!("broker unreachable");
            }
            Ok(at
                .iter()
                .any(|r| self.partitions[&r.partition].0 > r.offset.unwrap_or(0)))
        }
    }

    const WAIT: Duration = Duration::from_millis(1);

    #[test]
    fn a_high_watermark_lagging_behind_readable_messages_is_not_caught_up() {
        // What Tansu did: 10 acknowledged, readable messages, high watermark 1, and the
        // consumer at offset 1. The watermark says done; the messages say otherwise.
        let broker = FakeBroker::default()
            .partition(0, 10, 1, Some(1))
            .partition(1, 4, 4, Some(4));
        assert!(!caught_up(&broker, WAIT));
    }

    #[test]
    fn every_partition_read_to_its_end_is_caught_up() {
        let broker = FakeBroker::default()
            .partition(0, 10, 10, Some(10))
            .partition(1, 0, 0, None)
            .partition(2, 3, 3, Some(3));
        assert!(caught_up(&broker, WAIT));
        // The probe read where the consumer reads next, in every partition.
        let probed: Vec<(i32, Option<i64>)> = broker
            .probed
            .borrow()
            .iter()
            .map(|r| (r.partition, r.offset))
            .collect();
        assert_eq!(probed, [(0, Some(10)), (1, None), (2, Some(3))]);
    }

    #[test]
    fn a_partition_not_read_since_the_assignment_is_probed_from_its_start() {
        // No position and nothing committed: the consumer starts at the beginning, so
        // messages there are unread even when the watermark says 0.
        let broker = FakeBroker::default().partition(0, 2, 0, None);
        assert!(!caught_up(&broker, WAIT));
    }

    #[test]
    fn a_high_watermark_above_the_position_is_not_caught_up_without_a_probe() {
        let broker = FakeBroker::default().partition(0, 5, 7, Some(5));
        assert!(!caught_up(&broker, WAIT));
        assert!(broker.probed.borrow().is_empty());
    }

    #[test]
    fn no_partitions_or_a_failed_probe_is_not_caught_up() {
        assert!(!caught_up(&FakeBroker::default(), WAIT));
        let broker = FakeBroker {
            fail_probe: true,
            ..FakeBroker::default().partition(0, 3, 3, Some(3))
        };
        assert!(!caught_up(&broker, WAIT));
        assert_eq!(broker.probed.borrow().len(), 1);
    }

    /// Against the stack's broker (Tansu; needs `make stack-up`, fails without it): ten
    /// messages produced back to back, the bridge's consumer has read one. Tansu then
    /// reports a high watermark of 1 (localstack/README.md), so trusting it would call
    /// this caught up; the probe reads the other nine. Once they are read, it is done.
    async fn next_offset(consumer: &StreamConsumer) -> i64 {
        use rdkafka::Message;
        tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a message within 30 s")
            .unwrap()
            .offset()
    }

    #[tokio::test]
    async fn on_the_stack_a_bridge_that_read_one_of_ten_is_caught_up_only_after_all_ten() {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        use rdkafka::client::DefaultClientContext;
        use rdkafka::producer::FutureRecord;

        let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into());
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let topic = format!("test-catch-up-{}-{stamp}", std::process::id());
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        let created = admin
            .create_topics(
                &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .unwrap_or_else(|e| panic!("Kafka at {brokers} is unreachable ({e}): make stack-up"));
        for r in created {
            r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
        }
        let producer = fraud_kafka::producer_with_linger(&brokers, Duration::ZERO).unwrap();
        for i in 0..10 {
            producer
                .send(
                    FutureRecord::<str, _>::to(&topic).payload(&format!("m{i}")),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(e, _)| e)
                .unwrap();
        }

        let consumer = fraud_kafka::consumer(&brokers, &format!("test-catch-up-{stamp}")).unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        assert_eq!(next_offset(&consumer).await, 0);
        let broker = LiveBroker::new(&consumer, &brokers, "test-catch-up").unwrap();
        let high = broker.high_watermark(&topic, 0).unwrap();
        // The probe itself reads the rest (not an error taken for "not caught up").
        let reads = broker.next_reads().unwrap();
        assert_eq!(reads[0].offset, Some(1));
        assert!(broker.readable(&reads, Duration::from_secs(2)).unwrap());
        assert!(
            !caught_up(&broker, Duration::from_secs(2)),
            "one of ten read (the broker's high watermark: {high})"
        );
        for offset in 1..10 {
            assert_eq!(next_offset(&consumer).await, offset);
        }
        let reads = broker.next_reads().unwrap();
        assert_eq!(reads[0].offset, Some(10));
        assert!(!broker.readable(&reads, Duration::from_secs(2)).unwrap());
        assert!(caught_up(&broker, Duration::from_secs(2)));
    }
}
