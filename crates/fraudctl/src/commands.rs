//! The subcommands. Each parses its arguments, does the work through the library crates
//! and prints a summary.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use fraud_core::artifact::ARTIFACT_FILE;
use fraud_core::calibration::CostModel;
use fraud_core::features::FEATURE_NAMES;
use fraud_core::metrics::SliceReport;
use fraud_core::model::{ForestParams, GbmParams, Learner};
use fraud_core::scoring::Scorer;
use fraud_core::train::{
    candidates, prepare, train_and_evaluate_with_costs, DataSource, TimeSplit, DEFAULT_MAX_SAMPLES,
};
use fraud_core::Transaction;
use fraud_generator::{Drift, Generator, GeneratorConfig};

use crate::input::{create_parent, load_artifact, load_csv};
use crate::progress;

#[derive(Args)]
pub struct GenerateArgs {
    /// Output CSV file.
    #[arg(long, default_value = "out/transactions.csv")]
    out: PathBuf,
    /// Number of card holders.
    #[arg(long, default_value_t = 1000)]
    customers: u32,
    /// Number of days to simulate.
    #[arg(long, default_value_t = 60)]
    days: u32,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2019-01-01")]
    start: String,
    /// Seed: the same seed and settings give the same file, byte for byte.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Expected fraud episodes per card per year (0.35 gives about 0.5% frauds).
    #[arg(long, default_value_t = 0.35)]
    episodes_per_card_year: f64,
    /// Drift from this day on (0 = the first day): amounts times
    /// --drift-amount-factor and a new fraud pattern (see --drift-new-pattern-share).
    #[arg(long)]
    drift_from_day: Option<u32>,
    /// With --drift-from-day: every amount from that day on is multiplied by this.
    #[arg(long, default_value_t = 1.0, requires = "drift_from_day")]
    drift_amount_factor: f64,
    /// With --drift-from-day: the share of fraud episodes that follow the new pattern
    /// (daytime bursts of $150-450 in travel, health_fitness and home); 0 = none.
    #[arg(long, default_value_t = 0.7, requires = "drift_from_day")]
    drift_new_pattern_share: f64,
}

pub fn generate(args: GenerateArgs) -> Result<()> {
    let config = GeneratorConfig {
        customers: args.customers,
        days: args.days,
        start: args
            .start
            .parse()
            .with_context(|| format!("--start `{}` is not a YYYY-MM-DD date", args.start))?,
        seed: args.seed,
        episodes_per_card_year: args.episodes_per_card_year,
        drift: args.drift_from_day.map(|from_day| Drift {
            from_day,
            amount_factor: args.drift_amount_factor,
            new_pattern: args.drift_new_pattern_share > 0.0,
            new_pattern_share: args.drift_new_pattern_share,
        }),
    };
    let generator = Generator::new(config)?;
    create_parent(&args.out)?;
    let file =
        File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let bar = progress::bar(Some(u64::from(args.days)), "days");
    let started = Instant::now();
    let stats = generator.write_csv(BufWriter::with_capacity(1 << 20, file), |_| bar.inc(1))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "Generated {} transactions ({} frauds, {:.2}%) for {} cards over {} days into {}",
        stats.rows,
        stats.frauds,
        100.0 * stats.frauds as f64 / stats.rows.max(1) as f64,
        args.customers,
        args.days,
        args.out.display()
    );
    println!(
        "  {:.1} s, {:.0} rows/s",
        secs,
        stats.rows as f64 / secs.max(1e-9)
    );
    Ok(())
}

