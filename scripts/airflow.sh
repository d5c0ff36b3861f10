#!/usr/bin/env bash
# Airflow for the fraud-detection DAGs (airflow/dags), in its own venv, headless.
#
# Usage: scripts/airflow.sh <command>
#   install                       venv + pinned Airflow 2.10.5 / amazon provider
#                                 (airflow/requirements.txt) + `airflow db migrate`;
#                                 does nothing when already done for this requirements file
#   dagbag-test                   import the DAGs (DagBag, no examples), fail on import
#                                 errors, assert the four dag ids, then run tests/airflow
#                                 (the DAGs against a fake Lambda Invoke API; offline)
#   dags-test-retrain <invoke_endpoint> <data_uri> [min_pr_auc]
#                                 `airflow dags test fraud_retrain` with the aws_default
#                                 connection pointed at <invoke_endpoint> (cargo lambda
#                                 watch, LocalStack, ...), training on <data_uri>; fails
#                                 unless the run succeeded
#   dags-test-monitor <invoke_endpoint> <conf_json> <out_json>
#                                 `airflow dags test fraud_monitor` the same way with
#                                 <conf_json>; writes the task states and the figures the
#                                 tasks pushed (windows, summary, exported, retrained) to
#                                 <out_json>; fails unless the run succeeded
#   freeze                        rewrite airflow/requirements.txt from the venv
#   airflow <args...>             run the airflow CLI with this environment
#
# State: ${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}/venv/airflow (venv) and .../airflow (AIRFLOW_HOME).
set -euo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}"
VENV="$STATE/venv/airflow"
REQUIREMENTS="$REPO/airflow/requirements.txt"
AIRFLOW_VERSION="2.10.5"
PYTHON="${AIRFLOW_PYTHON:-python3}"   # the pins were frozen on Python 3.11
MARKER="$VENV/.fraud-requirements.sha256"
DAG_IDS=(fraud_ingest_score fraud_monitor fraud_notification_summary fraud_retrain)

export AIRFLOW_HOME="$STATE/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/airflow/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__EXECUTOR=SequentialExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs"
export AIRFLOW__SCHEDULER__CHILD_PROCESS_LOG_DIRECTORY="$AIRFLOW_HOME/logs/scheduler"
export AIRFLOW__WEBSERVER__SECRET_KEY="${AIRFLOW__WEBSERVER__SECRET_KEY:-fraud-local-only}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning}"
export NO_PROXY="${NO_PROXY:-127.0.0.1,localhost}"

log() { printf '[airflow] %s\n' "$*" >&2; }
die() { printf '[airflow] ERROR: %s\n' "$*" >&2; exit 1; }
since() { echo "$((SECONDS - $1))s"; }

installed() {
  [[ -x "$VENV/bin/airflow" && -f "$MARKER" ]] &&
    [[ "$(cat "$MARKER")" == "$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)" ]]
}

cmd_install() {
  local t=$SECONDS
  [[ -f "$REQUIREMENTS" ]] || die "missing $REQUIREMENTS"
  if installed; then
    log "Airflow $AIRFLOW_VERSION already installed in $VENV"
  else
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Airflow $AIRFLOW_VERSION needs Python 3.8-3.12; pins are for 3.11)"
    local pyver
    pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    [[ "$pyver" == 3.11 ]] || log "warning: $PYTHON is Python $pyver; airflow/requirements.txt was frozen on 3.11"
    log "installing Airflow $AIRFLOW_VERSION + amazon provider into $VENV (pinned; a few minutes the first time)"
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    "$VENV/bin/airflow" version >/dev/null
    sha256sum "$REQUIREMENTS" | cut -d' ' -f1 > "$MARKER"
  fi
  mkdir -p "$AIRFLOW_HOME"
  if [[ ! -f "$AIRFLOW_HOME/.migrated-$AIRFLOW_VERSION" ]]; then
    log "airflow db migrate ($AIRFLOW_HOME)"
    "$VENV/bin/airflow" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 30 "$AIRFLOW_HOME/db-migrate.log" >&2; die "airflow db migrate failed"; }
    touch "$AIRFLOW_HOME/.migrated-$AIRFLOW_VERSION"
  fi
  log "ready ($(since "$t")); AIRFLOW_HOME=$AIRFLOW_HOME"
}

