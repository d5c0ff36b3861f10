//! The payments API's wire format.
//!
//! `GET /current-transactions` answers with a JSON *string* whose content is a pandas
//! `DataFrame.to_json(orient="split")` frame: `{"columns":[...],"index":[...],"data":[[...]]}`.
//! The event time is the column `current_time` in epoch milliseconds; the columns
//! `trans_date_trans_time` and `unix_time` are absent. The API carries the label:
//! `is_fraud` (0/1) comes just before `current_time` (see [`api_columns`]). A body holding
//! the frame object directly (not wrapped in a string) is accepted too.

use serde::{Deserialize, Serialize};

use crate::error::Rejection;
use crate::schema::{json_scalar_text, Transaction, API_TIME_COLUMN, REQUIRED_COLUMNS};

/// Largest response body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Errors that make a whole response unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("response body of {len} bytes exceeds the limit of {max}")]
    Oversize { len: usize, max: usize },
    #[error("response body is not JSON: {reason}")]
    NotJson { reason: String },
    #[error("response body is not a pandas split frame: {reason}")]
    NotAFrame { reason: String },
}

/// A pandas "split" frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitFrame {
    pub columns: Vec<String>,
    #[serde(default)]
    pub index: Vec<serde_json::Value>,
    pub data: Vec<Vec<serde_json::Value>>,
}

/// Parses a response body into one outcome per row: a transaction or a rejection
/// (with the row's index, the reason and the raw row).
pub fn parse_body(body: &[u8]) -> Result<Vec<Result<Transaction, Rejection>>, FrameError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(FrameError::Oversize {
            len: body.len(),
            max: MAX_BODY_BYTES,
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| FrameError::NotJson {
            reason: e.to_string(),
        })?;
    let frame_value = match value {
        serde_json::Value::String(inner) => {
            serde_json::from_str(&inner).map_err(|e| FrameError::NotJson {
                reason: format!("the JSON string does not hold JSON: {e}"),
            })?
        }
        other => other,
    };
    parse_frame(frame_value)
}

/// Parses a split frame already read as JSON into one outcome per row (any column
/// order, any number of rows, with or without `is_fraud`).
pub fn parse_frame(
    frame_value: serde_json::Value,
) -> Result<Vec<Result<Transaction, Rejection>>, FrameError> {
    let frame: SplitFrame =
        serde_json::from_value(frame_value).map_err(|e| FrameError::NotAFrame {
            reason: e.to_string(),
        })?;
    if !frame.index.is_empty() && frame.index.len() != frame.data.len() {
        return Err(FrameError::NotAFrame {
            reason: format!(
                "index has {} entries but data has {} rows",
                frame.index.len(),
                frame.data.len()
            ),
        });
    }
    for required in ["trans_num", "amt", "cc_num"] {
        if !frame.columns.iter().any(|c| c == required) {
            return Err(FrameError::NotAFrame {
                reason: format!("column `{required}` is missing"),
            });
        }
    }
    Ok(frame
        .data
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let line = frame
                .index
                .get(i)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(i as u64);
            parse_row(&frame.columns, row).map_err(|reason| Rejection {
                line,
                trans_num: frame
                    .columns
                    .iter()
                    .position(|c| c == "trans_num")
                    .and_then(|p| row.get(p))
                    .and_then(|v| v.as_str())
                    .filter(|t| t.len() <= 64)
                    .map(str::to_owned),
                reason,
                raw: serde_json::Value::Array(row.clone()).to_string(),
            })
        })
        .collect())
}

fn parse_row(columns: &[String], row: &[serde_json::Value]) -> Result<Transaction, String> {
    if row.len() != columns.len() {
        return Err(format!(
            "expected {} values, found {}",
            columns.len(),
            row.len()
        ));
    }
    let texts: Vec<Option<String>> = row.iter().map(json_scalar_text).collect();
    Transaction::from_fields(|name| {
        let i = columns.iter().position(|c| c == name)?;
        texts[i].as_deref()
    })
    .map_err(|e| e.to_string())
}

/// Columns the real API sends, in its order: the required Sparkov columns (`cc_num` …
/// `merch_long`), then the label `is_fraud`, then `current_time`.
pub fn api_columns() -> impl Iterator<Item = &'static str> {
    REQUIRED_COLUMNS
        .into_iter()
        .chain([LABEL_COLUMN, API_TIME_COLUMN])
}

/// The label column, which the real API sends just before `current_time`.
const LABEL_COLUMN: &str = "is_fraud";

