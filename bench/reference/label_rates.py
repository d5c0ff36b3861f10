"""Would smoothed merchant / category fraud rates help? (project issue 10)

Adds two label-based features to the exact feature matrix `fraudctl features` exports and
compares XGBoost (the `gbdt.py` setup: learning rate 0.05, early stopping on validation
PR-AUC, 2x2 grid of max_depth x scale_pos_weight chosen on validation PR-AUC) on the test
slice with and without them, seed by seed.

The rates are computed honestly, as a production scorer could have them:

    rate = (frauds_before + m * prior) / (count_before + m)

where `frauds_before` / `count_before` count only *training-slice* rows of the same
merchant (or category) whose event time is strictly earlier than the row's. Validation and
test labels are never used: rows after the train cutoff see the table frozen at the cutoff
(a scorer only has the labels of the data it was trained on). `prior` is the training
slice's fraud rate. Train rows see the table as it was just before them, every earlier
train label already known (fresher labels than production would have).

Usage:
    fraudctl features --data fixture.csv --out features.csv
    python bench/reference/label_rates.py features.csv --data fixture.csv --seeds 1 2 3 4 5
    (add --fixed-trees 120 for one fit of 120 trees per seed instead of the early-stopped grid)

Prints per-seed JSON lines to stderr as it goes, then a table: test PR-AUC per seed and
mean, without the rates and with them for each smoothing `m`, and the gain.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gbdt import fit_xgboost  # noqa: E402  (the reference setup, unchanged)


def rates_before(keys, times, train_mask, labels, m, prior):
    """Smoothed fraud rate of each row's key from train rows strictly before its time."""
    out = np.empty(len(keys), dtype=np.float64)
    counts = np.empty(len(keys), dtype=np.int64)
    frame = pd.DataFrame({"key": keys, "t": times, "y": labels, "train": train_mask})
    table = {}
    for key, group in frame[frame["train"]].groupby("key", sort=False):
        order = np.argsort(group["t"].to_numpy(), kind="stable")
        t = group["t"].to_numpy()[order]
        cum = np.concatenate([[0], np.cumsum(group["y"].to_numpy()[order])])
        table[key] = (t, cum)
    for key, idx in frame.groupby("key", sort=False).indices.items():
        if key in table:
            t, cum = table[key]
            n_before = np.searchsorted(t, frame["t"].to_numpy()[idx], side="left")
            f_before = cum[n_before]
        else:
            n_before = np.zeros(len(idx), dtype=np.int64)
            f_before = np.zeros(len(idx))
        out[idx] = (f_before + m * prior) / (n_before + m)
        counts[idx] = n_before
    return out, counts


def load(features_csv, data_csv):
    feats = pd.read_csv(features_csv)
    raw = pd.read_csv(data_csv, usecols=["trans_num", "trans_date_trans_time", "merchant", "category"])
    raw["t"] = pd.to_datetime(raw["trans_date_trans_time"]).astype("int64") // 10**9
    frame = feats.merge(raw[["trans_num", "t", "merchant", "category"]], on="trans_num", how="left", validate="one_to_one")
    if frame["t"].isna().any():
        raise SystemExit("some feature rows have no matching trans_num in --data")
    return frame


def matrices(frame, feature_cols):
    parts = {name: frame[frame["split"] == name] for name in ("train", "validation", "test")}
    x = {k: v[feature_cols].to_numpy(dtype=np.float64) for k, v in parts.items()}
    y = {k: v["is_fraud"].to_numpy(dtype=np.int8) for k, v in parts.items()}
    return x, y


def xgboost_test_pr_auc(x, y, seed, threads):
    """gbdt.py's XGBoost grid, chosen on validation PR-AUC; returns (test PR-AUC, validation
    PR-AUC of the chosen grid point, its params)."""
    neg, pos = int((y["train"] == 0).sum()), int((y["train"] == 1).sum())
    best = None
    for depth in (4, 8):
        for spw in (1.0, round(float(np.sqrt(neg / pos)), 2)):
            predict, params = fit_xgboost(x, y, seed, threads, depth, spw)
            val_ap = float(average_precision_score(y["validation"], predict(x["validation"])))
            if best is None or val_ap > best[0]:
                best = (val_ap, predict, params)
    val_ap, predict, params = best
    return float(average_precision_score(y["test"], predict(x["test"]))), val_ap, params


def xgboost_fixed_trees(x, y, seed, threads, trees):
    """One XGBoost fit with a fixed number of trees (depth 8, scale_pos_weight sqrt(neg/pos),
    the grid point gbdt.py picks on every seed without the rates), no early stopping: tells
    a feature that hurts from a validation slice (18 frauds) that stops boosting too early."""
    import xgboost as xgb

    neg, pos = int((y["train"] == 0).sum()), int((y["train"] == 1).sum())
    model = xgb.XGBClassifier(
        n_estimators=trees, learning_rate=0.05, max_depth=8, min_child_weight=1.0, subsample=0.8,
        colsample_bytree=0.8, reg_lambda=1.0, scale_pos_weight=round(float(np.sqrt(neg / pos)), 2),
        tree_method="hist", random_state=seed, n_jobs=threads,
    )
    model.fit(x["train"], y["train"])
    val_ap = float(average_precision_score(y["validation"], model.predict_proba(x["validation"])[:, 1]))
    test_ap = float(average_precision_score(y["test"], model.predict_proba(x["test"])[:, 1]))
    return test_ap, val_ap, {"max_depth": 8, "trees": trees}


