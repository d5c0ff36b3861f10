//! `fraudctl`: generate Sparkov-like data, train and evaluate the fraud model, score files.
//!
//! Every long step shows progress on stderr and every command ends with a human-readable
//! summary on stdout. Exit code is non-zero on any error.
#![forbid(unsafe_code)]

mod commands;
mod input;
mod progress;
mod report;
mod rules;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fraudctl", version, about = "Card-fraud detection: generate data, train, evaluate and score", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a Sparkov-like labelled transaction CSV (deterministic by seed).
    Generate(commands::GenerateArgs),
    /// Train a model on a labelled CSV with a time-based split and write the artifact.
    Train(commands::TrainArgs),
    /// Evaluate a trained model on a labelled CSV.
    Evaluate(commands::EvaluateArgs),
    /// Score every row of a CSV: writes trans_num,probability,decision per row.
    Score(commands::ScoreArgs),
    /// Export the feature matrix with the time split (for the Python reference).
    Features(commands::FeaturesArgs),
    /// Draw a training run's report (index.html + PNG figures) from a run directory,
    /// model artifact or report folder.
    Report(report::ReportArgs),
    /// Rules applied after the model: check a document, upload it, list the names.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate(args) => commands::generate(args),
        Command::Train(args) => commands::train(args),
        Command::Evaluate(args) => commands::evaluate(args),
        Command::Score(args) => commands::score(args),
        Command::Features(args) => commands::features(args),
        Command::Report(args) => report::report(args),
        Command::Rules(command) => rules::run(command),
    }
}
