//! The one transaction schema: the Sparkov card-transaction columns, typed.
//!
//! Every input format (CSV rows, the payments API's pandas "split" frame, the JSON
//! messages on Kafka) is reduced to a lookup of column name → text and goes through
//! [`Transaction::from_fields`], so validation rules exist exactly once.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::error::{clip, RecordError};

/// Format of `trans_date_trans_time` in the Sparkov files.
pub const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// Format of `dob`.
pub const DATE_FORMAT: &str = "%Y-%m-%d";
/// Longest text accepted in any single field, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;

/// Column names of the Sparkov files, in file order.
pub const COLUMNS: [&str; 22] = [
    "trans_date_trans_time",
    "cc_num",
    "merchant",
    "category",
    "amt",
    "first",
    "last",
    "gender",
    "street",
    "city",
    "state",
    "zip",
    "lat",
    "long",
    "city_pop",
    "job",
    "dob",
    "trans_num",
    "unix_time",
    "merch_lat",
    "merch_long",
    "is_fraud",
];

/// Columns every record must have, whatever its format: all of [`COLUMNS`] except the
/// event-time columns (`trans_date_trans_time` or the API's `current_time` stands in),
/// `unix_time` and the label, in file order.
pub const REQUIRED_COLUMNS: [&str; 19] = {
    const NOT_REQUIRED: [&str; 3] = ["trans_date_trans_time", "unix_time", "is_fraud"];
    let mut out = [""; 19];
    let (mut i, mut n) = (0, 0);
    while i < COLUMNS.len() {
        let mut required = true;
        let mut k = 0;
        while k < NOT_REQUIRED.len() {
            required &= !const_str_eq(COLUMNS[i], NOT_REQUIRED[k]);
            k += 1;
        }
        if required {
            out[n] = COLUMNS[i];
            n += 1;
        }
        i += 1;
    }
    out
};

/// `a == b` for constants (`str` equality is not yet usable in `const` context).
const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The payments API sends the event time in this column (epoch milliseconds) instead of
/// `trans_date_trans_time` and `unix_time`.
pub const API_TIME_COLUMN: &str = "current_time";

/// Merchant category, the 14 values used by Sparkov.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Entertainment,
    FoodDining,
    GasTransport,
    GroceryNet,
    GroceryPos,
    HealthFitness,
    Home,
    KidsPets,
    MiscNet,
    MiscPos,
    PersonalCare,
    ShoppingNet,
    ShoppingPos,
    Travel,
}

impl Category {
    /// All categories, in the order used by the one-hot features.
    pub const ALL: [Category; 14] = [
        Category::Entertainment,
        Category::FoodDining,
        Category::GasTransport,
        Category::GroceryNet,
        Category::GroceryPos,
        Category::HealthFitness,
        Category::Home,
        Category::KidsPets,
        Category::MiscNet,
        Category::MiscPos,
        Category::PersonalCare,
        Category::ShoppingNet,
        Category::ShoppingPos,
        Category::Travel,
    ];

    /// The name as written in the data (`shopping_net`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Entertainment => "entertainment",
            Category::FoodDining => "food_dining",
            Category::GasTransport => "gas_transport",
            Category::GroceryNet => "grocery_net",
            Category::GroceryPos => "grocery_pos",
            Category::HealthFitness => "health_fitness",
            Category::Home => "home",
            Category::KidsPets => "kids_pets",
            Category::MiscNet => "misc_net",
            Category::MiscPos => "misc_pos",
            Category::PersonalCare => "personal_care",
            Category::ShoppingNet => "shopping_net",
            Category::ShoppingPos => "shopping_pos",
            Category::Travel => "travel",
        }
    }

    /// Position in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

/// Card holder's gender as recorded by Sparkov.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gender {
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "M")]
    Male,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "F",
            Gender::Male => "M",
        }
    }
}

/// One card payment.
///
/// Serialized (serde) with the Sparkov column names; this JSON object is the message
/// format of the `payments` Kafka topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    #[serde(with = "datetime_text")]
    pub trans_date_trans_time: NaiveDateTime,
    pub cc_num: u64,
    pub merchant: String,
    pub category: Category,
    pub amt: f64,
    pub first: String,
    pub last: String,
    pub gender: Gender,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub lat: f64,
    pub long: f64,
    pub city_pop: u64,
    pub job: String,
    pub dob: NaiveDate,
    pub trans_num: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_time: Option<i64>,
    pub merch_lat: f64,
    pub merch_long: f64,
    /// The label, when known (training data); absent on live payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_fraud: Option<bool>,
}

