"""fraud_monitor: daily model monitoring, and retraining when it alerts.

Invokes the track function's monitor ({"action": "monitor"}: per model version over the
last `hours` of payments, volume, alert and block rates, PSI of the score and of every
feature against the training distribution in the artifact, live PR-AUC / precision /
recall / F1 / cost where labels exist; see the README, "Model monitor"). When any
threshold is crossed (score PSI > 0.25, a top feature's PSI > 0.25, live PR-AUC more
than 0.10 below the test PR-AUC, by default) the monitor answers "alert": true and this
DAG retrains on what was scored: it invokes track's {"action": "training_data"} over the
score function's payments archive (the archived payments joined with their labels: the
later label, else the one the payment carried; unlabelled ones left out), then the train
function on the base training data plus that labelled CSV, then checks the new model like
fraud_retrain does.

Conf (all optional), e.g.
    {"hours": 24, (or "since"/"until": RFC 3339 times for an explicit window)
     "scored_payments_uris": ["s3://<results bucket>/payments/dt=2026-12-05/",
                              "s3://<results bucket>/payments/dt=2026-12-06/"],
     "payments_uris": ["s3://<data bucket>/payments/2026-12.csv"],
     "data_uris": ["s3://<data bucket>/train/2026-12.csv"], "min_pr_auc": 0.5}
`scored_payments_uris` (files or prefixes ending in /, of the payments archive) defaults
to the Variable `fraud_scored_payments_uris` (a JSON list); when there are none, the
export is skipped and the retrain uses `data_uris` alone. `payments_uris` (the window's
payments, from 30 days before it, to recompute features) defaults to the Variable
`fraud_monitor_payments_uris`, else to the scored archive above (without any, only the
score's drift and live quality are judged). `data_uris`, the base training data of the
retrain, defaults to the Variable `fraud_train_data_uris`, as in fraud_retrain.
"""

from __future__ import annotations

import json
from datetime import datetime

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException
from airflow.models.param import Param
from airflow.operators.empty import EmptyOperator
from airflow.utils.trigger_rule import TriggerRule

from fraud_common import invoke, parse_result, s3_uris

# track's Lambda timeout is 900 s (the monitor recomputes a window's features).
MONITOR_READ_TIMEOUT = 960
TRAIN_READ_TIMEOUT = 1800
# The export reads the archive and writes one CSV, within the same 900 s.
EXPORT_READ_TIMEOUT = 960


def scored_payments_uris(params) -> list[str]:
    """The payments archive to train on: conf `scored_payments_uris`, else the Variable."""
    return s3_uris(params.get("scored_payments_uris"), "fraud_scored_payments_uris", "scored_payments_uris")


