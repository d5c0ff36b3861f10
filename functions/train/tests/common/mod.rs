//! Shared by the train function's stack tests: generated training data in S3.

use fraud_generator::{Generator, GeneratorConfig};

/// A generated labelled CSV: `customers` cards over `days` days (the generator's seed).
pub fn generated_csv(customers: u32, days: u32) -> Vec<u8> {
    let mut csv = Vec::new();
    Generator::new(GeneratorConfig {
        customers,
        days,
        ..GeneratorConfig::default()
    })
    .unwrap()
    .write_csv(&mut csv, |_| {})
    .unwrap();
    csv
}

/// [`generated_csv`] uploaded to `s3://bucket/key`; returns that URI.
pub async fn upload_generated(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    customers: u32,
    days: u32,
) -> String {
    let csv = generated_csv(customers, days);
    fraud_aws::put_bytes(s3, bucket, key, csv, "text/csv")
        .await
        .unwrap();
    format!("s3://{bucket}/{key}")
}
