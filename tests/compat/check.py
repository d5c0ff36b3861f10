"""The ledger of a compatibility run: was every payment the producers wrote scored
exactly once, or dead-lettered with a reason, as the expectation table says?

Usage: check.py --brokers B --scored TOPIC --dlq TOPIC --manifest FILE

Reads the run's scored and dead-letter topics to idle (not to the high watermarks, which
Tansu reports too low), attributes every dead letter to trans_nums (its `trans_num`;
else the message whose value it holds as `raw`; else the trans_nums its raw contains),
and checks each trans_num of the manifest: expected scored = exactly one scored record,
carrying the payment's event time, and no dead letter; expected refused = no scored
record and a dead letter with a non-empty reason. Values that name no payment (a JSON
number) are matched by the dead letter's raw content alone. Prints one row per
(encoding, client, key mode) and exits 1 on any mismatch, or on a scored record or dead
letter the producers did not write.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import sys
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def read_topic(brokers: str, topic: str, idle_secs: float = 3.0, first_wait: float = 15.0) -> list[bytes]:
    """Every record of every partition, from the beginning, until nothing has come for
    `idle_secs` (or `first_wait` before the first record)."""
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"compat-check-{uuid.uuid4()}",
        "enable.auto.commit": False,
    })
    parts = c.list_topics(topic, timeout=30).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    values, last = [], time.monotonic()
    while time.monotonic() - last < (idle_secs if values else first_wait):
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        values.append(m.value())
        last = time.monotonic()
    c.close()
    return values


@dataclass
class Outcome:
    scored_times: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def attribute(letters: list[dict], messages: list[dict], known: set[str]) -> tuple[dict[str, list[str]], list[dict]]:
    """Reasons by trans_num (or token), and the dead letters that match nothing."""
    by_raw = collections.defaultdict(list)
    for m in messages:
        by_raw[m["raw"]].append(m)
    reasons, stray = collections.defaultdict(list), []
    for letter in letters:
        reason, raw = letter.get("reason") or "", letter.get("raw") or ""
        if letter.get("trans_num") in known:
            targets = [letter["trans_num"]]
        elif raw in by_raw:
            targets = [t for m in by_raw[raw] for t in (list(m["expect"]) or [m["token"]])]
        else:
            targets = [t for t in known if t in raw]
        if not targets:
            stray.append(letter)
        for t in targets:
            reasons[t].append(reason)
    return reasons, stray


def time_ok(scored_text: str, ms: int) -> bool:
    """The scored record's time is the payment's instant (whole seconds, floor or round)."""
    try:
        t = dt.datetime.strptime(scored_text[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    s = int(t.replace(tzinfo=dt.timezone.utc).timestamp())
    return s in (ms // 1000, round(ms / 1000))


def verdict(expect: str, o: Outcome, ms: int | None) -> str | None:
    """None if as expected, else what went wrong."""
    if expect == "scored":
        if o.reasons:
            return f"dead-lettered: {o.reasons[0]}"
        if not o.scored_times:
            return "neither scored nor dead-lettered"
        if len(o.scored_times) > 1:
            return f"scored {len(o.scored_times)} times"
        if ms is not None and not time_ok(o.scored_times[0], ms):
            expected = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            return f"scored at {o.scored_times[0]}, the payment's time is {expected} UTC"
        return None
    if o.scored_times:
        return f"scored ({len(o.scored_times)}x), expected refused"
    if not o.reasons:
        return "neither scored nor dead-lettered"
    if not all(r.strip() for r in o.reasons):
        return "dead-lettered without a reason"
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--scored", required=True)
    ap.add_argument("--dlq", required=True)
    ap.add_argument("--manifest", required=True)
    args = ap.parse_args()

    messages = [json.loads(line) for line in open(args.manifest)]
    known = {t for m in messages for t in m["expect"]}
    outcomes = collections.defaultdict(Outcome)
    stray_scored = []
    for value in read_topic(args.brokers, args.scored):
        record = json.loads(value)
        if record.get("trans_num") in known:
            outcomes[record["trans_num"]].scored_times.append(record.get("trans_date_trans_time", ""))
        else:
            stray_scored.append(record.get("trans_num"))
    letters = []
    for value in read_topic(args.brokers, args.dlq):
        try:
            letters.append(json.loads(value))
        except ValueError:
            letters.append({"reason": "", "raw": value.decode(errors="replace")})
    reasons, stray_letters = attribute(letters, messages, known)
    for t, r in reasons.items():
        outcomes[t].reasons.extend(r)

    groups = collections.OrderedDict()
    for m in messages:
        g = groups.setdefault((m["encoding"], m["client"], m["key_mode"]),
                              {"sent": 0, "scored": 0, "dead": 0, "expect": collections.Counter(), "problems": []})
        items = [(t, e, m["times"].get(t)) for t, e in m["expect"].items()] or [(m["token"], "refused", None)]
        for t, e, ms in items:
            o = outcomes[t]
            g["sent"] += 1
            g["scored"] += len(o.scored_times)
            g["dead"] += bool(o.reasons)
            g["expect"][e] += 1
            problem = verdict(e, o, ms)
            if problem:
                g["problems"].append(f"{t[:12]}: {problem}")

    head = ("encoding", "client", "key", "sent", "scored", "dead-lettered", "expected", "result")
    rows = []
    for (enc, client, key), g in groups.items():
        expected = ", ".join(f"{n} {e}" for e, n in sorted(g["expect"].items(), reverse=True))
        result = "ok" if not g["problems"] else f"MISMATCH ({len(g['problems'])})"
        rows.append((enc, client, key, str(g["sent"]), str(g["scored"]), str(g["dead"]), expected, result))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    failed = [(k, g) for k, g in groups.items() if g["problems"]]
    if failed:
        print("\n  mismatches (first of each row):")
        for (enc, client, key), g in failed:
            print(f"    {enc} / {client} / {key}: {g['problems'][0][:220]}")
    if stray_scored:
        print(f"  {len(stray_scored)} scored records the producers did not write, e.g. {stray_scored[:3]}")
    if stray_letters:
        print(f"  {len(stray_letters)} dead letters matching no message, e.g. {[l.get('reason') for l in stray_letters[:3]]}")
    passed = len(groups) - len(failed)
    bad = len(failed) + bool(stray_scored) + bool(stray_letters)
    print(f"compat: {passed} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
