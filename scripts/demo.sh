#!/usr/bin/env bash
# The main job: generate Sparkov-like data, train on it with a time split, score a
# later period with the trained model and print a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
FRAUDCTL="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}/release/fraudctl"
OUT="${OUT:-out}"
DATA="${DATA:-}"            # a user's own fraudTrain.csv, if given
CUSTOMERS="${CUSTOMERS:-2000}"
DAYS="${DAYS:-120}"
mkdir -p "$OUT"
started=$SECONDS

if [[ -z "$DATA" ]]; then
  DATA="$OUT/train.csv"
  echo "== 1. Generating $DAYS days of payments for $CUSTOMERS cards"
  "$FRAUDCTL" generate --customers "$CUSTOMERS" --days "$DAYS" --seed 7 --out "$DATA"
else
  echo "== 1. Using your data: $DATA"
fi

echo "== 2. Training (time split: earliest 60% train, 10% validation, latest 30% test)"
"$FRAUDCTL" train --data "$DATA" --out "$OUT/model"

echo "== 3. Scoring a later period the model has never seen"
"$FRAUDCTL" generate --customers "$CUSTOMERS" --days 14 --start 2019-09-01 --seed 8 --out "$OUT/live.csv"
"$FRAUDCTL" score --model "$OUT/model" --input "$OUT/live.csv" --output "$OUT/scores.csv"
"$FRAUDCTL" evaluate --model "$OUT/model" --data "$OUT/live.csv"

echo
echo "== Summary"
echo "  model:  $OUT/model/model.json (metrics in $OUT/model/metrics.json)"
echo "  scores: $OUT/scores.csv"
echo "  done in $((SECONDS - started)) s"
