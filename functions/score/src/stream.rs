//! The stream trigger: a Kafka batch (the event source mapping's event) in the
//! partition and offset order its records were produced in, scored by the use case
//! ([`fraud_pipeline::score::Scoring::score_batch`]).

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use fraud_pipeline::score::BatchRecord;

use crate::{ScoreError, ScoreResponse, Scorer};

/// `topic-partition@offset`.
pub fn record_id(r: &KafkaRecord) -> String {
    format!(
        "{}-{}@{}",
        r.topic.as_deref().unwrap_or("?"),
        r.partition,
        r.offset
    )
}

/// The batch's records, by partition and offset.
pub fn batch_records(event: &KafkaEvent) -> Vec<BatchRecord> {
    let mut records: Vec<&KafkaRecord> = event.records.values().flatten().collect();
    records.sort_by_key(|r| (r.partition, r.offset));
    records
        .into_iter()
        .map(|r| BatchRecord {
            id: record_id(r),
            value: r.value.clone(),
            published_at_ms: r.timestamp.0.timestamp_millis(),
        })
        .collect()
}

impl Scorer {
    /// Scores one Kafka batch.
    pub async fn handle(&self, event: KafkaEvent) -> Result<ScoreResponse, ScoreError> {
        self.scoring.score_batch(&batch_records(&event)).await
    }
}
