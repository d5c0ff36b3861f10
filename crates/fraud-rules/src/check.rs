//! Static checks of a rule's expression, before it is ever served: it parses (evalexpr's
//! grammar), uses only known names and a few pure functions, and every operator gets
//! operands of types it accepts, ending in a boolean. evalexpr itself only finds a type
//! error when a payment reaches it, and reads `card_count_1h == 3` (an integer) against
//! `amt == 3` (a float) as always false; this walk over its operator tree refuses those
//! at upload, with the column they are at.
//!
//! evalexpr's errors carry no position, so the column is found here: a name's or a
//! literal's first occurrence, or, for a syntax error, the end of the longest prefix
//! that still parses.

use evalexpr::{Node, Operator, Value};

use crate::vars::{self, Ty};

/// A problem in one expression, at a 1-based column.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub column: usize,
    pub message: String,
}

/// Parses and type-checks `source`; returns the tree and the slots of the names used.
pub fn compile(source: &str) -> Result<(Node, Vec<usize>), ExprError> {
    if source.trim().is_empty() {
        return Err(ExprError {
            column: 1,
            message: "the expression is empty".into(),
        });
    }
    let tree = evalexpr::build_operator_tree(source).map_err(|e| ExprError {
        column: syntax_error_column(source),
        message: format!("syntax error: {e}"),
    })?;
    let checker = Checker { source };
    match checker.ty(&tree)? {
        Ty::Bool => {}
        other => {
            return Err(ExprError {
                column: 1,
                message: format!(
                    "the expression is {}, not a condition (true or false)",
                    other.name()
                ),
            })
        }
    }
    let mut slots: Vec<usize> = tree
        .iter_variable_identifiers()
        .filter_map(vars::index)
        .collect();
    slots.sort_unstable();
    slots.dedup();
    Ok((tree, slots))
}

/// 1-based column where `source` stops making sense: the first unmatched bracket or
/// unterminated string, else just past the longest prefix that parses.
fn syntax_error_column(source: &str) -> usize {
    let mut open = Vec::new();
    let mut in_string: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in source.char_indices() {
        if let Some(_start) = in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = None,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => in_string = Some(i),
            '(' => open.push(i),
            ')' if open.pop().is_none() => return column(source, i),
            _ => {}
        }
    }
    if let Some(start) = in_string.or(open.first().copied()) {
        return column(source, start);
    }
    let longest = source
        .char_indices()
        .map(|(i, _)| i)
        .chain([source.len()])
        .rev()
        .find(|&end| end > 0 && evalexpr::build_operator_tree(&source[..end]).is_ok())
        .unwrap_or(0);
    let rest = &source[longest..];
    column(source, longest + (rest.len() - rest.trim_start().len()))
}

fn column(source: &str, byte: usize) -> usize {
    source[..byte.min(source.len())].chars().count() + 1
}

struct Checker<'a> {
    source: &'a str,
}

