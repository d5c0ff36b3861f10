//! The `payments` topic's messages, as the producers of the payments API write them.
//!
//! Our own ingest writes one flat JSON object per payment (the Sparkov column names,
//! [`Transaction::to_json`]). Producers that other teams wrote for the same API write
//! what the API answered, more or less re-encoded. [`decode`] takes each of these and
//! hands every payment to the one schema code ([`Transaction::from_fields`] through
//! [`Transaction::from_json_map`] or [`api_frame::parse_frame`]); there is no second
//! parser:
//!
//! | encoding | example | payments |
//! |---|---|---|
//! | [`Encoding::Flat`] | `{"cc_num": …, "trans_date_trans_time": "2019-05-01 02:25:53", …}` | one |
//! | [`Encoding::Frame`] | `{"columns": […], "index": […], "data": [[…], …]}` | one per row |
//! | [`Encoding::FrameString`] | `"{\"columns\": …}"` (the API's body as is) | one per row |
//! | [`Encoding::Wrapped`] | `{"transaction": <frame, frame string or flat object>}` | as inside |
//!
//! A flat object's time may be `trans_date_trans_time` (the Sparkov form, ISO 8601 with
//! `T`, fractional seconds, `Z` or an offset, or an epoch number), `current_time` (epoch
//! milliseconds) or `unix_time` (epoch seconds or milliseconds); frames take the same
//! columns. A frame's columns may come in any order, with or without `is_fraud`.
//!
//! A message that is none of these is refused as a whole with a reason that lists what
//! is accepted; in a frame, a bad row is refused on its own and the other rows are kept.

use serde::Serialize;
use serde_json::Value;

use crate::api_frame::{self, FrameError};
use crate::error::{RecordError, Rejection};
use crate::schema::{Transaction, MAX_MESSAGE_BYTES};

/// What the decoder accepts, for the reasons of refused messages.
pub const ACCEPTED: &str = "accepted: a flat JSON object of Sparkov fields, a pandas split \
frame (`columns`, `index`, `data`) as an object or as a JSON string, or an object whose one \
member holds either";

/// How deep JSON strings and one-member wrappers may nest (`"\"{…}\""` twice encoded,
/// inside a wrapper, is three).
const MAX_NESTING: usize = 3;

/// How a message was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One flat object: our ingest's format.
    Flat,
    /// A pandas split frame as a JSON object.
    Frame,
    /// A JSON string holding a split frame: the payments API's body as is.
    FrameString,
    /// An object whose single member holds one of the others.
    Wrapped,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Flat => "flat",
            Encoding::Frame => "frame",
            Encoding::FrameString => "frame_string",
            Encoding::Wrapped => "wrapped",
        }
    }
}

/// The payments of one message: each a transaction or, for a frame's row, its rejection.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub encoding: Encoding,
    pub payments: Vec<Result<Transaction, Rejection>>,
}

/// Decodes one message in any accepted encoding. `Err` refuses the whole message (it is
/// not JSON, not an accepted shape, or its only payment is invalid); a frame's bad rows
/// come back as `Err` entries of [`Decoded::payments`] instead.
pub fn decode(bytes: &[u8]) -> Result<Decoded, RecordError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(RecordError::Oversize {
            field: "message",
            len: bytes.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed {
        reason: format!("not JSON ({e}); {ACCEPTED}"),
    })?;
    decode_value(value, 0)
}

fn decode_value(value: Value, depth: usize) -> Result<Decoded, RecordError> {
    let too_deep = || RecordError::Malformed {
        reason: format!("nested more than {MAX_NESTING} levels deep; {ACCEPTED}"),
    };
    match value {
        Value::Object(map) if is_frame(&map) => Ok(Decoded {
            encoding: Encoding::Frame,
            payments: api_frame::parse_frame(Value::Object(map)).map_err(frame_error)?,
        }),
        Value::Object(map) if map.len() == 1 && holds_message(&map) => {
            if depth >= MAX_NESTING {
                return Err(too_deep());
            }
            let (_, inner) = map.into_iter().next().expect("one member");
            let decoded = decode_value(inner, depth + 1)?;
            Ok(Decoded {
                encoding: Encoding::Wrapped,
                ..decoded
            })
        }
        Value::Object(map) => Ok(Decoded {
            encoding: Encoding::Flat,
            payments: vec![Ok(Transaction::from_json_map(&map)?)],
        }),
        Value::String(text) => {
            if depth >= MAX_NESTING {
                return Err(too_deep());
            }
            let inner: Value = serde_json::from_str(&text).map_err(|e| RecordError::Malformed {
                reason: format!("a JSON string that does not hold JSON ({e}); {ACCEPTED}"),
            })?;
            let decoded = decode_value(inner, depth + 1)?;
            Ok(Decoded {
                encoding: match decoded.encoding {
                    Encoding::Frame => Encoding::FrameString,
                    other => other,
                },
                ..decoded
            })
        }
        other => Err(RecordError::Malformed {
            reason: format!(
                "expected a JSON object or string, found {}; {ACCEPTED}",
                kind(&other)
            ),
        }),
    }
}

