//! The synchronous decision API against the real local services, sharing the stream's
//! model, rules, card histories and ledger. Needs `make stack-up`; fails (never skips)
//! without it.

mod common;

use common::{event, generated, train, Stack};

use fraud_aws::{ModelStore, RulesStore, RulesUploadError};
use fraud_core::scoring::{DecidedBy, DecisionAnswer, Outcome};
use fraud_core::Transaction;
use fraud_db::{CardStateStore, ScoredLedger};
use fraud_fn_score::Scorer;
use serde_json::{json, Value};

/// A stack with a trained, promoted model and a scorer over it.
async fn ready() -> (Stack, Scorer, Vec<Transaction>) {
    let stack = Stack::new().await;
    let history = generated(200, 40, 3);
    let artifact = train(history.clone(), 3);
    let store = ModelStore::new(stack.s3.clone(), stack.models_bucket.clone());
    let uri = store.put(&artifact).await.unwrap();
    store.promote(&artifact, &uri).await.unwrap();
    let scorer = Scorer::new(stack.config(), &stack.aws).await.unwrap();
    // Later payments of the same cards.
    let live: Vec<Transaction> =
        fraud_generator::Generator::new(fraud_generator::GeneratorConfig {
            customers: 200,
            days: 2,
            seed: 3,
            start: chrono::NaiveDate::from_ymd_opt(2019, 2, 11).unwrap(),
            ..fraud_generator::GeneratorConfig::default()
        })
        .unwrap()
        .all()
        .collect();
    (stack, scorer, live)
}

fn rules_store(stack: &Stack) -> RulesStore {
    RulesStore::new(stack.s3.clone(), stack.models_bucket.clone())
}

/// A Function URL request (API Gateway v2 payload) with `body`.
fn http_request(body: &str) -> Value {
    json!({
        "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/"}, "requestId": "r1"},
        "body": body, "isBase64Encoded": false
    })
}

async fn decide(scorer: &Scorer, tx: &Transaction) -> DecisionAnswer {
    let out = scorer
        .handle_event(serde_json::from_slice(&tx.to_json()).unwrap())
        .await
        .unwrap();
    serde_json::from_value(out).unwrap()
}

#[tokio::test]
async fn a_decided_payment_arriving_on_kafka_is_counted_once_and_alerted_once() {
    let (stack, scorer, live) = ready().await;
    let target = live[5].clone();
    rules_store(&stack)
        .put(
            json!({"version": "r1", "rules": [{
                "name": "watched-card", "when": format!("cc_num == {} && amt > 0", target.cc_num),
                "outcome": "block", "reason": "R_WATCHED"}]})
            .to_string()
            .as_bytes(),
        )
        .await
        .unwrap();

    let first = decide(&scorer, &target).await;
    assert_eq!(first.decision, Outcome::Block, "{first:?}");
    assert_eq!(first.decided_by, DecidedBy::Rule);
    assert_eq!(first.rules_fired[0].name, "watched-card");
    assert_eq!(first.rules_version.as_deref(), Some("r1"));
    assert!(!first.repeated);
    let timings = first.timings.expect("a fresh decision reports its timings");
    assert!(timings.load_ms > 0.0 && timings.write_ms > 0.0);

    // The same trans_num again: the same answer, nothing new written.
    let again = decide(&scorer, &target).await;
    assert!(again.repeated);
    assert_eq!(
        (again.probability, again.decision),
        (first.probability, first.decision)
    );
    assert_eq!(again.rules_fired, first.rules_fired);
    assert!(
        stack.drain_alerts().await.is_empty(),
        "the decision itself sends no alert"
    );

    // The card's payments, the decided one among them, reach the stream.
    let card: Vec<Transaction> = live
        .iter()
        .filter(|t| t.cc_num == target.cc_num)
        .cloned()
        .collect();
    let batch = scorer.handle(event(&card, 0, &[])).await.unwrap();
    assert_eq!(batch.decided_synchronously, 1);
    assert_eq!(batch.scored, card.len() - 1);
    assert_eq!(batch.duplicates, 0);
    let alerts = stack.drain_alerts().await;
    assert_eq!(
        alerts.get(&target.trans_num),
        Some(&1),
        "one alert for the decided payment"
    );

    // Redelivered: nothing is written twice.
    let redelivered = scorer.handle(event(&card, 0, &[])).await.unwrap();
    assert_eq!(
        (redelivered.scored, redelivered.decided_synchronously),
        (0, 0)
    );
    assert_eq!(redelivered.duplicates, card.len());
    assert!(stack.drain_alerts().await.is_empty());

    let client = stack.db.connect().await;
    assert_eq!(
        ScoredLedger::new(&client).count().await.unwrap(),
        card.len() as u64
    );
    let histories = CardStateStore::new(&client)
        .load(&[target.cc_num])
        .await
        .unwrap();
    assert_eq!(
        histories[&target.cc_num].len(),
        card.len(),
        "each payment in the card's history once"
    );
}

