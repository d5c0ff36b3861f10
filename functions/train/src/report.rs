//! The [`RunReports`] port for the train function: the report drawn by `fraud-report`
//! (test slice, compared with the promoted model) and stored beside the artifact under
//! `models/<version>/report/`.

use fraud_aws::{ModelStore, S3Client};
use fraud_pipeline::ports::{ReportRequest, RunReports};

/// Why a run's report was not written (logged; the run goes on without it).
#[derive(Debug, thiserror::Error)]
pub enum ReportFailure {
    #[error("{0}")]
    Report(String),
    #[error(transparent)]
    Aws(#[from] fraud_aws::AwsError),
}

/// Reports stored in the models bucket, beside each version's artifact.
pub struct S3Reports {
    pub s3: S3Client,
    pub store: ModelStore,
}

impl RunReports for S3Reports {
    type Error = ReportFailure;

    async fn write(&self, request: ReportRequest) -> Result<String, ReportFailure> {
        let started = std::time::Instant::now();
        let ReportRequest {
            artifact,
            data,
            amounts,
            previous,
            promotion,
        } = request;
        let review_cost = artifact.policy.costs.review_cost;
        let version = artifact.version.clone();
        let files = tokio::task::spawn_blocking(move || {
            let amounts = fraud_report::from_core::amounts_in_order(&data, &amounts)?;
            let mut input = fraud_report::from_core::report_input(
                &artifact,
                &data,
                &amounts,
                previous.as_ref(),
                review_cost,
            )?;
            input.notes.push(("promotion".into(), promotion));
            fraud_report::build(&input)
        })
        .await
        .map_err(|e| ReportFailure::Report(format!("report task failed: {e}")))?
        .map_err(|e| ReportFailure::Report(e.to_string()))?;
        let bucket = self.store.bucket();
        let mut index_uri = String::new();
        for file in files {
            let key = format!(
                "models/{version}/{}/{}",
                fraud_report::REPORT_DIR,
                file.name
            );
            fraud_aws::put_bytes(&self.s3, bucket, &key, file.bytes, file.content_type).await?;
            if file.name == fraud_report::INDEX_FILE {
                index_uri = format!("s3://{bucket}/{key}");
            }
        }
        tracing::info!(
            model_version = %version,
            report_uri = %index_uri,
            report_ms = started.elapsed().as_millis() as u64,
            "run report written"
        );
        Ok(index_uri)
    }
}
