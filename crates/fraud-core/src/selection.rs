//! What training compares and records: the time split of the rows and each candidate
//! model's result. Both are part of the artifact ([`crate::artifact::TrainingInfo`]), so
//! they live apart from the training code that fills them in ([`crate::train`]), and the
//! artifact does not import the trainer.

use serde::{Deserialize, Serialize};

use crate::metrics::SliceReport;
use crate::model::ForestParams;

/// How the time-ordered rows are cut.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    /// Fraction of rows (earliest first) used to fit the model.
    pub train: f64,
    /// Fraction right after it used to choose the threshold; the rest is the test slice.
    pub validation: f64,
    /// Time folds the model is chosen on (expanding window, see
    /// [`TimeSplit::selection_folds`]); 1 = the validation slice alone. Artifacts from
    /// before folds existed read as 1.
    #[serde(default = "one_fold")]
    pub folds: usize,
}

fn one_fold() -> usize {
    1
}

impl Default for TimeSplit {
    fn default() -> Self {
        TimeSplit {
            train: 0.6,
            validation: 0.1,
            // Time folds did not help on the fixture: its earlier windows rank the models
            // unlike the later rows do (BENCHMARKS.md, "Model quality"); opt in with `folds`.
            folds: 1,
        }
    }
}

impl TimeSplit {
    /// Row ranges (in time order) of train, validation and test for `n` rows.
    pub fn ranges(&self, n: usize) -> [std::ops::Range<usize>; 3] {
        let a = ((n as f64) * self.train).round() as usize;
        let b = (((n as f64) * (self.train + self.validation)).round() as usize).max(a);
        [0..a, a..b.min(n), b.min(n)..n]
    }

    /// The expanding-window time folds candidates are compared on when `folds > 1`,
    /// earliest first, as (fit rows, early-stopping rows, evaluation rows). Windows
    /// have the validation slice's size; fold `k` of `folds` evaluates on the window
    /// ending `folds − 1 − k` windows before the validation slice's end (the last fold
    /// evaluates on the validation slice itself), stops boosting early and calibrates on
    /// the window just before it, and fits on every row before that. No fold's
    /// evaluation rows take part in any of its fitting choices, and the test slice is in
    /// none. Folds with fewer fitting rows than a window are left out.
    pub fn selection_folds(&self, n: usize) -> Vec<[std::ops::Range<usize>; 3]> {
        if self.folds <= 1 {
            return Vec::new();
        }
        let [train, validation, _] = self.ranges(n);
        let w = validation.len();
        if w == 0 {
            return Vec::new();
        }
        (0..self.folds)
            .rev()
            .filter_map(|back| {
                let eval_start = train.end.checked_sub(back * w)?;
                let early_start = eval_start.checked_sub(w)?;
                (early_start >= w).then(|| {
                    [
                        0..early_start,
                        early_start..eval_start,
                        eval_start..eval_start + w,
                    ]
                })
            })
            .collect()
    }
}

/// One candidate model's result on the validation slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub params: ForestParams,
    pub validation_pr_auc: f64,
    pub train_seconds: f64,
    /// Trees in the fitted model (boosting: after early stopping, base tree included).
    #[serde(default)]
    pub trees: usize,
    /// The candidate's test-slice report at its own validation F1-best threshold. For
    /// the record only (e.g. `make compare`): the choice never looks at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<SliceReport>,
    /// PR-AUC on each selection fold's evaluation window, earliest first (see
    /// [`TimeSplit::selection_folds`]); empty when chosen on the validation slice alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fold_pr_auc: Vec<f64>,
    /// What the choice compared: the mean of `fold_pr_auc` (or `validation_pr_auc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_pr_auc: Option<f64>,
}
