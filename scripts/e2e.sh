#!/usr/bin/env bash
# The main job, end to end on the local stack:
#   start services → build → train on generated data (train function, via the Lambda
#   Invoke API) → stream payments from the payments API simulator through ingest →
#   Kafka → score → S3 results + scored topic + SQS alerts → notify → webhook → summary.
#
# Usage: scripts/e2e.sh [--check]
#   --check   also assert the ledger: every payment published is scored exactly once or
#             dead-lettered, and every alert reached the webhook exactly once (exit 1 if not).
# Env: CUSTOMERS (default 1000), DAYS (default 90), POLLS (default 20), BATCH (default 100),
#      DATA (your own labelled CSV instead of generated data), OUT (default out/e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/functions_env.sh
. scripts/lib/functions_env.sh
CHECK=false
[[ "${1:-}" == "--check" ]] && CHECK=true
OUT="${OUT:-out/e2e}"
CUSTOMERS="${CUSTOMERS:-1000}"
DAYS="${DAYS:-90}"
POLLS="${POLLS:-20}"
BATCH="${BATCH:-100}"
SIM_PORT="${SIM_PORT:-18000}"
SINK_PORT="${SINK_PORT:-18001}"
INVOKE_PORT="${INVOKE_PORT:-19001}"
# Function instances cargo lambda watch may run at once (its --concurrency): 3 to let a
# Kafka bridge run with --concurrency 0 (the payments topic's 3 partitions at once). 1 by
# default, as the bridge invokes one batch at a time by default, and ingest's duplicate
# skipping is per instance (see scripts/faults.sh).
WATCH_CONCURRENCY="${WATCH_CONCURRENCY:-1}"
# shellcheck source=lib/local_run.sh
. scripts/lib/local_run.sh

step "1. Local services (LocalStack, Kafka, PostgreSQL)"
local_stack_up

step "2. Build (functions, simulator, bridge, CLI)"
build_local_bins

# shellcheck source=lib/procs.sh
. scripts/lib/procs.sh
trap stop_started EXIT

# A topic and consumer group of this run's own (like a fresh event source mapping):
# other writers of the stack's shared `payments` topic (the LocalStack Lambda test's
# scheduled ingest, a user's own runs) never leak into this run's ledger or latency.
# A per-run webhook secret.
TOPIC="payments.e2e-$RUN_ID"
GROUP="fraud-score-e2e-$RUN_ID"
create_run_topic "$TOPIC"
export WEBHOOK_SECRET="local-$RUN_ID"
{ functions_env "$INVOKE_PORT" "$OUT"; cat <<ENV
KAFKA_TOPIC_PAYMENTS=$TOPIC
PAYMENTS_API_URL=http://127.0.0.1:$SIM_PORT
WEBHOOK_URL=http://127.0.0.1:$SINK_PORT/alerts
WEBHOOK_SECRET=$WEBHOOK_SECRET
ENV
} > "$OUT/functions.env"

step "3. Training data"
if [[ -n "${DATA:-}" ]]; then
  cp "$DATA" "$OUT/train.csv"
else
  "$BIN/fraudctl" generate --customers "$CUSTOMERS" --days "$DAYS" --seed 7 --out "$OUT/train.csv"
fi
aws s3 cp --quiet "$OUT/train.csv" "s3://$FRAUD_DATA_BUCKET/train/$RUN_ID.csv"
echo "uploaded to s3://$FRAUD_DATA_BUCKET/train/$RUN_ID.csv"

step "4. Functions behind the Lambda Invoke API (cargo lambda watch), simulator, webhook"
"$BIN/fraud-bridge" webhook-sink --addr "127.0.0.1:$SINK_PORT" --secret "$WEBHOOK_SECRET" --out "$OUT/alerts.jsonl" > "$OUT/sink.log" 2>&1 &
pids+=($!)
"$BIN/payments-sim" --addr "127.0.0.1:$SIM_PORT" --batch-size "$BATCH" --customers "$CUSTOMERS" --start 2019-05-01 --seed "${SIM_SEED:-$(date +%s)}" > "$OUT/sim.log" 2>&1 &
pids+=($!)
start_watch_on "$INVOKE_PORT" "$WATCH_CONCURRENCY"
wait_port "$SINK_PORT" sink 120 "$OUT/sink.log"; wait_port "$SIM_PORT" sim 120 "$OUT/sim.log"

