"""Our functions running *inside* LocalStack, as processes (LAMBDA_RUNTIME_EXECUTOR=process).

Driven by scripts/localstack-lambda-test.sh, which builds the function binaries, zips
them (bootstrap at the root, like `cargo lambda build --output-format zip`), starts the
payments API simulator and the webhook sink, and runs this file with the LocalStack
venv's Python (boto3). Everything is created under a unique prefix and deleted at the
end; nothing of the shared fraud-* resources is touched.

Checks (each prints PASS/FAIL; exit 1 if any failed):
  1. CreateFunction -> Active for ingest, notify, train, track (zip on S3, host arch)
  2. `invoke` track (cold, then warm); cold start and warm p50 are printed
  3. `invoke` train on generated data in S3 -> model in S3 -> train invokes track
     through LocalStack's Lambda API -> the run is listed by track
  4. SQS event source mapping -> notify with ReportBatchItemFailures: good alerts reach
     the webhook, a poison message is retried and redriven to the DLQ
  5. EventBridge schedule rule -> ingest polls the payments API and publishes to Kafka
  6. lambda-process-init itself: a bootstrap exceeding its timeout is killed and reported
     as "Task timed out", the next invoke re-inits; concurrent invokes; a crashing
     bootstrap is reported as an error
  7. function output, START/END/REPORT lines in CloudWatch Logs

Env: AWS_ENDPOINT_URL etc. (localstack/stack.sh env), ZIP_DIR, SIM_URL, WEBHOOK_URL,
WEBHOOK_SECRET, SINK_OUT (alerts file of the sink), TRAIN_CSV, WARM_INVOKES (default 20).
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
import uuid
import zipfile

import boto3
from botocore.config import Config

from cleanup import best_effort

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_REGION", "us-east-1")
ZIP_DIR = os.environ["ZIP_DIR"]
PREFIX = os.environ.get("PREFIX") or f"lxt{int(time.time()) % 100000}-"
ROLE = "arn:aws:iam::000000000000:role/lambda-process-test"
WARM_INVOKES = int(os.environ.get("WARM_INVOKES", "20"))
ARCH = "arm64" if os.uname().machine in ("aarch64", "arm64") else "x86_64"

cfg = Config(retries={"max_attempts": 2}, read_timeout=900, connect_timeout=10)


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name=REGION, config=cfg)


lam, s3, sqs, events, logs, iam = (client(n) for n in ("lambda", "s3", "sqs", "events", "logs", "iam"))

results: list[tuple[bool, str]] = []
numbers: dict[str, str] = {}


def check(ok: bool, what: str, detail: str = "") -> bool:
    results.append((ok, what))
    print(f"[lambda-test] {'PASS' if ok else 'FAIL'} {what}{(': ' + detail) if detail and not ok else ''}", flush=True)
    return ok


def wait_until(predicate, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def invoke(name: str, payload: dict) -> tuple[dict, object]:
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    body = r["Payload"].read()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body.decode(errors="replace")
    return r, parsed


def log_messages(function: str) -> list[str]:
    group = f"/aws/lambda/{function}"
    out: list[str] = []
    try:
        kwargs = {"logGroupName": group}
        while True:
            page = logs.filter_log_events(**kwargs)
            out += [e["message"] for e in page.get("events", [])]
            if not page.get("nextToken"):
                return out
            kwargs["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return out


created_functions: list[str] = []
created_queues: list[str] = []
created_mappings: list[str] = []
created_rules: list[str] = []
code_bucket = f"{PREFIX}code"


def create_function(short: str, zip_name: str, env: dict, timeout: int = 60, memory: int = 512) -> str:
    name = f"{PREFIX}{short}"
    key = f"{name}.zip"
    s3.upload_file(os.path.join(ZIP_DIR, zip_name), code_bucket, key)
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler="bootstrap",
        Architectures=[ARCH],
        Role=ROLE,
        Code={"S3Bucket": code_bucket, "S3Key": key},
        Timeout=timeout,
        MemorySize=memory,
        Environment={"Variables": {"RUST_LOG": "info", "AWS_EC2_METADATA_DISABLED": "true", **env}},
    )
    created_functions.append(name)
    return name


def wait_active(name: str) -> tuple[str, str]:
    def state():
        c = lam.get_function_configuration(FunctionName=name)
        return c["State"] if c["State"] in ("Active", "Failed") else None

    final = wait_until(state, 120, 0.5) or "Pending"
    reason = lam.get_function_configuration(FunctionName=name).get("StateReason", "")
    return final, reason


def shell_bootstrap_zip(script: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, script)
    return buf.getvalue()


# A tiny custom runtime in sh + curl: sleeps SLEEP seconds per event, then answers.
SLOW_BOOTSTRAP = """#!/bin/sh
set -eu
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
echo "slow runtime init (pid $$)"
while true; do
  hdr=$(mktemp); ev=$(mktemp)
  curl -sS -D "$hdr" -o "$ev" "$api/invocation/next"
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$hdr" | cut -d' ' -f2 | tr -d '\\r')
  secs=$(sed -n 's/.*"sleep": *\\([0-9]*\\).*/\\1/p' "$ev")
  echo "event $id: sleeping ${secs:-0}s"
  sleep "${secs:-0}"
  curl -sS -o /dev/null -X POST -d "{\\"slept\\": ${secs:-0}}" "$api/invocation/$id/response"
  rm -f "$hdr" "$ev"
