"""Reference pipelines: LightGBM and XGBoost gradient-boosted trees on the exact feature
matrix and time split that `fraudctl features` exports (the same features and rows our
models see, per-card velocity features included).

What a careful Python user would do: early stopping on the validation slice (by its
PR-AUC), and a small grid (tree size x class weighting) chosen on validation PR-AUC;
the test slice is used for nothing but the report. The decision threshold is the
F1-best on validation.

Prints one JSON line per library: PR-AUC / ROC-AUC / F1 on the test slice and the wall
time of fitting every grid point (what it took to get the model).
"""
import argparse
import json
import os
import time

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score


def load(path):
    frame = pd.read_csv(path)
    feature_cols = [c for c in frame.columns if c not in ("trans_num", "split", "is_fraud")]
    parts = {name: frame[frame["split"] == name] for name in ("train", "validation", "test")}
    x = {k: v[feature_cols].to_numpy(dtype=np.float64) for k, v in parts.items()}
    y = {k: v["is_fraud"].to_numpy(dtype=np.int8) for k, v in parts.items()}
    return x, y


def f1_threshold(y_val, val_scores):
    precision, recall, thresholds = precision_recall_curve(y_val, val_scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def fit_lightgbm(x, y, seed, threads, leaves, spw):
    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        n_estimators=2000,
        learning_rate=0.05,
        num_leaves=leaves,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        scale_pos_weight=spw,
        random_state=seed,
        n_jobs=threads,
        verbose=-1,
    )
    model.fit(
        x["train"], y["train"],
        eval_set=[(x["validation"], y["validation"])],
        eval_metric="average_precision",
        callbacks=[lgb.early_stopping(100, first_metric_only=True, verbose=False)],
    )
    predict = lambda m: model.predict_proba(m, num_iteration=model.best_iteration_)[:, 1]
    return predict, {"num_leaves": leaves, "scale_pos_weight": spw, "trees": int(model.best_iteration_)}


def fit_xgboost(x, y, seed, threads, depth, spw):
    import xgboost as xgb

    model = xgb.XGBClassifier(
        n_estimators=2000,
        learning_rate=0.05,
        max_depth=depth,
        min_child_weight=1.0,
        subsample=0.8,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        scale_pos_weight=spw,
        tree_method="hist",
        eval_metric="aucpr",
        early_stopping_rounds=100,
        random_state=seed,
        n_jobs=threads,
    )
    model.fit(x["train"], y["train"], eval_set=[(x["validation"], y["validation"])], verbose=False)
    best = int(model.best_iteration)
    predict = lambda m: model.predict_proba(m, iteration_range=(0, best + 1))[:, 1]
    return predict, {"max_depth": depth, "scale_pos_weight": spw, "trees": best + 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features_csv")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=["lightgbm", "xgboost"], default=None)
    args = parser.parse_args()
    x, y = load(args.features_csv)
    threads = os.cpu_count()
    neg, pos = int((y["train"] == 0).sum()), int((y["train"] == 1).sum())
    weights = [1.0, round(float(np.sqrt(neg / pos)), 2)]
    libraries = {
        "lightgbm": (fit_lightgbm, [15, 63]),
        "xgboost": (fit_xgboost, [4, 8]),
    }
    for name, (fit, sizes) in libraries.items():
        if args.only and args.only != name:
            continue
        started = time.perf_counter()
        best = None
        for size in sizes:
            for spw in weights:
                predict, params = fit(x, y, args.seed, threads, size, spw)
                val_scores = predict(x["validation"])
                val_ap = float(average_precision_score(y["validation"], val_scores))
                if best is None or val_ap > best[0]:
                    best = (val_ap, predict, params, val_scores)
        train_seconds = time.perf_counter() - started
        val_ap, predict, params, val_scores = best
        threshold = f1_threshold(y["validation"], val_scores)
        test_scores = predict(x["test"])
        version = __import__(name).__version__
        print(json.dumps({
            "model": f"{name} {version}",
            "params": params,
            "validation_pr_auc": val_ap,
            "pr_auc": float(average_precision_score(y["test"], test_scores)),
            "roc_auc": float(roc_auc_score(y["test"], test_scores)),
            "f1": float(f1_score(y["test"], test_scores >= threshold)),
            "threshold": threshold,
            "train_seconds": train_seconds,
        }), flush=True)


if __name__ == "__main__":
    main()
