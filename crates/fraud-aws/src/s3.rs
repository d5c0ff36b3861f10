//! Plain S3 object access with errors that name the object.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::{describe, AwsError};

/// S3 client with path-style addressing (required by LocalStack, harmless on AWS).
pub fn s3_client(config: &aws_config::SdkConfig) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

/// `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

impl std::str::FromStr for S3Uri {
    type Err = AwsError;
    fn from_str(s: &str) -> Result<Self, AwsError> {
        let (bucket, key) =
            fraud_pipeline::ports::split_s3_uri(s).ok_or_else(|| AwsError::BadUri(s.to_owned()))?;
        Ok(S3Uri {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl std::fmt::Display for S3Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// GetObject's error for `bucket`/`key`.
fn get_error(bucket: &str, key: &str, message: String) -> AwsError {
    AwsError::S3 {
        operation: "GetObject",
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    }
}

/// An object's body as it arrives; `Ok(None)` when the object does not exist.
async fn body(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<aws_sdk_s3::primitives::ByteStream>, AwsError> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(out.body)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(get_error(bucket, key, describe(&e))),
    }
}

/// Reads a whole object; `Ok(None)` when it does not exist.
pub async fn get_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, AwsError> {
    let Some(body) = body(client, bucket, key).await? else {
        return Ok(None);
    };
    let bytes = body
        .collect()
        .await
        .map_err(|e| get_error(bucket, key, describe(&e)))?;
    Ok(Some(bytes.to_vec()))
}

/// Reads an object chunk by chunk as the body arrives, sending each to `chunks`, so it is
/// never held whole; `Ok(false)` when it does not exist. Stops quietly when the receiver
/// is gone (the reader failed and says why).
pub async fn stream_object(
    client: &Client,
    bucket: &str,
    key: &str,
    chunks: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<bool, AwsError> {
    let Some(mut body) = body(client, bucket, key).await? else {
        return Ok(false);
    };
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| get_error(bucket, key, describe(&e)))?
    {
        if chunks.send(chunk.to_vec()).await.is_err() {
            break;
        }
    }
    Ok(true)
}

/// Writes a whole object.
pub async fn put_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), AwsError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::S3 {
            operation: "PutObject",
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: describe(&e),
        })
}

/// The keys of every object under `prefix` in `bucket`, sorted (ListObjectsV2, page by
/// page).
pub async fn list_keys(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::S3 {
            operation: "ListObjectsV2",
            bucket: bucket.to_owned(),
            key: prefix.to_owned(),
            message: describe(&e),
        })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_owned),
        );
    }
    keys.sort_unstable();
    Ok(keys)
}
