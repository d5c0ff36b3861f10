"""Shared pieces of the fraud-detection DAGs (not a DAG itself).

Where the functions run is decided by the Airflow connection only
(`aws_conn_id`, default `aws_default`, overridable with the Variable
`fraud_aws_conn_id`): real AWS, LocalStack (endpoint_url http://127.0.0.1:4566)
or any Lambda Invoke API such as `cargo lambda watch` (its invoke address).
Function names come from Variables, defaulting to the SAM stack's names.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowException
from airflow.models import Variable

DEFAULT_FUNCTIONS = {
    "ingest": "fraud-ingest",
    "score": "fraud-score",
    "train": "fraud-train",
    "notify": "fraud-notify",
    "track": "fraud-track",
}


def aws_conn_id() -> str:
    """The AWS connection the DAGs use (Variable `fraud_aws_conn_id`, else env
    FRAUD_AWS_CONN_ID, else `aws_default`). Read when the DAG file is parsed."""
    default = os.environ.get("FRAUD_AWS_CONN_ID", "aws_default")
    try:
        return Variable.get("fraud_aws_conn_id", default_var=default)
    except Exception:  # no metadata database while parsing (e.g. unit tests)
        return default


def function_name(short: str) -> str:
    """A templated function name: Variable `fraud_<short>_function`, else the default."""
    return "{{ var.value.get('fraud_%s_function', '%s') }}" % (short, DEFAULT_FUNCTIONS[short])


def invoke_config(read_timeout: int) -> dict[str, Any]:
    """botocore settings for a synchronous invoke: wait as long as the function may
    run, and never retry by itself (a retried invoke would run the function twice;
    Airflow's task retries decide that)."""
    return {
        "connect_timeout": 10,
        "read_timeout": read_timeout,
        "retries": {"total_max_attempts": 1, "mode": "standard"},
    }


def parse_result(payload: Any, function: str) -> dict[str, Any]:
    """The operator returns the function's response payload as a string (and raises
    on a FunctionError already); this parses it and fails on error documents too."""
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode()
    try:
        result = json.loads(payload) if isinstance(payload, str) else payload
    except json.JSONDecodeError as e:
        raise AirflowException(f"{function} answered something that is not JSON: {payload[:500]!r}") from e
    if not isinstance(result, dict):
        raise AirflowException(f"{function} answered {type(result).__name__}, expected an object: {result!r:.500}")
    if "errorType" in result or "errorMessage" in result:
        raise AirflowException(
            f"{function} failed: {result.get('errorType')}: {result.get('errorMessage')}"
        )
    return result


def invoke(task_id: str, function: str, payload: Any, read_timeout: int, **kwargs: Any):
    """A synchronous invoke of one of the functions (`function` as in DEFAULT_FUNCTIONS)
    with `payload`: botocore waits `read_timeout` seconds (`invoke_config`), the task a
    minute more. `kwargs` go to the operator (e.g. `retries`)."""
    from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator

    return LambdaInvokeFunctionOperator(
        task_id=task_id,
        function_name=function_name(function),
        invocation_type="RequestResponse",
        payload=payload,
        aws_conn_id=aws_conn_id(),
        botocore_config=invoke_config(read_timeout=read_timeout),
        execution_timeout=timedelta(seconds=read_timeout + 60),
        **kwargs,
    )


def s3_uris(value: Any, variable: str, field: str) -> list[str]:
    """The URIs of the run's conf `field` (`value`: a list, or one URI), else the JSON list
    in Variable `variable` (possibly empty); each must be an s3:// URI."""
    uris = value or []
    if isinstance(uris, str):
        uris = [uris]
    if not uris:
        uris = json.loads(Variable.get(variable, default_var="[]"))
    bad = [u for u in uris if not (isinstance(u, str) and u.startswith("s3://"))]
    if bad:
        raise AirflowException(f"{field} must be s3:// URIs: {bad}")
    return uris
