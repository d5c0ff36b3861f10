#!/usr/bin/env bash
# The drift scenario on the local stack (issue 20's acceptance): a model that nobody
# watches decays; ours is watched, flagged, retrained and replaced.
#
#   generate 180 days of payments with the generator, the world changing on day 120
#   (amounts x1.5 and a new fraud pattern: daytime bursts in travel/health/home)
#   → train v1 on days 0-89 (train function, Invoke API)
#   → stream days 60-89 (card-history warm-up), then the month after training (days
#     90-119, no drift yet: the control), then the first drifted month (days 120-149)
#     through ingest (backfill) → Kafka → score, labels carried as the payments API's
#   → the monitor over the control month: no alert (false alarms tested)
#   → the Airflow DAG fraud_monitor (airflow dags test) over the drifted month: the
#     monitor flags v1 and publishes to SNS; the DAG has track export what was scored in
#     the flagged month (the score function's payments archive joined with the labels) and
#     retrains on it; the train function's gate promotes the new model (it beats v1 on the
#     retrain's test slice). The monitor reads the same archive to recompute features.
#   → stream the second drifted month (days 150-179): scored by v2 now
#   → monitor v2 over it; judge both models offline on that month too
#   → summary, and checks (exit 1 if one fails): no alert on the control, v1 flagged,
#     SNS delivered, v2 promoted, v2's live PR-AUC on the later month above v1's on the
#     first drifted month, v2 above v1 offline on the later month.
#
# Env: CUSTOMERS (default 600), OUT (default out/drift), INVOKE_PORT (default 19011).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/functions_env.sh
. scripts/lib/functions_env.sh
OUT="${OUT:-out/drift}"
CUSTOMERS="${CUSTOMERS:-600}"
INVOKE_PORT="${INVOKE_PORT:-19011}"
# shellcheck source=lib/local_run.sh
. scripts/lib/local_run.sh
PY="${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}/venv/stack/bin/python"

step "1. Local services (LocalStack, Kafka, PostgreSQL)"
local_stack_up

step "2. Build (functions, bridge, CLI)"
build_local_bins

# shellcheck source=lib/procs.sh
. scripts/lib/procs.sh
trap stop_started EXIT

# This run's own topic, consumer group, alerts queue and monitoring topic (+ a queue
# subscribed to it, to see what SNS delivered).
TOPIC="payments.drift-$RUN_ID"
GROUP="fraud-score-drift-$RUN_ID"
create_run_topic "$TOPIC"
# A database of this run's own: the same seed gives the same trans_nums and cards every
# run, and the ledger (idempotent on trans_num) and the card histories must start empty.
# The functions migrate it at their cold start. Earlier runs' databases are dropped; this
# one is kept for a look (psql "$DRIFT_DATABASE_URL").
for old in $(psql "$DATABASE_URL" -At -c "select datname from pg_database where datname like 'fraud_drift_%'"); do
  psql "$DATABASE_URL" -q -c "drop database $old" || true
done
DRIFT_DB="fraud_drift_${RUN_ID//-/_}"
psql "$DATABASE_URL" -q -c "create database $DRIFT_DB"
DRIFT_DATABASE_URL="${DATABASE_URL%/*}/$DRIFT_DB"
RESULTS_BUCKET="fraud-results-drift-$RUN_ID"   # this run's results and payments archive
aws s3 mb "s3://$RESULTS_BUCKET" > /dev/null
ALERTS_URL=$(aws sqs create-queue --queue-name "fraud-alerts-drift-$RUN_ID" --query QueueUrl --output text)
SNS_ARN=$(aws sns create-topic --name "fraud-monitor-drift-$RUN_ID" --query TopicArn --output text)
WATCH_URL=$(aws sqs create-queue --queue-name "fraud-monitor-drift-$RUN_ID" --query QueueUrl --output text)
WATCH_ARN=$(aws sqs get-queue-attributes --queue-url "$WATCH_URL" --attribute-names QueueArn --query Attributes.QueueArn --output text)
aws sns subscribe --topic-arn "$SNS_ARN" --protocol sqs --notification-endpoint "$WATCH_ARN" > /dev/null
{ functions_env "$INVOKE_PORT" "$OUT"; cat <<ENV
KAFKA_TOPIC_PAYMENTS=$TOPIC
FRAUD_ALERTS_QUEUE_URL=$ALERTS_URL
FRAUD_RESULTS_BUCKET=$RESULTS_BUCKET
DATABASE_URL=$DRIFT_DATABASE_URL
PAYMENTS_API_URL=http://127.0.0.1:9
MODEL_CHECK_SECS=2
MONITOR_ALERTS_TOPIC_ARN=$SNS_ARN
ENV
} > "$OUT/functions.env"

