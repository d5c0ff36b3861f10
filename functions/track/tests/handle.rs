//! The track function's handler against the real local PostgreSQL: each test gets a
//! freshly created, migrated database of its own, dropped afterwards.

use fraud_db::scratch::ScratchDatabase;
use fraud_db::{DbError, RunStore, TrainingRun};
use fraud_fn_track::{diagnostic, handle, TrackError, TrackResponse};
use serde_json::{json, Value};

/// A run event as the train function sends it.
fn run_event(model_version: &str, created_at: &str) -> Value {
    json!({
        "run": {
            "run_id": TrainingRun::run_id_for(model_version),
            "model_version": model_version,
            "created_at": created_at,
            "learner": "cart",
            "data_uri": "s3://fraud-data/train.csv",
            "data_sha256": "ab".repeat(32),
            "train_rows": 60000,
            "validation_rows": 10000,
            "test_rows": 30000,
            "threshold": 0.42,
            "pr_auc": 0.81,
            "roc_auc": 0.99,
            "f1": 0.77,
            "params": {"learner": "cart", "n_trees": 300},
            "metrics": {"test": {"pr_auc": 0.81}},
            "artifact_uri": format!("s3://fraud-models/models/{model_version}/model.json"),
            "promoted": true
        }
    })
}

#[tokio::test]
async fn records_a_run_and_reports_a_retry_as_duplicate() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let version = "20240501T120000Z-0badcafe";
    let event = run_event(version, "2024-05-01T12:00:00Z");

    let first = handle(&client, event.clone()).await.unwrap();
    assert_eq!(
        serde_json::to_value(&first).unwrap(),
        json!({
            "run_id": TrainingRun::run_id_for(version),
            "model_version": version,
            "recorded": true,
            "duplicate": false
        })
    );
    let retry = handle(&client, event).await.unwrap();
    assert!(
        matches!(
            retry,
            TrackResponse::Recorded {
                duplicate: true,
                ..
            }
        ),
        "{retry:?}"
    );

    let stored = RunStore::new(&client).list_runs(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].model_version, version);
    assert!(stored[0].promoted);
}

#[tokio::test]
async fn lists_recent_runs_newest_first() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    for day in 1..=3 {
        let version = format!("2024050{day}T120000Z-0badcafe");
        let created = format!("2024-05-0{day}T12:00:00Z");
        handle(&client, run_event(&version, &created))
            .await
            .unwrap();
    }

    let listed = handle(&client, json!({"action": "list", "limit": 2}))
        .await
        .unwrap();
    let TrackResponse::Runs { runs } = listed else {
        panic!("expected runs, got {listed:?}");
    };
    let versions: Vec<&str> = runs.iter().map(|r| r.model_version.as_str()).collect();
    assert_eq!(
        versions,
        ["20240503T120000Z-0badcafe", "20240502T120000Z-0badcafe"]
    );

    let all = handle(&client, json!({"action": "list"})).await.unwrap();
    let json = serde_json::to_value(&all).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 3);
    assert_eq!(
        json["runs"][0]["model_version"],
        "20240503T120000Z-0badcafe"
    );
}

#[tokio::test]
async fn listing_an_empty_log_returns_no_runs() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let listed = handle(&client, json!({"action": "list"})).await.unwrap();
    assert_eq!(serde_json::to_value(&listed).unwrap(), json!({"runs": []}));
}

