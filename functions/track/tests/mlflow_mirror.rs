//! The MLflow mirror against a real MLflow tracking server (`scripts/mlflow.sh up`; the URL
//! comes from MLFLOW_TRACKING_URI, as `scripts/mlflow.sh env` prints it) and a real
//! PostgreSQL scratch database.

use fraud_aws::scratch::unique;
use fraud_db::scratch::ScratchDatabase;
use fraud_db::{RunStore, TrainingRun};
use fraud_fn_track::mlflow::RUN_ID_TAG;
use fraud_fn_track::{handle_with_mirror, TrackResponse};
use serde_json::{json, Value};

#[path = "support/mlflow.rs"]
mod mlflow;
use mlflow::{mirror, tracking_uri};

fn run_event(model_version: &str) -> Value {
    json!({"run": {
        "run_id": TrainingRun::run_id_for(model_version),
        "model_version": model_version,
        "created_at": "2024-05-01T12:00:00Z",
        "learner": "cart",
        "data_uri": "s3://fraud-data/train.csv",
        "data_sha256": "ab".repeat(32),
        "train_rows": 60000, "validation_rows": 10000, "test_rows": 30000,
        "threshold": 0.42, "pr_auc": 0.81, "roc_auc": 0.99, "f1": 0.77,
        "params": {"n_trees": 300, "max_depth": 12},
        "metrics": {"test": {"pr_auc": 0.81}},
        "artifact_uri": format!("s3://fraud-models/models/{model_version}/model.json"),
        "promoted": true
    }})
}

/// The JSON a request to the tracking server answers.
async fn answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn mlflow_answer(response: &TrackResponse) -> &str {
    match response {
        TrackResponse::Recorded {
            mlflow: Some(text), ..
        } => text,
        other => panic!("expected a recorded run with an MLflow outcome, got {other:?}"),
    }
}

#[tokio::test]
async fn recorded_run_is_mirrored_to_mlflow_once_with_params_metrics_and_tags() {
    let uri = tracking_uri();
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let experiment = unique("fraud-test");
    let mirror = mirror(uri.clone(), &experiment);
    let version = unique("v");

    let first = handle_with_mirror(&client, run_event(&version), Some(&mirror))
        .await
        .unwrap();
    let created = mlflow_answer(&first);
    let mlflow_id = created
        .strip_prefix("created ")
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let again = handle_with_mirror(&client, run_event(&version), Some(&mirror))
        .await
        .unwrap();
    assert_eq!(mlflow_answer(&again), format!("existing {mlflow_id}"));

    // Read it back through MLflow's own API.
    let http = reqwest::Client::new();
    let run = answer(
        http.get(format!("{uri}/api/2.0/mlflow/runs/get"))
            .query(&[("run_id", &mlflow_id)]),
    )
    .await;
    let data = &run["run"]["data"];
    let find = |list: &str, key: &str| {
        data[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == key)
            .map(|e| e["value"].clone())
            .unwrap_or_else(|| panic!("{list} has no {key}: {run}"))
    };
    assert_eq!(find("params", "n_trees"), json!("300"));
    assert_eq!(find("params", "learner"), json!("cart"));
    assert_eq!(find("metrics", "test_pr_auc"), json!(0.81));
    assert_eq!(
        find("tags", RUN_ID_TAG),
        json!(TrainingRun::run_id_for(&version).to_string())
    );
    assert_eq!(find("tags", "fraud.promoted"), json!("true"));
    assert_eq!(run["run"]["info"]["status"], "FINISHED");
    assert_eq!(run["run"]["info"]["run_name"], json!(version));

    // Exactly one MLflow run in the experiment, however many times the event came.
    let experiment_id = run["run"]["info"]["experiment_id"].clone();
    let search = answer(
        http.post(format!("{uri}/api/2.0/mlflow/runs/search"))
            .json(&json!({"experiment_ids": [experiment_id]})),
    )
    .await;
    assert_eq!(search["runs"].as_array().map(Vec::len), Some(1), "{search}");
}

#[tokio::test]
async fn unreachable_mlflow_still_records_the_run_and_says_the_mirror_failed() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    // Port 9 (discard) on loopback: nothing listens there.
    let mirror = mirror("http://127.0.0.1:9".into(), "fraud-test-down");
    let version = unique("v");
    let response = handle_with_mirror(&client, run_event(&version), Some(&mirror))
        .await
        .unwrap();
    let answer = mlflow_answer(&response);
    assert!(
        answer.starts_with("failed: MLflow experiments/get-by-name"),
        "{answer}"
    );
    let stored = RunStore::new(&client).get_run(&version).await.unwrap();
    assert!(stored.is_some(), "the run is recorded in PostgreSQL");
}
