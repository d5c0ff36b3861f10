//! Labels in and live quality, the track use case's monitoring actions (issue 20).
//!
//! - `{"action": "labels", "labels": [{"trans_num", "is_fraud", "labelled_at"}, …],
//!   "source": "chargebacks"}`, or `{"action": "labels", "uri": "s3://bucket/key.csv"}`
//!   (a CSV with the header `trans_num,is_fraud,labelled_at`, in any order, other columns
//!   ignored): later truth. A malformed row (a missing field, a wrong type, a bad time, an
//!   empty `trans_num`) is refused by itself with its index (0-based, among the rows;
//!   a CSV row also gets its line), field and value; the others are recorded as
//!   `fraud_db::labels` documents (duplicates, conflicts, unknown payments).
//! - `{"action": "quality", "model_version", "since", "until"}` (RFC 3339 times, both
//!   optional): live quality of one model version over payments whose event time is in
//!   `[since, until)`, stored in `model_quality` (`fraud_db::quality`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::TrackError;
use crate::monitoring::{Label, LabelConflict, ModelQuality};
use crate::ports::{split_s3_uri, ObjectSource, TrackingStore};

/// Where a labels batch comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelsInput {
    /// Rows in the event itself.
    Inline(Vec<Value>),
    /// A CSV in S3 (`s3://bucket/key`).
    Csv(String),
}

/// `{"action": "labels", …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelsRequest {
    pub input: LabelsInput,
    /// `source`, or `invoke` for inline rows and the URI for a CSV.
    pub source: String,
}

/// `{"action": "quality", …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityRequest {
    pub model_version: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

fn bad<E>(reason: impl Into<String>) -> TrackError<E> {
    TrackError::BadEvent(reason.into())
}

impl LabelsRequest {
    pub fn from_event(event: Value) -> Result<LabelsRequest, TrackError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Event {
            #[allow(dead_code)]
            action: String,
            labels: Option<Value>,
            uri: Option<String>,
            source: Option<String>,
        }
        let event: Event = serde_json::from_value(event).map_err(|e| bad(e.to_string()))?;
        let input = match (event.labels, event.uri) {
            (Some(Value::Array(rows)), None) => LabelsInput::Inline(rows),
            (Some(other), None) => {
                return Err(bad(format!(
                    "field `labels` must be an array of {{\"trans_num\", \"is_fraud\", \"labelled_at\"}}, got {other}"
                )))
            }
            (None, Some(uri)) if split_s3_uri(&uri).is_some() => LabelsInput::Csv(uri),
            (None, Some(uri)) => {
                return Err(bad(format!("field `uri` is not s3://bucket/key: `{uri}`")))
            }
            _ => {
                return Err(bad(
                    "{\"action\": \"labels\"} takes exactly one of `labels` (an array) and `uri` (s3://…)",
                ))
            }
        };
        let source = match event.source {
            Some(s) if s.trim().is_empty() => return Err(bad("field `source` is empty")),
            Some(s) => s.trim().to_owned(),
            None => match &input {
                LabelsInput::Inline(_) => "invoke".to_owned(),
                LabelsInput::Csv(uri) => uri.to_string(),
            },
        };
        Ok(LabelsRequest { input, source })
    }
}

impl QualityRequest {
    pub fn from_event(event: Value) -> Result<QualityRequest, TrackError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Event {
            #[allow(dead_code)]
            action: String,
            model_version: Option<String>,
            since: Option<String>,
            until: Option<String>,
        }
        let event: Event = serde_json::from_value(event).map_err(|e| bad(e.to_string()))?;
        let model_version = match event.model_version {
            Some(v) if !v.trim().is_empty() => v.trim().to_owned(),
            Some(_) => return Err(bad("field `model_version` is empty")),
            None => return Err(bad("{\"action\": \"quality\"} needs `model_version`")),
        };
        let since = event_time("since", event.since)?;
        let until = event_time("until", event.until)?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(bad(format!(
                    "`since` ({}) must be before `until` ({})",
                    s.to_rfc3339(),
                    u.to_rfc3339()
                )));
            }
        }
        Ok(QualityRequest {
            model_version,
            since,
            until,
        })
    }
}

