"""Runs a command and measures it from the outside: wall time to its first line of
output and to its exit, and its peak resident memory (from wait4's rusage, the same
number `/usr/bin/time -v` reports as "Maximum resident set size"). Standard library only.

Usage: measure.py [--repeat N] [--stdout FILE] [--env K=V ...] -- COMMAND [ARGS...]
Prints one JSON line: medians over the runs, the max RSS of the runs, and the last
line the command printed (commands in this harness print their results as JSON).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def run_once(command, env, stdout_file):
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    first_line_at = None
    lines = []
    for raw in child.stdout:
        if first_line_at is None:
            first_line_at = time.perf_counter()
        lines.append(raw.decode(errors="replace"))
    _, status, usage = os.wait4(child.pid, 0)
    ended = time.perf_counter()
    child.returncode = os.waitstatus_to_exitcode(status)
    if stdout_file:
        with open(stdout_file, "w") as out:
            out.writelines(lines)
    if child.returncode != 0:
        sys.stderr.write("".join(lines[-20:]))
        raise SystemExit(f"measure.py: {command[0]} exited with {child.returncode}")
    return {
        "wall_s": ended - started,
        "first_line_s": (first_line_at or ended) - started,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
        "last_line": lines[-1].strip() if lines else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--stdout", default=None, help="write the (last run's) output here")
    parser.add_argument("--env", action="append", default=[], help="K=V for the command")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    env = dict(os.environ)
    for pair in args.env:
        key, _, value = pair.partition("=")
        env[key] = value
    runs = [run_once(command, env, args.stdout) for _ in range(args.repeat)]
    try:
        output = json.loads(runs[-1]["last_line"])
    except ValueError:
        output = runs[-1]["last_line"]
    print(json.dumps({
        "command": command,
        "runs": len(runs),
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "wall_s_min": min(r["wall_s"] for r in runs),
        "first_line_s": statistics.median(r["first_line_s"] for r in runs),
        "user_s": statistics.median(r["user_s"] for r in runs),
        "sys_s": statistics.median(r["sys_s"] for r in runs),
        "max_rss_kb": max(r["max_rss_kb"] for r in runs),
        "output": output,
    }))


if __name__ == "__main__":
    main()
