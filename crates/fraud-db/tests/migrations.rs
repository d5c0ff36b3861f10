//! Migrations against the real local PostgreSQL: each test runs in a database of its
//! own, created for it and dropped afterwards.

use fraud_db::migrate;
use fraud_db::scratch::{column, ScratchDatabase};

#[tokio::test]
async fn second_migration_is_a_no_op() {
    let db = ScratchDatabase::create().await;
    let mut client = db.connect().await;
    let first = migrate(&mut client).await.unwrap();
    assert!(first >= 3, "applied {first} migrations");
    assert_eq!(migrate(&mut client).await.unwrap(), 0);

    let recorded: Vec<i32> = column(
        &client,
        "SELECT version FROM schema_migrations ORDER BY version",
    )
    .await;
    assert_eq!(recorded, (1..=first as i32).collect::<Vec<_>>());
}

#[tokio::test]
async fn concurrent_starters_apply_each_migration_once() {
    let db = ScratchDatabase::create().await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(db.connect().await);
    }
    let runs = clients
        .into_iter()
        .map(|mut client| tokio::spawn(async move { migrate(&mut client).await }));
    let mut applied = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        applied.push(run.await.unwrap().unwrap());
    }
    applied.sort_unstable();
    // One starter applied everything, the others waited on the lock and found nothing to do.
    assert_eq!(applied[..3], [0, 0, 0]);
    assert!(applied[3] >= 3, "{applied:?}");
}

#[tokio::test]
async fn creates_the_tables() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let tables: Vec<String> = column(
        &client,
        "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name",
    )
    .await;
    assert_eq!(
        tables,
        [
            "card_history",
            "labels",
            "model_monitor",
            "model_quality",
            "schema_migrations",
            "scored_transactions",
            "training_runs"
        ]
    );
}

#[tokio::test]
async fn unreachable_server_is_a_connect_error_naming_the_target() {
    // Port 1 on localhost: nothing listens there.
    let err = fraud_db::connect("postgres://fraud:s3cret@127.0.0.1:1/fraud")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("cannot connect to PostgreSQL at fraud@127.0.0.1:1/fraud:"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}
