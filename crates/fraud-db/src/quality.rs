//! Live quality: how a model version does on the payments it scored, against the
//! labels that arrived for them.
//!
//! For one model version and a window of event times (`since` inclusive, `until`
//! exclusive, either open), [`QualityStore::compute`] reads the ledger joined with the
//! later labels and computes:
//!
//! - `volume`: payments scored; `alerts` / `alert_rate`: outcome review or block (rows
//!   from before outcomes were kept fall back to the model's decision, approve or
//!   block); `blocks` / `block_rate`: outcome block;
//! - `labelled`: payments with a label (the later label if any, else the one the payments
//!   API carried), `frauds`: of those, labelled fraud;
//! - over the labelled payments: `pr_auc` (average precision of the probabilities),
//!   and `precision`, `recall` and `f1` of the alert as the fraud prediction.
//!
//! A figure that is undefined is `None` (null in JSON and SQL): the rates with no volume,
//! `pr_auc`, `recall` and `f1` with no labelled fraud, `precision` with no labelled
//! alert. Each computed window is stored in `model_quality`, replacing an earlier
//! computation of the same (model version, since, until).
//!
//! Counts come from one aggregate query; only the labelled rows' probability, alert
//! and label cross the wire.

use chrono::{DateTime, SubsecRound, Utc};
use fraud_core::metrics::{average_precision, Confusion};
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use crate::DbError;

pub use fraud_pipeline::monitoring::ModelQuality;

/// The outcome as kept, or the decision for rows from before outcomes were.
const OUTCOME: &str = "coalesce(s.outcome, s.decision)";

/// Live quality, over a connection or a transaction.
pub struct QualityStore<'a, C: GenericClient> {
    client: &'a C,
}

impl<'a, C: GenericClient> QualityStore<'a, C> {
    pub fn new(client: &'a C) -> Self {
        QualityStore { client }
    }

    /// Computes the window's figures (see the module doc) and stores them.
    pub async fn compute(
        &self,
        model_version: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<ModelQuality, DbError> {
        let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] = [
            (&model_version, Type::TEXT),
            (&since, Type::TIMESTAMPTZ),
            (&until, Type::TIMESTAMPTZ),
        ];
        let window = "s.model_version = $1
                      AND ($2::timestamptz IS NULL OR s.event_time >= $2)
                      AND ($3::timestamptz IS NULL OR s.event_time < $3)";
        let counts = self
            .client
            .query_typed(
                &format!(
                    "SELECT count(*),
                            count(*) FILTER (WHERE {OUTCOME} IN ('review', 'block')),
                            count(*) FILTER (WHERE {OUTCOME} = 'block')
                     FROM scored_transactions s WHERE {window}"
                ),
                &params,
            )
            .await
            .map_err(DbError::query("count a quality window"))?;
        let count = |i: usize| counts[0].get::<_, i64>(i).unsigned_abs();
        let (volume, alerts, blocks) = (count(0), count(1), count(2));

        let labelled_rows = self
            .client
            .query_typed(
                &format!(
                    "SELECT s.probability, {OUTCOME} IN ('review', 'block'),
                            coalesce(l.is_fraud, s.is_fraud)
                     FROM scored_transactions s LEFT JOIN labels l USING (trans_num)
                     WHERE {window} AND coalesce(l.is_fraud, s.is_fraud) IS NOT NULL"
                ),
                &params,
            )
            .await
            .map_err(DbError::query("read a quality window's labels"))?;
        let mut scores = Vec::with_capacity(labelled_rows.len());
        let mut alerted = Vec::with_capacity(labelled_rows.len());
        let mut truth = Vec::with_capacity(labelled_rows.len());
        for row in &labelled_rows {
            scores.push(row.get::<_, f64>(0));
            alerted.push(if row.get::<_, bool>(1) { 1.0 } else { 0.0 });
            truth.push(row.get::<_, bool>(2));
        }
        let frauds = truth.iter().filter(|&&y| y).count() as u64;
        let confusion = Confusion::at(&truth, &alerted, 0.5);
        let rate = |n: u64| (volume > 0).then(|| n as f64 / volume as f64);
        let with_frauds = |x: f64| (frauds > 0).then_some(x);
        let quality = ModelQuality {
            model_version: model_version.to_owned(),
            since,
            until,
            // PostgreSQL keeps microseconds: what is returned is what is stored.
            computed_at: Utc::now().trunc_subsecs(6),
            volume,
            labelled: truth.len() as u64,
            frauds,
            alerts,
            blocks,
            alert_rate: rate(alerts),
            block_rate: rate(blocks),
            pr_auc: with_frauds(average_precision(&truth, &scores)),
            precision: (confusion.tp + confusion.fp > 0).then(|| confusion.precision()),
            recall: with_frauds(confusion.recall()),
            f1: with_frauds(confusion.f1()),
        };
        self.store(&quality).await?;
        Ok(quality)
    }

