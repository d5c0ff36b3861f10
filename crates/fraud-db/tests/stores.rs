//! The stores against the real local PostgreSQL: each test runs in a database of its
//! own, created for it and dropped afterwards.

use chrono::{TimeZone, Utc};
use fraud_core::features::CardHistory;
use fraud_core::scoring::{Decision, Outcome};
use fraud_core::Transaction;
use fraud_db::scratch::{column, ScratchDatabase};
use fraud_db::{
    CardStateStore, DbError, RecordOutcome, RunStore, ScoredLedger, ScoredTransaction, TrainingRun,
};
use serde_json::json;

/// A valid Sparkov payment, parsed like a Kafka message.
fn transaction(cc_num: u64, trans_num: &str, time: &str, amt: f64) -> Transaction {
    let message = json!({
        "trans_date_trans_time": time,
        "cc_num": cc_num,
        "merchant": "fraud_Schmitt Inc",
        "category": "gas_transport",
        "amt": amt,
        "first": "Robert",
        "last": "Sanchez",
        "gender": "M",
        "street": "7314 Johnson Square Apt. 296",
        "city": "Parkers Lake",
        "state": "KY",
        "zip": "42634",
        "lat": 36.8347,
        "long": -84.4436,
        "city_pop": 1565,
        "job": "Designer, industrial/product",
        "dob": "1968-07-24",
        "trans_num": trans_num,
        "merch_lat": 35.945631,
        "merch_long": -83.733495,
    });
    Transaction::from_json(message.to_string().as_bytes()).unwrap()
}

/// A history built by the real feature pipeline.
fn history(cc_num: u64, payments: usize) -> CardHistory {
    let mut h = CardHistory::default();
    for i in 0..payments {
        let time = format!("2019-01-0{} 1{i}:00:00", 1 + i % 5);
        h.observe(&transaction(
            cc_num,
            &format!("t{cc_num}-{i}"),
            &time,
            10.0 + i as f64,
        ));
    }
    assert_eq!(h.len(), payments);
    h
}

fn run(model_version: &str) -> TrainingRun {
    TrainingRun {
        run_id: TrainingRun::run_id_for(model_version),
        model_version: model_version.into(),
        created_at: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
        learner: "cart".into(),
        data_uri: "s3://fraud-data/train.csv".into(),
        data_sha256: "ab".repeat(32),
        train_rows: 60_000,
        validation_rows: 10_000,
        test_rows: 30_000,
        threshold: 0.42,
        pr_auc: 0.81,
        roc_auc: 0.99,
        f1: 0.77,
        params: json!({"learner": "cart", "n_trees": 300}),
        metrics: json!({"test": {"pr_auc": 0.81}}),
        artifact_uri: format!("s3://fraud-models/models/{model_version}/model.json"),
        promoted: false,
        report_uri: None,
    }
}

fn scored(trans_num: &str, cc_num: u64) -> ScoredTransaction {
    ScoredTransaction {
        trans_num: trans_num.into(),
        cc_num,
        event_time: Utc.with_ymd_and_hms(2019, 1, 1, 6, 14, 0).unwrap(),
        probability: 0.93,
        decision: Decision::Block,
        model_version: "20240501T120000Z-0badcafe".into(),
        outcome: Outcome::Block,
        is_fraud: None,
    }
}

#[tokio::test]
async fn recording_the_same_run_twice_keeps_one_row() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let runs = RunStore::new(&client);
    let first = run("20240501T120000Z-0badcafe");

    assert_eq!(
        runs.record_run(&first).await.unwrap(),
        RecordOutcome::Inserted
    );
    assert_eq!(
        runs.record_run(&first).await.unwrap(),
        RecordOutcome::Duplicate
    );

    assert_eq!(runs.list_runs(10).await.unwrap(), vec![first.clone()]);
    assert_eq!(
        runs.get_run(&first.model_version).await.unwrap(),
        Some(first)
    );
}

#[tokio::test]
async fn report_uri_is_stored_and_a_retry_without_it_keeps_it() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let runs = RunStore::new(&client);
    let version = "20240501T120000Z-0badcafe";
    let uri = format!("s3://fraud-models/models/{version}/report/index.html");
    let with_report = TrainingRun {
        report_uri: Some(uri.clone()),
        ..run(version)
    };
    runs.record_run(&with_report).await.unwrap();
    assert_eq!(
        runs.get_run(version).await.unwrap().unwrap().report_uri,
        Some(uri.clone())
    );
    runs.record_run(&run(version)).await.unwrap();
    assert_eq!(
        runs.get_run(version).await.unwrap().unwrap().report_uri,
        Some(uri)
    );
    let empty = TrainingRun {
        report_uri: Some(" ".into()),
        ..run("20240502T120000Z-0badcafe")
    };
    let err = runs.record_run(&empty).await.unwrap_err();
    assert!(err.to_string().contains("report_uri"), "{err}");
}

