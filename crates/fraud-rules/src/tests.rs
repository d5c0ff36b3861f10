use super::*;
use fraud_core::scoring::Decision;
use fraud_core::{FEATURE_NAMES, N_FEATURES};

fn payment(amt: f64, category: &str, merchant: &str, cc_num: u64) -> Transaction {
    let json = serde_json::json!({
        "trans_date_trans_time": "2020-06-21 12:14:25", "cc_num": cc_num.to_string(),
        "merchant": merchant, "category": category, "amt": amt, "first": "Ada", "last": "Lovelace",
        "gender": "F", "street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701",
        "lat": 39.8, "long": -89.6, "city_pop": 116250, "job": "Engineer", "dob": "1980-01-02",
        "trans_num": "t-1", "unix_time": 1371816865, "merch_lat": 39.9, "merch_long": -89.7
    });
    Transaction::from_json(json.to_string().as_bytes()).unwrap()
}

fn features(card_count_1h: f64) -> FeatureVector {
    let mut f = [0.0; N_FEATURES];
    f[FEATURE_NAMES
        .iter()
        .position(|n| *n == "card_count_1h")
        .unwrap()] = card_count_1h;
    f
}

fn model(tx: &Transaction, probability: f64, outcome: Outcome) -> Score {
    Score {
        trans_num: tx.trans_num.clone(),
        cc_num: tx.cc_num,
        amt: tx.amt,
        probability,
        decision: outcome.into(),
        model_version: "m1".into(),
        outcome,
        reasons: Vec::new(),
        rules_fired: Vec::new(),
        rules_version: None,
    }
}

fn doc(rules: serde_json::Value) -> Vec<u8> {
    serde_json::json!({"version": "v1", "rules": rules})
        .to_string()
        .into_bytes()
}

fn refusal(rules: serde_json::Value) -> RulesError {
    Rules::parse(&doc(rules)).unwrap_err()
}

fn rule(when: &str, outcome: &str) -> serde_json::Value {
    serde_json::json!([{"name": "r", "when": when, "outcome": outcome, "reason": "R_X"}])
}

#[test]
fn the_issues_example_rule_fires_only_when_every_part_holds() {
    let rules = Rules::parse(&doc(rule(
        r#"amt > 2000 && category == "shopping_net" && card_count_1h >= 3"#,
        "review",
    )))
    .unwrap();
    let hit = payment(2500.0, "shopping_net", "m", 42);
    let (score, by) = rules.apply(&hit, &features(3.0), model(&hit, 0.01, Outcome::Approve));
    assert_eq!((score.outcome, by), (Outcome::Review, DecidedBy::Rule));
    assert_eq!(score.decision, Decision::Block, "a review raises an alert");
    assert_eq!(score.rules_fired[0].reason, "R_X");
    assert_eq!(score.rules_version.as_deref(), Some("v1"));
    for (tx, count) in [
        (payment(1999.0, "shopping_net", "m", 42), 3.0),
        (payment(2500.0, "grocery_pos", "m", 42), 3.0),
        (hit.clone(), 2.0),
    ] {
        let (score, by) = rules.apply(&tx, &features(count), model(&tx, 0.01, Outcome::Approve));
        assert_eq!((score.outcome, by), (Outcome::Approve, DecidedBy::Model));
        assert!(score.rules_fired.is_empty());
    }
}

#[test]
fn probability_and_the_models_outcome_can_be_used() {
    let rules = Rules::parse(&doc(rule(
        r#"model_outcome == "review" && probability < 0.6 && amt < 20.0"#,
        "approve",
    )))
    .unwrap();
    let tx = payment(5.0, "gas_transport", "m", 1);
    let (score, by) = rules.apply(&tx, &features(0.0), model(&tx, 0.5, Outcome::Review));
    assert_eq!((score.outcome, by), (Outcome::Approve, DecidedBy::Rule));
    let (score, _) = rules.apply(&tx, &features(0.0), model(&tx, 0.7, Outcome::Review));
    assert_eq!(score.outcome, Outcome::Review);
}

#[test]
fn precedence_allow_then_block_then_review_with_the_model_as_default_rules() {
    let tx = payment(10.0, "misc_net", "fraud_Shop", 7);
    let body = |allow: bool, block: bool, rules: serde_json::Value| {
        let mut d = serde_json::json!({"version": "p", "rules": rules});
        if allow {
            d["allow"] = serde_json::json!({"cards": [7]});
        }
        if block {
            d["block"] = serde_json::json!({"merchants": ["fraud_Shop"]});
        }
        Rules::parse(d.to_string().as_bytes()).unwrap()
    };
    let review = rule("amt > 1.0", "review");
    let block = rule("amt > 1.0", "block");
    let run = |r: &Rules, m: Outcome| {
        let (s, by) = r.apply(&tx, &features(0.0), model(&tx, 0.5, m));
        (s.outcome, by)
    };
    // The allow list wins over the block list, block rules and the model.
    assert_eq!(
        run(&body(true, true, block.clone()), Outcome::Block),
        (Outcome::Approve, DecidedBy::AllowList)
    );
    // The block list wins over a review rule and the model's approve.
    assert_eq!(
        run(&body(false, true, review.clone()), Outcome::Approve),
        (Outcome::Block, DecidedBy::BlockList)
    );
    // A block rule raises the model's approve; a review rule cannot lower its block.
    assert_eq!(
        run(&body(false, false, block), Outcome::Approve),
        (Outcome::Block, DecidedBy::Rule)
    );
    assert_eq!(
        run(&body(false, false, review.clone()), Outcome::Block),
        (Outcome::Block, DecidedBy::Model)
    );
    assert_eq!(
        run(&body(false, false, review), Outcome::Approve),
        (Outcome::Review, DecidedBy::Rule)
    );
    // Every entry that fired is reported, not only the one that settled it.
    let all = body(true, true, rule("amt > 1.0", "block"));
    let (s, _) = all.apply(&tx, &features(0.0), model(&tx, 0.5, Outcome::Approve));
    let names: Vec<&str> = s.rules_fired.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["allow_list", "block_list", "r"]);
}

