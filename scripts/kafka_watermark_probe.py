"""Does the local Kafka broker's high watermark cover every acknowledged message?

Run with the stack venv's Python, the stack's env loaded (KAFKA_BROKERS):
    kafka_watermark_probe.py [--messages N] [--gaps 0,0.05,0.2,0.5] [--rounds R]

For each gap: a fresh 1-partition topic, N messages produced one at a time (each
delivery confirmed, acks=all, then `gap` seconds), then the high watermark as the
broker reports it (right away, and again 2 s later) beside the offsets a consumer
assigned at offset 0 can actually read. One line per topic:
    gap=0.05s acked=10 high=1 high_after_2s=1 readable=10
Exit 1 if, for any topic, the watermark reported after 2 s is below what could be read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def readable(brokers: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": brokers, "group.id": f"wm-{uuid.uuid4()}", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    n, last = 0, time.monotonic()
    while time.monotonic() - last < 3:
        m = c.poll(0.5)
        if m is not None and not m.error():
            n, last = max(n, m.offset() + 1), time.monotonic()
    c.close()
    return n


def high(brokers: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": brokers, "group.id": f"wm-{uuid.uuid4()}"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    finally:
        c.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10)
    ap.add_argument("--gaps", default="0,0.05,0.1,0.2,0.5")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    brokers = os.environ.get("KAFKA_BROKERS", "127.0.0.1:19092")
    admin = AdminClient({"bootstrap.servers": brokers})
    producer = Producer({"bootstrap.servers": brokers, "acks": "all", "enable.idempotence": True, "linger.ms": 0})
    lagged = 0
    for _ in range(args.rounds):
        for gap in [float(g) for g in args.gaps.split(",")]:
            topic = f"watermark-probe-{uuid.uuid4().hex[:8]}"
            for f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
                f.result(30)
            acked = 0
            for i in range(args.messages):
                errors = []
                producer.produce(topic, value=b"m%d" % i, on_delivery=lambda e, _m: errors.append(e))
                producer.flush(30)
                acked += errors == [None]
                time.sleep(gap)
            first = high(brokers, topic)
            time.sleep(2)
            later = high(brokers, topic)
            n = readable(brokers, topic)
            lagged += later < n
            print(f"gap={gap}s acked={acked} high={first} high_after_2s={later} readable={n}", flush=True)
    return 1 if lagged else 0


if __name__ == "__main__":
    sys.exit(main())