step "3. Data: $CUSTOMERS cards over 180 days from 2019-01-01, drifting on day 120 (2019-05-01)"
"$BIN/fraudctl" generate --customers "$CUSTOMERS" --days 180 --seed 21 \
  --drift-from-day 120 --drift-amount-factor 1.5 --out "$OUT/all.csv" | sed 's/^/  /'
"$PY" - "$OUT" <<'PY'
import csv, sys
out = sys.argv[1]
parts = {  # name: (file, first day, last day), inclusive, by trans_date_trans_time
    "train": ("2019-01-01", "2019-03-31"),         # days 0-89: v1's training data
    "warm": ("2019-03-02", "2019-03-31"),          # days 60-89: card histories
    "control": ("2019-04-01", "2019-04-30"),       # days 90-119: after training, no drift
    "month1": ("2019-05-01", "2019-05-30"),        # days 120-149: first drifted month
    "month2": ("2019-05-31", "2019-06-29"),        # days 150-179: second drifted month
    "month2_feat": ("2019-05-01", "2019-06-29"),   # month 2 + the month before (offline check)
}
with open(f"{out}/all.csv", newline="") as f:
    r = csv.reader(f); header = next(r); data = list(r)
for name, (first, last) in parts.items():
    with open(f"{out}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(header)
        n = frauds = 0
        for row in data:
            if first <= row[0][:10] <= last:
                w.writerow(row); n += 1; frauds += row[-1] == "1"
    print(f"  {name:<13} {first} .. {last}: {n:>7} payments, {frauds:>4} frauds")
PY
S3="s3://$FRAUD_DATA_BUCKET/drift/$RUN_ID"
for f in train warm control month1 month2; do
  aws s3 cp --quiet "$OUT/$f.csv" "$S3/$f.csv"
done
echo "  uploaded to $S3/"

step "4. Functions behind the Lambda Invoke API (cargo lambda watch)"
start_watch_on "$INVOKE_PORT" 1
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$1" "$2"; }
# bridge NAME: the Kafka bridge (the event source mapping) into the score function until
# it has been idle 8 s with the topic drained; appends its summary to $OUT/bridge-NAME.out.
bridge() {
  "$BIN/fraud-bridge" kafka --function fraud-score --lambda-endpoint "http://127.0.0.1:$INVOKE_PORT" \
    --topic "$TOPIC" --group "$GROUP" --batch-size 200 --max-wait-ms 200 --idle-exit-secs 8 \
    >> "$OUT/bridge-$1.out" 2>> "$OUT/bridge-$1.log"
}
# stream NAME: backfills $S3/NAME.csv through ingest → Kafka → score and waits until the
# score function has had every payment ingest published (the bridge runs again if it went
# idle before ingest's first payments arrived, e.g. behind a slow cold start).
stream() {
  local t=$SECONDS pid want got round
  bridge "$1" & pid=$!
  invoke fraud-ingest "{\"mode\":\"backfill\",\"uri\":\"$S3/$1.csv\"}" "$OUT/ingest-$1.json"
  wait "$pid"
  want=$(field "$OUT/ingest-$1.json" published)
  for round in 1 2 3; do
    got=$(grep -o 'kafka bridge: [0-9]* records' "$OUT/bridge-$1.out" | awk '{s += $3} END {print s + 0}')
    (( got >= want )) && break
    echo "  $1: the bridge had $got of $want payments; running it again ($round)"
    bridge "$1"
  done
  echo "  $1: $want payments published, $got delivered to score in $((SECONDS - t)) s ($(tail -n 1 "$OUT/bridge-$1.out"))"
  (( got >= want )) || { echo "CHECK FAILED: $1: only $got of $want payments reached the score function" >&2; return 1; }
}

# archive FIRST LAST: the payments archive's day prefixes (JSON list) from FIRST to LAST.
archive() {
  "$PY" -c 'import datetime as d, json, sys
a, b = (d.date.fromisoformat(x) for x in sys.argv[2:4])
print(json.dumps([f"s3://{sys.argv[1]}/payments/dt={a + d.timedelta(n)}/" for n in range((b - a).days + 1)]))' "$RESULTS_BUCKET" "$1" "$2"
}

step "5. Train v1 on days 0-89 (train function)"
invoke fraud-train "{\"data_uris\":[\"$S3/train.csv\"],\"force\":true}" "$OUT/v1.json"
V1=$(field "$OUT/v1.json" model_version)
echo "  v1 = $V1: test PR-AUC $(field "$OUT/v1.json" test_pr_auc) on $(field "$OUT/v1.json" rows) rows ($(field "$OUT/v1.json" learner))"
sleep 3 # the score function re-reads the current-model pointer every 2 s

step "6. Stream: warm-up (days 60-89), the month after training (control), the first drifted month"
stream warm
stream control
stream month1

step "7. Control: the monitor over the no-drift month raises no alert"
invoke fraud-track "{\"action\":\"monitor\",\"model_version\":\"$V1\",\"since\":\"2019-04-01T00:00:00Z\",\"until\":\"2019-05-01T00:00:00Z\",\"payments_uris\":$(archive 2019-03-02 2019-04-30)}" "$OUT/monitor-control.json"

step "8. Airflow fraud_monitor over the first drifted month: monitor → alert → retrain on the flagged month"
# The window is the month (payments' event times); the monitor recomputes its features from the archive
# (the month and the 30 days before it); the retrain learns from the flagged month only:
# with older data in front, the time split's training part would hold only the world
# before the drift.
CONF=$("$PY" -c 'import json,sys; print(json.dumps({"model_version": sys.argv[1], "since": sys.argv[2], "until": sys.argv[3], "payments_uris": json.loads(sys.argv[4]), "scored_payments_uris": json.loads(sys.argv[5]), "data_uris": [], "min_pr_auc": 0.5}))' "$V1" 2019-05-01T00:00:00Z 2019-05-31T00:00:00Z "$(archive 2019-04-01 2019-05-30)" "$(archive 2019-05-01 2019-05-30)")
bash scripts/airflow.sh dags-test-monitor "http://127.0.0.1:$INVOKE_PORT" "$CONF" "$OUT/dag.json"
"$PY" -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["retrained"] or {}, open(sys.argv[2], "w"))' "$OUT/dag.json" "$OUT/v2-train.json"
V2=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("model_version") or "")' "$OUT/v2-train.json")
sleep 3

