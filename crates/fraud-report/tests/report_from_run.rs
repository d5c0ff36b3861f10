//! A report from a real (small) training run: a generated data set trained with the
//! core's own API, compared with a weaker "promoted" model. Every figure must be a PNG
//! that decodes, has the expected size and is not blank, and the page must link them.

use std::path::{Path, PathBuf};

use fraud_core::model::ForestParams;
use fraud_core::train::{prepare, train_and_evaluate, DataSource, TimeSplit};
use fraud_report::from_core::{amounts_by_trans_num, amounts_in_order, report_input};
use fraud_report::{build, read_input, write_dir, ReportInput, FIGURES, INDEX_FILE};

/// Decodes a PNG: (width, height, RGB(A) pixels, channels).
fn decode(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type.samples())
}

/// Variance of the pixels' grey levels: 0 for a blank image.
fn grey_variance(pixels: &[u8], channels: usize) -> f64 {
    let greys: Vec<f64> = pixels
        .chunks(channels)
        .map(|p| p[..3].iter().map(|&v| f64::from(v)).sum::<f64>() / 3.0)
        .collect();
    let mean = greys.iter().sum::<f64>() / greys.len() as f64;
    greys.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / greys.len() as f64
}

/// Share of pixels that are not white.
fn ink(pixels: &[u8], channels: usize) -> f64 {
    let n = pixels.len() / channels;
    pixels
        .chunks(channels)
        .filter(|p| p[..3].iter().any(|&v| v < 250))
        .count() as f64
        / n as f64
}

fn small_run() -> ReportInput {
    let txs = fraud_generator::payments(300, 60, 11).unwrap();
    let amounts = amounts_by_trans_num(&txs);
    let prepared = prepare(txs).unwrap();
    let amounts = amounts_in_order(&prepared, &amounts).unwrap();
    let source = DataSource {
        uri: "generated://seed-11".into(),
        sha256: "ab".repeat(32),
    };
    let train = |trees: usize, seed: u64| {
        let params = ForestParams {
            n_trees: trees,
            seed,
            ..ForestParams::default()
        };
        train_and_evaluate(&prepared, &source, &[params], TimeSplit::default(), &|| {}).unwrap()
    };
    let promoted = train(2, 1);
    let run = train(30, 2);
    report_input(&run, &prepared, &amounts, Some(&promoted), 5.0).unwrap()
}

fn report_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_training_run_gets_a_page_and_six_readable_non_blank_figures() {
    let input = small_run();
    assert_eq!(
        input.previous.as_ref().unwrap().scores.len(),
        input.scores.len()
    );
    let dir = report_dir("report-from-run");
    let index = write_dir(&build(&input).unwrap(), &dir).unwrap();
    assert_eq!(index, dir.join(INDEX_FILE));
    let html = std::fs::read_to_string(&index).unwrap();

    for (file, _) in FIGURES {
        let path = dir.join(file);
        let (w, h, pixels, channels) = decode(&path);
        assert!(
            (600..=2000).contains(&w) && (400..=1500).contains(&h),
            "{file}: {w}x{h}"
        );
        let variance = grey_variance(&pixels, channels);
        assert!(
            variance > 100.0,
            "{file} looks blank (grey variance {variance})"
        );
        let ink = ink(&pixels, channels);
        assert!(
            (0.01..0.9).contains(&ink),
            "{file}: {:.1}% non-white pixels",
            100.0 * ink
        );
        assert!(
            html.contains(&format!("<img src=\"{file}\"")),
            "page does not show {file}"
        );
    }
    for text in [
        input.model_version.as_str(),
        input.data_sha256.as_str(),
        "Comparison with the promoted model",
        "PR-AUC",
        "n_trees",
    ] {
        assert!(html.contains(text), "page lacks `{text}`");
    }
    // The folder can be redrawn from what it holds.
    assert_eq!(read_input(&dir).unwrap(), input);
}

#[test]
fn a_first_run_without_promoted_model_says_there_is_nothing_to_compare() {
    let mut input = small_run();
    input.previous = None;
    let dir = report_dir("report-first-run");
    let index = write_dir(&build(&input).unwrap(), &dir).unwrap();
    let html = std::fs::read_to_string(index).unwrap();
    assert!(html.contains("nothing to compare with"));
    assert!(!html.contains("promoted model:"));
}

#[test]
fn mismatched_lengths_name_the_field() {
    let mut input = small_run();
    input.amounts.pop();
    let err = build(&input).unwrap_err().to_string();
    assert!(err.contains("field `amounts`"), "{err}");
}

#[test]
fn text_renders_without_system_fonts() {
    // The figures must carry text drawn from the embedded font: a chart with its
    // labels has far more ink than the same chart would have without them. Compare the
    // confusion matrix (mostly text on light cells) to a blank canvas.
    let input = small_run();
    let files = build(&input).unwrap();
    let matrix = files
        .iter()
        .find(|f| f.name == "confusion_matrix.png")
        .unwrap();
    let dir = report_dir("report-text");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.png");
    std::fs::write(&path, &matrix.bytes).unwrap();
    let (_, _, pixels, channels) = decode(&path);
    // The title row (top 60 px) holds only text.
    let row_bytes = 1000 * channels;
    let title = &pixels[..60 * row_bytes];
    assert!(
        ink(title, channels) > 0.005,
        "no text drawn in the title row"
    );
}
