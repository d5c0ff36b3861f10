"""Open-loop HTTP load for the decision API benchmark (bench/decide_latency.sh).

Three commands:

  bodies   CSV -> JSONL of request bodies: generated payments (`fraudctl generate`) in
           event-time order, flat JSON as the payments arrive (every field a string, as
           the CSV holds it), without the label, each trans_num prefixed so that no
           earlier run's ledger entry turns it into a repeat.
  run      POST bodies [start, start + rate * duration) at a fixed rate: request i is due at
           t0 + i / rate and goes out then whether or not earlier ones were answered (open
           loop, no coordinated omission). Latency = answer received - the time the request
           was DUE (so a late generator or a queue in front of the server counts against the
           server, as a caller would see it); also reported from the actual send. A request
           not answered 200 within --timeout counts as failed, and a failed request counts as
           slower than every answered one in the percentiles. Writes one JSON summary.
  report   the summaries of a run directory -> a markdown section (stdout and a file).

Only the standard library and aiohttp (bench/requirements-bench.txt).
"""
import argparse
import asyncio
import csv
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time

DROP = {"", "Unnamed: 0", "is_fraud"}


# ---------------------------------------------------------------------------- bodies
def cmd_bodies(args) -> None:
    with open(args.csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: r["trans_date_trans_time"])  # stable: event-time order
    with open(args.out, "w") as out:
        for row in rows:
            body = {k: v for k, v in row.items() if k not in DROP}
            body["trans_num"] = args.prefix + body["trans_num"]
            out.write(json.dumps(body, separators=(",", ":")) + "\n")
    cards = len({r["cc_num"] for r in rows})
    print(json.dumps({"bodies": len(rows), "cards": cards, "out": args.out}))


