//! Compares variants of the gradient-boosting candidate (early-stopping metric and
//! patience, bagged boosting, learning rate), alone and blended with the CART forest,
//! on the default time split and on expanding-window selection folds. Every choice is
//! to be made on the train side (fold mean, validation); the test column is printed for
//! the record only.
//!
//! `cargo run --release -p fraud-core --example gbm_variants -- data.csv [seed...]`
//!
//! `VARIANTS` lists the boosting variants as `metric:patience:bags:learning_rate`
//! separated by spaces (metric: `pr_auc`, `log_loss` or `plain_log_loss`; default:
//! `pr_auc:100:1:0.05 log_loss:100:1:0.05`); `FOLDS=n` sets the selection folds
//! (default 3); `BLEND=0` leaves the blends out.

mod common;

use fraud_core::model::{ForestParams, GbmParams, StopMetric};
use fraud_core::train::{default_blend, train_and_evaluate, TimeSplit};

fn variant(spec: &str, seed: u64) -> ForestParams {
    let parts: Vec<&str> = spec.split(':').collect();
    assert_eq!(
        parts.len(),
        4,
        "metric:patience:bags:learning_rate, got {spec}"
    );
    let metric = match parts[0] {
        "pr_auc" => StopMetric::PrAuc,
        "log_loss" => StopMetric::LogLoss,
        "plain_log_loss" => StopMetric::PlainLogLoss,
        other => panic!("unknown metric {other}"),
    };
    ForestParams {
        gbm: GbmParams {
            early_stopping_metric: metric,
            early_stopping_rounds: parts[1].parse().expect("patience"),
            bags: parts[2].parse().expect("bags"),
            learning_rate: parts[3].parse().expect("learning rate"),
            ..GbmParams::default()
        },
        ..ForestParams::gbm(seed)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: gbm_variants data.csv [seed...]");
    let seeds: Vec<u64> = args.map(|s| s.parse().expect("seed")).collect();
    let specs: Vec<String> = std::env::var("VARIANTS")
        .unwrap_or_else(|_| "pr_auc:100:1:0.05 log_loss:100:1:0.05".into())
        .split_whitespace()
        .map(String::from)
        .collect();
    let blends = std::env::var("BLEND").map_or(true, |b| b != "0");
    let (data, source) = common::load_labelled(&path);
    let split = TimeSplit {
        folds: std::env::var("FOLDS").map_or(3, |f| f.parse().expect("FOLDS is a number")),
        ..TimeSplit::default()
    };
    for seed in if seeds.is_empty() { vec![1] } else { seeds } {
        let cart = ForestParams {
            seed,
            ..ForestParams::default()
        };
        let mut candidates = vec![cart.clone()];
        let mut names = vec!["cart".to_string()];
        for spec in &specs {
            let gbm = variant(spec, seed);
            candidates.push(gbm.clone());
            names.push(format!("gbm {spec}"));
            if blends {
                candidates.push(default_blend(cart.clone(), gbm, seed));
                names.push(format!("blend {spec}"));
            }
        }
        let started = std::time::Instant::now();
        let a = train_and_evaluate(&data, &source, &candidates, split, &|| {}).expect("trains");
        eprintln!("seed {seed}: {:.1} s", started.elapsed().as_secs_f64());
        for (c, name) in a.training.candidates.iter().zip(&names) {
            let folds: Vec<String> = c.fold_pr_auc.iter().map(|v| format!("{v:.4}")).collect();
            println!(
                "{{\"seed\":{seed},\"model\":\"{name}\",\"folds_mean\":{:.4},\"folds\":\"{}\",\"validation\":{:.4},\"test\":{:.4},\"seconds\":{:.2},\"trees\":{}}}",
                c.selection_pr_auc.unwrap_or(f64::NAN),
                folds.join(" "),
                c.validation_pr_auc,
                c.test.as_ref().map_or(f64::NAN, |t| t.pr_auc),
                c.train_seconds,
                c.trees
            );
        }
    }
}
