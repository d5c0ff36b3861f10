//! What a report is made from: plain data (numbers, strings, vectors), so the report
//! does not depend on how the model is built. [`crate::from_core`] fills it from a
//! training run; tests and other tools can fill it by hand.

use serde::{Deserialize, Serialize};

/// Headline numbers of one evaluation slice, as recorded with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceMetrics {
    /// `validation`, `test`, …
    pub slice: String,
    pub rows: u64,
    pub frauds: u64,
    pub pr_auc: f64,
    pub roc_auc: f64,
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// How much one feature matters to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    pub name: String,
    pub importance: f64,
}

/// The model the run is compared with (the currently promoted one), scored on the
/// same rows as the run's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousModel {
    pub version: String,
    /// Its score for each evaluated row, in the same order as [`ReportInput::scores`].
    pub scores: Vec<f64>,
    /// Its own decision threshold.
    pub threshold: f64,
    /// Its metrics as recorded when it was trained (on its own test slice).
    pub recorded_metrics: Vec<SliceMetrics>,
}

/// Everything a run report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    pub model_version: String,
    /// RFC 3339 creation time of the model.
    pub created_at: String,
    pub learner: String,
    /// Where the training data came from and its SHA-256.
    pub data_uri: String,
    pub data_sha256: String,
    /// Run parameters shown as a table (hyper-parameters, split, row counts…), in order.
    pub params: Vec<(String, String)>,
    /// Recorded metrics of the run (validation and test slices).
    pub metrics: Vec<SliceMetrics>,
    /// Name of the slice the figures are drawn from (normally `test`).
    pub evaluated_slice: String,
    /// The model's score, the label and the amount of every evaluated row.
    pub scores: Vec<f64>,
    pub labels: Vec<bool>,
    pub amounts: Vec<f64>,
    /// The model's decision threshold (score ≥ threshold → fraud).
    pub threshold: f64,
    /// Cost of reviewing one alert, in the amounts' currency (cost vs threshold figure).
    pub review_cost: f64,
    /// Feature importances (any order; the top 20 are drawn) and how they were measured.
    pub feature_importances: Vec<FeatureImportance>,
    pub importance_method: String,
    /// The promoted model at training time, if there was one.
    pub previous: Option<PreviousModel>,
    /// Further facts shown under the run table (e.g. the promotion decision).
    #[serde(default)]
    pub notes: Vec<(String, String)>,
}

/// Input that cannot make a report; each names the field and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InputError {
    #[error("field `{field}` has {found} values, expected {expected} (one per evaluated row)")]
    Length {
        field: &'static str,
        found: usize,
        expected: usize,
    },
    #[error("field `scores` is empty: there is nothing to report on")]
    Empty,
    #[error("field `{field}` holds {value} at row {row}, expected {expected}")]
    Value {
        field: &'static str,
        row: usize,
        value: f64,
        expected: &'static str,
    },
    #[error("field `review_cost` is {0}, expected a finite amount ≥ 0")]
    ReviewCost(f64),
}

impl ReportInput {
    /// Checks lengths and ranges before anything is drawn.
    pub fn validate(&self) -> Result<(), InputError> {
        let n = self.scores.len();
        if n == 0 {
            return Err(InputError::Empty);
        }
        let length = |field, found| {
            if found == n {
                Ok(())
            } else {
                Err(InputError::Length {
                    field,
                    found,
                    expected: n,
                })
            }
        };
        length("labels", self.labels.len())?;
        length("amounts", self.amounts.len())?;
        if let Some(p) = &self.previous {
            length("previous.scores", p.scores.len())?;
        }
        let probability = |field, values: &[f64]| {
            values
                .iter()
                .position(|s| !(0.0..=1.0).contains(s))
                .map_or(Ok(()), |row| {
                    Err(InputError::Value {
                        field,
                        row,
                        value: values[row],
                        expected: "a probability in [0, 1]",
                    })
                })
        };
        probability("scores", &self.scores)?;
        if let Some(p) = &self.previous {
            probability("previous.scores", &p.scores)?;
        }
        if let Some(row) = self
            .amounts
            .iter()
            .position(|a| !(a.is_finite() && *a >= 0.0))
        {
            return Err(InputError::Value {
                field: "amounts",
                row,
                value: self.amounts[row],
                expected: "a finite amount ≥ 0",
            });
        }
        if !(self.review_cost.is_finite() && self.review_cost >= 0.0) {
            return Err(InputError::ReviewCost(self.review_cost));
        }
        Ok(())
    }
}
