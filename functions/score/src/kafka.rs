//! The scored topic and the dead letters on Kafka: the score use case's
//! [`ScoredPublisher`], over one batching, idempotent producer.

use fraud_core::scoring::ScoredRecord;
use fraud_kafka::{DeadLetter, KafkaError};
use fraud_pipeline::ports::{Rejected, ScoredPublisher};
use rdkafka::producer::FutureProducer;

/// Scored records (keyed by card) to `scored_topic`, dead letters (stage `score`) to
/// `dlq_topic`.
pub struct KafkaScored {
    pub producer: FutureProducer,
    pub scored_topic: String,
    pub dlq_topic: String,
}

impl ScoredPublisher for KafkaScored {
    type Error = KafkaError;

    async fn publish_scored(&self, record: &ScoredRecord) -> Result<(), KafkaError> {
        let payload = serde_json::to_vec(record).expect("records serialize");
        let key = record.cc_num.to_string();
        fraud_kafka::publish(&self.producer, &self.scored_topic, &key, &payload).await
    }

    async fn dead_letter(&self, letter: &Rejected) -> Result<(), KafkaError> {
        let letter = DeadLetter::new(
            "score",
            &letter.source,
            letter.reason.clone(),
            letter.trans_num.clone(),
            letter.raw.clone(),
        );
        fraud_kafka::publish_dead_letters(
            &self.producer,
            &self.dlq_topic,
            std::slice::from_ref(&letter),
        )
        .await
    }
}