#[derive(Args)]
pub struct TrainArgs {
    /// Labelled Sparkov-schema CSV (e.g. fraudTrain.csv or `fraudctl generate` output).
    #[arg(long)]
    data: PathBuf,
    /// Directory to write model.json and metrics.json into.
    #[arg(long)]
    out: PathBuf,
    /// Learner: `cart` (our forest), `linfa-trees` (forest), `gbm` (our gradient
    /// boosting), `blend` (the cart forest and the boosting, each calibrated, averaged
    /// in log-odds), or `auto` to fit the forest, the boosting and the blend and keep
    /// the best on validation (or on the time folds, with `--folds`); linfa-trees is
    /// fitted only when named.
    #[arg(long, default_value = "auto", value_parser = ["auto", "cart", "linfa-trees", "gbm", "blend"])]
    learner: String,
    /// Time folds the learner is chosen on with `auto` (mean PR-AUC): expanding windows
    /// of validation size ending at the validation slice, each fitted on the rows before
    /// the window preceding it (boosting stops early, blends calibrate on that window);
    /// 1 = the validation slice alone (default).
    #[arg(long, default_value_t = TimeSplit::default().folds)]
    folds: usize,
    /// Boosting: most rounds (early stopping on validation PR-AUC usually ends sooner).
    #[arg(long, default_value_t = GbmParams::default().max_rounds)]
    gbm_rounds: usize,
    /// Boosting: learning rate (shrinkage).
    #[arg(long, default_value_t = GbmParams::default().learning_rate)]
    gbm_learning_rate: f64,
    /// Boosting: most leaves per tree.
    #[arg(long, default_value_t = GbmParams::default().max_leaves)]
    gbm_leaves: usize,
    /// Boosting: weight of a fraud row in the loss (default: sqrt(legit / frauds)).
    #[arg(long)]
    gbm_scale_pos_weight: Option<f64>,
    /// Boosting: models fitted with different seeds (each stopped early on its own) whose
    /// log-odds are averaged into the boosting candidate ("bagged boosting"); 1 = one model,
    /// 0 = automatic (5 on training sets of up to 50,000 rows, else 1).
    #[arg(long, default_value_t = GbmParams::default().bags)]
    gbm_bags: usize,
    /// Boosting: most legitimate rows one tree sees (frauds are all drawn at the
    /// subsample rate; the drawn legitimate rows weigh the inverse of their lower rate);
    /// 0 = no limit.
    #[arg(long, default_value_t = GbmParams::default().max_legit_rows)]
    gbm_max_legit_rows: usize,
    /// Number of trees.
    #[arg(long, default_value_t = ForestParams::default().n_trees)]
    trees: usize,
    /// Minimum rows in a leaf.
    #[arg(long, default_value_t = ForestParams::default().min_leaf)]
    min_leaf: usize,
    /// CART: features tried at each split.
    #[arg(long, default_value_t = ForestParams::default().max_features)]
    max_features: usize,
    /// CART: most rows drawn per tree (with replacement); a smaller training slice is
    /// drawn at its own size. Caps the forest's cost on large data.
    #[arg(long, default_value_t = DEFAULT_MAX_SAMPLES)]
    max_samples: usize,
    /// Maximum tree depth.
    #[arg(long, default_value_t = ForestParams::default().max_depth)]
    max_depth: usize,
    /// linfa-trees: legitimate rows sampled per fraud row for each tree.
    #[arg(long, default_value_t = ForestParams::default().negatives_per_positive)]
    negatives_per_positive: f64,
    /// linfa-trees: fraction of features each tree may use.
    #[arg(long, default_value_t = ForestParams::default().feature_fraction)]
    feature_fraction: f64,
    /// Random seed (training is deterministic for a seed).
    #[arg(long, default_value_t = ForestParams::default().seed)]
    seed: u64,
    /// Fraction of the time-ordered rows to train on (the earliest).
    #[arg(long, default_value_t = TimeSplit::default().train)]
    train_fraction: f64,
    /// Fraction after the training rows used to choose the threshold; the rest is the test slice.
    #[arg(long, default_value_t = TimeSplit::default().validation)]
    validation_fraction: f64,
    /// Cost of one manual review, in the currency of `amt`: with `--decline-cost` and the
    /// fraud amounts it sets the approve / review / block thresholds.
    #[arg(long, env = "FRAUD_REVIEW_COST", default_value_t = CostModel::default().review_cost)]
    review_cost: f64,
    /// Cost of blocking a legitimate payment (lost sale, customer friction).
    #[arg(long, env = "FRAUD_DECLINE_COST", default_value_t = CostModel::default().decline_cost)]
    decline_cost: f64,
    /// Where rejected rows go (default: <out>/rejects.csv).
    #[arg(long)]
    rejects: Option<PathBuf>,
    #[command(flatten)]
    report: crate::report::TrainReportArgs,
}

