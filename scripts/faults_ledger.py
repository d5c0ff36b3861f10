"""The exact ledger of a faults.sh pipeline run (run with the stack venv's Python).

Reads back everything the run produced and accounts for every payment:
  served by the API  = in Kafka + rejected rows (ingest → payments.dlq) + lost before Kafka
  in Kafka (unique)  = scored (Postgres ledger) + dead-lettered (score/bridge → payments.dlq) + lost
and checks duplicates: Kafka copies of one trans_num, alerts delivered twice, alerts
missing for blocked payments.

Usage: faults_ledger.py pipeline BROKERS TOPIC DLQ_TOPIC OUT MODEL PUBLISHED REJECTED DUPLICATES FAILED_POLLS FETCHED
Exit 1 if anything was lost, double-scored, or an alert is missing or duplicated.
"""

from __future__ import annotations

import collections
import json
import pathlib
import sys
import time
import uuid

from confluent_kafka import Consumer


def read_topic(brokers: str, topic: str) -> list[bytes]:
    """Every record of the topic, read by a fresh consumer group from the earliest offset
    until nothing has come for a few seconds. Not bounded by the high watermarks: Tansu
    0.6 (S3 storage) reports watermarks below offsets it serves (seen on every run, with
    or without a broker restart), so stopping at them under-counts what is in Kafka."""
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"faults-ledger-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    values, idle, deadline = [], 0, time.monotonic() + 120
    while time.monotonic() < deadline:
        m = consumer.poll(1.0)
        if m is None:
            idle += 1
            # The group's first join takes a few seconds: wait longer before the first record.
            if idle >= (5 if values else 15):
                break
            continue
        if m.error():
            continue
        idle = 0
        values.append(m.value())
    consumer.close()
    return values


def main() -> int:
    _, brokers, topic, dlq_topic, out, model, published, rejected, dup_skipped, failed_polls, fetched = sys.argv[1:]
    out = pathlib.Path(out)
    published, rejected, dup_skipped, fetched = int(published), int(rejected), int(dup_skipped), int(fetched)
    # A bad page counts as one rejection and is not taken from the API (it is served
    # again); rejected rows are fetched rows that were neither published nor duplicates.
    rejected_rows = fetched - published - dup_skipped
    bad_pages = rejected - rejected_rows

    in_kafka = collections.Counter(json.loads(v)["trans_num"] for v in read_topic(brokers, topic))
    letters = [json.loads(v) for v in read_topic(brokers, dlq_topic)]
    # Dead letters of this run: score/bridge letters name our topic as their source;
    # ingest letters (rejected rows, bad pages) name the API URL.
    ours = [d for d in letters if str(d.get("source", "")).startswith(topic + "-")]
    dead = collections.Counter()
    for d in ours:
        tn = d.get("trans_num")
        if not tn:
            try:
                tn = json.loads(d.get("raw") or "{}").get("trans_num")
            except json.JSONDecodeError:
                tn = None
        dead[tn] += 1
    scored, scored_elsewhere = {}, {}
    for line in (out / "scored.tsv").read_text().splitlines():
        tn, decision, version = line.split("\t")
        if version == model:
            scored[tn] = decision
        else:
            scored_elsewhere[tn] = version
    blocked = {t for t, d in scored.items() if d == "block"}
    alerts = collections.Counter()
    alerts_file = out / "alerts.jsonl"
    if alerts_file.exists():
        for line in alerts_file.read_text().splitlines():
            a = json.loads(line)
            if a.get("model_version") == model:
                alerts[a["trans_num"]] += 1
    # The sink records an alert once per idempotency key; deliveries it acknowledged
    # (including repeats) are the notify function's "alert delivered" log lines.
    watch_log = out / "watch.log"
    deliveries = watch_log.read_text(errors="replace").count("alert delivered") if watch_log.exists() else 0
    all_alerts = len(alerts_file.read_text().splitlines()) if alerts_file.exists() else 0
    stats = json.loads((out / "sim-stats.json").read_text())

    unique_in = set(in_kafka)
    scored_ours = {t for t in scored if t in unique_in}
    dead_ours = {t for t in dead if t in unique_in}
    # In the ledger under another model: scored before this run (the same trans_num
    # from an earlier run) or by a model promoted by someone else meanwhile.
    elsewhere = {t: v for t, v in scored_elsewhere.items() if t in unique_in}
    lost = unique_in - scored_ours - dead_ours - set(elsewhere)
    both = scored_ours & dead_ours
    kafka_dups = sum(n - 1 for n in in_kafka.values())
    served = stats["transactions_served"]
    lost_before_kafka = served - len(unique_in) - rejected_rows
    row = {
        "served_by_api": served,
        "api_faults_served": stats["faults_served"]["total"],
        "failed_polls": int(failed_polls),
        "ingest_published": published,
        "ingest_fetched": fetched,
        "ingest_rejected_rows": rejected_rows,
        "ingest_bad_pages": bad_pages,
        "ingest_duplicates_skipped": dup_skipped,
        "in_kafka_unique": len(unique_in),
        "kafka_duplicates": kafka_dups,
        "scored": len(scored_ours),
        "dead_lettered": len(dead_ours),
        "lost_before_kafka": lost_before_kafka,
        "lost_after_kafka": len(lost),
        "scored_under_another_model": len(elsewhere),
        "scored_and_dead_lettered": len(both),
        "blocked": len(blocked & unique_in),
        "alerts_delivered": len(alerts),
        "alerts_duplicated": sum(n - 1 for n in alerts.values()),
        "alerts_missing": len((blocked & unique_in) - set(alerts)),
        "webhook_deliveries": deliveries,
        "webhook_repeat_deliveries": max(0, deliveries - all_alerts),
    }
    print("LEDGER " + " ".join(f"{k}={v}" for k, v in row.items()))
    (out / "ledger.json").write_text(json.dumps(row, indent=2))
    if ours:
        reasons = collections.Counter(d.get("reason", "")[:100] for d in ours)
        for reason, n in reasons.most_common(5):
            print(f"  dead-letter reason x{n}: {reason}")
    problems = []
    if not unique_in:
        problems.append("nothing reached Kafka")
    if lost:
        problems.append(f"{len(lost)} payments in Kafka neither scored nor dead-lettered: {sorted(lost)[:5]}")
    if elsewhere:
        versions = collections.Counter(elsewhere.values()).most_common(3)
        problems.append(
            f"{len(elsewhere)} payments were in the score ledger under another model than {model} "
            f"({', '.join(f'{v} x{n}' for v, n in versions)}): scored before this run or by a model "
            "promoted meanwhile, so this run cannot account for them"
        )
    if lost_before_kafka:
        problems.append(f"{lost_before_kafka} payments served by the API never reached Kafka or the DLQ")
    if both:
        problems.append(f"{len(both)} payments both scored and dead-lettered")
    if row["alerts_missing"]:
        problems.append(f"{row['alerts_missing']} blocked payments without an alert")
    if row["alerts_duplicated"]:
        problems.append(f"{row['alerts_duplicated']} alerts recorded twice")
    if published != len(unique_in):
        problems.append(f"ingest reported {published} published but Kafka holds {len(unique_in)}")
    for p in problems:
        print("  LEDGER PROBLEM: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
