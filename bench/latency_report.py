"""Writes the end-to-end latency section of BENCHMARKS.md from bench/latency.sh's results.

Reads RESULTS/{produce,latency}_{ours,py}_NAME.json (from `fraud-bridge produce` and
`fraud-bridge latency`), consumer_py_NAME.json, machine.json and the Kafka bridge's
summary lines; replaces the section (from its heading to the next `## `) or appends it;
prints a short summary. Standard library only.
"""
import argparse
import json
import pathlib
import re
import sys

HEADING = "## End to end: publish → scored → alert latency on the local stack"


def load(path):
    try:
        return json.loads(pathlib.Path(path).read_text().strip().splitlines()[-1])
    except (OSError, IndexError, json.JSONDecodeError):
        return None


def ms(v, missing_bound=None):
    if v is None:
        return f"> {missing_bound:,.0f} ms (not reached)" if missing_bound else "not reached"
    return f"{v:,.0f} ms"


def rate_text(r):
    return f"{r / 1000:g}k" if r >= 1000 else f"{r:g}"


def lag_grew(lat):
    """Lag grew: payments left unscored when collection stopped, or the median latency of
    the last quarter of the run is more than twice the first quarter's plus 100 ms."""
    s = lat["scored"]
    if s["missing"] > 0:
        return True
    first, last = s["first_quarter_p50_ms"], s["last_quarter_p50_ms"]
    return first is not None and last is not None and last > 2 * first + 100


def runs(results, side):
    out = []
    for path in sorted(results.glob(f"latency_{side}_*.json")):
        name = path.stem.split("_", 2)[2]
        if name == "warmup":
            continue
        lat, prod = load(path), load(results / f"produce_{side}_{name}.json")
        if not lat or not prod:
            continue
        out.append({"name": name, "rate": prod["rate"], "secs": prod["duration_secs"], "lat": lat,
                    "prod": prod, "consumer": load(results / f"consumer_py_{name}.json") if side == "py" else None})
    return sorted(out, key=lambda r: (r["rate"], r["name"]))


def bridge_summary(logs, name):
    try:
        text = (logs / f"bridge-kafka-{name}.out").read_text()
    except OSError:
        return None
    m = re.search(r"batches: mean ([\d.]+) records \(max (\d+)\), invoke p50 ([\d.]+) / p99 ([\d.]+) / max ([\d.]+) ms, "
                  r"offset commit p50 ([\d.]+) / p99 ([\d.]+)", text)
    if not m:
        return None
    keys = ["mean_batch", "max_batch", "invoke_p50", "invoke_p99", "invoke_max", "commit_p50", "commit_p99"]
    return dict(zip(keys, (float(x) for x in m.groups())))


STEPS = [("load_ms", "histories load (+ locks)"), ("score_ms", "features + model"), ("claim_ms", "ledger claim"),
         ("s3_ms", "S3 results"), ("kafka_ms", "scored topic (acked)"), ("sqs_ms", "SQS alerts"),
         ("save_ms", "histories save"), ("commit_ms", "commit"), ("total_ms", "whole batch")]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))]


