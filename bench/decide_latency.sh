#!/usr/bin/env bash
# Synchronous decision latency on the local stack (issue 19, "Speed"), ours vs a Python anchor.
#
#   ours:    bench/decide_load.py (aiohttp, open loop) → POST /lambda-url/fraud-score/
#            (the Function URL as `cargo lambda watch --release` serves it) → fraud-score
#            `Scorer::decide`: card lock + history + ledger read (one PostgreSQL round trip),
#            features + model + rules, ledger claim + history save + commit
#   anchor:  the same load → bench/reference/decide_service.py (Flask under gunicorn,
#            2 sync workers): features from an in-memory card history + scikit-learn
#            RandomForest predict_proba, trained on the same generated data
#
# Distinct generated payments (`fraudctl generate`, fresh trans_nums) at each rate, a warm-up
# before measuring, each side alone. Reports end-to-end p50/p95/p99 per rate, the function's
# own took_ms and its split (load/decide/write), achieved rate and errors, the ratios
# ours/anchor and the issue's targets; prints the table and writes it as markdown to
# out/decide-latency.md (QUICK=1: out/decide-latency-quick.md).
#
# The model and rules are promoted into a models bucket of the benchmark's own
# (BENCH_MODELS_BUCKET, created on LocalStack if missing), so the stack's shared
# `fraud-models` pointer, which other runs use, is left alone.
#
# Usage: bench/decide_latency.sh            rates 200, 500, 1000 req/s for 10 s each
#        QUICK=1 bench/decide_latency.sh    3 s each, smaller models
# Knobs (environment): RATES ("200 500 1000"), DURATION (10; QUICK 3), WARMUP_RATE (200),
#   WARMUP_SECS (5; QUICK 2), ANCHOR_RATES (RATES; empty to run ours alone),
#   ANCHOR_EXTRA_RATES ("50": a rate the anchor sustains, for scale), ANCHOR_WORKERS (2),
#   WATCH_CONCURRENCY (cargo lambda watch's --concurrency, function instances at once; 2),
#   TIMEOUT (10 s per request), INVOKE_PORT (19411), ANCHOR_PORT (19412),
#   BENCH_MODELS_BUCKET (fraud-bench-decide-models), MODEL_CHECK_SECS (30, the function's
#   default), REPORT (the markdown file).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/start.sh
source bench/lib/start.sh
if [[ "$QUICK" == 1 ]]; then
  WORK="out/bench-decide-quick"
  DURATION="${DURATION:-3}" WARMUP_SECS="${WARMUP_SECS:-2}"
  TRAIN_CUSTOMERS=300 TRAIN_DAYS=60 TREES=100
  REPORT="${REPORT:-out/decide-latency-quick.md}"
else
  WORK="out/bench-decide"
  DURATION="${DURATION:-10}" WARMUP_SECS="${WARMUP_SECS:-5}"
  TRAIN_CUSTOMERS=1000 TRAIN_DAYS=60 TREES=300
  REPORT="${REPORT:-out/decide-latency.md}"
fi
RATES="${RATES:-200 500 1000}"
ANCHOR_RATES="${ANCHOR_RATES-$RATES}"
ANCHOR_EXTRA_RATES="${ANCHOR_EXTRA_RATES-50}"
ANCHOR_WORKERS="${ANCHOR_WORKERS:-2}"
WARMUP_RATE="${WARMUP_RATE:-200}"
WATCH_CONCURRENCY="${WATCH_CONCURRENCY:-2}"
TIMEOUT="${TIMEOUT:-10}"
CONNECTIONS="${CONNECTIONS:-1000}"
INVOKE_PORT="${INVOKE_PORT:-19411}"
ANCHOR_PORT="${ANCHOR_PORT:-19412}"
BENCH_MODELS_BUCKET="${BENCH_MODELS_BUCKET:-fraud-bench-decide-models}"
MODEL_CHECK_SECS="${MODEL_CHECK_SECS:-30}"
RESULTS="$WORK/results"
RUN_ID="$(date +%s)"
LOAD_START="$(cut -d' ' -f1 /proc/loadavg)"
rm -rf "$RESULTS" "$WORK/logs" "$WORK/data" "$WORK/model-cache"
mkdir -p "$RESULTS" "$WORK/logs" "$WORK/data"

