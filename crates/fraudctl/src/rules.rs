//! `fraudctl rules`: check a rules document (offline) and upload it beside the models.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Check a rules document: syntax, names and types of every rule (offline; exit 1 and
    /// the rule and column on the first problem).
    Check {
        /// The rules document (JSON).
        file: PathBuf,
    },
    /// Check a rules document, store it under its version in the models bucket and make
    /// it the one in force (`rules/<version>.json`, pointer `rules/current.json`). The
    /// score function picks it up within MODEL_CHECK_SECS.
    Push(PushArgs),
    /// List the names a rule may use, with their types.
    Names,
}

#[derive(Args)]
pub struct PushArgs {
    /// The rules document (JSON).
    file: PathBuf,
    /// The models bucket (where the score function reads models and rules).
    #[arg(long, env = "FRAUD_MODELS_BUCKET")]
    bucket: String,
}

fn read(file: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn describe(rules: &fraud_rules::Rules) -> String {
    let counts = fraud_rules::summary(rules);
    format!(
        "version {}: {} rules, allow list {} cards / {} merchants, block list {} cards / {} merchants",
        rules.version(),
        counts["rules"],
        counts["allow_cards"],
        counts["allow_merchants"],
        counts["block_cards"],
        counts["block_merchants"]
    )
}

pub fn run(command: RulesCommand) -> anyhow::Result<()> {
    match command {
        RulesCommand::Check { file } => {
            let rules = fraud_rules::Rules::parse(&read(&file)?)
                .with_context(|| format!("{} was refused", file.display()))?;
            println!("{} checks: {}", file.display(), describe(&rules));
        }
        RulesCommand::Push(args) => {
            let document = read(&args.file)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let pointer = runtime.block_on(async {
                let aws = fraud_aws::aws_config().await;
                fraud_aws::RulesStore::new(fraud_aws::s3_client(&aws), args.bucket.clone())
                    .put(&document)
                    .await
            });
            let pointer =
                pointer.with_context(|| format!("{} was not uploaded", args.file.display()))?;
            println!(
                "rules {} in force: {} (uploaded {})",
                pointer.version, pointer.uri, pointer.uploaded_at
            );
        }
        RulesCommand::Names => {
            for (name, ty) in fraud_rules::names() {
                println!("{name:<28} {ty}");
            }
        }
    }
    Ok(())
}