# ---------------------------------------------------------------------------- run
def pct(sorted_values, q):
    """Nearest-rank percentile of an ascending list (inf entries allowed)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def loadavg():
    with open("/proc/loadavg") as handle:
        return float(handle.read().split()[0])


async def run_load(args):
    import aiohttp

    with open(args.bodies, "rb") as handle:
        lines = handle.read().splitlines()
    n = round(args.rate * args.duration)
    if args.start + n > len(lines):
        sys.exit(f"need {n} bodies from {args.start}, the file has {len(lines)}")
    bodies = lines[args.start:args.start + n]
    results = [None] * n
    connector = aiohttp.TCPConnector(limit=args.connections, force_close=False, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    headers = {"content-type": "application/json"}
    load_start = loadavg()
    cpu0 = time.process_time()

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i, due):
            sent = time.perf_counter()
            try:
                async with session.post(args.url, data=bodies[i], headers=headers) as resp:
                    raw = await resp.read()
                    done = time.perf_counter()
                    status = resp.status
            except asyncio.TimeoutError:
                results[i] = (due, sent, None, "timeout", None)
                return
            except aiohttp.ClientError as e:
                results[i] = (due, sent, None, f"client error: {type(e).__name__}", None)
                return
            answer = None
            error = None
            if status == 200:
                try:
                    answer = json.loads(raw)
                except ValueError:
                    error = "200 with a body that is not JSON"
                else:
                    if "decision" not in answer:
                        error = f"200 without a decision: {str(answer.get('errorType') or answer.get('statusCode'))[:80]}"
                    elif answer.get("repeated"):
                        error = "answered as a repeat (trans_num already in the ledger)"
            else:
                try:
                    message = json.loads(raw).get("error", "")
                except (ValueError, AttributeError):
                    message = raw[:200].decode("utf-8", "replace")
                error = f"HTTP {status}: {message[:160]}"
            results[i] = (due, sent, done, error, answer)

        tasks = []
        t0 = time.perf_counter() + 0.05
        i = 0
        while i < n:
            now = time.perf_counter()
            while i < n and t0 + i / args.rate <= now:
                tasks.append(asyncio.ensure_future(one(i, t0 + i / args.rate)))
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, t0 + i / args.rate - time.perf_counter()))
        last_due = t0 + (n - 1) / args.rate
        await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0

    ok = [r for r in results if r[3] is None]
    errors = {}
    for r in results:
        if r[3] is not None:
            errors[r[3]] = errors.get(r[3], 0) + 1
    inf = float("inf")
    e2e = sorted(((r[2] - r[0]) * 1e3 if r[3] is None else inf) for r in results)
    from_send = sorted(((r[2] - r[1]) * 1e3 if r[3] is None else inf) for r in results)
    lag = sorted((r[1] - r[0]) * 1e3 for r in results)
    sends = [r[1] for r in results]
    dones = [r[2] for r in ok]

    def dist(values):
        values = sorted(v for v in values if v is not None)
        if not values:
            return None
        return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95),
                "p99": pct(values, 99), "max": values[-1], "mean": sum(values) / len(values)}

    def pcts(values):
        return {"p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99), "max": values[-1]}

    timings = [r[4].get("timings") or {} for r in ok]
    decisions = {}
    for r in ok:
        decisions[r[4]["decision"]] = decisions.get(r[4]["decision"], 0) + 1
    summary = {
        "label": args.label,
        "side": args.side,
        "url": args.url,
        "rate": args.rate,
        "duration": args.duration,
        "requests": n,
        "ok": len(ok),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "decisions": decisions,
        "sent_per_s": (n - 1) / (max(sends) - min(sends)) if n > 1 else None,
        "send_span_s": max(sends) - min(sends),
        "answered_per_s": len(ok) / (max(dones) - t0) if dones else 0.0,
        "last_answer_after_last_due_ms": (max(dones) - last_due) * 1e3 if dones else None,
        "e2e_ms": {k: (None if v == inf else v) for k, v in pcts(e2e).items()},
        "e2e_from_send_ms": {k: (None if v == inf else v) for k, v in pcts(from_send).items()},
        "generator_lag_ms": {"p50": pct(lag, 50), "p99": pct(lag, 99), "max": lag[-1]},
        "took_ms": dist(r[4].get("took_ms") for r in ok),
        "load_ms": dist(t.get("load_ms") for t in timings),
        "decide_ms": dist(t.get("decide_ms") for t in timings),
        "write_ms": dist(t.get("write_ms") for t in timings),
        # took_ms outside the split: parsing, the model and rules caches (an S3 read of
        # their pointers on the request path every MODEL_CHECK_SECS), the transaction's begin.
        "other_ms": dist((r[4]["took_ms"] - sum(r[4]["timings"].values())) if r[4].get("timings")
                         and r[4].get("took_ms") is not None else None for r in ok) if args.side == "ours" else None,
        "features_ms": dist(t.get("features_ms") for t in timings),
        "predict_ms": dist(t.get("predict_ms") for t in timings),
        "generator_cpu_s": cpu,
        "generator_cpu_share": cpu / wall if wall else None,
        "wall_s": wall,
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
        "timeout_s": args.timeout,
    }
    return summary


def cmd_run(args) -> None:
    summary = asyncio.run(run_load(args))
    with open(args.out, "w") as handle:
        json.dump(summary, handle, indent=1)
    e = summary["e2e_ms"]
    f = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    took = summary["took_ms"] or {}
    print(f"{summary['side']} {summary['label']}: {summary['requests']} at {summary['rate']:g}/s, "
          f"sent at {summary['sent_per_s'] or 0:.0f}/s, answered {summary['ok']} ({summary['answered_per_s']:.0f}/s), "
          f"errors {summary['errors']} {summary['error_kinds'] or ''}; e2e p50 {f(e['p50'])} p95 {f(e['p95'])} "
          f"p99 {f(e['p99'])} ms; in-function p50 {f(took.get('p50'))} p99 {f(took.get('p99'))} ms; "
          f"generator lag p99 {summary['generator_lag_ms']['p99']:.2f} ms, CPU {summary['generator_cpu_share']:.0%} of a core")


# ---------------------------------------------------------------------------- report
def fmt_ms(v, timeout=None):
    if v is None:
        return f"> {timeout:g} s (not answered)" if timeout else "n/a"
    if v >= 1000:
        return f"{v:,.0f} ms"
    if v >= 100:
        return f"{v:.0f} ms"
    return f"{v:.2f} ms"


def fmt_pair(d, unit=""):
    if not d:
        return "–"
    return f"{d['p50']:.2f} / {d['p99']:.2f}{unit}"


def fmt_rate(r):
    return f"{r:,.0f}"


def cmd_report(args) -> None:
    results = {}
    for name in sorted(os.listdir(args.results)):
        if name.endswith(".json") and name.startswith(("ours_", "anchor_")):
            with open(os.path.join(args.results, name)) as handle:
                s = json.load(handle)
            results[(s["side"], s["rate"])] = s
    meta = json.load(open(os.path.join(args.results, "meta.json")))
    ours = sorted((s for (side, _), s in results.items() if side == "ours"), key=lambda s: s["rate"])
    anchor = sorted((s for (side, _), s in results.items() if side == "anchor"), key=lambda s: s["rate"])

    out = []
    w = out.append
    w("## Decision API: synchronous decision latency (issue 19)")
    w("")
    w(f"Command: `{meta['command']}` (at {meta['commit']}), {meta['date']}; {meta['nproc']} cores ({meta['cpu']}), "
      f"{meta['mem_gib']} GiB; load average {meta['loadavg_start']} before the run, {meta['loadavg_end']} at the end"
      f"{' (' + meta['shared_note'] + ')' if meta.get('shared_note') else ''}; "
      f"build profile `release` (`cargo lambda watch --release`); {meta['rustc']}; "
      f"Python {meta['python']}, scikit-learn {meta['sklearn']}, Flask {meta['flask']}, gunicorn {meta['gunicorn']}, "
      f"aiohttp {meta['aiohttp']}.")
    w("")
    via = ("the Function URL as `cargo lambda watch` serves it" if "lambda-url" in meta["endpoint"] else
           "the Lambda Invoke API, the payment as the event: the handler's one-payment path to the same `decide` as "
           "the Function URL's")
    w(f"**Ours**: `POST http://127.0.0.1:<port>{meta['endpoint']}` ({via}; `cargo lambda watch --release`, "
      f"up to {meta['watch_concurrency']} function instance(s) at once: `--concurrency "
      f"{meta['watch_concurrency']}`) → `fraud-score` → `Scorer::decide`: card advisory lock + card history + ledger "
      f"read in one PostgreSQL round trip (*load*), features + model + rules (*decide*), ledger claim + history save "
      f"pipelined, then commit (*write*). Model: {meta['model']}, promoted into a models bucket of the benchmark's "
      f"own (`{meta['models_bucket']}`, artifact + `models/current.json`, as the train function does), rules "
      f"`rules/example.json` pushed there with `fraudctl rules push`.")
    w("")
    w(f"**Anchor** (`bench/reference/decide_service.py`): Flask under gunicorn, {meta['anchor_workers']} sync workers; "
      f"per request: JSON → the same 47 features in Python from an in-memory per-card history "
      f"(`score_loop.CardHistories`, one per worker) → one-row DataFrame → scikit-learn RandomForest `predict_proba` "
      f"({meta['anchor_model']}, `n_jobs=1`) trained on the same generated data. It does less than ours: no database, "
      f"no lock, no ledger, no rules.")
    w("")
    w(f"**Load** (`bench/decide_load.py`): aiohttp, open loop: request *i* is due at *i / rate* and is sent then, "
      f"answered or not (keep-alive connections, up to {meta['connections']} at once); distinct payments from "
      f"`fraudctl generate` ({meta['bodies']:,} payments, {meta['cards']:,} cards, event-time order, fresh `trans_num`s), "
      f"each rate on the next slice. **End-to-end** = answer received − the time the request was due (a late "
      f"generator or a queue counts against the server). A request not answered 200 within {meta['timeout']:g} s "
      f"is an error and counts as slower than every answer. Warm: one request starts the function, then "
      f"{meta['warmup']} (not reported). Each side runs alone; the stack (LocalStack, Tansu, PostgreSQL), the "
      f"server and the load generator share the {meta['nproc']} cores.")
    w("")
    w("| side | rate (req/s) | requests | sent at | answered at | errors | e2e p50 | e2e p95 | e2e p99 | e2e max "
      "| in the server (`took_ms`) p50 / p99 | generator lag p99 (CPU) | load avg |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in ours + anchor:
        e = s["e2e_ms"]
        errs = f"{s['errors']:,}" + (f" ({'; '.join(f'{k}: {v}' for k, v in s['error_kinds'].items())})" if s["errors"] else "")
        name = "ours" if s["side"] == "ours" else "anchor (Flask + scikit-learn)"
        w(f"| {name} | {fmt_rate(s['rate'])} ({s['duration']:g} s) | {s['requests']:,} | {s['sent_per_s'] or 0:,.0f}/s "
          f"| {s['answered_per_s']:,.0f}/s | {errs} | {fmt_ms(e['p50'], s['timeout_s'])} | {fmt_ms(e['p95'], s['timeout_s'])} "
          f"| {fmt_ms(e['p99'], s['timeout_s'])} | {fmt_ms(e['max'], s['timeout_s'])} | {fmt_pair(s['took_ms'], ' ms')} "
          f"| {s['generator_lag_ms']['p99']:.2f} ms ({s['generator_cpu_share']:.0%} of a core) "
          f"| {s['loadavg_start']:.2f} → {s['loadavg_end']:.2f} |")
    w("")
    w("*Sent at*: the generator's achieved send rate; *answered at*: answers (HTTP 200 with a fresh decision) per "
      "second from the first due time to the last answer; *generator lag*: how late the generator sent a request "
      "after its due time (counted in e2e), with the generator's CPU use.")
    w("")
    if ours:
        w("Ours, inside the function (ms, p50 / p99 / max; the function's own `took_ms` and `timings` of each answer): "
          "*load* = the instance's database connection taken, transaction begun, card lock + history + ledger read "
          "(one round trip); *decide* = features + model + rules; *write* = ledger claim + history save (pipelined) "
          "+ commit; *other* = `took_ms` − the three: parsing, and the model and rules caches (each re-reads its S3 "
          "pointer on the request path once every `MODEL_CHECK_SECS`). *e2e from send*: end-to-end measured from the "
          "moment the generator actually sent the request rather than its due time.")
        w("")
        w("| rate (req/s) | `took_ms` p50 / p95 / p99 / max | load | decide | write | other | e2e from send p50 / p99 |")
        w("|---|---|---|---|---|---|---|")
        trio = lambda d: "–" if not d else f"{d['p50']:.3f} / {d['p99']:.3f} / {d['max']:.2f}"  # noqa: E731
        for s in ours:
            t = s["took_ms"]
            took = "–" if not t else f"{t['p50']:.3f} / {t['p95']:.3f} / {t['p99']:.3f} / {t['max']:.2f}"
            fs = s["e2e_from_send_ms"]
            w(f"| {fmt_rate(s['rate'])} | {took} | {trio(s['load_ms'])} | {trio(s['decide_ms'])} | {trio(s['write_ms'])} "
              f"| {trio(s.get('other_ms'))} | {fmt_ms(fs['p50'], s['timeout_s'])} / {fmt_ms(fs['p99'], s['timeout_s'])} |")
        w("")
    if anchor:
        parts = []
        for a in anchor:
            if a.get("predict_ms"):
                parts.append(f"{fmt_rate(a['rate'])}/s: parse + features {fmt_pair(a['features_ms'])}, "
                             f"`predict_proba` {fmt_pair(a['predict_ms'])}")
        if parts:
            w("Anchor, inside the handler (ms, p50 / p99): " + "; ".join(parts) + ".")
            w("")
    if anchor:
        w("Ours ÷ anchor, end-to-end (lower is better for ours; `–` where a side left requests unanswered):")
        w("")
        w("| rate (req/s) | ours p50 / p95 / p99 | anchor p50 / p95 / p99 | ratio p50 | ratio p95 | ratio p99 |")
        w("|---|---|---|---|---|---|")
        by_rate = {s["rate"]: s for s in anchor}
        for s in ours:
            a = by_rate.get(s["rate"])
            if not a:
                continue
            cells = []
            for q in ("p50", "p95", "p99"):
                x, y = s["e2e_ms"][q], a["e2e_ms"][q]
                if x is None:
                    cells.append("–")
                elif y is None:
                    cells.append(f"< {x / (a['timeout_s'] * 1e3):.2g} (anchor unanswered)")
                else:
                    cells.append(f"**{x / y:.2g}** (anchor {y / x:,.0f}× slower)" if y > x else f"**{x / y:.2f}**")
            trip = lambda z: " / ".join(fmt_ms(z["e2e_ms"][q], z["timeout_s"]) for q in ("p50", "p95", "p99"))  # noqa: E731
            w(f"| {fmt_rate(s['rate'])} | {trip(s)} | {trip(a)} | {cells[0]} | {cells[1]} | {cells[2]} |")
        extra = [a for a in anchor if a["rate"] not in {s["rate"] for s in ours}]
        for a in extra:
            e = a["e2e_ms"]
            w(f"")
            w(f"Anchor at {fmt_rate(a['rate'])} req/s (a lower rate, for scale): e2e p50 {fmt_ms(e['p50'], a['timeout_s'])}, "
              f"p99 {fmt_ms(e['p99'], a['timeout_s'])}, in the handler p50 / p99 {fmt_pair(a['took_ms'], ' ms')}, "
              f"{a['errors']} errors.")
        w("")
    # Targets
    w("**Targets** (issue 19):")
    w("")
    at500 = next((s for s in ours if s["rate"] == 500), None)
    if at500:
        p99 = at500["e2e_ms"]["p99"]
        met = p99 is not None and p99 <= 20.0 and at500["errors"] == 0
        w(f"- end-to-end p99 ≤ 20 ms at 500 req/s: **{fmt_ms(p99, at500['timeout_s'])}**, "
          f"{at500['errors']} errors: **{'met' if met else 'not met'}**.")
        d = at500["decide_ms"]
        if d:
            met = d["p99"] <= 2.0
            w(f"- in-function p99 ≤ 2 ms excluding the database round trips (`decide_ms`: features + model + rules) at "
              f"500 req/s: **{d['p99']:.3f} ms** (p50 {d['p50']:.3f} ms, max {d['max']:.2f} ms): **{'met' if met else 'not met'}**"
              f"; at every rate: " + ", ".join(f"{fmt_rate(s['rate'])}/s {s['decide_ms']['p99']:.3f} ms" for s in ours if s["decide_ms"]) + ".")
    else:
        w("- 500 req/s was not run.")
    w("")
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as handle:
        handle.write(text)
    sys.stdout.write(text)


def cmd_meta(args) -> None:
    """Machine and versions, for the report."""
    import importlib.metadata as md

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.machine())
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    meta = json.loads(args.extra) if args.extra else {}

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "?"

    meta.update({
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "loadavg_end": open("/proc/loadavg").read().split()[0],
        "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(), "sklearn": version("scikit-learn"), "flask": version("flask"),
        "gunicorn": version("gunicorn"), "aiohttp": version("aiohttp"),
    })
    with open(args.out, "w") as handle:
        json.dump(meta, handle, indent=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bodies")
    b.add_argument("csv")
    b.add_argument("--out", required=True)
    b.add_argument("--prefix", required=True)
    r = sub.add_parser("run")
    r.add_argument("--url", required=True)
    r.add_argument("--bodies", required=True)
    r.add_argument("--start", type=int, default=0)
    r.add_argument("--rate", type=float, required=True)
    r.add_argument("--duration", type=float, required=True)
    r.add_argument("--timeout", type=float, default=10.0)
    r.add_argument("--connections", type=int, default=1000)
    r.add_argument("--side", default="ours")
    r.add_argument("--label", default="")
    r.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("--out", required=True)
    m = sub.add_parser("meta")
    m.add_argument("--out", required=True)
    m.add_argument("--extra", default="")
    args = parser.parse_args()
    {"bodies": cmd_bodies, "run": cmd_run, "report": cmd_report, "meta": cmd_meta}[args.command](args)


if __name__ == "__main__":
    main()
