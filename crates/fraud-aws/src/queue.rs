//! The alert queue (SQS): the score function sends, the notify function consumes.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::{describe, AwsError};

/// Sends JSON messages to one queue.
#[derive(Clone)]
pub struct AlertQueue {
    sqs: Client,
    url: String,
}

impl AlertQueue {
    pub fn new(sqs: Client, url: impl Into<String>) -> Self {
        AlertQueue {
            sqs,
            url: url.into(),
        }
    }

    /// Sends `(id, body)` messages in batches of ten; returns the ids that failed.
    pub async fn send(&self, messages: &[(String, String)]) -> Result<Vec<String>, AwsError> {
        let mut failed = Vec::new();
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (_, body))| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .expect("id and body are set")
                })
                .collect::<Vec<_>>();
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AwsError::Sqs {
                    operation: "SendMessageBatch",
                    queue: self.url.clone(),
                    message: describe(&e),
                })?;
            for f in out.failed() {
                if let Ok(i) = f.id().parse::<usize>() {
                    failed.push(chunk[i].0.clone());
                }
            }
        }
        Ok(failed)
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}
