#!/usr/bin/env bash
# End-to-end latency on the local stack (issue 8, part 3), ours vs the Python reference.
#
#   ours:    fraud-bridge produce (paced, ingest's message format and producer) → Kafka
#            → fraud-bridge kafka (the event source mapping) → Lambda Invoke API
#            (cargo lambda watch --release) → fraud-score → Postgres ledger + S3 results +
#            scored topic + SQS alerts → fraud-bridge sqs → fraud-notify → webhook sink
#   Python:  the same producer and broker → bench/reference/kafka_consumer.py (confluent-kafka,
#            per-message features + scikit-learn predict_proba) → its own scored topic
#
# Latency per payment = its scored record's Kafka timestamp − the payment's (publish) time;
# for ours also publish → alert received by the webhook. Both read by `fraud-bridge latency`.
# Each rate runs on a fresh topic, one side at a time (never both at once: 2 cores).
# Writes the "End to end" section of BENCHMARKS.md and out/bench-latency/results/*.json.
# The broker is the stack's, on its storage (the default that users get: Tansu on s3://tansu/
# in LocalStack; FRAUD_STACK_KAFKA_STORAGE=memory://tansu/ on a stack started for it), named in
# every table; the score function's step timings (`batch scored`) per run go to
# logs/score-NAME.log and a table of their own.
#
# Usage: bench/latency.sh             rates 1k and 10k msg/s for 20 s each, plus a step search
#        QUICK=1 bench/latency.sh     a smoke run (1k msg/s for 5 s, Python at 50/s for 5 s);
#                                     writes out/bench-latency-quick/BENCHMARKS.latency.md
# Knobs (environment): RATES ("1000 10000"), DURATION (20), STEP_RATES (ours, "50 2000 5000";
#   50 is also a Python step, for a like-for-like row at a rate both sustain),
#   PY_RATES (the Python side's rates, RATES; empty to run ours alone, e.g. comparing two
#   builds of ours), PY_STEP_RATES ("25 50 100"), STEP_DURATION (10), BATCH_SIZE (500), MAX_WAIT_MS (5),
#   FETCH_WAIT_MS (consumers' fetch.wait.max.ms on both sides, 10; empty for librdkafka's 500),
#   DRAIN_SECS (how long after publishing a side may take to catch up, 30),
#   BRIDGE_CONCURRENCY (the Kafka bridge's --concurrency: 0 = one invocation per partition,
#   1 = one invocation per batch; 1), WATCH_CONCURRENCY (cargo lambda watch's --concurrency,
#   function instances at once; 3 = the bench topics' partitions), SINK_PORT,
#   INVOKE_PORT, BENCHMARKS_FILE; the stack's own FRAUD_STACK_* variables choose which stack;
#   KAFKA_LINGER_MS, KAFKA_COMPRESSION, when set, go to the score function (its producer).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/start.sh
source bench/lib/start.sh
if [[ "$QUICK" == 1 ]]; then
  WORK="out/bench-latency-quick"
  RATES="${RATES:-1000}" DURATION="${DURATION:-5}" STEP_RATES="${STEP_RATES:-}"
  PY_STEP_RATES="${PY_STEP_RATES-50}" STEP_DURATION="${STEP_DURATION:-5}"
  TRAIN_CUSTOMERS=300 TRAIN_DAYS=60 TREES=100
  BENCHMARKS_FILE="${BENCHMARKS_FILE:-$WORK/BENCHMARKS.latency.md}"
else
  WORK="out/bench-latency"
  RATES="${RATES:-1000 10000}" DURATION="${DURATION:-20}" STEP_RATES="${STEP_RATES-50 2000 5000}"
  PY_STEP_RATES="${PY_STEP_RATES-25 50 100}" STEP_DURATION="${STEP_DURATION:-10}"
  TRAIN_CUSTOMERS=1000 TRAIN_DAYS=60 TREES=300
  BENCHMARKS_FILE="${BENCHMARKS_FILE:-BENCHMARKS.md}"
fi
PY_RATES="${PY_RATES-$RATES}"
BATCH_SIZE="${BATCH_SIZE:-500}"
MAX_WAIT_MS="${MAX_WAIT_MS:-5}"
# librdkafka's fetch.wait.max.ms for both sides' consumers (empty: librdkafka's 500 ms).
FETCH_WAIT_MS="${FETCH_WAIT_MS-10}"
DRAIN_SECS="${DRAIN_SECS:-30}"
BRIDGE_CONCURRENCY="${BRIDGE_CONCURRENCY:-1}"
WATCH_CONCURRENCY="${WATCH_CONCURRENCY:-3}"
SINK_PORT="${SINK_PORT:-18401}"
INVOKE_PORT="${INVOKE_PORT:-19401}"
RESULTS="$WORK/results"
rm -rf "$WORK"
mkdir -p "$RESULTS" "$WORK/logs" "$WORK/data"
RUN_ID="$(date +%s)"
SCORED_TOPIC="bench.scored"
PY_SCORED_TOPIC="bench.scored.python"

say() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - RUN_STARTED)); }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# shellcheck source=../scripts/lib/procs.sh
. scripts/lib/procs.sh
trap stop_started EXIT
wait_line() { # file pattern seconds
  for _ in $(seq 1 $(($3 * 5))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "no '$2' in $1 after $3 s" >&2; return 1
}

say "local stack (LocalStack, Kafka, PostgreSQL)"
bash localstack/stack.sh up
eval "$(bash localstack/stack.sh env)"

say "Python reference in bench/.venv"
source bench/lib/venv.sh
bench_venv
# shellcheck source=lib/models.sh
source bench/lib/models.sh

say "building (release): fraud-bridge, fraud-score, fraud-notify, fraudctl"
cargo build --release --locked -p fraud-bridge -p fraud-fn-score -p fraud-fn-notify -p fraudctl 2>&1 | tail -n 2
BIN="$CARGO_TARGET_DIR/release"
BRIDGE="$BIN/fraud-bridge"

say "models: ours and scikit-learn's on the same generated data ($TREES trees each)"
train_models "$WORK" "$RESULTS/sklearn_train.json" "$TRAIN_CUSTOMERS" "$TRAIN_DAYS" "$TREES"
# Promote ours as the train function would: artifact under models/<version>/, then the pointer.
promote_model "$WORK/model/model.json" "$FRAUD_MODELS_BUCKET" "$WORK"
echo "  ours: model $VERSION promoted; scikit-learn: $WORK/sklearn.joblib"

say "functions behind the Lambda Invoke API (cargo lambda watch --release), webhook sink, SQS bridge"
export WEBHOOK_SECRET="bench-$RUN_ID"
cat > "$WORK/functions.env" <<ENV
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_REGION=$AWS_REGION
AWS_EC2_METADATA_DISABLED=true
KAFKA_BROKERS=$KAFKA_BROKERS
KAFKA_TOPIC_SCORED=$SCORED_TOPIC
DATABASE_URL=$DATABASE_URL
FRAUD_MODELS_BUCKET=$FRAUD_MODELS_BUCKET
FRAUD_RESULTS_BUCKET=$FRAUD_RESULTS_BUCKET
FRAUD_ALERTS_QUEUE_URL=$FRAUD_ALERTS_QUEUE_URL
WEBHOOK_URL=http://127.0.0.1:$SINK_PORT/alerts
WEBHOOK_SECRET=$WEBHOOK_SECRET
MODEL_CHECK_SECS=30
MODEL_CACHE_DIR=$PWD/$WORK/model-cache
RUST_LOG=info
${KAFKA_LINGER_MS:+KAFKA_LINGER_MS=$KAFKA_LINGER_MS}
${KAFKA_COMPRESSION:+KAFKA_COMPRESSION=$KAFKA_COMPRESSION}
ENV
"$BRIDGE" webhook-sink --addr "127.0.0.1:$SINK_PORT" --secret "$WEBHOOK_SECRET" \
  --out "$WORK/alerts.jsonl" > "$WORK/logs/sink.log" 2>&1 &
pids+=($!)
( set -a; . "$WORK/functions.env"; set +a
  exec cargo lambda watch --release --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
    --concurrency "$WATCH_CONCURRENCY" --ignore-changes --env-file "$WORK/functions.env" ) > "$WORK/logs/watch.log" 2>&1 &
pids+=($!)
wait_port "$SINK_PORT" sink 180 "$WORK/logs/sink.log"; wait_port "$INVOKE_PORT" watch 180 "$WORK/logs/watch.log"
# The first invocation of each function starts it (and builds it if cargo lambda watch's
# build differs from ours): done here, outside any measurement.
for fn_event in 'fraud-score {"eventSource":"SelfManagedKafka","bootstrapServers":"local","records":{}}' \
                'fraud-notify {"Records":[]}'; do
  fn=${fn_event%% *}
  echo "  starting $fn"
  curl -sS --max-time 1200 -o "$WORK/logs/start-$fn.json" -X POST -H 'content-type: application/json' \
    "http://127.0.0.1:$INVOKE_PORT/2015-03-31/functions/$fn/invocations" --data-binary "${fn_event#* }"
  if grep -q errorType "$WORK/logs/start-$fn.json"; then
    echo "$fn failed to start: $(head -c 1000 "$WORK/logs/start-$fn.json")" >&2; exit 1
  fi
done
"$BRIDGE" sqs --function fraud-notify --lambda-endpoint "http://127.0.0.1:$INVOKE_PORT" \
  --queue-url "$FRAUD_ALERTS_QUEUE_URL" --visibility-timeout 5 > "$WORK/logs/bridge-sqs.out" 2> "$WORK/logs/bridge-sqs.log" &
pids+=($!)

# payments ROWS SEED OUT: a fresh generated file (fresh trans_nums, so the ledger of an
# earlier run never turns a payment into a duplicate), about 100 payments per card.
payments() {
  local customers=$(( ($1 * 115 / 100 + 99) / 100 ))
  "$BIN/fraudctl" generate --customers "$((customers < 50 ? 50 : customers))" --days 85 \
    --seed "$2" --out "$3" >/dev/null 2>&1
}

create_topic() { # NAME...: 3 partitions each, like the stack's payments topic; an existing one is kept
  "$PY" - "$KAFKA_BROKERS" "$@" <<'PY'
import sys
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for future in admin.create_topics([NewTopic(name, 3, 1) for name in sys.argv[2:]]).values():
    try:
        future.result(30)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
PY
}
# The scored topics are shared by every run (a broker does not always create topics on
# first use: Tansu's sqlite:// storage does not).
create_topic "$SCORED_TOPIC" "$PY_SCORED_TOPIC"

# start_run SIDE NAME RATE SECONDS TOPIC CSV SEED_EXTRA: sets n (RATE × SECONDS) and writes
# that many payments to CSV (seeded by the run, the rate, the seconds and SEED_EXTRA), then
# creates TOPIC.
start_run() {
  n=$("$PY" -c "print(round($3 * $4))")
  payments "$n" "$((RUN_ID % 100000 + $3 + $4 + $7))" "$6"
  create_topic "$5" || return 1
  echo "  $1 $2: $n payments at $3 msg/s (load $(loadavg))"
}

# scored_end SCORED_TOPIC SOURCE_TOPIC LOG: where SCORED_TOPIC ends now (empty when it
# cannot be read): a run's collector reads from there, not through every earlier run's
# records (slow on S3 storage; the topic is shared with other runs).
scored_end() {
  local end; end=$("$BRIDGE" latency --topic "$1" --source-topic "$2" --expect 0 \
    --print-end-offsets 2> "$3") || end=""
  echo "$end"
}

# run_ours NAME RATE SECONDS
run_ours() {
  local name=$1 rate=$2 secs=$3 topic="bench-$RUN_ID-ours-$1" n
  start_run ours "$name" "$rate" "$secs" "$topic" "$WORK/data/$name.csv" 0 || return 1
  # The score function's `batch scored` lines of this run (its step timings): from here on.
  local score_from; score_from=$(($(wc -l < "$WORK/logs/watch.log") + 1))
  "$BRIDGE" kafka --function fraud-score --lambda-endpoint "http://127.0.0.1:$INVOKE_PORT" \
    --topic "$topic" --group "bench-$RUN_ID-$name" --batch-size "$BATCH_SIZE" --max-wait-ms "$MAX_WAIT_MS" \
    --concurrency "$BRIDGE_CONCURRENCY" ${FETCH_WAIT_MS:+--fetch-wait-max-ms "$FETCH_WAIT_MS"} > "$WORK/logs/bridge-kafka-$name.out" 2> "$WORK/logs/bridge-kafka-$name.log" &
  local bridge=$!
  pids+=("$bridge")
  wait_line "$WORK/logs/bridge-kafka-$name.log" "partitions assigned" 60 || return 1
  local scored_from; scored_from=$(scored_end "$SCORED_TOPIC" "$topic" "$WORK/logs/offsets-$name.log")
  "$BRIDGE" produce --topic "$topic" --data "$WORK/data/$name.csv" --rate "$rate" --duration-secs "$secs" \
    > "$RESULTS/produce_ours_$name.json" 2> >(tee "$WORK/logs/produce-$name.log" | grep -E "^produce: +[0-9]*[05]\.0 s|sent [0-9]+ in" | sed 's/^/    /' >&2)
  "$BRIDGE" latency --topic "$SCORED_TOPIC" --source-topic "$topic" --expect "$n" --alerts "$WORK/alerts.jsonl" \
    --from-offsets "$scored_from" \
    --idle-exit-secs 5 --timeout-secs "$DRAIN_SECS" > "$RESULTS/latency_ours_$name.json" 2> "$WORK/logs/latency-ours-$name.log"
  kill -INT "$bridge" 2>/dev/null || true
  wait "$bridge" 2>/dev/null || true
  tail -n "+$score_from" "$WORK/logs/watch.log" | grep '"batch scored"' > "$WORK/logs/score-$name.log" || true
  sed 's/^/    /' "$WORK/logs/bridge-kafka-$name.out"
  tail -n 1 "$WORK/logs/latency-ours-$name.log" | sed 's/^/    /'
}

# run_python NAME RATE SECONDS
run_python() {
  local name=$1 rate=$2 secs=$3 topic="bench-$RUN_ID-py-$1" n
  start_run Python "$name" "$rate" "$secs" "$topic" "$WORK/data/py-$name.csv" 7 || return 1
  rm -f "$WORK/py-ready"
  OMP_NUM_THREADS=1 "$PY" bench/reference/kafka_consumer.py "$WORK/sklearn.joblib" --brokers "$KAFKA_BROKERS" \
    --topic "$topic" --scored-topic "$PY_SCORED_TOPIC" --expect "$n" --max-seconds "$((secs + DRAIN_SECS))" \
    --ready-file "$WORK/py-ready" ${FETCH_WAIT_MS:+--fetch-wait-max-ms "$FETCH_WAIT_MS"} > "$RESULTS/consumer_py_$name.json" 2> "$WORK/logs/consumer-py-$name.log" &
  local consumer=$!
  pids+=("$consumer")
  for _ in $(seq 1 300); do [[ -f "$WORK/py-ready" ]] && break; sleep 0.2; done
  [[ -f "$WORK/py-ready" ]] || { echo "the Python consumer did not get its partitions" >&2; exit 1; }
  local scored_from; scored_from=$(scored_end "$PY_SCORED_TOPIC" "$topic" "$WORK/logs/offsets-py-$name.log")
  "$BRIDGE" produce --topic "$topic" --data "$WORK/data/py-$name.csv" --rate "$rate" --duration-secs "$secs" \
    > "$RESULTS/produce_py_$name.json" 2> >(tee "$WORK/logs/produce-py-$name.log" | grep -E "sent [0-9]+ in" | sed 's/^/    /' >&2)
  wait "$consumer" || true
  "$BRIDGE" latency --topic "$PY_SCORED_TOPIC" --source-topic "$topic" --expect "$n" --from-offsets "$scored_from" \
    --idle-exit-secs 3 --timeout-secs 30 > "$RESULTS/latency_py_$name.json" 2> "$WORK/logs/latency-py-$name.log"
  tail -n 1 "$WORK/logs/latency-py-$name.log" | sed 's/^/    /'
}

say "warm-up (not measured): score and notify started, model loaded, connections open"
run_ours warmup 100 3 > "$WORK/logs/warmup.txt" 2>&1 || { cat "$WORK/logs/warmup.txt"; exit 1; }
tail -n 2 "$WORK/logs/warmup.txt"

# run_rates RUNNER SIDE HEADING PREFIX SECONDS NOTE RATES...: one RUNNER run (run_ours,
# run_python) per rate, named PREFIX<rate>, announced as "HEADING <rate> msg/s for SECONDS
# sNOTE"; the first failure ends the benchmark.
run_rates() {
  local runner=$1 side=$2 heading=$3 prefix=$4 secs=$5 note=$6 rate
  shift 6
  for rate in "$@"; do
    say "$heading $rate msg/s for $secs s$note"
    "$runner" "$prefix$rate" "$rate" "$secs" || { echo "$side at $rate msg/s failed" >&2; exit 1; }
  done
}
# shellcheck disable=SC2086 # the rate lists split into words
{
  run_rates run_ours ours "ours at" r "$DURATION" " (batch size $BATCH_SIZE, max wait $MAX_WAIT_MS ms)" $RATES
  run_rates run_ours ours "ours, step search:" step "$STEP_DURATION" "" $STEP_RATES
  run_rates run_python Python "Python reference at" r "$DURATION" "" $PY_RATES
  run_rates run_python Python "Python reference, step search:" step "$STEP_DURATION" "" $PY_STEP_RATES
}

# --- Report ---------------------------------------------------------------------------
"$PY" bench/machine.py "$RESULTS/machine.json" --load-key loadavg_end --kafka
# The broker's storage engine, from the running Tansu (the stack may have been started earlier).
KAFKA_STORAGE_USED=$(ps -eo args | grep "[t]ansu broker .*:${KAFKA_BROKERS##*:} " | grep -o -- '--storage-engine [^ ]*' \
  | cut -d' ' -f2 | head -n 1)
say "writing $BENCHMARKS_FILE"
"$PY" bench/latency_report.py "$RESULTS" "$BENCHMARKS_FILE" \
  --command "$( [[ "$QUICK" == 1 ]] && echo "QUICK=1 ")bench/latency.sh" \
  --batch-size "$BATCH_SIZE" --max-wait-ms "$MAX_WAIT_MS" --fetch-wait-ms "${FETCH_WAIT_MS:-500}" --rates "$RATES" --duration "$DURATION" \
  --step-duration "$STEP_DURATION" --drain-secs "$DRAIN_SECS" --trees "$TREES" \
  --kafka-storage "$KAFKA_STORAGE_USED" --logs "$WORK/logs"
say "done"
