#!/usr/bin/env bash
# A local MLflow tracking server for the track function's optional mirror (and its tests).
#
#   scripts/mlflow.sh up      install (once, pinned, into the stack's state dir) and start
#   scripts/mlflow.sh env     print `export MLFLOW_TRACKING_URI=...` for it
#   scripts/mlflow.sh down    stop it
#
# State: ${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}/{venv/mlflow,mlflow}. Port: $MLFLOW_PORT
# (default 15000). Backend: SQLite in the state dir. Needs python3 (3.10+) with venv.
set -euo pipefail
STATE="${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}"
VENV="$STATE/venv/mlflow"
DATA="$STATE/mlflow"
PORT="${MLFLOW_PORT:-15000}"
URI="http://127.0.0.1:$PORT"
# mlflow-skinny carries the tracking server; Flask, gunicorn and SQLAlchemy (< 2.1, whose
# pool API MLflow 2.22 imports) are what the server needs besides.
PINS=(mlflow-skinny==2.22.0 flask==3.1.3 gunicorn==27.0.1 sqlalchemy==2.0.58 alembic==1.20.1)
log() { printf '[mlflow] %s\n' "$*" >&2; }

healthy() { curl -fsS -m 2 "$URI/health" >/dev/null 2>&1; }

install() {
  local stamp="$VENV/.stamp" want="${PINS[*]}"
  [[ -x "$VENV/bin/mlflow" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]] && return
  log "installing ${PINS[*]} into $VENV"
  local started=$SECONDS
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
  printf '%s' "$want" >"$stamp"
  log "installed in $((SECONDS - started))s"
}

up() {
  if healthy; then log "already running at $URI"; return; fi
  install
  mkdir -p "$DATA/artifacts"
  log "starting the tracking server at $URI (log: $DATA/server.log)"
  local started=$SECONDS
  (cd "$DATA" && nohup "$VENV/bin/mlflow" server \
      --backend-store-uri "sqlite:///$DATA/mlflow.db" \
      --default-artifact-root "$DATA/artifacts" \
      --host 127.0.0.1 --port "$PORT" --workers 1 >"$DATA/server.log" 2>&1 &
   echo $! >"$DATA/server.pid")
  for _ in $(seq 1 240); do
    healthy && { log "ready in $((SECONDS - started))s"; return; }
    sleep 0.5
  done
  tail -n 20 "$DATA/server.log" >&2
  log "the server did not become healthy in 120s"; exit 1
}

down() {
  if [[ -f "$DATA/server.pid" ]]; then
    pkill -P "$(cat "$DATA/server.pid")" 2>/dev/null || true
    kill "$(cat "$DATA/server.pid")" 2>/dev/null || true
    rm -f "$DATA/server.pid"
  fi
  pkill -f "mlflow server --backend-store-uri sqlite:///$DATA/" 2>/dev/null || true
  pkill -f "gunicorn.*127.0.0.1:$PORT" 2>/dev/null || true
  log "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "export MLFLOW_TRACKING_URI=$URI" ;;
  *) echo "usage: scripts/mlflow.sh up|down|env" >&2; exit 2 ;;
esac
