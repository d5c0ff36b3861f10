#!/usr/bin/env bash
# Fails early, with the fix, when the build tools are missing.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust with rustup (https://rustup.rs), then re-run." >&2
  exit 1
fi
if ! command -v cc >/dev/null 2>&1; then
  echo "a C compiler is needed (librdkafka and ring build C code): apt-get install -y build-essential" >&2
  exit 1
fi
