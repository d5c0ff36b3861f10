"""Structural checks of the SAM template (template.yaml), offline.

Run with the venv that scripts/template-check.sh creates:
    $FRAUD_STACK_DIR/venv/cfn-lint/bin/python -m pytest tests/template

Every rule is a function returning the problems it finds in a parsed template; the
tests assert that the real template has none, and (test_mutation_*) that a broken
copy of it is caught, so a rule cannot silently stop checking anything.
FRAUD_TEMPLATE=<path> checks another template file.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cfnlint.decode import cfn_yaml  # cfn-lint's loader: understands !Ref, !GetAtt, !Sub, ...

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(os.environ.get("FRAUD_TEMPLATE", ROOT / "template.yaml"))
FUNCTIONS_DIR = ROOT / "functions"

# Actions that do not support resource-level permissions (or, for the ENI actions,
# whose documented Lambda policy needs '*'): the only ones allowed with Resource '*'.
ACTIONS_WITHOUT_RESOURCE_LEVEL = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "ecr:GetAuthorizationToken",  # the training job's image pull logs in to ECR first
}
SECRET_NAME = re.compile(r"secret|password|passwd|token|api_?key|credential", re.I)
SECRET_ENV = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|API_KEY", re.I)

Template = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def load(path: Path = TEMPLATE) -> Template:
    # Plain dicts/lists/strs (the loader's node types subclass them).
    return json.loads(json.dumps(cfn_yaml.load(str(path)), default=str))


@pytest.fixture(scope="module")
def template() -> Template:
    return load()


def resources(t: Template, rtype: str | None = None) -> dict[str, dict]:
    return {
        name: r
        for name, r in t.get("Resources", {}).items()
        if rtype is None or r.get("Type") == rtype
    }


def functions(t: Template) -> dict[str, dict]:
    return resources(t, "AWS::Serverless::Function")


def effective(t: Template, fn: dict, prop: str) -> Any:
    """A function property after SAM Globals are applied (function value wins)."""
    props = fn.get("Properties", {})
    if prop in props:
        return props[prop]
    return t.get("Globals", {}).get("Function", {}).get(prop)


def env_vars(t: Template, fn: dict) -> dict[str, Any]:
    merged = dict(
        t.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    merged.update(fn.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    return merged


def as_list(x: Any) -> list:
    return x if isinstance(x, list) else [x]


def strip_if(value: Any) -> Iterator[Any]:
    """Every value a (possibly Fn::If-wrapped) node can take; AWS::NoValue dropped."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, yes, no = value["Fn::If"]
        yield from strip_if(yes)
        yield from strip_if(no)
    elif value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def statements(t: Template) -> Iterator[tuple[str, dict]]:
    """(where, statement) for every IAM statement: roles, policies, resource policies
    and SAM function Policies (conditional statements expanded)."""

    def from_doc(where: str, doc: Any) -> Iterator[tuple[str, dict]]:
        for d in strip_if(doc):
            if not isinstance(d, dict):
                continue
            for st in as_list(d.get("Statement", [])):
                for s in strip_if(st):
                    yield where, s

    for name, r in resources(t).items():
        props = r.get("Properties", {})
        rtype = r.get("Type")
        if rtype == "AWS::IAM::Role":
            for p in props.get("Policies", []):
                for pp in strip_if(p):
                    yield from from_doc(f"{name}/{pp.get('PolicyName')}", pp.get("PolicyDocument"))
        elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield from from_doc(name, props.get("PolicyDocument"))
        elif rtype in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            yield from from_doc(name, props.get("PolicyDocument"))
        elif rtype == "AWS::Serverless::Function":
            for p in as_list(props.get("Policies", [])):
                for pp in strip_if(p):
                    if isinstance(pp, dict) and "Statement" in pp:
                        yield from from_doc(f"{name}/Policies", pp)


def role_statements(t: Template, role: str) -> list[dict]:
    return [s for where, s in statements(t) if where.startswith(f"{role}/")]


def role_of(fn: dict) -> str | None:
    role = fn.get("Properties", {}).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        target = target.split(".")[0] if isinstance(target, str) else target[0]
        return target
    return None


def function_named(t: Template, binary: str) -> tuple[str, dict]:
    matches = [
        (n, f)
        for n, f in functions(t).items()
        if f.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == binary
    ]
    assert len(matches) == 1, f"expected one function building {binary}, found {len(matches)}"
    return matches[0]


# --------------------------------------------------------------------------- rules


