//! Labels and live quality against the real local PostgreSQL: each test runs in a
//! database of its own, created for it and dropped afterwards.

use chrono::{DateTime, TimeZone, Utc};
use fraud_core::scoring::{Decision, Outcome};
use fraud_db::scratch::ScratchDatabase;
use fraud_db::{
    Client, Label, LabelConflict, LabelReport, LabelStore, QualityStore, ScoredLedger,
    ScoredTransaction,
};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
}

fn scored(
    trans_num: &str,
    version: &str,
    event_time: DateTime<Utc>,
    probability: f64,
    outcome: Outcome,
    is_fraud: Option<bool>,
) -> ScoredTransaction {
    ScoredTransaction {
        trans_num: trans_num.into(),
        cc_num: 4_006_047_418_382,
        event_time,
        probability,
        decision: Decision::from(outcome),
        model_version: version.into(),
        outcome,
        is_fraud,
    }
}

fn label(trans_num: &str, is_fraud: bool) -> Label {
    Label {
        trans_num: trans_num.into(),
        is_fraud,
        labelled_at: at(20, 10),
    }
}

/// Records `(trans_num, is_fraud)` labels from `source`.
async fn record(
    labels: &LabelStore<'_, Client>,
    rows: &[(&str, bool)],
    source: &str,
) -> LabelReport {
    let rows: Vec<Label> = rows.iter().map(|&(t, y)| label(t, y)).collect();
    labels.record(&rows, source).await.unwrap()
}

/// A report of `received` rows, `recorded` of them new and `duplicates` already known,
/// with no conflicts and no unknown payments.
fn counts(received: u64, recorded: u64, duplicates: u64) -> LabelReport {
    LabelReport {
        received,
        recorded,
        duplicates,
        ..LabelReport::default()
    }
}

/// A refused label of `trans_num` against the `kept` one (so the refused is its opposite).
fn conflict(trans_num: &str, kept: bool) -> LabelConflict {
    LabelConflict {
        trans_num: trans_num.into(),
        kept,
        refused: !kept,
    }
}

/// The stored label of `trans_num` and its source.
async fn assert_label(
    labels: &LabelStore<'_, Client>,
    trans_num: &str,
    expected: Option<(bool, &str)>,
) {
    let stored = labels.get(trans_num).await.unwrap();
    assert_eq!(
        stored.as_ref().map(|(y, s)| (*y, s.as_str())),
        expected,
        "{trans_num}"
    );
}

/// A fresh migrated database in which `trans_nums` are scored (unlabelled).
async fn scored_database(trans_nums: &[&str]) -> (ScratchDatabase, Client) {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    score(&client, trans_nums).await;
    (db, client)
}

/// Scores `trans_nums` (unlabelled) so that labels for them are known.
async fn score(client: &Client, trans_nums: &[&str]) {
    let rows: Vec<ScoredTransaction> = trans_nums
        .iter()
        .map(|t| scored(t, "v1", at(1, 12), 0.5, Outcome::Approve, None))
        .collect();
    assert_eq!(
        ScoredLedger::new(client).claim(&rows).await.unwrap().len(),
        trans_nums.len()
    );
}