impl Checker<'_> {
    fn error(&self, near: &str, message: String) -> ExprError {
        let column = find_word(self.source, near).map_or(1, |b| column(self.source, b));
        ExprError { column, message }
    }

    fn ty(&self, node: &Node) -> Result<Ty, ExprError> {
        use Operator::*;
        let children = node.children();
        let child = |i: usize| self.ty(&children[i]);
        let op = node.operator();
        let symbol = op_symbol(op);
        let numeric = |a: Ty, b: Ty| -> Result<Ty, ExprError> {
            if a.is_number() && b.is_number() {
                Ok(if a == Ty::Int && b == Ty::Int {
                    Ty::Int
                } else {
                    Ty::Float
                })
            } else {
                Err(self.error(
                    symbol,
                    format!(
                        "`{symbol}` needs numbers, found {} and {}",
                        a.name(),
                        b.name()
                    ),
                ))
            }
        };
        let arity = match op {
            Add | Sub | Mul | Div | Mod | Exp | Eq | Neq | Gt | Lt | Geq | Leq | And | Or => 2,
            Neg | Not | FunctionIdentifier { .. } => 1,
            _ => children.len(),
        };
        if children.len() != arity {
            let what = if matches!(op, FunctionIdentifier { .. }) {
                "an argument"
            } else {
                "an operand"
            };
            return Err(self.error(
                if symbol.is_empty() { "(" } else { symbol },
                format!(
                    "syntax error: `{}` is missing {what}",
                    if symbol.is_empty() { "(" } else { symbol }
                ),
            ));
        }
        match op {
            RootNode => match children {
                [] => Err(ExprError {
                    column: 1,
                    message: "the expression is empty".into(),
                }),
                [only] => self.ty(only),
                _ => Err(ExprError {
                    column: 1,
                    message: "one expression expected".into(),
                }),
            },
            Const { value } => match value {
                Value::Boolean(_) => Ok(Ty::Bool),
                Value::Int(_) => Ok(Ty::Int),
                Value::Float(_) => Ok(Ty::Float),
                Value::String(_) => Ok(Ty::Str),
                Value::Tuple(_) | Value::Empty => Err(ExprError {
                    column: 1,
                    message: "an empty value `()` is not allowed".into(),
                }),
            },
            VariableIdentifierRead { identifier } => {
                match vars::index(identifier) {
                    Some(i) => Ok(vars::VARS[i].ty.clone()),
                    None => Err(self.error(
                        identifier,
                        format!(
                            "unknown name `{identifier}`: a rule may use the payment's fields, its features and `probability`/`model_outcome` (see the crate doc)"
                        ),
                    )),
                }
            }
            Add => match (child(0)?, child(1)?) {
                (Ty::Str, Ty::Str) => Ok(Ty::Str),
                (a, b) => numeric(a, b),
            },
            Sub | Mul | Div | Mod => numeric(child(0)?, child(1)?),
            Exp => numeric(child(0)?, child(1)?).map(|_| Ty::Float),
            Neg => match child(0)? {
                t if t.is_number() => Ok(t),
                t => Err(self.error("-", format!("`-` needs a number, found {}", t.name()))),
            },
            Eq | Neq => {
                let (a, b) = (child(0)?, child(1)?);
                if a == b && !matches!(a, Ty::Tuple(_)) {
                    Ok(Ty::Bool)
                } else if a.is_number() && b.is_number() {
                    Err(self.error(
                        symbol,
                        format!(
                            "`{symbol}` compares {} with {}, which is never equal: write the number as {} (e.g. `3` for a count, `100.0` for an amount)",
                            a.name(),
                            b.name(),
                            if a == Ty::Int { "an integer" } else { "a float" }
                        ),
                    ))
                } else {
                    Err(self.error(
                        symbol,
                        format!("`{symbol}` compares {} with {}", a.name(), b.name()),
                    ))
                }
            }
            Gt | Lt | Geq | Leq => match (child(0)?, child(1)?) {
                (Ty::Str, Ty::Str) => Ok(Ty::Bool),
                (a, b) if a.is_number() && b.is_number() => Ok(Ty::Bool),
                (a, b) => Err(self.error(
                    symbol,
                    format!("`{symbol}` compares {} with {}", a.name(), b.name()),
                )),
            },
            And | Or => match (child(0)?, child(1)?) {
                (Ty::Bool, Ty::Bool) => Ok(Ty::Bool),
                (a, b) => Err(self.error(
                    symbol,
                    format!("`{symbol}` needs conditions, found {} and {}", a.name(), b.name()),
                )),
            },
            Not => match child(0)? {
                Ty::Bool => Ok(Ty::Bool),
                t => Err(self.error("!", format!("`!` needs a condition, found {}", t.name()))),
            },
            Tuple => Ok(Ty::Tuple(
                children.iter().map(|c| self.ty(c)).collect::<Result<_, _>>()?,
            )),
            FunctionIdentifier { identifier } => {
                if !FUNCTIONS.contains(&identifier.as_str()) {
                    return Err(self.error(
                        identifier,
                        format!("unknown function `{identifier}`: a rule may call {}", FUNCTIONS.join(", ")),
                    ));
                }
                self.function(identifier, child(0)?)
            }
            Assign | AddAssign | SubAssign | MulAssign | DivAssign | ModAssign | ExpAssign
            | AndAssign | OrAssign | VariableIdentifierWrite { .. } => Err(self.error(
                symbol,
                "assignments are not allowed in a rule (compare with `==`)".into(),
            )),
            Chain => Err(self.error(";", "`;` is not allowed in a rule: one condition per rule".into())),
        }
    }

    /// The few pure functions a rule may call, with their types.
    fn function(&self, name: &str, argument: Ty) -> Result<Ty, ExprError> {
        let wrong = |want: &str| {
            self.error(
                name,
                format!("`{name}` takes {want}, found {}", argument.name()),
            )
        };
        match name {
            "len" => match &argument {
                Ty::Str => Ok(Ty::Int),
                _ => Err(wrong("a string")),
            },
            "str::to_lowercase" | "str::to_uppercase" | "str::trim" => match &argument {
                Ty::Str => Ok(Ty::Str),
                _ => Err(wrong("a string")),
            },
            "math::abs" => match &argument {
                t if t.is_number() => Ok(t.clone()),
                _ => Err(wrong("a number")),
            },
            "floor" | "round" | "ceil" | "math::ln" | "math::log10" | "math::sqrt" => {
                match &argument {
                    t if t.is_number() => Ok(Ty::Float),
                    _ => Err(wrong("a number")),
                }
            }
            "min" | "max" => match &argument {
                Ty::Tuple(items) if !items.is_empty() && items.iter().all(Ty::is_number) => {
                    Ok(if items.iter().all(|t| *t == Ty::Int) {
                        Ty::Int
                    } else {
                        Ty::Float
                    })
                }
                _ => Err(wrong("numbers, e.g. `max(card_amt_mean_7d, 100.0)`")),
            },
            // `contains(("shopping_net", "misc_net"), category)`: membership in a list.
            "contains" => match &argument {
                Ty::Tuple(pair) if pair.len() == 2 => match (&pair[0], &pair[1]) {
                    (Ty::Tuple(items), item) if items.iter().all(|t| t == item) => Ok(Ty::Bool),
                    (Ty::Tuple(_), item) => Err(self.error(
                        name,
                        format!("`contains` looks for {} in a list whose items are not all of that type", item.name()),
                    )),
                    _ => Err(wrong("a list and a value, e.g. `contains((\"a\", \"b\"), category)`")),
                },
                _ => Err(wrong("a list and a value, e.g. `contains((\"a\", \"b\"), category)`")),
            },
            _ => unreachable!("names outside FUNCTIONS are refused before"),
        }
    }
}