/// Encodes transactions the way the real API does: a JSON string holding the split frame
/// with [`api_columns`] in their order and the types pandas writes (`is_fraud` 0/1, or
/// `null` for a transaction without a label). With `include_label` off the `is_fraud`
/// column is left out, for an unlabelled feed.
pub fn encode_body<'a>(
    txs: impl IntoIterator<Item = &'a Transaction>,
    first_index: u64,
    include_label: bool,
) -> Vec<u8> {
    let columns: Vec<String> = api_columns()
        .filter(|c| include_label || *c != LABEL_COLUMN)
        .map(str::to_owned)
        .collect();
    let mut index = Vec::new();
    let mut data = Vec::new();
    for (i, tx) in txs.into_iter().enumerate() {
        use serde_json::json;
        index.push(json!(first_index + i as u64));
        let mut row = vec![
            json!(tx.cc_num),
            json!(tx.merchant),
            json!(tx.category.as_str()),
            json!(tx.amt),
            json!(tx.first),
            json!(tx.last),
            json!(tx.gender.as_str()),
            json!(tx.street),
            json!(tx.city),
            json!(tx.state),
            // pandas holds ZIP codes as integers; keep text when that would drop a leading zero.
            match tx.zip.parse::<u64>() {
                Ok(z) if z.to_string() == tx.zip => json!(z),
                _ => json!(tx.zip),
            },
            json!(tx.lat),
            json!(tx.long),
            json!(tx.city_pop),
            json!(tx.job),
            json!(tx.dob.to_string()),
            json!(tx.trans_num),
            json!(tx.merch_lat),
            json!(tx.merch_long),
        ];
        if include_label {
            row.push(json!(tx.is_fraud.map(u8::from)));
        }
        row.push(json!(tx.event_time() * 1000));
        data.push(row);
    }
    let frame = SplitFrame {
        columns,
        index,
        data,
    };
    let inner = serde_json::to_string(&frame).expect("frames always serialize");
    serde_json::to_vec(&serde_json::Value::String(inner)).expect("strings always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body as the reference API sends it (pandas output, string-wrapped).
    const REFERENCE_BODY: &str = r#""{\"columns\":[\"cc_num\",\"merchant\",\"category\",\"amt\",\"first\",\"last\",\"gender\",\"street\",\"city\",\"state\",\"zip\",\"lat\",\"long\",\"city_pop\",\"job\",\"dob\",\"trans_num\",\"merch_lat\",\"merch_long\",\"current_time\"],\"index\":[1139],\"data\":[[4006047418382,\"fraud_Schmitt Inc\",\"gas_transport\",56.09,\"Robert\",\"Sanchez\",\"M\",\"7314 Johnson Square Apt. 296\",\"Parkers Lake\",\"KY\",42634,36.8347,-84.4436,1565,\"Designer, industrial\\/product\",\"1968-07-24\",\"8ede8dc6511d9b1f6eba6a226424f861\",35.945631,-83.733495,1546323240000]]}""#;

    #[test]
    fn parses_the_reference_api_body() {
        let rows = parse_body(REFERENCE_BODY.as_bytes()).unwrap();
        let tx = rows[0].as_ref().unwrap();
        assert_eq!(tx.cc_num, 4006047418382);
        assert_eq!(tx.job, "Designer, industrial/product");
        assert_eq!(tx.zip, "42634");
        assert_eq!(tx.trans_date_trans_time.to_string(), "2019-01-01 06:14:00");
    }

    #[test]
    fn encoded_body_parses_back() {
        let rows = parse_body(REFERENCE_BODY.as_bytes()).unwrap();
        let tx = rows[0].clone().unwrap();
        let body = encode_body([&tx], 7, false);
        let back = parse_body(&body).unwrap();
        assert_eq!(back[0].as_ref().unwrap(), &tx);
    }

    #[test]
    fn bad_row_is_rejected_with_its_index_and_the_rest_kept() {
        let rows = parse_body(REFERENCE_BODY.as_bytes()).unwrap();
        let mut good = rows[0].clone().unwrap();
        let mut bad = good.clone();
        bad.amt = -1.0;
        good.trans_num = "other".into();
        let body = encode_body([&bad, &good], 10, false);
        let rows = parse_body(&body).unwrap();
        let rejection = rows[0].as_ref().unwrap_err();
        assert_eq!(rejection.line, 10);
        assert_eq!(
            rejection.reason,
            "field `amt`: amount -1 is negative or not finite"
        );
        assert!(rows[1].is_ok());
    }

    #[test]
    fn truncated_or_wrong_bodies_are_clear_errors() {
        let cut = &REFERENCE_BODY[..REFERENCE_BODY.len() / 2];
        assert!(matches!(
            parse_body(cut.as_bytes()),
            Err(FrameError::NotJson { .. })
        ));
        let err = parse_body(br#"{"rows": []}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `columns`"), "{err}");
    }

    /// The real API's columns, in its order.
    const REAL_API_COLUMNS: [&str; 21] = [
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
        "merch_lat",
        "merch_long",
        "is_fraud",
        "current_time",
    ];

    fn encoded_frame(tx: &Transaction, include_label: bool) -> SplitFrame {
        let body = encode_body([tx], 3, include_label);
        let inner: String = serde_json::from_slice(&body).unwrap();
        serde_json::from_str(&inner).unwrap()
    }

    #[test]
    fn encoded_body_has_the_real_api_columns_with_the_label_before_current_time() {
        assert_eq!(api_columns().collect::<Vec<_>>(), REAL_API_COLUMNS);
        let mut tx = parse_body(REFERENCE_BODY.as_bytes()).unwrap()[0]
            .clone()
            .unwrap();
        tx.is_fraud = Some(true);
        let frame = encoded_frame(&tx, true);
        assert_eq!(frame.columns, REAL_API_COLUMNS);
        let row = &frame.data[0];
        assert_eq!(row[19], serde_json::json!(1), "is_fraud as an integer");
        assert_eq!(row[20], serde_json::json!(1546323240000u64), "current_time");
        assert_eq!(parse_body(&encode_body([&tx], 3, true)).unwrap()[0], Ok(tx));
    }

    #[test]
    fn unlabelled_body_leaves_only_is_fraud_out() {
        let mut tx = parse_body(REFERENCE_BODY.as_bytes()).unwrap()[0]
            .clone()
            .unwrap();
        tx.is_fraud = Some(false);
        let frame = encoded_frame(&tx, false);
        let expected: Vec<&str> = REAL_API_COLUMNS
            .into_iter()
            .filter(|c| *c != "is_fraud")
            .collect();
        assert_eq!(frame.columns, expected);
        assert_eq!(frame.data[0].len(), expected.len());
        assert_eq!(frame.data[0][19], serde_json::json!(1546323240000u64));
    }
}