step "5. Train (train function → S3 model + metrics → track → Postgres)"
invoke fraud-train "{\"data_uris\":[\"s3://$FRAUD_DATA_BUCKET/train/$RUN_ID.csv\"],\"force\":true}" "$OUT/train.json"
python3 - "$OUT/train.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("  model %s (%s) on %d rows: test PR-AUC %.4f, F1 %.4f; promoted: %s (%s); tracked: %s"
      % (r["model_version"], r["learner"], r["rows"], r["test_pr_auc"], r["test_f1"],
         r["promoted"], r["promotion_reason"], r["tracked"]))
PY

step "6. Rules and the synchronous decision API (score's Function URL, as cargo lambda watch serves it)"
# The rules document is checked before it is uploaded; the score function re-reads it
# the way it re-reads models. Then one payment decided while it is being authorised:
# the first request starts the score function (cold), the second is warm.
"$BIN/fraudctl" rules check rules/example.json | sed 's/^/  /'
"$BIN/fraudctl" rules push rules/example.json --bucket "$FRAUD_MODELS_BUCKET" | sed 's/^/  /'
python3 - "$OUT/train.csv" "$OUT" <<'PY2'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for i, row in enumerate(rows[-2:]):
    row = {k: v for k, v in row.items() if k not in ("", "Unnamed: 0", "is_fraud")}
    row["trans_num"] = "decide-" + row["trans_num"]
    json.dump(row, open(f"{sys.argv[2]}/decide-{i}.json", "w"))
PY2
for i in 0 1; do
  curl -sS -o "$OUT/decision-$i.json" -w '%{time_total}\n' -X POST "http://127.0.0.1:$INVOKE_PORT/lambda-url/fraud-score/" \
    -H 'content-type: application/json' --data-binary "@$OUT/decide-$i.json" > "$OUT/decision-$i.time"
done
python3 - "$OUT" <<'PY2'
import json, sys
for i, label in ((0, "first request (cold start)"), (1, "warm")):
    a = json.load(open(f"{sys.argv[1]}/decision-{i}.json"))
    if "decision" not in a:
        sys.exit(f"decision API failed: {a}")
    wall = float(open(f"{sys.argv[1]}/decision-{i}.time").read()) * 1000
    t = a.get("timings") or {}
    fired = ", ".join(r["name"] for r in a["rules_fired"]) or "none"
    print(f"  {label}: {a['trans_num']} -> {a['decision']} (p={a['probability']:.3f}, by {a['decided_by']}, rules fired: {fired}); "
          f"{wall:.1f} ms over HTTP, {a['took_ms']:.2f} ms in the function "
          f"(history {t.get('load_ms', 0):.2f}, model + rules {t.get('decide_ms', 0):.2f}, ledger + history write {t.get('write_ms', 0):.2f}); "
          f"model {a['model_version']}, rules {a.get('rules_version')}; debug build")
PY2
# The same payment through the Invoke API, as boto3 (or Airflow) calls it: the same
# trans_num gets the same answer; and a bad payment is refused with the field named.
"${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}/venv/stack/bin/python" - "$OUT" "$INVOKE_PORT" <<'PY2'
import json, sys, urllib.request, urllib.error
import boto3
out, port = sys.argv[1], sys.argv[2]
lam = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
r = lam.invoke(FunctionName="fraud-score", Payload=open(f"{out}/decide-0.json", "rb").read())
again = json.loads(r["Payload"].read())
first = json.load(open(f"{out}/decision-0.json"))
if not again.get("repeated") or again["decision"] != first["decision"] or again["probability"] != first["probability"]:
    sys.exit(f"boto3 invoke of the same trans_num gave another answer: {again} vs {first}")
print(f"  boto3 invoke of the same trans_num: {again['decision']} again (repeated: {again['repeated']}), {again['took_ms']:.2f} ms in the function")
bad = json.load(open(f"{out}/decide-1.json")); bad["trans_num"] += "-bad"; bad["amt"] = -5
req = urllib.request.Request(f"http://127.0.0.1:{port}/lambda-url/fraud-score/", data=json.dumps(bad).encode(),
                             headers={"content-type": "application/json"}, method="POST")
try:
    urllib.request.urlopen(req)
    sys.exit("a negative amount was decided")
except urllib.error.HTTPError as e:
    if e.code != 400:
        sys.exit(f"a negative amount got HTTP {e.code}, want 400")
    print(f"  a bad payment over the Function URL: HTTP 400 {json.loads(e.read())['error']}")
