"""The three DAGs, run for real (`dag.test()`) against a fake Lambda Invoke API on
127.0.0.1, so what the operators send and how the DAGs judge the answers is checked
offline and quickly. Run through `scripts/airflow.sh dagbag-test` (migrated DB, env).
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pendulum
import pytest
from airflow.models import DagBag, XCom
from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook
from airflow.providers.amazon.aws.operators.batch import BatchOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.utils.state import DagRunState

try:  # maps ab_user, so dag.test() can replace an earlier run of the same date
    import airflow.providers.fab.auth_manager.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass

DAGS = Path(__file__).resolve().parents[2] / "airflow" / "dags"
DAG_IDS = {"fraud_ingest_score", "fraud_retrain", "fraud_notification_summary", "fraud_monitor"}


class FakeLambda:
    """POST /2015-03-31/functions/<name>/invocations -> a canned answer per function (or a
    callable from the request to the answer).
    Also the few AWS Batch and CloudWatch Logs calls a Batch job's task makes
    (SubmitJob, DescribeJobs: one job in `job_status`; GetLogEvents: `job_log`)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[dict | list | str, bool] | Callable] = {}
        self.calls: list[tuple[str, object, str]] = []
        self.job_status = "SUCCEEDED"
        self.job_log: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, value: dict) -> None:
                data = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def other_services(self, body: str) -> bool:
                target = self.headers.get("x-amz-target", "")
                if self.path == "/v1/submitjob":
                    fake.calls.append(("batch:SubmitJob", json.loads(body), ""))
                    self.answer({"jobId": "job-1", "jobName": json.loads(body)["jobName"],
                                 "jobArn": "arn:aws:batch:us-east-1:000000000000:job/job-1"})
                elif self.path == "/v1/describejobs":
                    self.answer({"jobs": [{
                        "jobId": "job-1", "jobName": "fraud-train", "status": fake.job_status,
                        "jobQueue": "arn:aws:batch:us-east-1:000000000000:job-queue/fraud-train",
                        "jobDefinition": "arn:aws:batch:us-east-1:000000000000:job-definition/fraud-train:1",
                        "container": {
                            "logStreamName": "train/default/job-1",
                            "logConfiguration": {"logDriver": "awslogs", "options": {
                                "awslogs-group": "/aws/batch/fraud-train-job", "awslogs-region": "us-east-1"}},
                        },
                    }]})
                elif target.endswith(".GetLogEvents"):
                    request = json.loads(body)
                    fake.calls.append(("logs:GetLogEvents", request["logStreamName"], ""))
                    self.answer({
                        "events": [{"timestamp": i, "message": m, "ingestionTime": i} for i, m in enumerate(fake.job_log)],
                        "nextForwardToken": "f/1", "nextBackwardToken": "b/1",
                    })
                else:
                    return False
                return True

            def do_POST(self) -> None:  # noqa: N802
                if not self.path.startswith("/2015-03-31/"):
                    body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                    if self.other_services(body):
                        return
                parts = self.path.split("/")
                name = parts[3] if len(parts) > 4 and parts[4].startswith("invocations") else "?"
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                fake.calls.append((name, json.loads(body) if body else None, self.headers.get("x-amz-invocation-type", "")))
                entry = fake.answers.get(name, ({"errorType": "ResourceNotFound", "errorMessage": name}, True))
                if callable(entry):  # an answer per request (one function, several actions)
                    entry = entry(json.loads(body) if body else None)
                answer, error = entry
                data = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if error:
                    self.send_header("x-amz-function-error", "Unhandled")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # the OS picks a free port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS), include_examples=False)