cmd_dagbag_test() {
  cmd_install
  local t=$SECONDS
  "$VENV/bin/python" - "$REPO/airflow/dags" "${DAG_IDS[@]}" <<'PY'
import sys
from airflow.models import DagBag
folder, expected = sys.argv[1], set(sys.argv[2:])
bag = DagBag(dag_folder=folder, include_examples=False)
if bag.import_errors:
    for path, err in bag.import_errors.items():
        print(f"import error in {path}:\n{err}", file=sys.stderr)
    sys.exit(1)
ids = set(bag.dag_ids)
if ids != expected:
    sys.exit(f"DAG ids {sorted(ids)} != expected {sorted(expected)}")
print(f"[airflow] DagBag: {len(ids)} DAGs, no import errors: {', '.join(sorted(ids))}", file=sys.stderr)
PY
  # The DAG tests run many dag.test()s: give them their own database.
  local test_db="sqlite:///$AIRFLOW_HOME/tests.db"
  if [[ ! -f "$AIRFLOW_HOME/.migrated-tests-$AIRFLOW_VERSION" ]]; then
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$test_db" "$VENV/bin/airflow" db migrate >"$AIRFLOW_HOME/db-migrate-tests.log" 2>&1 ||
      { tail -n 30 "$AIRFLOW_HOME/db-migrate-tests.log" >&2; die "airflow db migrate (tests) failed"; }
    touch "$AIRFLOW_HOME/.migrated-tests-$AIRFLOW_VERSION"
  fi
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$test_db" SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning "$REPO/tests/airflow"
  log "dagbag-test done ($(since "$t"))"
}

# dags_test DAG ENDPOINT CONF DATE STARTED: `airflow dags test DAG DATE --conf CONF` with the
# aws_default connection pointed at ENDPOINT (any Lambda Invoke API); dies, showing the
# log's errors, if the run failed. The log: $AIRFLOW_HOME/dags-test-<DAG>.log.
dags_test() {
  local dag=$1 endpoint=$2 conf=$3 date=$4 t=$5 conn logf
  conn="$("$VENV/bin/python" -c 'import json,sys; print(json.dumps({"conn_type":"aws","login":"test","password":"test","extra":{"region_name":"us-east-1","endpoint_url":sys.argv[1]}}))' "$endpoint")"
  logf="$AIRFLOW_HOME/dags-test-${dag#fraud_}.log"
  log "airflow dags test $dag $date (endpoint $endpoint, conf $conf); log: $logf"
  if ! AIRFLOW_CONN_AWS_DEFAULT="$conn" AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
      "$VENV/bin/airflow" dags test "$dag" "$date" --conf "$conf" >"$logf" 2>&1; then
    grep -E "ERROR|Traceback|AirflowException|ValueError|failed" "$logf" | tail -n 20 >&2 || true
    die "$dag failed after $(since "$t") (see $logf)"
  fi
}