#[tokio::test]
async fn retry_does_not_demote_a_promoted_run() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let runs = RunStore::new(&client);
    let r = run("20240501T120000Z-0badcafe");
    runs.record_run(&r).await.unwrap();
    runs.mark_promoted(&r.model_version).await.unwrap();
    runs.mark_promoted(&r.model_version).await.unwrap();

    assert_eq!(runs.record_run(&r).await.unwrap(), RecordOutcome::Duplicate);
    assert!(
        runs.get_run(&r.model_version)
            .await
            .unwrap()
            .unwrap()
            .promoted
    );
}

#[tokio::test]
async fn promoting_an_unknown_version_says_so() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let err = RunStore::new(&client)
        .mark_promoted("no-such-version")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DbError::UnknownRun(ref v) if v == "no-such-version"),
        "{err}"
    );
}

#[tokio::test]
async fn same_version_under_another_run_id_is_a_conflict() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let runs = RunStore::new(&client);
    let original = run("20240501T120000Z-0badcafe");
    runs.record_run(&original).await.unwrap();

    let mut other_id = original.clone();
    other_id.run_id = uuid::Uuid::new_v4();
    let err = runs.record_run(&other_id).await.unwrap_err();
    assert!(matches!(err, DbError::RunConflict { .. }), "{err}");

    let mut other_version = original.clone();
    other_version.model_version = "20240502T120000Z-0badcafe".into();
    let err = runs.record_run(&other_version).await.unwrap_err();
    assert!(matches!(err, DbError::RunConflict { .. }), "{err}");

    assert_eq!(runs.list_runs(10).await.unwrap(), vec![original]);
}

#[tokio::test]
async fn runs_are_listed_newest_first_up_to_the_limit() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let runs = RunStore::new(&client);
    for day in 1..=3 {
        let mut r = run(&format!("2024050{day}T120000Z-0badcafe"));
        r.created_at = Utc.with_ymd_and_hms(2024, 5, day, 12, 0, 0).unwrap();
        runs.record_run(&r).await.unwrap();
    }
    let listed: Vec<String> = runs
        .list_runs(2)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.model_version)
        .collect();
    assert_eq!(
        listed,
        ["20240503T120000Z-0badcafe", "20240502T120000Z-0badcafe"]
    );
    assert_eq!(
        runs.get_run("20240509T000000Z-missing").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn card_histories_round_trip() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let store = CardStateStore::new(&client);
    let (a, b) = (
        history(4_006_047_418_382, 3),
        history(30_270_432_095_985, 5),
    );
    store
        .save(&[(4_006_047_418_382, &a), (30_270_432_095_985, &b)])
        .await
        .unwrap();

    let loaded = store
        .load(&[4_006_047_418_382, 30_270_432_095_985, 1])
        .await
        .unwrap();
    assert_eq!(loaded.len(), 2, "a card never saved is absent");
    assert_eq!(loaded[&4_006_047_418_382], a);
    assert_eq!(loaded[&30_270_432_095_985], b);
}

#[tokio::test]
async fn saving_again_replaces_the_history_and_last_duplicate_wins() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let store = CardStateStore::new(&client);
    let card = 4_006_047_418_382;
    let (short, long, longer) = (history(card, 1), history(card, 4), history(card, 6));
    store.save(&[(card, &short)]).await.unwrap();
    store.save(&[(card, &long), (card, &longer)]).await.unwrap();

    assert_eq!(store.load(&[card]).await.unwrap()[&card], longer);
    assert!(store.load(&[]).await.unwrap().is_empty());
    store.save(&[]).await.unwrap();
}

#[tokio::test]
async fn card_numbers_above_i64_max_round_trip() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let store = CardStateStore::new(&client);
    let big = [i64::MAX as u64 + 1, 9_999_999_999_999_999_999, u64::MAX];
    let histories: Vec<CardHistory> = big.iter().map(|&cc| history(cc, 2)).collect();
    let pairs: Vec<(u64, &CardHistory)> = big.iter().copied().zip(&histories).collect();
    store.save(&pairs).await.unwrap();

    let loaded = store.load(&big).await.unwrap();
    for (cc, h) in big.iter().zip(&histories) {
        assert_eq!(&loaded[cc], h, "card {cc}");
    }
    let stored: Vec<String> = column(
        &client,
        "SELECT cc_num::text AS digits FROM card_history ORDER BY cc_num",
    )
    .await;
    assert_eq!(
        stored,
        big.map(|cc| cc.to_string()),
        "stored as the number itself"
    );

    let ledger = ScoredLedger::new(&client);
    assert_eq!(
        ledger.claim(&[scored("big", u64::MAX)]).await.unwrap(),
        ["big"]
    );
}

