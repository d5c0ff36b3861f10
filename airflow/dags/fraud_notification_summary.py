"""fraud_notification_summary: daily, list the recent training runs through the
track function ({"action": "list", "limit": 20}) and log a summary."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException

from fraud_common import invoke, parse_result

LIST_REQUEST = {"action": "list", "limit": 20}


@dag(
    dag_id="fraud_notification_summary",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
    tags=["fraud", "lambda"],
    doc_md=__doc__,
)
def fraud_notification_summary():
    runs = invoke("list_training_runs", "track", json.dumps(LIST_REQUEST), 60)

    @task
    def summarize(payload: str) -> dict:
        result = parse_result(payload, "track")
        if not isinstance(result.get("runs"), list):
            raise AirflowException(f"track answered without `runs`: {result!r:.500}")
        runs = result["runs"]  # newest first
        summary = {"runs": len(runs), "promoted": sum(bool(r.get("promoted")) for r in runs)}
        if runs:
            latest = runs[0]
            best = max(runs, key=lambda r: r.get("pr_auc") or 0)
            current = next((r for r in runs if r.get("promoted")), None)
            summary.update(
                latest_version=latest.get("model_version"),
                latest_created_at=latest.get("created_at"),
                latest_pr_auc=latest.get("pr_auc"),
                best_version=best.get("model_version"),
                best_pr_auc=best.get("pr_auc"),
                last_promoted_version=current and current.get("model_version"),
            )
        print(f"training runs (last {LIST_REQUEST['limit']}): {summary}")
        for r in runs:
            print(
                "  %s  %-12s rows %-8s PR-AUC %.4f  F1 %.4f  %s"
                % (r.get("created_at"), r.get("learner"), r.get("train_rows"), r.get("pr_auc") or 0,
                   r.get("f1") or 0, "promoted" if r.get("promoted") else "")
            )
        return summary

    summarize(runs.output)


fraud_notification_summary()