PY2

step "7. Live: payments API → ingest → Kafka → score → S3 + payments.scored + SQS → notify → webhook"
# The event source mappings run while ingest polls, as they would in AWS.
"$BIN/fraud-bridge" kafka --function fraud-score --lambda-endpoint "http://127.0.0.1:$INVOKE_PORT" \
  --topic "$TOPIC" --group "$GROUP" --batch-size 100 --max-wait-ms 100 --idle-exit-secs 15 > "$OUT/bridge-kafka.out" 2> "$OUT/bridge-kafka.log" &
kafka_bridge=$!
"$BIN/fraud-bridge" sqs --function fraud-notify --lambda-endpoint "http://127.0.0.1:$INVOKE_PORT" \
  --queue-url "$FRAUD_ALERTS_QUEUE_URL" --visibility-timeout 5 --idle-exit-secs 15 > "$OUT/bridge-sqs.out" 2> "$OUT/bridge-sqs.log" &
sqs_bridge=$!
published=0; rejected=0
for i in $(seq 1 "$POLLS"); do
  invoke fraud-ingest '{"source":"aws.events","detail-type":"Scheduled Event"}' "$OUT/ingest-$i.json"
  read -r p r < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["published"], d["rejected"])' "$OUT/ingest-$i.json")
  published=$((published + p)); rejected=$((rejected + r))
  sleep 0.5
done
echo "  ingest: $POLLS polls, $published payments published, $rejected rejected to payments.dlq"
echo "  waiting for the pipeline to drain…"
wait "$kafka_bridge" "$sqs_bridge"
# Alerts from the last batches may arrive after the live SQS bridge went idle: drain them.
"$BIN/fraud-bridge" sqs --function fraud-notify --lambda-endpoint "http://127.0.0.1:$INVOKE_PORT" \
  --queue-url "$FRAUD_ALERTS_QUEUE_URL" --visibility-timeout 5 --idle-exit-secs 8 >> "$OUT/bridge-sqs.out" 2>> "$OUT/bridge-sqs.log"
cat "$OUT/bridge-kafka.out" "$OUT/bridge-sqs.out" | sed 's/^/  /'

step "Summary"
MODEL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model_version"])' "$OUT/train.json")
psql_q() { psql "$DATABASE_URL" -At -c "$1"; }
# The stream's rows (the decision API's two answers of step 6 are in the ledger too).
scored=$(psql_q "select count(*) from scored_transactions where model_version = '$MODEL' and via = 'stream'")
blocked=$(psql_q "select count(*) from scored_transactions where model_version = '$MODEL' and via = 'stream' and decision = 'block'")
# Alerts of this run's model (a queue may still hold alerts of an earlier, interrupted run).
alerts=$( [[ -f "$OUT/alerts.jsonl" ]] && grep -c "\"model_version\":\"$MODEL\"" "$OUT/alerts.jsonl" || echo 0)
results=$(aws s3 ls --recursive "s3://$FRAUD_RESULTS_BUCKET/results/" | wc -l)
runs=$(psql_q "select count(*) from training_runs")
printf '  model version:               %s\n  payments published to Kafka: %s\n  rejected to payments.dlq:    %s\n  scored (Postgres ledger):    %s\n  blocked → alerts sent:       %s\n  alerts received by webhook:  %s (signatures verified)\n  result files in S3 (all runs): %s\n  training runs tracked:       %s\n' \
  "$MODEL" "$published" "$rejected" "$scored" "$blocked" "$alerts" "$results" "$runs"
aws s3 cp --quiet --recursive "s3://$FRAUD_RESULTS_BUCKET/results/" "$OUT/results/"
# The running broker's storage engine, as started (the stack may have been started earlier).
KAFKA_STORAGE_USED=$(ps -eo args | grep "[t]ansu broker .*:${KAFKA_BROKERS##*:} " | grep -o -- '--storage-engine [^ ]*' \
  | cut -d" " -f2 | head -n 1 || true)
