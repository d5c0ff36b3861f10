//! `{"action": "training_data"}` against the real local PostgreSQL (a scratch database per
//! test) and S3 on LocalStack (a scratch bucket): the payments archive joined with the
//! ledger's carried labels and the later labels, counts exact. Needs `make stack-up`;
//! fails (never skips) without it.

use std::collections::BTreeMap;

use fraud_core::Transaction;
use fraud_db::scratch::ScratchDatabase;
use fraud_db::Client;
use fraud_fn_track::{handle, training_data, TrackError};
use serde_json::json;

/// `n` generated payments, each with no label of its own.
fn payments(n: usize) -> Vec<Transaction> {
    let mut txs = fraud_generator::payments(30, 2, 21).unwrap();
    txs.truncate(n);
    assert_eq!(txs.len(), n);
    for tx in &mut txs {
        tx.is_fraud = None;
    }
    txs
}

/// Claims `tx` in the ledger as scored by `v1`, with the label it carried.
async fn scored(client: &Client, tx: &Transaction, carried: Option<bool>) {
    client
        .execute(
            "INSERT INTO scored_transactions
                 (trans_num, cc_num, event_time, probability, decision, model_version, outcome, is_fraud)
             VALUES ($1, $2::text::numeric, '2026-12-01T10:00:00Z', 0.5, 'approve', 'v1', 'approve', $3)",
            &[&tx.trans_num, &tx.cc_num.to_string(), &carried],
        )
        .await
        .unwrap();
}

async fn put_csv(s3: &fraud_aws::S3Client, bucket: &str, key: &str, txs: &[Transaction]) {
    let mut body = Vec::new();
    fraud_core::csv_input::write_transactions(&mut body, txs).unwrap();
    fraud_aws::put_bytes(s3, bucket, key, body, "text/csv")
        .await
        .unwrap();
}

/// The labelled CSV at `uri`: each payment's label by `trans_num`.
async fn labels_in(s3: &fraud_aws::S3Client, uri: &str) -> BTreeMap<String, Option<bool>> {
    let location: fraud_aws::S3Uri = uri.parse().unwrap();
    let bytes = fraud_aws::get_bytes(s3, &location.bucket, &location.key)
        .await
        .unwrap()
        .expect("the labelled CSV exists");
    fraud_core::csv_input::read_transactions(&bytes[..], |r| panic!("row refused: {r}"))
        .unwrap()
        .into_iter()
        .map(|t| (t.trans_num, t.is_fraud))
        .collect()
}

