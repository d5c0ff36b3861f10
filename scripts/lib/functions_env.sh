# The environment every locally served function gets (the --env-file of cargo lambda
# watch): the local stack's endpoints, credentials, buckets, queue and database (from
# `localstack/stack.sh env`), the Invoke API on the script's port, and the model cache in
# the script's output folder. Shared by e2e, compat and faults; source it, then
#   { functions_env "$INVOKE_PORT" "$OUT"; cat <<ENV
#   <the script's own lines>
#   ENV
#   } > "$OUT/functions.env"
functions_env() { # invoke-port out-dir
  cat <<ENV
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:$1
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_REGION=$AWS_REGION
AWS_EC2_METADATA_DISABLED=true
KAFKA_BROKERS=$KAFKA_BROKERS
DATABASE_URL=$DATABASE_URL
FRAUD_MODELS_BUCKET=$FRAUD_MODELS_BUCKET
FRAUD_RESULTS_BUCKET=$FRAUD_RESULTS_BUCKET
FRAUD_DATA_BUCKET=$FRAUD_DATA_BUCKET
FRAUD_ALERTS_QUEUE_URL=$FRAUD_ALERTS_QUEUE_URL
MODEL_CHECK_SECS=5
MODEL_CACHE_DIR=$PWD/$2/model-cache
TRACK_FUNCTION_NAME=fraud-track
RUST_LOG=info
ENV
}
