"""Reference cold start: a fresh Python process imports pandas and scikit-learn, loads a
pickled RandomForest (joblib), computes one payment's features and scores it, then
prints one JSON line. `bench/measure.py` times process start to that line.

Usage: cold_start.py MODEL.joblib PAYMENTS.csv
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

started = time.perf_counter()

import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import joblib  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn.ensemble  # noqa: E402,F401

from score_loop import FEATURE_NAMES, CardHistories  # noqa: E402

imported = time.perf_counter()


def main() -> None:
    model_path, payments = sys.argv[1], sys.argv[2]
    model = joblib.load(model_path)
    model.n_jobs = 1
    loaded = time.perf_counter()
    with open(payments, newline="") as handle:
        message = next(csv.DictReader(handle))
    warnings.filterwarnings("ignore", message="X has feature names")
    features = CardHistories().observe(message)
    probability = float(model.predict_proba(pd.DataFrame([features], columns=FEATURE_NAMES))[0, 1])
    print(json.dumps({
        "import_seconds": imported - started,
        "load_seconds": loaded - imported,
        "first_score_seconds": time.perf_counter() - started,
        "first_probability": probability,
        "model_bytes": os.path.getsize(model_path),
    }), flush=True)


if __name__ == "__main__":
    main()
