#!/usr/bin/env bash
# Compatibility with other teams' producers, on the local stack: Python producers
# (confluent-kafka and kafka-python, tests/compat/) poll the payments API simulator and
# write its payments to Kafka in every encoding they may use (the API's JSON string,
# split frames of any size and column order, frames wrapped in an object, flat objects
# with each kind of time field, and values that must be refused), with every key mode.
# The Kafka event source (fraud-bridge) feeds them to the score function behind the
# Lambda Invoke API; then every trans_num must be scored exactly once, or dead-lettered
# with a reason, as tests/compat/payment_encodings.py expects. Exit 1 on any mismatch.
#
# Usage: scripts/compat.sh
# Env: OUT (default out/compat), MESSAGES (per encoding and client, default 2),
#      SIM_PORT (18200), INVOKE_PORT (19201), RETRAIN=1 to train even if the current
#      model loads.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/functions_env.sh
. scripts/lib/functions_env.sh
OUT="${OUT:-out/compat}"
MESSAGES="${MESSAGES:-2}"
SIM_PORT="${SIM_PORT:-18200}"
INVOKE_PORT="${INVOKE_PORT:-19201}"
# shellcheck source=lib/local_run.sh
. scripts/lib/local_run.sh

step "1. Local services, producers' venv, build"
local_stack_up
# The producers' own venv (pinned client libraries, the machine's python3), beside the
# stack's venv but separate from it: changing that one would force a LocalStack reinstall.
VENV="${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}/venv/compat"
REQS=tests/compat/requirements.txt
if ! cmp -s "$REQS" "$VENV/requirements.txt" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQS"
  cp "$REQS" "$VENV/requirements.txt"
fi
PY="$VENV/bin/python"
"$PY" -c 'import confluent_kafka, kafka; print("  producers: confluent-kafka", confluent_kafka.__version__, "(librdkafka", confluent_kafka.libversion()[0] + "), kafka-python", kafka.__version__)'
bash scripts/check-toolchain.sh
cargo build --locked -p fraud-bridge -p payments-sim -p fraudctl -p fraud-fn-score -p fraud-fn-train -p fraud-fn-track 2>&1 | tail -n 1

# shellcheck source=lib/procs.sh
. scripts/lib/procs.sh
trap stop_started EXIT

# The run's own topics and group (like a fresh event source mapping and a score function
# configured for them), so nothing else on the shared stack leaks into the ledger.
TOPIC="payments.compat-$RUN_ID"
SCORED="$TOPIC.scored"
DLQ="$TOPIC.dlq"
GROUP="fraud-score-compat-$RUN_ID"
"$PY" - "$KAFKA_BROKERS" "$TOPIC" "$SCORED" "$DLQ" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
topics = [NewTopic(t, num_partitions=3, replication_factor=1) for t in sys.argv[2:]]
for f in admin.create_topics(topics).values():
    f.result(30)
PY
{ functions_env "$INVOKE_PORT" "$OUT"; cat <<ENV
KAFKA_TOPIC_SCORED=$SCORED
KAFKA_TOPIC_DLQ=$DLQ
ENV
} > "$OUT/functions.env"

step "2. Payments API simulator, functions behind the Lambda Invoke API (cargo lambda watch)"
"$BIN/payments-sim" --addr "127.0.0.1:$SIM_PORT" --batch-size 5 --customers 200 --start 2019-05-01 \
  --seed "$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')" > "$OUT/sim.log" 2>&1 &
pids+=($!)
( set -a; . "$OUT/functions.env"; set +a
  exec cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" --ignore-changes --env-file "$OUT/functions.env" ) > "$OUT/watch.log" 2>&1 &
pids+=($!)
wait_port "$SIM_PORT" sim 120 "$OUT/sim.log"; wait_port "$INVOKE_PORT" watch 120 "$OUT/watch.log"

step "3. A promoted model this build can load"
current="$OUT/current.json"
if [[ "${RETRAIN:-0}" != 1 ]] && aws s3 cp --quiet "s3://$FRAUD_MODELS_BUCKET/models/current.json" "$current" 2>/dev/null; then
  version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$current")
  mkdir -p "$OUT/model"
  aws s3 cp --quiet "s3://$FRAUD_MODELS_BUCKET/models/$version/model.json" "$OUT/model/model.json"
  "$BIN/fraudctl" generate --customers 5 --days 2 --seed 3 --out "$OUT/probe.csv" > /dev/null 2>&1
  if "$BIN/fraudctl" score --model "$OUT/model" --input "$OUT/probe.csv" --output "$OUT/probe-scores.csv" > "$OUT/probe-score.log" 2>&1; then
    echo "  reusing the current model $version"
  else
    echo "  the current model $version does not load with this build ($(tail -n 1 "$OUT/probe-score.log")): training one"
    version=""
  fi
else
  version=""
fi
if [[ -z "$version" ]]; then
  "$BIN/fraudctl" generate --customers 200 --days 60 --seed 7 --out "$OUT/train.csv" > "$OUT/generate.log" 2>&1
  aws s3 cp --quiet "$OUT/train.csv" "s3://$FRAUD_DATA_BUCKET/train/compat-$RUN_ID.csv"
  code=$(curl -sS -o "$OUT/train.json" -w '%{http_code}' -X POST "http://127.0.0.1:$INVOKE_PORT/2015-03-31/functions/fraud-train/invocations" \
    -H 'content-type: application/json' --data-binary "{\"data_uris\":[\"s3://$FRAUD_DATA_BUCKET/train/compat-$RUN_ID.csv\"],\"force\":true}")
  if [[ "$code" != 200 ]] || grep -q '"errorType"' "$OUT/train.json"; then
    echo "fraud-train failed (HTTP $code): $(head -c 2000 "$OUT/train.json")" >&2; exit 1
  fi
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  trained and promoted %s (%s) on %d rows" % (r["model_version"], r["learner"], r["rows"]))' "$OUT/train.json"
fi

step "4. Producers (confluent-kafka, kafka-python) → $TOPIC"
"$PY" tests/compat/produce.py --api "http://127.0.0.1:$SIM_PORT" --brokers "$KAFKA_BROKERS" --topic "$TOPIC" \
  --manifest "$OUT/manifest.jsonl" --messages "$MESSAGES" --seed "${RUN_ID%%-*}"

step "5. Event source: fraud-bridge kafka → fraud-score, until drained"
"$BIN/fraud-bridge" kafka --function fraud-score --lambda-endpoint "http://127.0.0.1:$INVOKE_PORT" \
  --topic "$TOPIC" --group "$GROUP" --dlq-topic "$DLQ" --batch-size 100 --max-wait-ms 200 --idle-exit-secs 5 \
  > "$OUT/bridge-kafka.out" 2> "$OUT/bridge-kafka.log"
sed 's/^/  /' "$OUT/bridge-kafka.out"

step "6. Every trans_num: scored exactly once, or dead-lettered with a reason"
status=0
"$PY" tests/compat/check.py --brokers "$KAFKA_BROKERS" --scored "$SCORED" --dlq "$DLQ" --manifest "$OUT/manifest.jsonl" || status=$?
echo "  logs and outputs in $OUT/ ; done in $((SECONDS - started)) s"
exit "$status"