done
"""

CRASH_BOOTSTRAP = """#!/bin/sh
echo "about to crash"
exit 3
"""


def main() -> int:
    try:
        iam.create_role(
            RoleName="lambda-process-test",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
        )
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    s3.create_bucket(Bucket=code_bucket)

    # -- 1. functions ------------------------------------------------------------------
    common = {"KAFKA_BROKERS": os.environ["KAFKA_BROKERS"]}
    track = create_function("track", "fraud-track.zip", {"DATABASE_URL": os.environ["DATABASE_URL"]}, timeout=30)
    train = create_function(
        "train",
        "fraud-train.zip",
        {"FRAUD_MODELS_BUCKET": os.environ["FRAUD_MODELS_BUCKET"], "TRACK_FUNCTION_NAME": track},
        timeout=600,
        memory=3008,
    )
    notify = create_function(
        "notify",
        "fraud-notify.zip",
        {
            "WEBHOOK_URL": os.environ["WEBHOOK_URL"],
            "WEBHOOK_SECRET": os.environ["WEBHOOK_SECRET"],
            "WEBHOOK_MAX_ATTEMPTS": "2",
            "WEBHOOK_BACKOFF_MS": "50",
        },
        timeout=30,
    )
    ingest = create_function(
        "ingest",
        "fraud-ingest.zip",
        {**common, "PAYMENTS_API_URL": os.environ["SIM_URL"], "KAFKA_TOPIC_PAYMENTS": "payments"},
        timeout=30,
    )
    for name in (track, train, notify, ingest):
        state, reason = wait_active(name)
        check(state == "Active", f"{name} is Active", f"state {state}: {reason}")

    # The schedule goes first: EventBridge's first tick comes within a minute.
    rule = f"{PREFIX}ingest-poll"
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")["RuleArn"]
    created_rules.append(rule)
    ingest_arn = lam.get_function_configuration(FunctionName=ingest)["FunctionArn"]
    lam.add_permission(
        FunctionName=ingest,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.put_targets(
        Rule=rule,
        Targets=[{"Id": "ingest", "Arn": ingest_arn, "Input": json.dumps({"source": "aws.events", "detail-type": "Scheduled Event"})}],
    )
    rule_created = time.monotonic()

    # -- 2. track: cold start, warm invokes ----------------------------------------------
    t0 = time.perf_counter()
    r, body = invoke(track, {"action": "list", "limit": 1})
    cold_ms = (time.perf_counter() - t0) * 1000
    check("FunctionError" not in r and isinstance(body, dict) and "runs" in body, "track invoke (cold)", str(body)[:300])
    warm = []
    for _ in range(WARM_INVOKES):
        t0 = time.perf_counter()
        r, body = invoke(track, {"action": "list", "limit": 1})
        warm.append((time.perf_counter() - t0) * 1000)
        if "FunctionError" in r:
            check(False, "track invoke (warm)", str(body)[:300])
            break
    numbers["track cold invoke (client round trip, ms)"] = f"{cold_ms:.0f}"
    numbers[f"track warm invoke p50 over {len(warm)} (ms)"] = f"{statistics.median(warm):.1f}"
    numbers["track warm invoke max (ms)"] = f"{max(warm):.1f}"
    report = [m for m in log_messages(track) if m.startswith("REPORT") and "Init Duration" in m]
    if report:
        numbers["track Init Duration (REPORT line)"] = report[0].split("Init Duration: ")[1].split("\t")[0]

    # -- 3. train -> S3 model -> track (Lambda-to-Lambda inside LocalStack) ------------
    data_key = f"{PREFIX}train.csv"
    s3.upload_file(os.environ["TRAIN_CSV"], os.environ["FRAUD_DATA_BUCKET"], data_key)
    t0 = time.perf_counter()
    r, body = invoke(train, {"data_uris": [f"s3://{os.environ['FRAUD_DATA_BUCKET']}/{data_key}"], "force": True})
    numbers["train invoke (ms)"] = f"{(time.perf_counter() - t0) * 1000:.0f}"
    ok = check(
        "FunctionError" not in r and isinstance(body, dict) and body.get("tracked") is True,
        "train invoke trains, stores the model and records the run through track",
        str(body)[:500],
    )
    if ok:
        version = body["model_version"]
        objs = s3.list_objects_v2(Bucket=os.environ["FRAUD_MODELS_BUCKET"]).get("Contents", [])
        check(any(version in o["Key"] for o in objs), "train's model artifact is in S3", version)
        r, listed = invoke(track, {"action": "list", "limit": 20})
        found = isinstance(listed, dict) and any(json.dumps(run).find(version) >= 0 for run in listed.get("runs", []))
        check(found, "track lists the run train recorded", str(listed)[:300])

    # -- 4. SQS -> notify, partial batch failure, redrive to DLQ -------------------------
    dlq_url = sqs.create_queue(QueueName=f"{PREFIX}alerts-dlq")["QueueUrl"]
    created_queues.append(dlq_url)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    q_url = sqs.create_queue(
        QueueName=f"{PREFIX}alerts",
        Attributes={
            "VisibilityTimeout": "2",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    created_queues.append(q_url)
    q_arn = sqs.get_queue_attributes(QueueUrl=q_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    esm = lam.create_event_source_mapping(
        FunctionName=notify,
        EventSourceArn=q_arn,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    created_mappings.append(esm["UUID"])
    wait_until(lambda: lam.get_event_source_mapping(UUID=esm["UUID"])["State"] == "Enabled", 30, 0.5)
    run = uuid.uuid4().hex[:8]
    alerts = [
        {
            "trans_num": f"{PREFIX}{run}-{i}",
            "cc_num": 4000000000000000 + i,
            "amt": 123.45 + i,
            "merchant": "fraud_Test Merchant",
            "category": "shopping_net",
            "trans_date_trans_time": "2020-06-21 12:14:25",
            "probability": 0.97,
            "threshold": 0.5,
            "model_version": "test",
        }
        for i in range(2)
    ]
    entries = [{"Id": f"a{i}", "MessageBody": json.dumps(a)} for i, a in enumerate(alerts)]
    entries.append({"Id": "poison", "MessageBody": f"not an alert {run}"})
    sqs.send_message_batch(QueueUrl=q_url, Entries=entries)

    sink_out = os.environ["SINK_OUT"]

    def delivered() -> set[str]:
        try:
            with open(sink_out) as f:
                return {json.loads(line).get("trans_num", "") for line in f if line.strip()} & {a["trans_num"] for a in alerts}
        except (OSError, ValueError):
            return set()

    got = wait_until(lambda: len(delivered()) == len(alerts), 60)
    check(bool(got), "SQS event source -> notify delivers the alerts to the webhook", f"delivered {sorted(delivered())}")

    def dlq_bodies() -> list[str]:
        msgs = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in msgs:
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
        return [m["Body"] for m in msgs]

    dead: list[str] = []
    wait_until(lambda: dead.extend(dlq_bodies()) or any(run in b for b in dead), 90)
    check(
        any(b == f"not an alert {run}" for b in dead) and not any(a["trans_num"] in b for a in alerts for b in dead),
        "notify reports the poison message as a batch item failure; it is redriven to the DLQ, the good ones are not",
        f"DLQ got {dead}",
    )
    lam.delete_event_source_mapping(UUID=esm["UUID"])
    created_mappings.remove(esm["UUID"])

    # -- 5. EventBridge schedule -> ingest -----------------------------------------------
    def ingested():
        return [m for m in log_messages(ingest) if "page ingested" in m]

    lines = wait_until(ingested, max(5, 150 - (time.monotonic() - rule_created)), 2)
    check(bool(lines), "EventBridge schedule rule invokes ingest, which polls the API and publishes to Kafka",
          "no 'page ingested' in ingest's logs; last lines: " + " | ".join(log_messages(ingest)[-5:]))
    if lines:
        try:
            published = json.loads(lines[0]).get("published")
        except ValueError:
            published = None
        check(isinstance(published, int) and published > 0, "the scheduled ingest published payments", lines[0][:300])
    events.remove_targets(Rule=rule, Ids=["ingest"])
    events.delete_rule(Name=rule)
    created_rules.remove(rule)

    # -- 6. timeout and crash handling of lambda-process-init ---------------------------
    s3.put_object(Bucket=code_bucket, Key="slow.zip", Body=shell_bootstrap_zip(SLOW_BOOTSTRAP))
    s3.put_object(Bucket=code_bucket, Key="crash.zip", Body=shell_bootstrap_zip(CRASH_BOOTSTRAP))
    slow = f"{PREFIX}slow"
    crash = f"{PREFIX}crash"
    for name, key, timeout in ((slow, "slow.zip", 2), (crash, "crash.zip", 5)):
        lam.create_function(
            FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Architectures=[ARCH],
            Role=ROLE, Code={"S3Bucket": code_bucket, "S3Key": key}, Timeout=timeout, MemorySize=128,
        )
        created_functions.append(name)
        state, reason = wait_active(name)
        check(state == "Active", f"{name} is Active", f"{state}: {reason}")
    r, body = invoke(slow, {"sleep": 0})
    check("FunctionError" not in r and body == {"slept": 0}, "a sh+curl custom runtime answers", str(body))
    t0 = time.perf_counter()
    r, body = invoke(slow, {"sleep": 30})
    took = time.perf_counter() - t0
    check(
        r.get("FunctionError") == "Unhandled" and "Task timed out after 2.00 seconds" in json.dumps(body),
        "an invoke past the timeout is killed and reported as 'Task timed out'",
        f"{r.get('FunctionError')} {body} after {took:.1f}s",
    )
    r, body = invoke(slow, {"sleep": 0})
    check("FunctionError" not in r and body == {"slept": 0}, "the next invoke re-initialises the runtime", str(body))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda i: invoke(slow, {"sleep": 1})[1], range(3)))
    check(answers == [{"slept": 1}] * 3, "three concurrent invokes are all answered (one environment each)", str(answers))
    r, body = invoke(crash, {})
    check(
        "Runtime.ExitError" in json.dumps(body) or "exit" in json.dumps(body).lower(),
        "a bootstrap that exits is reported as an error, not a hang",
        f"{r.get('FunctionError')} {body}",
    )

    # -- 7. CloudWatch Logs ------------------------------------------------------------
    for name, needle in ((track, "training runs listed"), (train, "REPORT"), (notify, "alert delivered"), (slow, "Task timed out")):
        msgs = log_messages(name)
        check(
            any(needle in m for m in msgs) and any(m.startswith("START RequestId") for m in msgs)
            and any(m.startswith("REPORT RequestId") for m in msgs),
            f"{name}: function output and START/REPORT lines are in CloudWatch Logs",
            f"{len(msgs)} lines, none with {needle!r}",
        )
    return 0


def cleanup() -> None:
    best_effort(lambda u: lam.delete_event_source_mapping(UUID=u), created_mappings)

    def remove_rule(rule: str) -> None:
        events.remove_targets(Rule=rule, Ids=["ingest"])
        events.delete_rule(Name=rule)

    best_effort(remove_rule, created_rules)
    best_effort(lambda name: lam.delete_function(FunctionName=name), created_functions)
    best_effort(lambda q: sqs.delete_queue(QueueUrl=q), created_queues)
    try:
        for o in s3.list_objects_v2(Bucket=code_bucket).get("Contents", []):
            s3.delete_object(Bucket=code_bucket, Key=o["Key"])
        s3.delete_bucket(Bucket=code_bucket)
    except Exception:
        pass


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # an unexpected API error is a failure too, with its message
        check(False, "test run", f"{type(e).__name__}: {e}")
    finally:
        if os.environ.get("KEEP") != "1":
            cleanup()
    for k, v in numbers.items():
        print(f"[lambda-test] {k}: {v}")
    failed = sum(1 for ok, _ in results if not ok)
    print(f"[lambda-test] {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed or not results else 0)
