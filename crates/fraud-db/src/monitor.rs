//! The monitor's reads and writes: which model versions scored payments in a window,
//! each payment's score and label for that window, and the window's drift figures and
//! verdict (`model_monitor`, one row per model version and window, replaced when
//! recomputed). The counts and label-based figures of the same window are
//! [`crate::QualityStore`]'s (`model_quality`); the monitor computes both.
//!
//! The ledger keeps no feature values (the score function writes what it must to stay
//! idempotent, no more), so the monitor recomputes features from the window's payments
//! and joins them here by `trans_num` (see `fraud_pipeline::track::monitor`).

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use crate::DbError;

pub use fraud_pipeline::monitoring::{MonitorPoint, MonitorWindow, WindowScore};

/// The monitor's tables, over a connection or a transaction.
pub struct MonitorStore<'a, C: GenericClient> {
    client: &'a C,
}

const WINDOW: &str = "($2::timestamptz IS NULL OR s.event_time >= $2)
                      AND ($3::timestamptz IS NULL OR s.event_time < $3)";

impl<'a, C: GenericClient> MonitorStore<'a, C> {
    pub fn new(client: &'a C) -> Self {
        MonitorStore { client }
    }

    /// The model versions that scored payments in the window, oldest version first.
    pub async fn versions(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>, DbError> {
        let rows = self
            .client
            .query_typed(
                "SELECT DISTINCT s.model_version FROM scored_transactions s
                 WHERE ($1::timestamptz IS NULL OR s.event_time >= $1)
                   AND ($2::timestamptz IS NULL OR s.event_time < $2)
                 ORDER BY 1",
                &[(&since, Type::TIMESTAMPTZ), (&until, Type::TIMESTAMPTZ)],
            )
            .await
            .map_err(DbError::query("list the window's model versions"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Every payment `model_version` scored in the window, with its label if any.
    pub async fn scores(
        &self,
        model_version: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<WindowScore>, DbError> {
        let rows = self
            .client
            .query_typed(
                &format!(
                    "SELECT s.trans_num, s.probability, coalesce(l.is_fraud, s.is_fraud)
                     FROM scored_transactions s LEFT JOIN labels l USING (trans_num)
                     WHERE s.model_version = $1 AND {WINDOW}"
                ),
                &[
                    (&model_version, Type::TEXT),
                    (&since, Type::TIMESTAMPTZ),
                    (&until, Type::TIMESTAMPTZ),
                ],
            )
            .await
            .map_err(DbError::query("read a monitor window's scores"))?;
        Ok(rows
            .iter()
            .map(|r| WindowScore {
                trans_num: r.get(0),
                probability: r.get(1),
                is_fraud: r.get(2),
            })
            .collect())
    }

    /// Stores (or replaces) one window's figures.
    pub async fn store(&self, w: &MonitorWindow) -> Result<(), DbError> {
        let volume = i64::try_from(w.volume).unwrap_or(i64::MAX);
        let feature_rows = w
            .drift
            .as_ref()
            .map_or(0, |d| i64::try_from(d.feature_rows).unwrap_or(i64::MAX));
        let score_psi = w.drift.as_ref().and_then(|d| d.score_psi);
        let max_feature = w.drift.as_ref().and_then(|d| {
            d.features
                .iter()
                .max_by(|a, b| a.psi.total_cmp(&b.psi))
                .cloned()
        });
        let max_feature_psi = max_feature.as_ref().map(|f| f.psi);
        let max_feature = max_feature.map(|f| f.feature);
        let feature_psi = json(&w.drift.as_ref().map(|d| &d.features));
        let histogram = json(&w.drift.as_ref().map(|d| {
            serde_json::json!({
                "bins": d.score_bins,
                "training": d.score_training_shares,
                "live": d.score_live_shares,
            })
        }));
        let cost = json(&w.cost);
        let findings = json(&w.verdict.findings);
        let not_judged = json(&w.verdict.not_judged);
        self.client
            .execute_typed(
                "INSERT INTO model_monitor
                     (model_version, window_since, window_until, computed_at, volume,
                      feature_rows, score_psi, max_feature_psi, max_feature, feature_psi,
                      score_histogram, cost, alert, findings, not_judged, report_uri)
                 VALUES ($1, coalesce($2, '-infinity'::timestamptz),
                         coalesce($3, 'infinity'::timestamptz), $4, $5, $6, $7, $8, $9,
                         coalesce($10::text::jsonb, '[]'), coalesce($11::text::jsonb, '{}'),
                         $12::text::jsonb, $13, $14::text::jsonb, $15::text::jsonb, $16)
                 ON CONFLICT (model_version, window_since, window_until) DO UPDATE SET
                     computed_at = EXCLUDED.computed_at, volume = EXCLUDED.volume,
                     feature_rows = EXCLUDED.feature_rows, score_psi = EXCLUDED.score_psi,
                     max_feature_psi = EXCLUDED.max_feature_psi,
                     max_feature = EXCLUDED.max_feature, feature_psi = EXCLUDED.feature_psi,
                     score_histogram = EXCLUDED.score_histogram, cost = EXCLUDED.cost,
                     alert = EXCLUDED.alert, findings = EXCLUDED.findings,
                     not_judged = EXCLUDED.not_judged, report_uri = EXCLUDED.report_uri",
                &[
                    (&w.model_version, Type::TEXT),
                    (&w.since, Type::TIMESTAMPTZ),
                    (&w.until, Type::TIMESTAMPTZ),
                    (&w.computed_at.trunc_subsecs(6), Type::TIMESTAMPTZ),
                    (&volume, Type::INT8),
                    (&feature_rows, Type::INT8),
                    (&score_psi, Type::FLOAT8),
                    (&max_feature_psi, Type::FLOAT8),
                    (&max_feature, Type::TEXT),
                    (&feature_psi, Type::TEXT),
                    (&histogram, Type::TEXT),
                    (&cost, Type::TEXT),
                    (&w.verdict.alert, Type::BOOL),
                    (&findings, Type::TEXT),
                    (&not_judged, Type::TEXT),
                    (&w.report_uri, Type::TEXT),
                ],
            )
            .await
            .map_err(DbError::query("store model_monitor"))?;
        Ok(())
    }

    /// The stored windows of `model_version` as (since, until, alert, score PSI, largest
    /// feature PSI), most recently computed first.
    #[allow(clippy::type_complexity)]
    pub async fn stored(
        &self,
        model_version: &str,
    ) -> Result<
        Vec<(
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            bool,
            Option<f64>,
            Option<f64>,
        )>,
        DbError,
    > {
        let rows = self
            .client
            .query_typed(
                "SELECT CASE WHEN isfinite(window_since) THEN window_since END,
                        CASE WHEN isfinite(window_until) THEN window_until END,
                        alert, score_psi, max_feature_psi
                 FROM model_monitor WHERE model_version = $1
                 ORDER BY computed_at DESC, window_since, window_until",
                &[(&model_version, Type::TEXT)],
            )
            .await
            .map_err(DbError::query("read model_monitor"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect())
    }

    /// The `limit` windows of `model_version` that end last (an open-ended window ends
    /// when it was computed), newest first, each with the live quality stored under the
    /// same key (`model_quality`; absent figures are `None`): the report's live metrics
    /// over time.
    pub async fn history(
        &self,
        model_version: &str,
        limit: usize,
    ) -> Result<Vec<MonitorPoint>, DbError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query_typed(
                "SELECT CASE WHEN isfinite(m.window_since) THEN m.window_since END,
                        CASE WHEN isfinite(m.window_until) THEN m.window_until END,
                        m.computed_at, m.volume, m.score_psi, m.max_feature_psi,
                        q.pr_auc, q.alert_rate, m.alert
                 FROM model_monitor m
                 LEFT JOIN model_quality q USING (model_version, window_since, window_until)
                 WHERE m.model_version = $1
                 ORDER BY CASE WHEN isfinite(m.window_until) THEN m.window_until
                               ELSE m.computed_at END DESC,
                          m.window_since DESC
                 LIMIT $2",
                &[(&model_version, Type::TEXT), (&limit, Type::INT8)],
            )
            .await
            .map_err(DbError::query("read the monitor's history"))?;
        Ok(rows
            .iter()
            .map(|r| MonitorPoint {
                since: r.get(0),
                until: r.get(1),
                computed_at: r.get(2),
                volume: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
                score_psi: r.get(4),
                max_feature_psi: r.get(5),
                pr_auc: r.get(6),
                alert_rate: r.get(7),
                alert: r.get(8),
            })
            .collect())
    }
}

/// JSON text of anything serializable (`null` → `None`, stored as SQL NULL).
fn json<T: Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v).expect("monitor figures serialize") {
        serde_json::Value::Null => None,
        v => Some(v.to_string()),
    }
}
