//! Payments files as the track actions name them (the monitor's `payments_uris`,
//! `training_data`'s): each entry an `s3://bucket/key` object, or a prefix ending in `/`
//! (`s3://results-bucket/payments/dt=2026-12-06/`, a day of the score function's payments
//! archive) that stands for every object under it, in key order.

use fraud_core::Transaction;

use crate::ports::{split_s3_uri, ObjectSource};

/// Whether `uri` names a prefix (ends in `/`) rather than one object.
pub fn is_prefix(uri: &str) -> bool {
    uri.ends_with('/')
}

/// Checks the entries of `field` before anything is read: each one an S3 URI (an object or
/// a prefix), and at least one when `required`.
pub fn check_uris(field: &str, uris: &[String], required: bool) -> Result<(), String> {
    if required && uris.is_empty() {
        return Err(format!(
            "field `{field}` is empty: give at least one s3://bucket/key.csv or s3://bucket/prefix/"
        ));
    }
    for u in uris {
        if split_s3_uri(u).is_none() {
            return Err(format!(
                "field `{field}`: `{u}` is not an S3 URI (expected s3://bucket/key or s3://bucket/prefix/)"
            ));
        }
    }
    Ok(())
}

/// The objects `uris` stand for, in the order given, each prefix replaced by the objects
/// under it (sorted by key). A prefix with no objects is an error naming `field` and the
/// prefix: a day that was never archived should not pass as a day without payments.
pub async fn expand_uris<O: ObjectSource>(
    objects: &O,
    field: &str,
    uris: &[String],
) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(uris.len());
    for uri in uris {
        if !is_prefix(uri) {
            out.push(uri.clone());
            continue;
        }
        let listed = objects
            .list(uri)
            .await
            .map_err(|e| format!("field `{field}`: cannot list `{uri}`: {e}"))?;
        if listed.is_empty() {
            return Err(format!(
                "field `{field}`: no objects under the prefix `{uri}`"
            ));
        }
        out.extend(listed);
    }
    Ok(out)
}

/// The payments of one Sparkov CSV object and how many of its rows were refused (logged
/// with the first reason); a missing or unreadable object is an error naming it.
pub async fn read_payments<O: ObjectSource>(
    objects: &O,
    uri: &str,
) -> Result<(Vec<Transaction>, u64), String> {
    let bytes = objects
        .read(uri)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("`{uri}` does not exist"))?;
    let mut rejected = 0u64;
    let mut first_reason = None;
    let txs = fraud_core::csv_input::read_transactions(&bytes[..], |r| {
        rejected += 1;
        first_reason.get_or_insert_with(|| r.to_string());
    })
    .map_err(|e| format!("`{uri}`: {e}"))?;
    if let Some(reason) = first_reason {
        tracing::warn!(%uri, rejected, first = %reason, "payments rows refused");
    }
    Ok((txs, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Objects by URI; lists by prefix like S3.
    struct Bucket(BTreeMap<String, Vec<u8>>);

    impl ObjectSource for Bucket {
        type Error = std::io::Error;
        async fn read(&self, uri: &str) -> Result<Option<Vec<u8>>, std::io::Error> {
            Ok(self.0.get(uri).cloned())
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, std::io::Error> {
            Ok(self
                .0
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect())
        }
    }

    fn bucket(keys: &[&str]) -> Bucket {
        Bucket(keys.iter().map(|k| (k.to_string(), Vec::new())).collect())
    }

    #[tokio::test]
    async fn a_prefix_stands_for_its_objects_in_key_order_and_files_stay_where_given() {
        let b = bucket(&[
            "s3://r/payments/dt=2026-12-06/batch-b.csv",
            "s3://r/payments/dt=2026-12-06/batch-a.csv",
            "s3://r/payments/dt=2026-12-07/batch-c.csv",
            "s3://d/base.csv",
        ]);
        let uris = [
            "s3://d/base.csv".to_owned(),
            "s3://r/payments/dt=2026-12-06/".to_owned(),
        ];
        assert_eq!(
            expand_uris(&b, "payments_uris", &uris).await.unwrap(),
            [
                "s3://d/base.csv",
                "s3://r/payments/dt=2026-12-06/batch-a.csv",
                "s3://r/payments/dt=2026-12-06/batch-b.csv",
            ]
        );
    }

    #[tokio::test]
    async fn an_empty_prefix_is_an_error_naming_the_field_and_the_prefix() {
        let b = bucket(&["s3://r/payments/dt=2026-12-06/batch-a.csv"]);
        let err = expand_uris(
            &b,
            "payments_uris",
            &["s3://r/payments/dt=2026-12-08/".into()],
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            "field `payments_uris`: no objects under the prefix `s3://r/payments/dt=2026-12-08/`"
        );
    }

    #[test]
    fn uris_that_are_not_s3_are_refused_naming_the_field() {
        let err = check_uris("payments_uris", &["http://x/".into()], false).unwrap_err();
        assert!(err.contains("field `payments_uris`: `http://x/`"), "{err}");
        assert!(check_uris("payments_uris", &[], true)
            .unwrap_err()
            .contains("is empty"));
        assert!(check_uris("payments_uris", &["s3://r/payments/".into()], true).is_ok());
    }
}
