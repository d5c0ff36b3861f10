"""fraud_retrain: weekly (and on demand) retraining through the train function.

Trigger with conf, e.g.
    {"data_uris": ["s3://<data bucket>/train/2024-06.csv"], "force": false, "min_pr_auc": 0.5}
Without `data_uris`, the Variable `fraud_train_data_uris` (a JSON list) is used.
The run fails if the function fails or the new model's test PR-AUC is below
`min_pr_auc`. Its metrics are pushed to XCom (task `evaluate`).
Train promotes the model itself only if it beats the current one (or `force`).
"""

from __future__ import annotations

import json
from datetime import datetime

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException
from airflow.models.param import Param

from fraud_common import invoke, parse_result, s3_uris

# train's Lambda timeout is 900 s; locally the first invoke also compiles it.
TRAIN_READ_TIMEOUT = 1800


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
    },
    tags=["fraud", "lambda", "training"],
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

    # A training run is expensive: no retry; retry by re-triggering.
    train = invoke("invoke_train", "train", build_request(), TRAIN_READ_TIMEOUT, retries=0)

    @task(multiple_outputs=False)
    def evaluate(payload: str, params=None, ti=None) -> dict:
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

    evaluate(train.output)


fraud_retrain()