    /// Stores (or replaces) one window's figures.
    async fn store(&self, q: &ModelQuality) -> Result<(), DbError> {
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (volume, labelled, frauds, alerts, blocks) = (
            as_i64(q.volume),
            as_i64(q.labelled),
            as_i64(q.frauds),
            as_i64(q.alerts),
            as_i64(q.blocks),
        );
        self.client
            .execute_typed(
                "INSERT INTO model_quality
                     (model_version, window_since, window_until, computed_at, volume, labelled,
                      frauds, alerts, blocks, alert_rate, block_rate, pr_auc, alert_precision,
                      alert_recall, alert_f1)
                 VALUES ($1, coalesce($2, '-infinity'::timestamptz),
                         coalesce($3, 'infinity'::timestamptz), $4, $5, $6, $7, $8, $9, $10,
                         $11, $12, $13, $14, $15)
                 ON CONFLICT (model_version, window_since, window_until) DO UPDATE SET
                     computed_at = EXCLUDED.computed_at, volume = EXCLUDED.volume,
                     labelled = EXCLUDED.labelled, frauds = EXCLUDED.frauds,
                     alerts = EXCLUDED.alerts, blocks = EXCLUDED.blocks,
                     alert_rate = EXCLUDED.alert_rate, block_rate = EXCLUDED.block_rate,
                     pr_auc = EXCLUDED.pr_auc, alert_precision = EXCLUDED.alert_precision,
                     alert_recall = EXCLUDED.alert_recall, alert_f1 = EXCLUDED.alert_f1",
                &[
                    (&q.model_version, Type::TEXT),
                    (&q.since, Type::TIMESTAMPTZ),
                    (&q.until, Type::TIMESTAMPTZ),
                    (&q.computed_at, Type::TIMESTAMPTZ),
                    (&volume, Type::INT8),
                    (&labelled, Type::INT8),
                    (&frauds, Type::INT8),
                    (&alerts, Type::INT8),
                    (&blocks, Type::INT8),
                    (&q.alert_rate, Type::FLOAT8),
                    (&q.block_rate, Type::FLOAT8),
                    (&q.pr_auc, Type::FLOAT8),
                    (&q.precision, Type::FLOAT8),
                    (&q.recall, Type::FLOAT8),
                    (&q.f1, Type::FLOAT8),
                ],
            )
            .await
            .map_err(DbError::query("store model_quality"))?;
        Ok(())
    }

    /// The stored windows of `model_version`, most recently computed first.
    pub async fn stored(&self, model_version: &str) -> Result<Vec<ModelQuality>, DbError> {
        let rows = self
            .client
            .query_typed(
                "SELECT model_version,
                        CASE WHEN isfinite(window_since) THEN window_since END,
                        CASE WHEN isfinite(window_until) THEN window_until END,
                        computed_at, volume, labelled, frauds, alerts, blocks, alert_rate,
                        block_rate, pr_auc, alert_precision, alert_recall, alert_f1
                 FROM model_quality WHERE model_version = $1
                 ORDER BY computed_at DESC, window_since, window_until",
                &[(&model_version, Type::TEXT)],
            )
            .await
            .map_err(DbError::query("read model_quality"))?;
        Ok(rows
            .iter()
            .map(|row| {
                let count = |i: usize| row.get::<_, i64>(i).unsigned_abs();
                ModelQuality {
                    model_version: row.get(0),
                    since: row.get(1),
                    until: row.get(2),
                    computed_at: row.get(3),
                    volume: count(4),
                    labelled: count(5),
                    frauds: count(6),
                    alerts: count(7),
                    blocks: count(8),
                    alert_rate: row.get(9),
                    block_rate: row.get(10),
                    pr_auc: row.get(11),
                    precision: row.get(12),
                    recall: row.get(13),
                    f1: row.get(14),
                }
            })
            .collect())
    }
}