/// An RFC 3339 time (`2026-12-01T10:00:00Z`, `…+02:00`), as UTC.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z): {e}"))
}

/// An event's optional time `field` (RFC 3339), or a bad event naming the field.
pub fn event_time<E>(
    field: &str,
    value: Option<String>,
) -> Result<Option<DateTime<Utc>>, TrackError<E>> {
    value
        .map(|v| parse_time(&v).map_err(|reason| bad(format!("field `{field}`: {reason}"))))
        .transpose()
}

/// A row refused before it reached the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MalformedLabel {
    /// 0-based position among the batch's rows.
    pub index: usize,
    /// Line in the CSV (the header is line 1), for a CSV batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub field: String,
    /// The value as sent (null when the field is missing).
    pub value: Value,
    pub reason: String,
}

/// Counts of a labels batch; `received` is the sum of the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    pub received: u64,
    pub recorded: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    pub unknown: u64,
    pub malformed: u64,
}

/// The answer to `{"action": "labels"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsAnswer {
    pub source: String,
    pub counts: LabelCounts,
    /// Refused: the payment already has the other label (the kept one stays).
    pub conflicts: Vec<LabelConflict>,
    /// Refused: never scored.
    pub unknown: Vec<String>,
    /// Refused: not a label.
    pub malformed: Vec<MalformedLabel>,
}

/// Reads one inline row; `Err` names the first bad field.
fn label_from_json(index: usize, row: &Value) -> Result<Label, MalformedLabel> {
    let refuse = |field: &str, value: Option<&Value>, reason: String| MalformedLabel {
        index,
        line: None,
        field: field.to_owned(),
        value: value.cloned().unwrap_or(Value::Null),
        reason,
    };
    let Some(object) = row.as_object() else {
        return Err(refuse(
            "row",
            Some(row),
            "a label is an object {\"trans_num\", \"is_fraud\", \"labelled_at\"}".into(),
        ));
    };
    let field = |name: &str| match object.get(name) {
        None | Some(Value::Null) => Err(refuse(name, None, format!("field `{name}` is missing"))),
        Some(v) => Ok(v),
    };
    let trans_num = match field("trans_num")? {
        Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
        v @ Value::String(_) => {
            return Err(refuse("trans_num", Some(v), "`trans_num` is empty".into()))
        }
        v => {
            return Err(refuse(
                "trans_num",
                Some(v),
                "`trans_num` must be a string".into(),
            ))
        }
    };
    let is_fraud = match field("is_fraud")? {
        Value::Bool(b) => *b,
        Value::Number(n) if n.as_u64() == Some(1) => true,
        Value::Number(n) if n.as_u64() == Some(0) => false,
        v => {
            return Err(refuse(
                "is_fraud",
                Some(v),
                "`is_fraud` must be true, false, 1 or 0".into(),
            ))
        }
    };
    let labelled_at = match field("labelled_at")? {
        Value::String(s) => {
            parse_time(s).map_err(|reason| refuse("labelled_at", Some(&json_str(s)), reason))?
        }
        v => {
            return Err(refuse(
                "labelled_at",
                Some(v),
                "`labelled_at` must be an RFC 3339 time string".into(),
            ))
        }
    };
    Ok(Label {
        trans_num,
        is_fraud,
        labelled_at,
    })
}