cmd_dags_test_retrain() {
  [[ $# -ge 2 ]] || die "usage: scripts/airflow.sh dags-test-retrain <invoke_endpoint> <data_uri> [min_pr_auc]"
  local endpoint=$1 uri=$2 min=${3:-0.5} t
  cmd_install
  t=$SECONDS
  local conf date
  conf="$("$VENV/bin/python" -c 'import json,sys; print(json.dumps({"data_uris":[sys.argv[1]],"force":False,"min_pr_auc":float(sys.argv[2])}))' "$uri" "$min")"
  date="$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
  dags_test fraud_retrain "$endpoint" "$conf" "$date" "$t"
  "$VENV/bin/python" - "$date" <<'PY'
import sys
import pendulum
from airflow.models import DagRun, XCom
from airflow.utils.session import create_session
with create_session() as session:
    run = (session.query(DagRun).filter(DagRun.dag_id == "fraud_retrain",
                                        DagRun.execution_date == pendulum.parse(sys.argv[1])).one())
    states = {ti.task_id: ti.state for ti in run.get_task_instances(session=session)}
    metrics = XCom.get_one(run_id=run.run_id, dag_id="fraud_retrain", task_id="evaluate", key="return_value", session=session)
print(f"[airflow] fraud_retrain run {run.run_id}: {run.state}; tasks {states}", file=sys.stderr)
print(f"[airflow] metrics (XCom evaluate): {metrics}", file=sys.stderr)
# The Lambda runner (the default here) takes the invoke branch: the Batch branch's tasks
# are skipped, every other task must succeed.
batch_branch = {"submit_train_job", "job_response"}
ok = run.state == "success" and all(
    s == ("skipped" if t in batch_branch else "success") for t, s in states.items()
)
sys.exit(0 if ok else 1)
PY
  log "fraud_retrain succeeded in $(since "$t")"
}

cmd_dags_test_monitor() {
  [[ $# -eq 3 ]] || die "usage: scripts/airflow.sh dags-test-monitor <invoke_endpoint> <conf_json> <out_json>"
  local endpoint=$1 conf=$2 out=$3 t date
  cmd_install
  t=$SECONDS
  date="$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
  dags_test fraud_monitor "$endpoint" "$conf" "$date" "$t"
  "$VENV/bin/python" - "$date" "$out" <<'PY'
import json, sys
import pendulum
from airflow.models import DagRun, XCom
from airflow.utils.session import create_session
with create_session() as session:
    run = (session.query(DagRun).filter(DagRun.dag_id == "fraud_monitor",
                                        DagRun.execution_date == pendulum.parse(sys.argv[1])).one())
    states = {ti.task_id: ti.state for ti in run.get_task_instances(session=session)}
    get = lambda task, key="return_value": XCom.get_one(run_id=run.run_id, dag_id="fraud_monitor",
                                                        task_id=task, key=key, session=session)
    result = {"state": run.state, "tasks": states, "windows": get("needs_retraining", "windows"),
              "summary": get("needs_retraining", "summary"), "exported": get("build_train_request", "exported"),
              "retrained": get("check_retrained")}
json.dump(result, open(sys.argv[2], "w"), indent=1, default=str)
print(f"[airflow] fraud_monitor run {run.run_id}: {run.state}; tasks {states}", file=sys.stderr)
# Without an alert the training tasks are skipped (short circuit); nothing may fail.
sys.exit(0 if run.state == "success" and all(s in ("success", "skipped") for s in states.values()) else 1)
PY
  log "fraud_monitor succeeded in $(since "$t")"
}

cmd_freeze() {
  [[ -x "$VENV/bin/python" ]] || die "no venv at $VENV"
  {
    echo "# Airflow $AIRFLOW_VERSION + apache-airflow-providers-amazon (+ pytest for tests/airflow):"
    echo "# full pip freeze of a working venv on Python $("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'),"
    echo "# generated by 'scripts/airflow.sh freeze' (the Airflow constraint files are not reachable)."
    "$VENV/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable
  } > "$REQUIREMENTS"
  sha256sum "$REQUIREMENTS" | cut -d' ' -f1 > "$MARKER"
  log "wrote $REQUIREMENTS ($(grep -vc '^#' "$REQUIREMENTS") packages)"
}

case "${1:-}" in
  install) cmd_install ;;
  dagbag-test) cmd_dagbag_test ;;
  dags-test-retrain) shift; cmd_dags_test_retrain "$@" ;;
  dags-test-monitor) shift; cmd_dags_test_monitor "$@" ;;
  freeze) cmd_freeze ;;
  airflow) shift; exec "$VENV/bin/airflow" "$@" ;;
  *) sed -n '2,24p' "$0"; exit 2 ;;
esac
