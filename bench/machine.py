"""The machine a benchmark ran on, as JSON (the `machine.json` of its results).

Usage: machine.py OUT --load-key loadavg_start|loadavg_end [--numeric] [--kafka] [--quick 0|1]

Always: the date (UTC), cores, CPU model, memory, the 1-minute load average (under the
key given), rustc, Python and scikit-learn. --numeric adds numpy, pandas and the BLAS
that numpy uses (with the OPENBLAS_* settings in force); --kafka adds confluent-kafka and
its librdkafka; --quick records whether it was a QUICK run.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess


def cmd(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "not found"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--load-key", required=True, choices=["loadavg_start", "loadavg_end"])
    p.add_argument("--numeric", action="store_true")
    p.add_argument("--kafka", action="store_true")
    p.add_argument("--quick")
    a = p.parse_args()

    import sklearn

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.machine())
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    facts = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kb / 1024 / 1024, 1),
        a.load_key: open("/proc/loadavg").read().split()[0],
        "rustc": cmd("rustc", "--version"), "python": platform.python_version(),
        "sklearn": sklearn.__version__,
    }
    if a.numeric:
        import numpy
        import pandas
        import threadpoolctl

        facts.update({
            "numpy": numpy.__version__, "pandas": pandas.__version__,
            "blas": [f'{i.get("internal_api")} {i.get("version")} ({i.get("architecture")})'
                     for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"],
            "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                             if k in os.environ},
        })
    if a.kafka:
        import confluent_kafka

        version = confluent_kafka.version()
        facts["confluent_kafka"] = version[0] if isinstance(version, tuple) else version
        facts["librdkafka"] = confluent_kafka.libversion()[0]
    if a.quick is not None:
        facts["quick"] = a.quick == "1"
    with open(a.out, "w") as f:
        json.dump(facts, f)


if __name__ == "__main__":
    main()
