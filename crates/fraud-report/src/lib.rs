//! Training-run report: a folder with `index.html` and PNG figures that people open
//! after every training run.
//!
//! The figures are the precision–recall and ROC curves (areas in the legends), the
//! score histogram by class (log counts), cost vs threshold (missed fraud amount plus a
//! review cost per alert), the top-20 feature importances and the confusion matrix at
//! the run's threshold; when a model was promoted at training time its curves are drawn
//! beside the run's and its metrics are compared in the page.
//!
//! The input is a plain [`ReportInput`] (scores, labels, amounts, metrics, parameters),
//! so drawing does not depend on how the model works; [`from_core`] fills it from a
//! `fraud_core` training run. Figures are rendered in memory with `plotters`' bitmap
//! backend and an embedded font, so no system fonts or fontconfig are needed.
#![forbid(unsafe_code)]

mod charts;
pub mod curves;
pub mod from_core;
mod html;
pub mod importance;
mod input;
pub mod monitor;

use std::path::{Path, PathBuf};

pub use input::{FeatureImportance, InputError, PreviousModel, ReportInput, SliceMetrics};

/// Name of the page in a report folder.
pub const INDEX_FILE: &str = "index.html";
/// Name of the serialized [`ReportInput`] in a report folder (to redraw it later).
pub const INPUT_FILE: &str = "input.json";
/// Name of a report folder beside a model artifact.
pub const REPORT_DIR: &str = "report";
/// Review cost per alert used when none is configured.
pub const DEFAULT_REVIEW_COST: f64 = 5.0;

/// The figures: file name, caption.
pub const FIGURES: [(&str, &str); 6] = [
    ("pr_curve.png", "Precision–recall curve (average precision in the legend); circles mark each model's threshold"),
    ("roc_curve.png", "ROC curve (AUC in the legend); right: false-positive rates up to 5 %"),
    ("score_histogram.png", "Score distribution by class, log-scale counts; the line is the threshold"),
    ("cost_vs_threshold.png", "Cost vs threshold: missed fraud amount + review cost × alerts"),
    ("feature_importance.png", "Feature importance, top 20"),
    ("confusion_matrix.png", "Confusion matrix at the run's threshold"),
];

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report input: {0}")]
    Input(#[from] InputError),
    #[error("report data: {0}")]
    Data(String),
    #[error("cannot draw {figure}: {reason}")]
    Draw {
        figure: &'static str,
        reason: String,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read report input {path}: {reason}")]
    ReadInput { path: PathBuf, reason: String },
}

/// One file of a report folder.
#[derive(Debug, Clone)]
pub struct ReportFile {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Draws one figure of a report over `I` as PNG bytes.
pub(crate) type DrawerOf<I> = fn(&I) -> Result<Vec<u8>, String>;

/// Draws one figure of the training-run report.
type Drawer = DrawerOf<ReportInput>;

/// Renders the page, the figures and the input as files (in memory).
pub fn build(input: &ReportInput) -> Result<Vec<ReportFile>, ReportError> {
    input.validate()?;
    let drawers: [Drawer; 6] = [
        charts::pr_curve,
        charts::roc_curve,
        charts::score_histogram,
        charts::cost_vs_threshold,
        charts::feature_importance,
        charts::confusion_matrix,
    ];
    let mut files = figures_and_page(&FIGURES, &drawers, input, html::page(input, &FIGURES))?;
    files.push(ReportFile {
        name: INPUT_FILE,
        content_type: "application/json",
        bytes: serde_json::to_vec(input).expect("report input serializes"),
    });
    Ok(files)
}

/// Each figure of `figures` drawn by its drawer (PNG), then the page: the files every report
/// (training run, monitor) is made of.
pub(crate) fn figures_and_page<I>(
    figures: &[(&'static str, &str)],
    drawers: &[DrawerOf<I>],
    input: &I,
    page: String,
) -> Result<Vec<ReportFile>, ReportError> {
    let mut files = Vec::with_capacity(figures.len() + 2);
    for ((name, _), draw) in figures.iter().zip(drawers) {
        let bytes = draw(input).map_err(|reason| ReportError::Draw {
            figure: name,
            reason,
        })?;
        files.push(ReportFile {
            name,
            content_type: "image/png",
            bytes,
        });
    }
    files.push(ReportFile {
        name: INDEX_FILE,
        content_type: "text/html; charset=utf-8",
        bytes: page.into_bytes(),
    });
    Ok(files)
}

/// Writes a report folder (created if needed); returns the page's path.
pub fn write_dir(files: &[ReportFile], dir: &Path) -> Result<PathBuf, ReportError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for f in files {
        let path = dir.join(f.name);
        std::fs::write(&path, &f.bytes).map_err(io(&path))?;
    }
    Ok(dir.join(INDEX_FILE))
}

/// Reads the input a report folder was drawn from.
pub fn read_input(dir: &Path) -> Result<ReportInput, ReportError> {
    let path = dir.join(INPUT_FILE);
    let bytes = std::fs::read(&path).map_err(|e| ReportError::ReadInput {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ReportError::ReadInput {
        path,
        reason: e.to_string(),
    })
}
