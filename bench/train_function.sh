#!/usr/bin/env bash
# The train function at the real training file's size on the local stack (issue 21):
# generated data of about 1.3M rows (the issue's `fraudctl generate --customers 2000
# --days 540 --seed 11`) uploaded to LocalStack S3, then one training request through the
# Lambda Invoke API (`cargo lambda watch --release`, the function's own release build).
# Prints the invocation's wall time, the function's training seconds and the function
# process's peak resident memory (VmHWM), the figure the template's MemorySize is set from.
# The run log is left out (TRACK_FUNCTION_NAME names no function: the run is kept beside
# the artifact and `tracked` is false), so the time is the training's alone.
#
# Usage: bench/train_function.sh        (CUSTOMERS, DAYS, SEED, INVOKE_PORT to change it)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="out/bench/train-function"
CUSTOMERS="${CUSTOMERS:-2000}"
DAYS="${DAYS:-540}"
SEED="${SEED:-11}"
INVOKE_PORT="${INVOKE_PORT:-19011}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
say() { printf '\n== %s (load %s)\n' "$*" "$(cut -d' ' -f1 /proc/loadavg)"; }

bash localstack/stack.sh up > /dev/null
eval "$(bash localstack/stack.sh env)"
# shellcheck source=../scripts/lib/procs.sh
. scripts/lib/procs.sh
# shellcheck source=../scripts/lib/functions_env.sh
. scripts/lib/functions_env.sh
trap stop_started EXIT
rm -rf "$OUT"; mkdir -p "$OUT"

say "building fraudctl and the train function (release)"
cargo build --release --locked -p fraudctl -p fraud-fn-train 2>&1 | tail -n 1

say "generating $CUSTOMERS cards x $DAYS days (seed $SEED) and uploading to S3"
"$CARGO_TARGET_DIR/release/fraudctl" generate --customers "$CUSTOMERS" --days "$DAYS" --seed "$SEED" \
  --out "$OUT/train.csv" | tail -1
KEY="train/scale-$CUSTOMERS-$DAYS-$SEED.csv"
aws s3 cp --quiet "$OUT/train.csv" "s3://$FRAUD_DATA_BUCKET/$KEY"
BYTES=$(stat -c %s "$OUT/train.csv")
ROWS=$(($(wc -l < "$OUT/train.csv") - 1))
rm -f "$OUT/train.csv"

{ functions_env "$INVOKE_PORT" "$OUT"; echo "TRACK_FUNCTION_NAME=absent-run-log"; } > "$OUT/functions.env"
( set -a; . "$OUT/functions.env"; set +a
  exec cargo lambda watch --release --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
    --ignore-changes --env-file "$OUT/functions.env" ) > "$OUT/watch.log" 2>&1 &
pids+=($!)
wait_port "$INVOKE_PORT" "cargo lambda watch" 120 "$OUT/watch.log"

# cargo lambda watch builds the function on its first invocation: a request it refuses
# at once (no data) starts it, so the timed call below is training alone.
say "starting the function (a first request it refuses: no data)"
curl -sS --max-time 1800 -o "$OUT/warmup.json" -X POST \
  "http://127.0.0.1:$INVOKE_PORT/2015-03-31/functions/fraud-train/invocations" \
  -H 'content-type: application/json' --data-binary '{"data_uris":[]}'
grep -q 'data_uris' "$OUT/warmup.json" || { echo "unexpected warm-up answer: $(head -c 500 "$OUT/warmup.json")" >&2; exit 1; }

say "invoking fraud-train on s3://$FRAUD_DATA_BUCKET/$KEY ($ROWS rows, $((BYTES / 1048576)) MiB)"
started=$(date +%s.%N)
code=$(curl -sS --max-time 1800 -o "$OUT/train.json" -w '%{http_code}' -X POST \
  "http://127.0.0.1:$INVOKE_PORT/2015-03-31/functions/fraud-train/invocations" \
  -H 'content-type: application/json' \
  --data-binary "{\"data_uris\":[\"s3://$FRAUD_DATA_BUCKET/$KEY\"],\"force\":true}")
ended=$(date +%s.%N)
if [[ "$code" != 200 ]] || grep -q '"errorType"' "$OUT/train.json"; then
  echo "fraud-train failed (HTTP $code): $(head -c 2000 "$OUT/train.json")" >&2
  exit 1
fi
# The function process cargo lambda watch started (it stays up, warm, after the call).
fn_pid=$(pgrep -f "$CARGO_TARGET_DIR/release/fraud-train" | head -1 || true)
peak_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$fn_pid/status" 2>/dev/null || echo 0)

python3 - "$OUT/train.json" "$started" "$ended" "$peak_kb" "$ROWS" "$BYTES" <<'PY' | tee "$OUT/summary.txt"
import json, sys
r = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
peak_mb = int(sys.argv[4]) / 1024
rows, size = int(sys.argv[5]), int(sys.argv[6]) / 1048576
print(f"train function on {rows:,} rows ({size:.0f} MiB CSV in S3), one invocation through the Invoke API:")
print(f"  wall {wall:.1f} s (training {r['train_seconds']:.1f} s), peak RSS {peak_mb:,.0f} MB")
print(f"  model {r['model_version']} ({r['learner']}), test PR-AUC {r['test_pr_auc']:.4f}, F1 {r['test_f1']:.3f}, "
      f"{r['rejected']} rows rejected, promoted: {r['promoted']}")
print(f"  per million rows: {wall / rows * 1e6:.0f} s, {peak_mb / rows * 1e6:,.0f} MB")
print(json.dumps({"rows": rows, "csv_mib": round(size, 1), "wall_s": round(wall, 1),
                  "train_seconds": r["train_seconds"], "peak_rss_mb": round(peak_mb),
                  "learner": r["learner"], "test_pr_auc": r["test_pr_auc"]}))
PY