async fn api_label(client: &Client, trans_num: &str) -> Option<bool> {
    client
        .query_one(
            "SELECT is_fraud FROM scored_transactions WHERE trans_num = $1",
            &[&trans_num],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_payments_api_label_is_kept_with_the_result_by_both_claims() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let ledger = ScoredLedger::new(&client);
    let row = |t: &str, y| scored(t, "v1", at(1, 12), 0.5, Outcome::Approve, None).labelled(y);
    ledger
        .claim(&[row("f", Some(true)), row("l", Some(false)), row("n", None)])
        .await
        .unwrap();
    assert!(ledger
        .claim_decision(&row("d", Some(true)), "{}")
        .await
        .unwrap());
    assert_eq!(api_label(&client, "f").await, Some(true));
    assert_eq!(api_label(&client, "l").await, Some(false));
    assert_eq!(api_label(&client, "n").await, None);
    assert_eq!(api_label(&client, "d").await, Some(true));
}

#[tokio::test]
async fn the_same_label_again_is_a_duplicate_and_changes_nothing() {
    let (_db, client) = scored_database(&["a", "b"]).await;
    let labels = LabelStore::new(&client);

    let first = record(&labels, &[("a", true), ("b", false)], "chargebacks").await;
    assert_eq!(first, counts(2, 2, 0));
    // The batch again, with `a` twice: three duplicates, nothing recorded.
    let rows = [("a", true), ("b", false), ("a", true)];
    assert_eq!(record(&labels, &rows, "analysts").await, counts(3, 0, 3));
    // The same row twice in one new batch: one recorded, one duplicate.
    score(&client, &["c"]).await;
    let twice = record(&labels, &[("c", true), ("c", true)], "chargebacks").await;
    assert_eq!((twice.recorded, twice.duplicates), (1, 1));
    assert_label(&labels, "a", Some((true, "chargebacks"))).await;
}

#[tokio::test]
async fn a_conflicting_label_is_refused_and_the_first_stays() {
    let (_db, client) = scored_database(&["a", "b"]).await;
    let labels = LabelStore::new(&client);
    record(&labels, &[("a", true)], "chargebacks").await;

    // `a` against the stored label; `b` against its first row in the same batch.
    let rows = [("a", false), ("b", true), ("b", false)];
    assert_eq!(
        record(&labels, &rows, "analysts").await,
        LabelReport {
            conflicts: vec![conflict("a", true), conflict("b", true)],
            ..counts(3, 1, 0)
        }
    );
    assert_label(&labels, "a", Some((true, "chargebacks"))).await;
    assert_label(&labels, "b", Some((true, "analysts"))).await;
}

#[tokio::test]
async fn a_label_for_a_payment_never_scored_is_refused_as_unknown() {
    let (_db, client) = scored_database(&["a"]).await;
    let labels = LabelStore::new(&client);
    let rows = [("zz", true), ("a", false), ("zz", true)];
    assert_eq!(
        record(&labels, &rows, "chargebacks").await,
        LabelReport {
            unknown: vec!["zz".into(), "zz".into()],
            ..counts(3, 1, 0)
        }
    );
    assert_label(&labels, "zz", None).await;
    let stored: i64 = client
        .query_one("SELECT count(*) FROM labels", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
}

/// Six payments of `v1` in the window, one just after it and one of `v2`:
///
/// | trans_num | probability | outcome | API label | later label | truth |
/// |---|---|---|---|---|---|
/// | q1 | 0.9 | block (as an old row: decision only) | – | fraud | fraud |
/// | q2 | 0.8 | review | legit | – | legit |
/// | q3 | 0.7 | approve | fraud | – | fraud |
/// | q6 | 0.6 | review | fraud | legit | legit (the later label wins) |
/// | q4 | 0.3 | approve | legit | – | legit |
/// | q5 | 0.2 | approve | – | – | unlabelled |
///
/// Labelled by descending probability: F L F L L. PR-AUC = ½·1 + ½·⅔ = ⅚. Alerts among
/// the labelled: q1 (tp), q2, q6 (fp); q3 missed (fn): precision ⅓, recall ½,
/// F1 = 2·1 / (2·1 + 2 + 1) = 0.4. Alert rate 3/6, block rate 1/6.
#[tokio::test]
async fn live_quality_of_a_window_matches_the_hand_computed_figures_and_is_stored_once() {
    let db = ScratchDatabase::create().await;
    let client = db.migrated().await;
    let rows = [
        scored("q1", "v1", at(1, 0), 0.9, Outcome::Block, None),
        scored("q2", "v1", at(1, 1), 0.8, Outcome::Review, Some(false)),
        scored("q3", "v1", at(1, 2), 0.7, Outcome::Approve, Some(true)),
        scored("q6", "v1", at(1, 3), 0.6, Outcome::Review, Some(true)),
        scored("q4", "v1", at(1, 4), 0.3, Outcome::Approve, Some(false)),
        scored("q5", "v1", at(1, 5), 0.2, Outcome::Approve, None),
        scored("q7", "v1", at(2, 0), 0.95, Outcome::Block, Some(true)),
        scored("q8", "v2", at(1, 6), 0.1, Outcome::Approve, None),
    ];
    ScoredLedger::new(&client).claim(&rows).await.unwrap();
    client
        .execute(
            "UPDATE scored_transactions SET outcome = NULL WHERE trans_num = 'q1'",
            &[],
        )
        .await
        .unwrap();
    let report = record(
        &LabelStore::new(&client),
        &[("q1", true), ("q6", false)],
        "chargebacks",
    )
    .await;
    assert_eq!(report.recorded, 2);

    let quality = QualityStore::new(&client);
    let window = (Some(at(1, 0)), Some(at(2, 0)));
    let q = quality.compute("v1", window.0, window.1).await.unwrap();
    assert_eq!(
        (q.volume, q.labelled, q.frauds, q.alerts, q.blocks),
        (6, 5, 2, 3, 1)
    );
    close(q.alert_rate, 0.5);
    close(q.block_rate, 1.0 / 6.0);
    close(q.pr_auc, 5.0 / 6.0);
    close(q.precision, 1.0 / 3.0);
    close(q.recall, 0.5);
    close(q.f1, 0.4);

    // Recomputed: the stored window is replaced, not added.
    let again = quality.compute("v1", window.0, window.1).await.unwrap();
    let open = quality.compute("v1", None, None).await.unwrap();
    assert_eq!((open.volume, open.frauds, open.blocks), (7, 3, 2));
    let stored = quality.stored("v1").await.unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.contains(&again), "{stored:?}");
    assert!(stored.contains(&open), "{stored:?}");

    // No labels: the label figures are undefined, not zero.
    let unlabelled = quality.compute("v2", None, None).await.unwrap();
    assert_eq!((unlabelled.volume, unlabelled.labelled), (1, 0));
    close(unlabelled.alert_rate, 0.0);
    assert_eq!(
        (
            unlabelled.pr_auc,
            unlabelled.precision,
            unlabelled.recall,
            unlabelled.f1
        ),
        (None, None, None, None)
    );
}
