# The latency benchmarks' models: ours (fraudctl's cart forest) and scikit-learn's
# RandomForest trained on the same generated data, and ours promoted as the train function
# promotes. Source it; the functions need PY (bench_venv) and BIN (the built fraudctl).

# train_models DIR SUMMARY CUSTOMERS DAYS TREES: generates CUSTOMERS cards over DAYS days
# (seed 7), trains ours into DIR/model and scikit-learn's into DIR/sklearn.joblib (its
# training summary, with the threshold, into SUMMARY), TREES trees each (seed 1); the
# generated data and its features are removed afterwards.
train_models() {
  local dir=$1 summary=$2 customers=$3 days=$4 trees=$5
  mkdir -p "$dir"
  "$BIN/fraudctl" generate --customers "$customers" --days "$days" --seed 7 \
    --out "$dir/train.csv" >/dev/null
  "$BIN/fraudctl" train --learner cart --max-features 6 --trees "$trees" --seed 1 --no-report \
    --data "$dir/train.csv" --out "$dir/model" >/dev/null
  "$BIN/fraudctl" features --data "$dir/train.csv" --out "$dir/features.csv" >/dev/null
  "$PY" bench/reference/rf_train.py --save-model "$dir/sklearn.joblib" -- "$dir/features.csv" \
    --trees "$trees" --seed 1 > "$summary"
  rm -f "$dir/features.csv" "$dir/train.csv"
}

# promote_model MODEL_JSON BUCKET WORK: the artifact under s3://BUCKET/models/<version>/,
# then the pointer models/current.json (written first to WORK/current.json); sets VERSION.
promote_model() {
  local model=$1 bucket=$2 work=$3
  VERSION=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$model")
  aws s3 cp --quiet "$model" "s3://$bucket/models/$VERSION/model.json"
  "$PY" - "$model" "s3://$bucket/models/$VERSION/model.json" > "$work/current.json" <<'PY'
import datetime, json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps({"version": m["version"], "uri": sys.argv[2],
                  "promoted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                  "test_pr_auc": m["metrics"]["test"]["pr_auc"]}))
PY
  aws s3 cp --quiet "$work/current.json" "s3://$bucket/models/current.json"
}
