"""Reference streaming scorer: the Kafka consumer a Python team would write.

confluent-kafka consumer in its own group on the run's payments topic; for each message,
one at a time: decode the JSON, compute the 47 v2 features with an in-memory per-card
history (`score_loop.CardHistories`, the same definitions as `fraud_core::features`), a
one-row DataFrame, scikit-learn `predict_proba`, and produce a scored record to its own
topic with the same producer settings as ours (idempotent, acks=all, linger.ms=5).
The scored record carries `published_at_ms` (the payment's Kafka timestamp) and
`source` (`topic-partition@offset`) like the score function's, so `fraud-bridge latency`
measures both the same way. It does less than ours: no Postgres ledger or card state,
no S3 results, no alert queue.

Stops when it has scored `--expect` payments or `--max-seconds` after the first message
(a backlog it cannot clear is reported as missing, not waited for). Prints one JSON line.

Usage: kafka_consumer.py MODEL.joblib --brokers B --topic T --scored-topic S --expect N
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import pandas as pd  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score_loop import FEATURE_NAMES, CardHistories, load_one_core_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--scored-topic", required=True)
    parser.add_argument("--group", default=None)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="stop this long after the first message even if behind")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--ready-file", help="touched once the consumer holds its partitions")
    parser.add_argument("--fetch-wait-max-ms", type=int, default=None,
                        help="librdkafka fetch.wait.max.ms (its default, 500, when unset)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="X has feature names")

    model = load_one_core_model(args.model)
    histories = CardHistories()
    producer = Producer({
        "bootstrap.servers": args.brokers, "enable.idempotence": True, "acks": "all",
        "linger.ms": 5,
    })
    ready = {"done": False}

    def on_assign(consumer, partitions):
        if args.ready_file and not ready["done"]:
            open(args.ready_file, "w").close()
            ready["done"] = True

    extra = {"fetch.wait.max.ms": args.fetch_wait_max_ms} if args.fetch_wait_max_ms is not None else {}
    consumer = Consumer({
        **extra,
        "bootstrap.servers": args.brokers,
        "group.id": args.group or f"python-reference-{os.getpid()}-{int(time.time() * 1000)}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
    })
    consumer.subscribe([args.topic], on_assign=on_assign)
    scored = 0
    first_at = None
    busy = 0.0
    last_progress = time.monotonic()
    while scored < args.expect:
        if first_at is not None and time.monotonic() - first_at > args.max_seconds:
            break
        msg = consumer.poll(0.1)
        if msg is None:
            continue
        if msg.error():
            print(f"consumer error: {msg.error()}", file=sys.stderr)
            continue
        started = time.perf_counter()
        if first_at is None:
            first_at = time.monotonic()
        payment = json.loads(msg.value())
        features = histories.observe(payment)
        frame = pd.DataFrame([features], columns=FEATURE_NAMES)
        probability = float(model.predict_proba(frame)[0, 1])
        record = {
            "trans_num": payment["trans_num"],
            "cc_num": payment["cc_num"],
            "probability": probability,
            "decision": "block" if probability >= args.threshold else "approve",
            "source": f"{msg.topic()}-{msg.partition()}@{msg.offset()}",
            "published_at_ms": msg.timestamp()[1],
        }
        producer.produce(args.scored_topic, key=str(payment["cc_num"]), value=json.dumps(record))
        producer.poll(0)
        scored += 1
        busy += time.perf_counter() - started
        if time.monotonic() - last_progress >= 2.0:
            print(f"python reference: {scored} of {args.expect} scored", file=sys.stderr)
            last_progress = time.monotonic()
    left = producer.flush(30)
    consumer.close()
    print(json.dumps({
        "scored": scored,
        "expected": args.expect,
        "unflushed": left,
        "busy_seconds": busy,
        "records_per_busy_s": scored / busy if busy else None,
    }))


if __name__ == "__main__":
    main()
