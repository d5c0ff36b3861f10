"""Reference pipeline: scikit-learn RandomForest on the exact feature matrix and time
split that `fraudctl features` exports (so both sides see the same features and rows).

Prints one JSON line: PR-AUC / ROC-AUC / F1 on the test slice, with the threshold chosen
on the validation slice, and the training wall time.
"""
import argparse
import json
import os
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features_csv")
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    frame = pd.read_csv(args.features_csv)
    feature_cols = [c for c in frame.columns if c not in ("trans_num", "split", "is_fraud")]
    parts = {name: frame[frame["split"] == name] for name in ("train", "validation", "test")}
    x = {k: v[feature_cols].to_numpy(dtype=np.float64) for k, v in parts.items()}
    y = {k: v["is_fraud"].to_numpy(dtype=np.int8) for k, v in parts.items()}

    model = RandomForestClassifier(
        n_estimators=args.trees,
        n_jobs=os.cpu_count(),
        class_weight="balanced_subsample",
        min_samples_leaf=2,
        random_state=args.seed,
    )
    started = time.perf_counter()
    model.fit(x["train"], y["train"])
    train_seconds = time.perf_counter() - started

    val_scores = model.predict_proba(x["validation"])[:, 1]
    precision, recall, thresholds = precision_recall_curve(y["validation"], val_scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    threshold = float(thresholds[int(np.argmax(f1[:-1]))])
    test_scores = model.predict_proba(x["test"])[:, 1]
    print(json.dumps({
        "model": f"scikit-learn RandomForest ({args.trees} trees, balanced_subsample)",
        "train_rows": int(len(y["train"])),
        "test_rows": int(len(y["test"])),
        "test_frauds": int(y["test"].sum()),
        "pr_auc": float(average_precision_score(y["test"], test_scores)),
        "roc_auc": float(roc_auc_score(y["test"], test_scores)),
        "f1": float(f1_score(y["test"], test_scores >= threshold)),
        "threshold": threshold,
        "train_seconds": train_seconds,
    }))


if __name__ == "__main__":
    main()