step "9. Stream the second drifted month (days 150-179), now scored by ${V2:-the current model}"
stream month2
[[ -z "$V2" ]] || invoke fraud-track "{\"action\":\"monitor\",\"model_version\":\"${V2:-none}\",\"since\":\"2019-05-31T00:00:00Z\",\"until\":\"2019-06-30T00:00:00Z\",\"payments_uris\":$(archive 2019-05-01 2019-06-29)}" "$OUT/monitor-v2.json"
# What SNS delivered to the subscribed queue (the monitoring alerts).
aws sqs receive-message --queue-url "$WATCH_URL" --max-number-of-messages 10 --wait-time-seconds 2 > "$OUT/sns-delivered.json" || echo '{}' > "$OUT/sns-delivered.json"

step "10. Both models offline on the second month (card histories warmed by the month before)"
for v in "$V1" "$V2"; do
  [[ -n "$v" ]] || continue
  aws s3 cp --quiet "$(field "$OUT/$([[ $v == "$V1" ]] && echo v1 || echo v2-train).json" artifact_uri)" "$OUT/$v.json"
  "$BIN/fraudctl" evaluate --model "$OUT/$v.json" --data "$OUT/month2_feat.csv" --since 2019-05-31 \
    --rejects "$OUT/rejects-$v.csv" | tee "$OUT/offline-$v.txt" | sed 's/^/  /'