say() { printf '\n== %s (%ds, load %s)\n' "$*" $(($(date +%s) - RUN_STARTED)) "$(cut -d' ' -f1 /proc/loadavg)"; }

# shellcheck source=../scripts/lib/procs.sh
. scripts/lib/procs.sh
# shellcheck source=../scripts/lib/functions_env.sh
. scripts/lib/functions_env.sh
stop_all() { # the started processes, and cargo's cargo-lambda child if watch is still up
  local pid
  for pid in "${pids[@]}"; do kill $(pgrep -P "$pid") 2>/dev/null || true; done
  stop_started
}
trap stop_all EXIT

say "local stack (LocalStack, Kafka, PostgreSQL)"
bash localstack/stack.sh up
eval "$(bash localstack/stack.sh env)"

say "Python (load generator, anchor) in bench/.venv"
source bench/lib/venv.sh
bench_venv
# shellcheck source=lib/models.sh
source bench/lib/models.sh

say "building (release): fraud-score, fraudctl"
cargo build --release --locked -p fraud-fn-score -p fraudctl 2>&1 | tail -n 2
BIN="$CARGO_TARGET_DIR/release"

# --- Models: ours and scikit-learn's on the same generated data (kept across runs) -------
MODELS="$WORK/models-c$TRAIN_CUSTOMERS-d$TRAIN_DAYS-t$TREES"
if [[ -f "$MODELS/model/model.json" && -f "$MODELS/sklearn.joblib" && -f "$MODELS/sklearn_train.json" ]]; then
  say "models: reusing $MODELS ($TREES trees each)"
else
  say "models: ours and scikit-learn's on the same generated data ($TREES trees each)"
  rm -rf "$MODELS"
  train_models "$MODELS" "$MODELS/sklearn_train.json" "$TRAIN_CUSTOMERS" "$TRAIN_DAYS" "$TREES"
fi
# Promote ours as the train function does (artifact under models/<version>/, then the
# pointer), into the benchmark's own bucket; the rules document beside it.
aws s3api head-bucket --bucket "$BENCH_MODELS_BUCKET" >/dev/null 2>&1 || aws s3 mb "s3://$BENCH_MODELS_BUCKET" >/dev/null
promote_model "$MODELS/model/model.json" "$BENCH_MODELS_BUCKET" "$WORK"
"$BIN/fraudctl" rules push rules/example.json --bucket "$BENCH_MODELS_BUCKET" | sed 's/^/  /'
SK_THRESHOLD=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["threshold"])' "$MODELS/sklearn_train.json")
echo "  ours: model $VERSION promoted in s3://$BENCH_MODELS_BUCKET; scikit-learn: $MODELS/sklearn.joblib (threshold $SK_THRESHOLD)"

# --- Payments: distinct, generated, in event-time order; each phase takes the next slice --
total=$("$PY" -c "
w = $WARMUP_RATE * $WARMUP_SECS
print(round(w + sum(float(r) * $DURATION for r in '$RATES'.split()) + sum(float(r) * $DURATION for r in '$ANCHOR_EXTRA_RATES'.split())))")
customers=$(( total * 130 / 100 / 30 + 50 ))
say "payments: about $total needed, generating for $customers cards over 30 days"
"$BIN/fraudctl" generate --customers "$customers" --days 30 --seed "$((RUN_ID % 100000 + 11))" \
  --out "$WORK/data/payments.csv" >/dev/null 2>&1
"$PY" bench/decide_load.py bodies "$WORK/data/payments.csv" --prefix "dl$RUN_ID-" \
  --out "$WORK/data/bodies.jsonl" > "$WORK/data/bodies.json"
sed 's/^/  /' "$WORK/data/bodies.json"
have=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["bodies"])' "$WORK/data/bodies.json")
(( have > total + 1 )) || { echo "generated $have payments, $((total + 1)) needed" >&2; exit 1; }
rm -f "$WORK/data/payments.csv"

