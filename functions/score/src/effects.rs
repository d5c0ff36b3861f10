//! The batch's writes: the S3 results file, the scored topic, the SQS alerts. They run
//! at once; the ledger commits only after all of them are confirmed.

use std::time::Instant;

use aws_lambda_events::event::kafka::KafkaRecord;
use fraud_core::scoring::Alert;

use crate::{ms, record_id, ScoreError, ScoredRecord, Scorer};

/// What the writes of a batch produced, and how long each took (ms).
#[derive(Debug, Default)]
pub(crate) struct Timings {
    pub results_uri: Option<String>,
    pub s3_ms: f64,
    pub kafka_ms: f64,
    pub sqs_ms: f64,
}

impl Scorer {
    /// Results file, scored topic and alerts, at once; fails if any of them failed.
    pub(crate) async fn write_effects(
        &self,
        records: &[&KafkaRecord],
        scored: &[ScoredRecord],
        alerts: &[Alert],
    ) -> Result<Timings, ScoreError> {
        let ((uri, s3_ms), kafka_ms, sqs_ms) = futures::future::try_join3(
            self.write_results(records, scored),
            self.publish_scored(scored),
            self.send_alerts(alerts),
        )
        .await?;
        Ok(Timings {
            results_uri: Some(uri),
            s3_ms,
            kafka_ms,
            sqs_ms,
        })
    }

    /// One JSON-lines file per batch, under `results/dt=<day>/`, named by the batch's
    /// first record so a redelivered batch overwrites rather than duplicates.
    async fn write_results(
        &self,
        records: &[&KafkaRecord],
        scored: &[ScoredRecord],
    ) -> Result<(String, f64), ScoreError> {
        let t = Instant::now();
        let first = records
            .first()
            .map(|r| record_id(r))
            .unwrap_or_default()
            .replace('@', "-");
        let day = scored[0]
            .trans_date_trans_time
            .get(..10)
            .unwrap_or("unknown")
            .to_owned();
        let key = format!("results/dt={day}/batch-{first}.jsonl");
        let mut body = Vec::new();
        for s in scored {
            serde_json::to_writer(&mut body, s).expect("records serialize");
            body.push(b'\n');
        }
        fraud_aws::put_bytes(
            &self.s3,
            &self.config.results_bucket,
            &key,
            body,
            "application/x-ndjson",
        )
        .await
        .map_err(ScoreError::Results)?;
        let uri = format!("s3://{}/{key}", self.config.results_bucket);
        Ok((uri, ms(t)))
    }

    /// Every scored record to the scored topic, keyed by card; returns once the broker
    /// confirmed them all (ms taken).
    async fn publish_scored(&self, scored: &[ScoredRecord]) -> Result<f64, ScoreError> {
        let t = Instant::now();
        let sends = scored.iter().map(|s| {
            let payload = serde_json::to_vec(s).expect("records serialize");
            let key = s.cc_num.to_string();
            let producer = &self.producer;
            let topic = &self.config.scored_topic;
            async move { fraud_kafka::publish(producer, topic, &key, &payload).await }
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(ms(t))
    }

    /// The alerts to SQS (notify passes each one's `trans_num` on as the webhook's
    /// idempotency key); fails if SQS refused any (ms taken).
    async fn send_alerts(&self, alerts: &[Alert]) -> Result<f64, ScoreError> {
        let t = Instant::now();
        if alerts.is_empty() {
            return Ok(0.0);
        }
        let messages: Vec<(String, String)> = alerts
            .iter()
            .map(|a| {
                (
                    a.trans_num.clone(),
                    serde_json::to_string(a).expect("alerts serialize"),
                )
            })
            .collect();
        let failed = self
            .alerts
            .send(&messages)
            .await
            .map_err(|e| ScoreError::Alerts(e.to_string()))?;
        if !failed.is_empty() {
            return Err(ScoreError::Alerts(format!(
                "{} alerts were refused by SQS",
                failed.len()
            )));
        }
        Ok(ms(t))
    }
}
