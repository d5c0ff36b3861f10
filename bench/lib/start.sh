# What every benchmark script sets first (source it from the repository root): the start
# time RUN_STARTED (for the scripts' `say`), cargo's target folder (the shared cache unless
# CARGO_TARGET_DIR names another) with plain output, and QUICK (1: the small sizes).
RUN_STARTED=$(date +%s)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
QUICK="${QUICK:-0}"
