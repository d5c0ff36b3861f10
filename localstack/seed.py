"""Idempotent seed of the local stack: S3 buckets, SQS queues, Kafka topics.

Run with the stack venv's python (boto3 comes with localstack-core, confluent-kafka
is installed there by stack.sh). Everything "already exists" is fine.

    python seed.py --bucket tansu
    python seed.py --buckets a b --topics t1 t2 --partitions 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get("FRAUD_STACK_AWS_ENDPOINT", "http://127.0.0.1:4566")
BROKERS = os.environ.get("FRAUD_STACK_KAFKA_BROKERS", "127.0.0.1:19092")
REGION = "us-east-1"

# queue name -> (dead-letter queue name or None, maxReceiveCount)
QUEUES = [
    ("fraud-alerts-dlq", None, 0),
    ("fraud-ingest-dlq", None, 0),
    ("fraud-alerts", "fraud-alerts-dlq", 3),
]


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
    )


def seed_buckets(names: list[str]) -> None:
    s3 = client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in names:
        if name in existing:
            print(f"s3: bucket {name} exists")
            continue
        try:
            s3.create_bucket(Bucket=name)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        print(f"s3: bucket {name} created")


def seed_queues() -> None:
    sqs = client("sqs")
    for name, dlq, max_receive in QUEUES:
        attrs: dict[str, str] = {}
        if dlq:
            dlq_url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
            )
        # CreateQueue is idempotent when the attributes match; set them again anyway
        # so a queue made by hand earlier ends up with the right redrive policy.
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        if attrs:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attrs)
        print(f"sqs: queue {name} ready {url}" + (f" redrive->{dlq} x{max_receive}" if dlq else ""))


def seed_topics(names: list[str], partitions: int) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": BROKERS, "socket.timeout.ms": 10000})
    deadline = time.monotonic() + 60
    while True:  # metadata request = broker really answers the Kafka protocol
        try:
            md = admin.list_topics(timeout=5)
            break
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"kafka: no metadata from {BROKERS}: {exc}")
            time.sleep(0.5)
    missing = [t for t in names if t not in md.topics]
    if missing:
        futures = admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing],
            operation_timeout=30,
            request_timeout=30,
        )
        for topic, fut in futures.items():
            try:
                fut.result()
                print(f"kafka: topic {topic} created ({partitions} partitions)")
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    md = admin.list_topics(timeout=10)
    for t in names:
        meta = md.topics.get(t)
        if meta is None or meta.error is not None:
            raise SystemExit(f"kafka: topic {t} missing after create: {meta and meta.error}")
        n = len(meta.partitions)
        note = "" if n == partitions else f" (WARNING: expected {partitions})"
        print(f"kafka: topic {t} has {n} partitions{note}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bucket", action="append", default=[], help="create just this bucket")
    ap.add_argument("--buckets", nargs="*", default=[])
    ap.add_argument("--topics", nargs="*", default=[])
    ap.add_argument("--partitions", type=int, default=3)
    args = ap.parse_args()

    print(f"--- seed {time.strftime('%Y-%m-%dT%H:%M:%S')}")
    seed_buckets(args.bucket + args.buckets)
    if args.buckets:
        seed_queues()
    if args.topics:
        seed_topics(args.topics, args.partitions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
