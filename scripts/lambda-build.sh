#!/usr/bin/env bash
# Builds the five functions as Lambda deployment packages: one `bootstrap` per function,
# zipped, with the size-tuned `lambda` cargo profile (fat LTO, stripped, dependencies at
# opt-level "s"), cross-linked by cargo-lambda with Zig for Amazon Linux's glibc.
#
#   scripts/lambda-build.sh            # x86_64 (this machine's architecture)
#   ARCH=arm64 scripts/lambda-build.sh # Graviton, what template.yaml deploys
#
# Output: $CARGO_TARGET_DIR/lambda/<binary>/bootstrap.zip (cargo-lambda's layout) and a size
# table. cargo-lambda and Zig come from the local stack's installer (`stack.sh install`).
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="${ARCH:-x86-64}"
case "$ARCH" in
  x86-64|x86_64) arch_flag=--x86-64 ;;
  arm64|aarch64) arch_flag=--arm64 ;;
  *) echo "lambda-build: ARCH must be x86-64 or arm64, got '$ARCH'" >&2; exit 2 ;;
esac
export CARGO_TARGET_DIR="${LAMBDA_TARGET_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}-lambda}"
STATE="${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}"
if [[ ! -x "$STATE/bin/cargo-lambda" || ! -e "$STATE/bin/zig" ]]; then
  echo "lambda-build: installing cargo-lambda and Zig (localstack/stack.sh install)"
  bash localstack/stack.sh install
fi
export PATH="$STATE/bin:$PATH"

FUNCTIONS=(ingest score train notify track)
packages=()
for f in "${FUNCTIONS[@]}"; do packages+=(-p "fraud-fn-$f"); done
started=$(date +%s)
echo "lambda-build: cargo lambda build --profile lambda $arch_flag --output-format zip (${FUNCTIONS[*]})"
cargo lambda build --profile lambda "$arch_flag" --output-format zip --locked "${packages[@]}"
secs=$(($(date +%s) - started))

printf '\n%-14s %12s %12s  %s\n' function "zip (MB)" "bootstrap (MB)" path
for f in "${FUNCTIONS[@]}"; do
  zip="$CARGO_TARGET_DIR/lambda/fraud-$f/bootstrap.zip"
  [[ -f "$zip" ]] || { echo "lambda-build: $zip is missing" >&2; exit 1; }
  python3 - "$zip" "fraud-$f" <<'PY'
import os, sys, zipfile
path, name = sys.argv[1], sys.argv[2]
raw = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
print(f"{name:<14} {os.path.getsize(path) / 1e6:12.1f} {raw / 1e6:12.1f}  {path}")
PY
done
echo "lambda-build: done in ${secs}s ($ARCH)"
