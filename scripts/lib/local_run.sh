# The start the local end-to-end scripts (e2e, compat, faults) share. Source it from the
# repository root: BIN (the debug binaries of CARGO_TARGET_DIR, the shared cache unless
# set), `started` (for the closing time) and `step` (a section heading); then, with OUT
# set, `local_stack_up` starts the local stack (idempotent), takes its environment, picks
# a RUN_ID and empties OUT.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
BIN="$CARGO_TARGET_DIR/debug"
started=$SECONDS
step() { printf '\n== %s\n' "$*"; }

local_stack_up() {
  bash localstack/stack.sh up
  eval "$(bash localstack/stack.sh env)"
  RUN_ID="$(date +%s)-$$"
  rm -rf "$OUT"; mkdir -p "$OUT"
}
