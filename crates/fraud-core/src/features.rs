//! The one feature pipeline, used identically offline (training on a file) and online
//! (scoring one payment at a time).
//!
//! Offline, [`featurize_in_time_order`] walks a data set in event-time order and feeds
//! each transaction to its card's [`CardHistory`]. Online, the score function keeps the
//! same `CardHistory` per card (serializable, so it can live in a state store) and calls
//! the same [`CardHistory::observe`]. Per-card features only ever look at transactions
//! strictly earlier in event time than the one being featurized, so the arrival order of
//! other transactions cannot leak the future into a feature.
//!
//! | feature | definition |
//! |---|---|
//! | `amt` | amount in dollars |
//! | `log_amt` | ln(1 + amt) |
//! | `hour` | hour of day of `trans_date_trans_time` (0–23) |
//! | `is_night` | 1 when the hour is 22:00–03:59 |
//! | `day_of_week` | 0 = Monday … 6 = Sunday |
//! | `gender_female` | 1 for `F` |
//! | `age_years` | age of the card holder at the transaction, in years |
//! | `distance_km` | great-circle distance between holder and merchant |
//! | `log_city_pop` | ln(1 + city_pop) |
//! | `cat_<category>` | one-hot merchant category (14 columns) |
//! | `card_count_<w>` | the card's transactions in the window `w` before this one |
//! | `card_amt_sum_<w>` | their total amount |
//! | `card_amt_mean_<w>` | their mean amount (0 when there are none) |
//! | `amt_to_card_mean` | amt ÷ `card_amt_mean_30d` (−1 when the card has no 30-day history) |
//! | `secs_since_prev` | seconds since the card's previous transaction (capped at 30 days) |
//! | `card_amt_max_<w>` | the largest amount among the card's transactions in the window `w` (0 when none) |
//! | `amt_z_card_30d` | (amt − mean) ÷ sd of the card's amounts in the last 30 days (sd floored at $1; 0 with fewer than 2) |
//! | `amt_z_card_category_30d` | the same z-score against the card's amounts *in this transaction's category* in the last 30 days |
//! | `speed_kmh_since_prev` | great-circle distance from the previous transaction's merchant to this one's ÷ the time between them (at least 1 minute), km/h; 0 for a card's first transaction. Impossible travel shows as thousands of km/h |
//! | `card_night_count_24h` | the card's transactions at night (22:00–03:59) in the last 24 hours |
//! | `first_time_category` | 1 when the card never had an earlier transaction in this category (remembered forever: 14 timestamps per card) |
//! | `first_time_merchant` | 1 when the card had no earlier transaction at this merchant among the 64 merchants it used most recently (bounded memory) |
//!
//! Windows `w`: 1h, 24h, 7d, 30d. Replaying a transaction (same `trans_num`) does not
//! count it twice.
//!
//! Not computed here: merchant / category fraud rates (issue 10), measured and not
//! adopted. Smoothed rates `(frauds_before + m·prior) ÷ (count_before + m)` from training
//! labels only, strictly before each row's event time (frozen at the train cutoff for
//! later rows, as a scorer would have them), added to these 47 features, lower XGBoost's
//! test PR-AUC on the fixture over seeds 1–5: 0.7296 without, 0.6922 with m = 10
//! (−0.037), 0.7087 with m = 100 (−0.021); with a fixed 120 trees instead of early
//! stopping, 0.7290 without, 0.6931 (m = 10), 0.7295 (m = 100: no gain). Alone, the
//! merchant rate ranks test frauds barely above chance (PR-AUC 0.008, fraud share 0.0055);
//! the category rate (0.014) repeats what the one-hot category columns already give the
//! model. Labels also arrive long after the payment and never reach the online scorer's
//! per-card state. Numbers and command: BENCHMARKS.md, "Model quality: merchant and
//! category fraud rates"; `bench/reference/label_rates.py`.

use std::collections::{HashMap, VecDeque};

use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};

use crate::schema::{Category, Gender, Transaction};

/// Version of the feature definitions; bump whenever a definition changes, so that
/// artifacts trained on older features are refused.
pub const FEATURE_PIPELINE_VERSION: u32 = 2;

