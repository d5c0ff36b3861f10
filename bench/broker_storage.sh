#!/usr/bin/env bash
# The Kafka broker's storage engines side by side, with no pipeline code (issue 23).
#
# For each storage, a Tansu broker of its own on a spare port (the stack's Tansu binary), then
# bench/broker_probe.py: RECORDS records at RATE msg/s over PARTITIONS partitions with the
# project's producer settings (idempotent, acks=all, linger.ms=5; confluent-kafka), produce
# acknowledgement p50/p95/p99, then the topic read back from offset 0 (records/s, all back?).
# ROUNDS rounds, storages alternated within a round.
#
#   s3://        Tansu's object-store engine on LocalStack S3 (the stack's default storage;
#                bucket tansu-probe, created here)
#   sqlite://    Tansu's libSQL engine: one local SQLite file. The stack's Tansu (the PyPI
#                wheel) has no libSQL; build one and pass it as TANSU (tens of minutes):
#                cargo install tansu --version 0.6.0 --locked --no-default-features \
#                  --features libsql,dynostore --root /tmp/tansu-lite
#                TANSU=/tmp/tansu-lite/bin/tansu bench/broker_storage.sh
#                Without it the sqlite rows say "broker did not start".
#   memory://    Tansu's in-memory engine (topics lost when the broker stops)
#
# Usage: bench/broker_storage.sh            (RECORDS=10000 RATE=1000 PARTITIONS=3 ROUNDS=2)
# Knobs: RECORDS, RATE, PARTITIONS, ROUNDS, READ_SECS (30), STORAGES ("s3 sqlite memory"),
#        PORT (19392), OUT (out/bench-broker). Needs the local stack (for LocalStack S3).
# Writes $OUT/results.jsonl and prints a table (markdown) to stdout and $OUT/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${RECORDS:-10000}" RATE="${RATE:-1000}" PARTITIONS="${PARTITIONS:-3}"
ROUNDS="${ROUNDS:-2}" READ_SECS="${READ_SECS:-30}" PORT="${PORT:-19392}"
STORAGES="${STORAGES:-s3 sqlite memory}"
OUT="${OUT:-out/bench-broker}"
rm -rf "$OUT" && mkdir -p "$OUT"

bash localstack/stack.sh up >"$OUT/stack.log" 2>&1 || { tail -20 "$OUT/stack.log"; exit 1; }
eval "$(bash localstack/stack.sh env)"
TANSU="${TANSU:-$FRAUD_STACK_DIR/bin/tansu}"
# shellcheck source=../scripts/lib/procs.sh
. scripts/lib/procs.sh
# shellcheck source=lib/venv.sh
. bench/lib/venv.sh
bench_venv

broker_pid=""
stop_broker() {
  if [[ -n $broker_pid ]]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
  fi
}
trap stop_broker EXIT

start_broker() { # storage-kind
  local kind=$1 url dir="$OUT/broker-$1"
  rm -rf "$dir" && mkdir -p "$dir"
  case "$kind" in
    s3)
      url="s3://tansu-probe/"
      aws s3api head-bucket --bucket tansu-probe >/dev/null 2>&1 ||
        aws s3api create-bucket --bucket tansu-probe >/dev/null || return 1
      ;;
    sqlite) url="sqlite://tansu.db" ;;
    memory) url="memory://tansu/" ;;
    *) echo "unknown storage $kind" >&2; return 1 ;;
  esac
  (cd "$dir" && exec env AWS_ENDPOINT="$AWS_ENDPOINT_URL" AWS_ALLOW_HTTP=true \
    "$TANSU" broker --listener-url "tcp://127.0.0.1:$PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$PORT" --storage-engine "$url" \
    >"broker.log" 2>&1) &
  broker_pid=$!
  wait_port "$PORT" "Tansu on $url" 10 "$dir/broker.log" && return 0
  tail -5 "$dir/broker.log" >&2
  return 1
}

for round in $(seq 1 "$ROUNDS"); do
  for kind in $STORAGES; do
    printf '== round %s: %s (load %s)\n' "$round" "$kind" "$(cut -d' ' -f1 /proc/loadavg)"
    if ! start_broker "$kind"; then
      echo "{\"storage\": \"$kind\", \"round\": $round, \"error\": \"broker did not start\"}" >>"$OUT/results.jsonl"
      continue
    fi
    line="$("$PY" bench/broker_probe.py "127.0.0.1:$PORT" "$RECORDS" "$RATE" "$PARTITIONS" "$READ_SECS")"
    stop_broker
    echo "$line"
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(storage=sys.argv[2], round=int(sys.argv[3])); print(json.dumps(d))' \
      "$line" "$kind" "$round" >>"$OUT/results.jsonl"
  done
done

"$PY" - "$OUT/results.jsonl" <<'PY' | tee "$OUT/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| storage | round | records at rate | produce ack p50 / p95 / p99 / max | acked | read back from offset 0 |")
print("|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print(f"| `{r['storage']}` | {r['round']} | | {r['error']} | | |")
        continue
    f = lambda v: "–" if v is None else f"{v:,.0f}"
    back = f"{r['read']:,} of {r['records'] + r['partitions']:,} in {r['read_secs']} s ({f(r['read_per_sec'])}/s)"
    if not r["read_all"]:
        back = "**" + back + ", stopped**"
    print(f"| `{r['storage']}` | {r['round']} | {r['records']:,} at {r['rate']:,}/s, {r['partitions']} partitions "
          f"| {f(r['ack_p50_ms'])} / {f(r['ack_p95_ms'])} / {f(r['ack_p99_ms'])} / {f(r['ack_max_ms'])} ms "
          f"| {r['acked']:,} | {back} |")
PY