def problems_functions_match_crates(t: Template) -> list[str]:
    problems = []
    dirs = sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "Cargo.toml").is_file())
    if not dirs:
        problems.append(f"no function crates under {FUNCTIONS_DIR}")
    binaries: dict[str, list[str]] = {}
    for name, fn in functions(t).items():
        md = fn.get("Metadata", {})
        binary = md.get("BuildProperties", {}).get("Binary")
        binaries.setdefault(str(binary), []).append(name)
        if md.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: Metadata.BuildMethod is not rust-cargolambda")
    for d in dirs:
        expected = f"fraud-{d}"
        found = binaries.get(expected, [])
        if len(found) != 1:
            problems.append(f"functions/{d}: {len(found)} functions build {expected} (want 1)")
        bins = tomllib.loads((FUNCTIONS_DIR / d / "Cargo.toml").read_text()).get("bin", [])
        if expected not in [b.get("name") for b in bins]:
            problems.append(f"functions/{d}/Cargo.toml has no [[bin]] named {expected}")
    for binary, names in binaries.items():
        if not binary.startswith("fraud-") or binary[len("fraud-"):] not in dirs:
            problems.append(f"{names}: binary {binary} has no functions/<dir> crate")
    return problems


def problems_function_runtime(t: Template) -> list[str]:
    problems = []
    want = {
        "Runtime": "provided.al2023",
        "Architectures": ["arm64"],
        "Handler": "bootstrap",
        "CodeUri": ".",
        "Tracing": "Active",
    }
    for name, fn in functions(t).items():
        for prop, value in want.items():
            if effective(t, fn, prop) != value:
                problems.append(f"{name}: {prop} is {effective(t, fn, prop)!r}, want {value!r}")
        if not effective(t, fn, "Timeout") or not effective(t, fn, "MemorySize"):
            problems.append(f"{name}: no Timeout/MemorySize")
        if "RUST_LOG" not in env_vars(t, fn):
            problems.append(f"{name}: RUST_LOG not set")
    return problems


def secret_arn_vars() -> dict[str, str]:
    """Variables a function may get as a Secrets Manager ARN instead (fraud-aws secrets.rs)."""
    src = (ROOT / "crates/fraud-aws/src/secrets.rs").read_text()
    return dict(re.findall(r'var: "([A-Z0-9_]+)",\s*arn_var: "([A-Z0-9_]+)"', src))


def problems_required_env(t: Template) -> list[str]:
    """Every variable a function's Config::from_env requires is set in the template (a
    secret through its ARN variable, which the function reads at cold start)."""
    problems = []
    by_arn = secret_arn_vars()
    assert by_arn, "no secret variables found in crates/fraud-aws/src/secrets.rs"
    for d in sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "src/lib.rs").is_file()):
        # Config may live in lib.rs or a module of its own (score's config.rs).
        src = "\n".join(
            p.read_text() for p in (FUNCTIONS_DIR / d / "src").glob("*.rs") if p.name in ("lib.rs", "config.rs")
        )
        needed = set(re.findall(r'required\(\s*"([A-Z0-9_]+)"', src))
        needed |= set(re.findall(r'lookup\(\s*"([A-Z0-9_]+)"\s*\)', src))
        try:
            name, fn = function_named(t, f"fraud-{d}")
        except AssertionError:
            continue  # reported by problems_functions_match_crates
        have = set(env_vars(t, fn))
        missing = sorted(v for v in needed - have if by_arn.get(v) not in have)
        if missing:
            problems.append(f"{name}: required env {missing} not set")
    return problems


def problems_iam_least_privilege(t: Template) -> list[str]:
    problems = []
    for where, st in statements(t):
        if st.get("Effect") != "Allow":
            continue  # Deny statements may be broad: they only narrow
        if "NotAction" in st or "NotResource" in st:
            problems.append(f"{where}: Allow with NotAction/NotResource")
        actions = as_list(st.get("Action", []))
        for a in actions:
            if not isinstance(a, str) or "*" in a:
                problems.append(f"{where}: wildcard or non-literal action {a!r}")
        res = [r for x in as_list(st.get("Resource", [])) for r in strip_if(x)]
        if not res and "Principal" not in st:
            problems.append(f"{where}: statement without Resource")
        if "*" in res:
            broad = sorted(set(actions) - ACTIONS_WITHOUT_RESOURCE_LEVEL)
            if broad:
                problems.append(f"{where}: Resource '*' for {broad}")
        for r in res:
            if isinstance(r, str) and r != "*" and "*" in r:
                problems.append(f"{where}: literal wildcard resource {r!r}")
            sub = r.get("Fn::Sub") if isinstance(r, dict) else None
            if isinstance(sub, list):
                sub = sub[0]
            if isinstance(sub, str) and "*" in sub:
                # only objects under a bucket ARN reference: ${Bucket.Arn}/... /*
                if not re.fullmatch(r"\$\{\w+\.Arn\}(/[\w.-]+)*/\*", sub):
                    problems.append(f"{where}: wildcard resource {sub!r}")
    for name, r in resources(t, "AWS::IAM::Role").items():
        if r.get("Properties", {}).get("ManagedPolicyArns"):
            problems.append(f"{name}: managed policies (use explicit statements)")
    for name, fn in functions(t).items():
        if fn.get("Properties", {}).get("Policies"):
            problems.append(f"{name}: SAM Policies (use the function's own role)")
    return problems