done

step "Summary"
"$PY" - "$OUT" "$V1" "$V2" <<'PY'
import json, re, sys
out, v1, v2 = sys.argv[1], sys.argv[2], sys.argv[3]
load = lambda name: json.load(open(f"{out}/{name}"))
def window(answer, version):
    for w in answer.get("windows", []):
        if w["quality"]["model_version"] == version:
            return w
    return None
def offline(v):
    try:
        text = open(f"{out}/offline-{v}.txt").read()
    except OSError:
        return None
    m = re.search(r"PR-AUC ([0-9.]+)", text)
    return float(m.group(1)) if m else None
control = load("monitor-control.json")
dag = load("dag.json")
mon2 = load("monitor-v2.json") if v2 else {}
cw = window(control, v1)
w1 = next((w for w in dag.get("windows") or [] if w["model_version"] == v1), None)
w2 = window(mon2, v2) if v2 else None
sns = load("sns-delivered.json").get("Messages", [])
fmt = lambda x: "-" if x is None else f"{x:.4f}"
print(f"  {'':34} {'v1 (days 0-89)':>16} {'v2 (retrained)':>16}")
print(f"  {'test PR-AUC at training':34} {fmt(load('v1.json')['test_pr_auc']):>16} {fmt((dag.get('retrained') or {}).get('test_pr_auc')):>16}")
print(f"  {'live PR-AUC, no-drift control':34} {fmt(cw and cw['quality'].get('pr_auc')):>16} {'':>16}")
print(f"  {'live PR-AUC, drifted month 1':34} {fmt(w1 and w1.get('pr_auc')):>16} {'':>16}")
print(f"  {'live PR-AUC, drifted month 2':34} {'':>16} {fmt(w2 and w2['quality'].get('pr_auc')):>16}")
print(f"  {'offline PR-AUC, drifted month 2':34} {fmt(offline(v1)):>16} {fmt(offline(v2) if v2 else None):>16}")
print(f"  control: alert {control.get('alert')}, score PSI {fmt(((cw or {}).get('monitor') or {}).get('drift', {}).get('score_psi'))}")
print(f"  month 1: alert {any(w.get('alert') for w in dag.get('windows') or [])}: " + "; ".join(dag.get("summary") or []))
print(f"  DAG tasks: {dag['tasks']}")
exported = dag.get("exported") or {}
print(f"  exported for the retrain (archive + labels): {exported.get('payments')} payments, "
      f"{exported.get('labelled_carried')} labelled as carried, {exported.get('labelled_later')} by later labels, "
      f"{exported.get('unlabelled_left_out')} left out, {exported.get('frauds')} frauds -> {exported.get('uri')}")
print(f"  retrained: {dag.get('retrained')}")
print(f"  monitoring alerts delivered by SNS to the subscribed queue: {len(sns)}")
checks = [
    ("the no-drift control month raises no alert", control.get("alert") is False),
    ("the monitor flags v1 on the drifted month", bool(w1 and w1.get("alert"))),
    ("SNS delivered the monitoring alert", len(sns) >= 1),
    ("the retrain learned from what was scored (the archive's export)", bool(exported.get("uri"))),
    ("the DAG retrained and the new model was promoted", bool(v2) and bool((dag.get("retrained") or {}).get("promoted"))),
    ("v2's live PR-AUC (month 2) is above v1's (month 1)",
     bool(w1 and w2) and (w2["quality"].get("pr_auc") or 0) > (w1.get("pr_auc") or 1)),
    ("v2 beats v1 offline on month 2", bool(v2) and (offline(v2) or 0) > (offline(v1) or 1)),
]
failed = [name for name, ok in checks if not ok]
for name, ok in checks:
    print(f"  {'ok  ' if ok else 'FAIL'} {name}")
sys.exit(1 if failed else 0)
PY
echo "  logs and outputs in $OUT/ ; done in $((SECONDS - started)) s"
