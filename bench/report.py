"""Turns the JSON results of bench/run.sh into BENCHMARKS.md sections.

Usage: report.py RESULTS_DIR BENCHMARKS_FILE --command CMD [--fixture PATH] [--max-samples N] [--trees N]

Rewrites only its own sections (headings in OWNED), in place when they exist, appended
otherwise; everything else in the file (the "Model quality" section of bench/compare.sh)
is kept as it is. Standard library only.
"""
import argparse
import glob
import json
import os
import pathlib
import re
import statistics

OWNED = [
    "## Targets: ",
    "## Training: ",
    "## Batch scoring: ",
    "## Cold start: ",
    "## Generator: ",
]
HEADER = ("# Benchmarks\n\nEvery number here was produced by a command in this repository; "
          "each section names its command.\n")


def load(path):
    with open(path) as handle:
        return json.load(handle)


def maybe(path):
    return load(path) if os.path.exists(path) else None


def secs(s):
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def mib(kb):
    return f"{kb / 1024:.0f} MiB" if kb is not None else "–"


def rate(r):
    if r >= 1e6:
        return f"{r / 1e6:.2f} M/s"
    if r >= 1e3:
        return f"{r / 1e3:.1f} k/s"
    return f"{r:.1f} /s"


def cpu_rate(r):
    value = r.get("records_per_cpu_s")
    return rate(value) if value else "–"


def per_core(r):
    """Records per CPU-second when measured (robust to a busy machine), else per wall second."""
    return r.get("records_per_cpu_s") or r["records_per_s"]


def ratio(x, digits=2):
    if x is None:
        return "–"
    if x >= 100:
        digits = 0
    elif x >= 10:
        digits = min(digits, 1)
    return f"**{x:,.{digits}f}×**"


def mb(n):
    return f"{n / 1e6:.1f} MB"


def shell(command):
    """A command line for display, with the repository-relative paths kept short."""
    home = str(pathlib.Path.home())
    words = [w.replace(home, "~") for w in command]
    words = [("$CARGO_TARGET_DIR/release/" + w.split("/release/", 1)[1]) if "/release/" in w else w
             for w in words]
    words = [w.replace("bench/.venv/bin/python", "python") for w in words]
    return " ".join(f"'{w}'" if " " in w else w for w in words)


def machine_line(m):
    line = (f"{m['date']}; {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB; load average "
            f"{m['loadavg_start']} at the start of the run; {m['rustc']}; Python {m['python']}, "
            f"scikit-learn {m['sklearn']}, numpy {m['numpy']}, pandas {m['pandas']}")
    if m.get("blas"):
        line += f" ({', '.join(m['blas'])})"
    if m.get("quick"):
        line += ". **QUICK=1: small sizes, for checking the harness, not for quoting**"
    return line + "."


def training_rows(results):
    """[(name, seed, ours, ref)] for every training pair that ran."""
    rows = []
    for path in sorted(glob.glob(os.path.join(results, "train_ours_*.json"))):
        name, seed = pathlib.Path(path).stem[len("train_ours_"):].rsplit("_", 1)
        ref = maybe(os.path.join(results, f"train_sklearn_{name}_{seed}.json"))
        if ref is None:
            continue
        ours = load(path)
        model_dir = ours["command"][ours["command"].index("--out") + 1]
        ours["artifact"] = load(os.path.join(model_dir, "model.json"))
        rows.append((name, int(seed), ours, ref))
    rows.sort(key=lambda r: (r[0] != "fixture", r[1]))
    return rows