/// A split frame has `columns` and `data` (`index` is optional).
fn is_frame(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("columns") && map.contains_key("data")
}

/// A one-member object wraps a message when its member is an object or a string (a
/// flat payment always has many members).
fn holds_message(map: &serde_json::Map<String, Value>) -> bool {
    map.values().all(|v| v.is_object() || v.is_string())
}

fn frame_error(e: FrameError) -> RecordError {
    let reason = match e {
        FrameError::NotAFrame { reason } => format!("not a pandas split frame: {reason}"),
        other => other.to_string(),
    };
    RecordError::Malformed {
        reason: format!("{reason}; {ACCEPTED}"),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tests::{parse, sample_fields};
    use serde_json::json;

    fn sample() -> Transaction {
        parse(&sample_fields()).unwrap()
    }

    /// The sample as a flat object without its time columns.
    fn flat_without_time() -> serde_json::Map<String, Value> {
        let mut v = serde_json::to_value(sample()).unwrap();
        let map = v.as_object_mut().unwrap();
        map.remove("trans_date_trans_time");
        map.remove("unix_time");
        map.clone()
    }

    fn flat_with(field: &str, value: Value) -> Vec<u8> {
        let mut map = flat_without_time();
        map.insert(field.into(), value);
        serde_json::to_vec(&map).unwrap()
    }

    fn one(bytes: &[u8]) -> (Encoding, Transaction) {
        let decoded = decode(bytes).unwrap();
        assert_eq!(decoded.payments.len(), 1);
        (
            decoded.encoding,
            decoded.payments.into_iter().next().unwrap().unwrap(),
        )
    }

    /// A split frame of `txs` with the columns in the given order.
    fn frame(txs: &[Transaction], columns: &[&str]) -> Value {
        let rows: Vec<Value> = txs
            .iter()
            .map(|tx| {
                let flat = serde_json::to_value(tx).unwrap();
                let current_time = json!(tx.event_time() * 1000);
                Value::Array(
                    columns
                        .iter()
                        .map(|c| match *c {
                            "current_time" => current_time.clone(),
                            c => flat[c].clone(),
                        })
                        .collect(),
                )
            })
            .collect();
        json!({"columns": columns, "index": (0..txs.len()).collect::<Vec<_>>(), "data": rows})
    }

    /// The payments API's columns, in its order.
    fn api_columns() -> Vec<&'static str> {
        crate::api_frame::api_columns().collect()
    }

    fn without_unix_time(mut tx: Transaction) -> Transaction {
        tx.unix_time = None;
        tx
    }

    #[test]
    fn our_flat_message_decodes_as_one_payment() {
        let tx = sample();
        assert_eq!(one(&tx.to_json()), (Encoding::Flat, tx));
    }

    #[test]
    fn the_api_body_as_a_json_string_decodes_every_row() {
        let mut second = sample();
        second.trans_num = "second".into();
        let body = frame(&[sample(), second.clone()], &api_columns()).to_string();
        let message = serde_json::to_vec(&Value::String(body)).unwrap();
        let decoded = decode(&message).unwrap();
        assert_eq!(decoded.encoding, Encoding::FrameString);
        let txs: Vec<Transaction> = decoded.payments.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            txs,
            vec![without_unix_time(sample()), without_unix_time(second)]
        );
    }

    #[test]
    fn a_twice_encoded_api_body_still_decodes() {
        let body = frame(&[sample()], &api_columns()).to_string();
        let once = Value::String(body).to_string();
        let twice = serde_json::to_vec(&Value::String(once)).unwrap();
        let (encoding, tx) = one(&twice);
        assert_eq!(encoding, Encoding::FrameString);
        assert_eq!(tx, without_unix_time(sample()));
    }

    #[test]
    fn a_frame_object_in_any_column_order_and_without_the_label_decodes() {
        let mut columns: Vec<&str> = api_columns()
            .into_iter()
            .filter(|c| *c != "is_fraud")
            .collect();
        columns.reverse();
        let (encoding, tx) = one(frame(&[sample()], &columns).to_string().as_bytes());
        assert_eq!(encoding, Encoding::Frame);
        let mut expected = without_unix_time(sample());
        expected.is_fraud = None;
        assert_eq!(tx, expected);
    }

    #[test]
    fn a_frame_with_a_bad_row_keeps_the_others_and_names_the_bad_one() {
        let mut bad = sample();
        bad.trans_num = "bad".into();
        bad.amt = -1.0;
        let decoded = decode(
            frame(&[sample(), bad, sample()], &api_columns())
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(decoded.payments.len(), 3);
        let rejection = decoded.payments[1].as_ref().unwrap_err();
        assert_eq!(rejection.trans_num.as_deref(), Some("bad"));
        assert_eq!(rejection.line, 1);
        assert!(rejection.reason.contains("amt"), "{}", rejection.reason);
        assert!(decoded.payments[0].is_ok() && decoded.payments[2].is_ok());
    }

    #[test]
    fn an_object_whose_one_member_holds_a_frame_or_frame_string_decodes() {
        let inner = frame(&[sample()], &api_columns());
        for wrapped in [
            json!({"transaction": inner.clone()}),
            json!({"payload": inner.to_string()}),
            json!({"payment": serde_json::to_value(sample()).unwrap()}),
        ] {
            let (encoding, tx) = one(wrapped.to_string().as_bytes());
            assert_eq!(encoding, Encoding::Wrapped);
            assert_eq!(tx.trans_num, sample().trans_num);
        }
    }

    #[test]
    fn flat_times_in_every_accepted_form_mean_the_same_instant() {
        let expected = sample().trans_date_trans_time; // 2019-01-01 06:14:00
        for (field, value) in [
            ("trans_date_trans_time", json!("2019-01-01 06:14:00")),
            ("trans_date_trans_time", json!("2019-01-01T06:14:00")),
            ("trans_date_trans_time", json!("2019-01-01T06:14:00.731")),
            ("trans_date_trans_time", json!("2019-01-01T06:14:00Z")),
            (
                "trans_date_trans_time",
                json!("2019-01-01T08:14:00.5+02:00"),
            ),
            ("trans_date_trans_time", json!("2019-01-01 01:14:00-0500")),
            ("trans_date_trans_time", json!(1546323240)),
            ("current_time", json!(1546323240000i64)),
            ("current_time", json!(1546323240999i64)),
            ("unix_time", json!(1546323240)),
            ("unix_time", json!(1546323240000i64)),
        ] {
            let (_, tx) = one(&flat_with(field, value.clone()));
            assert_eq!(tx.trans_date_trans_time, expected, "{field} = {value}");
        }
    }

    #[test]
    fn beside_another_time_unix_time_is_kept_as_given() {
        // Found by the parser fuzz run: a large unix_time in seconds, read back as
        // milliseconds, broke the Kafka round trip.
        let mut tx = sample();
        tx.unix_time = Some(8_972_697_925_208_277);
        assert_eq!(one(&tx.to_json()).1, tx);
    }

    #[test]
    fn unix_time_in_milliseconds_is_kept_in_seconds() {
        let (_, tx) = one(&flat_with("unix_time", json!(1546323240000i64)));
        assert_eq!(tx.unix_time, Some(1546323240));
    }

    #[test]
    fn a_flat_object_without_any_time_names_the_fields_it_looked_for() {
        let err = decode(&serde_json::to_vec(&flat_without_time()).unwrap()).unwrap_err();
        assert_eq!(err, RecordError::MissingTime);
        let text = err.to_string();
        for field in ["trans_date_trans_time", "current_time", "unix_time"] {
            assert!(text.contains(field), "{text}");
        }
    }

    #[test]
    fn an_unreadable_time_names_the_value_and_the_accepted_forms() {
        let err = decode(&flat_with(
            "trans_date_trans_time",
            json!("01/05/2019 02:25"),
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("01/05/2019 02:25"), "{err}");
        assert!(err.contains("ISO 8601"), "{err}");
    }

    #[test]
    fn what_cannot_be_read_is_refused_with_the_accepted_encodings() {
        for message in [
            &b"{not json"[..],
            b"[1, 2, 3]",
            b"42",
            b"\"just text\"",
            br#"{"columns": ["amt"], "data": [[1.0]]}"#,
        ] {
            let err = decode(message).unwrap_err().to_string();
            assert!(err.contains("accepted:"), "{err}");
        }
    }

    #[test]
    fn wrappers_cannot_nest_without_end() {
        let mut value = json!({"amt": 1});
        for _ in 0..10 {
            value = json!({ "inner": value });
        }
        let err = decode(value.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nested"), "{err}");
    }

    #[test]
    fn the_label_is_ground_truth_not_a_model_input() {
        let labelled = sample();
        let mut unlabelled = labelled.clone();
        unlabelled.is_fraud = None;
        let mut with = crate::CardHistory::default();
        let mut without = crate::CardHistory::default();
        let mut fraud = labelled.clone();
        fraud.is_fraud = Some(true);
        assert_eq!(with.observe(&fraud), without.observe(&unlabelled));
        let mut later = labelled.clone();
        later.trans_num = "later".into();
        later.trans_date_trans_time += chrono::Duration::minutes(5);
        let mut later_unlabelled = later.clone();
        later_unlabelled.is_fraud = None;
        assert_eq!(with.observe(&later), without.observe(&later_unlabelled));
    }
}