#[tokio::test]
async fn later_labels_override_carried_ones_unlabelled_are_left_out_and_duplicates_counted() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("test-training-data").await;
    let p = payments(8);
    // Scored, with what each carried: p0 legit then charged back (later: fraud), p1 fraud,
    // p2 legit, p3 nothing then an analyst's verdict (later: legit), p4 nothing at all.
    for (tx, carried) in p
        .iter()
        .zip([Some(false), Some(true), Some(false), None, None])
    {
        scored(&client, tx, carried).await;
    }
    handle(
        &client,
        json!({"action": "labels", "source": "chargebacks", "labels": [
            {"trans_num": p[0].trans_num, "is_fraud": true, "labelled_at": "2026-12-20T10:00:00Z"},
            {"trans_num": p[3].trans_num, "is_fraud": false, "labelled_at": "2026-12-20T10:00:00Z"},
        ]}),
    )
    .await
    .unwrap();
    // The archive as the score function writes it (the file carries what the payment
    // carried), p1 archived twice (its second copy says otherwise: first wins); a day not
    // asked for; and a backfill file of payments never scored: p5 labelled in the file,
    // p6 not.
    let mut archived = p[0..3].to_vec();
    archived[0].is_fraud = Some(false);
    archived[1].is_fraud = Some(true);
    archived[2].is_fraud = Some(false);
    put_csv(
        &s3,
        &bucket,
        "payments/dt=2026-12-01/batch-a.csv",
        &archived,
    )
    .await;
    let mut again = p[1].clone();
    again.is_fraud = Some(false);
    put_csv(
        &s3,
        &bucket,
        "payments/dt=2026-12-01/batch-b.csv",
        &[p[3].clone(), p[4].clone(), again],
    )
    .await;
    put_csv(&s3, &bucket, "payments/dt=2026-12-02/batch-c.csv", &p[7..8]).await;
    let mut backfill = p[5..7].to_vec();
    backfill[0].is_fraud = Some(false);
    put_csv(&s3, &bucket, "backfill/old.csv", &backfill).await;

    let out = format!("s3://{bucket}/training/out.csv");
    let answer = training_data(
        &client,
        &s3,
        None,
        json!({
            "action": "training_data",
            "payments_uris": [
                format!("s3://{bucket}/payments/dt=2026-12-01/"),
                format!("s3://{bucket}/backfill/old.csv"),
            ],
            "output_uri": out,
        }),
    )
    .await
    .unwrap();
    let mut counts = serde_json::to_value(&answer).unwrap();
    let summary = counts.as_object_mut().unwrap().remove("summary").unwrap();
    assert_eq!(
        counts,
        json!({
            "uri": out, "files": 3, "payments": 7, "duplicates": 1, "rejected_rows": 0,
            "labelled_later": 2, "labelled_carried": 2, "labelled_in_file": 1,
            "unlabelled_left_out": 2, "frauds": 2
        })
    );
    assert!(
        summary
            .as_str()
            .unwrap()
            .starts_with("5 labelled payments (2 fraud)"),
        "{summary}"
    );
    let expected: BTreeMap<String, Option<bool>> = [
        (&p[0], true),
        (&p[1], true),
        (&p[2], false),
        (&p[3], false),
        (&p[5], false),
    ]
    .into_iter()
    .map(|(t, y)| (t.trans_num.clone(), Some(y)))
    .collect();
    assert_eq!(labels_in(&s3, &out).await, expected);
}

#[tokio::test]
async fn without_output_uri_the_csv_goes_under_training_in_the_data_bucket() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("test-training-data").await;
    let p = payments(2);
    scored(&client, &p[0], Some(true)).await;
    scored(&client, &p[1], Some(false)).await;
    put_csv(&s3, &bucket, "payments/dt=2026-12-01/batch-a.csv", &p).await;
    let answer = training_data(
        &client,
        &s3,
        Some(&bucket),
        json!({"action": "training_data", "payments_uris": [format!("s3://{bucket}/payments/")]}),
    )
    .await
    .unwrap();
    let prefix = format!("s3://{bucket}/training/scored-");
    assert!(
        answer.uri.starts_with(&prefix) && answer.uri.ends_with(".csv"),
        "{}",
        answer.uri
    );
    assert_eq!((answer.labelled_carried, answer.frauds), (2, 1));
    assert_eq!(labels_in(&s3, &answer.uri).await.len(), 2);
}

#[tokio::test]
async fn an_empty_prefix_or_no_label_at_all_fails_naming_what_is_wrong() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("test-training-data").await;
    let empty = format!("s3://{bucket}/payments/dt=2030-01-01/");
    let err = training_data(
        &client,
        &s3,
        Some(&bucket),
        json!({"action": "training_data", "payments_uris": [empty]}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TrackError::TrainingData(_)), "{err}");
    assert!(
        err.to_string().contains(&format!(
            "field `payments_uris`: no objects under the prefix `{empty}`"
        )),
        "{err}"
    );

    put_csv(
        &s3,
        &bucket,
        "payments/dt=2026-12-01/batch-a.csv",
        &payments(3),
    )
    .await;
    let err = training_data(
        &client,
        &s3,
        Some(&bucket),
        json!({"action": "training_data", "payments_uris": [format!("s3://{bucket}/payments/dt=2026-12-01/batch-a.csv")]}),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("no labelled payment")
            && err.to_string().contains("3 without any label"),
        "{err}"
    );

    let err = training_data(
        &client,
        &s3,
        None,
        json!({"action": "training_data", "payments_uris": [format!("s3://{bucket}/payments/")]}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TrackError::BadEvent(_)), "{err}");
    assert!(err.to_string().contains("FRAUD_DATA_BUCKET"), "{err}");
}
