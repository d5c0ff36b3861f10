//! The rules document applied after the model, in the stream and in the synchronous
//! decision API alike: allow and block lists, and rules written as expressions over the
//! payment, its features and the model's probability.
//!
//! ```json
//! {
//!   "version": "2026-12-06.1",
//!   "description": "optional, for people",
//!   "allow": {"cards": [4992346398065154184], "merchants": ["fraud_Trusted Ltd"]},
//!   "block": {"cards": [], "merchants": ["fraud_Kuhn LLC"]},
//!   "rules": [
//!     {"name": "online-burst",
//!      "when": "amt > 2000.0 && category == \"shopping_net\" && card_count_1h >= 3",
//!      "outcome": "review", "reason": "R_ONLINE_BURST"}
//!   ]
//! }
//! ```
//!
//! **Names** a rule may use: every field of the payment (`amt`, `category`, `merchant`,
//! `cc_num`, `state`, `city_pop`, ... ; `is_fraud` never), every feature of the shared
//! pipeline ([`fraud_core::FEATURE_NAMES`]: `card_count_1h`, `amt_to_card_mean`,
//! `distance_km`, ...), `probability` (the model's calibrated probability) and
//! `model_outcome` (`"approve"`, `"review"` or `"block"`). Counts and flags are
//! integers, amounts and other measures floats, text is a string. The grammar is
//! [evalexpr](https://docs.rs/evalexpr/11)'s (`&&`, `||`, `!`, comparisons, arithmetic,
//! `"strings"`), with the pure functions `len`, `str::to_lowercase`, `str::to_uppercase`,
//! `str::trim`, `math::abs`, `floor`, `round`, `ceil`, `math::ln`, `math::log10`,
//! `math::sqrt`, `min`, `max` and `contains((list...), value)`.
//!
//! evalexpr is held at 11.3, its last MIT-licensed release (12 and later are AGPL-3.0,
//! which this Apache-2.0 product cannot take; `deny.toml` refuses it).
//!
//! **Checked at upload** ([`Rules::parse`], used by `fraudctl rules check`, by the
//! upload path and again by every scorer that loads a document): unknown fields, a
//! missing or duplicate name, a bad version, a syntax error, an unknown name or function,
//! operands of the wrong type (`category > 3`; `card_count_1h == 3.0`, which evalexpr
//! would read as always false) or a rule that is not a condition: each refused naming
//! the rule and the column.
//!
//! **Precedence** (Stripe Radar's order, with the model's thresholds as the default
//! rules):
//! 1. the allow list (card or merchant) and rules whose outcome is `approve`: approve;
//! 2. else the block list, block rules, or the model's block: block;
//! 3. else review rules or the model's review: review;
//! 4. else approve.
//!
//! Every rule is evaluated and all that fired are reported, whatever settled the
//! outcome. A rule that fails on a payment (an integer divided by zero) does not fire
//! and is logged. [`DecidedBy`] says what settled it: a list, a rule (a fired rule asked
//! for the outcome given), or the model.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};

use evalexpr::{Context, EvalexprError, EvalexprResult, Node, Value};
use fraud_core::features::FeatureVector;
use fraud_core::scoring::{DecidedBy, FiredRule, Outcome, Score};
use fraud_core::Transaction;
use serde::Deserialize;

mod check;
pub mod vars;

pub use check::ExprError;
use vars::{Inputs, VARS};

/// Largest rules document accepted (bytes).
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Why a rules document was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    #[error("the rules document is not valid: {0}")]
    Document(String),
    #[error("rules[{index}] `{name}`: {message}")]
    Rule {
        index: usize,
        name: String,
        message: String,
    },
    #[error("rules[{index}] `{name}`, `when` at column {column}: {message}\n  {when}\n  {caret:>column$}")]
    Expression {
        index: usize,
        name: String,
        column: usize,
        message: String,
        when: String,
        caret: &'static str,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    allow: Lists,
    #[serde(default)]
    block: Lists,
    #[serde(default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lists {
    #[serde(default)]
    cards: Vec<CardId>,
    #[serde(default)]
    merchants: Vec<String>,
}

/// A card number, as a JSON number or a string of digits.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CardId {
    Number(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    name: String,
    when: String,
    outcome: Outcome,
    reason: String,
}

