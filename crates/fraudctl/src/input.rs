//! Reading what the commands take: model artifacts and labelled or unlabelled CSVs
//! (rejected rows written aside, never dropped), and making an output's folder.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use fraud_core::artifact::{sha256_hex, ModelArtifact, ARTIFACT_FILE};
use fraud_core::csv_input::CsvTransactions;
use fraud_core::{Rejection, Transaction};

use crate::progress;

/// Reads a model directory or artifact file.
pub fn load_artifact(path: &Path) -> Result<ModelArtifact> {
    let file = if path.is_dir() {
        path.join(ARTIFACT_FILE)
    } else {
        path.to_owned()
    };
    let bytes = fs::read(&file).with_context(|| format!("cannot read model {}", file.display()))?;
    ModelArtifact::from_bytes(&bytes)
        .with_context(|| format!("cannot load model {}", file.display()))
}

/// Reads a CSV fully; rejected rows are written to `rejects` (line, trans_num, reason, raw).
/// Returns the transactions, the SHA-256 of the file and the number rejected.
pub fn load_csv(path: &Path, rejects: &Path) -> Result<(Vec<Transaction>, String, u64)> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let sha256 = sha256_hex(&bytes);
    let bar = progress::bar(None, "reading");
    let mut txs = Vec::new();
    let mut rejected: Vec<Rejection> = Vec::new();
    for row in CsvTransactions::new(bytes.as_slice())
        .with_context(|| format!("cannot read {}", path.display()))?
    {
        match row? {
            Ok(tx) => txs.push(tx),
            Err(r) => rejected.push(r),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !rejected.is_empty() {
        create_parent(rejects)?;
        let mut out = csv::Writer::from_path(rejects)
            .with_context(|| format!("cannot create {}", rejects.display()))?;
        out.write_record(["line", "trans_num", "reason", "raw"])?;
        for r in &rejected {
            out.write_record([
                r.line.to_string(),
                r.trans_num.clone().unwrap_or_default(),
                r.reason.clone(),
                r.raw.clone(),
            ])?;
        }
        out.flush()?;
        let shown = rejected
            .iter()
            .take(5)
            .map(|r| format!("    {r}"))
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!(
            "{} rows of {} rejected (written to {}), first ones:\n{shown}",
            rejected.len(),
            path.display(),
            rejects.display()
        );
    }
    if txs.is_empty() {
        bail!("{} holds no valid transaction", path.display());
    }
    Ok((txs, sha256, rejected.len() as u64))
}

pub fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let _ = std::io::stdout().flush();
    Ok(())
}
