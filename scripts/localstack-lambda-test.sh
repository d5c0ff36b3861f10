#!/usr/bin/env bash
# Our Lambda functions running inside LocalStack without Docker (runtime executor
# "process": localstack/process-executor + local/lambda-process-init).
#   invoke (track, train -> track), SQS event source -> notify (partial batch failure,
#   redrive to DLQ), EventBridge schedule -> ingest, timeout/crash handling, CloudWatch
#   Logs; prints cold start and warm invoke p50. See tests/localstack-lambda/run.py.
#   Then deploys template.yaml through CloudFormation (tests/localstack-lambda/sam_deploy.py).
#
# Usage: scripts/localstack-lambda-test.sh
# Env:   FUNCTION_BIN_DIR  use prebuilt fraud-{ingest,notify,train,track}, fraudctl,
#                          payments-sim, fraud-bridge from this dir (default: cargo build
#                          --locked --bins, the same build as scripts/e2e.sh, debug profile)
#        CARGO_LAMBDA_DIR  take the function zips from `cargo lambda build --output-format zip`
#                          (<dir>/<binary>/bootstrap.zip, e.g. $CARGO_TARGET_DIR/lambda; build
#                          for the host: --compiler cargo --x86-64|--arm64; release, since a
#                          debug train is over the 250 MB limit) instead of zipping the above
#        SIM_PORT (18100) SINK_PORT (18101)  ports of the payments API simulator / webhook sink
#        TEST_TIMEOUT (900) seconds for the whole run; OUT (out/localstack-lambda); KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out/localstack-lambda}"
SIM_PORT="${SIM_PORT:-18100}"
SINK_PORT="${SINK_PORT:-18101}"
TEST_TIMEOUT="${TEST_TIMEOUT:-900}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
log() { printf '[lambda-test] %s\n' "$*" >&2; }
started=$SECONDS

bash localstack/stack.sh up >/dev/null
eval "$(bash localstack/stack.sh env)"
VENV_PY="$FRAUD_STACK_DIR/venv/stack/bin/python"

# LocalStack must run with our executor (a LocalStack started before it was installed
# keeps Docker's): say so instead of failing on every function.
ls_pid="$(cat "$FRAUD_STACK_DIR/run/localstack.pid" 2>/dev/null || true)"
if [[ -n $ls_pid && -r /proc/$ls_pid/environ ]] &&
    ! tr '\0' '\n' <"/proc/$ls_pid/environ" | grep -qx 'LAMBDA_RUNTIME_EXECUTOR=process'; then
  log "LocalStack (pid $ls_pid) runs without LAMBDA_RUNTIME_EXECUTOR=process; restart it: localstack/stack.sh down && localstack/stack.sh up"
  exit 1
fi

rm -rf "$OUT"; mkdir -p "$OUT/zips"
if [[ -n ${FUNCTION_BIN_DIR:-} ]]; then
  BIN="$FUNCTION_BIN_DIR"
else
  log "building (cargo build --locked --bins)"
  cargo build --locked --bins 2>&1 | tail -n 2
  BIN="$CARGO_TARGET_DIR/debug"
fi

# Zips as Lambda wants them (and `cargo lambda build --output-format zip` makes them):
# the executable `bootstrap` at the root. Debug info is stripped: a debug build of train
# is over Lambda's 250 MB unzipped limit, which LocalStack enforces too.
FUNCTIONS=(fraud-ingest fraud-score fraud-notify fraud-train fraud-track)
zip_binaries() {
  mkdir -p "$OUT/stage"
  local f
  for f in "${FUNCTIONS[@]}"; do
    if command -v strip >/dev/null 2>&1; then
      strip --strip-debug -o "$OUT/stage/$f" "$BIN/$f"
    else
      cp "$BIN/$f" "$OUT/stage/$f"
    fi
  done
  "$VENV_PY" - "$OUT/stage" "$OUT/zips" "${FUNCTIONS[@]}" <<'PY'
import os, sys, zipfile
src, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
for name in names:
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(os.path.join(src, name), "rb") as f, zipfile.ZipFile(os.path.join(dest, name + ".zip"), "w") as z:
        z.writestr(info, f.read(), compresslevel=1)
PY
  rm -rf "$OUT/stage"
}
if [[ -n ${CARGO_LAMBDA_DIR:-} ]]; then
  for f in "${FUNCTIONS[@]}"; do
    [[ -f $CARGO_LAMBDA_DIR/$f/bootstrap.zip ]] || { log "missing $CARGO_LAMBDA_DIR/$f/bootstrap.zip"; exit 1; }
    cp "$CARGO_LAMBDA_DIR/$f/bootstrap.zip" "$OUT/zips/$f.zip"
  done
else
  zip_binaries
fi

# shellcheck source=lib/procs.sh
. scripts/lib/procs.sh
trap stop_started EXIT

WEBHOOK_SECRET="lambda-test-$$"
"$BIN/fraud-bridge" webhook-sink --addr "127.0.0.1:$SINK_PORT" --secret "$WEBHOOK_SECRET" --out "$OUT/alerts.jsonl" >"$OUT/sink.log" 2>&1 &
pids+=($!)
"$BIN/payments-sim" --addr "127.0.0.1:$SIM_PORT" --batch-size 50 --customers 200 --start 2019-05-01 --seed 11 >"$OUT/sim.log" 2>&1 &
pids+=($!)
"$BIN/fraudctl" generate --customers 300 --days 60 --seed 7 --out "$OUT/train.csv" >"$OUT/generate.log" 2>&1
wait_port "$SINK_PORT" sink 60 "$OUT/sink.log"
wait_port "$SIM_PORT" sim 60 "$OUT/sim.log"

rc=0
ZIP_DIR="$OUT/zips" SIM_URL="http://127.0.0.1:$SIM_PORT" WEBHOOK_URL="http://127.0.0.1:$SINK_PORT/alerts" \
  WEBHOOK_SECRET="$WEBHOOK_SECRET" SINK_OUT="$OUT/alerts.jsonl" TRAIN_CSV="$OUT/train.csv" \
  timeout --kill-after=10 "$TEST_TIMEOUT" "$VENV_PY" tests/localstack-lambda/run.py || rc=$?
((rc == 124)) && log "FAIL: the run exceeded TEST_TIMEOUT=${TEST_TIMEOUT}s"

# template.yaml itself through CloudFormation (SAM transform applied locally; see the file).
rc2=0
ZIP_DIR="$OUT/zips" SIM_URL="http://127.0.0.1:$SIM_PORT" WEBHOOK_URL="http://127.0.0.1:$SINK_PORT/alerts" \
  WEBHOOK_SECRET="$WEBHOOK_SECRET" \
  timeout --kill-after=10 600 "$VENV_PY" tests/localstack-lambda/sam_deploy.py || rc2=$?
((rc2 == 124)) && log "FAIL: the SAM deploy exceeded 600s"
((rc == 0)) && rc=$rc2
log "done in $((SECONDS - started))s (exit $rc)"
exit "$rc"
