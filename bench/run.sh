#!/usr/bin/env bash
# Benchmarks side by side with the Python reference pipeline, in one run:
#   training (fraudctl train --learner cart vs scikit-learn RandomForest), batch scoring on
#   one core (features + predict vs a pandas/scikit-learn consumer), cold start and binary
#   size, and the generator (fraudctl generate vs numpy/pandas).
# Writes its sections of BENCHMARKS.md (the "Model quality" section of bench/compare.sh is
# kept) and the raw results as JSON under out/bench/results/.
#
# Usage: bench/run.sh                 full run (about 1M generated rows; ~20 min on 2 cores)
#        QUICK=1 bench/run.sh         small sizes (a few minutes); writes out/bench/BENCHMARKS.quick.md
# Knobs (environment): SEEDS (fixture training seeds, default "1 2 3"), FIXTURE (real data),
#   SKIP_FN_BUILD=1 (do not build the score function for its size), FN_SIZE_PROFILE=0 (do not
#   also build it with the deployed `lambda` profile, ~10 min from scratch), BENCHMARKS_FILE (output),
#   LATENCY=1 (then also run bench/latency.sh: end to end on the local stack, ~10 min).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/start.sh
source bench/lib/start.sh
WORK="out/bench"
[[ "$QUICK" == 1 ]] && WORK="out/bench-quick"
RESULTS="$WORK/results"
rm -rf "$RESULTS" "$WORK"/features-*.csv "$WORK"/model-* "$WORK"/*.joblib
mkdir -p "$RESULTS"
FIXTURE="${FIXTURE:-../shared/data/fraud_fixture.csv}"
TREES=300

if [[ "$QUICK" == 1 ]]; then
  CUSTOMERS=2000 DAYS=60 MAX_SAMPLES=50000 SCORE_CUSTOMERS=500 SCORE_DAYS=60 MESSAGES=100
  SEEDS="${SEEDS:-1}" COLD_REPEAT=3 SKIP_FN_BUILD="${SKIP_FN_BUILD:-1}"
  BENCHMARKS_FILE="${BENCHMARKS_FILE:-$WORK/BENCHMARKS.quick.md}"
else
  CUSTOMERS=10000 DAYS=85 MAX_SAMPLES=100000 SCORE_CUSTOMERS=2000 SCORE_DAYS=85 MESSAGES=500
  SEEDS="${SEEDS:-1 2 3}" COLD_REPEAT=7 SKIP_FN_BUILD="${SKIP_FN_BUILD:-0}"
  BENCHMARKS_FILE="${BENCHMARKS_FILE:-BENCHMARKS.md}"
fi
BATCH_ROWS="1:300,100:20000,10000:1000000"

say() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - RUN_STARTED)); }
# step NAME SECONDS: build/install times for the report.
step() { printf '%s %s\n' "$1" "$2" >> "$RESULTS/steps.txt"; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# --- Python reference ------------------------------------------------------------------
say "Python reference in bench/.venv"
started=$(date +%s)
source bench/lib/venv.sh
bench_venv
step python_install $(($(date +%s) - started))
MEASURE=("$PY" bench/measure.py)

# --- Builds ----------------------------------------------------------------------------
say "building fraudctl and the scoring example (release)"
started=$(date +%s)
cargo build --release --locked -p fraudctl
cargo build --release --locked -p fraud-core --example score_throughput
step rust_build $(($(date +%s) - started))
FRAUDCTL="$CARGO_TARGET_DIR/release/fraudctl"
SCORE_EXAMPLE="$CARGO_TARGET_DIR/release/examples/score_throughput"

FN_BUILT=0
if [[ "$SKIP_FN_BUILD" != 1 ]]; then
  say "building the score function (release) for its size"
  started=$(date +%s)
  if cargo build --release --locked -p fraud-fn-score; then
    step fn_build $(($(date +%s) - started))
    FN_BUILT=1
  else
    echo "the score function did not build: its size is left out"
  fi
fi
# The deployed build (`make lambda-build` uses the same `lambda` profile: fat LTO, one codegen
# unit, symbols stripped, dependencies at opt-level "s"), natively, for its size: the issue's
# binary target is about what ships. FN_SIZE_PROFILE=0 skips it (~10 min from scratch).
FN_SIZE_BIN=""
if [[ "${FN_SIZE_PROFILE:-1}" == 1 && "${SKIP_FN_BUILD:-0}" != 1 ]]; then
  say "building the score function with the deployed lambda profile"
  started=$(date +%s)
  if cargo build --profile lambda --locked -p fraud-fn-score; then
    FN_SIZE_BIN="$CARGO_TARGET_DIR/lambda/fraud-score"
    step fn_size_build $(($(date +%s) - started))
  fi
fi
FN_BIN="$CARGO_TARGET_DIR/release/fraud-score"
cp "$SCORE_EXAMPLE" "$WORK/score_throughput.stripped"
strip "$WORK/score_throughput.stripped"
fn_sizes=""
if [[ "$FN_BUILT" == 1 ]]; then
  cp "$FN_BIN" "$WORK/fraud-score.stripped"
  strip "$WORK/fraud-score.stripped"
  fn_sizes=$(printf '"fn_bytes": %d, "fn_stripped_bytes": %d, ' \
    "$(stat -c %s "$FN_BIN")" "$(stat -c %s "$WORK/fraud-score.stripped")")
fi
if [[ -n "$FN_SIZE_BIN" ]]; then
  fn_sizes+=$(printf '"fn_size_profile_bytes": %d, ' "$(stat -c %s "$FN_SIZE_BIN")")
fi
printf '{%s"example_bytes": %d, "example_stripped_bytes": %d}\n' "$fn_sizes" \
  "$(stat -c %s "$SCORE_EXAMPLE")" "$(stat -c %s "$WORK/score_throughput.stripped")" > "$RESULTS/binary.json"

# --- Machine facts ---------------------------------------------------------------------
"$PY" bench/machine.py "$RESULTS/machine.json" --load-key loadavg_start --numeric --quick "$QUICK"

# --- Generator (also makes the data) ---------------------------------------------------
say "generator: fraudctl generate vs numpy/pandas ($CUSTOMERS cards x $DAYS days)"
DATA="$WORK/generated.csv"
"${MEASURE[@]}" -- "$FRAUDCTL" generate --customers "$CUSTOMERS" --days "$DAYS" --seed 7 --out "$DATA" \
  > "$RESULTS/gen_ours.json"
ROWS=$(($(wc -l < "$DATA") - 1))
"${MEASURE[@]}" --env RAYON_NUM_THREADS=1 -- "$FRAUDCTL" generate --customers "$CUSTOMERS" --days "$DAYS" \
  --seed 7 --out "$WORK/generated-1thread.csv" > "$RESULTS/gen_ours_1thread.json"
cmp -s "$DATA" "$WORK/generated-1thread.csv" || echo "warning: 1-thread output differs"
rm -f "$WORK/generated-1thread.csv"
"${MEASURE[@]}" -- "$PY" bench/reference/gen_pandas.py --rows "$ROWS" --customers "$CUSTOMERS" --days "$DAYS" \
  --out "$WORK/generated-pandas.csv" > "$RESULTS/gen_pandas.json"
rm -f "$WORK/generated-pandas.csv"
SCORE_DATA="$WORK/scoring.csv"
"$FRAUDCTL" generate --customers "$SCORE_CUSTOMERS" --days "$SCORE_DAYS" --seed 99 --out "$SCORE_DATA" >/dev/null

# --- Training --------------------------------------------------------------------------
# train_pair NAME DATA SEED [MAX_SAMPLES]: ours and scikit-learn on the same data, split and trees.
train_pair() {
  local name=$1 data=$2 seed=$3 max_samples=${4:-}
  local ours_extra=() ref_extra=()
  if [[ -n "$max_samples" ]]; then
    ours_extra=(--max-samples "$max_samples")
    ref_extra=(--max-samples "$max_samples")
  fi
  [[ -f "$WORK/features-$name.csv" ]] || "$FRAUDCTL" features --data "$data" --out "$WORK/features-$name.csv" >/dev/null
  echo "  $name seed $seed: ours (load $(loadavg))"
  "${MEASURE[@]}" -- "$FRAUDCTL" train --learner cart --max-features 6 --trees "$TREES" --seed "$seed" "${ours_extra[@]}" \
    --data "$data" --out "$WORK/model-$name-$seed" > "$RESULTS/train_ours_${name}_$seed.json"
  echo "  $name seed $seed: scikit-learn (load $(loadavg))"
  "${MEASURE[@]}" -- "$PY" bench/reference/rf_train.py "${ref_extra[@]}" --save-model "$WORK/sklearn-$name-$seed.joblib" \
    -- "$WORK/features-$name.csv" --trees "$TREES" --seed "$seed" > "$RESULTS/train_sklearn_${name}_$seed.json"
}
if [[ -f "$FIXTURE" ]]; then
  say "training on the real fixture ($FIXTURE), seeds $SEEDS"
  for seed in $SEEDS; do train_pair fixture "$FIXTURE" "$seed"; done
else
  echo "no fixture at $FIXTURE: the real-data rows are left out"
fi
say "training on $ROWS generated rows (max_samples $MAX_SAMPLES on both sides)"
train_pair generated "$DATA" 1 "$MAX_SAMPLES"

# --- Batch scoring on one core ---------------------------------------------------------
# score_pair NAME MODEL_NAME DATA
score_pair() {
  local name=$1 model=$2 data=$3
  [[ -f "$WORK/features-score-$name.csv" ]] || "$FRAUDCTL" features --data "$data" --out "$WORK/features-score-$name.csv" >/dev/null
  local ours=("$SCORE_EXAMPLE" --model "$WORK/model-$model-1/model.json" --data "$data")
  local ref=("$PY" bench/reference/score_loop.py "$WORK/sklearn-$model-1.joblib" "$data"
    "$WORK/features-score-$name.csv" --messages "$MESSAGES" --batch-rows "$BATCH_ROWS")
  printf '%s\n' "${ours[*]}" "OMP_NUM_THREADS=1 ${ref[*]}" | sed "s#$CARGO_TARGET_DIR#\$CARGO_TARGET_DIR#g; s#$VENV/bin/python#python#g" \
    > "$RESULTS/score_cmds_$name.txt"
  echo "  $name: ours (load $(loadavg))"
  "${ours[@]}" > "$RESULTS/score_ours_$name.json"
  echo "  $name: Python reference (load $(loadavg))"
  OMP_NUM_THREADS=1 "${ref[@]}" > "$RESULTS/score_ref_$name.json"
}
say "batch scoring on one core"
score_pair generated generated "$SCORE_DATA"
[[ -f "$FIXTURE" ]] && score_pair fixture fixture "$FIXTURE"
# Our boosted trees (what `fraudctl train`'s default picks on the generated data): the
# same scoring path and data, no scikit-learn counterpart (see make compare for quality).
boosted_scoring() {
  local name=$1 train_data=$2 data=$3
  "$FRAUDCTL" train --learner gbm --seed 1 --no-report --data "$train_data" \
    --out "$WORK/model-$name-gbm-1" >/dev/null
  echo "  $name: ours, boosted trees (load $(loadavg))"
  "$SCORE_EXAMPLE" --model "$WORK/model-$name-gbm-1/model.json" --data "$data" \
    > "$RESULTS/score_ours_${name}_gbm.json"
  echo "$SCORE_EXAMPLE --model $WORK/model-$name-gbm-1/model.json --data $data" \
    | sed "s#$CARGO_TARGET_DIR#\$CARGO_TARGET_DIR#g" >> "$RESULTS/score_cmds_$name.txt"
}
boosted_scoring generated "$DATA" "$SCORE_DATA"
[[ -f "$FIXTURE" ]] && boosted_scoring fixture "$FIXTURE" "$FIXTURE"

# --- Cold start ------------------------------------------------------------------------
say "cold start: process start to first scored record"
TINY="$WORK/tiny.csv"
head -n 6 "$SCORE_DATA" > "$TINY"
for model in generated fixture; do
  [[ -d "$WORK/model-$model-1" ]] || continue
  "${MEASURE[@]}" --repeat "$COLD_REPEAT" -- "$SCORE_EXAMPLE" --model "$WORK/model-$model-1/model.json" \
    --data "$TINY" --first-only > "$RESULTS/cold_ours_$model.json"
  "${MEASURE[@]}" --repeat "$COLD_REPEAT" --env OMP_NUM_THREADS=1 -- "$PY" bench/reference/cold_start.py \
    "$WORK/sklearn-$model-1.joblib" "$TINY" > "$RESULTS/cold_ref_$model.json"
done

# --- Report ----------------------------------------------------------------------------
step total $(($(date +%s) - RUN_STARTED))
say "writing $BENCHMARKS_FILE"
"$PY" bench/report.py "$RESULTS" "$BENCHMARKS_FILE" \
  --command "$( [[ "$QUICK" == 1 ]] && echo "QUICK=1 ")bench/run.sh" --fixture "$FIXTURE" \
  --max-samples "$MAX_SAMPLES" --trees "$TREES"
say "done"
if [[ "${LATENCY:-0}" == 1 ]]; then
  say "end-to-end latency (bench/latency.sh)"
  QUICK="$QUICK" bash bench/latency.sh
fi
