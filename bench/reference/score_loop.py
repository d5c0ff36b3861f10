"""Reference scoring: the Python pipeline a naive consumer would run, single-threaded.

Two measurements on one pickled scikit-learn RandomForest (joblib, from rf_train.py):

- per-message: each payment arrives as a dict of strings (a decoded Kafka message); its
  47 features are computed in Python with a per-card history (the same definitions as
  `fraud_core::features`), put in a one-row DataFrame, and scored with `predict_proba`.
- batch: `predict_proba` on slices of the feature matrix exported by `fraudctl features`
  (features precomputed, not timed), in batches of 1, 100 and 10,000 rows.

Both run with `n_jobs=1` (and OMP_NUM_THREADS=1, set before numpy loads). The Python
features are checked against the exported matrix for the same rows. Prints one JSON line.

Usage: score_loop.py MODEL.joblib SCORING.csv FEATURES.csv [--messages N] [--batch-rows ...]
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import csv  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CATEGORIES = [
    "entertainment", "food_dining", "gas_transport", "grocery_net", "grocery_pos",
    "health_fitness", "home", "kids_pets", "misc_net", "misc_pos", "personal_care",
    "shopping_net", "shopping_pos", "travel",
]
WINDOWS = [("1h", 3_600), ("24h", 86_400), ("7d", 7 * 86_400), ("30d", 30 * 86_400)]
LONGEST = WINDOWS[-1][1]
FEATURE_NAMES = (
    ["amt", "log_amt", "hour", "is_night", "day_of_week", "gender_female", "age_years",
     "distance_km", "log_city_pop"]
    + [f"cat_{c}" for c in CATEGORIES]
    + [f"card_{kind}_{w}" for w, _ in WINDOWS for kind in ("count", "amt_sum", "amt_mean")]
    + ["amt_to_card_mean", "secs_since_prev"]
    + [f"card_amt_max_{w}" for w, _ in WINDOWS]
    + ["amt_z_card_30d", "amt_z_card_category_30d", "speed_kmh_since_prev", "card_night_count_24h",
       "first_time_category", "first_time_merchant"]
)
DAY = 86_400
MERCHANT_MEMORY = 64


def is_night_ts(ts):
    hour = (ts % DAY) // 3600
    return not 4 <= hour < 22


def z_score(x, n, total, total_sq):
    if n < 2:
        return 0.0
    mean = total / n
    var = max((total_sq - n * mean * mean) / (n - 1.0), 0.0)
    return (x - mean) / max(math.sqrt(var), 1.0)
EPOCH = dt.datetime(1970, 1, 1)


def haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * 6371.0088 * math.asin(math.sqrt(a))


class CardHistories:
    """Per card: (ts, amt, trans_num, category, merch_lat, merch_long) within the last 30
    days in time order, the first time each category was used, and the 64 merchants used
    most recently ([name, first, last])."""

    def __init__(self):
        self.cards = collections.defaultdict(lambda: ([], {}, []))

    def observe(self, msg: dict) -> dict:
        when = dt.datetime.strptime(msg["trans_date_trans_time"], "%Y-%m-%d %H:%M:%S")
        now = int((when - EPOCH).total_seconds())
        amt = float(msg["amt"])
        dob = dt.date.fromisoformat(msg["dob"])
        merch_lat, merch_long = float(msg["merch_lat"]), float(msg["merch_long"])
        f = {
            "amt": amt,
            "log_amt": math.log1p(amt),
            "hour": float(when.hour),
            "is_night": float(when.hour >= 22 or when.hour < 4),
            "day_of_week": float(when.weekday()),
            "gender_female": float(msg["gender"] == "F"),
            "age_years": (when.date() - dob).days / 365.25,
            "distance_km": haversine_km(float(msg["lat"]), float(msg["long"]), merch_lat, merch_long),
            "log_city_pop": math.log1p(float(msg["city_pop"])),
        }
        for c in CATEGORIES:
            f[f"cat_{c}"] = float(msg["category"] == c)
        history, category_first, merchants = self.cards[msg["cc_num"]]
        tid = msg["trans_num"]
        cat = msg["category"]
        counts = [0, 0, 0, 0]
        sums = [0.0, 0.0, 0.0, 0.0]
        maxes = [0.0, 0.0, 0.0, 0.0]
        sum_sq = 0.0
        cat_n, cat_sum, cat_sq = 0, 0.0, 0.0
        night_24h = 0
        previous = None
        for past in history:
            ts, past_amt, past_id, past_cat = past[:4]
            if ts >= now or past_id == tid:
                continue
            age = now - ts
            for i, (_, window) in enumerate(WINDOWS):
                if age <= window:
                    counts[i] += 1
                    sums[i] += past_amt
                    maxes[i] = max(maxes[i], past_amt)
            if age <= LONGEST:
                sum_sq += past_amt * past_amt
                if past_cat == cat:
                    cat_n += 1
                    cat_sum += past_amt
                    cat_sq += past_amt * past_amt
            if age <= DAY and is_night_ts(ts):
                night_24h += 1
            previous = past  # time order: the last one seen is the latest
        for i, (w, _) in enumerate(WINDOWS):
            f[f"card_count_{w}"] = float(counts[i])
            f[f"card_amt_sum_{w}"] = sums[i]
            f[f"card_amt_mean_{w}"] = sums[i] / counts[i] if counts[i] else 0.0
        mean_30d = f["card_amt_mean_30d"]
        f["amt_to_card_mean"] = amt / mean_30d if counts[3] and mean_30d > 0 else -1.0
        f["secs_since_prev"] = float(LONGEST if previous is None else min(now - previous[0], LONGEST))
        for i, (w, _) in enumerate(WINDOWS):
            f[f"card_amt_max_{w}"] = maxes[i]
        f["amt_z_card_30d"] = z_score(amt, counts[3], sums[3], sum_sq)
        f["amt_z_card_category_30d"] = z_score(amt, cat_n, cat_sum, cat_sq)
        if previous is None:
            f["speed_kmh_since_prev"] = 0.0
        else:
            km = haversine_km(previous[4], previous[5], merch_lat, merch_long)
            f["speed_kmh_since_prev"] = km / (max(now - previous[0], 60) / 3600.0)
        f["card_night_count_24h"] = float(night_24h)
        first = category_first.get(cat)
        f["first_time_category"] = float(not (first is not None and first < now))
        merchant = msg["merchant"]
        f["first_time_merchant"] = float(not any(m[0] == merchant and m[1] < now for m in merchants))
        # Record (idempotent on trans_num), keep time order, forget beyond 30 days.
        if all(past[2] != tid for past in history):
            category_first[cat] = now if first is None else min(first, now)
            seen = next((m for m in merchants if m[0] == merchant), None)
            if seen:
                seen[1], seen[2] = min(seen[1], now), max(seen[2], now)
            else:
                merchants.append([merchant, now, now])
                if len(merchants) > MERCHANT_MEMORY:
                    oldest = min(range(len(merchants)), key=lambda i: (merchants[i][2], i))
                    merchants.pop(oldest)
            at = len(history)
            while at > 0 and history[at - 1][0] > now:
                at -= 1
            history.insert(at, (now, amt, tid, cat, merch_lat, merch_long))
            newest = history[-1][0]
            while history and newest - history[0][0] > LONGEST:
                history.pop(0)
        return f


def read_messages(path, limit):
    """The first `limit` payments in event-time order, as dicts of strings."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: r["trans_date_trans_time"])  # stable, like the Rust side
    return rows[:limit]


