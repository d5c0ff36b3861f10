//! Recording a run, the track use case: the training-run log's requests (record a run,
//! list, get, best) and the monitoring ones (later labels, live quality, [`labels`]),
//! read from the invocation event, answered from the [`TrackingStore`].
//!
//! The train function sends `{"run": <TrainingRun>}` after every training, and the run is
//! recorded idempotently (retries and re-sent events report `"duplicate": true` instead of
//! adding a row), then mirrored ([`RunMirror`], best effort). Reads, for `fraudctl`,
//! Airflow and humans: `{"action": "list", "limit": N}` returns the newest runs;
//! `{"action": "get", "run_id": ...}` (or `"model_version"`) one run;
//! `{"action": "best", "metric": "pr_auc"|"roc_auc"|"f1", "promoted_only": bool}` the run
//! with the highest test-slice metric (default `pr_auc`, all runs). Monitoring:
//! `{"action": "labels", …}` records later labels and `{"action": "quality", …}` computes a
//! model version's live quality; `{"action": "monitor", …}` ([`monitor`], dispatched by the
//! track function with its settings and adapters) watches the served models, and
//! `{"action": "training_data", …}` ([`training_data`], dispatched the same way) joins
//! the archived payments with their labels into training data.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub mod error;
pub mod labels;
pub mod monitor;
pub mod payments;
pub mod training_data;

pub use error::TrackError;

use crate::monitoring::ModelQuality;
use crate::ports::{Mirrored, ObjectSource, Recorded, RunMirror, TrackingStore};
use crate::{RunMetric, TrainingRun};
use labels::{LabelsAnswer, LabelsRequest, QualityRequest};

/// Runs listed when a list request gives no `limit`.
pub const DEFAULT_LIST_LIMIT: u32 = 20;
/// Most runs one list request may return.
pub const MAX_LIST_LIMIT: u32 = 500;

/// What the function was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackRequest {
    /// `{"run": <TrainingRun>}`: record a training run.
    Record(Box<TrainingRun>),
    /// `{"action": "list", "limit": N}`: the `limit` newest runs.
    List { limit: u32 },
    /// `{"action": "get", "run_id": ...}`: one run by id.
    GetById(Uuid),
    /// `{"action": "get", "model_version": ...}`: one run by model version.
    GetByVersion(String),
    /// `{"action": "best", "metric": ..., "promoted_only": ...}`: the best run.
    Best {
        metric: RunMetric,
        promoted_only: bool,
    },
    /// `{"action": "labels", …}`: record later labels.
    Labels(LabelsRequest),
    /// `{"action": "quality", …}`: a model version's live quality over a window.
    Quality(QualityRequest),
}