def problems_roles_per_function(t: Template) -> list[str]:
    problems = []
    roles = {}
    for name, fn in functions(t).items():
        role = role_of(fn)
        if role is None or role not in resources(t, "AWS::IAM::Role"):
            problems.append(f"{name}: no Role of its own in the template")
        elif role in roles:
            problems.append(f"{name} shares role {role} with {roles[role]}")
        else:
            roles[role] = name
        if role:
            log_group = fn["Properties"].get("LoggingConfig", {}).get("LogGroup")
            logs = [
                s for s in role_statements(t, role) if "logs:PutLogEvents" in as_list(s.get("Action"))
            ]
            if not logs or any(
                s.get("Resource") != {"Fn::GetAtt": [log_group["Ref"], "Arn"]}
                if isinstance(log_group, dict)
                else True
                for s in logs
            ):
                problems.append(f"{name}: logs permission not limited to its LoggingConfig log group")
    return problems


def problems_secrets(t: Template) -> list[str]:
    problems = []
    params = t.get("Parameters", {})
    for name, p in params.items():
        if not SECRET_NAME.search(name) or set(p.get("AllowedValues", [])) == {"true", "false"}:
            continue  # not a secret, or a switch about secrets
        if p.get("Default") not in (None, ""):
            problems.append(f"parameter {name} has a default value")
        if not name.endswith("Arn"):
            problems.append(f"parameter {name}: secrets are passed as Secrets Manager ARNs")
        if name.endswith("SecretArn") and p.get("Default") is not None:
            problems.append(f"parameter {name}: a required secret must have no Default")
    for name, fn in functions(t).items():
        for var, value in env_vars(t, fn).items():
            for v in strip_if(value):
                if SECRET_ENV.search(var) and not var.endswith("_ARN"):
                    # The functions read the secret by ARN at cold start: a value here
                    # (even a dynamic reference) would sit in the function configuration.
                    problems.append(f"{name}: {var} puts a secret in the environment; pass its _ARN")
                if var.endswith("SECRET_ARN") and not (
                    isinstance(v, dict) and v.get("Ref") in params
                ):
                    problems.append(f"{name}: {var} is not a parameter reference")
    raw = json.dumps({k: t.get(k) for k in ("Globals", "Resources", "Outputs")})
    if re.search(r"postgres(ql)?://[^\"]*:[^\"]*@", raw):
        problems.append("a literal Postgres URL with credentials")
    if re.search(r"resolve:secretsmanager", raw):
        problems.append("a Secrets Manager dynamic reference (resolves the secret into the template)")
    # GetSecretValue only on secret ARN parameters
    for where, st in statements(t):
        if "secretsmanager:GetSecretValue" in as_list(st.get("Action", [])):
            for r in as_list(st.get("Resource", [])):
                if not (isinstance(r, dict) and str(r.get("Ref", "")).endswith("SecretArn")):
                    problems.append(f"{where}: GetSecretValue on {r!r}")
    return problems


