"""Writes the "Training at scale" section of BENCHMARKS.md and its figure from the results
bench/scale.sh gathers (one JSON line per size and side).

Usage: scale_report.py RESULTS_JSONL BENCHMARKS_FILE --figure PNG --command CMD

The section replaces the one already in BENCHMARKS_FILE (from its heading to the next
`## ` heading), or is appended. Every number in it comes from RESULTS_JSONL: ratios are
taken between the sides of one size, measured in the same run.
"""
import argparse
import datetime
import json
import os
import platform

HEADING = "## Training at scale: ours vs XGBoost and LightGBM, 100k to 3M rows (issue 21)"
# What a Lambda function may use (AWS limits): 15 minutes, 10,240 MB.
LAMBDA_SECONDS = 900
LAMBDA_MB = 10_240
SIDES = ["ours", "xgboost", "lightgbm"]


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    sizes = []
    for r in rows:
        if r["size"] not in sizes:
            sizes.append(r["size"])
    by = {(r["size"], r["side"]): r for r in rows}
    return sizes, by


def figure(sizes, by, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"ours": ("#1f77b4", "o", "fraudctl train (auto)"),
              "xgboost": ("#d62728", "s", "XGBoost grid"),
              "lightgbm": ("#2ca02c", "^", "LightGBM grid")}
    for side in SIDES:
        points = [by[(s, side)] for s in sizes if (s, side) in by]
        if not points:
            continue
        color, marker, label = styles[side]
        x = [p["rows"] / 1e6 for p in points]
        left.plot(x, [p["wall_s"] for p in points], marker=marker, color=color, label=label)
        right.plot(x, [p["max_rss_kb"] / 1024 / 1024 for p in points], marker=marker, color=color, label=label)
    left.set_xlabel("rows (millions)")
    left.set_ylabel("wall time (s), whole command")
    left.set_title("Training time against rows")
    right.set_xlabel("rows (millions)")
    right.set_ylabel("peak RSS (GB)")
    right.set_title("Peak memory against rows")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def section(sizes, by, figure_path, benchmarks_file, command):
    out = [HEADING, ""]
    out.append(
        f"Measured {datetime.date.today().isoformat()} by `{command}` ({os.cpu_count()} cores, "
        f"{platform.machine()}), one run per side and size, the generator's data "
        "(`fraudctl generate --customers C --days D --seed 11`). Ours: `fraudctl train` with its "
        "defaults (the forest, the boosting and their blend, the best on validation kept), the "
        "whole command from the CSV to the artifact. XGBoost / LightGBM: `bench/reference/gbdt.py`, "
        "the same features and time split exported by `fraudctl features`, early stopping on "
        "validation and the 2 × 2 grid; *fit* is the grid alone, *wall* adds reading the feature CSV "
        "(their feature pipeline is not counted at all, to their advantage). Test PR-AUC and F1 on "
        "the same test slice (F1 at the validation F1-best threshold)."
    )
    out.append("")
    out.append("| rows | side | load at start | wall s | fit s | CPU s | peak RSS | test PR-AUC | F1 | ours' wall ÷ this fit |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for s in sizes:
        ours = by.get((s, "ours"))
        for side in SIDES:
            r = by.get((s, side))
            if not r:
                continue
            ratio = f"{ours['wall_s'] / r['fit_s']:.2f}×" if ours and side != "ours" else ""
            out.append(
                f"| {r['rows']:,} | {r['model']} | {r.get('load', float('nan')):.1f} | {r['wall_s']:.1f} | {r['fit_s']:.1f} | {r['cpu_s']:.1f} | "
                f"{r['max_rss_kb'] / 1024 / 1024:.2f} GB | {r['pr_auc']:.4f} | {r['f1']:.3f} | {ratio} |"
            )
    out.append("")
    out.append(
        f"*Load at start* is the 1-minute load average when the side began; above {os.cpu_count()} (the cores), "
        "other work shared the machine and every side's wall time suffers, OpenMP's most (XGBoost and LightGBM "
        "threads spin while they wait, which also inflates their CPU seconds). Compare sides measured at a "
        "similar load, and CPU seconds beside wall seconds."
    )
    out.append("")
    out.append("Where our time goes (the candidates' fit seconds; the blend reuses the two models, so it "
               "costs its calibration only):")
    out.append("")
    for s in sizes:
        ours = by.get((s, "ours"))
        if not ours:
            continue
        parts = ", ".join(
            f"{name} {c['seconds']:.1f} s (validation PR-AUC {c['validation_pr_auc']:.4f})"
            for name, c in ours["candidates"].items()
        )
        out.append(f"- {ours['rows']:,} rows: {parts}; chosen: {ours['model'].split('(auto: ')[-1].rstrip(')')}.")
    out.append("")
    if os.path.dirname(os.path.abspath(figure_path)) != os.path.dirname(os.path.abspath(benchmarks_file)):
        rel = os.path.relpath(figure_path, os.path.dirname(os.path.abspath(benchmarks_file)))
    else:
        rel = os.path.basename(figure_path)
    out.append(f"![Training time and peak memory against rows]({rel})")
    out.append("")
    # Per million rows, from the largest size measured (both costs grow about linearly).
    largest = next((by[(s, "ours")] for s in reversed(sizes) if (s, "ours") in by), None)
    if largest:
        m = largest["rows"] / 1e6
        sec_per_m = largest["wall_s"] / m
        gb_per_m = largest["max_rss_kb"] / 1024 / 1024 / m
        rows_by_time = LAMBDA_SECONDS / sec_per_m
        rows_by_memory = LAMBDA_MB / 1024 / gb_per_m
        out.append(
            f"Per million rows at {largest['rows']:,} rows: {sec_per_m:.0f} s and {gb_per_m:.2f} GB peak on "
            f"{os.cpu_count()} cores. A Lambda function stops at {LAMBDA_SECONDS} s and {LAMBDA_MB:,} MB, so one "
            f"train invocation holds about {min(rows_by_time, rows_by_memory):.1f} million rows "
            f"({rows_by_time:.1f}M by time, {rows_by_memory:.1f}M by memory, at this machine's speed; Lambda "
            "gives 1 vCPU per 1,769 MB, so 3,008 MB is less than these 2 cores and 10,240 MB is more). "
            "Past that, run the same binary as the Batch job (README, \"Training past one Lambda\")."
        )
        out.append("")
    return "\n".join(out) + "\n"


def replace_section(path, text):
    existing = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    start = existing.find(HEADING)
    if start < 0:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(HEADING))
        updated = existing[:start] + text + (existing[end + 1:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(updated)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("benchmarks_file")
    parser.add_argument("--figure", required=True)
    parser.add_argument("--command", default="make bench-scale")
    args = parser.parse_args()
    sizes, by = load(args.results)
    figure(sizes, by, args.figure)
    replace_section(args.benchmarks_file, section(sizes, by, args.figure, args.benchmarks_file, args.command))
    for s in sizes:
        ours, xgb = by.get((s, "ours")), by.get((s, "xgboost"))
        if ours and xgb:
            print(f"{s}: ours {ours['wall_s']:.1f} s wall (PR-AUC {ours['pr_auc']:.4f}, {ours['max_rss_kb'] / 1048576:.2f} GB) "
                  f"vs XGBoost grid {xgb['fit_s']:.1f} s fit (PR-AUC {xgb['pr_auc']:.4f}): {ours['wall_s'] / xgb['fit_s']:.2f}×")


if __name__ == "__main__":
    main()