def coverage(frame):
    """How many validation / test frauds' merchants had any train row, any train fraud."""
    train = frame[frame["split"] == "train"]
    seen = set(train["merchant"])
    seen_fraud = set(train.loc[train["is_fraud"] == 1, "merchant"])
    lines = [
        f"merchants: {frame['merchant'].nunique()} in all, {len(seen)} in train, "
        f"{len(seen_fraud)} with a train fraud; train rows {len(train)}, train frauds {int(train['is_fraud'].sum())}"
    ]
    for name in ("validation", "test"):
        frauds = frame[(frame["split"] == name) & (frame["is_fraud"] == 1)]
        n = len(frauds)
        in_train = int(frauds["merchant"].isin(seen).sum())
        with_fraud = int(frauds["merchant"].isin(seen_fraud).sum())
        rows = frame[frame["split"] == name]
        base = float(rows["merchant"].isin(seen_fraud).mean())
        lines.append(
            f"{name} frauds: {n}; merchant seen in train: {in_train}; merchant had a train fraud: "
            f"{with_fraud} ({with_fraud / max(n, 1):.0%}, against {base:.0%} of all {name} rows)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("features_csv", help="the output of `fraudctl features`")
    parser.add_argument("--data", required=True, help="the raw CSV the features came from (merchant, category, time)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--m", type=float, nargs="+", default=[10.0, 100.0], help="smoothing strengths")
    parser.add_argument("--fixed-trees", type=int, default=None,
                        help="instead of the gbdt.py grid with early stopping: one fit of this many trees")
    args = parser.parse_args()
    threads = os.cpu_count()

    frame = load(args.features_csv, args.data)
    base_cols = [c for c in frame.columns if c not in ("trans_num", "split", "is_fraud", "t", "merchant", "category")]
    train_mask = (frame["split"] == "train").to_numpy()
    labels = frame["is_fraud"].to_numpy(dtype=np.float64)
    prior = float(labels[train_mask].mean())
    times = frame["t"].to_numpy()
    variants = {"without rates": base_cols}
    for m in args.m:
        tag = f"{m:g}"
        for key in ("merchant", "category"):
            frame[f"{key}_fraud_rate_m{tag}"], _ = rates_before(
                frame[key].to_numpy(), times, train_mask, labels, m, prior)
        variants[f"with rates, m={tag}"] = base_cols + [f"merchant_fraud_rate_m{tag}", f"category_fraud_rate_m{tag}"]

    results = {name: [] for name in variants}
    validation = {name: [] for name in variants}
    trees_used = {name: [] for name in variants}
    for seed in args.seeds:
        for name, cols in variants.items():
            started = time.perf_counter()
            x, y = matrices(frame, cols)
            if args.fixed_trees:
                pr_auc, val_ap, params = xgboost_fixed_trees(x, y, seed, threads, args.fixed_trees)
            else:
                pr_auc, val_ap, params = xgboost_test_pr_auc(x, y, seed, threads)
            results[name].append(pr_auc)
            validation[name].append(val_ap)
            trees_used[name].append(params["trees"])
            print(json.dumps({"seed": seed, "variant": name, "pr_auc": pr_auc, "validation_pr_auc": val_ap,
                              "params": params,
                              "seconds": round(time.perf_counter() - started, 1)}), file=sys.stderr, flush=True)

    import xgboost
    setup = (f"fixed {args.fixed_trees} trees, depth 8, no early stopping" if args.fixed_trees
             else "gbdt.py grid, early stopping on validation")
    print(f"XGBoost {xgboost.__version__}, {setup}; {len(base_cols)} base features; "
          f"train prior {prior:.5f}; seeds {' '.join(map(str, args.seeds))}")
    for line in coverage(frame):
        print(line)
    for name in ("validation", "test"):
        part = frame[frame["split"] == name]
        alone = ", ".join(
            f"{col} {average_precision_score(part['is_fraud'], part[col]):.4f}"
            for cols in list(variants.values())[1:] for col in cols[len(base_cols):])
        print(f"{name} PR-AUC of each rate alone (fraud share {part['is_fraud'].mean():.4f}): {alone}")
    print()
    base = results["without rates"]
    print(f"| variant | test PR-AUC per seed ({' / '.join(map(str, args.seeds))}) | mean ± sd | gain vs without (mean) "
          f"| validation PR-AUC (mean) | trees per seed |")
    print("|---|---|---|---|---|---|")
    for name, values in results.items():
        per_seed = " / ".join(f"{v:.4f}" for v in values)
        sd = statistics.pstdev(values) if len(values) > 1 else 0.0
        gain = statistics.fmean(values) - statistics.fmean(base)
        gain_cell = "—" if name == "without rates" else f"{gain:+.4f}"
        trees = " / ".join(str(t) for t in trees_used[name])
        print(f"| {name} | {per_seed} | {statistics.fmean(values):.4f} ± {sd:.4f} | {gain_cell} "
              f"| {statistics.fmean(validation[name]):.4f} | {trees} |")


if __name__ == "__main__":
    main()
