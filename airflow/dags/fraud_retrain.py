"""fraud_retrain: weekly (and on demand) retraining through the train function, or
through the same binary as an AWS Batch job when the data is too large for one Lambda.

Trigger with conf, e.g.
    {"data_uris": ["s3://<data bucket>/train/2024-06.csv"], "force": false, "min_pr_auc": 0.5}
Without `data_uris`, the Variable `fraud_train_data_uris` (a JSON list) is used.
`runner` chooses where training runs: `lambda` (the train function, Invoke API) or
`batch` (`fraud-train job` on the job queue / job definition of the Variables
`fraud_train_job_queue` and `fraud_train_job_definition`, defaults `fraud-train`;
the stack's outputs TrainJobQueueArn / TrainJobDefinitionArn with TrainingJob=batch).
Without `runner`, the Variable `fraud_train_runner` decides (default `lambda`).
The job's response is read from the last line it printed (its CloudWatch log stream).
The run fails if training fails or the new model's test PR-AUC is below
`min_pr_auc`. Its metrics are pushed to XCom (task `evaluate`).
Train promotes the model itself only if it beats the current one (or `force`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException
from airflow.models.param import Param
from airflow.models import Variable
from airflow.providers.amazon.aws.operators.batch import BatchOperator
from airflow.utils.trigger_rule import TriggerRule

from fraud_common import aws_conn_id, invoke, parse_result, s3_uris

# train's Lambda timeout is 900 s; locally the first invoke also compiles it.
TRAIN_READ_TIMEOUT = 1800
# The Batch job's own limit is the template's TrainingJobTimeoutSeconds (4 h by default).
TRAIN_JOB_TIMEOUT = timedelta(hours=4, minutes=30)
RUNNERS = ("lambda", "batch")


@dag(
    dag_id="fraud_retrain",
    schedule="@weekly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={
        "data_uris": Param([], type="array", items={"type": "string"}, description="training CSVs, s3://bucket/key"),
        "force": Param(False, type="boolean", description="promote even if not better than the current model"),
        "min_pr_auc": Param(0.5, type="number", minimum=0, maximum=1, description="fail below this test PR-AUC"),
        "trees": Param(None, type=["null", "integer"], minimum=1, description="number of trees (function default 300)"),
        "seed": Param(None, type=["null", "integer"], minimum=0, description="training seed (function default 42)"),
        "runner": Param(None, type=["null", "string"], enum=[None, *RUNNERS],
                        description="lambda (the train function) or batch (the AWS Batch job); default: Variable fraud_train_runner, else lambda"),
    },
    tags=["fraud", "lambda", "batch", "training"],
    doc_md=__doc__,
)
def fraud_retrain():
    @task
    def build_request(params=None) -> str:
        uris = s3_uris(params.get("data_uris"), "fraud_train_data_uris", "data_uris")
        if not uris:
            raise AirflowException("no training data: pass conf data_uris or set Variable fraud_train_data_uris")
        request = {"data_uris": uris, "force": bool(params.get("force", False))}
        for key in ("trees", "seed"):
            if params.get(key) is not None:
                request[key] = int(params[key])
        print(f"train request: {request}")
        return json.dumps(request)

    @task.branch
    def choose_runner(params=None) -> str:
        runner = params.get("runner") or Variable.get("fraud_train_runner", default_var="lambda")
        if runner not in RUNNERS:
            raise AirflowException(f"runner must be one of {RUNNERS}, not {runner!r}")
        print(f"training runs on: {runner}")
        return {"lambda": "invoke_train", "batch": "submit_train_job"}[runner]

    request = build_request()
    runner = choose_runner()

    # A training run is expensive: no retry; retry by re-triggering.
    train_invoke = invoke("invoke_train", "train", request, TRAIN_READ_TIMEOUT, retries=0)

    # The same binary as a container job: `fraud-train job --request '<the request>'`.
    job = BatchOperator(
        task_id="submit_train_job",
        job_name="fraud-train-{{ ts_nodash }}",
        job_queue="{{ var.value.get('fraud_train_job_queue', 'fraud-train') }}",
        job_definition="{{ var.value.get('fraud_train_job_definition', 'fraud-train') }}",
        container_overrides={"command": ["job", "--request", request]},
        tags={"dag_run": "{{ run_id }}"},
        aws_conn_id=aws_conn_id(),
        wait_for_completion=True,
        execution_timeout=TRAIN_JOB_TIMEOUT,
        retries=0,
    )

    @task
    def job_response(job_id: str) -> str:
        """The job's TrainResponse: the last JSON line it printed (stdout and stderr both
        go to its CloudWatch log stream; the summary and logs are plain text)."""
        from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook
        from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook

        streams = BatchClientHook(aws_conn_id=aws_conn_id()).get_job_all_awslogs_info(job_id)
        if not streams:
            raise AirflowException(f"Batch job {job_id} has no CloudWatch log stream to read its response from")
        found = None
        for stream in streams:
            logs = AwsLogsHook(aws_conn_id=aws_conn_id(), region_name=stream["awslogs_region"])
            for event in logs.get_log_events(stream["awslogs_group"], stream["awslogs_stream_name"]):
                line = event["message"].strip()
                print(line)
                if line.startswith("{"):
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(value, dict) and "model_version" in value:
                        found = line
        if found is None:
            raise AirflowException(f"Batch job {job_id} succeeded but printed no training response")
        return found

    @task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def evaluate(invoked: str | None, job: str | None, params=None, ti=None) -> dict:
        payload = invoked if invoked is not None else job
        if payload is None:
            raise AirflowException("neither the train function nor the training job answered")
        result = parse_result(payload, "train")
        try:
            pr_auc = float(result["test_pr_auc"])
        except (KeyError, TypeError, ValueError) as e:
            raise AirflowException(f"train answered without test_pr_auc: {result}") from e
        metrics = {
            key: result.get(key)
            for key in (
                "model_version", "learner", "rows", "frauds", "test_pr_auc", "test_roc_auc",
                "test_f1", "threshold", "promoted", "promotion_reason", "previous_version",
                "previous_test_pr_auc", "artifact_uri", "tracked", "train_seconds",
            )
        }
        for key in ("model_version", "test_pr_auc", "test_roc_auc", "test_f1", "promoted"):
            ti.xcom_push(key=key, value=metrics[key])
        print(
            "model %s (%s) on %s rows: test PR-AUC %.4f, ROC-AUC %.4f, F1 %.4f; promoted: %s (%s); tracked: %s"
            % (metrics["model_version"], metrics["learner"], metrics["rows"], pr_auc,
               metrics["test_roc_auc"] or 0, metrics["test_f1"] or 0, metrics["promoted"],
               metrics["promotion_reason"], metrics["tracked"])
        )
        threshold = float(params.get("min_pr_auc", 0.5))
        if pr_auc < threshold:
            raise AirflowException(f"test PR-AUC {pr_auc:.4f} is below min_pr_auc {threshold}")
        return metrics

    response = job_response(job.output)
    request >> runner >> [train_invoke, job]
    evaluate(train_invoke.output, response)


fraud_retrain()
