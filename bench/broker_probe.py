"""What a Kafka broker's storage costs a producer and a consumer, with no pipeline code.

Writes N records of 400 bytes, paced at RATE records/s (one every 1/RATE s), keyed over PARTITIONS
partitions of a fresh topic, with the project's producer settings (idempotent, acks=all,
linger.ms=5; confluent-kafka, the library users' producers use), then reads the topic back from
offset 0 (N plus one warm-up record a partition) with a plain consumer (fetch.wait.max.ms=10) for at most READ_SECS seconds.

Prints one JSON line: produce acknowledgement latency p50/p95/p99/max (send → delivery report),
acked and failed counts, how far behind schedule the sender fell, and the read-back: records read,
seconds, records/s, whether every record came back.

Used by bench/broker_storage.sh to compare Tansu's storage engines on this machine; it stands
apart from the pipeline so that a broker's own limits are not mistaken for ours.

Usage: broker_probe.py BROKERS N RATE PARTITIONS READ_SECS
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    brokers, n, rate, partitions, read_secs = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
        float(sys.argv[5]),
    )
    topic = f"probe.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": brokers})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result()
    time.sleep(0.5)

    producer = Producer(
        {
            "bootstrap.servers": brokers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
        }
    )
    latencies, failed = [], [0]

    def report(err, _msg, sent):
        if err is not None:
            failed[0] += 1
        else:
            latencies.append((time.perf_counter() - sent) * 1000.0)

    body = b"x" * 400
    # Warm-up, not measured: the producer id, metadata and connections are set up first, so
    # that the figures are the storage's, not the client's start.
    for p in range(partitions):
        producer.produce(topic, body, partition=p)
    producer.flush(30)
    behind = 0.0
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        while time.perf_counter() < due:
            producer.poll(0)
            time.sleep(0.0002)
        now = time.perf_counter()
        behind = max(behind, now - due)
        producer.produce(
            topic,
            body,
            key=str(i % 997),
            on_delivery=lambda err, msg, sent=now: report(err, msg, sent),
        )
    left = producer.flush(120)
    produce_secs = time.perf_counter() - start
    latencies.sort()

    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"{topic}.reader",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    read, read_start = 0, time.perf_counter()
    while read < n + partitions and time.perf_counter() - read_start < read_secs:
        read += sum(1 for m in consumer.consume(1000, 0.2) if m.error() is None)
    read_time = time.perf_counter() - read_start
    consumer.close()

    print(
        json.dumps(
            {
                "topic": topic,
                "records": n,
                "rate": rate,
                "partitions": partitions,
                "produce_secs": round(produce_secs, 2),
                "behind_schedule_ms": round(behind * 1000.0, 1),
                "acked": len(latencies),
                "failed": failed[0],
                "unflushed": left,
                "ack_p50_ms": quantile(latencies, 0.50),
                "ack_p95_ms": quantile(latencies, 0.95),
                "ack_p99_ms": quantile(latencies, 0.99),
                "ack_max_ms": latencies[-1] if latencies else None,
                "read": read,
                "read_secs": round(read_time, 2),
                "read_per_sec": round(read / read_time) if read_time > 0 else None,
                "read_all": read >= n + partitions,
            }
        )
    )


if __name__ == "__main__":
    main()
