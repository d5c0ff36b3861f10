"""Each function's role grants exactly what its code uses, on exactly its resources.

test_template.py checks the shape of every statement (no wildcard actions, no `*`
resources except where AWS offers no resource-level permission). This file pins, per
function, the complete set of (action, resource) grants, so a role that gains a bucket,
a queue, a secret or an action it does not need fails here, and the reviewer sees which.
It also scans the repository's own files for committed secrets.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from test_template import as_list, load, role_statements, strip_if

ROOT = Path(__file__).resolve().parents[2]

# Resources written as: "Bucket" (GetAtt Arn), "Bucket/prefix/*" (Sub on the ARN),
# "Ref:Param", "*" (AWS has no resource-level permission for the action).
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
VPC = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}


def grants(actions: set[str], *resources: str) -> set[tuple[str, str]]:
    return {(a, r) for a in actions for r in resources}


def common(log_group: str, vpc: set[str] = VPC) -> set[tuple[str, str]]:
    return grants(LOGS, log_group) | grants(XRAY, "*") | grants(vpc, "*")


EXPECTED: dict[str, set[tuple[str, str]]] = {
    # ingest: polls the API (no AWS), publishes to Kafka (credentials), backfills from
    # the data bucket, and its failed async invocations go to its own DLQ.
    "IngestRole": common("IngestLogGroup")
    | grants({"s3:GetObject"}, "DataBucket/*")
    | grants({"s3:ListBucket"}, "DataBucket")
    | grants({"sqs:SendMessage"}, "IngestDeadLetterQueue")
    | grants({"secretsmanager:GetSecretValue"}, "Ref:KafkaSecretArn")
    | grants({"kms:Decrypt"}, "Ref:SecretsKmsKeyArn"),
    # score: reads models and rules (never writes them), writes results, sends alerts; Postgres
    # and Kafka credentials; the MSK event source describes its cluster.
    "ScoreRole": common(
        "ScoreLogGroup", VPC | {"ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"}
    )
    | grants({"s3:GetObject"}, "ModelsBucket/models/*", "ModelsBucket/rules/*")
    | grants({"s3:ListBucket"}, "ModelsBucket")
    | grants({"s3:PutObject"}, "ResultsBucket/*")
    | grants({"sqs:SendMessage"}, "AlertsQueue")
    | grants({"secretsmanager:GetSecretValue"}, "Ref:DatabaseSecretArn", "Ref:KafkaSecretArn")
    | grants({"kms:Decrypt"}, "Ref:SecretsKmsKeyArn")
    | grants(
        {"kafka:DescribeCluster", "kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"},
        "Ref:MskClusterArn",
    ),
    # train: reads training data, reads/writes models, invokes track only. No secrets.
    "TrainRole": common("TrainLogGroup")
    | grants({"s3:GetObject"}, "DataBucket/*")
    | grants({"s3:GetObject", "s3:PutObject"}, "ModelsBucket/models/*")
    | grants({"s3:ListBucket"}, "DataBucket", "ModelsBucket")
    | grants({"lambda:InvokeFunction"}, "TrackFunction"),
    # notify: consumes the alerts queue, reads the webhook key, and publishes to the
    # optional alerts SNS topic (only that topic, only when set). No S3, no Kafka.
    "NotifyRole": common("NotifyLogGroup")
    | grants(
        {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        },
        "AlertsQueue",
    )
    | grants({"secretsmanager:GetSecretValue"}, "Ref:WebhookSecretArn")
    | grants({"sns:Publish"}, "Ref:AlertsSnsTopicArn")
    | grants({"kms:Decrypt"}, "Ref:SecretsKmsKeyArn"),
    # track: Postgres (its URL secret) and label CSVs under labels/ in the data bucket;
    # the monitor reads artifacts and payments (the score function's archive too, listed
    # under payments/ only), writes its reports, publishes its alerts; training_data writes
    # the labelled CSV under training/ in the data bucket.
    "TrackRole": common("TrackLogGroup")
    | grants(
        {"s3:GetObject"},
        "DataBucket/labels/*",
        "ModelsBucket/models/*",
        "DataBucket/payments/*",
        "ResultsBucket/payments/*",
    )
    | grants({"s3:ListBucket"}, "ResultsBucket", "DataBucket")
    | grants({"s3:PutObject"}, "ModelsBucket/monitor/*", "DataBucket/training/*")
    | grants({"sns:Publish"}, "Ref:MonitorAlertsTopic")
    | grants({"secretsmanager:GetSecretValue"}, "Ref:DatabaseSecretArn")
    | grants({"kms:Decrypt"}, "Ref:SecretsKmsKeyArn"),
    # The training job (TrainingJob=batch), the train binary on AWS Batch: its code gets
    # the train function's S3 and track grants and nothing else (no X-Ray, no ENIs: Fargate
    # networks the task itself) ...
    "TrainJobRole": grants({"s3:GetObject"}, "DataBucket/*")
    | grants({"s3:GetObject", "s3:PutObject"}, "ModelsBucket/models/*")
    | grants({"s3:ListBucket"}, "DataBucket", "ModelsBucket")
    | grants({"lambda:InvokeFunction"}, "TrackFunction"),
    # ... and Fargate, starting it, pulls the image from its one repository and writes
    # its one log group.
    "TrainJobExecutionRole": grants(LOGS, "TrainJobLogGroup")
    | grants({"ecr:GetAuthorizationToken"}, "*")
    | grants(
        {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"},
        "Sub:arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${TrainingJobImageRepository}",
    ),
}


def resource_name(r) -> str:
    if r == "*":
        return "*"
    if isinstance(r, dict):
        if "Fn::GetAtt" in r:
            name, attr = r["Fn::GetAtt"]
            assert attr == "Arn", r
            return name
        if "Ref" in r:
            return f"Ref:{r['Ref']}"
        if "Fn::Sub" in r:
            sub = r["Fn::Sub"][0] if isinstance(r["Fn::Sub"], list) else r["Fn::Sub"]
            m = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.*)", sub)
            if m:
                return m.group(1) + m.group(2)
            return f"Sub:{sub}"
    return f"literal:{r!r}"


def granted(t, role: str) -> set[tuple[str, str]]:
    out = set()
    for st in role_statements(t, role):
        if st.get("Effect") != "Allow":
            continue
        for a in as_list(st.get("Action", [])):
            for x in as_list(st.get("Resource", [])):
                for r in strip_if(x):
                    out.add((a, resource_name(r)))
    return out


@pytest.fixture(scope="module")
def template():
    return load()


def test_every_function_role_is_pinned(template) -> None:
    roles = {
        name
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role"
    }
    assert roles == set(EXPECTED), "a role was added or removed: pin its grants here"


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_role_grants_exactly_what_the_function_uses(template, role: str) -> None:
    got = granted(template, role)
    extra = sorted(got - EXPECTED[role])
    missing = sorted(EXPECTED[role] - got)
    assert not extra, f"{role} grants more than its function uses: {extra}"
    assert not missing, f"{role} lost a grant its function needs: {missing}"


def test_only_aws_required_grants_are_on_any_resource(template) -> None:
    # Actions that AWS only allows on "*": X-Ray segments and the VPC ENI calls Lambda
    # makes for a function in a VPC. Nothing else may be granted on "*".
    allowed = XRAY | VPC | {"ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ecr:GetAuthorizationToken"}
    for role in EXPECTED:
        star = {a for a, r in granted(template, role) if r == "*"}
        assert star <= allowed, f"{role}: {sorted(star - allowed)} on '*'"


def test_training_job_role_grants_nothing_the_train_function_lacks(template) -> None:
    # The same binary with the same configuration: whatever the job role allows, the
    # train function's role allows too.
    job = granted(template, "TrainJobRole")
    assert job, "TrainJobRole grants nothing"
    extra = sorted(job - granted(template, "TrainRole"))
    assert not extra, f"the training job may do what the train function may not: {extra}"
    # And it loses nothing its code needs: only the Lambda-specific grants differ.
    lambda_only = {(a, r) for a, r in granted(template, "TrainRole") if a in LOGS | XRAY | VPC}
    assert granted(template, "TrainRole") - job == lambda_only


def test_training_job_exists_only_when_the_parameter_is_set(template) -> None:
    assert template["Parameters"]["TrainingJob"]["Default"] == "none"
    condition = template["Conditions"]["UseTrainingJob"]["Fn::And"]
    assert {"Fn::Equals": [{"Ref": "TrainingJob"}, "batch"]} in condition
    job = {
        name
        for name, r in template["Resources"].items()
        if r["Type"].startswith("AWS::Batch::") or name.startswith("TrainJob")
    }
    assert job >= {"TrainJobRole", "TrainJobExecutionRole", "TrainJobQueue", "TrainJobDefinition"}
    unconditional = sorted(n for n in job if template["Resources"][n].get("Condition") != "UseTrainingJob")
    assert not unconditional, f"deployed without TrainingJob=batch: {unconditional}"
    # Nothing outside the job refers to it (it would break the default deployment).
    others = {n: r for n, r in template["Resources"].items() if n not in job}
    text = repr(others) + repr({k: v for k, v in template["Outputs"].items() if v.get("Condition") != "UseTrainingJob"})
    assert not [n for n in job if f"'{n}'" in text or "${" + n in text]


def test_track_lists_only_the_payments_prefixes(template) -> None:
    # payments_uris may be prefixes; listing a bucket shows every key, so the grant is
    # narrowed to payments/ (the archive in the results bucket, backfills in the data bucket).
    listing = [st for st in role_statements(template, "TrackRole")
               if "s3:ListBucket" in as_list(st.get("Action", []))]
    assert listing, "TrackRole lists nothing"
    for st in listing:
        assert st.get("Condition") == {"StringLike": {"s3:prefix": ["payments/*"]}}, st


def test_function_urls_require_iam_auth(template) -> None:
    # train (on-demand training) and score (the synchronous decision API).
    for name in ("TrainFunction", "ScoreFunction"):
        fn = template["Resources"][name]["Properties"]
        assert fn["FunctionUrlConfig"]["AuthType"] == "AWS_IAM", name
    urls = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Url"
    ]
    assert all(u["Properties"].get("AuthType") == "AWS_IAM" for u in urls)


def test_extra_grant_is_caught(template) -> None:
    import copy

    broken = copy.deepcopy(template)
    statements = broken["Resources"]["NotifyRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    statements.append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${ModelsBucket.Arn}/*"}}
    )
    with pytest.raises(AssertionError, match="grants more"):
        test_role_grants_exactly_what_the_function_uses(broken, "NotifyRole")


# --- committed secrets -------------------------------------------------------------

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Slack/GitHub token": re.compile(r"\b(xox[abp]-[0-9A-Za-z-]{10,}|gh[pousr]_[0-9A-Za-z]{30,})\b"),
    # A URL with a user and a password (placeholders are allowed below).
    "URL with credentials": re.compile(
        r"\b(?:postgres(?:ql)?|https?|amqp|redis)://([^\s:/@\"'$]+):([^\s@\"'$]+)@"
    ),
}


# Passwords that are not secrets: the local stack's throwaway role, documentation
# placeholders, and the values tests plant on purpose to prove they are redacted.
PLACEHOLDER_PASSWORDS = {"fraud", "postgres", "pass", "password", "s3cret", "hunter2"}


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    keep = (".rs", ".py", ".sh", ".toml", ".yaml", ".yml", ".json", ".md", ".env", ".cfg", ".ini")
    return [ROOT / p for p in out.split("\0") if p.endswith(keep) or p in ("Makefile",)]


def test_no_secret_is_committed() -> None:
    found = []
    for path in tracked_files():
        if path.name == "test_least_privilege.py" or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for what, rx in SECRET_PATTERNS.items():
            for m in rx.finditer(text):
                if what == "URL with credentials" and (
                    m.group(2) in PLACEHOLDER_PASSWORDS
                    # A format string that builds a URL at run time, e.g. "postgres://{}:{}@".
                    or re.fullmatch(r"\{[^{}]*\}", m.group(2))
                ):
                    continue
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}: {m.group(0)[:40]}")
    assert not found, "\n".join(found)


def test_secret_scan_finds_a_planted_secret() -> None:
    sample = 'db = "postgres://admin:s3cr3t-pass@db.internal:5432/fraud"\nkey = "AKIAABCDEFGHIJKLMNOP"'
    hits = [w for w, rx in SECRET_PATTERNS.items() if rx.search(sample)]
    assert set(hits) == {"URL with credentials", "AWS access key id"}
