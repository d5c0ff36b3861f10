//! A Sparkov-like synthetic card-transaction generator.
//!
//! Card holders get a home (one of a set of US towns), an age, a job, a spending level
//! and a category mix; merchants are grouped by category and placed within about a
//! degree of the holder, as in Sparkov. Each day every card makes a Poisson number of
//! payments, more at weekends and in December, mostly in daytime. Fraud comes in
//! episodes like the real data's: a card is compromised for a few days, during which
//! several high-amount payments in `shopping_net`, `grocery_pos`, `misc_net` and
//! similar categories appear, mostly between 22:00 and 04:00.
//!
//! A [`Drift`] changes the world from a given day on, for monitoring scenarios: every
//! amount is multiplied by a factor (prices moved) and a new fraud pattern appears that
//! the old one's model has never seen: daytime bursts of mid-sized payments in `travel`,
//! `health_fitness` and `home`, a few minutes apart. Without a drift the output is the
//! same as before drifts existed.
//!
//! Output is deterministic: every (card, day) draws from its own seeded stream, so days
//! can be generated in parallel and the same seed gives the same file byte for byte.
//! Rows are written day by day in time order, so memory stays flat at any size.
#![forbid(unsafe_code)]

mod names;

use std::io::Write;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use fraud_core::schema::{Category, Gender, Transaction, COLUMNS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Poisson};
use rayon::prelude::*;

/// Settings of a generation run.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Number of card holders (one card each).
    pub customers: u32,
    /// Number of days to simulate.
    pub days: u32,
    /// First simulated day.
    pub start: NaiveDate,
    /// Seed of every random draw.
    pub seed: u64,
    /// Expected fraud episodes per card per year (about 0.35 gives Sparkov's ~0.5% fraud rate).
    pub episodes_per_card_year: f64,
    /// A change of the world from some day on (none by default).
    pub drift: Option<Drift>,
}

/// From `from_day` (counted from the first simulated day) on: every amount times
/// `amount_factor`, and, when `new_pattern` is set, a share `new_pattern_share` of the
/// fraud episodes follows a pattern the earlier data never shows (daytime bursts of
/// $150–450 payments in `travel`, `health_fitness` and `home`, minutes apart).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    pub from_day: u32,
    pub amount_factor: f64,
    pub new_pattern: bool,
    pub new_pattern_share: f64,
}

impl Default for Drift {
    fn default() -> Self {
        Drift {
            from_day: 0,
            amount_factor: 1.0,
            new_pattern: true,
            new_pattern_share: 0.7,
        }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            customers: 1000,
            days: 60,
            start: NaiveDate::from_ymd_opt(2019, 1, 1).expect("valid date"),
            seed: 7,
            episodes_per_card_year: 0.35,
            drift: None,
        }
    }
}

/// Invalid settings.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GeneratorError {
    #[error("customers must be between 1 and 10,000,000, got {0}")]
    Customers(u32),
    #[error("days must be between 1 and 3,650, got {0}")]
    Days(u32),
    #[error("episodes_per_card_year must be between 0 and 365, got {0}")]
    EpisodeRate(f64),
    #[error("drift amount_factor must be between 0.01 and 100, got {0}")]
    DriftAmountFactor(f64),
    #[error("drift new_pattern_share must be between 0 and 1, got {0}")]
    DriftShare(f64),
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerationStats {
    pub rows: u64,
    pub frauds: u64,
}

/// A card holder.
#[derive(Debug, Clone)]
struct Customer {
    cc_num: u64,
    first: &'static str,
    last: &'static str,
    gender: Gender,
    street: String,
    town: &'static names::Town,
    job: &'static str,
    dob: NaiveDate,
    /// Mean payments per day.
    daily_rate: f64,
    /// Multiplier on every amount.
    spend: f64,
    /// Cumulative category weights.
    category_cdf: [f64; 14],
    /// Days (from the start) on which a fraud episode is running.
    fraud_days: Vec<u32>,
}

