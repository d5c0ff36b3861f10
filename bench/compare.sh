#!/usr/bin/env bash
# Our models vs the Python references (scikit-learn RandomForest, LightGBM, XGBoost) on
# the same feature matrix and the same time split.
# Usage: bench/compare.sh [data.csv]   (default: the real-data fixture, else generated data)
# SEEDS="1 2 3" (default) picks the seeds; every model is fitted once per seed.
# Prints one table and rewrites the "Model quality" section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
FRAUDCTL="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}/release/fraudctl"
WORK="out/compare"
mkdir -p "$WORK"
DATA="${1:-../shared/data/fraud_fixture.csv}"
if [[ ! -f "$DATA" ]]; then
  echo "no $DATA: generating data instead"
  DATA="$WORK/generated.csv"
  "$FRAUDCTL" generate --customers 2000 --days 120 --out "$DATA"
fi

VENV="bench/.venv"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import sklearn, pandas, lightgbm, xgboost" 2>/dev/null; then
  echo "installing the Python references into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
fi

SEEDS="${SEEDS:-1 2 3}"
RESULTS="$WORK/results.jsonl"
# TABLE_ONLY=1: rebuild the table and the BENCHMARKS.md section from the last run's results
# (for SEEDS that completed) without fitting anything.
[[ -n "${TABLE_ONLY:-}" ]] && SEED_LOOP="" || SEED_LOOP="$SEEDS"
[[ -n "${TABLE_ONLY:-}" ]] || : > "$RESULTS"
[[ -n "${TABLE_ONLY:-}" ]] || "$FRAUDCTL" features --data "$DATA" --out "$WORK/features.csv" >/dev/null
for seed in $SEED_LOOP; do
  echo "seed $seed: ours" >&2
  started=$(date +%s.%N)
  "$FRAUDCTL" train --data "$DATA" --out "$WORK/model-$seed" --seed "$seed" --no-report >/dev/null 2>&1
  wall=$(python3 -c "import time; print(time.time() - $started)")
  python3 - "$WORK/model-$seed/model.json" "$seed" "ours: chosen on validation" "$wall" >> "$RESULTS" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
seed, name, wall = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
chosen = a["model"]["params"]["learner"]
if name == "ours: chosen on validation":
    for c in a["training"]["candidates"]:
        t = c.get("test")
        if t is None:
            continue
        print(json.dumps({"model": f'ours: {c["params"]["learner"]}', "seed": seed, "pr_auc": t["pr_auc"],
                          "roc_auc": t["roc_auc"], "f1": t["f1"], "train_seconds": c["train_seconds"],
                          "validation_pr_auc": c["validation_pr_auc"]}))
t = a["metrics"]["test"]
print(json.dumps({"model": name, "seed": seed, "pr_auc": t["pr_auc"],
                  "roc_auc": t["roc_auc"], "f1": t["f1"], "train_seconds": a["training"]["train_seconds"],
                  "wall_seconds": wall, "chosen": chosen}))
PY
  # The same candidates chosen on three expanding-window time folds instead (opt-in).
  echo "seed $seed: ours, chosen on 3 time folds" >&2
  started=$(date +%s.%N)
  "$FRAUDCTL" train --data "$DATA" --out "$WORK/model-folds-$seed" --seed "$seed" --folds 3 --no-report >/dev/null 2>&1
  wall=$(python3 -c "import time; print(time.time() - $started)")
  python3 - "$WORK/model-folds-$seed/model.json" "$seed" "ours: chosen on 3 time folds" "$wall" >> "$RESULTS" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
seed, name, wall = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
t = a["metrics"]["test"]
print(json.dumps({"model": name, "seed": seed, "pr_auc": t["pr_auc"],
                  "roc_auc": t["roc_auc"], "f1": t["f1"], "train_seconds": a["training"]["train_seconds"],
                  "wall_seconds": wall, "chosen": a["model"]["params"]["learner"]}))
PY
  echo "seed $seed: scikit-learn" >&2
  "$VENV/bin/python" bench/reference/sklearn_rf.py "$WORK/features.csv" --seed "$seed" --trees 300 |
    python3 -c 'import json,sys; d=json.load(sys.stdin); d["model"]="scikit-learn RandomForest"; d["seed"]='"$seed"'; print(json.dumps(d))' >> "$RESULTS"
  echo "seed $seed: LightGBM, XGBoost" >&2
  "$VENV/bin/python" bench/reference/gbdt.py "$WORK/features.csv" --seed "$seed" |
    python3 -c 'import json,sys
