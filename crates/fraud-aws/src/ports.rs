//! The use cases' ports this crate implements: [`S3Objects`] (whole objects by
//! `s3://` URI, and listed by prefix), the model store ([`ModelStorage`] for [`ModelStore`]), the score use
//! case's [`ServedModel`] (model and rules caches), [`ResultsBucket`] (results files and the payments archive) and
//! [`AlertSink`] for [`AlertQueue`], with the `lambda` feature [`TrackFunction`] (the run
//! log reached through the track function) and with the `sns` feature
//! [`SnsAlerts`](crate::SnsAlerts) (the monitor's alerts).

use std::sync::Arc;

use fraud_core::artifact::ModelArtifact;
use fraud_core::scoring::Alert;
use fraud_pipeline::ports::{
    AlertSink, ArtifactSource, ModelSource, ModelStorage, ObjectSink, ObjectSource, ResultsStore,
};
use fraud_rules::Rules;

use crate::{
    get_bytes, list_keys, put_bytes, stream_object, AlertQueue, AwsError, ModelCache, ModelStore,
    RulesCache, S3Client, S3Uri,
};

/// Whole S3 objects by `s3://bucket/key` URI.
#[derive(Clone)]
pub struct S3Objects(pub S3Client);

impl ObjectSink for S3Objects {
    type Error = AwsError;

    async fn write(&self, uri: &str, body: Vec<u8>, content_type: &str) -> Result<(), AwsError> {
        let location: S3Uri = uri.parse()?;
        put_bytes(&self.0, &location.bucket, &location.key, body, content_type).await
    }
}

impl ObjectSource for S3Objects {
    type Error = AwsError;

    async fn read(&self, uri: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let location: S3Uri = uri.parse()?;
        get_bytes(&self.0, &location.bucket, &location.key).await
    }

    async fn stream(
        &self,
        uri: &str,
        chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<bool, AwsError> {
        let location: S3Uri = uri.parse()?;
        stream_object(&self.0, &location.bucket, &location.key, chunks).await
    }

    async fn list(&self, prefix_uri: &str) -> Result<Vec<String>, AwsError> {
        let location: S3Uri = prefix_uri.parse()?;
        Ok(list_keys(&self.0, &location.bucket, &location.key)
            .await?
            .into_iter()
            .map(|key| format!("s3://{}/{key}", location.bucket))
            .collect())
    }
}

impl ArtifactSource for ModelStore {
    type Error = AwsError;

    async fn load(&self, version: &str) -> Result<ModelArtifact, AwsError> {
        ModelStore::load(self, version).await
    }
}

impl ModelStorage for ModelStore {
    async fn put(&self, artifact: &ModelArtifact) -> Result<String, AwsError> {
        ModelStore::put(self, artifact).await
    }

    async fn put_beside(
        &self,
        version: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<String, AwsError> {
        ModelStore::put_beside(self, version, name, bytes).await
    }

    async fn current_version(&self) -> Result<Option<String>, AwsError> {
        Ok(ModelStore::current(self)
            .await?
            .map(|current| current.version))
    }

    async fn promote(&self, artifact: &ModelArtifact, uri: &str) -> Result<(), AwsError> {
        ModelStore::promote(self, artifact, uri).await.map(|_| ())
    }
}

/// The model and the rules in service, each from its cache (re-read every
/// `MODEL_CHECK_SECS`; a model or rules document that does not load is never served).
pub struct ServedModel {
    pub models: ModelCache,
    pub rules: RulesCache,
}

impl ModelSource for ServedModel {
    type Error = AwsError;

    async fn model(&self) -> Result<Arc<ModelArtifact>, AwsError> {
        self.models.get().await
    }

    async fn rules(&self) -> Result<Arc<Rules>, AwsError> {
        self.rules.get().await
    }
}

/// Results files (JSON lines) and the payments archive (Sparkov CSV) in one bucket.
pub struct ResultsBucket {
    pub s3: S3Client,
    pub bucket: String,
}

impl ResultsStore for ResultsBucket {
    type Error = AwsError;

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<String, AwsError> {
        put_bytes(&self.s3, &self.bucket, key, body, "application/x-ndjson").await?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }

    async fn put_payments(&self, key: &str, body: Vec<u8>) -> Result<String, AwsError> {
        put_bytes(&self.s3, &self.bucket, key, body, "text/csv").await?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}

/// Why the alerts were not all sent.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Send(#[from] AwsError),
    #[error("{0} alerts were refused by SQS")]
    Refused(usize),
}

impl AlertSink for AlertQueue {
    type Error = AlertError;

    /// Each alert as JSON, its `trans_num` as the message's id.
    async fn send(&self, alerts: &[Alert]) -> Result<(), AlertError> {
        let messages: Vec<(String, String)> = alerts
            .iter()
            .map(|a| {
                (
                    a.trans_num.clone(),
                    serde_json::to_string(a).expect("alerts serialize"),
                )
            })
            .collect();
        let failed = AlertQueue::send(self, &messages).await?;
        if !failed.is_empty() {
            return Err(AlertError::Refused(failed.len()));
        }
        Ok(())
    }
}

#[cfg(feature = "lambda")]
pub use track::TrackFunction;

#[cfg(feature = "lambda")]
mod track {
    use std::time::Duration;

    use aws_sdk_lambda::primitives::Blob;
    use fraud_lambda::retry::{RetryBudget, Retryable};
    use fraud_pipeline::ports::RunTracker;
    use fraud_pipeline::TrainingRun;

    /// The run log, reached by invoking the track function (`{"run": <TrainingRun>}`)
    /// through the Lambda Invoke API, each attempt bounded by `invoke_timeout`, within
    /// `retry`.
    pub struct TrackFunction {
        lambda: aws_sdk_lambda::Client,
        function: String,
        retry: RetryBudget,
    }

    impl TrackFunction {
        pub fn new(
            aws: &aws_config::SdkConfig,
            function: impl Into<String>,
            invoke_timeout: Duration,
            retry: RetryBudget,
        ) -> Self {
            let timeouts = aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                .operation_timeout(invoke_timeout)
                .build();
            TrackFunction {
                lambda: aws_sdk_lambda::Client::from_conf(
                    aws_sdk_lambda::config::Builder::from(aws)
                        .timeout_config(timeouts)
                        .build(),
                ),
                function: function.into(),
                retry,
            }
        }

        async fn invoke(&self, payload: &[u8]) -> Result<(), String> {
            let out = self
                .lambda
                .invoke()
                .function_name(&self.function)
                .payload(Blob::new(payload))
                .send()
                .await
                .map_err(|e| format!("cannot invoke the track function: {e}"))?;
            match out.function_error() {
                None => Ok(()),
                Some(_) => Err(format!(
                    "track function returned an error: {}",
                    out.payload()
                        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                        .unwrap_or_default()
                )),
            }
        }
    }

    impl RunTracker for TrackFunction {
        /// Failures are logged; the caller keeps the run elsewhere (beside the artifact).
        async fn track(&self, run: &TrainingRun) -> bool {
            let payload =
                serde_json::to_vec(&serde_json::json!({ "run": run })).expect("runs serialize");
            let result = (|| self.invoke(&payload))
                .retry(self.retry.policy())
                .sleep(tokio::time::sleep)
                .notify(|e, wait| tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "tracking the run failed; retrying"))
                .await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, attempts = self.retry.attempts, "the run was not tracked");
            }
            result.is_ok()
        }
    }
}
