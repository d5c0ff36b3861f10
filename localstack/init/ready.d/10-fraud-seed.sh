#!/bin/bash
# LocalStack init hook for docker-compose.yml (runs inside the LocalStack container,
# where `awslocal` exists). Same seed as localstack/seed.py: S3 buckets and SQS queues.
# Idempotent. Host mode (localstack/stack.sh) does not use this file.
set -euo pipefail

for bucket in fraud-models fraud-data fraud-results; do
    awslocal s3api head-bucket --bucket "$bucket" >/dev/null 2>&1 ||
        awslocal s3api create-bucket --bucket "$bucket" >/dev/null
done

awslocal sqs create-queue --queue-name fraud-alerts-dlq >/dev/null
awslocal sqs create-queue --queue-name fraud-ingest-dlq >/dev/null
dlq_url="$(awslocal sqs get-queue-url --queue-name fraud-alerts-dlq --query QueueUrl --output text)"
dlq_arn="$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)"
url="$(awslocal sqs create-queue --queue-name fraud-alerts --query QueueUrl --output text)"
awslocal sqs set-queue-attributes --queue-url "$url" --attributes \
    "{\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":\\\"3\\\"}\"}"
echo "fraud seed: buckets fraud-models fraud-data fraud-results; queues fraud-alerts(+dlq) fraud-ingest-dlq"
