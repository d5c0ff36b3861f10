//! The train function against S3 on LocalStack: a first model is promoted, a worse one
//! is stored but not promoted, `force` promotes anyway, and every run leaves its record
//! beside the artifact. Needs `make stack-up`; fails (never skips) without it.

use fraud_aws::ModelStore;
use fraud_core::model::Learner;
use fraud_fn_train::{Config, TrainRequest, Trainer};

mod common;

#[tokio::test]
async fn promotes_only_a_better_model_unless_forced() {
    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("test-train").await;
    let aws = fraud_aws::aws_config().await;
    let uri = common::upload_generated(&s3, &bucket, "train/data.csv", 400, 60).await;

    let trainer = Trainer::new(
        Config {
            models_bucket: bucket.clone(),
            // No track function here: the run must still be kept beside the artifact.
            track_function: format!("absent-{bucket}"),
            min_improvement: 0.0,
            costs: fraud_core::calibration::CostModel::default(),
        },
        &aws,
    );
    let request = |trees: usize, force: bool, learner: Option<Learner>| TrainRequest {
        data_uris: vec![uri.clone()],
        force,
        trees: Some(trees),
        seed: Some(3),
        learner,
    };

    let first = trainer.handle(request(80, false, None)).await.unwrap();
    assert!(first.promoted, "{}", first.promotion_reason);
    assert!(first.test_pr_auc > 0.5, "PR-AUC {}", first.test_pr_auc);
    assert!(!first.tracked);
    let run = fraud_aws::get_bytes(
        &s3,
        &bucket,
        &format!("models/{}/run.json", first.model_version),
    )
    .await
    .unwrap()
    .expect("run record beside the artifact");
    let run: serde_json::Value = serde_json::from_slice(&run).unwrap();
    assert_eq!(run["model_version"], first.model_version.as_str());

    // The report sits beside the artifact and the run links it.
    let report_prefix = format!("models/{}/report", first.model_version);
    let report_uri = format!("s3://{bucket}/{report_prefix}/index.html");
    assert_eq!(first.report_uri.as_deref(), Some(report_uri.as_str()));
    assert_eq!(run["report_uri"], report_uri.as_str());
    let page = s3
        .get_object()
        .bucket(&bucket)
        .key(format!("{report_prefix}/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    let page = String::from_utf8(page.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(page.contains(&first.model_version));
    assert!(
        page.contains("nothing to compare with"),
        "first run has no promoted model"
    );
    for (figure, _) in fraud_report::FIGURES {
        assert!(
            page.contains(&format!("src=\"{figure}\"")),
            "page lacks {figure}"
        );
        let png = fraud_aws::get_bytes(&s3, &bucket, &format!("{report_prefix}/{figure}"))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{figure} not stored"));
        assert!(png.starts_with(b"\x89PNG"), "{figure} is not a PNG");
    }

    // A forest of one tree ranks worse on the same test slice: stored, not promoted.
    let worse = trainer
        .handle(request(1, false, Some(Learner::Cart)))
        .await
        .unwrap();
    assert!(!worse.promoted, "{}", worse.promotion_reason);
    assert_eq!(
        worse.previous_version.as_deref(),
        Some(first.model_version.as_str())
    );
    assert!(worse.previous_test_pr_auc.unwrap() > worse.test_pr_auc);
    // Its report compares it with the promoted (first) model.
    let worse_page = fraud_aws::get_bytes(
        &s3,
        &bucket,
        &format!("models/{}/report/index.html", worse.model_version),
    )
    .await
    .unwrap()
    .expect("report of the second run");
    let worse_page = String::from_utf8(worse_page).unwrap();
    assert!(worse_page.contains(&format!(
        "Promoted model: <code>{}</code>",
        first.model_version
    )));
    let store = ModelStore::new(s3.clone(), bucket.clone());
    assert_eq!(
        store.current().await.unwrap().unwrap().version,
        first.model_version
    );
    assert!(
        store.load(&worse.model_version).await.is_ok(),
        "the worse model is kept for audit"
    );

    let forced = trainer
        .handle(request(1, true, Some(Learner::Cart)))
        .await
        .unwrap();
    assert!(forced.promoted);
    assert_eq!(forced.promotion_reason, "forced");
    assert_eq!(
        store.current().await.unwrap().unwrap().version,
        forced.model_version
    );
}

#[tokio::test]
async fn missing_training_data_is_a_clear_error() {
    fraud_aws::default_to_local_stack();
    let aws = fraud_aws::aws_config().await;
    let trainer = Trainer::new(
        Config {
            models_bucket: "fraud-models".into(),
            track_function: "fraud-track".into(),
            min_improvement: 0.0,
            costs: fraud_core::calibration::CostModel::default(),
        },
        &aws,
    );
    let err = trainer
        .handle(TrainRequest {
            data_uris: vec!["s3://fraud-data/does/not/exist.csv".into()],
            ..TrainRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "s3://fraud-data/does/not/exist.csv: object does not exist"
    );
    let err = trainer.handle(TrainRequest::default()).await.unwrap_err();
    assert!(err.to_string().contains("`data_uris` is empty"));
}

#[tokio::test]
async fn training_data_streamed_from_s3_reads_and_hashes_like_the_whole_files() {
    use sha2::{Digest, Sha256};

    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("test-train-stream").await;
    let first = common::generated_csv(300, 40);
    // Megabytes, so the body arrives in many chunks; the second file has one bad row.
    assert!(first.len() > 2_000_000, "{} bytes", first.len());
    let header_end = first.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut second = first[..header_end].to_vec();
    let row = first[header_end..]
        .split(|&b| b == b'\n')
        .next()
        .unwrap()
        .to_vec();
    second.extend_from_slice(&row);
    second.push(b'\n');
    second.extend_from_slice(
        &String::from_utf8(row)
            .unwrap()
            .replacen(",", ",not-a-date-", 1)
            .into_bytes(),
    );
    second.push(b'\n');
    let local = |bytes: &[u8]| {
        fraud_core::csv_input::CsvTransactions::new(bytes)
            .unwrap()
            .map(|r| r.unwrap())
            .fold((0, 0), |(ok, bad), r| {
                if r.is_ok() {
                    (ok + 1, bad)
                } else {
                    (ok, bad + 1)
                }
            })
    };
    let (ok1, bad1) = local(&first);
    let (ok2, bad2) = local(&second);
    assert_eq!(
        (bad1, bad2),
        (0, 1),
        "the second file's last row is refused"
    );
    for (key, bytes) in [("a.csv", &first), ("b.csv", &second)] {
        fraud_aws::put_bytes(&s3, &bucket, key, bytes.clone(), "text/csv")
            .await
            .unwrap();
    }
    let uris = [
        format!("s3://{bucket}/a.csv"),
        format!("s3://{bucket}/b.csv"),
    ];
    let objects = fraud_aws::S3Objects(s3);
    let data = fraud_pipeline::train::load_training_data(&objects, &uris)
        .await
        .unwrap();
    assert_eq!(data.payments.len(), ok1 + ok2);
    assert_eq!(data.rejected, 1);
    let mut hasher = Sha256::new();
    hasher.update(&first);
    hasher.update(&second);
    let expected: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(data.sha256, expected, "the hash of both files, in order");

    // A missing second object: named, even though the first one streamed fine.
    let missing = [uris[0].clone(), format!("s3://{bucket}/absent.csv")];
    let err = fraud_pipeline::train::load_training_data(&objects, &missing)
        .await
        .err()
        .expect("absent object");
    assert_eq!(
        err.to_string(),
        format!("s3://{bucket}/absent.csv: object does not exist")
    );
}