/// The generator: customers and merchants are drawn once from the seed.
pub struct Generator {
    config: GeneratorConfig,
    customers: Vec<Customer>,
}

/// Typical legitimate amount (median dollars, log-normal sigma) per category, in
/// [`Category::ALL`] order.
const AMOUNTS: [(f64, f64); 14] = [
    (40.0, 0.9), // entertainment
    (30.0, 0.9), // food_dining
    (60.0, 0.4), // gas_transport
    (50.0, 0.4), // grocery_net
    (90.0, 0.5), // grocery_pos
    (40.0, 0.8), // health_fitness
    (40.0, 0.9), // home
    (35.0, 0.9), // kids_pets
    (30.0, 1.0), // misc_net
    (30.0, 1.0), // misc_pos
    (25.0, 0.9), // personal_care
    (40.0, 1.0), // shopping_net
    (40.0, 1.0), // shopping_pos
    (20.0, 1.5), // travel
];

/// Typical category mix (relative weights) of legitimate spending.
const CATEGORY_WEIGHTS: [f64; 14] = [
    7.0, 7.0, 10.0, 3.5, 9.5, 6.5, 9.5, 8.5, 5.0, 6.0, 7.0, 7.5, 9.0, 3.0,
];

/// The drift's new fraud pattern: category mix and amount range (dollars).
const NEW_FRAUD_PROFILE: [(Category, f64, f64, f64); 3] = [
    (Category::Travel, 0.4, 150.0, 450.0),
    (Category::HealthFitness, 0.3, 150.0, 400.0),
    (Category::Home, 0.3, 150.0, 450.0),
];

/// Fraud category mix and amount range (dollars).
const FRAUD_PROFILE: [(Category, f64, f64, f64); 8] = [
    (Category::ShoppingNet, 0.26, 700.0, 1250.0),
    (Category::GroceryPos, 0.26, 270.0, 360.0),
    (Category::MiscNet, 0.14, 600.0, 1100.0),
    (Category::ShoppingPos, 0.10, 600.0, 1100.0),
    (Category::GasTransport, 0.08, 7.0, 22.0),
    (Category::MiscPos, 0.06, 200.0, 900.0),
    (Category::Entertainment, 0.05, 300.0, 700.0),
    (Category::PersonalCare, 0.05, 15.0, 60.0),
];

/// Every payment of `customers` customers over `days` days from `seed`, in time order;
/// the other settings are [`GeneratorConfig::default`]'s (for tests and small runs).
pub fn payments(customers: u32, days: u32, seed: u64) -> Result<Vec<Transaction>, GeneratorError> {
    let generator = Generator::new(GeneratorConfig {
        customers,
        days,
        seed,
        ..GeneratorConfig::default()
    })?;
    Ok(generator.all().collect())
}

impl Generator {
    /// Draws customers from the seed.
    pub fn new(config: GeneratorConfig) -> Result<Self, GeneratorError> {
        if config.customers == 0 || config.customers > 10_000_000 {
            return Err(GeneratorError::Customers(config.customers));
        }
        if config.days == 0 || config.days > 3650 {
            return Err(GeneratorError::Days(config.days));
        }
        if !(0.0..=365.0).contains(&config.episodes_per_card_year) {
            return Err(GeneratorError::EpisodeRate(config.episodes_per_card_year));
        }
        if let Some(d) = config.drift {
            if !(0.01..=100.0).contains(&d.amount_factor) {
                return Err(GeneratorError::DriftAmountFactor(d.amount_factor));
            }
            if !(0.0..=1.0).contains(&d.new_pattern_share) {
                return Err(GeneratorError::DriftShare(d.new_pattern_share));
            }
        }
        let customers = (0..config.customers)
            .into_par_iter()
            .map(|i| make_customer(&config, i))
            .collect();
        Ok(Generator { config, customers })
    }

