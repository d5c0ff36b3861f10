//! Monitoring alerts on SNS (feature `sns`): the monitor's
//! [`MonitorAlerts`](fraud_pipeline::ports::MonitorAlerts).

use fraud_core::drift::MonitorAlert;
use fraud_pipeline::ports::MonitorAlerts;

use crate::{describe, AwsError};

/// Monitoring alerts to one SNS topic, or nowhere when no topic is configured.
pub struct SnsAlerts {
    topic: Option<(aws_sdk_sns::Client, String)>,
}

impl SnsAlerts {
    /// Publishes to `topic_arn` when given.
    pub fn new(aws: &aws_config::SdkConfig, topic_arn: Option<String>) -> Self {
        SnsAlerts {
            topic: topic_arn.map(|arn| (aws_sdk_sns::Client::new(aws), arn)),
        }
    }
}

impl MonitorAlerts for SnsAlerts {
    type Error = AwsError;

    async fn publish(&self, alert: &MonitorAlert) -> Result<Option<String>, AwsError> {
        let Some((sns, topic)) = &self.topic else {
            return Ok(None);
        };
        let out = sns
            .publish()
            .topic_arn(topic)
            .subject(format!(
                "fraud model {} needs retraining",
                alert.model_version
            ))
            .message(serde_json::to_string(alert).expect("alerts serialize"))
            .send()
            .await
            .map_err(|e| AwsError::Sns {
                topic: topic.clone(),
                message: describe(&e),
            })?;
        Ok(out.message_id)
    }
}
