#!/usr/bin/env bash
# Offline checks of the SAM template (template.yaml):
#   1. cfn-lint (applies the AWS::Serverless transform itself; no AWS account needed)
#   2. tests/template (pytest): functions <-> template, least-privilege IAM, buckets,
#      event sources, secrets
# With --localstack, also deploys the template's non-Lambda resources (buckets, queues,
# policies, log groups) through CloudFormation on the running LocalStack and deletes them.
#
# Usage: scripts/template-check.sh [--localstack]
# Tools: cfn-lint + pytest in ${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}/venv/cfn-lint
#        (created on first use, pinned versions below).
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION="1.58.0"
PYTEST_VERSION="9.2.0"
SAM_TRANSLATOR_VERSION="1.115.0"   # the real SAM transform, for one test
STATE="${FRAUD_STACK_DIR:-$HOME/.cache/fraud-stack}"
VENV="$STATE/venv/cfn-lint"
LOCALSTACK=false
for arg in "$@"; do
  case $arg in
    --localstack) LOCALSTACK=true ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[template] %s\n' "$*" >&2; }

installed_version() { "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }

if [[ "$(installed_version cfn-lint)" != "$CFN_LINT_VERSION" || "$(installed_version pytest)" != "$PYTEST_VERSION" ||
      "$(installed_version aws-sam-translator)" != "$SAM_TRANSLATOR_VERSION" ]]; then
  log "installing cfn-lint $CFN_LINT_VERSION, pytest $PYTEST_VERSION, aws-sam-translator $SAM_TRANSLATOR_VERSION into $VENV"
  command -v python3 >/dev/null || { log "python3 is required"; exit 1; }
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "cfn-lint==$CFN_LINT_VERSION" "pytest==$PYTEST_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
fi

passed=0; failed=0
pass() { passed=$((passed + 1)); log "PASS $*"; }
fail() { failed=$((failed + 1)); log "FAIL $*"; }

# 1. cfn-lint: any error or warning fails (informational findings are shown, not fatal).
log "cfn-lint $("$VENV/bin/cfn-lint" --version 2>&1 | awk '{print $NF}') template.yaml"
if "$VENV/bin/cfn-lint" template.yaml; then
  pass "cfn-lint: no errors or warnings"
else
  fail "cfn-lint (see above)"
fi

# 2. Structural tests. Each test counts.
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/template --junit-xml="$report" >&2
set -e
read -r t f e s < <("$VENV/bin/python" - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
get = lambda k: sum(int(x.get(k, 0)) for x in suites)
print(get("tests"), get("failures"), get("errors"), get("skipped"))
PY
)
passed=$((passed + t - f - e - s)); failed=$((failed + f + e))
log "pytest tests/template: $((t - f - e - s)) passed, $((f + e)) failed"

# 3. Optional: deploy the non-Lambda resources on LocalStack.
if $LOCALSTACK; then
  if "$VENV/bin/python" tests/template/localstack_deploy.py; then
    pass "LocalStack CloudFormation deploy of buckets/queues/log groups"
  else
    fail "LocalStack CloudFormation deploy"
  fi
fi

echo "template: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