#[tokio::test]
async fn a_rule_firing_in_the_stream_changes_the_decision_and_shows_in_the_alert() {
    let (stack, scorer, live) = ready().await;
    let target = live[7].clone();
    rules_store(&stack)
        .put(
            json!({"version": "r2", "rules": [{
                "name": "watched-card", "when": format!("cc_num == {}", target.cc_num),
                "outcome": "block", "reason": "R_WATCHED"}]})
            .to_string()
            .as_bytes(),
        )
        .await
        .unwrap();
    let batch = scorer
        .handle(event(std::slice::from_ref(&target), 0, &[]))
        .await
        .unwrap();
    assert_eq!((batch.scored, batch.alerts), (1, 1));
    let alerts = stack.drain_alerts_bodies().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["outcome"], "block");
    assert_eq!(alerts[0]["rules_fired"][0]["name"], "watched-card");
    assert_eq!(alerts[0]["rules_fired"][0]["reason"], "R_WATCHED");
    assert_eq!(alerts[0]["rules_version"], "r2");
}

#[tokio::test]
async fn a_broken_rules_document_is_refused_and_the_last_good_one_keeps_serving() {
    let (stack, scorer, live) = ready().await;
    let store = rules_store(&stack);
    store
        .put(br#"{"version": "good", "block": {"merchants": ["fraud_Nobody"]}}"#)
        .await
        .unwrap();
    assert_eq!(
        decide(&scorer, &live[0]).await.rules_version.as_deref(),
        Some("good")
    );

    // Refused at upload, naming the rule.
    let broken = br#"{"version": "bad", "rules": [{"name": "typo", "when": "amt > 10 &&", "outcome": "block", "reason": "R"}]}"#;
    match store.put(broken).await {
        Err(RulesUploadError::Refused(e)) => assert!(e.to_string().contains("typo"), "{e}"),
        other => panic!("a broken document was not refused: {other:?}"),
    }
    // Written around the check (by hand): never served; the last good one stays.
    let put = |key: &'static str, body: Vec<u8>| {
        fraud_aws::put_bytes(
            &stack.s3,
            &stack.models_bucket,
            key,
            body,
            "application/json",
        )
    };
    put("rules/bad.json", broken.to_vec()).await.unwrap();
    put(
        "rules/current.json",
        json!({"version": "bad", "uri": "s3://x/rules/bad.json", "uploaded_at": "now"})
            .to_string()
            .into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(
        decide(&scorer, &live[1]).await.rules_version.as_deref(),
        Some("good")
    );
}

#[tokio::test]
async fn allow_list_wins_over_the_block_list_and_rules_as_documented() {
    let (stack, scorer, live) = ready().await;
    let tx = &live[2];
    rules_store(&stack)
        .put(
            json!({"version": "lists",
                   "allow": {"cards": [tx.cc_num]},
                   "block": {"cards": [tx.cc_num], "merchants": [live[3].merchant]},
                   "rules": [{"name": "all", "when": "amt > 0", "outcome": "block", "reason": "R_ALL"}]})
            .to_string()
            .as_bytes(),
        )
        .await
        .unwrap();
    let allowed = decide(&scorer, tx).await;
    assert_eq!(
        (allowed.decision, allowed.decided_by),
        (Outcome::Approve, DecidedBy::AllowList)
    );
    let blocked = decide(&scorer, &live[3]).await;
    if live[3].cc_num != tx.cc_num {
        assert_eq!(
            (blocked.decision, blocked.decided_by),
            (Outcome::Block, DecidedBy::BlockList)
        );
    }
}

#[tokio::test]
async fn bad_input_over_the_function_url_is_a_400_naming_the_field_and_nothing_is_written() {
    let (stack, scorer, live) = ready().await;
    let mut bad = serde_json::to_value(&live[0]).unwrap();
    bad["amt"] = json!(-5);
    let out = scorer
        .handle_event(http_request(&bad.to_string()))
        .await
        .unwrap();
    assert_eq!(out["statusCode"], 400);
    let body: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("amt") && error.contains("-5"), "{error}");

    let ok = scorer
        .handle_event(http_request(
            std::str::from_utf8(&live[1].to_json()).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(ok["statusCode"], 200);
    let answer: DecisionAnswer = serde_json::from_str(ok["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer.trans_num, live[1].trans_num);

    let client = stack.db.connect().await;
    assert_eq!(
        ScoredLedger::new(&client).count().await.unwrap(),
        1,
        "only the good payment"
    );
}