def load_one_core_model(path):
    """The joblib scikit-learn model, set to predict on one core without progress output."""
    model = joblib.load(path)
    model.n_jobs = 1
    model.verbose = 0
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("scoring_csv")
    parser.add_argument("features_csv")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--batch-rows", default="1:300,100:20000,10000:200000",
                        help="batch_size:rows pairs for the batch measurement")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="X has feature names")

    model = load_one_core_model(args.model)

    # Per-message loop.
    messages = read_messages(args.scoring_csv, args.messages)
    histories = CardHistories()
    computed = []
    latencies = []
    cpu_started = time.thread_time()
    started = time.perf_counter()
    for msg in messages:
        t = time.perf_counter()
        features = histories.observe(msg)
        frame = pd.DataFrame([features], columns=FEATURE_NAMES)
        probability = float(model.predict_proba(frame)[0, 1])
        latencies.append(time.perf_counter() - t)
        computed.append((msg["trans_num"], features, probability))
    per_message_seconds = time.perf_counter() - started
    per_message_cpu = time.thread_time() - cpu_started

    exported = pd.read_csv(args.features_csv)
    x = exported[FEATURE_NAMES].to_numpy(dtype=np.float64)
    by_id = {t: i for i, t in enumerate(exported["trans_num"].head(len(messages) * 2))}
    worst = 0.0
    for trans_num, features, _ in computed:
        row = x[by_id[trans_num]]
        ours = np.array([features[n] for n in FEATURE_NAMES])
        worst = max(worst, float(np.max(np.abs(ours - row) / np.maximum(1.0, np.abs(row)))))

    batches = []
    for pair in args.batch_rows.split(","):
        size, rows = (int(v) for v in pair.split(":"))
        rows = min(rows, len(x))
        times = []
        total = 0.0
        cpu_started = time.thread_time()
        for start in range(0, rows, size):
            t = time.perf_counter()
            total += float(model.predict_proba(x[start:min(start + size, rows)])[:, 1].sum())
            times.append(time.perf_counter() - t)
        cpu_seconds = time.thread_time() - cpu_started
        seconds = sum(times)
        times.sort()
        batches.append({
            "batch_size": size,
            "rows": rows,
            "seconds": seconds,
            "records_per_s": rows / seconds,
            "cpu_seconds": cpu_seconds,
            "records_per_cpu_s": rows / cpu_seconds,
            "p50_batch_us": times[len(times) // 2] * 1e6,
            "checksum": total,
        })

    latencies.sort()
    print(json.dumps({
        "per_message": {
            "rows": len(messages),
            "seconds": per_message_seconds,
            "records_per_s": len(messages) / per_message_seconds,
            "cpu_seconds": per_message_cpu,
            "records_per_cpu_s": len(messages) / per_message_cpu,
            "p50_us": latencies[len(latencies) // 2] * 1e6,
            "p99_us": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] * 1e6,
        },
        "features_max_rel_diff_vs_fraudctl": worst,
        "batch": batches,
        "trees": len(model.estimators_),
        "nodes": int(sum(e.tree_.node_count for e in model.estimators_)),
    }), flush=True)


if __name__ == "__main__":
    main()
