# The benchmarks' Python (the reference pipeline, the anchors, the load generators) in
# bench/.venv, rebuilt when bench/requirements*.txt change. Source it, then call
# `bench_venv`; it sets VENV and PY.
bench_venv() {
  VENV="bench/.venv"
  PY="$VENV/bin/python"
  local stamp
  stamp="$(cat bench/requirements.txt bench/requirements-bench.txt | sha256sum | cut -c1-16)"
  if [[ ! -x "$PY" ]] || [[ "$(cat "$VENV/.bench-stamp" 2>/dev/null)" != "$stamp" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      -r bench/requirements.txt -r bench/requirements-bench.txt
    echo "$stamp" > "$VENV/.bench-stamp"
  fi
}