impl Transaction {
    /// Builds a validated transaction from a column lookup.
    ///
    /// The event time comes from `trans_date_trans_time`, or from `current_time`
    /// (epoch milliseconds, the payments API) when the former is absent.
    pub fn from_fields<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, RecordError> {
        let text = |field: &'static str| -> Result<&'a str, RecordError> {
            checked(&get, field)?.ok_or(RecordError::MissingField { field })
        };
        let owned = |field: &'static str| -> Result<String, RecordError> {
            let value = text(field)?;
            if value.is_empty() {
                return Err(RecordError::Empty { field });
            }
            Ok(value.to_owned())
        };
        let number = |field: &'static str| -> Result<f64, RecordError> {
            let value = text(field)?;
            value
                .parse::<f64>()
                .map_err(|_| RecordError::not_a_number(field, value))
        };
        let ranged = |field: &'static str, min: f64, max: f64| -> Result<f64, RecordError> {
            let value = number(field)?;
            if !(min..=max).contains(&value) {
                return Err(RecordError::OutOfRange {
                    field,
                    value,
                    min,
                    max,
                });
            }
            Ok(value)
        };
        let integer = |field: &'static str| -> Result<u64, RecordError> {
            let value = text(field)?;
            parse_integer(value).ok_or_else(|| RecordError::not_a_number(field, value))
        };

        let (trans_date_trans_time, unix_time) = event_time(&get)?;
        let amt = {
            let value = text("amt")?;
            let amt: f64 = value
                .parse()
                .map_err(|_| RecordError::not_a_number("amt", value))?;
            if !amt.is_finite() || amt < 0.0 {
                return Err(RecordError::InvalidAmount { value: amt });
            }
            amt
        };
        let category = {
            let value = text("category")?;
            value
                .parse()
                .map_err(|_| RecordError::UnknownCategory { value: clip(value) })?
        };
        let gender = match text("gender")? {
            "F" | "f" => Gender::Female,
            "M" | "m" => Gender::Male,
            other => {
                return Err(RecordError::UnknownValue {
                    field: "gender",
                    value: clip(other),
                    expected: "F or M",
                })
            }
        };
        let dob = {
            let value = text("dob")?;
            NaiveDate::parse_from_str(value, DATE_FORMAT)
                .map_err(|_| RecordError::bad_date("dob", value, "YYYY-MM-DD"))?
        };
        if dob > trans_date_trans_time.date() {
            return Err(RecordError::bad_date(
                "dob",
                &dob.to_string(),
                "a date before the transaction",
            ));
        }
        let is_fraud = match get("is_fraud").map(str::trim) {
            None | Some("") => None,
            Some("0") | Some("0.0") | Some("false") | Some("False") => Some(false),
            Some("1") | Some("1.0") | Some("true") | Some("True") => Some(true),
            Some(other) => {
                return Err(RecordError::UnknownValue {
                    field: "is_fraud",
                    value: clip(other),
                    expected: "0 or 1",
                })
            }
        };
        let cc_num = integer("cc_num")?;
        if cc_num == 0 {
            return Err(RecordError::OutOfRange {
                field: "cc_num",
                value: 0.0,
                min: 1.0,
                max: u64::MAX as f64,
            });
        }

        Ok(Transaction {
            trans_date_trans_time,
            cc_num,
            merchant: owned("merchant")?,
            category,
            amt,
            first: owned("first")?,
            last: owned("last")?,
            gender,
            street: owned("street")?,
            city: owned("city")?,
            state: owned("state")?,
            zip: owned("zip")?,
            lat: ranged("lat", -90.0, 90.0)?,
            long: ranged("long", -180.0, 180.0)?,
            city_pop: integer("city_pop")?,
            job: owned("job")?,
            dob,
            trans_num: owned("trans_num")?,
            unix_time,
            merch_lat: ranged("merch_lat", -90.0, 90.0)?,
            merch_long: ranged("merch_long", -180.0, 180.0)?,
            is_fraud,
        })
    }

    /// Event time in seconds since the Unix epoch, reading the naive Sparkov time as UTC.
    pub fn event_time(&self) -> i64 {
        self.trans_date_trans_time.and_utc().timestamp()
    }

    /// Parses one flat JSON object (our Kafka message format) and validates it with the
    /// same rules as every other input. [`crate::message::decode`] takes every encoding
    /// producers of the payments API write.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(RecordError::Oversize {
                field: "message",
                len: bytes.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed {
                reason: e.to_string(),
            })?;
        let object = value.as_object().ok_or_else(|| RecordError::Malformed {
            reason: "expected a JSON object".into(),
        })?;
        Transaction::from_json_map(object)
    }

    /// Validates one flat JSON object of Sparkov fields (a scalar per field; `null` is
    /// absent) with the same rules as every other input.
    pub fn from_json_map(
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, RecordError> {
        let fields: Vec<(&str, String)> = object
            .iter()
            .filter_map(|(k, v)| json_scalar_text(v).map(|t| (k.as_str(), t)))
            .collect();
        Transaction::from_fields(|name| {
            fields
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        })
    }

    /// The Kafka message body for this transaction.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a Transaction always serializes")
    }

    /// The values of [`COLUMNS`] for this transaction, as text (CSV row order).
    pub fn to_record(&self) -> Vec<String> {
        vec![
            self.trans_date_trans_time
                .format(DATETIME_FORMAT)
                .to_string(),
            self.cc_num.to_string(),
            self.merchant.clone(),
            self.category.as_str().to_owned(),
            format_amount(self.amt),
            self.first.clone(),
            self.last.clone(),
            self.gender.as_str().to_owned(),
            self.street.clone(),
            self.city.clone(),
            self.state.clone(),
            self.zip.clone(),
            self.lat.to_string(),
            self.long.to_string(),
            self.city_pop.to_string(),
            self.job.clone(),
            self.dob.format(DATE_FORMAT).to_string(),
            self.trans_num.clone(),
            self.unix_time
                .unwrap_or_else(|| self.event_time())
                .to_string(),
            self.merch_lat.to_string(),
            self.merch_long.to_string(),
            self.is_fraud
                .map(|f| u8::from(f).to_string())
                .unwrap_or_default(),
        ]
    }
}