/// One checked rule.
#[derive(Debug)]
struct Rule {
    name: String,
    tree: Node,
    outcome: Outcome,
    reason: String,
}

/// A checked rules document, ready to apply.
#[derive(Debug)]
pub struct Rules {
    version: String,
    allow_cards: HashSet<u64>,
    allow_merchants: HashSet<String>,
    block_cards: HashSet<u64>,
    block_merchants: HashSet<String>,
    rules: Vec<Rule>,
    /// The variable slots any rule reads (only these are filled per payment).
    slots: Vec<usize>,
}

fn cards(list: Vec<CardId>, which: &str) -> Result<HashSet<u64>, RulesError> {
    list.into_iter()
        .map(|c| match c {
            CardId::Number(n) => Ok(n),
            CardId::Text(s) => s.trim().parse().map_err(|_| {
                RulesError::Document(format!("{which}.cards: `{s}` is not a card number"))
            }),
        })
        .collect()
}

impl Rules {
    /// No rules: the model decides alone.
    pub fn none() -> Rules {
        Rules {
            version: String::new(),
            allow_cards: HashSet::new(),
            allow_merchants: HashSet::new(),
            block_cards: HashSet::new(),
            block_merchants: HashSet::new(),
            rules: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// Reads and checks a document (see the crate doc for what is refused).
    pub fn parse(bytes: &[u8]) -> Result<Rules, RulesError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(RulesError::Document(format!(
                "{} bytes, more than the {MAX_DOCUMENT_BYTES} accepted",
                bytes.len()
            )));
        }
        let doc: Document =
            serde_json::from_slice(bytes).map_err(|e| RulesError::Document(e.to_string()))?;
        let version_ok = !doc.version.is_empty()
            && doc.version.len() <= 64
            && doc
                .version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && doc.version != "current";
        if !version_ok {
            return Err(RulesError::Document(format!(
                "version `{}`: expected 1-64 characters of A-Z a-z 0-9 . _ - (and not `current`)",
                doc.version
            )));
        }
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(doc.rules.len());
        let mut slots = Vec::new();
        for (index, r) in doc.rules.into_iter().enumerate() {
            let refuse = |message: String| RulesError::Rule {
                index,
                name: r.name.clone(),
                message,
            };
            if r.name.trim().is_empty() {
                return Err(refuse("the rule has no name".into()));
            }
            if !names.insert(r.name.clone()) {
                return Err(refuse("another rule has the same name".into()));
            }
            if r.reason.trim().is_empty() {
                return Err(refuse(
                    "`reason` is empty: give a reason code, e.g. R_ONLINE_BURST".into(),
                ));
            }
            let (tree, used) = check::compile(&r.when).map_err(|e| RulesError::Expression {
                index,
                name: r.name.clone(),
                column: e.column,
                message: e.message,
                when: r.when.clone(),
                caret: "^",
            })?;
            slots.extend(used);
            rules.push(Rule {
                name: r.name,
                tree,
                outcome: r.outcome,
                reason: r.reason,
            });
        }
        slots.sort_unstable();
        slots.dedup();
        Ok(Rules {
            version: doc.version,
            allow_cards: cards(doc.allow.cards, "allow")?,
            allow_merchants: doc.allow.merchants.into_iter().collect(),
            block_cards: cards(doc.block.cards, "block")?,
            block_merchants: doc.block.merchants.into_iter().collect(),
            rules,
            slots,
        })
    }