impl TrackRequest {
    /// Reads an invocation event. Errors name the offending field.
    pub fn from_event(event: Value) -> Result<TrackRequest, TrackError> {
        match event.get("action").and_then(Value::as_str) {
            Some("labels") => return LabelsRequest::from_event(event).map(TrackRequest::Labels),
            Some("quality") => return QualityRequest::from_event(event).map(TrackRequest::Quality),
            _ => {}
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Event {
            run: Option<Value>,
            action: Option<String>,
            limit: Option<Value>,
            run_id: Option<String>,
            model_version: Option<String>,
            metric: Option<String>,
            promoted_only: Option<bool>,
        }
        let bad = |reason: String| TrackError::BadEvent(reason);
        let event: Event = serde_json::from_value(event).map_err(|e| bad(e.to_string()))?;
        let action = event.action.as_deref();
        let only_for = |field: &str, present: bool, allowed: &str| {
            if present && action != Some(allowed) {
                Err(bad(format!(
                    "`{field}` applies to {{\"action\": \"{allowed}\"}} only"
                )))
            } else {
                Ok(())
            }
        };
        only_for("run_id", event.run_id.is_some(), "get")?;
        only_for("model_version", event.model_version.is_some(), "get")?;
        only_for("metric", event.metric.is_some(), "best")?;
        only_for("promoted_only", event.promoted_only.is_some(), "best")?;
        match (event.run, action) {
            (Some(run), None | Some("record")) => {
                if event.limit.is_some() {
                    return Err(bad("`limit` applies to {\"action\": \"list\"} only".into()));
                }
                let run: TrainingRun =
                    serde_json::from_value(run).map_err(|e| bad(format!("field `run`: {e}")))?;
                Ok(TrackRequest::Record(Box::new(run)))
            }
            (None, Some("list")) => {
                let limit = match event.limit {
                    None => DEFAULT_LIST_LIMIT,
                    Some(value) => value
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
                        .ok_or_else(|| {
                            bad(format!(
                                "field `limit` must be a whole number from 1 to {MAX_LIST_LIMIT}, got {value}"
                            ))
                        })?,
                };
                Ok(TrackRequest::List { limit })
            }
            (None, Some("get")) => match (event.run_id, event.model_version) {
                (Some(id), None) => Uuid::parse_str(&id)
                    .map(TrackRequest::GetById)
                    .map_err(|e| bad(format!("field `run_id` is not a UUID (`{id}`): {e}"))),
                (None, Some(version)) if !version.trim().is_empty() => {
                    Ok(TrackRequest::GetByVersion(version))
                }
                (None, Some(_)) => Err(bad("field `model_version` is empty".into())),
                _ => Err(bad(
                    "{\"action\": \"get\"} takes exactly one of `run_id` and `model_version`".into(),
                )),
            },
            (None, Some("best")) => Ok(TrackRequest::Best {
                metric: event
                    .metric
                    .as_deref()
                    .unwrap_or("pr_auc")
                    .parse()
                    .map_err(|e: String| bad(format!("field `metric`: {e}")))?,
                promoted_only: event.promoted_only.unwrap_or(false),
            }),
            (Some(_), Some(action)) => Err(bad(format!(
                "`run` goes with no action (or \"record\"), not with action `{action}`"
            ))),
            (None, Some(action)) => Err(bad(format!(
                "unknown action `{action}`: expected \"list\", \"get\", \"best\", \"labels\", \"quality\", \"monitor\" or \"training_data\" (or send {{\"run\": ...}} to record)"
            ))),
            (None, None) => Err(bad(
                "expected {\"run\": <training run>} or {\"action\": \"list\", \"limit\": N}".into(),
            )),
        }
    }
}

/// The function's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrackResponse {
    /// `{"run_id", "model_version", "recorded": true, "duplicate"}`.
    Recorded {
        run_id: Uuid,
        model_version: String,
        /// Always true: the run is in the log when this is returned.
        recorded: bool,
        /// True when the run was already recorded (a retry or a re-sent event).
        duplicate: bool,
        /// With an MLflow mirror: `created <mlflow run id>`, `existing <id>` or
        /// `failed: <reason>` (the run is recorded in PostgreSQL either way).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mlflow: Option<String>,
    },
    /// `{"runs": [...]}`, newest first.
    Runs { runs: Vec<TrainingRun> },
    /// The answer to `labels`: counts and the refused rows.
    Labels(LabelsAnswer),
    /// The answer to `quality`: the window's figures.
    Quality(Box<ModelQuality>),
    /// `{"run": <run> | null}`: the answer to `get` and `best` (`null`: no such run).
    Run { run: Option<Box<TrainingRun>> },
}