    /// Transactions of one day, in time order.
    pub fn day(&self, day: u32) -> Vec<Transaction> {
        let date = self.config.start + Duration::days(i64::from(day));
        let mut txs: Vec<Transaction> = self
            .customers
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, c)| customer_day(&self.config, i as u32, c, day, date))
            .collect();
        txs.sort_by(|a, b| {
            a.trans_date_trans_time
                .cmp(&b.trans_date_trans_time)
                .then_with(|| a.trans_num.cmp(&b.trans_num))
        });
        txs
    }

    /// Every transaction of the run, day by day (for tests and small runs).
    pub fn all(&self) -> impl Iterator<Item = Transaction> + '_ {
        (0..self.config.days).flat_map(move |d| self.day(d))
    }

    /// Streams the whole run as a Sparkov CSV; `on_day` is called after each day.
    pub fn write_csv<W: Write>(
        &self,
        out: W,
        mut on_day: impl FnMut(u32),
    ) -> Result<GenerationStats, csv::Error> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(COLUMNS)?;
        let mut stats = GenerationStats::default();
        for day in 0..self.config.days {
            for tx in self.day(day) {
                stats.rows += 1;
                stats.frauds += u64::from(tx.is_fraud == Some(true));
                writer.write_record(tx.to_record())?;
            }
            on_day(day);
        }
        writer.flush()?;
        Ok(stats)
    }
}

