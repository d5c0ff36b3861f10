//! The track function's labels and quality actions against the real local PostgreSQL
//! (a scratch database per test) and, for label CSVs, S3 on LocalStack. Needs
//! `make stack-up`; fails (never skips) without it.

use fraud_db::scratch::ScratchDatabase;
use fraud_db::Client;
use fraud_fn_track::{handle, handle_with, TrackError};
use serde_json::{json, Value};

/// Scores `trans_nums` for model `v1` (probability, outcome, API label) straight into
/// the ledger, as the score function would have.
async fn scored(client: &Client, rows: &[(&str, f64, &str, Option<bool>)]) {
    for (i, (trans_num, probability, outcome, is_fraud)) in rows.iter().enumerate() {
        let decision = if *outcome == "approve" {
            "approve"
        } else {
            "block"
        };
        client
            .execute(
                "INSERT INTO scored_transactions
                     (trans_num, cc_num, event_time, probability, decision, model_version,
                      outcome, is_fraud)
                 VALUES ($1, 4006047418382, '2026-12-01T10:00:00Z'::timestamptz + $2 * interval '1 minute',
                         $3, $4, 'v1', $5, $6)",
                &[trans_num, &(i as f64), probability, &decision, outcome, is_fraud],
            )
            .await
            .unwrap();
    }
}

/// A scratch database whose ledger holds `rows` ([`scored`]); keep the database alive
/// while the client is used.
async fn ledger_with(rows: &[(&str, f64, &str, Option<bool>)]) -> (ScratchDatabase, Client) {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    scored(&client, rows).await;
    (db, client)
}

fn row(trans_num: &str, is_fraud: bool) -> Value {
    json!({"trans_num": trans_num, "is_fraud": is_fraud, "labelled_at": "2026-12-20T10:00:00Z"})
}

