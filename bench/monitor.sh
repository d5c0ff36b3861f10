#!/usr/bin/env bash
# The model monitor's time and peak memory over about 10⁶ scored payments (issue 20).
#
#   prepare (not measured): generated payments (fraud-generator, CUSTOMERS cards over
#            TRAIN_DAYS + LIVE_DAYS days), a 30-tree forest trained on the first TRAIN_DAYS,
#            every payment scored in time order, the LIVE_DAYS' claimed in the ledger of a
#            fresh database `fraud_monitor_bench` on the local PostgreSQL (labels kept)
#   run (measured, its own process): one monitor run over the live window with the track
#            function's code (functions/track/src/monitor.rs): quality figures (one aggregate
#            query + the labelled rows), the window's scores, features recomputed from the
#            payments file (every payment, the warm-up days included), PSI of the score and of
#            every feature, verdict, cost, report drawn (PNG + HTML), figures stored
#
# Prints the run's JSON (seconds, peak_rss_mb = the process's VmHWM, volumes, the verdict)
# and writes it to out/bench-monitor/result.json. Needs the local stack's PostgreSQL
# (`bash localstack/stack.sh up`).
#
# Knobs (environment): CUSTOMERS (32000: about 10⁶ payments in the live days), TRAIN_DAYS (30), LIVE_DAYS (28), PROFILE (release;
#   `dev` for the debug profile: dependencies at opt-level 2, fraud-core at 3), OUT
#   (out/bench-monitor), KEEP=1 to reuse a prepared OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
CUSTOMERS="${CUSTOMERS:-32000}" TRAIN_DAYS="${TRAIN_DAYS:-30}" LIVE_DAYS="${LIVE_DAYS:-28}"
PROFILE="${PROFILE:-release}" OUT="${OUT:-out/bench-monitor}" KEEP="${KEEP:-0}"
eval "$(bash localstack/stack.sh env)"
log() { printf '[bench-monitor] %s\n' "$*" >&2; }

nice -n 10 cargo build --profile "$PROFILE" -p fraud-fn-track --example monitor_bench >&2
dir=release; [[ "$PROFILE" == dev ]] && dir=debug
BIN="$CARGO_TARGET_DIR/$dir/examples/monitor_bench"

if [[ "$KEEP" != 1 || ! -f "$OUT/window.json" ]]; then
  log "prepare: $CUSTOMERS cards, $TRAIN_DAYS training days, $LIVE_DAYS live days"
  "$BIN" prepare "$OUT" "$CUSTOMERS" "$TRAIN_DAYS" "$LIVE_DAYS"
fi
log "run (measured): $(cat "$OUT/window.json")"
# The process's own VmHWM is the peak; /usr/bin/time's maximum resident size agrees when present.
"$BIN" run "$OUT" | tee "$OUT/result.json"