/// Independent random stream for a (card, day, purpose) triple.
fn stream(seed: u64, customer: u32, day: u32, purpose: u64) -> ChaCha8Rng {
    let mut z = seed
        ^ (u64::from(customer) << 20)
        ^ (u64::from(day) << 44)
        ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // SplitMix64 finaliser, so neighbouring keys give unrelated seeds.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

fn make_customer(config: &GeneratorConfig, i: u32) -> Customer {
    let mut rng = stream(config.seed, i, u32::MAX, 1);
    let gender = if rng.random_bool(0.5) {
        Gender::Female
    } else {
        Gender::Male
    };
    let first = match gender {
        Gender::Female => names::FEMALE_FIRST[rng.random_range(0..names::FEMALE_FIRST.len())],
        Gender::Male => names::MALE_FIRST[rng.random_range(0..names::MALE_FIRST.len())],
    };
    let last = names::LAST[rng.random_range(0..names::LAST.len())];
    let town = &names::TOWNS[rng.random_range(0..names::TOWNS.len())];
    let street = format!(
        "{} {} {}",
        rng.random_range(1..99999),
        names::LAST[rng.random_range(0..names::LAST.len())],
        names::STREET_SUFFIXES[rng.random_range(0..names::STREET_SUFFIXES.len())]
    );
    let job = names::JOBS[rng.random_range(0..names::JOBS.len())];
    let age_days = rng.random_range(18 * 365..88 * 365);
    let dob = config.start - Duration::days(age_days);
    // Card numbers of 13 to 19 digits, as in Sparkov.
    let digits = [13u32, 15, 16, 16, 16, 19][rng.random_range(0..6)];
    let low = 10u64.pow(digits - 1);
    let cc_num = rng.random_range(low..low.saturating_mul(10).min(u64::MAX / 2));
    let daily_rate = LogNormal::new(0.9f64.ln(), 0.6)
        .expect("valid")
        .sample(&mut rng)
        .clamp(0.1, 12.0);
    let spend = LogNormal::new(0.0, 0.3).expect("valid").sample(&mut rng);
    let mut category_cdf = [0.0; 14];
    let mut total = 0.0;
    for (k, w) in CATEGORY_WEIGHTS.iter().enumerate() {
        total += w * rng.random_range(0.3..1.7);
        category_cdf[k] = total;
    }
    for v in category_cdf.iter_mut() {
        *v /= total;
    }
    let mut fraud_days = Vec::new();
    let daily_start = config.episodes_per_card_year / 365.0;
    let mut day = 0;
    while day < config.days {
        if rng.random_bool(daily_start.min(1.0)) {
            let length = rng.random_range(1..=4);
            fraud_days.extend(day..(day + length).min(config.days));
            day += length + 30; // a card is blocked and reissued after an episode
        } else {
            day += 1;
        }
    }
    Customer {
        cc_num,
        first,
        last,
        gender,
        street,
        town,
        job,
        dob,
        daily_rate,
        spend,
        category_cdf,
        fraud_days,
    }
}

fn customer_day(
    config: &GeneratorConfig,
    index: u32,
    c: &Customer,
    day: u32,
    date: NaiveDate,
) -> Vec<Transaction> {
    let mut rng = stream(config.seed, index, day, 2);
    let weekday = date.weekday().num_days_from_monday();
    let mut rate = c.daily_rate * if weekday >= 5 { 1.3 } else { 1.0 };
    if date.month() == 12 {
        rate *= 1.5;
    }
    let n = Poisson::new(rate)
        .map(|p| p.sample(&mut rng) as u32)
        .unwrap_or(0);
    let mut out = Vec::with_capacity(n as usize + 4);
    for _ in 0..n {
        let u: f64 = rng.random();
        let k = c.category_cdf.iter().position(|&p| u <= p).unwrap_or(13);
        let category = Category::ALL[k];
        let (median, sigma) = AMOUNTS[k];
        let amt = LogNormal::new((median * c.spend).ln(), sigma)
            .expect("valid")
            .sample(&mut rng)
            .clamp(1.0, 25_000.0);
        let hour = legit_hour(&mut rng);
        out.push(payment(&mut rng, c, date, hour, category, amt, false));
    }
    let drift = config.drift.filter(|d| day >= d.from_day);
    let factor = drift.map_or(1.0, |d| d.amount_factor);
    if factor != 1.0 {
        for t in &mut out {
            t.amt = (t.amt * factor * 100.0).round() / 100.0;
        }
    }
    if c.fraud_days.contains(&day) {
        // The drift's pattern draws from a stream of its own, so the rest of the day
        // (and every day before the drift) is the same as without it.
        let mut own = stream(config.seed, index, day, 3);
        if let Some(d) = drift.filter(|d| d.new_pattern && own.random_bool(d.new_pattern_share)) {
            out.extend(new_pattern_burst(&mut own, c, date, d.amount_factor));
            return out;
        }
        let frauds = rng.random_range(1..=6);
        for _ in 0..frauds {
            let (category, low, high) = draw_fraud(&mut rng, &FRAUD_PROFILE);
            let amt = rng.random_range(low..high) * factor;
            let hour = if rng.random_bool(0.8) {
                (22 + rng.random_range(0..6)) % 24
            } else {
                rng.random_range(0..24)
            };
            out.push(payment(&mut rng, c, date, hour, category, amt, true));
        }
    }
    out
}

/// The drift's new pattern: 3 to 8 payments of $150–450 (times the drift's factor) in
/// `travel`, `health_fitness` or `home`, a few minutes apart, in the daytime.
fn new_pattern_burst(
    rng: &mut ChaCha8Rng,
    c: &Customer,
    date: NaiveDate,
    factor: f64,
) -> Vec<Transaction> {
    let n = rng.random_range(3..=8);
    let mut minute = rng.random_range(9 * 60..16 * 60);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (category, low, high) = draw_fraud(rng, &NEW_FRAUD_PROFILE);
        let amt = rng.random_range(low..high) * factor;
        let mut tx = payment(rng, c, date, minute / 60, category, amt, true);
        let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, rng.random_range(0..60))
            .expect("valid time");
        tx.trans_date_trans_time = NaiveDateTime::new(date, time);
        tx.unix_time = Some(tx.trans_date_trans_time.and_utc().timestamp());
        out.push(tx);
        minute = (minute + rng.random_range(2..15)).min(23 * 60 + 59);
    }
    out
}

