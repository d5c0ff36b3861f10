"""Reference generator: a minimal Sparkov-like generator in numpy + pandas, vectorized
(no Python loop per row), writing the same 22 Sparkov columns as `fraudctl generate`.

Card holders get a home town, age, job, spending level, daily rate and category mix;
each payment draws a card (by its rate), a day, a time of day (mostly daytime), a
category from the card's mix and a log-normal amount; merchants sit within a degree of
the holder. Fraud episodes: about `episodes-per-card-year` per card, each a few
night-time, high-amount payments in shopping_net / grocery_pos / misc_net. Exactly
`--rows` rows are written, sorted by time, with `DataFrame.to_csv`.

Usage: gen_pandas.py --rows N --customers C --days D --out FILE.csv [--seed S]
Prints one JSON line: rows, frauds, seconds, rows_per_s.
"""
import argparse
import json
import time

import numpy as np
import pandas as pd

CATEGORIES = np.array([
    "entertainment", "food_dining", "gas_transport", "grocery_net", "grocery_pos",
    "health_fitness", "home", "kids_pets", "misc_net", "misc_pos", "personal_care",
    "shopping_net", "shopping_pos", "travel",
])
MEDIAN_AMT = np.array([40, 30, 60, 50, 90, 40, 40, 35, 30, 30, 25, 40, 40, 20], dtype=float)
SIGMA_AMT = np.array([0.9, 0.9, 0.4, 0.4, 0.5, 0.8, 0.9, 0.9, 1.0, 1.0, 0.9, 1.0, 1.0, 1.5])
WEIGHTS = np.array([7, 7, 10, 3.5, 9.5, 6.5, 9.5, 8.5, 5, 6, 7, 7.5, 9, 3])
FRAUD_CATS = np.array([11, 4, 8])  # shopping_net, grocery_pos, misc_net
TOWNS = [  # city, state, zip, lat, long, city_pop
    ("Parkers Lake", "KY", "42634", 36.8347, -84.4436, 1565),
    ("Mendon", "UT", "84325", 41.71, -111.9817, 2078),
    ("Orient", "WA", "99160", 48.8878, -118.2105, 149),
    ("Malad City", "ID", "83252", 42.1808, -112.262, 4154),
    ("Boulder", "MT", "59632", 46.2306, -112.1138, 1939),
    ("Doe Hill", "VA", "24433", 38.4207, -79.4629, 99),
    ("Dublin", "PA", "18917", 40.375, -75.2045, 2158),
    ("Holcomb", "KS", "67851", 38.0, -100.9893, 2691),
    ("Edinburg", "VA", "22824", 38.8432, -78.6003, 6018),
    ("Manor", "PA", "15665", 40.3359, -79.6607, 1472),
    ("Clarksville", "TN", "37040", 36.522, -87.349, 151785),
    ("Houston", "TX", "77070", 29.9693, -95.5708, 2906700),
]
FIRST_F = ["Jennifer", "Stephanie", "Mary", "Margaret", "Kimberly", "Lisa", "Ashley", "Sarah"]
FIRST_M = ["Robert", "Michael", "Christopher", "James", "Joseph", "David", "William", "John"]
LAST = ["Smith", "Johnson", "Williams", "Jones", "Brown", "Davis", "Miller", "Wilson", "Moore"]
SUFFIX = ["Street", "Avenue", "Square", "Freeway", "Lights", "Mission", "Ports", "Road"]
JOBS = ["Designer, industrial/product", "Scientist, audiological", "Engineer, civil",
        "Teacher, primary school", "Nurse, adult", "Accountant, chartered", "Film editor"]