# load SIDE LABEL URL RATE SECONDS START
load() {
  "$PY" bench/decide_load.py run --side "$1" --label "$2" --url "$3" --rate "$4" --duration "$5" \
    --start "$6" --bodies "$WORK/data/bodies.jsonl" --timeout "$TIMEOUT" --connections "$CONNECTIONS" \
    --out "$RESULTS/$1_$2.json" 2> "$WORK/logs/load-$1-$2.log" | sed 's/^/  /'
}
slice_next=0
take() { # RATE SECONDS: the first body of the next slice, in $slice
  slice=$slice_next
  slice_next=$(( slice_next + $("$PY" -c "print(round($1 * $2))") ))
}

# --- Ours ---------------------------------------------------------------------------------
say "fraud-score behind cargo lambda watch --release (127.0.0.1:$INVOKE_PORT, ${DECIDE_VIA:-invoke}, concurrency $WATCH_CONCURRENCY)"
{ functions_env "$INVOKE_PORT" "$WORK" | grep -v -e '^FRAUD_MODELS_BUCKET=' -e '^MODEL_CHECK_SECS='
  cat <<ENV
FRAUD_MODELS_BUCKET=$BENCH_MODELS_BUCKET
MODEL_CHECK_SECS=$MODEL_CHECK_SECS
KAFKA_TOPIC_SCORED=bench.scored
ENV
} > "$WORK/functions.env"
( set -a; . "$WORK/functions.env"; set +a
  exec cargo lambda watch --release --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
    --concurrency "$WATCH_CONCURRENCY" --ignore-changes --env-file "$WORK/functions.env" ) > "$WORK/logs/watch.log" 2>&1 &
pids+=($!)
wait_port "$INVOKE_PORT" watch 180 "$WORK/logs/watch.log"
# DECIDE_VIA=invoke (default): the Lambda Invoke API with the payment as the event (the
# handler's one-payment path, the same `Scorer::decide`); DECIDE_VIA=url: the Function URL
# as cargo lambda watch serves it (cargo-lambda 1.9.2 answered it 500 on 2026-12-06 although
# the function's Function URL response was well formed; see BENCHMARKS.md).
if [[ "${DECIDE_VIA:-invoke}" == url ]]; then
  URL="http://127.0.0.1:$INVOKE_PORT/lambda-url/fraud-score/"
else
  URL="http://127.0.0.1:$INVOKE_PORT/2015-03-31/functions/fraud-score/invocations"
fi
# The first request starts the function (and builds it if cargo lambda watch's build differs
# from ours): outside any measurement. Its payment is the first body.
take 1 1
echo "  starting fraud-score (first request)"
sed -n "$((slice + 1))p" "$WORK/data/bodies.jsonl" > "$WORK/data/first.json"
# cargo lambda watch answers 500 when its build outlasts the request; the function is
# running after that, and the same payment asked again gets the ledger's answer.
for attempt in 1 2 3; do
  code=$(curl -sS --max-time 1200 -o "$WORK/logs/first-answer.json" -w '%{http_code}' -X POST \
    -H 'content-type: application/json' "$URL" --data-binary "@$WORK/data/first.json") || code=000
  [[ "$code" == 200 ]] && break
  echo "  attempt $attempt: HTTP $code, asking again"; sleep 2
done
if [[ "$code" != 200 ]] || ! grep -q '"decision"' "$WORK/logs/first-answer.json"; then
  echo "fraud-score did not answer (HTTP $code): $(head -c 1000 "$WORK/logs/first-answer.json")" >&2; exit 1
fi
echo "  first answer: $(head -c 400 "$WORK/logs/first-answer.json")"

say "ours: warm-up at $WARMUP_RATE req/s for $WARMUP_SECS s (not reported)"
take "$WARMUP_RATE" "$WARMUP_SECS"
load warmup warmup "$URL" "$WARMUP_RATE" "$WARMUP_SECS" "$slice"
for rate in $RATES; do
  say "ours at $rate req/s for $DURATION s"
  take "$rate" "$DURATION"
  load ours "r$rate" "$URL" "$rate" "$DURATION" "$slice"
done
grep -c '"payment decided"' "$WORK/logs/watch.log" | sed 's/^/  payment decided log lines: /' || true
grep -E '"level":"(ERROR|WARN)"|ERROR|WARN' "$WORK/logs/watch.log" | head -n 5 | sed 's/^/  watch log: /' || true
# cargo runs cargo-lambda as a child: stop that child (which stops the function instances) too.
kill $(pgrep -P "${pids[-1]}") "${pids[-1]}" 2>/dev/null || true
wait "${pids[-1]}" 2>/dev/null || true
unset 'pids[-1]'

