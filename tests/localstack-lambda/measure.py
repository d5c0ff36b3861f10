"""Cold start and warm invoke latency of a function under the process executor.

Usage (LocalStack venv python, stack env loaded):
  ZIP=<fraud-track.zip> DATABASE_URL=... python tests/localstack-lambda/measure.py [COLD] [WARM]
Creates a function, then COLD times (default 5): change its environment (LocalStack
starts a new execution environment for the new configuration) and time the first
invoke; then WARM (default 50) invokes on the warm environment. For scale, the same
client's p50 for a LocalStack call that involves no function (SQS GetQueueUrl) is shown.
Reports medians; the `Init Duration` of the REPORT lines (bootstrap start to first
/next) is read from CloudWatch Logs.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import boto3

kw = {"endpoint_url": os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"), "region_name": "us-east-1"}
lam, sqs, logs = boto3.client("lambda", **kw), boto3.client("sqs", **kw), boto3.client("logs", **kw)
ARCH = "arm64" if os.uname().machine in ("aarch64", "arm64") else "x86_64"
NAME = f"measure-{int(time.time()) % 100000}"
COLD = int(sys.argv[1]) if len(sys.argv) > 1 else 5
WARM = int(sys.argv[2]) if len(sys.argv) > 2 else 50
PAYLOAD = json.dumps({"action": "list", "limit": 1}).encode()


def ms(f) -> float:
    t0 = time.perf_counter()
    f()
    return (time.perf_counter() - t0) * 1000


def invoke() -> None:
    r = lam.invoke(FunctionName=NAME, Payload=PAYLOAD)
    if "FunctionError" in r:
        raise SystemExit(f"invoke failed: {r['Payload'].read()[:300]}")


def wait_updated() -> None:
    while lam.get_function_configuration(FunctionName=NAME)["LastUpdateStatus"] == "InProgress":
        time.sleep(0.2)


with open(os.environ["ZIP"], "rb") as f:
    code = f.read()
lam.create_function(
    FunctionName=NAME, Runtime="provided.al2023", Handler="bootstrap", Architectures=[ARCH],
    Role="arn:aws:iam::000000000000:role/lambda-process-test", Code={"ZipFile": code}, Timeout=30,
    Environment={"Variables": {"DATABASE_URL": os.environ["DATABASE_URL"], "RUN": "0"}},
)
try:
    while lam.get_function_configuration(FunctionName=NAME)["State"] == "Pending":
        time.sleep(0.2)
    cold = []
    for i in range(COLD):
        if i:
            lam.update_function_configuration(
                FunctionName=NAME, Environment={"Variables": {"DATABASE_URL": os.environ["DATABASE_URL"], "RUN": str(i)}}
            )
            wait_updated()
        cold.append(ms(invoke))
    warm = [ms(invoke) for _ in range(WARM)]
    q = sqs.create_queue(QueueName=f"{NAME}-q")["QueueUrl"]
    base = [ms(lambda: sqs.get_queue_url(QueueName=f"{NAME}-q")) for _ in range(WARM)]
    sqs.delete_queue(QueueUrl=q)
    time.sleep(2)
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{NAME}").get("events", [])
    inits = [float(e["message"].split("Init Duration: ")[1].split(" ")[0]) for e in events if "Init Duration" in e["message"]]
    print(f"cold invoke (new environment + init + invoke), median of {len(cold)}: {statistics.median(cold):.0f} ms  (all: {', '.join(f'{c:.0f}' for c in cold)})")
    if inits:
        print(f"Init Duration (bootstrap start -> first /next), median of {len(inits)}: {statistics.median(inits):.1f} ms")
    print(f"warm invoke p50 of {len(warm)}: {statistics.median(warm):.1f} ms, p90 {sorted(warm)[int(len(warm) * 0.9) - 1]:.1f} ms")
    print(f"baseline: SQS GetQueueUrl p50 of {len(base)} on the same LocalStack: {statistics.median(base):.1f} ms")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
finally:
    lam.delete_function(FunctionName=NAME)
