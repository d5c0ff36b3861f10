# Shared by the scripts that start background processes (e2e, faults, the LocalStack
# Lambda test, the latency benchmark). Source it; then add each started process's pid
# to `pids`, and `trap stop_started EXIT` (or call it from your own EXIT trap).

pids=()

# Stops every process in `pids` and waits for them.
stop_started() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# wait_port PORT NAME [SECONDS (default 120)] [LOG]: until something accepts TCP
# connections on 127.0.0.1:PORT; otherwise says which process (NAME) did not open it,
# and where its log is, on stderr and returns 1.
wait_port() {
  local port=$1 name=$2 seconds=${3:-120} log=${4:-} i
  for ((i = 0; i < seconds * 5; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$name did not open port $port within ${seconds}s${log:+; see $log}" >&2
  return 1
}
