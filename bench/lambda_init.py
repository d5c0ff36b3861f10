"""Measures a Lambda bootstrap's cold start the way Lambda reports it, on this machine.

Serves a minimal Lambda Runtime API (the part a custom runtime uses: GET .../invocation/next,
POST .../invocation/<id>/response|error, POST .../init/error) on loopback, starts the
function's `bootstrap` with AWS_LAMBDA_RUNTIME_API pointing at it, and reports:

- init_ms: process start -> first GET /next (Lambda's "Init Duration": for the score function
  this includes reading its configuration, connecting clients and loading the current model
  from S3, i.e. the LocalStack emulator here);
- first_invoke_ms: the first event handed out -> its response (the first invocation);
- warm_invoke_ms: median of the following invocations of the same event;
- peak RSS of the process (from /proc while it runs).

Standard library only. Usage:
  lambda_init.py --bootstrap PATH --events FILE [--repeat N] [--invokes N] [--env K=V ...]
  lambda_init.py --bootstrap PATH --kafka-from-csv CSV [--records-per-event N] ...
FILE holds one JSON event per line; invocation i gets line i (cycling), so a function that is
idempotent on its input (score) does real work on every invocation when the lines differ.
--kafka-from-csv builds SelfManagedKafka events (the score function's trigger) from the
payments in a Sparkov CSV instead, each payment once.
The function's own configuration (FRAUD_MODELS_BUCKET, DATABASE_URL, ...) comes from the
environment this script runs in, plus --env. Prints one JSON line.
"""

import argparse
import base64
import csv
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time


class Runtime(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, events: list, invokes: int):
        super().__init__(("127.0.0.1", 0), Handler)
        self.events = events
        self.invokes = invokes
        self.handed = 0
        self.lock = threading.Lock()
        self.first_next_at = None
        self.sent_at = {}
        self.durations = []
        self.errors = []
        self.done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    server: Runtime

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        with srv.lock:
            if srv.first_next_at is None:
                srv.first_next_at = time.perf_counter()
            n = srv.handed
            srv.handed += 1
        if n >= srv.invokes:
            srv.done.set()
            time.sleep(3600)  # what Lambda does: the process is frozen until killed
            return
        request_id = f"req-{n}"
        event = srv.events[n % len(srv.events)]
        srv.sent_at[request_id] = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:000000000000:function:bench",
        )
        self.send_header("Content-Length", str(len(event)))
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self):
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("/")
        if self.path.endswith("/init/error"):
            srv.errors.append(("init", body.decode(errors="replace")))
            srv.done.set()
        elif parts[-1] in ("response", "error"):
            request_id = parts[-2]
            srv.durations.append(time.perf_counter() - srv.sent_at[request_id])
            if parts[-1] == "error":
                srv.errors.append((request_id, body.decode(errors="replace")))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def peak_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_once(bootstrap: str, events: list, invokes: int, extra_env: dict) -> dict:
    runtime = Runtime(events, invokes)
    threading.Thread(target=runtime.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(extra_env)
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{runtime.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME=env.get("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_STREAM_NAME="bench",
        AWS_LAMBDA_LOG_GROUP_NAME="bench",
    )
    started = time.perf_counter()
    child = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rss = 0
    while not runtime.done.wait(0.01):
        rss = max(rss, peak_rss_kib(child.pid))
        if child.poll() is not None:
            break
    rss = max(rss, peak_rss_kib(child.pid))
    child.kill()
    _, stderr = child.communicate()
    runtime.shutdown()
    if runtime.errors or runtime.first_next_at is None or len(runtime.durations) < invokes:
        sys.stderr.write(stderr.decode(errors="replace")[-4000:])
        raise SystemExit(f"lambda_init.py: the function failed: {runtime.errors[:2]}")
    return {
        "init_ms": (runtime.first_next_at - started) * 1000,
        "first_invoke_ms": runtime.durations[0] * 1000,
        "warm_invoke_ms": statistics.median(runtime.durations[1:]) * 1000 if invokes > 1 else None,
        "peak_rss_mib": rss / 1024,
    }


def kafka_events(csv_path: str, per_event: int, topic: str = "payments") -> list:
    """SelfManagedKafka events carrying the CSV's payments as Kafka JSON messages."""
    with open(csv_path, newline="") as f:
        rows = [{k: v for k, v in row.items() if k and k != "is_fraud"} for row in csv.DictReader(f)]
    events = []
    for start in range(0, len(rows), per_event):
        records = []
        for offset, row in enumerate(rows[start:start + per_event], start):
            records.append({
                "topic": topic, "partition": 0, "offset": offset,
                "timestamp": int(time.time() * 1000), "timestampType": "CREATE_TIME",
                "key": base64.b64encode(row["cc_num"].encode()).decode(),
                "value": base64.b64encode(json.dumps(row).encode()).decode(),
                "headers": [],
            })
        events.append(json.dumps({
            "eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:9092",
            "records": {f"{topic}-0": records},
        }).encode())
    return events


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--events", help="JSON lines: one event per invocation")
    source.add_argument("--kafka-from-csv", help="Sparkov CSV: payments for Kafka events")
    parser.add_argument("--records-per-event", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="cold starts to take the median of")
    parser.add_argument("--invokes", type=int, default=5, help="invocations per cold start")
    parser.add_argument("--env", action="append", default=[], help="K=V for the function")
    args = parser.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.env)
    if args.events:
        with open(args.events, "rb") as f:
            events = [line.strip() for line in f if line.strip()]
    else:
        events = kafka_events(args.kafka_from_csv, args.records_per_event)
    if not events:
        raise SystemExit("lambda_init.py: no event to send")
    runs = []
    for i in range(args.repeat):
        # Each cold start gets its own slice of the events (fresh work, not redeliveries).
        start = i * args.invokes
        mine = [events[(start + k) % len(events)] for k in range(args.invokes)]
        runs.append(run_once(args.bootstrap, mine, args.invokes, extra))
    median = lambda key: statistics.median(r[key] for r in runs if r[key] is not None)
    print(json.dumps({
        "bootstrap": args.bootstrap,
        "bytes": os.path.getsize(args.bootstrap),
        "runs": args.repeat,
        "invokes_per_run": args.invokes,
        "init_ms_median": round(median("init_ms"), 1),
        "init_ms_max": round(max(r["init_ms"] for r in runs), 1),
        "first_invoke_ms_median": round(median("first_invoke_ms"), 1),
        "warm_invoke_ms_median": round(median("warm_invoke_ms"), 2) if args.invokes > 1 else None,
        "peak_rss_mib_max": round(max(r["peak_rss_mib"] for r in runs), 1),
    }))


if __name__ == "__main__":
    main()