def score_steps(logs, name):
    """The score function's `batch scored` step timings of one run (logs/score-NAME.log)."""
    try:
        text = (logs / f"score-{name}.log").read_text(errors="replace")
    except OSError:
        return None
    out = {k: [] for k, _ in STEPS}
    out["total_200_300"], sizes = [], []
    for line in text.splitlines():
        try:
            d = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        d = {**d, **d.get("fields", {})} if isinstance(d.get("fields"), dict) else d
        received = d.get("received")
        if not received:
            continue
        sizes.append(float(received))
        for k, _ in STEPS:
            if k in d:
                out[k].append(float(d[k]))
        if 200 <= float(received) <= 300 and "total_ms" in d:
            out["total_200_300"].append(float(d["total_ms"]))
    if not sizes:
        return None
    out["batches"], out["mean_batch"] = len(sizes), sum(sizes) / len(sizes)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results", type=pathlib.Path)
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--command", required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--max-wait-ms", type=int, required=True)
    ap.add_argument("--fetch-wait-ms", type=int, required=True)
    ap.add_argument("--rates", required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--step-duration", type=float, required=True)
    ap.add_argument("--drain-secs", type=float, required=True)
    ap.add_argument("--trees", type=int, required=True)
    ap.add_argument("--kafka-storage", default="")
    ap.add_argument("--logs", type=pathlib.Path, required=True)
    a = ap.parse_args()
    machine = load(a.results / "machine.json") or {}
    ours, py = runs(a.results, "ours"), runs(a.results, "py")
    main_rates = [float(r) for r in a.rates.split()]
    drain_ms = a.drain_secs * 1000

    lines = [HEADING, ""]
    lines.append(
        f"Command: `{a.command}`, {machine.get('date', '?')}; {machine.get('nproc', '?')} cores ({machine.get('cpu', '?')}), "
        f"{machine.get('mem_gib', '?')} GiB, shared with other work (load average {machine.get('loadavg_end', '?')} at the end); "
        f"{machine.get('rustc', '')}; Python {machine.get('python', '?')}, scikit-learn {machine.get('sklearn', '?')}, "
        f"confluent-kafka {machine.get('confluent_kafka', '?')} (librdkafka {machine.get('librdkafka', '?')}). "
        f"Broker: Tansu on the local stack, storage `{a.kafka_storage or '?'}`; topics with 3 partitions.")
    lines.append("")
    lines.append(f"""Producer: `fraud-bridge produce` publishes generated payments (`fraudctl generate`, a fresh file per
run so that no trans_num is already in the ledger) in event-time order, in ingest's message format
(`Transaction::to_json`, keyed by card) with the project's producer (idempotent, `acks=all`,
`linger.ms=5`), paced: payment *i* goes out on the first 1 ms tick at or after *i / rate* seconds. It stands
in for ingest, whose publishing is driven by the payments API poll schedule, not by a rate.
Each payment's Kafka timestamp is its send time. **Latency** = the scored record's Kafka timestamp
(set when the scorer produced it) − the payment's send time, read back by `fraud-bridge latency` over every
payment of the run; a payment still unscored when collection stopped counts as slower than all others, so
a percentile that needs it is reported as not reached. **Alert latency** (ours) = webhook receive time −
send time, for every blocked payment: that is the issue's ingest → alert.
Ours: `fraud-bridge kafka` (the event source mapping: a consumer group, batches of up to {a.batch_size}
records, waiting at most {a.max_wait_ms} ms to fill one, one invocation at a time, offsets committed after each;
consumer `fetch.wait.max.ms` {a.fetch_wait_ms}, the same for the Python consumer) →
Lambda Invoke API (`cargo lambda watch --release`) → `fraud-score` (release build; card histories and the
ledger in PostgreSQL in one transaction, results file to S3 on LocalStack, every record to `{'bench.scored'}`
with delivery confirmed, alerts to SQS) → `fraud-bridge sqs` → `fraud-notify` → webhook sink (HMAC checked).
Warm: a short warm-up run (not reported) starts both functions first. Lambda's own Kafka event source
waits up to 500 ms by default to fill a batch (`MaximumBatchingWindowInSeconds`, settable to 0 s and
whole seconds only); template.yaml sets it from `KafkaBatchingWindowSeconds`, default 0 s (it was 1 s
before 2026-12-04, which would add up to a second that this run, at {a.max_wait_ms} ms, does not).
Python: `bench/reference/kafka_consumer.py`, a confluent-kafka consumer in its own group on the same broker,
one message at a time: JSON → the 47 features in Python with an in-memory card history → one-row DataFrame →
scikit-learn `predict_proba` (RandomForest, {a.trees} trees, `n_jobs=1`) → produce a scored record (same producer
settings); no database, S3 or alerts. Both models: {a.trees} trees trained on the same generated data
(ours `fraudctl train --learner cart --max-features 6`). Each side runs alone (never both at once).
Rates {', '.join(rate_text(r) for r in main_rates)} msg/s for {a.duration:g} s; step search
{a.step_duration:g} s per rate. A side may take {a.drain_secs:g} s after publishing to catch up; what is left
is counted as missing. **Lag grew** = payments unscored at the end, or the median latency of the last quarter of
the run above twice the first quarter's + 100 ms.""")
    lines.append("")
    storage = f"`{a.kafka_storage or '?'}`"
    lines.append("| side | broker storage | rate (msg/s) | payments | published at | scored | p50 | p95 | p99 | max | median latency, first → last quarter | scoring throughput | lag grew |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for side, label in ((ours, "ours"), (py, "Python reference")):
        for r in side:
            s = r["lat"]["scored"]
            bound = drain_ms if s["missing"] else None
            trend = (f"{ms(s['first_quarter_p50_ms'])} → {ms(s['last_quarter_p50_ms'])}"
                     if s["first_quarter_p50_ms"] is not None else "")
            lines.append(
                f"| {label} | {storage} | {rate_text(r['rate'])} ({r['secs']:g} s) | {r['prod']['sent']:,} | {r['prod']['achieved_rate']:,.0f}/s "
                f"| {s['observed']:,} ({s['observed'] / max(1, s['expected']):.1%}) | {ms(s['p50_ms'], bound)} | {ms(s['p95_ms'], bound)} "
                f"| {ms(s['p99_ms'], bound)} | {ms(s['max_ms'])}{' (of the scored)' if s['missing'] else ''} | {trend} "
                f"| {s['throughput_per_s'] or 0:,.0f}/s | {'**yes**' if lag_grew(r['lat']) else 'no'} |")
    lines.append("")

    alert_rows = [r for r in ours if r["lat"].get("alerts")]
    if alert_rows:
        lines.append("Ours, publish → alert received by the webhook (the issue's ingest → alert; SQS, `fraud-bridge sqs` "
                     f"long-polling, notify, HMAC-signed POST); broker storage {storage}:")
        lines.append("")
        lines.append("| rate (msg/s) | alerts expected | received | p50 | p95 | p99 | max |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in alert_rows:
            al = r["lat"]["alerts"]
            lines.append(f"| {rate_text(r['rate'])} | {al['expected']} | {al['observed']} | {ms(al['p50_ms'])} | {ms(al['p95_ms'])} "
                         f"| {ms(al['p99_ms'])} | {ms(al['max_ms'])} |")
        lines.append("")

    def by_rate(side, rate):
        return next((r for r in side if r["rate"] == rate), None)

    ratio_text = {}
    # Every rate both sides ran (the main rates and any shared step).
    shared = sorted({r["rate"] for r in ours} & {r["rate"] for r in py})
    if shared:
        lines.append(f"Ratios at the same rate (ours ÷ Python; lower latency and higher throughput are better; broker storage {storage}):")
        lines.append("")
        lines.append("| rate (msg/s) | p50 ours ÷ Python | p99 ours ÷ Python | scoring throughput ours ÷ Python |")
        lines.append("|---|---|---|---|")
    for rate in shared:
        o, p = by_rate(ours, rate), by_rate(py, rate)
        if not o or not p:
            continue
        cells = []
        both_behind = lag_grew(o["lat"]) and lag_grew(p["lat"])
        for q in ("p50_ms", "p99_ms"):
            if both_behind:
                cells.append("both fell behind (lag grew)")
                continue
            ov, pv = o["lat"]["scored"][q], p["lat"]["scored"][q]
            if ov is None:
                cells.append("ours not reached")
            elif pv is None:
                cells.append(f"< {max(ov, 1) / drain_ms:.4f}× (Python's not reached)")
            else:
                cells.append(f"{max(ov, 1) / max(pv, 1):.4f}×")
        ot, pt = o["lat"]["scored"]["throughput_per_s"] or 0, p["lat"]["scored"]["throughput_per_s"] or 0
        cells.append(f"{ot / pt:,.1f}×" if pt else "")
        ratio_text[rate] = cells
        lines.append(f"| {rate_text(rate)} | " + " | ".join(cells) + " |")
    if shared:
        lines.append("")

    def sustained(side):
        ok = [r["rate"] for r in side if not lag_grew(r["lat"])]
        bad = [r["rate"] for r in side if lag_grew(r["lat"])]
        return (max(ok) if ok else None), (min(bad) if bad else None)

    lines.append("**Max sustained throughput before lag grows** (highest rate tried without lag growing, and the "
                 f"lowest where it grew; rates tried: the runs above; broker storage {storage}):")
    lines.append("")
    for side, label in ((ours, "ours"), (py, "Python reference")):
        ok, bad = sustained(side)
        per_busy = ""
        if side is py:
            busy = [r["consumer"]["records_per_busy_s"] for r in side if r.get("consumer") and r["consumer"].get("records_per_busy_s")]
            if busy:
                per_busy = f"; its per-message loop alone runs {min(busy):,.0f}–{max(busy):,.0f} messages per busy second"
        lines.append(f"- {label}: {rate_text(ok) + ' msg/s' if ok else 'none of the rates tried'}"
                     f"{', lag grew at ' + rate_text(bad) + ' msg/s' if bad else ''}{per_busy}.")
    lines.append("")

    prof = [(r, bridge_summary(a.logs, r["name"])) for r in ours]
    prof = [(r, b) for r, b in prof if b]
    if prof:
        lines.append("Where ours spends its time, per run (the Kafka bridge's own timings; *invoke* is the whole score "
                     "invocation seen from the event source: Invoke API round trip + the function's PostgreSQL, S3, Kafka and SQS work; "
                     f"*produce ack* is the payments producer's send → broker acknowledgement; broker storage {storage}):")
        lines.append("")
        lines.append("| rate (msg/s) | mean batch (max) | invoke p50 / p99 / max | offset commit p50 / p99 | produce ack p50 / p99 |")
        lines.append("|---|---|---|---|---|")
        for r, b in prof:
            lines.append(f"| {rate_text(r['rate'])} | {b['mean_batch']:.1f} ({b['max_batch']:.0f}) | {b['invoke_p50']:.1f} / {b['invoke_p99']:.1f} / "
                         f"{b['invoke_max']:.1f} ms | {b['commit_p50']:.1f} / {b['commit_p99']:.1f} ms "
                         f"| {ms(r['prod'].get('ack_p50_ms'))} / {ms(r['prod'].get('ack_p99_ms'))} |")
        lines.append("")

    steps = [(r, score_steps(a.logs, r["name"])) for r in ours]
    steps = [(r, st) for r, st in steps if st]
    if steps:
        lines.append("The score function's own step timings per batch (its `batch scored` log lines of each run, "
                     "p50 / p99 in ms; the S3 results, scored-topic deliveries (acknowledged), SQS alerts and history "
                     f"save overlap, so *whole batch* is not their sum; broker storage {storage}):")
        lines.append("")
        lines.append("| rate (msg/s) | batches | mean batch | " + " | ".join(label for _, label in STEPS)
                     + " | whole batch at 200–300 records |")
        lines.append("|---" * (len(STEPS) + 4) + "|")
        for r, st in steps:
            cells = [f"{pct(st[k], .5):.1f} / {pct(st[k], .99):.1f}" if st.get(k) else "" for k, _ in STEPS]
            mid = st["total_200_300"]
            lines.append(f"| {rate_text(r['rate'])} | {st['batches']} | {st['mean_batch']:.0f} | " + " | ".join(cells)
                         + (f" | {pct(mid, .5):.1f} / {pct(mid, .99):.1f} ({len(mid)}) |" if mid else " | (none) |"))
        lines.append("")

    o1k = by_rate(ours, 1000.0)
    if o1k:
        al = o1k["lat"].get("alerts") or {}
        p99a, p99s = al.get("p99_ms"), o1k["lat"]["scored"]["p99_ms"]
        met = p99a is not None and p99a <= 50
        lines.append(f"Target (issue 8): ingest → alert p99 ≤ 50 ms at 1k msg/s locally: **{ms(p99a)}** "
                     f"({al.get('observed', 0)} alerts; publish → scored p99 {ms(p99s)}): **{'met' if met else 'not met'}**.")
        lines.append("")
        sc = o1k["lat"]["scored"]
        once = sc["observed"] == sc["expected"] and not o1k["lat"].get("duplicates")
        met23 = once and p99s is not None and p99s <= 100
        lines.append(f"Target (issue 23), broker storage {storage}: publish → scored p99 ≤ 100 ms at 1k msg/s, every payment "
                     f"scored once: **{ms(p99s)}**, {sc['observed']:,} of {sc['expected']:,} scored, "
                     f"{o1k['lat'].get('duplicates', 0)} seen twice: **{'met' if met23 else 'not met'}**.")
        lines.append("")
    section = "\n".join(lines).rstrip() + "\n"

    text = a.out.read_text() if a.out.exists() else "# Benchmarks\n"
    if HEADING in text:
        start = text.index(HEADING)
        nxt = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + ("\n" + text[nxt + 1:] if nxt != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)

    print("\nEnd-to-end latency (publish → scored record):")
    for side, label in ((ours, "ours"), (py, "Python")):
        for r in side:
            s = r["lat"]["scored"]
            bound = drain_ms if s["missing"] else None
            print(f"  {label:7s} {rate_text(r['rate']):>5s} msg/s: {s['observed']:,}/{s['expected']:,} scored, "
                  f"p50 {ms(s['p50_ms'], bound)}, p95 {ms(s['p95_ms'], bound)}, p99 {ms(s['p99_ms'], bound)}, "
                  f"lag grew: {'yes' if lag_grew(r['lat']) else 'no'}")
            if r["lat"].get("alerts"):
                al = r["lat"]["alerts"]
                print(f"  {'':7s} {'':>5s}        alerts {al['observed']}/{al['expected']}: p50 {ms(al['p50_ms'])}, "
                      f"p99 {ms(al['p99_ms'])}, max {ms(al['max_ms'])}")
    for rate, cells in ratio_text.items():
        print(f"  ours ÷ Python at {rate_text(rate)} msg/s: p50 {cells[0]}, p99 {cells[1]}, throughput {cells[2]}")
    print(f"  written to {a.out}")


if __name__ == "__main__":
    sys.exit(main())