/// Number of features.
pub const N_FEATURES: usize = 47;

/// One transaction's features, in [`FEATURE_NAMES`] order.
pub type FeatureVector = [f64; N_FEATURES];

/// Names of the features, in vector order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "amt",
    "log_amt",
    "hour",
    "is_night",
    "day_of_week",
    "gender_female",
    "age_years",
    "distance_km",
    "log_city_pop",
    "cat_entertainment",
    "cat_food_dining",
    "cat_gas_transport",
    "cat_grocery_net",
    "cat_grocery_pos",
    "cat_health_fitness",
    "cat_home",
    "cat_kids_pets",
    "cat_misc_net",
    "cat_misc_pos",
    "cat_personal_care",
    "cat_shopping_net",
    "cat_shopping_pos",
    "cat_travel",
    "card_count_1h",
    "card_amt_sum_1h",
    "card_amt_mean_1h",
    "card_count_24h",
    "card_amt_sum_24h",
    "card_amt_mean_24h",
    "card_count_7d",
    "card_amt_sum_7d",
    "card_amt_mean_7d",
    "card_count_30d",
    "card_amt_sum_30d",
    "card_amt_mean_30d",
    "amt_to_card_mean",
    "secs_since_prev",
    "card_amt_max_1h",
    "card_amt_max_24h",
    "card_amt_max_7d",
    "card_amt_max_30d",
    "amt_z_card_30d",
    "amt_z_card_category_30d",
    "speed_kmh_since_prev",
    "card_night_count_24h",
    "first_time_category",
    "first_time_merchant",
];

const CATEGORY_OFFSET: usize = 9;
const HISTORY_OFFSET: usize = CATEGORY_OFFSET + Category::ALL.len();
/// History windows, in seconds.
pub const WINDOWS: [i64; 4] = [3_600, 86_400, 7 * 86_400, 30 * 86_400];
const LONGEST_WINDOW: i64 = WINDOWS[3];
/// Index of the first feature after `secs_since_prev`.
const EXTRA_OFFSET: usize = HISTORY_OFFSET + 14;
/// Merchants remembered per card for `first_time_merchant`.
pub const MERCHANT_MEMORY: usize = 64;
/// Seconds in a day.
const DAY: i64 = 86_400;

/// A past transaction as the history keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct PastTransaction {
    /// Event time, epoch seconds.
    ts: i64,
    amt: f64,
    /// FNV-1a hash of `trans_num`, to recognise replays.
    id: u64,
    /// Category index ([`Category::index`]); `None` for an event a v1 history recorded
    /// (before categories and merchant locations were kept).
    #[serde(default)]
    cat: Option<u8>,
    /// Merchant location (`None` in v1 histories).
    #[serde(default)]
    merch_lat: Option<f64>,
    #[serde(default)]
    merch_long: Option<f64>,
}

/// A merchant the card used: FNV-1a hash of its name, first and last event time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct SeenMerchant {
    hash: u64,
    first: i64,
    last: i64,
}

fn is_night_ts(ts: i64) -> bool {
    let hour = ts.rem_euclid(DAY) / 3600;
    !(4..22).contains(&hour)
}

/// z-score of `x` against (count, sum, sum of squares); 0 with fewer than 2 values.
fn z_score(x: f64, n: f64, sum: f64, sum_sq: f64) -> f64 {
    if n < 2.0 {
        return 0.0;
    }
    let mean = sum / n;
    let var = ((sum_sq - n * mean * mean) / (n - 1.0)).max(0.0);
    (x - mean) / var.sqrt().max(1.0)
}

/// What one card did in the last 30 days: the state the online scorer keeps per card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CardHistory {
    /// Ordered by event time.
    events: VecDeque<PastTransaction>,
    /// Per category ([`Category::index`]), the earliest event time seen (absent: never).
    #[serde(default)]
    category_first_seen: Vec<Option<i64>>,
    /// The merchants used most recently (at most [`MERCHANT_MEMORY`]).
    #[serde(default)]
    merchants: Vec<SeenMerchant>,
}