#[tokio::test]
async fn event_with_a_wrong_field_type_is_rejected_and_nothing_is_recorded() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let mut event = run_event("20240501T120000Z-0badcafe", "2024-05-01T12:00:00Z");
    event["run"]["train_rows"] = json!(-5);

    let err = handle(&client, event).await.unwrap_err();
    assert!(matches!(err, TrackError::BadEvent(_)), "{err}");
    assert!(err.to_string().contains("field `run`"), "{err}");
    assert!(RunStore::new(&client)
        .list_runs(10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn empty_artifact_uri_is_an_invalid_run() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let mut event = run_event("20240501T120000Z-0badcafe", "2024-05-01T12:00:00Z");
    event["run"]["artifact_uri"] = json!("");

    let err = handle(&client, event).await.unwrap_err();
    assert!(
        matches!(
            err,
            TrackError::Store(DbError::InvalidRun {
                field: "artifact_uri",
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn same_version_with_another_run_id_is_a_conflict() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let event = run_event("20240501T120000Z-0badcafe", "2024-05-01T12:00:00Z");
    handle(&client, event.clone()).await.unwrap();

    let mut other = event;
    other["run"]["run_id"] = json!("6f1c1d4e-3d0a-4c55-9d0b-0a5b5f6c7d8e");
    let err = handle(&client, other).await.unwrap_err();
    assert!(
        matches!(err, TrackError::Store(DbError::RunConflict { .. })),
        "{err}"
    );
    let diagnostic = diagnostic(err);
    assert_eq!(diagnostic.error_type, "RunConflict");
}

/// A run event with its own test-slice numbers and promotion flag.
fn scored_run(model_version: &str, day: u32, pr_auc: f64, f1: f64, promoted: bool) -> Value {
    let mut event = run_event(model_version, &format!("2024-06-{day:02}T12:00:00Z"));
    event["run"]["pr_auc"] = json!(pr_auc);
    event["run"]["f1"] = json!(f1);
    event["run"]["promoted"] = json!(promoted);
    event
}

fn version_of(response: &TrackResponse) -> Option<&str> {
    match response {
        TrackResponse::Run { run } => run.as_ref().map(|r| r.model_version.as_str()),
        other => panic!("expected a run, got {other:?}"),
    }
}

#[tokio::test]
async fn best_run_is_the_highest_metric_optionally_among_promoted_runs() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    for event in [
        scored_run("v-low", 1, 0.70, 0.90, true),
        scored_run("v-high-unpromoted", 2, 0.95, 0.60, false),
        scored_run("v-mid", 3, 0.80, 0.70, true),
    ] {
        handle(&client, event).await.unwrap();
    }
    let best = |event: Value| {
        let client = &client;
        async move { handle(client, event).await.unwrap() }
    };
    assert_eq!(
        version_of(&best(json!({"action": "best"})).await),
        Some("v-high-unpromoted")
    );
    assert_eq!(
        version_of(&best(json!({"action": "best", "promoted_only": true})).await),
        Some("v-mid")
    );
    assert_eq!(
        version_of(&best(json!({"action": "best", "metric": "f1"})).await),
        Some("v-low")
    );
}

#[tokio::test]
async fn best_run_of_an_empty_log_is_null() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let response = handle(&client, json!({"action": "best"})).await.unwrap();
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"run": null})
    );
}

#[tokio::test]
async fn a_run_reads_back_by_run_id_and_by_model_version() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    handle(&client, scored_run("v-one", 1, 0.8, 0.7, true))
        .await
        .unwrap();
    let id = TrainingRun::run_id_for("v-one").to_string();
    let by_id = handle(&client, json!({"action": "get", "run_id": id}))
        .await
        .unwrap();
    assert_eq!(version_of(&by_id), Some("v-one"));
    let by_version = handle(&client, json!({"action": "get", "model_version": "v-one"}))
        .await
        .unwrap();
    assert_eq!(version_of(&by_version), Some("v-one"));
    let absent = handle(&client, json!({"action": "get", "model_version": "v-none"}))
        .await
        .unwrap();
    assert_eq!(version_of(&absent), None);
}

#[tokio::test]
async fn unknown_metric_and_malformed_run_id_are_rejected_naming_the_field() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let err = handle(&client, json!({"action": "best", "metric": "accuracy"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackError::BadEvent(m) if m.contains("`metric`") && m.contains("accuracy")),
        "{err}"
    );
    let err = handle(&client, json!({"action": "get", "run_id": "not-a-uuid"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackError::BadEvent(m) if m.contains("`run_id`") && m.contains("not-a-uuid")),
        "{err}"
    );
    let err = handle(&client, json!({"action": "list", "metric": "f1"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackError::BadEvent(m) if m.contains("`metric`")),
        "{err}"
    );
}

#[tokio::test]
async fn records_the_report_uri_and_lists_it() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let version = "20240501T120000Z-0badcafe";
    let report = format!("s3://fraud-models/models/{version}/report/index.html");
    let mut event = run_event(version, "2024-05-01T12:00:00Z");
    event["run"]["report_uri"] = json!(report);
    handle(&client, event).await.unwrap();

    let listed = handle(&client, json!({"action": "list"})).await.unwrap();
    let listed = serde_json::to_value(&listed).unwrap();
    assert_eq!(listed["runs"][0]["report_uri"], json!(report));
    // A run from a build without reports still records, with no report.
    let older = "20240502T120000Z-0badcafe";
    handle(&client, run_event(older, "2024-05-02T12:00:00Z"))
        .await
        .unwrap();
    let stored = RunStore::new(&client)
        .get_run(older)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.report_uri, None);
}