for line in sys.stdin:
    d=json.loads(line); d["seed"]='"$seed"'; print(json.dumps(d))' >> "$RESULTS"
done

table=$(python3 - "$RESULTS" "$SEEDS" <<'PY'
import json, statistics, sys
seeds = [int(s) for s in sys.argv[2].split()]
rows = [r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip()) if r["seed"] in seeds]
models = []
for r in rows:
    if r["model"] not in models:
        models.append(r["model"])
def cell(values, bold=False):
    m = statistics.fmean(values)
    s = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{m:.4f} ± {s:.4f}"
print(f"| model | PR-AUC (test) | PR-AUC per seed ({' / '.join(map(str, seeds))}) | ROC-AUC (test) | F1 at validation-chosen threshold | train time |")
print("|---|---|---|---|---|---|")
best_py = None
ours = None
for name in models:
    rs = [r for r in rows if r["model"] == name]
    pr = [r["pr_auc"] for r in rs]
    extra = ""
    if name.startswith("ours: chosen"):
        extra = f" (picked: {', '.join(r['chosen'] for r in rs)})"
        if name == "ours: chosen on validation":
            ours = statistics.fmean(pr)
    elif not name.startswith("ours"):
        best_py = max(best_py or 0.0, statistics.fmean(pr))
    per_seed = " / ".join(f"{v:.4f}" for v in pr)
    time = f"{statistics.fmean([r['train_seconds'] for r in rs]):.2f} s"
    if "wall_seconds" in rs[0]:
        time += f" ({statistics.fmean([r['wall_seconds'] for r in rs]):.1f} s `fraudctl train`)"
    print(f"| {name}{extra} | {cell(pr)} | {per_seed} | {cell([r['roc_auc'] for r in rs])} | {cell([r['f1'] for r in rs])} | {time} |")
if ours is not None and best_py:
    print(f"\nMean test PR-AUC, ours (chosen) / best Python reference: **{ours:.4f} / {best_py:.4f} = {ours / best_py:.3f}**")
PY
)
rows_total=$(wc -l < "$WORK/features.csv")
section="## Model quality: ours vs scikit-learn, LightGBM and XGBoost

Command: \`make compare\` (\`bench/compare.sh $DATA\`), $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)).
Data: \`$DATA\`, $((rows_total - 1)) rows; time split 60% train / 10% validation / 30% test (latest),
i.e. train on the earlier 70% (validation carved from its end by time), test on the later 30%.
Every model sees the exact same feature matrix (\`fraudctl features\`) and split; seeds: $SEEDS (mean ± sd).
Ours: every candidate (forest with our CART, forest with linfa-trees, our gradient boosting: on up to
50,000 training rows five bagged models, each with its own seed and stopped early on its own,
averaged in log-odds, else one model; and the
blend of that forest and that boosting: each Platt-calibrated on validation, equal weights on their
calibrated log-odds, made from the two fitted candidates) is fitted on train and the one with the best
validation PR-AUC is kept (\"chosen\"); its train time covers fitting every candidate (the blend's row:
fitting its two components, plus the blend itself). \"chosen on 3 time folds\": the same candidates
chosen instead by mean PR-AUC over three expanding-window time folds (\`fraudctl train --folds 3\`:
evaluation windows of validation size ending at the validation slice's end, each fold fitted on the rows
before the window preceding it, where boosting stops early and blends calibrate), then refitted on train.
\`fraudctl train\` wall time (in brackets) is the whole command without its report. scikit-learn \`RandomForestClassifier(n_estimators=300, class_weight=\"balanced_subsample\",
min_samples_leaf=2)\`. LightGBM / XGBoost (\`bench/reference/gbdt.py\`): learning rate 0.05, early
stopping on validation PR-AUC (100 rounds), a 2x2 grid (tree size x scale_pos_weight 1 or sqrt(neg/pos))
chosen on validation PR-AUC; train time covers the grid. Thresholds: F1-best on validation.
Python: $("$VENV/bin/python" -c 'import sklearn, lightgbm, xgboost; print(f"scikit-learn {sklearn.__version__}, LightGBM {lightgbm.__version__}, XGBoost {xgboost.__version__}")').
Metrics are on the test slice.

$table
"
echo "$section"
python3 - "$section" <<'PY'
import pathlib, re, sys
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery number here was produced by a command in this repository; each section names its command.\n\n"
section = sys.argv[1].rstrip() + "\n"
pattern = re.compile(r"## Model quality: ours vs [^\n]*\n.*?(?=\n## |\Z)", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
path.write_text(text)
PY