def training_section(results, m, args):
    rows = training_rows(results)
    if not rows:
        return None, {}
    table = [
        "| data | seed | train rows | rows per tree | ours fit | sklearn fit | **fit time ratio** (ours ÷ sklearn, lower is better) "
        "| ours command wall (CPU) | sklearn command wall (CPU) | ours peak RSS | sklearn peak RSS "
        "| ours test PR-AUC | sklearn test PR-AUC | PR-AUC ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    by_name = {}
    for name, seed, ours, ref in rows:
        a = ours["artifact"]
        r = ref["output"]
        fit_ours = a["training"]["train_seconds"]
        fit_ref = r["train_seconds"]
        pr_ours = a["metrics"]["test"]["pr_auc"]
        pr_ref = r["pr_auc"]
        per_tree = r.get("max_samples") or "all"
        table.append(
            f"| {name} | {seed} | {a['training']['train_rows']:,} | {per_tree if per_tree == 'all' else f'{per_tree:,}'} "
            f"| {secs(fit_ours)} | {secs(fit_ref)} | {ratio(fit_ours / fit_ref, 3)} "
            f"| {secs(ours['wall_s'])} ({secs(ours['user_s'] + ours['sys_s'])}) "
            f"| {secs(ref['wall_s'])} ({secs(ref['user_s'] + ref['sys_s'])}) "
            f"| {mib(ours['max_rss_kb'])} | {mib(ref['max_rss_kb'])} "
            f"| {pr_ours:.4f} | {pr_ref:.4f} | {pr_ours / pr_ref:.3f} |")
        by_name.setdefault(name, []).append((fit_ours, fit_ref, pr_ours, pr_ref, ours, ref))
    for name, items in by_name.items():
        fit_ratio = sum(i[0] for i in items) / sum(i[1] for i in items)
        pr_ratio = statistics.mean(i[2] for i in items) / statistics.mean(i[3] for i in items)
        summary[name] = {"fit_ratio": fit_ratio, "pr_ratio": pr_ratio,
                         "pr_ours": statistics.mean(i[2] for i in items),
                         "pr_ref": statistics.mean(i[3] for i in items)}
        if len(items) > 1:
            table.append(
                f"| **{name} mean** | | | | {secs(statistics.mean(i[0] for i in items))} "
                f"| {secs(statistics.mean(i[1] for i in items))} | {ratio(fit_ratio, 3)} | | | | "
                f"| {summary[name]['pr_ours']:.4f} | {summary[name]['pr_ref']:.4f} | {pr_ratio:.3f} |")
    first = rows[0]
    big = next((r for r in rows if r[0] == "generated"), rows[-1])
    gen_rows = big[2]["artifact"]["training"]["rows"]
    text = f"""## Training: ours vs scikit-learn RandomForest (time, memory, PR-AUC)

Command: `{args.command}` (training step), {machine_line(m)}

Both sides: the same rows, features (`fraudctl features`) and time split (earliest 60% train,
next 10% choose the threshold, latest 30% test), {args.trees} trees, at least 2 rows per leaf,
⌊√47⌋ = 6 features tried per split (scikit-learn's `sqrt`; our default is 12), class-balanced weights per bootstrap sample. Ours:
`fraudctl train --learner cart --max-features 6` (histogram CART, rayon over trees). scikit-learn:
`RandomForestClassifier(class_weight="balanced_subsample", min_samples_leaf=2, n_jobs={m['nproc']})`
from `bench/reference/sklearn_rf.py`, run unchanged by `bench/reference/rf_train.py` (which adds
`max_samples` and saves the model for the scoring benchmarks). Data: the real Sparkov fixture
(`{args.fixture}`, one row per seed) and {gen_rows:,} rows from `fraudctl generate`; on the generated
data both sides draw {args.max_samples:,} rows per tree (`--max-samples` / `max_samples`) to keep
scikit-learn under a few minutes.

*Fit* is the time to fit the trees alone (ours: `training.train_seconds` in model.json; sklearn:
around `fit`); it is what the ratio compares. *Command wall* is the whole process measured from
outside (`bench/measure.py`, wall and CPU = user + sys), with peak RSS from `wait4` (what
`/usr/bin/time -v` reports): ours reads the raw CSV, computes features, fits, scores validation
and test and writes the artifact; sklearn reads the exported feature CSV, fits and scores.

{chr(10).join(table)}

Exact commands (first seed of each data set):

- `{shell(first[2]['command'])}`
- `{shell(first[3]['command'])}`
- `{shell(big[2]['command'])}`
- `{shell(big[3]['command'])}`
"""
    return text, summary


def scoring_section(results, m, args):
    parts = []
    summary = {}
    for name in ("generated", "fixture"):
        ours = maybe(os.path.join(results, f"score_ours_{name}.json"))
        ref = maybe(os.path.join(results, f"score_ref_{name}.json"))
        if not ours or not ref:
            continue
        runs = {r["batch_size"]: r for r in ours["runs"]}
        batch = {b["batch_size"]: b for b in ref["batch"]}
        pm = ref["per_message"]
        table = [
            "| path | batch | rows timed | records/s | records per CPU-second | p50 per batch "
            "| ours ÷ this, same batch size (higher is better) |",
            "|---|---|---|---|---|---|---|",
        ]
        for size, r in runs.items():
            table.append(f"| ours: `CardHistory::observe` + `ModelArtifact::score` | {size:,} | {r['rows']:,} "
                         f"| {rate(r['records_per_s'])} | {cpu_rate(r)} | {secs(r['p50_batch_us'] / 1e6)} | |")
        po = ours["predict_only"]
        table.append(f"| ours: `ModelArtifact::score_batch` only (features precomputed) | all | {po['rows']:,} "
                     f"| {rate(po['records_per_s'])} | {cpu_rate(po)} | | |")
        fo = ours.get("features_only")
        if fo:
            table.append(f"| ours: `CardHistories::observe` only (features, no model) | all | {fo['rows']:,} "
                         f"| {rate(fo['records_per_s'])} | {cpu_rate(fo)} | | |")
        boosted = maybe(os.path.join(results, f"score_ours_{name}_gbm.json"))
        if boosted:
            for size, r in ((b["batch_size"], b) for b in boosted["runs"]):
                table.append(f"| ours, boosted trees ({boosted['trees']} trees): `observe` + `score_batch` | {size:,} "
                             f"| {r['rows']:,} | {rate(r['records_per_s'])} | {cpu_rate(r)} "
                             f"| {secs(r['p50_batch_us'] / 1e6)} | |")
            bpo = boosted["predict_only"]
            table.append(f"| ours, boosted trees: `score_batch` only (features precomputed) | all | {bpo['rows']:,} "
                         f"| {rate(bpo['records_per_s'])} | {cpu_rate(bpo)} | | |")
        ours_1 = per_core(runs.get(1, ours["runs"][0]))
        table.append(f"| Python per-message: dict → features → 1-row DataFrame → `predict_proba` | 1 | {pm['rows']:,} "
                     f"| {rate(pm['records_per_s'])} | {cpu_rate(pm)} | {secs(pm['p50_us'] / 1e6)} "
                     f"| {ratio(ours_1 / per_core(pm), 0)} |")
        for size, b in batch.items():
            mine = runs.get(size)
            cell = ratio(per_core(mine) / per_core(b), 1) if mine else "–"
            table.append(f"| scikit-learn `predict_proba` (features precomputed) | {size:,} | {b['rows']:,} "
                         f"| {rate(b['records_per_s'])} | {cpu_rate(b)} | {secs(b['p50_batch_us'] / 1e6)} | {cell} |")
        biggest = max(runs)
        ref_big = batch.get(max(batch))
        summary[name] = {
            "per_message_ratio": ours_1 / per_core(pm),
            "batch_rate": runs[biggest]["records_per_s"],
            "batch_size": biggest,
            "batch_ratio": per_core(runs[biggest]) / per_core(ref_big),
            "predict_only_ratio": per_core(po) / per_core(ref_big),
            "predict_only_rate": per_core(po),
            "batch_cpu_rate": runs[biggest].get("records_per_cpu_s"),
            "features_only_rate": per_core(ours["features_only"]) if "features_only" in ours else None,
        }
        if boosted:
            big = max(boosted["runs"], key=lambda r: r["batch_size"])
            summary[name]["boosted"] = {
                "trees": boosted["trees"],
                "batch_rate": big["records_per_s"],
                "batch_size": big["batch_size"],
                "batch_cpu_rate": big.get("records_per_cpu_s"),
                "predict_only_rate": per_core(boosted["predict_only"]),
                "features_only_rate": (per_core(boosted["features_only"])
                                       if "features_only" in boosted else None),
            }
        label = ("generated payments (unseen cards), model trained on the generated data"
                 if name == "generated" else "the real fixture, model trained on it (seed 1)")
        parts.append(f"""### {name}: {label}

Model: {ours['trees']} trees, {ours['nodes']:,} nodes (ours, {mb(ours['model_bytes'])} JSON); scikit-learn
{ref['trees']} trees, {ref['nodes']:,} nodes. Python features for the per-message rows match
`fraudctl features` to a relative {ref['features_max_rel_diff_vs_fraudctl']:.1e}. Predict only, ours ÷ scikit-learn
at batch {max(batch):,}: {ratio(summary[name]['predict_only_ratio'], 1)}.

{chr(10).join(table)}
""")
    if not parts:
        return None, {}
    text = f"""## Batch scoring: records/s on one core

Command: `{args.command}` (scoring step), {machine_line(m)}

Ours: `crates/fraud-core/examples/score_throughput.rs`, one thread, payments in event-time
order fed in batches of 1, 100 and 10,000 (fresh per-card histories each time): per payment
`CardHistories::observe` (the shared feature pipeline), then `ModelArtifact::score_batch` over the
batch (the trees' compiled layout, `crates/fraud-core/src/compiled.rs`: thresholds as per-feature
bins, 8-byte nodes, 16 rows walked through a tree in lockstep; what the score function does per
Kafka batch). The forest is the one of the training benchmark (300 fully grown CART
trees, like for like with scikit-learn); the boosted trees are ours too (`--learner gbm`), which
`fraudctl train`'s default picks when they win on validation (it does on the generated data).
Reference:
`bench/reference/score_loop.py` with the scikit-learn model of the training benchmark, `n_jobs=1`,
`OMP_NUM_THREADS=1`: a naive consumer's per-message loop (its features in Python, one message at a
time, a one-row DataFrame, `predict_proba`), and `predict_proba` on slices of the exported feature
matrix (features not timed, so that comparison flatters the reference). Rows timed: every row of
the file for ours (each measurement run 3 times, the fastest reported: `--repeat`); the first rows
for the slower reference paths. Records per CPU-second divide by
the scoring thread's own CPU time (`/proc/thread-self/stat`, Python's `time.thread_time()`), which
leaves out time spent waiting for a core while the machine is busy; the ratios use it (wall
time where it is missing).

{chr(10).join(parts)}"""
    cmds = []
    for name in ("generated", "fixture"):
        path = os.path.join(results, f"score_cmds_{name}.txt")
        if os.path.exists(path):
            cmds += [f"- `{line.strip()}`" for line in open(path) if line.strip()]
    if cmds:
        text += "\nExact commands:\n\n" + "\n".join(cmds) + "\n"
    return text, summary


def cold_section(results, m, args):
    rows = []
    summary = {}
    cmds = []
    for name in ("generated", "fixture"):
        ours = maybe(os.path.join(results, f"cold_ours_{name}.json"))
        ref = maybe(os.path.join(results, f"cold_ref_{name}.json"))
        if not ours or not ref:
            continue
        o, r = ours["output"], ref["output"]
        rows.append(
            f"| {name} | {mb(o['model_bytes'])} JSON, {o['nodes']:,} nodes | {secs(ours['first_line_s'])} "
            f"| {secs(o['load_seconds'])} | {mib(ours['max_rss_kb'])} "
            f"| {mb(r['model_bytes'])} joblib | {secs(ref['first_line_s'])} "
            f"| {secs(r['import_seconds'])} / {secs(r['load_seconds'])} | {mib(ref['max_rss_kb'])} "
            f"| {ratio(ours['first_line_s'] / ref['first_line_s'], 3)} |")
        summary[name] = ours["first_line_s"]
        cmds += [f"- `{shell(ours['command'])}`", f"- `{shell(ref['command'])}`"]
        runs = ours["runs"]
    if not rows:
        return None, {}
    binary = maybe(os.path.join(results, "binary.json"))
    size_lines = ""
    if binary:
        size_rows = []
        if binary.get("fn_bytes"):
            size_rows.append(f"| `fraud-score` (the score Lambda: Lambda runtime, Kafka, S3, Postgres clients) "
                             f"| {mb(binary['fn_bytes'])} | {mb(binary['fn_stripped_bytes'])} |")
            summary["fn_bytes"] = binary["fn_bytes"]
            summary["fn_stripped_bytes"] = binary["fn_stripped_bytes"]
        if binary.get("fn_size_profile_bytes"):
            size_rows.append("| `fraud-score` as deployed (`lambda` profile, as `make lambda-build`: fat LTO, "
                             "1 codegen unit, `strip = true`, dependencies at opt-level \"s\", workspace crates at 3) "
                             f"| {mb(binary['fn_size_profile_bytes'])} | (stripped by the profile) |")
            summary["fn_size_profile_bytes"] = binary["fn_size_profile_bytes"]
        size_rows.append(f"| `score_throughput` example (fraud-core only) | {mb(binary['example_bytes'])} "
                         f"| {mb(binary['example_stripped_bytes'])} |")
        size_lines = ("\nRelease binaries (`cargo build --release -p fraud-fn-score`, workspace release profile: "
                      "thin LTO, 4 codegen units; stripped with `strip` on a copy):\n\n"
                      "| binary | size | stripped |\n|---|---|---|\n" + "\n".join(size_rows) + "\n")
    text = f"""## Cold start: process start to first scored record, and binary size

Command: `{args.command}` (cold-start step), {machine_line(m)}

Wall time from spawning the process to its first line of output (the first scored payment),
median of {runs} runs, measured by `bench/measure.py`; peak RSS from `wait4`. Input: a 5-row CSV.
Ours: the release `score_throughput` example with `--first-only` (read and validate
model.json, read the CSV, compute one payment's features, score). Python: `bench/reference/cold_start.py`
(interpreter start, import pandas and scikit-learn, `joblib.load` of the same-sized forest,
features of one payment, a one-row DataFrame, `predict_proba`). The page cache is warm for both.

| model | ours artifact | ours start → first score | ours model load + validate | ours peak RSS | Python model | Python start → first score | Python imports / model load | Python peak RSS | time ratio (ours ÷ Python, lower is better) |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{size_lines}
Exact commands:

{chr(10).join(cmds)}
"""
    return text, summary


def generator_section(results, m, args):
    ours = maybe(os.path.join(results, "gen_ours.json"))
    one = maybe(os.path.join(results, "gen_ours_1thread.json"))
    ref = maybe(os.path.join(results, "gen_pandas.json"))
    if not ours or not ref:
        return None, {}
    rows_n = ref["output"]["rows"]
    ref_rate = rows_n / ref["wall_s"]
    table = ["| generator | threads | rows | wall (CPU) | rows/s | peak RSS | rows/s ratio (ours ÷ pandas) |",
             "|---|---|---|---|---|---|---|"]
    for label, threads, r in (("`fraudctl generate`", m["nproc"], ours), ("`fraudctl generate`", 1, one)):
        if r is None:
            continue
        table.append(f"| {label} | {threads} | {rows_n:,} | {secs(r['wall_s'])} ({secs(r['user_s'] + r['sys_s'])}) "
                     f"| {rate(rows_n / r['wall_s'])} | {mib(r['max_rss_kb'])} | {ratio((rows_n / r['wall_s']) / ref_rate, 1)} |")
    o = ref["output"]
    table.append(f"| `bench/reference/gen_pandas.py` (numpy + pandas, vectorized) | 1 | {rows_n:,} "
                 f"| {secs(ref['wall_s'])} ({secs(ref['user_s'] + ref['sys_s'])}) | {rate(ref_rate)} "
                 f"| {mib(ref['max_rss_kb'])} | |")
    text = f"""## Generator: `fraudctl generate` vs a numpy/pandas generator

Command: `{args.command}` (generator step), {machine_line(m)}

Both write the 22 Sparkov columns for the same number of rows to a CSV file; the time includes
writing it (pandas: {secs(o['generate_seconds'])} drawing the rows, {secs(o['write_seconds'])} in `to_csv`). Ours is measured
with its default threads and with `RAYON_NUM_THREADS=1` (byte-identical output). The pandas
generator is simpler than ours (fewer names and towns, one draw per row instead of per card-day).

{chr(10).join(table)}

Exact commands:

- `{shell(ours['command'])}`
- `{shell(ref['command'])}`
"""
    return text, {"ratio_1thread": (rows_n / one["wall_s"]) / ref_rate if one else None}


def targets_section(m, args, training, scoring, cold, steps):
    lines = ["| target (issue) | measured | met |", "|---|---|---|"]

    def row(target, measured, met):
        lines.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")

    for name, t in training.items():
        row(f"training ≤ 0.3× scikit-learn RF fit time at equal (within 1%) or better PR-AUC ({name})",
            f"{t['fit_ratio']:.3f}× the time, PR-AUC {t['pr_ours']:.4f} vs {t['pr_ref']:.4f} "
            f"({t['pr_ratio']:.3f}×)",
            t["fit_ratio"] <= 0.3 and t["pr_ratio"] >= 0.99)
    def per_record(s):
        # Where a record's time goes: features and predict, each measured alone when the
        # results have it (else features = the rest of the features + predict path).
        total = 1e6 / (s.get("batch_cpu_rate") or s["batch_rate"])
        predict = 1e6 / s["predict_only_rate"]
        if s.get("features_only_rate"):
            features = f"{1e6 / s['features_only_rate']:.2f} (alone)"
        else:
            features = f"≈ {max(total - predict, 0):.2f} (the rest)"
        return f"; per record {total:.2f} µs: features {features}, predict {predict:.2f} (alone)"

    for name, s in scoring.items():
        row(f"scoring ≥ 50× the per-message reference loop ({name})",
            f"{s['per_message_ratio']:,.0f}×", s["per_message_ratio"] >= 50)
        row(f"batch scoring ≥ 500k records/s/core ({name})",
            f"{s['batch_rate'] / 1e3:,.0f}k records/s with features (batch {s['batch_size']:,}"
            + (f"; {s['batch_cpu_rate'] / 1e3:,.0f}k per CPU-second" if s.get("batch_cpu_rate") else "")
            + "), "
            f"{s['predict_only_rate'] / 1e3:,.0f}k predict only; {s['batch_ratio']:.1f}× scikit-learn batch"
            + per_record(s),
            (s.get("batch_cpu_rate") or s["batch_rate"]) >= 500e3)
        if "boosted" in s:
            b = s["boosted"]
            row(f"batch scoring ≥ 500k records/s/core ({name}, our boosted trees, {b['trees']} trees)",
                f"{b['batch_rate'] / 1e3:,.0f}k records/s with features (batch {b['batch_size']:,}"
                + (f"; {b['batch_cpu_rate'] / 1e3:,.0f}k per CPU-second" if b.get("batch_cpu_rate") else "")
                + f"), {b['predict_only_rate'] / 1e3:,.0f}k predict only" + per_record(b),
                (b.get("batch_cpu_rate") or b["batch_rate"]) >= 500e3)
    for name in ("generated", "fixture"):
        if name in cold:
            row(f"score init ≤ 100 ms ({name} model)", f"{cold[name] * 1e3:.0f} ms to the first score",
                cold[name] <= 0.1)
    if "fn_bytes" in cold:
        row("score function binary ≤ 20 MB (workspace release profile)",
            f"{mb(cold['fn_bytes'])} ({mb(cold['fn_stripped_bytes'])} stripped)", cold["fn_bytes"] <= 20e6)
    if "fn_size_profile_bytes" in cold:
        row("score function binary ≤ 20 MB (as deployed: the `lambda` profile)",
            mb(cold["fn_size_profile_bytes"]), cold["fn_size_profile_bytes"] <= 20e6)
    step_text = ", ".join(f"{k.replace('_', ' ')} {v} s" for k, v in steps.items())
    return f"""## Targets: where the issue's targets stand

Command: `{args.command}`, {machine_line(m)}
Details and exact commands in the sections below. Step times of this run: {step_text}.
Wall-clock numbers on a shared 2-core machine move with its load (given per run); the ratios
compare runs made one right after the other.

{chr(10).join(lines)}
"""


def replace_sections(path, sections):
    file = pathlib.Path(path)
    text = file.read_text() if file.exists() else HEADER
    for heading, body in sections:
        if body is None:
            continue
        body = body.rstrip() + "\n"
        pattern = re.compile(re.escape(heading) + r".*?(?=\n## |\Z)", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: body, text, count=1)
        else:
            text = text.rstrip() + "\n\n" + body
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("benchmarks_file")
    parser.add_argument("--command", default="bench/run.sh")
    parser.add_argument("--fixture", default="../shared/data/fraud_fixture.csv")
    parser.add_argument("--max-samples", type=int, default=100_000)
    parser.add_argument("--trees", type=int, default=300)
    args = parser.parse_args()
    m = load(os.path.join(args.results, "machine.json"))
    steps = {}
    steps_path = os.path.join(args.results, "steps.txt")
    if os.path.exists(steps_path):
        for line in open(steps_path):
            key, value = line.split()
            steps[key] = int(value)
    training, t_sum = training_section(args.results, m, args)
    scoring, s_sum = scoring_section(args.results, m, args)
    cold, c_sum = cold_section(args.results, m, args)
    generator, _ = generator_section(args.results, m, args)
    targets = targets_section(m, args, t_sum, s_sum, c_sum, steps)
    replace_sections(args.benchmarks_file, list(zip(OWNED, [targets, training, scoring, cold, generator])))
    print(f"wrote {len([s for s in (targets, training, scoring, cold, generator) if s])} sections to {args.benchmarks_file}")


if __name__ == "__main__":
    main()