/// The trimmed text of `field` when present, refused when longer than [`MAX_FIELD_BYTES`].
fn checked<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    field: &'static str,
) -> Result<Option<&'a str>, RecordError> {
    match get(field) {
        Some(value) if value.len() > MAX_FIELD_BYTES => Err(RecordError::Oversize {
            field,
            len: value.len(),
            max: MAX_FIELD_BYTES,
        }),
        value => Ok(value.map(str::trim)),
    }
}

/// Epoch values at or above this magnitude are milliseconds, below it seconds: 10^11 s
/// is the year 5138, 10^11 ms is 1973, so no payment time is ambiguous.
const EPOCH_MILLIS_FROM: i64 = 100_000_000_000;

/// What an unreadable `trans_date_trans_time` was expected to look like.
const TIME_FORMATS: &str =
    "YYYY-MM-DD HH:MM:SS, ISO 8601 (T, fractional seconds, Z or an offset) or epoch seconds/milliseconds";

/// The event time of a record, and its `unix_time` column when present (as given, or
/// in seconds when it is the event time).
///
/// The time comes from the first of these that is present:
/// - `trans_date_trans_time`: `YYYY-MM-DD HH:MM:SS` (the Sparkov files), ISO 8601
///   (`T` or a space, fractional seconds, `Z` or an offset: converted to UTC), or an
///   epoch number (seconds or milliseconds);
/// - `current_time`: epoch milliseconds (the payments API);
/// - `unix_time`: epoch seconds or milliseconds (told apart by magnitude).
///
/// Times are cut to whole seconds, like the Sparkov data: a sub-second part would not
/// survive the Kafka hop, which writes `YYYY-MM-DD HH:MM:SS`.
fn event_time<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(NaiveDateTime, Option<i64>), RecordError> {
    // Blank counts as absent: producers write `""` or `null` for a time they lack.
    let field = |name: &'static str| -> Result<Option<&'a str>, RecordError> {
        Ok(checked(get, name)?.filter(|v| !v.is_empty()))
    };
    // Kept as given (the Sparkov files' `unix_time` is not the same instant as their
    // `trans_date_trans_time`), unless it is the event time: then it is read as seconds or
    // milliseconds and kept in seconds.
    let unix_time = match field("unix_time")? {
        None => None,
        Some(value) => Some(
            parse_integer_i64(value)
                .ok_or_else(|| RecordError::not_a_number("unix_time", value))?,
        ),
    };
    if let Some(value) = field("trans_date_trans_time")? {
        let time = parse_datetime(value)
            .ok_or_else(|| RecordError::bad_date("trans_date_trans_time", value, TIME_FORMATS))?;
        return Ok((time, unix_time));
    }
    if let Some(value) = field(API_TIME_COLUMN)? {
        let time = parse_integer_i64(value)
            .and_then(|ms| DateTime::from_timestamp(ms.div_euclid(1000), 0))
            .map(|t| t.naive_utc())
            .ok_or_else(|| RecordError::bad_date(API_TIME_COLUMN, value, "epoch milliseconds"))?;
        return Ok((time, unix_time));
    }
    let Some(raw) = unix_time else {
        return Err(RecordError::MissingTime);
    };
    let seconds = epoch_seconds(raw);
    let time = DateTime::from_timestamp(seconds, 0)
        .map(|t| t.naive_utc())
        .ok_or_else(|| {
            RecordError::bad_date(
                "unix_time",
                &raw.to_string(),
                "epoch seconds or milliseconds",
            )
        })?;
    Ok((time, Some(seconds)))
}

