"""fraud_ingest_score: every 5 minutes, poll the payments API through the ingest
function N times (params.polls, default 3) and check each answer.

Ingest publishes to Kafka; the score function is fed by its Kafka event source
mapping (AWS) or by `fraud-bridge kafka` (local stack), not by this DAG.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException
from airflow.models.param import Param
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator

from fraud_common import aws_conn_id, function_name, invoke_config, parse_result


@dag(
    dag_id="fraud_ingest_score",
    schedule=timedelta(minutes=5),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    params={
        "polls": Param(3, type="integer", minimum=1, maximum=100, description="ingest invocations per run"),
    },
    tags=["fraud", "lambda"],
    doc_md=__doc__,
)
def fraud_ingest_score():
    @task
    def poll_requests(params=None) -> list[str]:
        return [json.dumps({"mode": "poll", "source": "airflow"})] * int(params["polls"])

    invoke = LambdaInvokeFunctionOperator.partial(
        task_id="invoke_ingest",
        function_name=function_name("ingest"),
        invocation_type="RequestResponse",
        aws_conn_id=aws_conn_id(),
        botocore_config=invoke_config(read_timeout=120),
        max_active_tis_per_dagrun=1,  # one poll at a time, like the schedule
        execution_timeout=timedelta(minutes=3),
    ).expand(payload=poll_requests())

    @task
    def check_ingest(results) -> dict:
        totals = {"invocations": 0, "fetched": 0, "published": 0, "duplicates": 0, "rejected": 0}
        for payload in results:
            summary = parse_result(payload, "ingest")
            published = summary.get("published")
            if not isinstance(published, int) or published < 0:
                raise AirflowException(f"ingest answered without a valid `published`: {summary}")
            totals["invocations"] += 1
            for key in ("fetched", "published", "duplicates", "rejected"):
                totals[key] += int(summary.get(key, 0))
        print(f"ingest: {totals}")
        return totals

    check_ingest(invoke.output)


fraud_ingest_score()
