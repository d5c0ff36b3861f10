//! `fraudctl report`: (re)draws a training run's report folder (`index.html` + PNG
//! figures), and the report `fraudctl train` writes next to its model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use fraud_core::artifact::{ModelArtifact, ARTIFACT_FILE};
use fraud_core::train::{prepare, Prepared};
use fraud_report::from_core::{amounts_by_trans_num, amounts_in_order, report_input};
use fraud_report::{ReportInput, INPUT_FILE, REPORT_DIR};

use crate::input::{load_artifact, load_csv};

/// Report options of `fraudctl train`.
#[derive(Args)]
pub struct TrainReportArgs {
    /// Do not write the run report (<out>/report/).
    #[arg(long)]
    no_report: bool,
    /// Model (directory or artifact) to compare with in the report, e.g. the promoted one.
    #[arg(long)]
    compare_with: Option<PathBuf>,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Run directory (holding model.json), model artifact file, or report folder
    /// (holding input.json, redrawn as is).
    path: PathBuf,
    /// Labelled CSV the model was trained on (default: the artifact's data_uri, when it
    /// is a local file). Its SHA-256 must match the one recorded in the artifact.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Model (directory or artifact) to compare with, e.g. the promoted one.
    #[arg(long)]
    compare_with: Option<PathBuf>,
    /// Cost of reviewing one alert, for the cost vs threshold figure (default: the one the
    /// model's approve / review / block thresholds were chosen with).
    #[arg(long)]
    review_cost: Option<f64>,
    /// Report folder to write (default: `report/` beside the model, or the folder given).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn report(args: ReportArgs) -> Result<()> {
    let path = &args.path;
    // A report folder (or a run directory holding one) is redrawn from its input,
    // unless the data or the comparison is to change.
    let saved = [
        path.join(INPUT_FILE),
        path.join(REPORT_DIR).join(INPUT_FILE),
    ]
    .into_iter()
    .find(|p| p.is_file());
    if let (Some(saved), None, None) = (&saved, &args.data, &args.compare_with) {
        let dir = saved.parent().expect("a file has a parent");
        let mut input = fraud_report::read_input(dir)?;
        if let Some(cost) = args.review_cost {
            input.review_cost = cost;
        }
        let out = args.out.clone().unwrap_or_else(|| dir.to_owned());
        return write(&input, &out);
    }
    let (artifact, model_dir) = if path.is_dir() && !path.join(ARTIFACT_FILE).is_file() {
        bail!(
            "{} holds neither {ARTIFACT_FILE} nor {INPUT_FILE}: give a run directory, a model artifact or a report folder",
            path.display()
        );
    } else {
        let dir = if path.is_dir() {
            path.clone()
        } else {
            path.parent().map(Path::to_owned).unwrap_or_default()
        };
        (load_artifact(path)?, dir)
    };
    let data = match &args.data {
        Some(data) => data.clone(),
        None => {
            let uri = &artifact.training.data_uri;
            let local = PathBuf::from(uri);
            if uri.contains("://") || !local.is_file() {
                bail!("model {} was trained on `{uri}`, which is not a local file here: pass --data <the training CSV>", artifact.version);
            }
            local
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| model_dir.join(REPORT_DIR));
    let (txs, sha256, _) = load_csv(&data, &out.with_file_name("report-rejects.csv"))?;
    if sha256 != artifact.training.data_sha256 {
        bail!(
            "{} has SHA-256 {sha256}, but model {} was trained on data with SHA-256 {}: not the same data",
            data.display(),
            artifact.version,
            artifact.training.data_sha256
        );
    }
    let amounts = amounts_by_trans_num(&txs);
    let prepared = prepare(txs)?;
    let compare = args
        .compare_with
        .as_deref()
        .map(load_artifact)
        .transpose()?;
    let review_cost = args
        .review_cost
        .unwrap_or(artifact.policy.costs.review_cost);
    let input = input_for(
        &artifact,
        &prepared,
        &amounts,
        compare.as_ref(),
        review_cost,
    )?;
    write(&input, &out)
}

/// The report `fraudctl train` writes into `<out>/report/`; returns the page's path.
pub fn after_train(
    args: &TrainReportArgs,
    artifact: &ModelArtifact,
    prepared: &Prepared,
    amounts: &HashMap<String, f64>,
    out: &Path,
) -> Result<Option<PathBuf>> {
    if args.no_report {
        return Ok(None);
    }
    let compare = args
        .compare_with
        .as_deref()
        .map(load_artifact)
        .transpose()?;
    let input = input_for(
        artifact,
        prepared,
        amounts,
        compare.as_ref(),
        artifact.policy.costs.review_cost,
    )?;
    let dir = out.join(REPORT_DIR);
    let files = fraud_report::build(&input)?;
    Ok(Some(fraud_report::write_dir(&files, &dir)?))
}

fn input_for(
    artifact: &ModelArtifact,
    prepared: &Prepared,
    amounts: &HashMap<String, f64>,
    compare: Option<&ModelArtifact>,
    review_cost: f64,
) -> Result<ReportInput> {
    let amounts = amounts_in_order(prepared, amounts)?;
    report_input(artifact, prepared, &amounts, compare, review_cost)
        .with_context(|| format!("cannot make the report of model {}", artifact.version))
}

fn write(input: &ReportInput, out: &Path) -> Result<()> {
    let files = fraud_report::build(input)?;
    let index = fraud_report::write_dir(&files, out)?;
    println!(
        "Report of model {} ({} slice, {} rows{}) written to {}",
        input.model_version,
        input.evaluated_slice,
        input.labels.len(),
        input
            .previous
            .as_ref()
            .map(|p| format!(", compared with {}", p.version))
            .unwrap_or_default(),
        index.display()
    );
    Ok(())
}
