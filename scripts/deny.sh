#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (policy: deny.toml):
#   licenses  only permissive licenses in the dependency graph
#   bans      no OpenSSL, no wildcard versions (duplicates are reported as warnings)
#   sources   crates.io only (no git or other registries)
# `advisories` needs the RustSec advisory DB (a git clone from GitHub), which this
# project's build machines cannot fetch: it is skipped here, and printed as a command
# to run on a networked machine.
#
# Usage: scripts/deny.sh            (installs cargo-deny $CARGO_DENY_VERSION if missing)
# Env:   FRAUD_TOOLS_DIR (default ~/.cache/fraud-detect/tools), DENY_ADVISORIES=1 to
#        also run `advisories` (networked machines).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DENY_VERSION="0.20.2"
TOOLS="${FRAUD_TOOLS_DIR:-$HOME/.cache/fraud-detect/tools}"
DENY="$TOOLS/bin/cargo-deny"

if [[ "$("$DENY" --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]]; then
  echo "[deny] installing cargo-deny $CARGO_DENY_VERSION into $TOOLS (one-off, a few minutes)" >&2
  cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION" --root "$TOOLS"
fi

"$DENY" --version
# Duplicate versions are warnings (listed without their inclusion trees); any error fails.
report="$(mktemp)"; trap 'rm -f "$report"' EXIT
rc=0
"$DENY" --locked check --hide-inclusion-graph licenses bans sources >"$report" 2>&1 || rc=$?
if ((rc != 0)); then cat "$report"; echo "deny: FAILED (see above)"; exit "$rc"; fi
grep -E '^(warning|error)\[' "$report" | sort | uniq -c || true
tail -n 1 "$report"
if [[ "${DENY_ADVISORIES:-0}" == 1 ]]; then
  "$DENY" --locked check advisories
else
  echo "[deny] skipped 'advisories' (RustSec DB not reachable here); on a networked machine run:"
  echo "       $DENY check advisories      (or DENY_ADVISORIES=1 make deny)"
fi
echo "deny: licenses, bans, sources ok"