/// The pure functions a rule may call.
const FUNCTIONS: [&str; 14] = [
    "len",
    "str::to_lowercase",
    "str::to_uppercase",
    "str::trim",
    "math::abs",
    "floor",
    "round",
    "ceil",
    "math::ln",
    "math::log10",
    "math::sqrt",
    "min",
    "max",
    "contains",
];

fn op_symbol(op: &Operator) -> &'static str {
    use Operator::*;
    match op {
        Add => "+",
        Sub | Neg => "-",
        Mul => "*",
        Div => "/",
        Mod => "%",
        Exp => "^",
        Eq => "==",
        Neq => "!=",
        Gt => ">",
        Lt => "<",
        Geq => ">=",
        Leq => "<=",
        And => "&&",
        Or => "||",
        Not => "!",
        Assign => "=",
        AddAssign => "+=",
        SubAssign => "-=",
        MulAssign => "*=",
        DivAssign => "/=",
        ModAssign => "%=",
        ExpAssign => "^=",
        AndAssign => "&&=",
        OrAssign => "||=",
        Chain => ";",
        _ => "",
    }
}

/// Byte offset of `word`'s first occurrence in `source` that is not part of a longer
/// name (for operators: the first occurrence).
fn find_word(source: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let named = word.chars().all(is_name);
    source.match_indices(word).map(|(i, _)| i).find(|&i| {
        !named
            || (!source[..i].chars().next_back().is_some_and(is_name)
                && !source[i + word.len()..].chars().next().is_some_and(is_name))
    })
}