def problems_buckets(t: Template) -> list[str]:
    problems = []
    buckets = resources(t, "AWS::S3::Bucket")
    for want in ("ModelsBucket", "DataBucket", "ResultsBucket"):
        if want not in buckets:
            problems.append(f"missing bucket {want}")
    for name, b in buckets.items():
        props = b.get("Properties", {})
        pab = props.get("PublicAccessBlockConfiguration", {})
        for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            if pab.get(k) is not True:
                problems.append(f"{name}: {k} is not true")
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        algos = [r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
        if not algos or any(a not in ("AES256", "aws:kms", "aws:kms:dsse") for a in algos):
            problems.append(f"{name}: not encrypted")
    models = buckets.get("ModelsBucket", {}).get("Properties", {})
    if models.get("VersioningConfiguration", {}).get("Status") != "Enabled":
        problems.append("ModelsBucket: versioning not enabled")
    return problems


def problems_event_sources(t: Template) -> list[str]:
    problems = []
    # notify: SQS alerts queue, partial batch responses, DLQ after 3 receives
    _, notify = function_named(t, "fraud-notify")
    sqs = [e for e in notify["Properties"].get("Events", {}).values() if e.get("Type") == "SQS"]
    if len(sqs) != 1:
        problems.append("notify: want exactly one SQS event")
    for e in sqs:
        if e["Properties"].get("Queue") != {"Fn::GetAtt": ["AlertsQueue", "Arn"]}:
            problems.append("notify: SQS event is not on AlertsQueue")
        if "ReportBatchItemFailures" not in e["Properties"].get("FunctionResponseTypes", []):
            problems.append("notify: SQS event does not report batch item failures")
    queue = resources(t).get("AlertsQueue", {}).get("Properties", {})
    redrive = queue.get("RedrivePolicy", {})
    if redrive.get("maxReceiveCount") != 3 or redrive.get("deadLetterTargetArn") != {
        "Fn::GetAtt": ["AlertsDeadLetterQueue", "Arn"]
    }:
        problems.append("AlertsQueue: redrive to AlertsDeadLetterQueue after 3 receives missing")
    if int(queue.get("VisibilityTimeout", 30)) < int(effective(t, notify, "Timeout")):
        problems.append("AlertsQueue: visibility timeout shorter than notify's timeout")

    # ingest: schedule with the rate parameter
    _, ingest = function_named(t, "fraud-ingest")
    schedules = [
        e for e in ingest["Properties"].get("Events", {}).values() if e.get("Type") == "Schedule"
    ]
    if len(schedules) != 1 or schedules[0]["Properties"].get("Schedule") != {
        "Ref": "IngestScheduleRate"
    }:
        problems.append("ingest: want one Schedule event on the IngestScheduleRate parameter")

    # score: self-managed Kafka by default (BASIC_AUTH), MSK by condition
    score_name, _ = function_named(t, "fraud-score")
    maps = [
        r
        for r in resources(t, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"].get("FunctionName") == {"Ref": score_name}
    ]
    smk = [m for m in maps if "SelfManagedEventSource" in m["Properties"]]
    msk = [m for m in maps if "EventSourceArn" in m["Properties"]]
    if len(smk) != 1 or len(msk) != 1:
        problems.append("score: want one self-managed Kafka and one MSK mapping")
    conditions = t.get("Conditions", {})
    for m in smk:
        p = m["Properties"]
        if conditions.get(m.get("Condition")) != {
            "Fn::Equals": [{"Ref": "KafkaEventSource"}, "SelfManagedKafka"]
        } or t["Parameters"]["KafkaEventSource"].get("Default") != "SelfManagedKafka":
            problems.append("score: self-managed Kafka is not the default event source")
        if p.get("Topics") != [{"Ref": "KafkaTopic"}] or t["Parameters"]["KafkaTopic"].get(
            "Default"
        ) != "payments":
            problems.append("score: not consuming the payments topic")
        if p["SelfManagedEventSource"]["Endpoints"].get("KafkaBootstrapServers") != {
            "Ref": "KafkaBootstrapServers"
        }:
            problems.append("score: bootstrap servers are not the parameter")
        for variant in strip_if(p.get("SourceAccessConfigurations")):
            if {"Type": "BASIC_AUTH", "URI": {"Ref": "KafkaSecretArn"}} not in variant:
                problems.append("score: self-managed Kafka without BASIC_AUTH to KafkaSecretArn")
    for m in msk:
        if m.get("Condition") not in conditions or m.get("Condition") == smk[0].get("Condition"):
            problems.append("score: the MSK mapping is not behind its own condition")
    # Alert latency: no mapping waits to fill a batch unless the deployer asks for it.
    window = t["Parameters"].get("KafkaBatchingWindowSeconds", {})
    if window.get("Default") != 0:
        problems.append("score: the Kafka batching window does not default to 0 s")
    for m in maps:
        if m["Properties"].get("MaximumBatchingWindowInSeconds") != {
            "Ref": "KafkaBatchingWindowSeconds"
        }:
            problems.append("score: a Kafka mapping's batching window is not the parameter")
    return problems


def problems_train_and_track(t: Template) -> list[str]:
    problems = []
    train_name, train = function_named(t, "fraud-train")
    track_name, _ = function_named(t, "fraud-track")
    props = train["Properties"]
    if props.get("FunctionUrlConfig", {}).get("AuthType") != "AWS_IAM":
        problems.append("train: Function URL is not AWS_IAM")
    _, score = function_named(t, "fraud-score")
    if score["Properties"].get("FunctionUrlConfig", {}).get("AuthType") != "AWS_IAM":
        problems.append("score: the decision API's Function URL is missing or not AWS_IAM")
    if effective(t, train, "Timeout") != 900 or effective(t, train, "MemorySize") != 3008:
        problems.append("train: want Timeout 900 and MemorySize 3008")
    if env_vars(t, train).get("TRACK_FUNCTION_NAME") != {"Ref": track_name}:
        problems.append("train: TRACK_FUNCTION_NAME is not the track function")
    invokers = {}
    for where, st in statements(t):
        if st.get("Effect") == "Allow" and "lambda:InvokeFunction" in as_list(st.get("Action", [])):
            invokers.setdefault(where.split("/")[0], []).append(st.get("Resource"))
    train_role = role_of(train)
    # The train function and the training job (same binary) record runs through track.
    want = {train_role: [{"Fn::GetAtt": [track_name, "Arn"]}]}
    if "TrainJobRole" in resources(t, "AWS::IAM::Role"):
        want["TrainJobRole"] = [{"Fn::GetAtt": [track_name, "Arn"]}]
    if invokers != want:
        problems.append(f"lambda:InvokeFunction grants {invokers}: want train (function, job) -> track only")
    return problems


# The training job (TrainingJob=batch): the resources it consists of.
TRAINING_JOB_RESOURCES = {
    "TrainJobLogGroup": "AWS::Logs::LogGroup",
    "TrainJobRole": "AWS::IAM::Role",
    "TrainJobExecutionRole": "AWS::IAM::Role",
    "TrainJobComputeEnvironment": "AWS::Batch::ComputeEnvironment",
    "TrainJobQueue": "AWS::Batch::JobQueue",
    "TrainJobDefinition": "AWS::Batch::JobDefinition",
}
TRAINING_JOB_OUTPUTS = {"TrainJobQueueArn": "TrainJobQueue", "TrainJobDefinitionArn": "TrainJobDefinition"}


def problems_training_job(t: Template) -> list[str]:
    """The optional training job: only behind TrainingJob=batch (default none), Fargate,
    the train binary in job mode with the train function's configuration, its own roles
    and log group, sizes from parameters."""
    problems = []
    res = resources(t)
    param = t.get("Parameters", {}).get("TrainingJob", {})
    if param.get("Default") != "none" or set(param.get("AllowedValues", [])) != {"none", "batch"}:
        problems.append("parameter TrainingJob: want none (default) | batch")
    condition = t.get("Conditions", {}).get("UseTrainingJob")
    terms = condition.get("Fn::And", []) if isinstance(condition, dict) else []
    if {"Fn::Equals": [{"Ref": "TrainingJob"}, "batch"]} not in terms:
        problems.append("condition UseTrainingJob does not require TrainingJob=batch")
    for name, rtype in TRAINING_JOB_RESOURCES.items():
        if res.get(name, {}).get("Type") != rtype:
            problems.append(f"{name}: missing or not {rtype}")
    for name, r in res.items():
        if (r.get("Type", "").startswith("AWS::Batch::") or name.startswith("TrainJob")) and r.get(
            "Condition"
        ) != "UseTrainingJob":
            problems.append(f"{name}: deployed without TrainingJob=batch (Condition UseTrainingJob)")
    for name, target in TRAINING_JOB_OUTPUTS.items():
        out = t.get("Outputs", {}).get(name, {})
        if out.get("Condition") != "UseTrainingJob" or out.get("Value") != {"Ref": target}:
            problems.append(f"output {name}: want Ref {target} under UseTrainingJob")
    env = res.get("TrainJobComputeEnvironment", {}).get("Properties", {})
    if env.get("Type") != "MANAGED" or env.get("ComputeResources", {}).get("Type") != "FARGATE":
        problems.append("TrainJobComputeEnvironment: not a managed FARGATE environment")
    queue = res.get("TrainJobQueue", {}).get("Properties", {})
    if [o.get("ComputeEnvironment") for o in queue.get("ComputeEnvironmentOrder", [])] != [
        {"Ref": "TrainJobComputeEnvironment"}
    ]:
        problems.append("TrainJobQueue: not on TrainJobComputeEnvironment")
    definition = res.get("TrainJobDefinition", {}).get("Properties", {})
    container = definition.get("ContainerProperties", {})
    if definition.get("PlatformCapabilities") != ["FARGATE"]:
        problems.append("TrainJobDefinition: not for FARGATE")
    if container.get("Command", [None])[0] != "job":
        problems.append("TrainJobDefinition: the container does not run `fraud-train job`")
    if container.get("JobRoleArn") != {"Fn::GetAtt": ["TrainJobRole", "Arn"]} or container.get(
        "ExecutionRoleArn"
    ) != {"Fn::GetAtt": ["TrainJobExecutionRole", "Arn"]}:
        problems.append("TrainJobDefinition: not running with TrainJobRole / TrainJobExecutionRole")
    sizes = {r.get("Type"): r.get("Value") for r in container.get("ResourceRequirements", [])}
    if sizes != {"VCPU": {"Ref": "TrainingJobVcpu"}, "MEMORY": {"Ref": "TrainingJobMemory"}}:
        problems.append(f"TrainJobDefinition: vCPU/memory {sizes} are not the parameters")
    # Same configuration as the train function (every variable it sets but RUST_LOG's source).
    job_env = {e.get("Name"): e.get("Value") for e in container.get("Environment", [])}
    _, train = function_named(t, "fraud-train")
    for var, value in env_vars(t, train).items():
        if job_env.get(var) != value:
            problems.append(f"TrainJobDefinition: {var} is {job_env.get(var)!r}, the function has {value!r}")
    logs = container.get("LogConfiguration", {}).get("Options", {})
    if logs.get("awslogs-group") != {"Ref": "TrainJobLogGroup"}:
        problems.append("TrainJobDefinition: logs do not go to TrainJobLogGroup")
    group = res.get("TrainJobLogGroup", {}).get("Properties", {})
    if group.get("RetentionInDays") != {"Ref": "LogRetentionInDays"}:
        problems.append("TrainJobLogGroup: retention is not the LogRetentionInDays parameter")
    for role in ("TrainJobRole", "TrainJobExecutionRole"):
        trust = res.get(role, {}).get("Properties", {}).get("AssumeRolePolicyDocument", {})
        principals = [s.get("Principal") for s in trust.get("Statement", [])]
        if principals != [{"Service": "ecs-tasks.amazonaws.com"}]:
            problems.append(f"{role}: assumed by {principals}, want ecs-tasks.amazonaws.com only")
    logs_grants = [
        s for s in role_statements(t, "TrainJobExecutionRole") if "logs:PutLogEvents" in as_list(s.get("Action"))
    ]
    if not logs_grants or any(s.get("Resource") != {"Fn::GetAtt": ["TrainJobLogGroup", "Arn"]} for s in logs_grants):
        problems.append("TrainJobExecutionRole: logs permission not limited to TrainJobLogGroup")
    return problems


def problems_logs_and_outputs(t: Template) -> list[str]:
    problems = []
    groups = resources(t, "AWS::Logs::LogGroup")
    for name, fn in functions(t).items():
        lg = fn["Properties"].get("LoggingConfig", {}).get("LogGroup")
        if not (isinstance(lg, dict) and lg.get("Ref") in groups):
            problems.append(f"{name}: LoggingConfig.LogGroup is not a template log group")
            continue
        if groups[lg["Ref"]]["Properties"].get("RetentionInDays") != {"Ref": "LogRetentionInDays"}:
            problems.append(f"{lg['Ref']}: retention is not the LogRetentionInDays parameter")
    outputs = t.get("Outputs", {})
    want = {
        "IngestFunctionArn", "ScoreFunctionArn", "TrainFunctionArn", "NotifyFunctionArn",
        "TrackFunctionArn", "ModelsBucketName", "DataBucketName", "ResultsBucketName",
        "AlertsQueueUrl", "TrainFunctionUrl", "ScoreFunctionUrl",
    }
    if missing := sorted(want - set(outputs)):
        problems.append(f"missing outputs {missing}")
    return problems


def problems_parameters(t: Template) -> list[str]:
    problems = []
    params = t.get("Parameters", {})
    used = json.dumps({k: v for k, v in t.items() if k != "Parameters"})
    for name, p in params.items():
        if not p.get("Description"):
            problems.append(f"parameter {name}: no Description")
        if f'"{name}"' not in used and "${" + name not in used:
            problems.append(f"parameter {name} is unused")
    return problems


RULES: list[Callable[[Template], list[str]]] = [
    problems_functions_match_crates,
    problems_function_runtime,
    problems_required_env,
    problems_iam_least_privilege,
    problems_roles_per_function,
    problems_secrets,
    problems_buckets,
    problems_event_sources,
    problems_train_and_track,
    problems_training_job,
    problems_logs_and_outputs,
    problems_parameters,
]


# --------------------------------------------------------------------------- tests


def test_template_is_sam(template: Template) -> None:
    assert template.get("Transform") == "AWS::Serverless-2016-10-31"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__.removeprefix("problems_"))
def test_rule_holds(template: Template, rule: Callable[[Template], list[str]]) -> None:
    assert rule(template) == []


def test_sam_transform_produces_the_expected_resources(template: Template, monkeypatch) -> None:
    """The real SAM translator accepts the template and generates what we reference."""
    translator = pytest.importorskip("samtranslator.translator.transform")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    t = copy.deepcopy(template)
    t["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"  # what `sam package` does

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    out = translator.transform(t, {}, NoManagedPolicies())
    types = {n: r["Type"] for n, r in out["Resources"].items()}
    assert types["IngestFunctionPoll"] == "AWS::Events::Rule"  # used by the DLQ policy
    assert types["TrainFunctionUrl"] == "AWS::Lambda::Url"  # used by the outputs
    assert types["ScoreFunctionUrl"] == "AWS::Lambda::Url"  # the decision API
    assert types["NotifyFunctionAlerts"] == "AWS::Lambda::EventSourceMapping"
    assert types["IngestFunctionEventInvokeConfig"] == "AWS::Lambda::EventInvokeConfig"
    assert sum(v == "AWS::Lambda::Function" for v in types.values()) == len(
        [p for p in FUNCTIONS_DIR.iterdir() if (p / "Cargo.toml").is_file()]
    )
    # The translator must not have generated roles or policies of its own.
    assert not [n for n, v in types.items() if v.startswith("AWS::IAM::") and n not in template["Resources"]]


# Mutations: each breaks the template in one way that a rule must catch.
def _fn(t: Template, binary: str) -> dict:
    return function_named(t, binary)[1]["Properties"]


def _role(t: Template, role: str) -> list:
    return t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def _sid(t: Template, role: str, sid: str) -> dict:
    return next(s for s in _role(t, role) if isinstance(s, dict) and s.get("Sid") == sid)


MUTATIONS: dict[str, Callable[[Template], None]] = {
    "drop_a_function": lambda t: t["Resources"].pop("TrackFunction"),
    "wrong_binary": lambda t: t["Resources"]["ScoreFunction"]["Metadata"]["BuildProperties"].update(
        Binary="fraud-scorer"
    ),
    "duplicate_function": lambda t: t["Resources"].update(
        IngestAgain=copy.deepcopy(t["Resources"]["IngestFunction"])
    ),
    "x86_runtime": lambda t: t["Globals"]["Function"].update(Architectures=["x86_64"]),
    "missing_required_env": lambda t: _fn(t, "fraud-score")["Environment"]["Variables"].pop(
        "FRAUD_RESULTS_BUCKET"
    ),
    "star_action": lambda t: _role(t, "ScoreRole").append(
        {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["ModelsBucket", "Arn"]}}
    ),
    "service_wildcard": lambda t: _sid(t, "TrainRole", "ReadTrainingData").update(Action="s3:*"),
    "prefix_wildcard": lambda t: _sid(t, "TrainRole", "ReadTrainingData").update(Action="s3:Get*"),
    "star_resource": lambda t: _sid(t, "NotifyRole", "ConsumeAlerts").update(Resource="*"),
    "wildcard_arn": lambda t: _sid(t, "IngestRole", "BackfillReadsTrainingData").update(
        Resource={"Fn::Sub": "arn:aws:s3:::*"}
    ),
    "managed_policy": lambda t: t["Resources"]["TrackRole"]["Properties"].update(
        ManagedPolicyArns=["arn:aws:iam::aws:policy/AmazonS3FullAccess"]
    ),
    "sam_policies": lambda t: _fn(t, "fraud-track").update(Policies=["AmazonS3FullAccess"]),
    "shared_role": lambda t: _fn(t, "fraud-track").update(Role={"Fn::GetAtt": ["TrainRole", "Arn"]}),
    "logs_everywhere": lambda t: _sid(t, "TrackRole", "Logs").update(
        Resource={"Fn::Sub": "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}
    ),
    "public_bucket": lambda t: t["Resources"]["DataBucket"]["Properties"][
        "PublicAccessBlockConfiguration"
    ].update(RestrictPublicBuckets=False),
    "unencrypted_bucket": lambda t: t["Resources"]["ResultsBucket"]["Properties"].pop(
        "BucketEncryption"
    ),
    "unversioned_models": lambda t: t["Resources"]["ModelsBucket"]["Properties"].pop(
        "VersioningConfiguration"
    ),
    "no_partial_batch": lambda t: _fn(t, "fraud-notify")["Events"]["Alerts"]["Properties"].pop(
        "FunctionResponseTypes"
    ),
    "redrive_5": lambda t: t["Resources"]["AlertsQueue"]["Properties"]["RedrivePolicy"].update(
        maxReceiveCount=5
    ),
    "open_function_url": lambda t: _fn(t, "fraud-train")["FunctionUrlConfig"].update(AuthType="NONE"),
    "open_decision_url": lambda t: _fn(t, "fraud-score")["FunctionUrlConfig"].update(AuthType="NONE"),
    "small_train": lambda t: _fn(t, "fraud-train").update(Timeout=300),
    "invoke_any_function": lambda t: _sid(t, "TrainRole", "RecordRunsThroughTrack").update(
        Resource={"Fn::Sub": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:*"}
    ),
    "secret_default": lambda t: t["Parameters"]["DatabaseSecretArn"].update(
        Default="arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
    ),
    "literal_db_url": lambda t: _fn(t, "fraud-track")["Environment"]["Variables"].update(
        DATABASE_URL="postgres://fraud:hunter2@db:5432/fraud"
    ),
    "literal_webhook_secret": lambda t: _fn(t, "fraud-notify")["Environment"]["Variables"].update(
        WEBHOOK_SECRET="hunter2"
    ),
    "get_any_secret": lambda t: _sid(t, "TrackRole", "DatabaseUrl").update(
        Resource={"Fn::Sub": "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*"}
    ),
    "msk_by_default": lambda t: t["Parameters"]["KafkaEventSource"].update(Default="MSK"),
    "no_kafka_auth": lambda t: t["Resources"]["ScoreSelfManagedKafkaEvent"]["Properties"].update(
        SourceAccessConfigurations=[]
    ),
    "kafka_waits_a_second": lambda t: t["Resources"]["ScoreMskEvent"]["Properties"].update(
        MaximumBatchingWindowInSeconds=1
    ),
    "fixed_schedule": lambda t: _fn(t, "fraud-ingest")["Events"]["Poll"]["Properties"].update(
        Schedule="rate(5 minutes)"
    ),
    "log_retention_literal": lambda t: t["Resources"]["ScoreLogGroup"]["Properties"].update(
        RetentionInDays=7
    ),
    "no_url_output": lambda t: t["Outputs"].pop("TrainFunctionUrl"),
    "training_job_by_default": lambda t: t["Parameters"]["TrainingJob"].update(Default="batch"),
    "unconditional_job_queue": lambda t: t["Resources"]["TrainJobQueue"].pop("Condition"),
    "job_on_ec2": lambda t: t["Resources"]["TrainJobComputeEnvironment"]["Properties"][
        "ComputeResources"
    ].update(Type="EC2"),
    "job_not_in_job_mode": lambda t: t["Resources"]["TrainJobDefinition"]["Properties"][
        "ContainerProperties"
    ].update(Command=["--request", "{}"]),
    "job_env_drifts": lambda t: t["Resources"]["TrainJobDefinition"]["Properties"]["ContainerProperties"][
        "Environment"
    ].pop(1),
    "job_fixed_memory": lambda t: t["Resources"]["TrainJobDefinition"]["Properties"]["ContainerProperties"][
        "ResourceRequirements"
    ][1].update(Value="8192"),
    "job_invokes_any_function": lambda t: _sid(t, "TrainJobRole", "RecordRunsThroughTrack").update(
        Resource={"Fn::Sub": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:*"}
    ),
    "job_pulls_any_image": lambda t: _sid(t, "TrainJobExecutionRole", "PullTrainImage").update(Resource="*"),
    "job_logs_anywhere": lambda t: _sid(t, "TrainJobExecutionRole", "Logs").update(
        Resource={"Fn::Sub": "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutation_is_caught(template: Template, mutation: str) -> None:
    broken = copy.deepcopy(template)
    try:
        MUTATIONS[mutation](broken)
    except (KeyError, IndexError, StopIteration) as e:
        pytest.fail(f"the template no longer has what mutation {mutation} breaks: {e!r}")
    found = []
    for rule in RULES:
        try:
            found += rule(broken)
        except (AssertionError, KeyError, IndexError, TypeError) as e:  # a rule choking counts
            found.append(f"{rule.__name__}: {e!r}")
    assert found, f"mutation {mutation} went unnoticed"