#[test]
fn no_document_leaves_the_models_score_untouched() {
    let tx = payment(10.0, "misc_net", "m", 7);
    let score = model(&tx, 0.9, Outcome::Block);
    let (out, by) = Rules::none().apply(&tx, &features(0.0), score.clone());
    assert_eq!((out, by), (score, DecidedBy::Model));
}

#[test]
fn a_syntax_error_names_the_rule_and_the_column() {
    let e = refusal(
        serde_json::json!([{"name": "typo", "when": "amt > 10 &&", "outcome": "block", "reason": "R"}]),
    );
    let RulesError::Expression {
        name,
        column,
        message,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((name.as_str(), *column), ("typo", 10), "{message}");
    assert!(
        e.to_string()
            .contains("rules[0] `typo`, `when` at column 10"),
        "{e}"
    );
    let e = refusal(rule("(amt > 10 && amt < 20", "block"));
    assert!(matches!(e, RulesError::Expression { column: 1, .. }), "{e}");
    let e = refusal(rule(r#"merchant == "abc"#, "block"));
    assert!(
        matches!(e, RulesError::Expression { column: 13, .. }),
        "{e}"
    );
}

#[test]
fn unknown_names_and_functions_are_refused_where_they_are() {
    let e = refusal(rule("amt > 10.0 && card_cnt_1h > 2", "block"));
    assert!(
        matches!(&e, RulesError::Expression { column: 15, message, .. } if message.contains("card_cnt_1h")),
        "{e}"
    );
    let e = refusal(rule("random() > 0.5", "block"));
    assert!(e.to_string().contains("unknown function `random`"), "{e}");
    let e = refusal(rule("is_fraud == true", "block"));
    assert!(
        e.to_string().contains("unknown name `is_fraud`"),
        "the label is never an input: {e}"
    );
}

#[test]
fn type_errors_are_refused_at_upload_not_found_on_a_payment() {
    for (when, says) in [
        ("category > 3", "compares a string with an integer"),
        ("card_count_1h == 3.0", "never equal"),
        ("amt == 100", "never equal"),
        ("amt + merchant > 1", "needs numbers"),
        ("amt", "not a condition"),
        ("amt > 1.0 && 3", "needs conditions"),
        ("a = 3", "assignments are not allowed"),
        (r#"contains(("a", 2), category)"#, "not all of that type"),
    ] {
        let e = refusal(rule(when, "block"));
        assert!(e.to_string().contains(says), "{when}: {e}");
    }
    // The same conditions written with matching types pass.
    for when in [
        r#"category == "shopping_net""#,
        "card_count_1h == 3",
        "amt == 100.0",
        r#"contains(("shopping_net", "misc_net"), category)"#,
        "max((card_amt_mean_7d, 100.0)) < amt * 3",
        r#"len(str::trim(merchant)) > 3 || !(state == "NY")"#,
    ] {
        Rules::parse(&doc(rule(when, "block"))).unwrap_or_else(|e| panic!("{when}: {e}"));
    }
}

#[test]
fn the_document_itself_is_checked() {
    let bad = |body: &str, says: &str| {
        let e = Rules::parse(body.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(says), "{body}: {e}");
    };
    bad(r#"{"version": "v", "rule": []}"#, "unknown field `rule`");
    bad(r#"{"version": "../x", "rules": []}"#, "version `../x`");
    bad(r#"{"version": "current"}"#, "not `current`");
    bad(
        r#"{"version": "v", "block": {"cards": ["12ab"]}}"#,
        "`12ab` is not a card number",
    );
    bad(
        r#"{"version": "v", "rules": [{"name": "a", "when": "amt > 1.0", "outcome": "deny", "reason": "R"}]}"#,
        "unknown variant `deny`",
    );
    bad(
        r#"{"version": "v", "rules": [{"name": "a", "when": "amt > 1.0", "outcome": "block", "reason": "R"},
                                     {"name": "a", "when": "amt > 2.0", "outcome": "block", "reason": "R"}]}"#,
        "rules[1] `a`: another rule has the same name",
    );
    bad(
        r#"{"version": "v", "rules": [{"name": "a", "when": "amt > 1.0", "outcome": "block", "reason": " "}]}"#,
        "reason",
    );
}

#[test]
fn a_rule_failing_on_a_payment_does_not_fire() {
    // Integer division by a zero count: checked types, but a runtime error.
    let rules = Rules::parse(&doc(rule("10 / card_count_1h > 1", "block"))).unwrap();
    let tx = payment(10.0, "misc_net", "m", 7);
    let (score, by) = rules.apply(&tx, &features(0.0), model(&tx, 0.1, Outcome::Approve));
    assert_eq!((score.outcome, by), (Outcome::Approve, DecidedBy::Model));
    let (score, _) = rules.apply(&tx, &features(2.0), model(&tx, 0.1, Outcome::Approve));
    assert_eq!(score.outcome, Outcome::Block);
}

#[test]
fn the_example_document_in_the_repository_checks() {
    let example = include_bytes!("../../../rules/example.json");
    let rules = Rules::parse(example).unwrap();
    assert!(rules.len() >= 3);
}