    /// The document's version (empty for [`Rules::none`]).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of rules (list entries apart).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self.allow_cards.is_empty()
            && self.allow_merchants.is_empty()
            && self.block_cards.is_empty()
            && self.block_merchants.is_empty()
    }

    /// The list entries and rules that fire for a payment.
    pub fn fired(&self, inputs: &Inputs) -> Vec<FiredRule> {
        let mut fired = Vec::new();
        let tx = inputs.tx;
        let list = |name: &str, outcome, reason: &str| FiredRule {
            name: name.to_owned(),
            outcome,
            reason: reason.to_owned(),
        };
        if self.allow_cards.contains(&tx.cc_num) {
            fired.push(list("allow_list", Outcome::Approve, "ALLOW_LIST_CARD"));
        }
        if self.allow_merchants.contains(&tx.merchant) {
            fired.push(list("allow_list", Outcome::Approve, "ALLOW_LIST_MERCHANT"));
        }
        if self.block_cards.contains(&tx.cc_num) {
            fired.push(list("block_list", Outcome::Block, "BLOCK_LIST_CARD"));
        }
        if self.block_merchants.contains(&tx.merchant) {
            fired.push(list("block_list", Outcome::Block, "BLOCK_LIST_MERCHANT"));
        }
        if self.rules.is_empty() {
            return fired;
        }
        let context = Payment::new(&self.slots, inputs);
        for rule in &self.rules {
            match rule.tree.eval_boolean_with_context(&context) {
                Ok(true) => fired.push(list(&rule.name, rule.outcome, &rule.reason)),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(rule = %rule.name, trans_num = %tx.trans_num, %error, "a rule failed on a payment; it does not fire")
                }
            }
        }
        fired
    }

    /// The model's score with the rules applied, and what settled the outcome (see the
    /// crate doc for the precedence). With no document in force the score is unchanged.
    pub fn apply(
        &self,
        tx: &Transaction,
        features: &FeatureVector,
        score: Score,
    ) -> (Score, DecidedBy) {
        if self.version.is_empty() {
            return (score, DecidedBy::Model);
        }
        let model = score.outcome;
        let fired = self.fired(&Inputs {
            tx,
            features,
            probability: score.probability,
            model_outcome: model,
        });
        let (outcome, by) = settle(model, &fired);
        let version = self.version.clone();
        (score.with_rules(outcome, fired, &version), by)
    }
}

/// The outcome and what settled it, from the model's outcome and what fired.
fn settle(model: Outcome, fired: &[FiredRule]) -> (Outcome, DecidedBy) {
    let by_list = |name: &str| fired.iter().any(|f| f.name == name);
    let by_rule = |o: Outcome| {
        fired
            .iter()
            .any(|f| f.outcome == o && f.name != "allow_list" && f.name != "block_list")
    };
    if by_list("allow_list") {
        (Outcome::Approve, DecidedBy::AllowList)
    } else if by_rule(Outcome::Approve) {
        (Outcome::Approve, DecidedBy::Rule)
    } else if by_list("block_list") {
        (Outcome::Block, DecidedBy::BlockList)
    } else if by_rule(Outcome::Block) {
        (Outcome::Block, DecidedBy::Rule)
    } else if model == Outcome::Block {
        (Outcome::Block, DecidedBy::Model)
    } else if by_rule(Outcome::Review) {
        (Outcome::Review, DecidedBy::Rule)
    } else {
        (model, DecidedBy::Model)
    }
}

/// One payment's values, in the slots of [`VARS`] the rules read (the others stay empty).
struct Payment {
    values: Vec<Value>,
}

impl Payment {
    fn new(slots: &[usize], inputs: &Inputs) -> Payment {
        let mut values = vec![Value::Empty; VARS.len()];
        for &i in slots {
            values[i] = VARS[i].value(inputs);
        }
        Payment { values }
    }
}

impl Context for Payment {
    fn get_value(&self, identifier: &str) -> Option<&Value> {
        vars::index(identifier).map(|i| &self.values[i])
    }

    fn call_function(&self, identifier: &str, _argument: &Value) -> EvalexprResult<Value> {
        // Only evalexpr's built-in functions (the checked ones) exist.
        Err(EvalexprError::FunctionIdentifierNotFound(
            identifier.to_owned(),
        ))
    }

    fn are_builtin_functions_disabled(&self) -> bool {
        false
    }

    fn set_builtin_functions_disabled(&mut self, _disabled: bool) -> EvalexprResult<()> {
        Err(EvalexprError::BuiltinFunctionsCannotBeEnabled)
    }
}

/// For tools: every name a rule may use, with its type.
pub fn names() -> Vec<(&'static str, String)> {
    VARS.iter().map(|v| (v.name, v.ty.name())).collect()
}

/// Counts of what a document holds, for tools' summaries.
pub fn summary(rules: &Rules) -> HashMap<&'static str, usize> {
    HashMap::from([
        ("rules", rules.rules.len()),
        ("allow_cards", rules.allow_cards.len()),
        ("allow_merchants", rules.allow_merchants.len()),
        ("block_cards", rules.block_cards.len()),
        ("block_merchants", rules.block_merchants.len()),
    ])
}

#[cfg(test)]
mod tests;
