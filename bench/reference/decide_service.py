"""Python anchor for the decision API benchmark: the synchronous scoring service a Python
team would write. Flask app, run under gunicorn (bench/decide_latency.sh starts it with 2
sync workers):

    DECIDE_MODEL=sklearn.joblib gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench/reference decide_service:app

POST / with one payment as flat JSON (the Sparkov schema, as the score function's decision
API takes it) -> the 47 features from an in-memory per-card history
(`score_loop.CardHistories`, the same definitions as `fraud_core::features`; one history
per worker process, so a card's payments answered by different workers see only part of
its history) -> one-row DataFrame -> scikit-learn RandomForest `predict_proba`
(`n_jobs=1`) -> JSON with `trans_num`, `probability`, `decision`, `took_ms` (time in the
handler) and `timings` {`features_ms`, `predict_ms`}.

It does less than ours: no database (no card lock, no ledger, no history written
anywhere durable), no rules. 400 for a payment it cannot read.
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import pandas as pd  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score_loop import FEATURE_NAMES, CardHistories, load_one_core_model  # noqa: E402

warnings.filterwarnings("ignore", message="X has feature names")

MODEL = load_one_core_model(os.environ["DECIDE_MODEL"])
BLOCK_AT = float(os.environ.get("DECIDE_BLOCK_AT", "0.5"))
REVIEW_AT = float(os.environ.get("DECIDE_REVIEW_AT", str(BLOCK_AT / 2)))
HISTORIES = CardHistories()

app = Flask(__name__)


@app.post("/")
def decide():
    started = time.perf_counter()
    payment = request.get_json(force=True, silent=True)
    if not isinstance(payment, dict):
        return jsonify(error="the body is not a JSON object"), 400
    try:
        features = HISTORIES.observe(payment)
    except (KeyError, ValueError) as e:
        return jsonify(error=f"bad payment: {e!r}"), 400
    t = time.perf_counter()
    frame = pd.DataFrame([features], columns=FEATURE_NAMES)
    probability = float(MODEL.predict_proba(frame)[0, 1])
    predict_ms = (time.perf_counter() - t) * 1e3
    decision = "block" if probability >= BLOCK_AT else "review" if probability >= REVIEW_AT else "approve"
    took_ms = (time.perf_counter() - started) * 1e3
    return jsonify(
        trans_num=payment.get("trans_num"),
        probability=probability,
        decision=decision,
        decided_by="model",
        rules_fired=[],
        took_ms=took_ms,
        timings={"features_ms": took_ms - predict_ms, "predict_ms": predict_ms},
    )


@app.get("/health")
def health():
    return jsonify(ok=True)
