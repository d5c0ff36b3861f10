"""Deploy the template's non-Lambda resources through CloudFormation on LocalStack.

LocalStack cannot run Lambda functions without Docker, so this derives a template with
only the S3 buckets (+ policies), SQS queues and log groups of template.yaml, deploys
it under a unique name prefix (the local stack's own fraud-* queues are left alone),
checks what was created, and deletes the stack again. Twice: with the default
TrainingJob=none, then with TrainingJob=batch (the training job's log group and execution
role must appear only then).

Usage: <python with boto3 + cfn-lint> tests/template/localstack_deploy.py
Env: AWS_ENDPOINT_URL (default http://127.0.0.1:4566). Exit 0 on success.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import boto3
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
KEEP = {
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",  # those that do not refer to a function
}
# Values for the parameters without a default (fake ARNs: nothing is read from them).
FAKE = {
    "KafkaSecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:tplcheck-kafka",
    "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:tplcheck-db",
    "WebhookSecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:tplcheck-webhook",
    "KafkaBootstrapServers": "127.0.0.1:19092",
    "PaymentsApiUrl": "http://127.0.0.1:18000",
    "WebhookUrl": "http://127.0.0.1:18001/alerts",
}
# TrainingJob=batch also needs these (fake: nothing is pulled or started).
TRAINING_JOB = {
    "TrainingJobImageRepository": "tplcheck/fraud-train",
    "TrainingJobSubnetIds": "subnet-0123456789abcdef0",
    "TrainingJobSecurityGroupIds": "sg-0123456789abcdef0",
}
TIMEOUT = 90


def refs(node) -> set[str]:
    """Logical ids a node refers to (Ref, GetAtt, ${X} / ${X.Attr} in Sub)."""
    import re

    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                out.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                out |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
            out |= refs(v)
    elif isinstance(node, list):
        for v in node:
            out |= refs(v)
    return out


def derive(template: dict) -> dict:
    res = {n: r for n, r in template["Resources"].items() if r["Type"] in KEEP}
    # drop what refers to a dropped resource, until stable
    while True:
        bad = [n for n, r in res.items() if any(x in template["Resources"] and x not in res for x in refs(r))]
        if not bad:
            break
        for n in bad:
            del res[n]
    for r in res.values():  # a test stack must clean up after itself
        r["DeletionPolicy"] = "Delete"
        r["UpdateReplacePolicy"] = "Delete"
    conds = template.get("Conditions", {})
    used = refs(res) | refs(conds)
    params = {n: p for n, p in template.get("Parameters", {}).items() if n in used}
    outputs = {
        n: {"Value": {"Ref": n}}
        for n, r in res.items()
        if r["Type"] in ("AWS::S3::Bucket", "AWS::SQS::Queue")
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "fraud-detect template check: non-Lambda resources only",
        "Parameters": params,
        "Conditions": conds,
        "Resources": res,
        "Outputs": outputs,
    }


def main() -> int:
    # Default (no training job), then TrainingJob=batch: its log group and execution role
    # (the Batch resources themselves are not emulated) appear only in the second.
    return max(check("none"), check("batch"))


def check(training_job: str) -> int:
    started = time.monotonic()
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    session = boto3.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )
    client = lambda svc: session.client(svc, endpoint_url=endpoint)  # noqa: E731
    cfn, s3, sqs, logs = client("cloudformation"), client("s3"), client("sqs"), client("logs")

    template = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "template.yaml")), default=str))
    derived = derive(template)
    suffix = f"{os.getpid()}-{int(time.time()) % 100000}-{training_job}"
    prefix = f"tplcheck-{suffix}-"
    stack = f"fraud-template-check-{suffix}"
    print(f"[localstack] TrainingJob={training_job}: deploying {sorted(derived['Resources'])} as stack {stack}", file=sys.stderr)
    values = {"FunctionNamePrefix": prefix, **FAKE, "TrainingJob": training_job}
    if training_job == "batch":
        values.update(TRAINING_JOB)
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items() if k in derived["Parameters"]]
    failures: list[str] = []
    try:
        cfn.create_stack(StackName=stack, TemplateBody=json.dumps(derived), Parameters=params)
        status = ""
        while time.monotonic() - started < TIMEOUT:
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
            if not status.endswith("IN_PROGRESS"):
                break
            time.sleep(1)
        if status != "CREATE_COMPLETE":
            events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
            reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if "FAILED" in e["ResourceStatus"]]
            print(f"[localstack] stack status {status}: {reasons}", file=sys.stderr)
            return 1
        out = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
        print(f"[localstack] {status} in {time.monotonic() - started:.1f}s: {out}", file=sys.stderr)

        for name in ("ModelsBucket", "DataBucket", "ResultsBucket"):
            bucket = out[name]
            pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            if not all(pab.values()) or len(pab) != 4:
                failures.append(f"{name}: public access block {pab}")
            enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
            if enc[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] != "AES256":
                failures.append(f"{name}: encryption {enc}")
        if s3.get_bucket_versioning(Bucket=out["ModelsBucket"]).get("Status") != "Enabled":
            failures.append("ModelsBucket: versioning not enabled")
        attrs = sqs.get_queue_attributes(QueueUrl=out["AlertsQueue"], AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs.get("RedrivePolicy", "{}"))
        if int(redrive.get("maxReceiveCount", 0)) != 3 or not redrive.get("deadLetterTargetArn", "").endswith(f"{prefix}alerts-dlq"):
            failures.append(f"AlertsQueue: redrive policy {redrive}")
        if not out["AlertsQueue"].endswith(f"{prefix}alerts"):
            failures.append(f"AlertsQueue: unexpected URL {out['AlertsQueue']}")
        groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")["logGroups"]
        if len(groups) != 5:
            failures.append(f"log groups: {[g['logGroupName'] for g in groups]}")
        retention = {g.get("retentionInDays") for g in groups}
        if retention == {None}:
            # LocalStack 4.14's CloudFormation LogGroup ignores RetentionInDays (a direct
            # PutRetentionPolicy works); only cfn-lint/tests check it.
            print("[localstack] note: LocalStack did not apply RetentionInDays", file=sys.stderr)
        elif retention != {30}:
            failures.append(f"log groups: retention {retention}, want 30")
        job_groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/batch/{prefix}")["logGroups"]
        want_job = [f"/aws/batch/{prefix}train-job"] if training_job == "batch" else []
        if [g["logGroupName"] for g in job_groups] != want_job:
            failures.append(f"TrainingJob={training_job}: job log groups {[g['logGroupName'] for g in job_groups]}, want {want_job}")
        created = {r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
        if ("TrainJobExecutionRole" in created) != (training_job == "batch"):
            failures.append(f"TrainingJob={training_job}: TrainJobExecutionRole created: {'TrainJobExecutionRole' in created}")
        iam = client("iam")
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]:
            if r["ResourceType"] != "AWS::IAM::Role":
                continue
            role = r["PhysicalResourceId"]
            for pname in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                doc = iam.get_role_policy(RoleName=role, PolicyName=pname)["PolicyDocument"]
                doc = json.loads(doc) if isinstance(doc, str) else doc
                text = json.dumps(doc)
                if "Fn::" in text or "NoValue" in text or not all("Effect" in st for st in doc["Statement"]):
                    failures.append(f"{r['LogicalResourceId']}: unresolved policy {text[:300]}")
        print(f"[localstack] checked buckets, queues, log groups, role policies", file=sys.stderr)
    finally:
        try:
            cfn.delete_stack(StackName=stack)
            while time.monotonic() - started < TIMEOUT + 60:
                stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
                if not stacks or stacks[0]["StackStatus"] in ("DELETE_COMPLETE", "DELETE_FAILED"):
                    print(f"[localstack] deleted ({stacks[0]['StackStatus'] if stacks else 'gone'})", file=sys.stderr)
                    break
                time.sleep(1)
        except cfn.exceptions.ClientError as e:
            if "does not exist" in str(e):
                print("[localstack] deleted", file=sys.stderr)
            else:
                failures.append(f"delete: {e}")
    for f in failures:
        print(f"[localstack] FAIL {f}", file=sys.stderr)
    print(f"[localstack] done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