def generate(rows, customers, days, seed, episodes_per_card_year, start="2019-01-01"):
    rng = np.random.default_rng(seed)
    # Card holders.
    gender = rng.random(customers) < 0.5
    first = np.where(gender, rng.choice(FIRST_F, customers), rng.choice(FIRST_M, customers))
    last = rng.choice(LAST, customers)
    town = rng.integers(0, len(TOWNS), customers)
    towns = pd.DataFrame(TOWNS, columns=["city", "state", "zip", "lat", "long", "city_pop"])
    street = (pd.Series(rng.integers(1, 99999, customers)).astype(str) + " "
              + rng.choice(LAST, customers) + " " + rng.choice(SUFFIX, customers)).to_numpy()
    job = rng.choice(JOBS, customers)
    dob = np.datetime64(start) - rng.integers(18 * 365, 88 * 365, customers).astype("timedelta64[D]")
    cc_num = rng.integers(10**15, 10**16 - 1, customers, dtype=np.int64)
    rate = np.clip(rng.lognormal(np.log(0.9), 0.6, customers), 0.1, 12.0)
    spend = rng.lognormal(0.0, 0.3, customers)
    mix = WEIGHTS * rng.uniform(0.3, 1.7, (customers, len(WEIGHTS)))
    cdf = np.cumsum(mix, axis=1)
    cdf /= cdf[:, -1:]

    # Payments: card by rate, day, time of day mostly 07:00-22:00.
    card = rng.choice(customers, rows, p=rate / rate.sum())
    day = rng.integers(0, days, rows)
    daytime = rng.random(rows) < 0.85
    seconds = np.where(daytime, rng.integers(7 * 3600, 22 * 3600, rows), rng.integers(0, 86400, rows))
    category = (rng.random(rows)[:, None] > cdf[card]).sum(axis=1)
    amt = np.round(spend[card] * rng.lognormal(np.log(MEDIAN_AMT[category]), SIGMA_AMT[category]), 2)
    is_fraud = np.zeros(rows, dtype=np.int8)

    # Fraud episodes: overwrite some payments of compromised cards with night-time,
    # high-amount payments within a few days.
    compromised = np.flatnonzero(rng.random(customers) < episodes_per_card_year * days / 365.0)
    episode_day = rng.integers(0, max(days - 3, 1), customers)
    victims = np.isin(card, compromised)
    candidates = np.flatnonzero(victims)
    chosen = candidates[rng.random(len(candidates)) < 0.08]
    is_fraud[chosen] = 1
    day[chosen] = np.minimum(episode_day[card[chosen]] + rng.integers(0, 3, len(chosen)), days - 1)
    seconds[chosen] = (22 * 3600 + rng.integers(0, 6 * 3600, len(chosen))) % 86400
    category[chosen] = rng.choice(FRAUD_CATS, len(chosen))
    amt[chosen] = np.round(rng.uniform(270, 1250, len(chosen)), 2)

    when = np.datetime64(start, "s") + (day.astype(np.int64) * 86400 + seconds).astype("timedelta64[s]")
    home = towns.iloc[town[card]].reset_index(drop=True)
    lat = home["lat"].to_numpy()
    long = home["long"].to_numpy()
    merchant_id = rng.integers(0, 50, rows)
    raw = rng.bytes(16 * rows)
    trans_num = [raw[i:i + 16].hex() for i in range(0, 16 * rows, 16)]
    frame = pd.DataFrame({
        "trans_date_trans_time": when,
        "cc_num": cc_num[card],
        "merchant": "fraud_" + pd.Series(CATEGORIES[category]).str.title() + " " + pd.Series(merchant_id).astype(str),
        "category": CATEGORIES[category],
        "amt": amt,
        "first": first[card],
        "last": last[card],
        "gender": np.where(gender[card], "F", "M"),
        "street": street[card],
        "city": home["city"],
        "state": home["state"],
        "zip": home["zip"],
        "lat": lat,
        "long": long,
        "city_pop": home["city_pop"],
        "job": job[card],
        "dob": np.datetime_as_string(dob, unit="D")[card],
        "trans_num": trans_num,
        "unix_time": when.astype(np.int64),
        "merch_lat": np.round(lat + rng.uniform(-1, 1, rows), 6),
        "merch_long": np.round(long + rng.uniform(-1, 1, rows), 6),
        "is_fraud": is_fraud,
    })
    return frame.sort_values("trans_date_trans_time", kind="stable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=85)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--episodes-per-card-year", type=float, default=0.35)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    frame = generate(args.rows, args.customers, args.days, args.seed, args.episodes_per_card_year)
    generated = time.perf_counter()
    frame.to_csv(args.out, index=False, date_format="%Y-%m-%d %H:%M:%S")
    seconds = time.perf_counter() - started
    print(json.dumps({
        "rows": len(frame),
        "frauds": int(frame["is_fraud"].sum()),
        "seconds": seconds,
        "generate_seconds": generated - started,
        "write_seconds": seconds - (generated - started),
        "rows_per_s": len(frame) / seconds,
    }), flush=True)


if __name__ == "__main__":
    main()