impl CardHistory {
    /// Features of `tx` given this history, then records `tx` in the history.
    pub fn observe(&mut self, tx: &Transaction) -> FeatureVector {
        let features = self.features(tx);
        self.record(tx);
        features
    }

    /// Features of `tx` given this history, without recording it.
    pub fn features(&self, tx: &Transaction) -> FeatureVector {
        let mut f = static_features(tx);
        let now = tx.event_time();
        let id = trans_id(&tx.trans_num);
        let mut counts = [0u32; 4];
        let mut sums = [0.0f64; 4];
        let mut maxes = [0.0f64; 4];
        let mut sum_sq = 0.0;
        let (mut cat_n, mut cat_sum, mut cat_sq) = (0.0, 0.0, 0.0);
        let mut night_24h = 0u32;
        let cat = tx.category.index() as u8;
        let mut previous: Option<&PastTransaction> = None;
        for past in self.events.iter().filter(|p| p.ts < now && p.id != id) {
            let age = now - past.ts;
            for (w, window) in WINDOWS.iter().enumerate() {
                if age <= *window {
                    counts[w] += 1;
                    sums[w] += past.amt;
                    maxes[w] = maxes[w].max(past.amt);
                }
            }
            if age <= LONGEST_WINDOW {
                sum_sq += past.amt * past.amt;
                if past.cat == Some(cat) {
                    cat_n += 1.0;
                    cat_sum += past.amt;
                    cat_sq += past.amt * past.amt;
                }
            }
            if age <= DAY && is_night_ts(past.ts) {
                night_24h += 1;
            }
            // Events are in time order: the last one seen is the latest.
            previous = Some(past);
        }
        for w in 0..WINDOWS.len() {
            let base = HISTORY_OFFSET + 3 * w;
            f[base] = f64::from(counts[w]);
            f[base + 1] = sums[w];
            f[base + 2] = if counts[w] > 0 {
                sums[w] / f64::from(counts[w])
            } else {
                0.0
            };
        }
        let mean_30d = f[HISTORY_OFFSET + 3 * 3 + 2];
        f[HISTORY_OFFSET + 12] = if counts[3] > 0 && mean_30d > 0.0 {
            tx.amt / mean_30d
        } else {
            -1.0
        };
        f[HISTORY_OFFSET + 13] =
            previous.map_or(LONGEST_WINDOW, |p| (now - p.ts).min(LONGEST_WINDOW)) as f64;
        f[EXTRA_OFFSET..EXTRA_OFFSET + 4].copy_from_slice(&maxes);
        f[EXTRA_OFFSET + 4] = z_score(tx.amt, f64::from(counts[3]), sums[3], sum_sq);
        f[EXTRA_OFFSET + 5] = z_score(tx.amt, cat_n, cat_sum, cat_sq);
        // A previous payment without a location (kept by a v1 history) counts as no move.
        f[EXTRA_OFFSET + 6] = previous
            .and_then(|p| Some((p.ts, p.merch_lat?, p.merch_long?)))
            .map_or(0.0, |(ts, lat, long)| {
                let km = haversine_km(lat, long, tx.merch_lat, tx.merch_long);
                km / ((now - ts).max(60) as f64 / 3600.0)
            });
        f[EXTRA_OFFSET + 7] = f64::from(night_24h);
        let seen_category = self
            .category_first_seen
            .get(usize::from(cat))
            .copied()
            .flatten()
            .is_some_and(|first| first < now);
        // A history saved before categories and merchants were kept (v1) cannot tell a
        // first time: while its events last, nothing counts as first-time.
        let legacy = self
            .events
            .iter()
            .any(|p| p.cat.is_none() && now - p.ts <= LONGEST_WINDOW);
        f[EXTRA_OFFSET + 8] = f64::from(u8::from(!seen_category && !legacy));
        let merchant = trans_id(&tx.merchant);
        let seen_merchant = self
            .merchants
            .iter()
            .any(|m| m.hash == merchant && m.first < now);
        f[EXTRA_OFFSET + 9] = f64::from(u8::from(!seen_merchant && !legacy));
        f
    }

