"""Producers of other teams: poll the payments API, write every encoding of
payment_encodings.py to Kafka with both client libraries and every key mode.

Usage: produce.py --api URL --brokers B --topic T --manifest FILE [--messages N] [--seed S]

Each (encoding, client) pair writes --messages messages with one key mode (the modes
rotate over the encodings, so each client uses all four). Every delivery is confirmed by
the broker before this exits. The manifest (JSON lines, one per message) records what was
written and the expectation of each trans_num, for check.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.request

import confluent_kafka
import kafka  # kafka-python

from payment_encodings import ENCODINGS, KEY_MODES, Context, Message, Page, api_body, key_for


def poll(api: str) -> Page:
    """GET /current-transactions as a producer does: the answer is a JSON string."""
    with urllib.request.urlopen(f"{api}/current-transactions", timeout=10) as response:
        body = response.read()
    return Page(body, json.loads(json.loads(body)))


class Pages:
    """Pages of the API, and rows taken from them one encoding at a time."""

    def __init__(self, api: str):
        self.api, self.rows, self.columns, self.seen = api, [], None, set()

    def page(self) -> Page:
        for _ in range(50):
            page = poll(self.api)
            if page.frame["data"]:
                self.columns = self.columns or page.frame["columns"]
                self._unique(page.rows)
                return page
            time.sleep(0.1)
        sys.exit("the payments API keeps answering empty pages")

    def take(self, n: int) -> list[dict]:
        while len(self.rows) < n:
            self.rows.extend(self.page().rows)
        out, self.rows = self.rows[:n], self.rows[n:]
        return out

    def _unique(self, rows: list[dict]) -> None:
        for r in rows:
            if r["trans_num"] in self.seen:
                sys.exit(f"the API served trans_num {r['trans_num']} twice: counts would not be exact")
            self.seen.add(r["trans_num"])


def as_bytes(value: object, compact: bool) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(value, separators=(",", ":") if compact else None).encode()


class ConfluentProducer:
    """confluent-kafka, the way its users write JSON: json.dumps(...).encode() per produce."""

    name = "confluent-kafka"

    def __init__(self, brokers: str):
        self.p = confluent_kafka.Producer({"bootstrap.servers": brokers, "client.id": "compat-confluent"})
        self.errors = []

    def send(self, topic: str, key: str | None, value: object) -> bytes:
        data = as_bytes(value, compact=True)

        def delivered(err, _msg):
            if err is not None:
                self.errors.append(err)

        self.p.produce(topic, value=data, key=None if key is None else key.encode(), on_delivery=delivered)
        self.p.poll(0)
        return data

    def close(self) -> None:
        left = self.p.flush(30)
        if left or self.errors:
            sys.exit(f"{self.name}: {left} undelivered, errors {self.errors[:3]}")


class JsonSerializer(kafka.serializer.Serializer):
    """kafka-python's value_serializer: json.dumps of the value (bytes pass as they are)."""

    def serialize(self, topic, value):
        return as_bytes(value, compact=False)


class KeySerializer(kafka.serializer.Serializer):
    def serialize(self, topic, key):
        return None if key is None else key.encode()


class KafkaPythonProducer:
    """kafka-python with a JSON value_serializer (json.dumps of the Python value)."""

    name = "kafka-python"

    def __init__(self, brokers: str):
        self.p = kafka.KafkaProducer(
            bootstrap_servers=brokers,
            client_id="compat-kafka-python",
            acks="all",
            key_serializer=KeySerializer(),
            value_serializer=JsonSerializer(),
        )
        self.futures = []

    def send(self, topic: str, key: str | None, value: object) -> bytes:
        self.futures.append(self.p.send(topic, key=key, value=value))
        return as_bytes(value, compact=False)

    def close(self) -> None:
        self.p.flush(30)
        for f in self.futures:
            f.get(timeout=30)  # raises if the broker did not acknowledge it
        self.p.close(5)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--messages", type=int, default=2, help="per encoding and client")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    pages = Pages(args.api)
    pages.page()  # learn the API's columns
    ctx = Context(random.Random(args.seed), pages.columns)
    clients = [ConfluentProducer(args.brokers), KafkaPythonProducer(args.brokers)]
    with open(args.manifest, "w") as manifest:
        n = 0
        for i, enc in enumerate(ENCODINGS):
            for c, client in enumerate(clients):
                mode = KEY_MODES[(i + 2 * c) % len(KEY_MODES)]
                for _ in range(args.messages):
                    if enc.rows == 0:
                        page = pages.page()
                        rows, msg = page.rows, api_body(page)
                    else:
                        rows = pages.take(enc.rows)
                        msg: Message = enc.encode(rows, ctx)
                    key = key_for(mode, rows)
                    raw = client.send(args.topic, key, msg.value)
                    n += 1
                    manifest.write(json.dumps({
                        "n": n, "encoding": enc.name, "client": client.name, "key_mode": mode, "key": key,
                        "raw": raw.decode(), "expect": msg.expect, "times": msg.times, "token": msg.token,
                    }) + "\n")
        for client in clients:
            client.close()
    payments = sum(len(json.loads(l)["expect"]) for l in open(args.manifest))
    print(f"  producers: {n} messages ({payments} payments) to {args.topic}, every one acknowledged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