# --- Anchor -------------------------------------------------------------------------------
if [[ -n "$ANCHOR_RATES$ANCHOR_EXTRA_RATES" ]]; then
  say "anchor: Flask + scikit-learn under gunicorn ($ANCHOR_WORKERS sync workers) on 127.0.0.1:$ANCHOR_PORT"
  ( export DECIDE_MODEL="$PWD/$MODELS/sklearn.joblib" DECIDE_BLOCK_AT="$SK_THRESHOLD" OMP_NUM_THREADS=1
    exec "$VENV/bin/gunicorn" -w "$ANCHOR_WORKERS" -b "127.0.0.1:$ANCHOR_PORT" --backlog 2048 \
      --timeout 60 --no-control-socket --chdir bench/reference decide_service:app ) > "$WORK/logs/anchor.log" 2>&1 &
  pids+=($!)
  wait_port "$ANCHOR_PORT" anchor 120 "$WORK/logs/anchor.log"
  AURL="http://127.0.0.1:$ANCHOR_PORT/"
  for _ in 1 2 3 4; do curl -sS -o /dev/null -X POST -H 'content-type: application/json' "$AURL" \
    --data-binary "@$WORK/data/first.json"; done
  # The anchor keeps its histories in memory (fresh at start): it replays the payments ours
  # saw, from the second one, in the same order.
  slice_next=1
  say "anchor: warm-up at 50 req/s for $WARMUP_SECS s (not reported)"
  take 50 "$WARMUP_SECS"
  load warmup anchor-warmup "$AURL" 50 "$WARMUP_SECS" "$slice"
  for rate in $ANCHOR_EXTRA_RATES $ANCHOR_RATES; do
    say "anchor at $rate req/s for $DURATION s"
    take "$rate" "$DURATION"
    load anchor "r$rate" "$AURL" "$rate" "$DURATION" "$slice"
  done
  kill "${pids[-1]}" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
fi

# --- Report -------------------------------------------------------------------------------
say "report: $REPORT"
MODEL_DESC=$("$PY" - "$MODELS/model/model.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
forest = m.get("model") if isinstance(m.get("model"), dict) else {}
trees = forest.get("trees") if isinstance(forest.get("trees"), list) else []
learner = (m.get("training") or {}).get("learner") or "forest"
print(f"{m['version']} ({learner}, {len(trees) or '?'} trees)")
PY
)
ANCHOR_MODEL=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["model"])' "$MODELS/sklearn_train.json")
META_EXTRA=$("$PY" -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
  command "$( [[ "$QUICK" == 1 ]] && echo "QUICK=1 ")bash bench/decide_latency.sh" \
  commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates functions Cargo.lock || echo ', with uncommitted changes to crates/functions in the working tree')" loadavg_start "$LOAD_START" \
  watch_concurrency "$WATCH_CONCURRENCY" endpoint "${URL#http://127.0.0.1:$INVOKE_PORT}" model "ours, $MODEL_DESC, \`fraudctl train --learner cart --max-features 6 --trees $TREES\`" \
  models_bucket "$BENCH_MODELS_BUCKET" anchor_workers "$ANCHOR_WORKERS" anchor_model "$ANCHOR_MODEL" \
  connections "$CONNECTIONS" warmup "$WARMUP_SECS s at $WARMUP_RATE req/s (ours) / 50 req/s (anchor)" \
  shared_note "${SHARED_NOTE:-}")
"$PY" - "$META_EXTRA" "$WORK/data/bodies.json" "$TIMEOUT" > "$WORK/meta-extra.json" <<'PY'
import json, sys
extra = json.loads(sys.argv[1]); b = json.load(open(sys.argv[2]))
extra.update(bodies=b["bodies"], cards=b["cards"], timeout=float(sys.argv[3]))
print(json.dumps(extra))
PY
"$PY" bench/decide_load.py meta --out "$RESULTS/meta.json" --extra "$(cat "$WORK/meta-extra.json")"
mkdir -p "$(dirname "$REPORT")"
"$PY" bench/decide_load.py report "$RESULTS" --out "$REPORT"
say "done"