#[tokio::test]
async fn redelivered_batch_claims_only_new_transactions() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let ledger = ScoredLedger::new(&client);
    let first = [scored("a", 1), scored("b", 2)];
    assert_eq!(ledger.claim(&first).await.unwrap(), ["a", "b"]);

    // The same batch again, plus one new payment and a duplicate inside the batch.
    let redelivered = [
        scored("b", 2),
        scored("c", 3),
        scored("a", 1),
        scored("c", 3),
    ];
    assert_eq!(ledger.claim(&redelivered).await.unwrap(), ["c"]);
    assert!(ledger.claim(&first).await.unwrap().is_empty());
    assert!(ledger.claim(&[]).await.unwrap().is_empty());
    assert_eq!(ledger.count().await.unwrap(), 3);
}

/// In `tx`: claims payment `a` of `card` (newly) and saves the card's history `h`.
async fn claim_and_save(tx: &tokio_postgres::Transaction<'_>, card: u64, h: &CardHistory) {
    assert_eq!(
        ScoredLedger::new(tx)
            .claim(&[scored("a", card)])
            .await
            .unwrap(),
        ["a"]
    );
    CardStateStore::new(tx).save(&[(card, h)]).await.unwrap();
}

#[tokio::test]
async fn ledger_and_card_state_roll_back_together() {
    let db = ScratchDatabase::create().await;
    let mut client = db.migrated().await;
    let card = 4_006_047_418_382;
    let h = history(card, 2);
    {
        let tx = client.transaction().await.unwrap();
        claim_and_save(&tx, card, &h).await;
        tx.rollback().await.unwrap();
    }
    assert_eq!(ScoredLedger::new(&client).count().await.unwrap(), 0);
    assert!(CardStateStore::new(&client)
        .load(&[card])
        .await
        .unwrap()
        .is_empty());

    let tx = client.transaction().await.unwrap();
    claim_and_save(&tx, card, &h).await;
    tx.commit().await.unwrap();
    assert_eq!(
        CardStateStore::new(&client).load(&[card]).await.unwrap()[&card],
        h
    );
}

#[tokio::test]
async fn a_locked_card_waits_for_the_holder_to_commit_and_other_cards_do_not() {
    let db = ScratchDatabase::create().await;
    let mut first = db.migrated().await;
    let mut second = db.connect().await;
    let mut third = db.connect().await;
    // Card numbers above i64::MAX and ones sharing their low 32 bits are distinct locks.
    let (card, other) = (u64::MAX - 1, (u64::MAX - 1) & 0xFFFF_FFFF);

    let holder = first.transaction().await.unwrap();
    CardStateStore::new(&holder).lock(&[card]).await.unwrap();

    let other_txn = third.transaction().await.unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        CardStateStore::new(&other_txn).lock(&[other]),
    )
    .await
    .expect("a different card is not blocked")
    .unwrap();
    other_txn.commit().await.unwrap();

    let waiter = second.transaction().await.unwrap();
    {
        let waiter_store = CardStateStore::new(&waiter);
        let cards = [card, other];
        let waiting = waiter_store.lock(&cards);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(300), &mut waiting)
                .await
                .is_err(),
            "the second transaction must wait while the first holds the card"
        );
        CardStateStore::new(&holder)
            .save(&[(card, &history(card, 2))])
            .await
            .unwrap();
        holder.commit().await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("granted once the holder committed")
            .unwrap();
        // What the holder saved is what the waiter now reads.
        let loaded = waiter_store.load(&[card]).await.unwrap();
        assert_eq!(loaded[&card].len(), 2);
    }
    waiter.commit().await.unwrap();
}

#[tokio::test]
async fn a_decided_payment_keeps_its_answer_and_its_record_is_taken_by_the_stream_once() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let ledger = ScoredLedger::new(&client);
    let answer = r#"{"trans_num":"d1","decision":"review"}"#;
    let mut row = scored("d1", 42);
    row.outcome = Outcome::Review;
    assert!(ledger.claim_decision(&row, answer).await.unwrap());
    // Asked again: nothing new is written and the first answer is what the ledger holds.
    assert!(!ledger
        .claim_decision(&row, r#"{"other":true}"#)
        .await
        .unwrap());
    let entry = ledger.entry("d1").await.unwrap().unwrap();
    assert_eq!(entry.via, "decide");
    assert_eq!(entry.outcome, Outcome::Review);
    let kept: serde_json::Value = serde_json::from_str(entry.answer.as_deref().unwrap()).unwrap();
    assert_eq!(
        kept,
        serde_json::from_str::<serde_json::Value>(answer).unwrap()
    );
    assert!(ledger.entry("unknown").await.unwrap().is_none());

    // The payment reaches the stream: its claim finds it decided, and the stream takes
    // the undelivered record exactly once; a stream-scored payment is never taken.
    assert!(ledger
        .claim(&[scored("d1", 42), scored("s1", 42)])
        .await
        .unwrap()
        .eq(&["s1".to_owned()]));
    let taken = ledger
        .take_undelivered_decisions(&["d1", "s1"])
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].0, "d1");
    assert!(ledger
        .take_undelivered_decisions(&["d1", "s1"])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ledger.entry("s1").await.unwrap().unwrap().outcome,
        Outcome::Block
    );
}
