# Entry points. The README's two commands are `make demo` and `make test`.
# Build outputs go to a cargo target dir outside the repo (reused across clones).
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/fraud-detect/target
export CARGO_TERM_COLOR ?= never
FRAUDCTL := $(CARGO_TARGET_DIR)/release/fraudctl
FIXTURE ?= $(abspath ../shared/data/fraud_fixture.csv)
OUT ?= out

.PHONY: demo demo-offline test lint unit template airflow-test e2e compat localstack-lambda-test drift-scenario build lambda-build compare bench bench-latency bench-decide bench-broker bench-scale stack-up stack-down stack-status clean

## Set everything up and run the main job end to end on the local stack.
demo:
	bash scripts/e2e.sh

## The offline version: generate, train, score and evaluate with the CLI only.
demo-offline: build
	bash scripts/demo.sh

## The full test suite (what CI runs): lints, then unit, property, real-data and
## integration tests against the local services (started, and installed if missing).
test: lint deny stack-up unit fuzz template airflow-test e2e drift-scenario compat faults-ci localstack-lambda-test

## SAM template: cfn-lint plus policy/shape tests (offline).
template:
	bash scripts/template-check.sh --localstack

## Airflow DAGs: DagBag import and DAG runs against a fake Invoke API.
airflow-test:
	bash scripts/airflow.sh dagbag-test

e2e:
	AIRFLOW_CHECK=1 bash scripts/e2e.sh --check

## Issue 20's acceptance on the stack: drift (generator) → the monitor flags the served
## model → the fraud_monitor DAG retrains on what was scored → the new model wins; a
## no-drift month raises no alert. Exit 1 if a check fails.
drift-scenario:
	bash scripts/drift.sh

## Other teams' producers (confluent-kafka, kafka-python; every encoding and key mode)
## through the Kafka event source and score: each trans_num scored once or dead-lettered.
compat:
	bash scripts/compat.sh

## Our functions running inside LocalStack without Docker (process executor):
## invoke, SQS event source -> notify, schedule -> ingest, logs; cold/warm numbers.
localstack-lambda-test:
	bash scripts/localstack-lambda-test.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit:
	bash scripts/mlflow.sh up
	eval "$$(bash localstack/stack.sh env)" && eval "$$(bash scripts/mlflow.sh env)" && cargo test --workspace --locked

build:
	bash scripts/check-toolchain.sh
	cargo build --release --locked -p fraudctl

## Deployment zips of the five functions (size-tuned `lambda` profile); ARCH=arm64 for Graviton.
lambda-build:
	bash scripts/lambda-build.sh

## Our model vs the scikit-learn reference on the same features and split.
compare: build
	bash bench/compare.sh "$(FIXTURE)"

## Benchmarks vs the Python reference pipeline; rewrites BENCHMARKS.md (QUICK=1 for small sizes).
bench:
	bash bench/run.sh

## End-to-end latency on the local stack, ours vs the Python consumer (QUICK=1: a short smoke).
bench-latency:
	bash bench/latency.sh

bench-decide:
	bash bench/decide_latency.sh

## Training at 100k to 3M generated rows, ours vs XGBoost and LightGBM (QUICK=1: small sizes).
bench-scale:
	bash bench/scale.sh

## The Kafka broker's storage engines side by side (produce acks, read-back), no pipeline code.
bench-broker:
	bash bench/broker_storage.sh

stack-up:
	bash localstack/stack.sh up

stack-down:
	bash localstack/stack.sh down
	bash scripts/mlflow.sh down

stack-status:
	bash localstack/stack.sh status

clean:
	rm -rf $(OUT)

## Reliability and security (RELIABILITY.md).
.PHONY: deny faults faults-ci fuzz fuzz-long
## Supply chain: cargo-deny licenses, bans, sources (installs cargo-deny if missing).
deny:
	bash scripts/deny.sh

## Fault-injection matrix on the local stack (stops/starts Kafka and Postgres; run serially).
faults:
	bash scripts/faults.sh

## The part of the matrix `make test` runs: the pipeline (Kafka broker restart, payments
## API faults, score process killed), Postgres down during training, secrets in logs.
## The in-process fault tests (score/notify tests/faults.rs) already run in `unit`.
faults-ci:
	bash scripts/faults.sh pipeline postgres secrets

## Parser fuzzing, short (CI) run: FUZZ_CASES per parser (default 10000; debug build).
fuzz:
	FUZZ_CASES=$${FUZZ_CASES:-10000} cargo test --locked -p fraud-core --test fuzz_parsers -- --ignored --nocapture

## Parser fuzzing, long run: 2.5*10^5 per parser, 1.25*10^6 generated inputs in total.
fuzz-long:
	FUZZ_CASES=250000 cargo test --locked --release -p fraud-core --test fuzz_parsers -- --ignored --nocapture --test-threads 1
