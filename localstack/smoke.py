"""Round trips through the local stack: S3 put/get, SQS send/receive, Kafka produce/consume.

Run with the stack venv's python (`localstack/stack.sh check` does). Uses its own
S3 key, drains only its own SQS message and a dedicated topic, so it does not
disturb the project's data.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get("FRAUD_STACK_AWS_ENDPOINT", "http://127.0.0.1:4566")
BROKERS = os.environ.get("FRAUD_STACK_KAFKA_BROKERS", "127.0.0.1:19092")
TOPIC = "fraud-stack.smoke"


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )


def check_s3(token: str) -> None:
    s3 = client("s3")
    key = f"smoke/{token}.txt"
    s3.put_object(Bucket="fraud-data", Key=key, Body=token.encode())
    body = s3.get_object(Bucket="fraud-data", Key=key)["Body"].read().decode()
    s3.delete_object(Bucket="fraud-data", Key=key)
    assert body == token, body
    print("s3: ok (put/get fraud-data)")


def check_sqs(token: str) -> None:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName="fraud-alerts")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=token)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            if m["Body"] == token:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                print("sqs: ok (send/receive fraud-alerts)")
                return
    raise SystemExit("sqs: message not received")


def check_kafka(token: str) -> None:
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": BROKERS})
    fut = admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])[TOPIC]
    try:
        fut.result()
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise

    producer = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True})
    producer.produce(TOPIC, key=b"smoke", value=token.encode())
    if producer.flush(15) != 0:
        raise SystemExit("kafka: produce not acknowledged")

    consumer = Consumer(
        {
            "bootstrap.servers": BROKERS,
            "group.id": f"smoke-{token}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([TOPIC])
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            if msg.value().decode() == token:
                print("kafka: ok (produce/consume fraud-stack.smoke)")
                return
    finally:
        consumer.close()
    raise SystemExit("kafka: message not consumed")


def main() -> int:
    token = uuid.uuid4().hex
    check_s3(token)
    check_sqs(token)
    check_kafka(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