/// Epoch seconds of an epoch value in seconds or milliseconds.
fn epoch_seconds(value: i64) -> i64 {
    if value.unsigned_abs() >= EPOCH_MILLIS_FROM as u64 {
        value.div_euclid(1000)
    } else {
        value
    }
}

/// A `trans_date_trans_time` in any accepted form, as naive UTC cut to whole seconds.
fn parse_datetime(value: &str) -> Option<NaiveDateTime> {
    // The Sparkov form first: it is what almost every record carries.
    if let Ok(t) = NaiveDateTime::parse_from_str(value, DATETIME_FORMAT) {
        return Some(t);
    }
    let whole = |t: NaiveDateTime| t.with_nanosecond(0);
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        let seconds = epoch_seconds(value.parse::<i64>().ok()?);
        return DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return whole(t.naive_utc());
    }
    // An offset without the `T` of RFC 3339, or with a compact `+0200`.
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(value, format) {
            return whole(t.naive_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return whole(t);
        }
    }
    None
}

/// Largest JSON message accepted on the Kafka topic, in bytes: Kafka's default
/// `message.max.bytes` (a frame of a few thousand payments).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Formats an amount the way the Sparkov files do (at most two decimals).
pub fn format_amount(amt: f64) -> String {
    let s = format!("{amt:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Text of a JSON scalar, as a CSV cell would hold it; `null` counts as absent.
pub(crate) fn json_scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(if *b { "1".into() } else { "0".into() }),
        serde_json::Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Integers may arrive as `123` or `123.0` (pandas writes floats for integer columns with gaps).
fn parse_integer(value: &str) -> Option<u64> {
    value.parse::<u64>().ok().or_else(|| {
        let f: f64 = value.parse().ok()?;
        (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1.8e19).then_some(f as u64)
    })
}

fn parse_integer_i64(value: &str) -> Option<i64> {
    value.parse::<i64>().ok().or_else(|| {
        let f: f64 = value.parse().ok()?;
        (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
    })
}

mod datetime_text {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::DATETIME_FORMAT;

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format(DATETIME_FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDateTime::parse_from_str(&text, DATETIME_FORMAT).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_fields() -> Vec<(&'static str, String)> {
        let values = [
            "2019-01-01 06:14:00",
            "4006047418382",
            "fraud_Schmitt Inc",
            "gas_transport",
            "56.09",
            "Robert",
            "Sanchez",
            "M",
            "7314 Johnson Square Apt. 296",
            "Parkers Lake",
            "KY",
            "42634",
            "36.8347",
            "-84.4436",
            "1565",
            "Designer, industrial/product",
            "1968-07-24",
            "8ede8dc6511d9b1f6eba6a226424f861",
            "1325398440",
            "35.945631",
            "-83.733495",
            "0",
        ];
        COLUMNS
            .iter()
            .zip(values)
            .map(|(k, v)| (*k, v.to_owned()))
            .collect()
    }

    pub(crate) fn parse(fields: &[(&'static str, String)]) -> Result<Transaction, RecordError> {
        Transaction::from_fields(|name| {
            fields
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        })
    }

    fn with(field: &str, value: &str) -> Result<Transaction, RecordError> {
        let mut fields = sample_fields();
        fields.iter_mut().find(|(k, _)| *k == field).unwrap().1 = value.to_owned();
        parse(&fields)
    }

    #[test]
    fn required_columns_are_the_sparkov_columns_minus_time_and_label() {
        let expected: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| !["trans_date_trans_time", "unix_time", "is_fraud"].contains(c))
            .collect();
        assert_eq!(REQUIRED_COLUMNS.to_vec(), expected);
    }

    #[test]
    fn parses_a_sparkov_row() {
        let tx = parse(&sample_fields()).unwrap();
        assert_eq!(tx.cc_num, 4006047418382);
        assert_eq!(tx.category, Category::GasTransport);
        assert_eq!(tx.amt, 56.09);
        assert_eq!(tx.gender, Gender::Male);
        assert_eq!(tx.is_fraud, Some(false));
        assert_eq!(tx.trans_date_trans_time.to_string(), "2019-01-01 06:14:00");
    }

    #[test]
    fn rejects_negative_amount_naming_the_value() {
        let err = with("amt", "-3.5").unwrap_err();
        assert_eq!(err, RecordError::InvalidAmount { value: -3.5 });
        assert!(err.to_string().contains("amt") && err.to_string().contains("-3.5"));
    }

    #[test]
    fn rejects_nan_and_non_numeric_amount() {
        assert!(matches!(
            with("amt", "NaN").unwrap_err(),
            RecordError::InvalidAmount { .. }
        ));
        let err = with("amt", "12,50").unwrap_err();
        assert_eq!(err.to_string(), "field `amt`: `12,50` is not a number");
    }

    #[test]
    fn rejects_bad_date_and_unknown_category() {
        let err = with("trans_date_trans_time", "2019-13-01 00:00:00").unwrap_err();
        assert!(err.to_string().contains("trans_date_trans_time"));
        assert!(err.to_string().contains("2019-13-01"));
        let err = with("category", "crypto").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `category`: unknown category `crypto`"
        );
    }

    #[test]
    fn rejects_latitude_out_of_range() {
        let err = with("merch_lat", "91.5").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `merch_lat`: 91.5 is out of range -90..=90"
        );
    }

    #[test]
    fn rejects_oversize_field() {
        let err = with("merchant", &"x".repeat(MAX_FIELD_BYTES + 1)).unwrap_err();
        assert!(matches!(
            err,
            RecordError::Oversize {
                field: "merchant",
                ..
            }
        ));
    }

    #[test]
    fn reports_missing_field() {
        let fields: Vec<_> = sample_fields()
            .into_iter()
            .filter(|(k, _)| *k != "trans_num")
            .collect();
        assert_eq!(
            parse(&fields).unwrap_err(),
            RecordError::MissingField { field: "trans_num" }
        );
    }

    #[test]
    fn json_message_round_trips() {
        let tx = parse(&sample_fields()).unwrap();
        let back = Transaction::from_json(&tx.to_json()).unwrap();
        assert_eq!(tx, back);
    }

    #[test]
    fn json_message_errors_name_the_field() {
        let mut value: serde_json::Value =
            serde_json::from_slice(&parse(&sample_fields()).unwrap().to_json()).unwrap();
        value["amt"] = serde_json::json!("lots");
        let err = Transaction::from_json(value.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "field `amt`: `lots` is not a number");
    }

    #[test]
    fn takes_event_time_from_current_time_millis() {
        let fields: Vec<_> = sample_fields()
            .into_iter()
            .filter(|(k, _)| *k != "trans_date_trans_time" && *k != "unix_time")
            .chain([("current_time", "1546323240000".to_owned())])
            .collect();
        let tx = parse(&fields).unwrap();
        assert_eq!(tx.trans_date_trans_time.to_string(), "2019-01-01 06:14:00");
        assert_eq!(tx.unix_time, None);
    }

    #[test]
    fn sub_second_api_time_is_cut_to_whole_seconds_so_the_kafka_hop_keeps_it() {
        // Found by the parser fuzz run: milliseconds were kept, then lost in Kafka JSON.
        let fields: Vec<_> = sample_fields()
            .into_iter()
            .filter(|(k, _)| *k != "trans_date_trans_time" && *k != "unix_time")
            .chain([("current_time", "1546323240999".to_owned())])
            .collect();
        let tx = parse(&fields).unwrap();
        assert_eq!(tx.trans_date_trans_time.to_string(), "2019-01-01 06:14:00");
        assert_eq!(Transaction::from_json(&tx.to_json()).unwrap(), tx);
    }
}
