#!/usr/bin/env bash
# Training at scale (issue 21): `fraudctl train` with its defaults (the automatic choice
# among the forest, the boosting and their blend) beside XGBoost and LightGBM
# (bench/reference/gbdt.py: early stopping and the small grid a careful Python user runs)
# on generated data of growing size, the same features and time split on every side.
# Per size: wall time, CPU time, peak RSS, test PR-AUC and F1. Writes the "Training at
# scale" section of BENCHMARKS.md, the figure bench/figures/training-scale.png (time and
# memory against rows) and the raw results (out/bench/scale/results.jsonl).
#
# Usage: bench/scale.sh                      100k, 300k, 1.3M and 3M rows (~45 min on 2 cores)
#        QUICK=1 bench/scale.sh              30k and 100k rows (a few minutes); writes
#                                            out/bench/scale/BENCHMARKS.quick.md, no figure copy
# Knobs: SIZES="name:customers:days ..." (generator settings per size), SEED (generator,
#   default 11), BENCHMARKS_FILE. Times are one run each on this machine (load printed
#   with each step): ratios between the sides of one size are the figures to quote.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
QUICK="${QUICK:-0}"
SEED="${SEED:-11}"
WORK="out/bench/scale"
# name:customers:days. 2,000 cards make about 2,450 payments a day; 1.3M is the issue's
# `fraudctl generate --customers 2000 --days 540 --seed 11` (1,320,760 rows).
if [[ "$QUICK" == 1 ]]; then
  SIZES="${SIZES:-30k:2000:12 100k:2000:41}"
  BENCHMARKS_FILE="${BENCHMARKS_FILE:-$WORK/BENCHMARKS.quick.md}"
  FIGURE="$WORK/training-scale.png"
else
  SIZES="${SIZES:-100k:2000:41 300k:2000:123 1.3M:2000:540 3M:4600:540}"
  BENCHMARKS_FILE="${BENCHMARKS_FILE:-BENCHMARKS.md}"
  FIGURE="bench/figures/training-scale.png"
fi
STARTED=$(date +%s)
say() { printf '\n== %s (%ds, load %s)\n' "$*" $(($(date +%s) - STARTED)) "$(cut -d' ' -f1 /proc/loadavg)"; }

mkdir -p "$WORK"
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

say "Python reference and plotting in bench/.venv"
source bench/lib/venv.sh
bench_venv
MEASURE=("$PY" bench/measure.py)

say "building fraudctl (release)"
cargo build --release --locked -p fraudctl
FRAUDCTL="$CARGO_TARGET_DIR/release/fraudctl"

for size in $SIZES; do
  IFS=: read -r name customers days <<< "$size"
  data="$WORK/data-$name.csv"
  features="$WORK/features-$name.csv"
  say "$name: generating ($customers cards, $days days, seed $SEED)"
  "$FRAUDCTL" generate --customers "$customers" --days "$days" --seed "$SEED" --out "$data" | tail -1
  rows=$(($(wc -l < "$data") - 1))

  say "$name: fraudctl train ($rows rows)"
  load=$(cut -d' ' -f1 /proc/loadavg)
  rm -rf "$WORK/model-$name"
  "${MEASURE[@]}" --stdout "$WORK/train-$name.txt" -- \
    "$FRAUDCTL" train --data "$data" --out "$WORK/model-$name" --no-report > "$WORK/ours-$name.json"
  grep -E '^  [a-z-]+ +[0-9]+ trees' "$WORK/train-$name.txt" || true
  "$PY" - "$name" "$rows" "$WORK/ours-$name.json" "$WORK/model-$name/model.json" "$load" >> "$RESULTS" <<'EOF'
import json, sys
name, rows, measured, model = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
load = float(sys.argv[5])
test = model["metrics"]["test"]
print(json.dumps({
    "size": name, "rows": rows, "side": "ours", "model": "fraudctl train (auto: " + model["model"]["params"]["learner"] + ")",
    "wall_s": measured["wall_s"], "cpu_s": measured["user_s"] + measured["sys_s"], "max_rss_kb": measured["max_rss_kb"],
    "fit_s": model["training"]["train_seconds"], "pr_auc": test["pr_auc"], "f1": test["f1"], "load": load,
    "candidates": {c["params"]["learner"]: {"seconds": c["train_seconds"], "validation_pr_auc": c["validation_pr_auc"]}
                   for c in model["training"]["candidates"]},
}))
EOF

  say "$name: exporting the feature matrix for the references (not timed)"
  "$FRAUDCTL" features --data "$data" --out "$features" > /dev/null
  for library in xgboost lightgbm; do
    say "$name: $library grid"
    load=$(cut -d' ' -f1 /proc/loadavg)
    "${MEASURE[@]}" -- "$PY" bench/reference/gbdt.py "$features" --only "$library" > "$WORK/$library-$name.json"
    "$PY" - "$name" "$rows" "$WORK/$library-$name.json" "$load" >> "$RESULTS" <<'EOF'
import json, sys
name, rows, measured, load = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3])), float(sys.argv[4])
out = measured["output"]
print(json.dumps({
    "size": name, "rows": rows, "side": out["model"].split()[0], "model": out["model"],
    "wall_s": measured["wall_s"], "cpu_s": measured["user_s"] + measured["sys_s"], "max_rss_kb": measured["max_rss_kb"],
    "fit_s": out["train_seconds"], "pr_auc": out["pr_auc"], "f1": out["f1"], "params": out["params"], "load": load,
}))
EOF
    tail -1 "$RESULTS"
  done
  # The largest files are the inputs; keep the disk free for the next size.
  rm -f "$features" "$data"
done

say "report"
mkdir -p "$(dirname "$FIGURE")"
"$PY" bench/scale_report.py "$RESULTS" "$BENCHMARKS_FILE" --figure "$FIGURE" \
  --command "$( [[ "$QUICK" == 1 ]] && echo 'QUICK=1 ' )make bench-scale"
say "done: $BENCHMARKS_FILE, $FIGURE"