    /// Records `tx` (idempotent on `trans_num`) and forgets what fell out of the longest window.
    pub fn record(&mut self, tx: &Transaction) {
        let id = trans_id(&tx.trans_num);
        if self.events.iter().any(|p| p.id == id) {
            return;
        }
        let event = PastTransaction {
            ts: tx.event_time(),
            amt: tx.amt,
            id,
            cat: Some(tx.category.index() as u8),
            merch_lat: Some(tx.merch_lat),
            merch_long: Some(tx.merch_long),
        };
        if self.category_first_seen.len() < Category::ALL.len() {
            self.category_first_seen.resize(Category::ALL.len(), None);
        }
        let first = &mut self.category_first_seen[tx.category.index()];
        *first = Some(first.map_or(event.ts, |f| f.min(event.ts)));
        let merchant = trans_id(&tx.merchant);
        match self.merchants.iter_mut().find(|m| m.hash == merchant) {
            Some(m) => {
                m.first = m.first.min(event.ts);
                m.last = m.last.max(event.ts);
            }
            None => {
                self.merchants.push(SeenMerchant {
                    hash: merchant,
                    first: event.ts,
                    last: event.ts,
                });
                if self.merchants.len() > MERCHANT_MEMORY {
                    // Forget the merchant used least recently (the first such on ties).
                    let oldest = self
                        .merchants
                        .iter()
                        .enumerate()
                        .min_by_key(|(i, m)| (m.last, *i))
                        .map(|(i, _)| i)
                        .expect("not empty");
                    self.merchants.remove(oldest);
                }
            }
        }
        let at = self.events.partition_point(|p| p.ts <= event.ts);
        self.events.insert(at, event);
        let newest = self.events.back().map_or(event.ts, |p| p.ts);
        while self
            .events
            .front()
            .is_some_and(|p| newest - p.ts > LONGEST_WINDOW)
        {
            self.events.pop_front();
        }
    }

    /// Number of transactions remembered.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Histories of many cards: what the offline pipeline keeps in memory, and what the
/// online scorer loads from and saves to its state store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CardHistories {
    cards: HashMap<u64, CardHistory>,
}

impl CardHistories {
    /// Features of `tx`, then remembers it under its card.
    pub fn observe(&mut self, tx: &Transaction) -> FeatureVector {
        self.cards.entry(tx.cc_num).or_default().observe(tx)
    }

    /// The history of one card, if any.
    pub fn get(&self, cc_num: u64) -> Option<&CardHistory> {
        self.cards.get(&cc_num)
    }

    /// Replaces the history of one card (loaded from a state store).
    pub fn insert(&mut self, cc_num: u64, history: CardHistory) {
        self.cards.insert(cc_num, history);
    }

    /// Number of cards known.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    /// True when no card is known.
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }
}

/// Featurizes a data set offline: walks it in event-time order (stable for ties) and
/// returns the features in the input's order.
pub fn featurize_in_time_order(txs: &[Transaction]) -> Vec<FeatureVector> {
    let mut order: Vec<usize> = (0..txs.len()).collect();
    order.sort_by_key(|&i| txs[i].event_time());
    let mut histories = CardHistories::default();
    let mut out = vec![[0.0; N_FEATURES]; txs.len()];
    for i in order {
        out[i] = histories.observe(&txs[i]);
    }
    out
}

/// Features that depend on the transaction alone.
fn static_features(tx: &Transaction) -> FeatureVector {
    let mut f = [0.0; N_FEATURES];
    let t = tx.trans_date_trans_time;
    f[0] = tx.amt;
    f[1] = tx.amt.ln_1p();
    f[2] = f64::from(t.hour());
    f[3] = f64::from(u8::from(t.hour() >= 22 || t.hour() < 4));
    f[4] = f64::from(t.weekday().num_days_from_monday());
    f[5] = f64::from(u8::from(tx.gender == Gender::Female));
    f[6] = (t.date() - tx.dob).num_days() as f64 / 365.25;
    f[7] = haversine_km(tx.lat, tx.long, tx.merch_lat, tx.merch_long);
    f[8] = (tx.city_pop as f64).ln_1p();
    f[CATEGORY_OFFSET + tx.category.index()] = 1.0;
    f
}

