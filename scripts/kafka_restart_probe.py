"""Does the local Kafka broker keep acknowledged messages across a restart?

Run with the stack venv's Python, the stack's env loaded (KAFKA_BROKERS):
    kafka_restart_probe.py [--messages N] [--outage SECS] [--signal TERM|KILL]

An idempotent producer (acks=all, the settings of crates/fraud-kafka) sends numbered
messages to a fresh 3-partition topic at a steady rate; a third of the way in the broker
is stopped (`localstack/stack.sh stop tansu`, or SIGKILL with --signal KILL; --signal NONE is
the control run without a restart) and started
again after the outage. Then the whole topic is read back and compared with what the
producer's delivery reports acknowledged. Prints one line
    PROBE acked=.. failed=.. in_topic=.. lost_acked=.. duplicated=.. unacked_but_present=..
and exits 1 if an acknowledged message is missing.
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib
import subprocess
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

STACK = pathlib.Path(__file__).resolve().parent.parent / "localstack" / "stack.sh"


def broker_pid() -> int | None:
    state = pathlib.Path(os.environ.get("FRAUD_STACK_DIR", pathlib.Path.home() / ".cache/fraud-stack"))
    pid_file = state / "run" / "tansu.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def read_all(brokers: str, topic: str) -> tuple[list[bytes], dict]:
    """Everything a fresh consumer group (subscribe, earliest) gets, until 8 s idle;
    and per partition the high watermark and the last offset actually delivered."""
    c = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"probe-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    c.subscribe([topic])
    values, last, idle = [], {}, 0
    while idle < 8 and not (values and idle >= 4):
        m = c.poll(1.0)
        if m is None:
            idle += 1
            continue
        if m.error():
            continue
        idle = 0
        values.append(m.value())
        last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
    parts = c.list_topics(topic, timeout=30).topics[topic].partitions
    marks = {p: (c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1], last.get(p)) for p in parts}
    c.close()
    return values, marks


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--rate", type=float, default=300.0, help="messages per second")
    ap.add_argument("--outage", type=float, default=5.0)
    ap.add_argument("--signal", choices=["TERM", "KILL", "NONE"], default="TERM")
    ap.add_argument("--no-idempotence", action="store_true", help="acks=all without idempotence")
    args = ap.parse_args()
    brokers = os.environ["KAFKA_BROKERS"]
    topic = f"probe-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": brokers})
    for f in admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)]).values():
        f.result(30)

    acked, failed = set(), collections.Counter()

    def report(err, msg):
        n = int(msg.value())
        if err is None:
            acked.add(n)
        else:
            failed[err.name()] += 1

    p = Producer(
        {
            "bootstrap.servers": brokers,
            "enable.idempotence": not args.no_idempotence,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 60000,
        }
    )

    def outage():
        if args.signal == "NONE":  # control run: no restart
            return
        if args.signal == "KILL":
            pid = broker_pid()
            if pid:
                os.kill(pid, 9)
            time.sleep(0.5)
            subprocess.run(["bash", str(STACK), "stop", "tansu"], check=False, capture_output=True)
        else:
            subprocess.run(["bash", str(STACK), "stop", "tansu"], check=True, capture_output=True)
        time.sleep(args.outage)
        subprocess.run(["bash", str(STACK), "start", "tansu"], check=True, capture_output=True)

    t = None
    t0 = time.time()
    for i in range(args.messages):
        if i == args.messages // 3:
            t = threading.Thread(target=outage)
            t.start()
        p.produce(topic, key=str(i % 97), value=str(i).encode(), on_delivery=report)
        p.poll(0)
        time.sleep(1.0 / args.rate)
    if t:
        t.join()
    left = p.flush(90)
    values, marks = read_all(brokers, topic)
    seen = collections.Counter(int(v) for v in values)
    lost = sorted(acked - set(seen))
    dups = sum(n - 1 for n in seen.values())
    print(
        f"PROBE signal={args.signal} idempotence={not args.no_idempotence} sent={args.messages} acked={len(acked)} failed={sum(failed.values())}"
        f" unflushed={left} in_topic={len(seen)} lost_acked={len(lost)} duplicated={dups}"
        f" unacked_but_present={len(set(seen) - acked)} secs={time.time() - t0:.1f}"
    )
    print(f"  partitions (high watermark, last offset delivered): {marks}")
    if failed:
        print(f"  delivery errors: {dict(failed)}")
    if lost:
        print(f"  lost acknowledged messages (first 20): {lost[:20]}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
