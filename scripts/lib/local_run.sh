# The start the local end-to-end scripts (e2e, compat, faults) share. Source it from the
# repository root: BIN (the debug binaries of CARGO_TARGET_DIR, the shared cache unless
# set), `started` (for the closing time) and `step` (a section heading); then, with OUT
# set, `local_stack_up` starts the local stack (idempotent), takes its environment, picks
# a RUN_ID and empties OUT.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
BIN="$CARGO_TARGET_DIR/debug"
started=$SECONDS
step() { printf '\n== %s\n' "$*"; }

local_stack_up() {
  bash localstack/stack.sh up
  eval "$(bash localstack/stack.sh env)"
  RUN_ID="$(date +%s)-$$"
  rm -rf "$OUT"; mkdir -p "$OUT"
}

# build_local_bins: the toolchain check, then every debug binary the local runs start.
build_local_bins() {
  bash scripts/check-toolchain.sh
  cargo build --locked --bins 2>&1 | tail -n 2
}

# create_run_topic TOPIC: a payments topic of the run's own, 3 partitions (like a fresh
# event source mapping: other writers of the shared topic never leak into the run).
create_run_topic() {
  "${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}/venv/stack/bin/python" - "$KAFKA_BROKERS" "$1" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in admin.create_topics([NewTopic(sys.argv[2], num_partitions=3, replication_factor=1)]).values():
    f.result(30)
PY
}

# start_watch_on PORT CONCURRENCY: every function behind the Lambda Invoke API (cargo
# lambda watch) with the run's $OUT/functions.env; waits until it listens. Needs procs.sh.
start_watch_on() {
  ( set -a; . "$OUT/functions.env"; set +a
    exec cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$1" --concurrency "$2" \
      --ignore-changes --env-file "$OUT/functions.env" ) > "$OUT/watch.log" 2>&1 &
  pids+=($!)
  wait_port "$1" watch 120 "$OUT/watch.log"
}

# invoke FUNCTION PAYLOAD_JSON OUTFILE: one synchronous invoke on the run's Invoke API
# ($INVOKE_PORT); fails, printing the answer, on an HTTP error or an error document.
invoke() {
  local code
  code=$(curl -sS -o "$3" -w '%{http_code}' -X POST "http://127.0.0.1:$INVOKE_PORT/2015-03-31/functions/$1/invocations" \
    -H 'content-type: application/json' --data-binary "$2")
  if [[ "$code" != 200 ]] || grep -q '"errorType"' "$3"; then
    echo "$1 failed (HTTP $code): $(head -c 2000 "$3")" >&2; return 1
  fi
}
