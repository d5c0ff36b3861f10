//! Compares blend variants (log-odds or probability averaging, equal or
//! validation-chosen weights) with their components on labelled data, on the default
//! time split and selection folds. Every choice is made on train/validation; the test
//! column is printed for the record only.
//!
//! `cargo run --release -p fraud-core --example blend_variants -- data.csv [seed...]`
//! (`FOLDS=n` sets the selection folds).

mod common;

use fraud_core::model::{BlendSpace, BlendWeighting, ForestParams};
use fraud_core::train::{train_and_evaluate, TimeSplit};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: blend_variants data.csv [seed...]");
    let seeds: Vec<u64> = args.map(|s| s.parse().expect("seed")).collect();
    let (data, source) = common::load_labelled(&path);
    for seed in if seeds.is_empty() { vec![1] } else { seeds } {
        let cart = ForestParams {
            seed,
            ..ForestParams::default()
        };
        let gbm = ForestParams::gbm(seed);
        let mut candidates = vec![cart.clone(), gbm.clone()];
        for space in [BlendSpace::LogOdds, BlendSpace::Probability] {
            for weighting in [BlendWeighting::Equal, BlendWeighting::Validation] {
                candidates.push(ForestParams::blend(
                    vec![cart.clone(), gbm.clone()],
                    space,
                    weighting,
                    seed,
                ));
            }
        }
        let started = std::time::Instant::now();
        let split = TimeSplit {
            folds: std::env::var("FOLDS").map_or(TimeSplit::default().folds, |f| {
                f.parse().expect("FOLDS is a number")
            }),
            ..TimeSplit::default()
        };
        let a = train_and_evaluate(&data, &source, &candidates, split, &|| {}).expect("trains");
        eprintln!("seed {seed}: {:.1} s", started.elapsed().as_secs_f64());
        for c in &a.training.candidates {
            let name = match &c.params.blend {
                Some(b) => format!("blend {:?} {:?}", b.space, b.weighting),
                None => c.params.learner.to_string(),
            };
            let folds: Vec<String> = c.fold_pr_auc.iter().map(|v| format!("{v:.4}")).collect();
            println!(
                "{{\"seed\":{seed},\"model\":\"{name}\",\"selection\":{:.4},\"validation\":{:.4},\"folds\":\"{}\",\"test\":{:.4},\"seconds\":{:.2}}}",
                c.selection_pr_auc.unwrap_or(f64::NAN),
                c.validation_pr_auc,
                folds.join(" "),
                c.test.as_ref().map_or(f64::NAN, |t| t.pr_auc),
                c.train_seconds
            );
        }
        if let Some(blend) = a.model.components.first() {
            println!("chosen blend, first weight {}", blend.weight);
        }
        println!(
            "chosen: {} test {:.4}",
            a.model.params.learner, a.metrics.test.pr_auc
        );
    }
}