/// Great-circle distance in kilometres.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

/// Stable 64-bit FNV-1a hash of a `trans_num` (stable across builds, so persisted
/// histories stay valid).
pub fn trans_id(trans_num: &str) -> u64 {
    trans_num.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tests::{parse, sample_fields};
    use chrono::Duration;

    fn tx(card: u64, minutes: i64, amt: f64, id: &str) -> Transaction {
        let mut t = parse(&sample_fields()).unwrap();
        t.cc_num = card;
        t.trans_date_trans_time += Duration::minutes(minutes);
        t.amt = amt;
        t.trans_num = id.to_owned();
        t
    }

    fn idx(name: &str) -> usize {
        FEATURE_NAMES.iter().position(|n| *n == name).unwrap()
    }

    #[test]
    fn card_windows_count_only_strictly_earlier_transactions() {
        let mut h = CardHistory::default();
        let first = h.observe(&tx(1, 0, 10.0, "a"));
        assert_eq!(first[idx("card_count_30d")], 0.0);
        assert_eq!(first[idx("secs_since_prev")], 30.0 * 86_400.0);
        assert_eq!(first[idx("amt_to_card_mean")], -1.0);
        let same_second = h.observe(&tx(1, 0, 20.0, "b"));
        assert_eq!(same_second[idx("card_count_1h")], 0.0);
        let later = h.observe(&tx(1, 90, 60.0, "c"));
        assert_eq!(later[idx("card_count_1h")], 0.0);
        assert_eq!(later[idx("card_count_24h")], 2.0);
        assert_eq!(later[idx("card_amt_sum_24h")], 30.0);
        assert_eq!(later[idx("card_amt_mean_24h")], 15.0);
        assert_eq!(later[idx("amt_to_card_mean")], 4.0);
        assert_eq!(later[idx("secs_since_prev")], 5400.0);
    }

    #[test]
    fn a_history_saved_by_the_v1_pipeline_gives_no_false_travel_or_first_time_signals() {
        // What PostgreSQL holds for a card from before categories and merchant locations
        // were kept: events with time, amount and id only.
        let first = tx(1, 0, 10.0, "a");
        let v1 = serde_json::json!({"events": [
            {"ts": first.event_time(), "amt": 10.0, "id": trans_id("a")}
        ]});
        let mut h: CardHistory = serde_json::from_value(v1).unwrap();
        let f = h.observe(&tx(1, 30, 20.0, "b"));
        assert_eq!(f[idx("card_count_24h")], 1.0);
        assert_eq!(
            f[idx("speed_kmh_since_prev")],
            0.0,
            "no location, no travel"
        );
        assert_eq!(f[idx("first_time_category")], 0.0);
        assert_eq!(f[idx("first_time_merchant")], 0.0);
        assert_eq!(f[idx("amt_z_card_category_30d")], 0.0);
        // Once the v1 event is out of the window, the v2 state alone decides.
        let mut elsewhere = tx(1, 31 * 24 * 60, 20.0, "c");
        elsewhere.category = Category::Travel;
        elsewhere.merchant = "fraud_Elsewhere".into();
        let f = h.observe(&elsewhere);
        assert_eq!(f[idx("first_time_category")], 1.0);
        assert_eq!(f[idx("first_time_merchant")], 1.0);
    }

    #[test]
    fn history_features_follow_their_definitions() {
        let mut h = CardHistory::default();
        // 23:00 on 2019-01-01 (the sample is 06:xx; +17 h).
        let night = |m: i64, amt: f64, id: &str| tx(1, 17 * 60 + m, amt, id);
        let a = h.observe(&night(0, 10.0, "a"));
        assert_eq!(a[idx("first_time_category")], 1.0);
        assert_eq!(a[idx("first_time_merchant")], 1.0);
        assert_eq!(a[idx("speed_kmh_since_prev")], 0.0);
        assert_eq!(a[idx("amt_z_card_30d")], 0.0);
        h.observe(&night(10, 30.0, "b"));
        let mut far = night(40, 50.0, "c");
        far.merch_lat += 1.0; // 111 km north of the previous merchant, 30 min later
        far.merchant = "another".into();
        let c = h.observe(&far);
        assert_eq!(c[idx("card_amt_max_1h")], 30.0);
        assert_eq!(c[idx("card_amt_max_30d")], 30.0);
        assert_eq!(c[idx("card_night_count_24h")], 2.0);
        assert_eq!(c[idx("first_time_category")], 0.0);
        assert_eq!(c[idx("first_time_merchant")], 1.0);
        // mean 20, sd √200 ≈ 14.14 → (50 − 20) / 14.14
        assert!((c[idx("amt_z_card_30d")] - 30.0 / 200f64.sqrt()).abs() < 1e-9);
        assert_eq!(c[idx("amt_z_card_category_30d")], c[idx("amt_z_card_30d")]);
        let speed = c[idx("speed_kmh_since_prev")];
        assert!((speed - 2.0 * 111.2).abs() < 1.0, "{speed}");
        let mut other = night(50, 5.0, "d");
        other.category = Category::Travel;
        let d = h.observe(&other);
        assert_eq!(d[idx("first_time_category")], 1.0);
        assert_eq!(d[idx("amt_z_card_category_30d")], 0.0);
    }

    #[test]
    fn merchant_memory_is_bounded() {
        let mut h = CardHistory::default();
        for i in 0..(MERCHANT_MEMORY as i64 + 10) {
            let mut t = tx(1, i, 1.0, &format!("t{i}"));
            t.merchant = format!("m{i}");
            h.observe(&t);
        }
        assert_eq!(h.merchants.len(), MERCHANT_MEMORY);
        let mut again = tx(1, 1000, 1.0, "again");
        again.merchant = "m0".into(); // forgotten: used least recently
        assert_eq!(h.features(&again)[idx("first_time_merchant")], 1.0);
        again.merchant = format!("m{}", MERCHANT_MEMORY + 9);
        assert_eq!(h.features(&again)[idx("first_time_merchant")], 0.0);
    }

    #[test]
    fn replayed_transaction_is_not_double_counted() {
        let mut h = CardHistory::default();
        h.observe(&tx(1, 0, 10.0, "a"));
        let once = h.observe(&tx(1, 10, 50.0, "b"));
        let again = h.observe(&tx(1, 10, 50.0, "b"));
        assert_eq!(once, again);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn history_forgets_beyond_thirty_days() {
        let mut h = CardHistory::default();
        h.observe(&tx(1, 0, 10.0, "a"));
        h.observe(&tx(1, 31 * 24 * 60, 10.0, "b"));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn static_features_match_hand_computed_values() {
        let t = parse(&sample_fields()).unwrap();
        let f = CardHistory::default().features(&t);
        assert_eq!(f[idx("hour")], 6.0);
        assert_eq!(f[idx("is_night")], 0.0);
        assert_eq!(f[idx("day_of_week")], 1.0); // 2019-01-01 was a Tuesday
        assert_eq!(f[idx("cat_gas_transport")], 1.0);
        assert_eq!(f[CATEGORY_OFFSET..HISTORY_OFFSET].iter().sum::<f64>(), 1.0);
        assert!((f[idx("age_years")] - 50.44).abs() < 0.01);
        // Parkers Lake, KY to the merchant: 0.89° of latitude and 0.71° of longitude apart.
        assert!((f[idx("distance_km")] - 117.53).abs() < 0.01, "{}", f[7]);
    }

    #[test]
    fn offline_output_keeps_input_order() {
        let a = tx(1, 60, 10.0, "late");
        let b = tx(1, 0, 30.0, "early");
        let out = featurize_in_time_order(&[a, b]);
        assert_eq!(out[0][idx("card_count_1h")], 1.0);
        assert_eq!(out[1][idx("card_count_1h")], 0.0);
    }

    #[test]
    fn feature_names_are_unique_and_complete() {
        let mut names = FEATURE_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N_FEATURES);
        for c in Category::ALL {
            assert_eq!(
                FEATURE_NAMES[CATEGORY_OFFSET + c.index()],
                format!("cat_{c}")
            );
        }
    }
}