fn json_str(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// Reads a labels CSV: every row a label or a malformed entry (with its line).
pub fn labels_from_csv(bytes: &[u8]) -> Result<(Vec<Label>, Vec<MalformedLabel>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("the CSV has no `{name}` column (header: {headers:?}); expected trans_num,is_fraud,labelled_at"))
    };
    let (t, f, l) = (
        column("trans_num")?,
        column("is_fraud")?,
        column("labelled_at")?,
    );
    let (mut labels, mut malformed) = (Vec::new(), Vec::new());
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                malformed.push(MalformedLabel {
                    index,
                    line: Some(e.position().map_or(line, |p| p.line())),
                    field: "row".into(),
                    value: Value::Null,
                    reason: format!("not a CSV row: {e}"),
                });
                continue;
            }
        };
        let refuse = |field: &str, value: Option<&str>, reason: String| MalformedLabel {
            index,
            line: Some(line),
            field: field.to_owned(),
            value: value.map_or(Value::Null, json_str),
            reason,
        };
        let get = |i: usize, name: &str| match record.get(i) {
            None => Err(refuse(name, None, format!("field `{name}` is missing"))),
            Some("") => Err(refuse(name, Some(""), format!("field `{name}` is empty"))),
            Some(v) => Ok(v),
        };
        let row = (|| {
            let trans_num = get(t, "trans_num")?.to_owned();
            let is_fraud = match get(f, "is_fraud")? {
                "1" | "true" | "TRUE" | "True" => true,
                "0" | "false" | "FALSE" | "False" => false,
                v => {
                    return Err(refuse(
                        "is_fraud",
                        Some(v),
                        "`is_fraud` must be 0, 1, true or false".into(),
                    ))
                }
            };
            let at = get(l, "labelled_at")?;
            let labelled_at =
                parse_time(at).map_err(|reason| refuse("labelled_at", Some(at), reason))?;
            Ok(Label {
                trans_num,
                is_fraud,
                labelled_at,
            })
        })();
        match row {
            Ok(label) => labels.push(label),
            Err(m) => malformed.push(m),
        }
    }
    Ok((labels, malformed))
}

/// Records a labels batch (rows read, malformed ones refused, the rest to the store).
pub async fn record<S: TrackingStore, O: ObjectSource>(
    store: &S,
    request: LabelsRequest,
    objects: Option<&O>,
) -> Result<LabelsAnswer, TrackError<S::Error>> {
    let (labels, malformed, received) = match &request.input {
        LabelsInput::Inline(rows) => {
            let (mut labels, mut malformed) = (Vec::new(), Vec::new());
            for (index, row) in rows.iter().enumerate() {
                match label_from_json(index, row) {
                    Ok(label) => labels.push(label),
                    Err(m) => malformed.push(m),
                }
            }
            (labels, malformed, rows.len())
        }
        LabelsInput::Csv(uri) => {
            let objects = objects.ok_or_else(|| bad("labels from S3 need an S3 client"))?;
            let bytes = objects
                .read(uri)
                .await
                .map_err(|e| TrackError::Source(e.to_string()))?
                .ok_or_else(|| bad(format!("`{uri}` does not exist")))?;
            let (labels, malformed) =
                labels_from_csv(&bytes).map_err(|reason| bad(format!("`{uri}`: {reason}")))?;
            let received = labels.len() + malformed.len();
            (labels, malformed, received)
        }
    };
    let report = store
        .record_labels(&labels, &request.source)
        .await
        .map_err(TrackError::Store)?;
    let counts = LabelCounts {
        received: received as u64,
        recorded: report.recorded,
        duplicates: report.duplicates,
        conflicts: report.conflicts.len() as u64,
        unknown: report.unknown.len() as u64,
        malformed: malformed.len() as u64,
    };
    tracing::info!(source = %request.source, ?counts, "labels recorded");
    Ok(LabelsAnswer {
        source: request.source,
        counts,
        conflicts: report.conflicts,
        unknown: report.unknown,
        malformed,
    })
}

/// Computes and stores one window's live quality.
pub async fn quality<S: TrackingStore>(
    store: &S,
    request: QualityRequest,
) -> Result<ModelQuality, TrackError<S::Error>> {
    let quality = store
        .quality(&request.model_version, request.since, request.until)
        .await
        .map_err(TrackError::Store)?;
    tracing::info!(
        model_version = %quality.model_version,
        volume = quality.volume,
        labelled = quality.labelled,
        pr_auc = ?quality.pr_auc,
        "live quality computed"
    );
    Ok(quality)
}