/// One fraud's category and amount range, drawn from `profile` by its weights (one draw
/// from `rng`; the first entry if the weights sum to less than the draw).
fn draw_fraud(rng: &mut ChaCha8Rng, profile: &[(Category, f64, f64, f64)]) -> (Category, f64, f64) {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    let &(category, _, low, high) = profile
        .iter()
        .find(|(_, w, _, _)| {
            acc += w;
            u <= acc
        })
        .unwrap_or(&profile[0]);
    (category, low, high)
}

/// Hour of a legitimate payment: mostly daytime, some at night.
fn legit_hour(rng: &mut ChaCha8Rng) -> u32 {
    if rng.random_bool(0.1) {
        (22 + rng.random_range(0..6)) % 24
    } else {
        rng.random_range(6..22)
    }
}

fn payment(
    rng: &mut ChaCha8Rng,
    c: &Customer,
    date: NaiveDate,
    hour: u32,
    category: Category,
    amt: f64,
    is_fraud: bool,
) -> Transaction {
    let time = NaiveTime::from_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
        .expect("valid time");
    let at = NaiveDateTime::new(date, time);
    let names = names::MERCHANTS;
    let merchant = format!(
        "fraud_{}",
        names[(category.index() * 7 + rng.random_range(0..names.len())) % names.len()]
    );
    let amt = (amt * 100.0).round() / 100.0;
    Transaction {
        trans_date_trans_time: at,
        cc_num: c.cc_num,
        merchant,
        category,
        amt,
        first: c.first.to_owned(),
        last: c.last.to_owned(),
        gender: c.gender,
        street: c.street.clone(),
        city: c.town.city.to_owned(),
        state: c.town.state.to_owned(),
        zip: c.town.zip.to_owned(),
        lat: c.town.lat,
        long: c.town.long,
        city_pop: c.town.pop,
        job: c.job.to_owned(),
        dob: c.dob,
        trans_num: format!("{:032x}", rng.random::<u128>()),
        unix_time: Some(at.and_utc().timestamp()),
        merch_lat: round6(c.town.lat + rng.random_range(-1.0..1.0)),
        merch_long: round6(c.town.long + rng.random_range(-1.0..1.0)),
        is_fraud: Some(is_fraud),
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraud_core::csv_input::read_transactions;

    fn small() -> GeneratorConfig {
        GeneratorConfig {
            customers: 300,
            days: 30,
            ..GeneratorConfig::default()
        }
    }

    #[test]
    fn same_seed_gives_identical_output() {
        let run = || {
            let mut buf = Vec::new();
            Generator::new(small())
                .unwrap()
                .write_csv(&mut buf, |_| {})
                .unwrap();
            buf
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn other_seed_gives_other_output() {
        let a: Vec<_> = Generator::new(small()).unwrap().day(0);
        let b: Vec<_> = Generator::new(GeneratorConfig { seed: 8, ..small() })
            .unwrap()
            .day(0);
        assert_ne!(a, b);
    }

    #[test]
    fn output_is_valid_sparkov_csv_in_time_order() {
        let mut buf = Vec::new();
        let stats = Generator::new(small())
            .unwrap()
            .write_csv(&mut buf, |_| {})
            .unwrap();
        let txs = read_transactions(buf.as_slice(), |r| panic!("generator wrote a bad row: {r}"))
            .unwrap();
        assert_eq!(txs.len() as u64, stats.rows);
        assert!(txs
            .windows(2)
            .all(|w| w[0].trans_date_trans_time <= w[1].trans_date_trans_time));
        let mut ids: Vec<_> = txs.iter().map(|t| &t.trans_num).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), txs.len(), "trans_num is unique");
    }

    #[test]
    fn frauds_are_rare_and_look_like_sparkov_frauds() {
        let config = GeneratorConfig {
            customers: 2000,
            days: 60,
            ..GeneratorConfig::default()
        };
        let txs: Vec<_> = Generator::new(config).unwrap().all().collect();
        let frauds: Vec<_> = txs.iter().filter(|t| t.is_fraud == Some(true)).collect();
        let rate = frauds.len() as f64 / txs.len() as f64;
        assert!((0.002..0.012).contains(&rate), "fraud rate {rate}");
        let night = frauds
            .iter()
            .filter(|t| {
                let h = chrono::Timelike::hour(&t.trans_date_trans_time);
                !(4..22).contains(&h)
            })
            .count();
        assert!(
            night as f64 > 0.6 * frauds.len() as f64,
            "{night} of {} at night",
            frauds.len()
        );
        let mean = |xs: &[&Transaction]| xs.iter().map(|t| t.amt).sum::<f64>() / xs.len() as f64;
        let legit: Vec<_> = txs.iter().filter(|t| t.is_fraud == Some(false)).collect();
        assert!(mean(&frauds) > 4.0 * mean(&legit));
    }

    fn drifted(from_day: u32) -> GeneratorConfig {
        GeneratorConfig {
            customers: 2000,
            days: 60,
            drift: Some(Drift {
                from_day,
                amount_factor: 1.5,
                ..Drift::default()
            }),
            ..GeneratorConfig::default()
        }
    }

    #[test]
    fn a_drift_leaves_the_days_before_it_untouched() {
        let plain = Generator::new(GeneratorConfig {
            customers: 2000,
            days: 60,
            ..GeneratorConfig::default()
        })
        .unwrap();
        let drift = Generator::new(drifted(30)).unwrap();
        for day in [0, 15, 29] {
            assert_eq!(plain.day(day), drift.day(day), "day {day}");
        }
        assert_ne!(plain.day(30), drift.day(30));
    }

    #[test]
    fn after_a_drift_amounts_are_scaled_and_the_new_pattern_appears_in_daytime() {
        let plain: Vec<_> = Generator::new(GeneratorConfig {
            customers: 2000,
            days: 60,
            ..GeneratorConfig::default()
        })
        .unwrap()
        .all()
        .filter(|t| t.is_fraud == Some(false))
        .collect();
        let txs: Vec<_> = Generator::new(drifted(0)).unwrap().all().collect();
        let legit: Vec<_> = txs.iter().filter(|t| t.is_fraud == Some(false)).collect();
        // Legitimate payments are the same draws, scaled (rounded to cents).
        assert_eq!(legit.len(), plain.len());
        for (a, b) in legit.iter().zip(&plain) {
            assert_eq!(a.trans_num, b.trans_num);
            assert!(
                (a.amt - b.amt * 1.5).abs() <= 0.011,
                "{} vs {}",
                a.amt,
                b.amt
            );
        }
        let new_pattern = [Category::Travel, Category::HealthFitness, Category::Home];
        let frauds: Vec<_> = txs.iter().filter(|t| t.is_fraud == Some(true)).collect();
        let new: Vec<_> = frauds
            .iter()
            .filter(|t| new_pattern.contains(&t.category))
            .collect();
        assert!(
            new.len() as f64 > 0.5 * frauds.len() as f64,
            "{} of {} frauds in the new pattern",
            new.len(),
            frauds.len()
        );
        assert!(new.iter().all(|t| {
            let h = chrono::Timelike::hour(&t.trans_date_trans_time);
            (9..=18).contains(&h) && (225.0..=675.0).contains(&t.amt)
        }));
    }

    #[test]
    fn rejects_a_drift_without_a_sensible_factor_or_share() {
        let mut config = drifted(10);
        config.drift.as_mut().unwrap().amount_factor = 0.0;
        assert_eq!(
            Generator::new(config).err().unwrap(),
            GeneratorError::DriftAmountFactor(0.0)
        );
        let mut config = drifted(10);
        config.drift.as_mut().unwrap().new_pattern_share = 1.5;
        assert_eq!(
            Generator::new(config).err().unwrap(),
            GeneratorError::DriftShare(1.5)
        );
    }

    #[test]
    fn rejects_invalid_settings() {
        let err = Generator::new(GeneratorConfig {
            customers: 0,
            ..small()
        })
        .err()
        .unwrap();
        assert_eq!(err, GeneratorError::Customers(0));
    }
}
