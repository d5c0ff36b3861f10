//! Job mode: the same training run outside Lambda, for data too large for one
//! invocation (more than ~15 minutes or ~10 GB). The binary started with `job` runs one
//! [`TrainRequest`] with the same configuration ([`Config::from_env`]) and clients as the
//! Lambda, prints the [`TrainResponse`] as JSON on stdout and a summary on stderr, and
//! exits non-zero on failure. AWS Batch (Fargate) and a plain process on a laptop start it
//! the same way:
//!
//! ```text
//! fraud-train job --request '{"data_uris":["s3://fraud-data/train/2024-06.csv"]}'
//! fraud-train job --request-file request.json
//! TRAIN_REQUEST='{"data_uris":[…]}' fraud-train job
//! ```
//!
//! Started without arguments, the binary is the Lambda function, as before.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{Config, TrainRequest, TrainResponse, Trainer};

/// Exit status of a request or configuration that cannot be used (nothing was trained).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of a training run that failed (data, stores, training).
pub const EXIT_TRAINING_FAILED: u8 = 1;

/// The command line of the `fraud-train` binary.
#[derive(Debug, Parser)]
#[command(
    name = "fraud-train",
    about = "The train function. Without a command: the Lambda entry point (Invoke API, Function URL). \
             With `job`: one training run as a process or container job (AWS Batch)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one training request and exit: the response JSON on stdout, a summary on stderr.
    /// Exit status 0 on success, 1 if training failed, 2 if the request or the
    /// configuration cannot be used. Configuration: the function's environment
    /// (FRAUD_MODELS_BUCKET, TRACK_FUNCTION_NAME, …).
    Job(JobArgs),
}

/// Where the job's request comes from: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct JobArgs {
    /// The training request as JSON, the same document the function is invoked with,
    /// e.g. '{"data_uris":["s3://bucket/train.csv"],"force":false,"trees":300}'.
    #[arg(long, env = "TRAIN_REQUEST", value_name = "JSON")]
    pub request: Option<String>,
    /// A file holding the training request as JSON.
    #[arg(long, value_name = "PATH")]
    pub request_file: Option<PathBuf>,
}

/// Why a job's request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no training request: pass --request JSON, --request-file PATH or set TRAIN_REQUEST")]
    Missing,
    #[error("cannot read the request file {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{from} is not a training request: {reason}")]
    Invalid { from: String, reason: String },
}

impl JobArgs {
    /// The request, parsed with the same rules as an invocation's (unknown fields are
    /// refused with their name).
    pub fn request(&self) -> Result<TrainRequest, RequestError> {
        let (from, text) = match (&self.request, &self.request_file) {
            (Some(json), _) => ("--request (or TRAIN_REQUEST)".to_owned(), json.clone()),
            (None, Some(path)) => (
                path.display().to_string(),
                std::fs::read_to_string(path).map_err(|source| RequestError::File {
                    path: path.clone(),
                    source,
                })?,
            ),
            (None, None) => return Err(RequestError::Missing),
        };
        serde_json::from_str(&text).map_err(|e| RequestError::Invalid {
            from,
            reason: e.to_string(),
        })
    }
}

/// Runs one training request as a job and returns the process's exit status. Errors go
/// to stderr, as one line that says what to fix.
pub async fn run(args: JobArgs) -> ExitCode {
    let request = match args.request() {
        Ok(request) => request,
        Err(e) => return fail(EXIT_BAD_INPUT, &e),
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(EXIT_BAD_INPUT, &e),
    };
    let trainer = Trainer::new(config, &fraud_aws::aws_config().await);
    match trainer.handle(request).await {
        Ok(response) => {
            let json = serde_json::to_string(&response).expect("responses serialize");
            println!("{json}");
            eprintln!("{}", summary(&response));
            ExitCode::SUCCESS
        }
        Err(e) => fail(EXIT_TRAINING_FAILED, &e),
    }
}

fn fail(status: u8, error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("fraud-train job: {error}");
    ExitCode::from(status)
}