/// Handles one invocation event against the run log in `store`, mirroring recorded runs
/// through `mirror` and reading label CSVs through `objects` when given.
pub async fn handle<S, M, O>(
    store: &S,
    event: Value,
    mirror: Option<&M>,
    objects: Option<&O>,
) -> Result<TrackResponse, TrackError<S::Error>>
where
    S: TrackingStore,
    M: RunMirror,
    O: ObjectSource,
{
    match TrackRequest::from_event(event).map_err(TrackError::widen)? {
        TrackRequest::Labels(request) => labels::record(store, request, objects)
            .await
            .map(TrackResponse::Labels),
        TrackRequest::Quality(request) => labels::quality(store, request)
            .await
            .map(|q| TrackResponse::Quality(Box::new(q))),
        TrackRequest::Record(run) => {
            let outcome = store.record_run(&run).await.map_err(TrackError::Store)?;
            let duplicate = outcome == Recorded::Duplicate;
            tracing::info!(
                run_id = %run.run_id,
                model_version = %run.model_version,
                promoted = run.promoted,
                duplicate,
                "training run recorded"
            );
            let mlflow = match mirror {
                None => None,
                Some(mirror) => Some(match mirror.mirror(&run).await {
                    Ok(Mirrored::Created(id)) => format!("created {id}"),
                    Ok(Mirrored::Existing(id)) => format!("existing {id}"),
                    Err(e) => {
                        tracing::warn!(run_id = %run.run_id, error = %e, "run recorded, MLflow mirror failed; a retry of this event mirrors it");
                        format!("failed: {e}")
                    }
                }),
            };
            Ok(TrackResponse::Recorded {
                run_id: run.run_id,
                model_version: run.model_version,
                recorded: true,
                duplicate,
                mlflow,
            })
        }
        TrackRequest::List { limit } => {
            let runs = store.list_runs(limit).await.map_err(TrackError::Store)?;
            tracing::info!(limit, returned = runs.len(), "training runs listed");
            Ok(TrackResponse::Runs { runs })
        }
        TrackRequest::GetById(run_id) => Ok(TrackResponse::Run {
            run: store
                .run_by_id(run_id)
                .await
                .map_err(TrackError::Store)?
                .map(Box::new),
        }),
        TrackRequest::GetByVersion(version) => Ok(TrackResponse::Run {
            run: store
                .run_by_version(&version)
                .await
                .map_err(TrackError::Store)?
                .map(Box::new),
        }),
        TrackRequest::Best {
            metric,
            promoted_only,
        } => {
            let run = store
                .best_run(metric, promoted_only)
                .await
                .map_err(TrackError::Store)?;
            tracing::info!(
                ?metric,
                promoted_only,
                found = run.is_some(),
                "best run read"
            );
            Ok(TrackResponse::Run {
                run: run.map(Box::new),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_without_limit_uses_the_default() {
        assert_eq!(
            TrackRequest::from_event(json!({"action": "list"})).unwrap(),
            TrackRequest::List {
                limit: DEFAULT_LIST_LIMIT
            }
        );
        assert_eq!(
            TrackRequest::from_event(json!({"action": "list", "limit": 3})).unwrap(),
            TrackRequest::List { limit: 3 }
        );
    }

    #[test]
    fn rejects_out_of_range_limit() {
        for limit in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("10"),
            json!(MAX_LIST_LIMIT + 1),
        ] {
            let err = TrackRequest::from_event(json!({"action": "list", "limit": limit}))
                .unwrap_err()
                .to_string();
            assert!(err.contains("field `limit`"), "{err}");
        }
    }

    #[test]
    fn rejects_unknown_actions_and_fields() {
        let err = TrackRequest::from_event(json!({"action": "delete"})).unwrap_err();
        assert!(err.to_string().contains("unknown action `delete`"), "{err}");
        let err = TrackRequest::from_event(json!({"action": "list", "lmit": 3})).unwrap_err();
        assert!(err.to_string().contains("unknown field `lmit`"), "{err}");
        let err = TrackRequest::from_event(json!({})).unwrap_err();
        assert!(err.to_string().contains("expected {\"run\""), "{err}");
        let err = TrackRequest::from_event(json!([1, 2])).unwrap_err();
        assert!(matches!(err, TrackError::BadEvent(_)), "{err}");
    }

    #[test]
    fn run_missing_a_field_names_it() {
        let err = TrackRequest::from_event(json!({"run": {"model_version": "v1"}})).unwrap_err();
        assert!(
            err.to_string().contains("field `run`: missing field"),
            "{err}"
        );
    }

    #[test]
    fn recorded_response_has_the_documented_shape() {
        let response = TrackResponse::Recorded {
            run_id: Uuid::nil(),
            model_version: "v1".into(),
            recorded: true,
            duplicate: false,
            mlflow: None,
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({
                "run_id": "00000000-0000-0000-0000-000000000000",
                "model_version": "v1",
                "recorded": true,
                "duplicate": false
            })
        );
    }
}
