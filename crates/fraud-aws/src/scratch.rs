//! Throw-away resources on the local stack for integration tests (feature
//! `test-support`): unique names, and S3 buckets created for one test.

use crate::S3Client;

/// `prefix-<pid>-<nanoseconds>`: unique across tests and test processes.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A new bucket named after `prefix` on the local stack (LocalStack unless
/// `AWS_ENDPOINT_URL` says otherwise), and a client for it. Panics, saying how to start
/// the stack, when it cannot be created.
pub async fn scratch_bucket(prefix: &str) -> (S3Client, String) {
    crate::default_to_local_stack();
    let s3 = crate::s3_client(&crate::aws_config().await);
    let bucket = unique(prefix);
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot create bucket on LocalStack ({e:?}): run `make stack-up`")
        });
    (s3, bucket)
}

/// Receives every message on `queue_url` until a receive comes back empty (one-second
/// long polls), deletes each, and returns their bodies in the order received.
pub async fn drain_queue(sqs: &crate::SqsClient, queue_url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            return bodies;
        }
        for m in out.messages() {
            bodies.push(m.body().unwrap().to_owned());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}