#[tokio::test]
async fn malformed_rows_are_refused_one_by_one_and_the_rest_recorded() {
    let (_db, client) =
        ledger_with(&[("a", 0.9, "block", None), ("b", 0.1, "approve", None)]).await;
    let labels = json!([
        row("a", true),
        {"trans_num": "c", "labelled_at": "2026-12-20T10:00:00Z"},
        {"trans_num": "c", "is_fraud": "yes", "labelled_at": "2026-12-20T10:00:00Z"},
        {"trans_num": "c", "is_fraud": true, "labelled_at": "yesterday"},
        {"trans_num": " ", "is_fraud": true, "labelled_at": "2026-12-20T10:00:00Z"},
        42,
        {"trans_num": "b", "is_fraud": 0, "labelled_at": "2026-12-20T12:00:00+02:00"},
    ]);
    let answer = handle(
        &client,
        json!({"action": "labels", "labels": labels, "source": "chargebacks"}),
    )
    .await
    .unwrap();
    let answer = serde_json::to_value(answer).unwrap();
    assert_eq!(
        answer["counts"],
        json!({"received": 7, "recorded": 2, "duplicates": 0, "conflicts": 0, "unknown": 0, "malformed": 5})
    );
    let refused: Vec<(u64, &str, Value)> = answer["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["index"].as_u64().unwrap(),
                m["field"].as_str().unwrap(),
                m["value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (1, "is_fraud", Value::Null),
            (2, "is_fraud", json!("yes")),
            (3, "labelled_at", json!("yesterday")),
            (4, "trans_num", json!(" ")),
            (5, "row", json!(42)),
        ]
    );
    assert!(
        answer["malformed"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{answer}"
    );
    assert_eq!(answer["source"], "chargebacks");
}

#[tokio::test]
async fn labels_answer_counts_duplicates_conflicts_and_unknown_exactly() {
    let (_db, client) = ledger_with(&[
        ("a", 0.9, "block", None),
        ("b", 0.1, "approve", None),
        ("c", 0.2, "approve", None),
    ])
    .await;
    handle(
        &client,
        json!({"action": "labels", "labels": [row("a", true), row("b", false)]}),
    )
    .await
    .unwrap();
    let answer = handle(
        &client,
        json!({"action": "labels", "source": "analysts", "labels": [
            row("a", true), row("b", true), row("c", true), row("ghost", false), row("c", true)
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(answer).unwrap(),
        json!({
            "source": "analysts",
            "counts": {"received": 5, "recorded": 1, "duplicates": 2, "conflicts": 1, "unknown": 1, "malformed": 0},
            "conflicts": [{"trans_num": "b", "kept": false, "refused": true}],
            "unknown": ["ghost"],
            "malformed": []
        })
    );
}

#[tokio::test]
async fn labels_csv_in_s3_is_read_with_bad_lines_named() {
    let (_db, client) =
        ledger_with(&[("a", 0.9, "block", None), ("b", 0.1, "approve", None)]).await;
    let (s3, bucket) = fraud_aws::scratch::scratch_bucket("test-labels").await;
    let csv = "labelled_at,trans_num,is_fraud\n\
               2026-12-20T10:00:00Z,a,1\n\
               2026-12-20T10:00:00Z,b,false\n\
               2026-12-20T10:00:00Z,b,maybe\n\
               2026-12-20T10:00:00Z,ghost,0\n\
               2026-12-20,a,1\n";
    fraud_aws::put_bytes(&s3, &bucket, "labels/x.csv", csv.into(), "text/csv")
        .await
        .unwrap();
    let uri = format!("s3://{bucket}/labels/x.csv");
    let answer = handle_with(
        &client,
        json!({"action": "labels", "uri": uri}),
        None,
        Some(&s3),
    )
    .await
    .unwrap();
    let answer = serde_json::to_value(answer).unwrap();
    assert_eq!(
        answer["counts"],
        json!({"received": 5, "recorded": 2, "duplicates": 0, "conflicts": 0, "unknown": 1, "malformed": 2}),
        "{answer}"
    );
    assert_eq!(answer["source"], json!(uri));
    assert_eq!(answer["unknown"], json!(["ghost"]));
    let lines: Vec<(u64, u64, &str)> = answer["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["index"].as_u64().unwrap(),
                m["line"].as_u64().unwrap(),
                m["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, [(2, 4, "is_fraud"), (4, 6, "labelled_at")]);

    let missing = handle_with(
        &client,
        json!({"action": "labels", "uri": format!("s3://{bucket}/labels/none.csv")}),
        None,
        Some(&s3),
    )
    .await
    .unwrap_err();
    assert!(missing.to_string().contains("does not exist"), "{missing}");
}

#[tokio::test]
async fn quality_action_returns_the_window_and_stores_it() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    // Labelled by descending probability: F L F L. PR-AUC = ½·1 + ½·⅔ = ⅚; alerts a (tp)
    // and b (fp), c missed: precision ½, recall ½, F1 ½. d's later label overrides the
    // API's.
    scored(
        &client,
        &[
            ("a", 0.9, "block", Some(true)),
            ("b", 0.8, "review", Some(false)),
            ("c", 0.7, "approve", None),
            ("d", 0.1, "approve", Some(true)),
        ],
    )
    .await;
    handle(
        &client,
        json!({"action": "labels", "labels": [row("c", true), row("d", false)]}),
    )
    .await
    .unwrap();
    let answer = handle(
        &client,
        json!({"action": "quality", "model_version": "v1", "since": "2026-12-01T10:00:00Z"}),
    )
    .await
    .unwrap();
    let q = serde_json::to_value(answer).unwrap();
    let mut figures = q.clone();
    figures.as_object_mut().unwrap().remove("computed_at");
    let pr_auc = 0.5 + 0.5 * 2.0 / 3.0;
    assert_eq!(
        figures,
        json!({
            "model_version": "v1", "since": "2026-12-01T10:00:00Z", "until": null,
            "volume": 4, "labelled": 4, "frauds": 2, "alerts": 2, "blocks": 1,
            "alert_rate": 0.5, "block_rate": 0.25, "pr_auc": pr_auc,
            "precision": 0.5, "recall": 0.5, "f1": 0.5
        })
    );
    let stored: i64 = client
        .query_one("SELECT count(*) FROM model_quality WHERE model_version = 'v1' AND window_until = 'infinity'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn bad_labels_and_quality_events_name_the_field() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    for (event, expected) in [
        (json!({"action": "labels"}), "exactly one of `labels`"),
        (
            json!({"action": "labels", "labels": {"a": 1}}),
            "field `labels` must be an array",
        ),
        (
            json!({"action": "labels", "labels": [], "uri": "s3://b/k"}),
            "exactly one of",
        ),
        (json!({"action": "labels", "uri": "b/k.csv"}), "field `uri`"),
        (
            json!({"action": "labels", "labels": [], "source": " "}),
            "field `source` is empty",
        ),
        (json!({"action": "quality"}), "needs `model_version`"),
        (
            json!({"action": "quality", "model_version": "v1", "since": "monday"}),
            "field `since`",
        ),
        (
            json!({"action": "quality", "model_version": "v1", "since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}),
            "must be before",
        ),
        (
            json!({"action": "quality", "model_version": "v1", "limit": 3}),
            "unknown field `limit`",
        ),
    ] {
        let err = handle(&client, event.clone()).await.unwrap_err();
        assert!(matches!(err, TrackError::BadEvent(_)), "{event}: {err}");
        assert!(err.to_string().contains(expected), "{event}: {err}");
    }
}