/// A few lines a person reads at the end of a job's log.
pub fn summary(r: &TrainResponse) -> String {
    let previous = match (&r.previous_version, r.previous_test_pr_auc) {
        (Some(v), Some(p)) => format!(" (current model {v}: {p:.4})"),
        (Some(v), None) => format!(" (current model {v})"),
        _ => String::new(),
    };
    let recorded = if r.tracked {
        "recorded in the run log and beside the artifact"
    } else {
        "recorded beside the artifact only: the track function did not answer"
    };
    let mut lines = vec![
        format!(
            "model {} ({}) trained on {} rows ({} frauds, {} rejected) in {:.1} s",
            r.model_version, r.learner, r.rows, r.frauds, r.rejected, r.train_seconds
        ),
        format!(
            "test PR-AUC {:.4}{previous}, ROC-AUC {:.4}, F1 {:.4}, threshold {:.4}",
            r.test_pr_auc, r.test_roc_auc, r.test_f1, r.threshold
        ),
        format!(
            "{}: {}",
            if r.promoted {
                "promoted"
            } else {
                "not promoted"
            },
            r.promotion_reason
        ),
        format!("artifact {}", r.artifact_uri),
        format!("run {} ({recorded})", r.run_uri),
    ];
    if let Some(report) = &r.report_uri {
        lines.push(format!("report {report}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("fraud-train").chain(args.iter().copied()))
    }

    #[test]
    fn without_arguments_it_is_the_lambda_function() {
        assert!(parse(&[]).unwrap().command.is_none());
    }

    #[test]
    fn job_reads_the_request_from_the_command_line_or_a_file() {
        let Some(Command::Job(args)) = parse(&[
            "job",
            "--request",
            r#"{"data_uris":["s3://b/k.csv"],"trees":5}"#,
        ])
        .unwrap()
        .command
        else {
            panic!("not a job")
        };
        let request = args.request().unwrap();
        assert_eq!(
            (request.data_uris, request.trees),
            (vec!["s3://b/k.csv".to_owned()], Some(5))
        );

        let file = std::env::temp_dir().join(format!("train-request-{}.json", std::process::id()));
        std::fs::write(&file, r#"{"data_uris":["s3://b/f.csv"],"force":true}"#).unwrap();
        let Some(Command::Job(args)) = parse(&["job", "--request-file", file.to_str().unwrap()])
            .unwrap()
            .command
        else {
            panic!("not a job")
        };
        let request = args.request().unwrap();
        std::fs::remove_file(&file).unwrap();
        assert!(request.force);
        assert_eq!(request.data_uris, vec!["s3://b/f.csv".to_owned()]);
    }

    #[test]
    fn job_needs_exactly_one_request_source() {
        // TRAIN_REQUEST may be set in the environment of whoever runs the tests.
        if std::env::var_os("TRAIN_REQUEST").is_none() {
            let err = parse(&["job"]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        }
        let err = parse(&["job", "--request", "{}", "--request-file", "r.json"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn a_misspelled_field_is_refused_with_its_name() {
        let args = JobArgs {
            request: Some(r#"{"data_uri":["s3://b/k.csv"]}"#.into()),
            request_file: None,
        };
        let err = args.request().unwrap_err().to_string();
        assert!(err.contains("unknown field `data_uri`"), "{err}");
    }

    #[test]
    fn a_missing_request_file_is_named() {
        let args = JobArgs {
            request: None,
            request_file: Some("/does/not/exist.json".into()),
        };
        let err = args.request().unwrap_err().to_string();
        assert!(err.contains("/does/not/exist.json"), "{err}");
    }

    #[test]
    fn summary_says_what_was_trained_and_whether_it_was_promoted() {
        let response = TrainResponse {
            model_version: "20240601T000000Z-abc".into(),
            artifact_uri: "s3://m/models/20240601T000000Z-abc/model.json".into(),
            learner: "gbm".into(),
            rows: 1000,
            frauds: 10,
            rejected: 2,
            test_pr_auc: 0.8123,
            test_roc_auc: 0.97,
            test_f1: 0.7,
            threshold: 0.5,
            promoted: false,
            promotion_reason: "test PR-AUC 0.8123 does not beat the current model's 0.9000".into(),
            previous_version: Some("v0".into()),
            previous_test_pr_auc: Some(0.9),
            run_uri: "s3://m/models/20240601T000000Z-abc/run.json".into(),
            report_uri: None,
            tracked: false,
            train_seconds: 12.34,
        };
        let text = summary(&response);
        assert!(
            text.contains("model 20240601T000000Z-abc (gbm) trained on 1000 rows"),
            "{text}"
        );
        assert!(
            text.contains("test PR-AUC 0.8123 (current model v0: 0.9000)"),
            "{text}"
        );
        assert!(text.contains("not promoted: test PR-AUC"), "{text}");
        assert!(text.contains("beside the artifact only"), "{text}");
        assert!(!text.contains("report "), "{text}");
    }
}