pub fn train(args: TrainArgs) -> Result<()> {
    let rejects = args
        .rejects
        .clone()
        .unwrap_or_else(|| args.out.join("rejects.csv"));
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let (txs, sha256, rejected) = load_csv(&args.data, &rejects)?;
    let params = ForestParams {
        learner: Learner::Cart,
        n_trees: args.trees,
        max_depth: args.max_depth,
        min_leaf: args.min_leaf,
        max_features: args.max_features,
        max_samples: Some(args.max_samples),
        negatives_per_positive: args.negatives_per_positive,
        feature_fraction: args.feature_fraction,
        seed: args.seed,
        gbm: GbmParams::default(),
        blend: None,
    };
    let gbm = ForestParams {
        gbm: GbmParams {
            max_rounds: args.gbm_rounds,
            learning_rate: args.gbm_learning_rate,
            max_leaves: args.gbm_leaves,
            scale_pos_weight: args.gbm_scale_pos_weight,
            bags: args.gbm_bags,
            max_legit_rows: args.gbm_max_legit_rows,
            ..GbmParams::default()
        },
        ..ForestParams::gbm(args.seed)
    };
    let learner = match args.learner.as_str() {
        "cart" => Some(Learner::Cart),
        "linfa-trees" => Some(Learner::LinfaTrees),
        "gbm" => Some(Learner::Gbm),
        "blend" => Some(Learner::Blend),
        _ => None,
    };
    let candidates = candidates(learner, params, gbm, args.seed);
    let split = TimeSplit {
        train: args.train_fraction,
        validation: args.validation_fraction,
        folds: args.folds,
    };
    let bar = progress::bar(None, "features");
    let amounts = fraud_report::from_core::amounts_by_trans_num(&txs);
    let prepared = prepare(txs)?;
    bar.finish_and_clear();
    let bar = progress::bar(None, "trees");
    let source = DataSource {
        uri: args.data.display().to_string(),
        sha256,
    };
    let costs = CostModel {
        review_cost: args.review_cost,
        decline_cost: args.decline_cost,
    };
    let artifact =
        train_and_evaluate_with_costs(&prepared, &source, &candidates, split, costs, &|| {
            bar.inc(1)
        })?;
    bar.finish_and_clear();
    let model_path = args.out.join(ARTIFACT_FILE);
    fs::write(&model_path, artifact.to_bytes())
        .with_context(|| format!("cannot write {}", model_path.display()))?;
    let metrics_path = args.out.join("metrics.json");
    fs::write(&metrics_path, serde_json::to_vec_pretty(&artifact.metrics)?)?;

    println!(
        "Trained model {} on {} ({} rows, {} frauds, {} rejected)",
        artifact.version,
        args.data.display(),
        artifact.training.rows,
        artifact.training.frauds,
        rejected
    );
    println!(
        "  time split: train {} / validation {} / test {} rows (earliest to latest)",
        artifact.training.train_rows,
        artifact.training.validation_rows,
        artifact.training.test_rows
    );
    for c in &artifact.training.candidates {
        let chosen = if c.params == artifact.model.params {
            "  <- chosen"
        } else {
            ""
        };
        let folds = if c.fold_pr_auc.len() > 1 {
            let each: Vec<String> = c.fold_pr_auc.iter().map(|v| format!("{v:.4}")).collect();
            format!(
                ", mean over {} time folds {:.4} ({})",
                c.fold_pr_auc.len(),
                c.selection_pr_auc.unwrap_or(c.validation_pr_auc),
                each.join(" ")
            )
        } else {
            String::new()
        };
        println!(
            "  {:<11} {} trees fitted in {:>6.2} s, validation PR-AUC {:.4}{folds}{chosen}",
            c.params.learner.to_string(),
            c.trees,
            c.train_seconds,
            c.validation_pr_auc
        );
    }
    print_report("validation", &artifact.metrics.validation);
    print_report("test", &artifact.metrics.test);
    let p = &artifact.policy;
    println!(
        "  calibration: Platt a {:.4} b {:.4}; outcomes: review at p >= {:.4}, block at p >= {:.4} (review cost {}, decline cost {})",
        artifact.calibration.a, artifact.calibration.b, p.review_threshold, p.block_threshold, p.costs.review_cost, p.costs.decline_cost
    );
    if let Some(e) = &artifact.evaluation {
        println!(
            "  test slice: expected frauds {:.1} vs observed {}, Brier {:.5} (raw {:.5}); cost {:.0} = fraud lost {:.0} + reviews {:.0} + declines {:.0} ({} reviewed, {} blocked)",
            e.test_expected_frauds, e.test_observed_frauds, e.test_brier, e.test_brier_raw,
            e.test_cost.total_cost, e.test_cost.fraud_amount_lost, e.test_cost.review_cost, e.test_cost.decline_cost,
            e.test_cost.reviewed, e.test_cost.blocked
        );
    }
    let mut top = artifact.feature_importance.clone();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = top
        .iter()
        .take(5)
        .map(|(n, v)| format!("{n} {v:.3}"))
        .collect();
    println!("  top features: {}", top.join(", "));
    println!(
        "  model: {}\n  metrics: {}",
        model_path.display(),
        metrics_path.display()
    );
    if rejected > 0 {
        println!("  rejects: {}", rejects.display());
    }
    if let Some(report) =
        crate::report::after_train(&args.report, &artifact, &prepared, &amounts, &args.out)?
    {
        println!("  report: {}", report.display());
    }
    Ok(())
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Model directory (holding model.json) or artifact file.
    #[arg(long)]
    model: PathBuf,
    /// Labelled CSV to evaluate on (history features are computed over the whole file).
    #[arg(long)]
    data: PathBuf,
    /// Where rejected rows go.
    #[arg(long, default_value = "out/evaluate-rejects.csv")]
    rejects: PathBuf,
    /// Judge only the payments from this day (YYYY-MM-DD) on; the earlier rows only
    /// warm the card histories, as the live score function's would be.
    #[arg(long)]
    since: Option<String>,
}