@pytest.fixture
def fake(monkeypatch):
    f = FakeLambda()
    conn = {"conn_type": "aws", "login": "test", "password": "test",
            "extra": {"region_name": "us-east-1", "endpoint_url": f.endpoint}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield f
    f.close()


_clock = iter(range(1, 10_000))


def run(dagbag: DagBag, dag_id: str, conf: dict | None = None):
    # A fresh parse per run: in-process runs resolve the conf into the DAG's shared
    # Param objects, so a second dag.test() on the same object would see the first conf.
    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"), include_examples=False).get_dag(dag_id)
    for t in dag.tasks:  # no retry waits in tests
        t.retries = 0
    # a distinct logical date per run, so runs never collide across tests
    when = pendulum.datetime(2025, 1, 1, tz="UTC") + timedelta(minutes=next(_clock)) + timedelta(
        seconds=pendulum.now().int_timestamp % 86_400
    )
    return dag.test(execution_date=when, run_conf=conf)


def xcom(dr, task_id: str, key: str = "return_value"):
    return XCom.get_one(run_id=dr.run_id, dag_id=dr.dag_id, task_id=task_id, key=key)


# --------------------------------------------------------------------------- structure


def test_dagbag_imports_every_dag(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


def test_schedules_and_catchup(dagbag: DagBag) -> None:
    assert dagbag.get_dag("fraud_ingest_score").schedule_interval == timedelta(minutes=5)
    assert dagbag.get_dag("fraud_retrain").schedule_interval == "@weekly"
    assert dagbag.get_dag("fraud_notification_summary").schedule_interval == "@daily"
    assert dagbag.get_dag("fraud_monitor").schedule_interval == "@daily"
    for dag_id in DAG_IDS:
        assert dagbag.get_dag(dag_id).catchup is False


def test_invokes_are_synchronous_through_the_configured_connection(dagbag: DagBag) -> None:
    for dag_id in DAG_IDS:
        dag = dagbag.get_dag(dag_id)
        invokes = [t for t in dag.tasks if getattr(t, "operator_class", type(t)) is LambdaInvokeFunctionOperator
                   or isinstance(t, LambdaInvokeFunctionOperator)]
        assert invokes, dag_id
        for t in invokes:
            kwargs = getattr(t, "partial_kwargs", None) or vars(t)
            assert kwargs.get("invocation_type") == "RequestResponse", dag_id
            assert kwargs.get("aws_conn_id") == "aws_default", dag_id
            assert kwargs["botocore_config"]["retries"]["total_max_attempts"] == 1, dag_id


# --------------------------------------------------------------------------- fraud_retrain

TRAINED = {
    "model_version": "20240601T000000Z-abc", "artifact_uri": "s3://fraud-models/models/x/model.json",
    "learner": "cart", "rows": 1000, "frauds": 10, "rejected": 0, "test_pr_auc": 0.81,
    "test_roc_auc": 0.97, "test_f1": 0.7, "threshold": 0.5, "promoted": True,
    "promotion_reason": "forced", "previous_version": None, "previous_test_pr_auc": None,
    "run_uri": "s3://fraud-models/models/x/run.json", "tracked": True, "train_seconds": 1.5,
}


def test_retrain_invokes_train_and_pushes_metrics(dagbag, fake, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_FRAUD_TRAIN_FUNCTION", "custom-train")  # name from a Variable
    fake.answers["custom-train"] = (TRAINED, False)
    dr = run(dagbag, "fraud_retrain", {"data_uris": ["s3://fraud-data/train/a.csv"], "force": True, "trees": 50})
    assert dr.state == DagRunState.SUCCESS
    assert fake.calls == [
        ("custom-train", {"data_uris": ["s3://fraud-data/train/a.csv"], "force": True, "trees": 50}, "RequestResponse")
    ]
    metrics = xcom(dr, "evaluate")
    assert metrics["test_pr_auc"] == 0.81 and metrics["model_version"] == TRAINED["model_version"]
    assert xcom(dr, "evaluate", "test_pr_auc") == 0.81
    assert xcom(dr, "evaluate", "promoted") is True


def test_retrain_fails_below_min_pr_auc(dagbag, fake) -> None:
    fake.answers["fraud-train"] = ({**TRAINED, "test_pr_auc": 0.42}, False)
    dr = run(dagbag, "fraud_retrain", {"data_uris": ["s3://fraud-data/train/a.csv"]})
    assert dr.state == DagRunState.FAILED
    assert fake.calls[0][1] == {"data_uris": ["s3://fraud-data/train/a.csv"], "force": False}
    assert run(dagbag, "fraud_retrain", {"data_uris": ["s3://d/a.csv"], "min_pr_auc": 0.4}).state == DagRunState.SUCCESS


def test_retrain_fails_when_the_function_fails(dagbag, fake) -> None:
    fake.answers["fraud-train"] = ({"errorType": "Data", "errorMessage": "object does not exist"}, True)
    assert run(dagbag, "fraud_retrain", {"data_uris": ["s3://fraud-data/train/a.csv"]}).state == DagRunState.FAILED
    # an error document without the FunctionError header is caught by the parser too
    fake.answers["fraud-train"] = ({"errorType": "Data", "errorMessage": "x"}, False)
    assert run(dagbag, "fraud_retrain", {"data_uris": ["s3://fraud-data/train/a.csv"]}).state == DagRunState.FAILED


def test_retrain_needs_training_data(dagbag, fake) -> None:
    fake.answers["fraud-train"] = (TRAINED, False)
    assert run(dagbag, "fraud_retrain", {"data_uris": []}).state == DagRunState.FAILED
    assert run(dagbag, "fraud_retrain", {"data_uris": ["/local/file.csv"]}).state == DagRunState.FAILED
    assert fake.calls == []


def test_retrain_has_a_lambda_and_a_batch_runner(dagbag) -> None:
    dag = dagbag.get_dag("fraud_retrain")
    assert dag.params["runner"] is None  # the Variable fraud_train_runner decides, else lambda
    assert dag.get_task("choose_runner").downstream_task_ids == {"invoke_train", "submit_train_job"}
    invoke = dag.get_task("invoke_train")
    assert isinstance(invoke, LambdaInvokeFunctionOperator)
    assert invoke.function_name == "{{ var.value.get('fraud_train_function', 'fraud-train') }}"
    job = dag.get_task("submit_train_job")
    assert isinstance(job, BatchOperator)
    assert job.job_queue == "{{ var.value.get('fraud_train_job_queue', 'fraud-train') }}"
    assert job.job_definition == "{{ var.value.get('fraud_train_job_definition', 'fraud-train') }}"
    assert job.container_overrides["command"][:2] == ["job", "--request"]  # fraud-train job mode
    assert job.wait_for_completion and job.retries == 0 and job.aws_conn_id == "aws_default"
    assert dag.get_task("evaluate").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("evaluate").upstream_task_ids == {"invoke_train", "job_response"}


@pytest.fixture
def no_batch_waits(monkeypatch):
    # The hook sleeps 1-10 s before each status poll: the fake job is already done.
    monkeypatch.setattr(BatchClientHook, "delay", staticmethod(lambda delay=None: None))


def test_retrain_as_a_batch_job_submits_the_request_and_reads_the_response(
    dagbag, fake, monkeypatch, no_batch_waits
) -> None:
    queue = "arn:aws:batch:us-east-1:000000000000:job-queue/fraud-train"
    monkeypatch.setenv("AIRFLOW_VAR_FRAUD_TRAIN_JOB_QUEUE", queue)
    fake.job_log = [
        "2024-06-01T00:00:00Z  INFO training data loaded rows=1000 rejected=0",
        json.dumps(TRAINED),
        "model 20240601T000000Z-abc (cart) trained on 1000 rows (10 frauds, 0 rejected) in 1.5 s",
    ]
    dr = run(dagbag, "fraud_retrain", {"data_uris": ["s3://fraud-data/train/big.csv"], "runner": "batch", "seed": 7})
    assert dr.state == DagRunState.SUCCESS
    submits = [c[1] for c in fake.calls if c[0] == "batch:SubmitJob"]
    assert len(submits) == 1 and not [c for c in fake.calls if not c[0].startswith(("batch:", "logs:"))]
    submit = submits[0]
    assert (submit["jobQueue"], submit["jobDefinition"]) == (queue, "fraud-train")
    command = submit["containerOverrides"]["command"]
    assert command[:2] == ["job", "--request"]
    assert json.loads(command[2]) == {"data_uris": ["s3://fraud-data/train/big.csv"], "force": False, "seed": 7}
    assert xcom(dr, "evaluate")["model_version"] == TRAINED["model_version"]
    assert xcom(dr, "evaluate", "test_pr_auc") == 0.81
    assert dr.get_task_instance("invoke_train").state == "skipped"


def test_retrain_runner_defaults_to_the_variable(dagbag, fake, monkeypatch, no_batch_waits) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_FRAUD_TRAIN_RUNNER", "batch")
    fake.job_log = [json.dumps(TRAINED)]
    fake.answers["fraud-train"] = (TRAINED, False)
    assert run(dagbag, "fraud_retrain", {"data_uris": ["s3://d/a.csv"]}).state == DagRunState.SUCCESS
    assert [c[0] for c in fake.calls if c[0] in ("batch:SubmitJob", "fraud-train")] == ["batch:SubmitJob"]
    # conf wins over the Variable
    fake.calls.clear()
    assert run(dagbag, "fraud_retrain", {"data_uris": ["s3://d/a.csv"], "runner": "lambda"}).state == DagRunState.SUCCESS
    assert [c[0] for c in fake.calls] == ["fraud-train"]


def test_retrain_fails_when_the_batch_job_fails_or_prints_no_response(
    dagbag, fake, no_batch_waits
) -> None:
    fake.job_log = [json.dumps(TRAINED)]
    fake.job_status = "FAILED"
    dr = run(dagbag, "fraud_retrain", {"data_uris": ["s3://d/a.csv"], "runner": "batch"})
    assert dr.state == DagRunState.FAILED
    assert dr.get_task_instance("submit_train_job").state == "failed"
    fake.job_status = "SUCCEEDED"
    fake.job_log = ["fraud-train job: s3://d/a.csv: object does not exist"]
    dr = run(dagbag, "fraud_retrain", {"data_uris": ["s3://d/a.csv"], "runner": "batch"})
    assert dr.state == DagRunState.FAILED
    assert dr.get_task_instance("job_response").state == "failed"


# --------------------------------------------------------------------------- fraud_ingest_score


def test_ingest_polls_n_times_and_sums(dagbag, fake) -> None:
    page = {"source": "http://api/current-transactions", "fetched": 7, "published": 5, "duplicates": 2, "rejected": 0}
    fake.answers["fraud-ingest"] = (page, False)
    dr = run(dagbag, "fraud_ingest_score", {"polls": 2})
    assert dr.state == DagRunState.SUCCESS
    assert [(c[0], c[1]["mode"]) for c in fake.calls] == [("fraud-ingest", "poll")] * 2
    assert xcom(dr, "check_ingest") == {"invocations": 2, "fetched": 14, "published": 10, "duplicates": 4, "rejected": 0}


def test_ingest_fails_on_error_or_bad_answer(dagbag, fake) -> None:
    fake.answers["fraud-ingest"] = ({"errorType": "Api", "errorMessage": "payments API down"}, True)
    assert run(dagbag, "fraud_ingest_score", {"polls": 1}).state == DagRunState.FAILED
    fake.answers["fraud-ingest"] = ({"published": -1}, False)
    assert run(dagbag, "fraud_ingest_score", {"polls": 1}).state == DagRunState.FAILED
    fake.answers["fraud-ingest"] = ("not json", False)
    assert run(dagbag, "fraud_ingest_score", {"polls": 1}).state == DagRunState.FAILED


# --------------------------------------------------------------------------- fraud_notification_summary


def test_summary_lists_recent_runs(dagbag, fake) -> None:
    runs = [
        {"model_version": "v2", "created_at": "2024-06-02T00:00:00Z", "learner": "cart", "train_rows": 900,
         "pr_auc": 0.7, "f1": 0.6, "promoted": False},
        {"model_version": "v1", "created_at": "2024-06-01T00:00:00Z", "learner": "cart", "train_rows": 800,
         "pr_auc": 0.8, "f1": 0.65, "promoted": True},
    ]
    fake.answers["fraud-track"] = ({"runs": runs}, False)
    dr = run(dagbag, "fraud_notification_summary")
    assert dr.state == DagRunState.SUCCESS
    assert fake.calls == [("fraud-track", {"action": "list", "limit": 20}, "RequestResponse")]
    summary = xcom(dr, "summarize")
    assert summary["runs"] == 2 and summary["latest_version"] == "v2"
    assert summary["best_version"] == "v1" and summary["last_promoted_version"] == "v1"


def test_summary_fails_on_error(dagbag, fake) -> None:
    fake.answers["fraud-track"] = ({"errorType": "DatabaseError", "errorMessage": "down"}, True)
    assert run(dagbag, "fraud_notification_summary").state == DagRunState.FAILED


# --------------------------------------------------------------------------- fraud_monitor


def monitored(alert: bool) -> dict:
    findings = [{"check": "feature_psi", "feature": "amt", "importance_rank": 1, "psi": 1.9, "threshold": 0.25}]
    return {
        "alert": alert,
        "summary": ["v1: feature `amt` (importance #1) PSI 1.900 > 0.25"] if alert else [],
        "windows": [{
            "quality": {"model_version": "v1", "volume": 9000, "alert_rate": 0.01, "pr_auc": 0.7},
            "monitor": {"drift": {"score_psi": 0.05}, "report_uri": "s3://m/monitor/v1/x/index.html",
                        "verdict": {"alert": alert, "findings": findings if alert else [], "not_judged": []}},
            "test_pr_auc": 0.8,
        }],
    }


def test_monitor_alert_triggers_training(dagbag, fake) -> None:
    fake.answers["fraud-track"] = (monitored(True), False)
    fake.answers["fraud-train"] = (TRAINED, False)
    dr = run(dagbag, "fraud_monitor", {"hours": 6, "payments_uris": ["s3://d/payments/a.csv"],
                                       "data_uris": ["s3://d/train/a.csv"]})
    assert dr.state == DagRunState.SUCCESS
    assert fake.calls == [
        ("fraud-track", {"action": "monitor", "hours": 6, "payments_uris": ["s3://d/payments/a.csv"]}, "RequestResponse"),
        ("fraud-train", {"data_uris": ["s3://d/train/a.csv"], "force": False}, "RequestResponse"),
    ]
    assert xcom(dr, "needs_retraining", "windows")[0]["score_psi"] == 0.05
    assert xcom(dr, "check_retrained")["model_version"] == TRAINED["model_version"]


def test_monitor_without_alert_does_not_train(dagbag, fake) -> None:
    fake.answers["fraud-track"] = (monitored(False), False)
    dr = run(dagbag, "fraud_monitor", {"data_uris": ["s3://d/train/a.csv"]})
    assert dr.state == DagRunState.SUCCESS
    assert [c[0] for c in fake.calls] == ["fraud-track"]
    assert fake.calls[0][1] == {"action": "monitor", "hours": 24}
    assert dr.get_task_instance("invoke_train").state == "skipped"


def test_monitor_takes_an_explicit_window_instead_of_the_last_hours(dagbag, fake) -> None:
    fake.answers["fraud-track"] = (monitored(False), False)
    dr = run(dagbag, "fraud_monitor", {"model_version": "v1", "since": "2026-12-06T10:00:00Z",
                                       "until": "2026-12-06T11:00:00Z"})
    assert dr.state == DagRunState.SUCCESS
    assert fake.calls[0][1] == {"action": "monitor", "since": "2026-12-06T10:00:00Z",
                                "until": "2026-12-06T11:00:00Z", "model_version": "v1"}


def test_monitor_fails_on_error_or_an_answer_without_a_verdict(dagbag, fake) -> None:
    fake.answers["fraud-track"] = ({"errorType": "SourceError", "errorMessage": "no artifact"}, True)
    assert run(dagbag, "fraud_monitor").state == DagRunState.FAILED
    fake.answers["fraud-track"] = ({"runs": []}, False)
    assert run(dagbag, "fraud_monitor").state == DagRunState.FAILED
    assert not [c for c in fake.calls if c[0] == "fraud-train"]


EXPORTED = {
    "uri": "s3://d/training/scored-20261206T000000Z.csv", "files": 2, "payments": 9000, "duplicates": 3,
    "rejected_rows": 0, "labelled_later": 40, "labelled_carried": 8900, "labelled_in_file": 0,
    "unlabelled_left_out": 60, "frauds": 52,
    "summary": "8940 labelled payments (52 fraud) written to s3://d/training/scored-20261206T000000Z.csv: ...",
}


def track_answers(alert: bool, exported=(EXPORTED, False)) -> Callable:
    """The track function's answer by action: the monitor's verdict, the export's counts."""
    return lambda request: (monitored(alert), False) if request["action"] == "monitor" else exported


def test_monitor_alert_retrains_on_the_scored_archive_joined_with_labels_plus_the_base_data(dagbag, fake) -> None:
    fake.answers["fraud-track"] = track_answers(True)
    fake.answers["fraud-train"] = (TRAINED, False)
    archive = ["s3://r/payments/dt=2026-12-05/", "s3://r/payments/dt=2026-12-06/"]
    dr = run(dagbag, "fraud_monitor", {"scored_payments_uris": archive, "data_uris": ["s3://d/train/a.csv"]})
    assert dr.state == DagRunState.SUCCESS
    assert fake.calls == [
        # the monitor's payments default to the same archive
        ("fraud-track", {"action": "monitor", "hours": 24, "payments_uris": archive}, "RequestResponse"),
        ("fraud-track", {"action": "training_data", "payments_uris": archive}, "RequestResponse"),
        ("fraud-train", {"data_uris": ["s3://d/train/a.csv", EXPORTED["uri"]], "force": False}, "RequestResponse"),
    ]
    assert xcom(dr, "build_train_request", "exported")["labelled_later"] == 40
    assert dr.get_task_instance("no_scored_archive").state == "skipped"
    assert xcom(dr, "check_retrained")["model_version"] == TRAINED["model_version"]


def test_monitor_alert_without_an_archive_skips_the_export_and_trains_on_data_uris(dagbag, fake) -> None:
    fake.answers["fraud-track"] = track_answers(True)
    fake.answers["fraud-train"] = (TRAINED, False)
    dr = run(dagbag, "fraud_monitor", {"data_uris": ["s3://d/train/a.csv"]})
    assert dr.state == DagRunState.SUCCESS
    assert [c[1].get("action") for c in fake.calls] == ["monitor", None]
    assert fake.calls[1][1] == {"data_uris": ["s3://d/train/a.csv"], "force": False}
    assert dr.get_task_instance("invoke_training_data").state == "skipped"
    assert dr.get_task_instance("no_scored_archive").state == "success"


def test_the_scored_archive_variable_feeds_the_monitor_and_the_retrain(dagbag, fake, monkeypatch) -> None:
    archive = ["s3://r/payments/dt=2026-12-06/"]
    monkeypatch.setenv("AIRFLOW_VAR_FRAUD_SCORED_PAYMENTS_URIS", json.dumps(archive))
    monkeypatch.delenv("AIRFLOW_VAR_FRAUD_TRAIN_DATA_URIS", raising=False)
    fake.answers["fraud-track"] = track_answers(True)
    fake.answers["fraud-train"] = (TRAINED, False)
    dr = run(dagbag, "fraud_monitor")
    assert dr.state == DagRunState.SUCCESS
    assert fake.calls[0][1]["payments_uris"] == archive
    assert fake.calls[1][1] == {"action": "training_data", "payments_uris": archive}
    # no base data configured: the retrain learns from what was scored alone
    assert fake.calls[2][1] == {"data_uris": [EXPORTED["uri"]], "force": False}


def test_a_failed_export_fails_the_run_and_nothing_is_trained(dagbag, fake) -> None:
    fake.answers["fraud-track"] = track_answers(
        True, ({"errorType": "TrainingDataError", "errorMessage": "no objects under the prefix"}, True))
    fake.answers["fraud-train"] = (TRAINED, False)
    dr = run(dagbag, "fraud_monitor", {"scored_payments_uris": ["s3://r/payments/dt=2030-01-01/"],
                                       "data_uris": ["s3://d/train/a.csv"]})
    assert dr.state == DagRunState.FAILED
    assert not [c for c in fake.calls if c[0] == "fraud-train"]


def test_no_alert_neither_exports_nor_trains(dagbag, fake) -> None:
    fake.answers["fraud-track"] = track_answers(False)
    dr = run(dagbag, "fraud_monitor", {"scored_payments_uris": ["s3://r/payments/dt=2026-12-06/"]})
    assert dr.state == DagRunState.SUCCESS
    assert [c[1]["action"] for c in fake.calls] == ["monitor"]
    assert dr.get_task_instance("invoke_training_data").state == "skipped"
