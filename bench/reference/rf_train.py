"""Runs bench/reference/sklearn_rf.py unchanged, with two additions the benchmarks need:
`--max-samples N` (scikit-learn's per-tree bootstrap size, the same knob as
`fraudctl train --max-samples`, so large data sets train in reasonable time on both sides)
and `--save-model PATH` (the fitted model, with joblib, for the scoring and cold-start
benchmarks).

Usage: rf_train.py [--max-samples N] [--save-model PATH] -- FEATURES_CSV [sklearn_rf.py args]
Prints sklearn_rf.py's JSON line with `max_samples` added.
"""
import argparse
import contextlib
import io
import json
import pathlib
import runpy
import sys

import joblib
import sklearn.ensemble

REFERENCE = pathlib.Path(__file__).with_name("sklearn_rf.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-samples", type=int, default=None)
    parser.add_argument("--save-model", default=None)
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest

    original = sklearn.ensemble.RandomForestClassifier
    made = []

    def factory(**kwargs):
        if args.max_samples is not None:
            kwargs["max_samples"] = args.max_samples
        model = original(**kwargs)
        made.append(model)
        return model

    # sklearn_rf.py imports the class by name when it runs, so it picks this up.
    sklearn.ensemble.RandomForestClassifier = factory
    sys.argv = [str(REFERENCE), *rest]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(REFERENCE), run_name="__main__")
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    result["max_samples"] = args.max_samples
    if args.save_model:
        joblib.dump(made[0], args.save_model)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