pub fn evaluate(args: EvaluateArgs) -> Result<()> {
    let artifact = load_artifact(&args.model)?;
    let (mut txs, _, rejected) = load_csv(&args.data, &args.rejects)?;
    let since = match &args.since {
        Some(day) => Some(
            day.parse::<chrono::NaiveDate>()
                .with_context(|| format!("--since `{day}` is not a YYYY-MM-DD date"))?
                .and_time(chrono::NaiveTime::MIN),
        ),
        None => None,
    };
    // `prepare` sorts by time with a stable sort: the same order as here.
    txs.sort_by_key(Transaction::event_time);
    let first = since.map_or(0, |s| txs.partition_point(|t| t.trans_date_trans_time < s));
    if first == txs.len() {
        bail!("no payment in {} on or after --since", args.data.display());
    }
    let prepared = prepare(txs)?;
    let scores = artifact.score_many(&prepared.features[first..]);
    let report = SliceReport::new(&prepared.labels[first..], &scores, artifact.threshold);
    println!(
        "Evaluated model {} on {} ({} rows judged{}, {} rejected)",
        artifact.version,
        args.data.display(),
        report.rows,
        since.map_or(String::new(), |_| format!(
            " from {}, {first} earlier rows warming the card histories",
            args.since.as_deref().unwrap_or_default()
        )),
        rejected
    );
    print_report(if since.is_some() { "since" } else { "all rows" }, &report);
    Ok(())
}

#[derive(Args)]
pub struct ScoreArgs {
    /// Model directory (holding model.json) or artifact file.
    #[arg(long)]
    model: PathBuf,
    /// Sparkov-schema CSV, with or without `is_fraud`.
    #[arg(long)]
    input: PathBuf,
    /// Output CSV: trans_num,cc_num,amt,probability,decision,outcome,reasons,model_version
    /// per accepted row (reasons: `feature=value` of the top features, `;`-separated).
    #[arg(long)]
    output: PathBuf,
    /// Where rejected rows go (default: <output>.rejects.csv).
    #[arg(long)]
    rejects: Option<PathBuf>,
}