python3 - "$OUT/results" "$OUT/alerts.jsonl" "$MODEL" "${KAFKA_STORAGE_USED:-unknown storage}" "$TOPIC" <<'PY'
import datetime, json, pathlib, re, sys
results, alerts_file, model, storage, topic = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def ms(text):  # RFC 3339 with up to nanoseconds -> epoch ms
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp() * 1000
# One results file per batch: this run's batches in the order they were scored.
batches = []
for f in results.rglob("*.jsonl"):
    b = [json.loads(l) for l in f.open() if l.strip()]
    # This run's payments only: the bucket holds every run's results.
    b = [r for r in b if r["model_version"] == model and r["source"].startswith(topic + "-")]
    if b:
        batches.append(b)
batches.sort(key=lambda b: min(ms(r["scored_at"]) for r in b))
def quantiles(values):
    v = sorted(values)
    q = lambda x: v[min(len(v) - 1, int(x * len(v)))]
    return f"p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms"
if batches:
    lat = [[ms(r["scored_at"]) - r["published_at_ms"] for r in b] for b in batches]
    warm = [x for b in lat[1:] for x in b]
    line = f"  publish → scored latency:    first batch (cold start) {quantiles(lat[0])} ({len(lat[0])} payments)"
    line += f"; warm batches {quantiles(warm)} ({len(warm)} payments, {len(lat) - 1} batches)" if warm else "; no warm batch"
    print(line + f"; debug build, Kafka: Tansu on {storage}, local invoke API")
first_batch = {r["trans_num"] for r in batches[0]} if batches else set()
rows = [r for b in batches for r in b if r.get("is_fraud") is not None]
tp = sum(1 for r in rows if r["decision"] == "block" and r["is_fraud"])
fp = sum(1 for r in rows if r["decision"] == "block" and not r["is_fraud"])
fn = sum(1 for r in rows if r["decision"] != "block" and r["is_fraud"])
p = tp / (tp + fp) if tp + fp else 0.0
rc = tp / (tp + fn) if tp + fn else 0.0
print(f"  alerts vs is_fraud:          precision {p:.3f}, recall {rc:.3f} (tp {tp}, fp {fp}, fn {fn}; {len(rows)} labelled payments)")
alerts = [json.loads(l) for l in alerts_file.open()] if alerts_file.exists() else []
alerts = [a for a in alerts if a.get("model_version") == model]
cold = [a["received_at_ms"] - a["published_at_ms"] for a in alerts if a.get("published_at_ms") and a["trans_num"] in first_batch]
warm = [a["received_at_ms"] - a["published_at_ms"] for a in alerts if a.get("published_at_ms") and a["trans_num"] not in first_batch]
if cold or warm:
    parts = []
    if cold:
        parts.append(f"first batch (cold start) {quantiles(cold)} ({len(cold)} alerts)")
    if warm:
        parts.append(f"warm batches {quantiles(warm)}, max {max(warm):.0f} ms ({len(warm)} alerts)")
    print("  ingest → alert latency:      " + "; ".join(parts) + " (through SQS, notify and the webhook)")
PY
echo "  logs and outputs in $OUT/ ; done in $((SECONDS - started)) s"

if [[ "${AIRFLOW_CHECK:-0}" == 1 ]]; then
  step "Airflow: the retrain DAG invokes the train function through the same Invoke API"
  if bash scripts/airflow.sh dags-test-retrain "http://127.0.0.1:$INVOKE_PORT" "s3://$FRAUD_DATA_BUCKET/train/$RUN_ID.csv" 0.5; then
    airflow_ok=true; echo "  fraud_retrain: success"
  else
    airflow_ok=false; echo "  fraud_retrain: FAILED"
  fi
fi

if $CHECK; then
  fail=0
  [[ "${airflow_ok:-true}" == true ]] || { echo "CHECK FAILED: the Airflow retrain DAG failed"; fail=1; }
  [[ "$published" -gt 0 ]] || { echo "CHECK FAILED: nothing was published"; fail=1; }
  [[ "$scored" -eq "$published" ]] || { echo "CHECK FAILED: published $published but scored $scored"; fail=1; }
  [[ "$alerts" -eq "$blocked" ]] || { echo "CHECK FAILED: $blocked blocked but $alerts alerts delivered"; fail=1; }
  [[ "$results" -gt 0 ]] || { echo "CHECK FAILED: no result files in S3"; fail=1; }
  [[ "$runs" -gt 0 ]] || { echo "CHECK FAILED: no training run tracked"; fail=1; }
  [[ $fail -eq 0 ]] && echo "e2e: 1 passed, 0 failed" || { echo "e2e: 0 passed, 1 failed"; exit 1; }
fi
