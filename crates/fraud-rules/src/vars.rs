//! The names an expression may use, each with one type: the payment's fields, its
//! features (the shared feature pipeline's [`FEATURE_NAMES`]) and the model's verdict.

use std::collections::HashMap;
use std::sync::LazyLock;

use evalexpr::Value;
use fraud_core::features::FeatureVector;
use fraud_core::scoring::Outcome;
use fraud_core::{Transaction, FEATURE_NAMES};

/// An expression's static type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Bool,
    Int,
    Float,
    Str,
    Tuple(Vec<Ty>),
}

impl Ty {
    pub fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }

    pub fn name(&self) -> String {
        match self {
            Ty::Bool => "a boolean".into(),
            Ty::Int => "an integer".into(),
            Ty::Float => "a float".into(),
            Ty::Str => "a string".into(),
            Ty::Tuple(items) => format!("a tuple of {}", items.len()),
        }
    }
}

/// What a payment is judged on.
pub struct Inputs<'a> {
    pub tx: &'a Transaction,
    pub features: &'a FeatureVector,
    pub probability: f64,
    pub model_outcome: Outcome,
}

/// Where a name's value comes from.
#[derive(Clone, Copy)]
enum Source {
    Field(fn(&Transaction) -> Value),
    Feature(usize),
    Probability,
    ModelOutcome,
}

/// One name an expression may use.
pub struct Var {
    pub name: &'static str,
    pub ty: Ty,
    source: Source,
}

impl Var {
    /// The name's value for one payment.
    pub fn value(&self, inputs: &Inputs) -> Value {
        match self.source {
            Source::Field(get) => get(inputs.tx),
            Source::Feature(i) => {
                let x = inputs.features[i];
                if self.ty == Ty::Int {
                    Value::Int(x as i64)
                } else {
                    Value::Float(x)
                }
            }
            Source::Probability => Value::Float(inputs.probability),
            Source::ModelOutcome => Value::String(inputs.model_outcome.as_str().to_owned()),
        }
    }
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// The payment's own fields (the label, `is_fraud`, is never a rule's input).
fn fields() -> Vec<Var> {
    let f = |name, ty, get: fn(&Transaction) -> Value| Var {
        name,
        ty,
        source: Source::Field(get),
    };
    vec![
        // A card number above i64::MAX (none in Sparkov data) reads as -1: use the lists.
        f("cc_num", Ty::Int, |t| {
            Value::Int(i64::try_from(t.cc_num).unwrap_or(-1))
        }),
        f("merchant", Ty::Str, |t| text(&t.merchant)),
        f("category", Ty::Str, |t| text(t.category.as_str())),
        f("amt", Ty::Float, |t| Value::Float(t.amt)),
        f("first", Ty::Str, |t| text(&t.first)),
        f("last", Ty::Str, |t| text(&t.last)),
        f("gender", Ty::Str, |t| text(t.gender.as_str())),
        f("street", Ty::Str, |t| text(&t.street)),
        f("city", Ty::Str, |t| text(&t.city)),
        f("state", Ty::Str, |t| text(&t.state)),
        f("zip", Ty::Str, |t| text(&t.zip)),
        f("lat", Ty::Float, |t| Value::Float(t.lat)),
        f("long", Ty::Float, |t| Value::Float(t.long)),
        f("city_pop", Ty::Int, |t| {
            Value::Int(i64::try_from(t.city_pop).unwrap_or(i64::MAX))
        }),
        f("job", Ty::Str, |t| text(&t.job)),
        f("dob", Ty::Str, |t| text(&t.dob.to_string())),
        f("trans_num", Ty::Str, |t| text(&t.trans_num)),
        f("trans_date_trans_time", Ty::Str, |t| {
            text(
                &t.trans_date_trans_time
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
            )
        }),
        f("merch_lat", Ty::Float, |t| Value::Float(t.merch_lat)),
        f("merch_long", Ty::Float, |t| Value::Float(t.merch_long)),
    ]
}

/// Features that count or flag something are integers; the rest are floats.
fn feature_ty(name: &str) -> Ty {
    let counts = name.starts_with("card_count_")
        || name.starts_with("cat_")
        || name.starts_with("first_time_")
        || matches!(
            name,
            "hour" | "is_night" | "day_of_week" | "gender_female" | "card_night_count_24h"
        );
    if counts {
        Ty::Int
    } else {
        Ty::Float
    }
}

/// Every name, in a fixed order (a name's index is its slot in [`crate::Rules`]' values).
pub static VARS: LazyLock<Vec<Var>> = LazyLock::new(|| {
    let mut vars = fields();
    for (i, name) in FEATURE_NAMES.iter().enumerate() {
        // `amt` is both a field and a feature, with the same value.
        if vars.iter().all(|v| v.name != *name) {
            vars.push(Var {
                name,
                ty: feature_ty(name),
                source: Source::Feature(i),
            });
        }
    }
    vars.push(Var {
        name: "probability",
        ty: Ty::Float,
        source: Source::Probability,
    });
    vars.push(Var {
        name: "model_outcome",
        ty: Ty::Str,
        source: Source::ModelOutcome,
    });
    vars
});

static INDEX: LazyLock<HashMap<&'static str, usize>> =
    LazyLock::new(|| VARS.iter().enumerate().map(|(i, v)| (v.name, i)).collect());

/// A name's slot, if expressions may use it.
pub fn index(name: &str) -> Option<usize> {
    INDEX.get(name).copied()
}