pub fn score(args: ScoreArgs) -> Result<()> {
    let artifact = load_artifact(&args.model)?;
    let rejects = args
        .rejects
        .clone()
        .unwrap_or_else(|| args.output.with_extension("rejects.csv"));
    let (mut txs, _, rejected) = load_csv(&args.input, &rejects)?;
    // Per-card history must see each card's payments in time order.
    let mut order: Vec<usize> = (0..txs.len()).collect();
    order.sort_by_key(|&i| txs[i].event_time());
    let mut scorer = Scorer::new(&artifact);
    let bar = progress::bar(Some(txs.len() as u64), "scoring");
    let mut scores = vec![None; txs.len()];
    let started = Instant::now();
    for i in order {
        scores[i] = Some(scorer.score(&txs[i]));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    create_parent(&args.output)?;
    let mut out = csv::Writer::from_path(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    out.write_record([
        "trans_num",
        "cc_num",
        "amt",
        "probability",
        "decision",
        "outcome",
        "reasons",
        "model_version",
    ])?;
    let mut blocked = 0u64;
    for s in scores.into_iter().flatten() {
        blocked += u64::from(s.decision == fraud_core::scoring::Decision::Block);
        out.write_record([
            s.trans_num.as_str(),
            &s.cc_num.to_string(),
            &s.amt.to_string(),
            &format!("{:.6}", s.probability),
            s.decision.as_str(),
            s.outcome.as_str(),
            &s.reasons
                .iter()
                .map(|r| format!("{}={}", r.feature, r.value))
                .collect::<Vec<_>>()
                .join(";"),
            s.model_version.as_str(),
        ])?;
    }
    out.flush()?;
    let labelled: Vec<_> = txs.iter_mut().filter_map(|t| t.is_fraud).collect();
    println!(
        "Scored {} rows of {} with model {} in {:.2} s ({:.0} rows/s); {} blocked, {} rejected",
        txs.len(),
        args.input.display(),
        artifact.version,
        secs,
        txs.len() as f64 / secs.max(1e-9),
        blocked,
        rejected
    );
    if labelled.len() == txs.len() && !txs.is_empty() {
        println!("  (the input is labelled: use `fraudctl evaluate` for metrics)");
    }
    println!("  output: {}", args.output.display());
    Ok(())
}

#[derive(Args)]
pub struct FeaturesArgs {
    /// Labelled CSV.
    #[arg(long)]
    data: PathBuf,
    /// Output CSV: trans_num,split,is_fraud,<features...> in time order.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = TimeSplit::default().train)]
    train_fraction: f64,
    #[arg(long, default_value_t = TimeSplit::default().validation)]
    validation_fraction: f64,
}

pub fn features(args: FeaturesArgs) -> Result<()> {
    let (txs, _, rejected) = load_csv(&args.data, &args.out.with_extension("rejects.csv"))?;
    let prepared = prepare(txs)?;
    let split = TimeSplit {
        train: args.train_fraction,
        validation: args.validation_fraction,
        ..TimeSplit::default()
    };
    let [train, validation, _] = split.ranges(prepared.labels.len());
    create_parent(&args.out)?;
    let mut out = csv::Writer::from_path(&args.out)?;
    let mut header = vec!["trans_num", "split", "is_fraud"];
    header.extend(FEATURE_NAMES);
    out.write_record(&header)?;
    for (i, f) in prepared.features.iter().enumerate() {
        let split = if train.contains(&i) {
            "train"
        } else if validation.contains(&i) {
            "validation"
        } else {
            "test"
        };
        let mut row = vec![
            prepared.trans_nums[i].clone(),
            split.to_owned(),
            u8::from(prepared.labels[i]).to_string(),
        ];
        row.extend(f.iter().map(|v| v.to_string()));
        out.write_record(&row)?;
    }
    out.flush()?;
    println!(
        "Wrote {} feature rows ({} features, {} rejected) to {}",
        prepared.labels.len(),
        FEATURE_NAMES.len(),
        rejected,
        args.out.display()
    );
    Ok(())
}

fn print_report(name: &str, r: &SliceReport) {
    println!("  {name:<10} rows {:>8}  frauds {:>5}  PR-AUC {:.4}  ROC-AUC {:.4}  @threshold {:.4}: precision {:.4} recall {:.4} F1 {:.4}  (tp {} fp {} fn {} tn {})",
        r.rows, r.frauds, r.pr_auc, r.roc_auc, r.threshold, r.precision, r.recall, r.f1,
        r.confusion.tp, r.confusion.fp, r.confusion.fn_, r.confusion.tn);
}
