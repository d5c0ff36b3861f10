#!/usr/bin/env bash
# Our forest vs scikit-learn's RandomForest on the same features and time split.
# Usage: bench/compare.sh [data.csv]   (default: the real-data fixture, else generated data)
# Prints a table and rewrites the "Model quality" section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
FRAUDCTL="${CARGO_TARGET_DIR:-$HOME/.cache/fraud-detect/target}/release/fraudctl"
WORK="out/compare"
mkdir -p "$WORK"
DATA="${1:-../shared/data/fraud_fixture.csv}"
if [[ ! -f "$DATA" ]]; then
  echo "no $DATA: generating data instead"
  DATA="$WORK/generated.csv"
  "$FRAUDCTL" generate --customers 2000 --days 120 --out "$DATA"
fi

VENV="bench/.venv"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import sklearn, pandas" 2>/dev/null; then
  echo "installing the Python reference into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
fi

SEEDS="${SEEDS:-1 2 3 4 5}"
"$FRAUDCTL" features --data "$DATA" --out "$WORK/features.csv" >/dev/null
rows=()
for seed in $SEEDS; do
  "$FRAUDCTL" train --data "$DATA" --out "$WORK/model-$seed" --seed "$seed" >/dev/null 2>&1
  ours=$(python3 - "$WORK/model-$seed/model.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
t = a["metrics"]["test"]
print(f'{t["pr_auc"]:.4f} {t["roc_auc"]:.4f} {t["f1"]:.4f} {a["training"]["train_seconds"]:.3f} {a["model"]["params"]["learner"]}')
PY
)
  ref=$("$VENV/bin/python" bench/reference/sklearn_rf.py "$WORK/features.csv" --seed "$seed" --trees 300 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%.4f %.4f %.4f %.3f" % (d["pr_auc"], d["roc_auc"], d["f1"], d["train_seconds"]))')
  rows+=("$seed $ours $ref")
done

table=$(printf '%s\n' "${rows[@]}" | awk '
  { printf "| %s | %s | %s | %s | %s s (%s) | %s | %s | %s | %s s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
    for (i = 2; i <= 10; i++) if (i != 6) s[i] += $i; n++ }
  END { printf "| **mean** | **%.4f** | %.4f | **%.4f** | %.3f s | **%.4f** | %.4f | **%.4f** | %.3f s |\n", s[2]/n, s[3]/n, s[4]/n, s[5]/n, s[7]/n, s[8]/n, s[9]/n, s[10]/n
        printf "\nPR-AUC ratio (ours / scikit-learn): **%.3f**; training time ratio: **%.3f**\n", s[2]/s[7], s[5]/s[10] }')
header="| seed | ours PR-AUC | ours ROC-AUC | ours F1 | ours train time (chosen learner) | sklearn PR-AUC | sklearn ROC-AUC | sklearn F1 | sklearn train time |
|---|---|---|---|---|---|---|---|---|"
rows_total=$(wc -l < "$WORK/features.csv")
section="## Model quality: ours vs scikit-learn RandomForest

Command: \`make compare\` (\`bench/compare.sh $DATA\`), $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)).
Data: \`$DATA\`, $((rows_total - 1)) rows; time split 60% train / 10% validation / 30% test (latest).
Both sides use the exact same feature matrix (\`fraudctl features\`) and split. Ours: 300 trees,
learner chosen on validation PR-AUC (time includes fitting every candidate). scikit-learn
$("$VENV/bin/python" -c 'import sklearn; print(sklearn.__version__)'): \`RandomForestClassifier(n_estimators=300,
class_weight=\"balanced_subsample\", min_samples_leaf=2, n_jobs=$(nproc))\`, threshold chosen on validation F1.
Metrics are on the test slice.

$header
$table
"
echo "$section"
python3 - "$section" <<'PY'
import pathlib, re, sys
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery number here was produced by a command in this repository; each section names its command.\n\n"
section = sys.argv[1].rstrip() + "\n"
pattern = re.compile(r"## Model quality: ours vs scikit-learn RandomForest\n.*?(?=\n## |\Z)", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
path.write_text(text)
PY
