#!/usr/bin/env bash
# A/B of the end-to-end latency of two builds of ours on one local stack: alternately,
# ROUNDS rounds of `QUICK=1 bench/latency.sh` (1k msg/s for 20 s, our side only) in a clone
# at each revision, each clone with its own cargo target dir (cargo would otherwise reuse one
# build for both). Prints, per run, publish → scored and → alert percentiles and the score
# function's own per-batch step timings (its `batch scored` log lines).
#
# Usage: bench/latency_ab.sh BEFORE_REV [AFTER_REV]     (AFTER_REV: HEAD)
# Knobs: ROUNDS (2), RATES (1000), DURATION (20); the stack's own FRAUD_STACK_* variables.
# Work: out/latency-ab/{before,after}; target dirs $CARGO_TARGET_DIR-ab-{before,after}, each
# seeded from $CARGO_TARGET_DIR when new (a copy: saves two release builds from scratch).
# A BEFORE_REV older than dfd88e4 has no PY_RATES knob and also runs the Python side (slower).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { sed -n '2,10p' "$0"; exit 2; }
REPO="$PWD"
WORK="$REPO/out/latency-ab"
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
ROUNDS="${ROUNDS:-2}"
declare -A REV=([before]="$(git rev-parse "$1")" [after]="$(git rev-parse "${2:-HEAD}")")
mkdir -p "$WORK"
for side in before after; do
  rm -rf "${WORK:?}/$side"
  git clone -q "$REPO" "$WORK/$side"
  git -C "$WORK/$side" checkout -q "${REV[$side]}"
  # The clone's bench/latency.sh looks for ../shared like the checkout does.
  [[ -e "$WORK/shared" || ! -e "$REPO/../shared" ]] || ln -s "$(cd "$REPO/../shared" && pwd)" "$WORK/shared"
done
for side in before after; do
  if [[ ! -e "$TARGET-ab-$side" && -d "$TARGET" ]]; then
    echo "seeding $TARGET-ab-$side from $TARGET"
    cp -a "$TARGET" "$TARGET-ab-$side"
  fi
done
for round in $(seq 1 "$ROUNDS"); do
  for side in before after; do
    echo "== round $round: $side (${REV[$side]:0:7}), load $(cut -d' ' -f1 /proc/loadavg)"
    log="$WORK/$side-$round.log"
    ( cd "$WORK/$side" && CARGO_TARGET_DIR="$TARGET-ab-$side" QUICK=1 RATES="${RATES:-1000}" \
        DURATION="${DURATION:-20}" PY_RATES="" PY_STEP_RATES="" bash bench/latency.sh ) > "$log" 2>&1 \
      || { tail -n 20 "$log"; exit 1; }
    cp "$WORK/$side/out/bench-latency-quick/logs/watch.log" "$WORK/$side-$round.watch.log"
    cp "$WORK/$side/out/bench-latency-quick/BENCHMARKS.latency.md" "$WORK/$side-$round.md"
    grep -E "^\| ours \|" "$WORK/$side-$round.md" | sed 's/^/  scored: /'
    grep -A5 "publish → alert" "$WORK/$side-$round.md" | grep -E "^\| [0-9]" | sed 's/^/  alerts: /'
    python3 - "$WORK/$side-$round.watch.log" <<'PY'
import json, sys
steps = {}
for line in open(sys.argv[1], errors="replace"):
    if '"batch scored"' not in line:
        continue
    try:
        d = json.loads(line[line.index("{"):])
    except ValueError:
        continue
    if not d.get("received"):
        continue
    for k, v in d.items():
        if k.endswith("_ms"):
            steps.setdefault(k, []).append(float(v))
for k, v in steps.items():
    v.sort()
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    print(f"  {k:10s} p50 {q(.5):6.1f}  p90 {q(.9):6.1f}  p99 {q(.99):6.1f}  mean {sum(v) / len(v):6.1f} ms"
          f"  ({len(v)} batches)")
PY
  done
done
echo "== done: logs and reports in $WORK"