@dag(
    dag_id="fraud_monitor",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={
        "hours": Param(24, type="integer", minimum=1, description="window: the hours of payments before now"),
        "since": Param(None, type=["null", "string"], description="window start, RFC 3339 (instead of hours; e.g. a backfill's)"),
        "until": Param(None, type=["null", "string"], description="window end, RFC 3339 (with since; default now)"),
        "model_version": Param(None, type=["null", "string"], description="one version (default: every version in the window)"),
        "payments_uris": Param([], type="array", items={"type": "string"}, description="the window's payments (CSV or prefix, s3://; default: the scored archive)"),
        "scored_payments_uris": Param([], type="array", items={"type": "string"}, description="the payments archive to retrain on (files or prefixes, s3://)"),
        "data_uris": Param([], type="array", items={"type": "string"}, description="training CSVs for the retrain"),
        "min_pr_auc": Param(0.5, type="number", minimum=0, maximum=1, description="the retrained model must reach this test PR-AUC"),
    },
    tags=["fraud", "lambda", "monitoring"],
    doc_md=__doc__,
)
def fraud_monitor():
    @task
    def build_monitor_request(params=None) -> str:
        request = {"action": "monitor"}
        if params.get("since") or params.get("until"):
            # An explicit window (a backfill's, a past day's) instead of the last hours.
            request.update({k: params[k] for k in ("since", "until") if params.get(k)})
        else:
            request["hours"] = int(params.get("hours") or 24)
        if params.get("model_version"):
            request["model_version"] = params["model_version"]
        uris = s3_uris(params.get("payments_uris"), "fraud_monitor_payments_uris", "payments_uris")
        if not uris:
            uris = scored_payments_uris(params)
        if uris:
            request["payments_uris"] = uris
        print(f"monitor request: {request}")
        return json.dumps(request)

    monitor = invoke(
        "invoke_monitor", "track", build_monitor_request(), MONITOR_READ_TIMEOUT, retries=1
    )

    @task.short_circuit
    def needs_retraining(payload: str, ti=None) -> bool:
        """Pushes the monitor's figures; true (go on to train) when it alerted."""
        result = parse_result(payload, "track monitor")
        if not isinstance(result.get("alert"), bool) or not isinstance(result.get("windows"), list):
            raise AirflowException(f"the monitor answered without alert/windows: {result!r:.500}")
        windows = []
        for w in result["windows"]:
            q, m = w.get("quality", {}), w.get("monitor", {})
            drift = m.get("drift") or {}
            windows.append({
                "model_version": q.get("model_version"), "volume": q.get("volume"),
                "alert_rate": q.get("alert_rate"), "pr_auc": q.get("pr_auc"),
                "test_pr_auc": w.get("test_pr_auc"), "score_psi": drift.get("score_psi"),
                "alert": (m.get("verdict") or {}).get("alert"),
                "not_judged": (m.get("verdict") or {}).get("not_judged"),
                "report_uri": m.get("report_uri"),
            })
        ti.xcom_push(key="windows", value=windows)
        ti.xcom_push(key="summary", value=result.get("summary", []))
        for w in windows:
            print("monitor %(model_version)s: %(volume)s payments, score PSI %(score_psi)s, "
                  "PR-AUC %(pr_auc)s (test %(test_pr_auc)s), alert %(alert)s, report %(report_uri)s" % w)
        if result["alert"]:
            print("thresholds crossed, retraining: " + "; ".join(result.get("summary", [])))
        return result["alert"]

    @task
    def build_export_request(params=None) -> str | None:
        """The training_data request over the payments archive; None when there is none."""
        uris = scored_payments_uris(params)
        if not uris:
            return None
        return json.dumps({"action": "training_data", "payments_uris": uris})

    @task.branch
    def export_scored(request: str | None) -> str:
        if request:
            return "invoke_training_data"
        print("no scored payments archive (conf scored_payments_uris, Variable fraud_scored_payments_uris): "
              "training on data_uris alone")
        return "no_scored_archive"

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def build_train_request(exported: str | None, params=None, ti=None) -> str:
        """The base training data, plus the labelled CSV of what was scored when exported."""
        uris = list(s3_uris(params.get("data_uris"), "fraud_train_data_uris", "data_uris"))
        if exported:
            result = parse_result(exported, "track training_data")
            uri = result.get("uri")
            if not (isinstance(uri, str) and uri.startswith("s3://")):
                raise AirflowException(f"training_data answered without an s3:// uri: {result!r:.500}")
            print(f"training on what was scored: {result.get('summary', uri)}")
            ti.xcom_push(key="exported", value={k: v for k, v in result.items() if k != "summary"})
            uris.append(uri)
        if not uris:
            raise AirflowException("the monitor alerted but there is no training data: pass conf data_uris "
                                   "or scored_payments_uris, or set Variable fraud_train_data_uris or "
                                   "fraud_scored_payments_uris")
        return json.dumps({"data_uris": uris, "force": False})

    decided = needs_retraining(monitor.output)
    export_request = build_export_request()
    decided >> export_request
    branch = export_scored(export_request)
    export = invoke("invoke_training_data", "track", export_request, EXPORT_READ_TIMEOUT, retries=1)
    skip_export = EmptyOperator(task_id="no_scored_archive")
    branch >> [export, skip_export]
    train_request = build_train_request(export.output)
    skip_export >> train_request

    train = invoke("invoke_train", "train", train_request, TRAIN_READ_TIMEOUT, retries=0)

    @task
    def check_retrained(payload: str, params=None) -> dict:
        result = parse_result(payload, "train")
        try:
            pr_auc = float(result["test_pr_auc"])
        except (KeyError, TypeError, ValueError) as e:
            raise AirflowException(f"train answered without test_pr_auc: {result}") from e
        print("retrained: model %s, test PR-AUC %.4f, promoted %s (%s)"
              % (result.get("model_version"), pr_auc, result.get("promoted"), result.get("promotion_reason")))
        if pr_auc < float(params.get("min_pr_auc", 0.5)):
            raise AirflowException(f"retrained model's test PR-AUC {pr_auc:.4f} is below min_pr_auc")
        return {k: result.get(k) for k in ("model_version", "artifact_uri", "test_pr_auc", "promoted", "promotion_reason")}

    check_retrained(train.output)


fraud_monitor()
