"""Deploy template.yaml itself (Transform: AWS::Serverless-2016-10-31) through
CloudFormation on LocalStack, then run one of its functions.

LocalStack applies the SAM transform locally (aws-sam-translator is in its venv; no
network). Two edits are made to a copy of the template, nothing else:
  * `CodeUri: .` (for `sam build`) -> each function's zip on S3 (what `sam package` does);
  * `Architectures: [arm64]` -> the host's architecture (functions run as local processes).
Parameters get secrets created in LocalStack's Secrets Manager and local URLs.

Self-managed Kafka event source mappings are not emulated by LocalStack community
(CreateEventSourceMapping fails with "Unsupported event source mapping source service"),
so the stack is deployed with KafkaEventSource=MSK and an empty MskClusterArn: the
template's conditions then create no Kafka mapping (fraud-bridge plays that part locally).
LocalStack does not evaluate the template's Rules section, which would refuse that
combination on AWS.

Env: ZIP_DIR (fraud-{ingest,score,train,notify,track}.zip), PREFIX, DATABASE_URL,
KAFKA_BROKERS, SIM_URL, WEBHOOK_URL, WEBHOOK_SECRET. Prints PASS/FAIL lines; exit 1 on failure.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import boto3

from cleanup import best_effort

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_REGION", "us-east-1")
PREFIX = os.environ.get("PREFIX") or f"sam{int(time.time()) % 100000}-"
ZIP_DIR = Path(os.environ["ZIP_DIR"])
ARCH = "arm64" if os.uname().machine in ("aarch64", "arm64") else "x86_64"
FUNCTIONS = ("ingest", "score", "train", "notify", "track")
STACK = f"{PREFIX}stack".replace("_", "-")
TIMEOUT = 300

kw = {"endpoint_url": ENDPOINT, "region_name": REGION}
cfn, s3, sm, lam = (boto3.client(n, **kw) for n in ("cloudformation", "s3", "secretsmanager", "lambda"))
results: list[bool] = []
retained: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> bool:
    results.append(ok)
    print(f"[sam-deploy] {'PASS' if ok else 'FAIL'} {what}{(': ' + detail) if detail and not ok else ''}", flush=True)
    return ok


def derive_template(bucket: str) -> str:
    text = (ROOT / "template.yaml").read_text()
    text, n_arch = re.subn(r"^(\s+)Architectures: \[arm64\]$", rf"\1Architectures: [{ARCH}]", text, flags=re.M)
    text, n_code = re.subn(r"^\s+CodeUri: \.\n", "", text, flags=re.M)
    for fn in FUNCTIONS:
        text, n = re.subn(
            rf"^(\s+)(FunctionName: !Sub '\$\{{FunctionNamePrefix\}}{fn}')$",
            rf"\1\2\n\1CodeUri: {{Bucket: {bucket}, Key: {fn}.zip}}",
            text,
            flags=re.M,
        )
        if n != 1:
            raise SystemExit(f"template.yaml: expected one FunctionName for {fn}, found {n}")
    if n_arch != 1 or n_code != 1:
        raise SystemExit(f"template.yaml: Globals changed (Architectures x{n_arch}, CodeUri x{n_code}); update {__file__}")
    return text


def main() -> int:
    bucket = f"{PREFIX}code".lower()
    s3.create_bucket(Bucket=bucket)
    for fn in FUNCTIONS:
        s3.upload_file(str(ZIP_DIR / f"fraud-{fn}.zip"), bucket, f"{fn}.zip")
    secrets = {}
    for name, value in (
        ("db", os.environ["DATABASE_URL"]),
        ("webhook", os.environ["WEBHOOK_SECRET"]),
        ("kafka", json.dumps({"username": "local", "password": "local"})),
    ):
        secrets[name] = sm.create_secret(Name=f"{PREFIX}{name}", SecretString=value)["ARN"]
    params = {
        "FunctionNamePrefix": PREFIX,
        "PaymentsApiUrl": os.environ["SIM_URL"],
        "IngestScheduleState": "DISABLED",
        "KafkaEventSource": "MSK",
        "MskClusterArn": "",
        "KafkaBootstrapServers": os.environ["KAFKA_BROKERS"],
        "KafkaSecretArn": secrets["kafka"],
        "DatabaseSecretArn": secrets["db"],
        "WebhookSecretArn": secrets["webhook"],
        "WebhookUrl": os.environ["WEBHOOK_URL"],
        "LogRetentionInDays": "1",
    }
    try:
        template = derive_template(bucket)
        # LocalStack checks references before it applies the transform, and the template
        # refers to a resource SAM generates (IngestFunctionPoll, the schedule rule):
        # "Unresolved resource dependencies [IngestFunctionPoll]". So the SAM transform is
        # applied here, with the same aws-sam-translator LocalStack would use.
        from samtranslator.public.translator import ManagedPolicyLoader
        from samtranslator.translator.transform import transform
        from samtranslator.yaml_helper import yaml_parse

        iam = boto3.client("iam", **kw)
        plain = transform(yaml_parse(template), params, ManagedPolicyLoader(iam))
        # LocalStack 4.14 cannot Fn::Join a CommaDelimitedList parameter ("Invalid arguments
        # list definition for Fn::Join") and then skips the resource: join it here.
        joined = {"Fn::Join": [",", {"Ref": "KafkaBootstrapServers"}]}
        body = json.dumps(plain).replace(json.dumps(joined), json.dumps(params["KafkaBootstrapServers"]))
        # LocalStack 4.14 fails {{resolve:secretsmanager:<arn>:SecretString}} ("list index
        # out of range": it expects a ':' after SecretString); the equivalent form with
        # empty json-key/version-stage is accepted by both.
        body = body.replace(":SecretString}}", ":SecretString::}}")
        cfn.create_stack(
            StackName=STACK,
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        deadline = time.monotonic() + TIMEOUT
        status = ""
        while time.monotonic() < deadline:
            status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
            if not status.endswith("IN_PROGRESS"):
                break
            time.sleep(2)
        if not check(status == "CREATE_COMPLETE", "template.yaml (SAM-transformed) deploys through CloudFormation", status):
            for e in cfn.describe_stack_events(StackName=STACK)["StackEvents"][:15]:
                if "FAILED" in e.get("ResourceStatus", ""):
                    print(f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}")
            return 1
        resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=STACK)["StackResources"]}
        # DeletionPolicy: Retain keeps the buckets after the stack; removed in cleanup.
        retained.extend(r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::S3::Bucket")
        for fn in FUNCTIONS:
            c = lam.get_function_configuration(FunctionName=f"{PREFIX}{fn}")
            check(c["State"] == "Active", f"{PREFIX}{fn} is Active", f"{c['State']}: {c.get('StateReason')}")
        maps = lam.list_event_source_mappings(FunctionName=f"{PREFIX}notify")["EventSourceMappings"]
        check(
            len(maps) == 1 and maps[0].get("FunctionResponseTypes") == ["ReportBatchItemFailures"],
            "the SAM SQS event gives notify a mapping with ReportBatchItemFailures",
            str(maps),
        )
        check(
            any(r["ResourceType"] == "AWS::Events::Rule" for r in resources.values()),
            "the SAM Schedule event gives ingest an EventBridge rule",
        )
        r = lam.invoke(FunctionName=f"{PREFIX}track", Payload=b'{"action":"list","limit":1}')
        body = r["Payload"].read()
        check("FunctionError" not in r and b'"runs"' in body,
              "track from the SAM stack runs (DATABASE_URL read from Secrets Manager by ARN at cold start)", body[:300].decode())
    finally:
        if os.environ.get("KEEP") != "1":
            try:
                cfn.delete_stack(StackName=STACK)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        st = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
                    except cfn.exceptions.ClientError:  # gone
                        break
                    if st in ("DELETE_COMPLETE", "DELETE_FAILED"):
                        break
                    time.sleep(2)
            except Exception as e:
                print(f"  (cleanup) {e}")
            best_effort(lambda arn: sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True),
                        secrets.values())
            best_effort(lambda name: s3.delete_bucket(Bucket=name), retained)
            best_effort(lambda fn: s3.delete_object(Bucket=bucket, Key=f"{fn}.zip"), FUNCTIONS)
            best_effort(lambda name: s3.delete_bucket(Bucket=name), [bucket])
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        check(False, "SAM deploy run", f"{type(e).__name__}: {e}")
    failed = results.count(False)
    print(f"[sam-deploy] {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed or not results else 0)
