//! The report page: run facts, parameters, metrics (with the promoted model beside
//! them) and the figures, as one HTML file with no external resources other than the
//! PNGs next to it.

use std::fmt::Write;

use crate::curves::{self, Confusion};
use crate::input::{ReportInput, SliceMetrics};

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn table(out: &mut String, rows: &[(String, String)]) {
    out.push_str("<table class=\"kv\">\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    out.push_str("</table>\n");
}

/// A table of slice metrics, one row per (model, metrics).
fn metrics_table(out: &mut String, rows: &[(&str, &SliceMetrics)]) {
    out.push_str("<table class=\"metrics\">\n<tr><th>model</th><th>slice</th><th>rows</th><th>frauds</th><th>PR-AUC</th><th>ROC-AUC</th><th>threshold</th><th>precision</th><th>recall</th><th>F1</th></tr>\n");
    for (model, m) in rows {
        metric_row(out, model, m);
    }
    out.push_str("</table>\n");
}

fn metric_row(out: &mut String, model: &str, m: &SliceMetrics) {
    let _ = writeln!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td></tr>",
        escape(model),
        escape(&m.slice),
        m.rows,
        m.frauds,
        m.pr_auc,
        m.roc_auc,
        m.threshold,
        m.precision,
        m.recall,
        m.f1
    );
}

/// Metrics of `scores` on the evaluated rows at `threshold`.
fn measured(input: &ReportInput, slice: &str, scores: &[f64], threshold: f64) -> SliceMetrics {
    let c = Confusion::at(&input.labels, scores, threshold);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    SliceMetrics {
        slice: slice.to_owned(),
        rows: input.labels.len() as u64,
        frauds: c.tp + c.fn_,
        pr_auc: curves::average_precision(&input.labels, scores),
        roc_auc: curves::roc_auc(&input.labels, scores),
        threshold,
        precision: ratio(c.tp, c.tp + c.fp),
        recall: ratio(c.tp, c.tp + c.fn_),
        f1: ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_),
    }
}

/// The page, linking `figures` (file name, caption) as images beside it.
pub fn page(input: &ReportInput, figures: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let title = format!("Training run {}", input.model_version);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n\
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}\n\
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}\n\
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; font-size: 14px; }}\n\
table.kv th {{ background: #f4f4f4; }}\n\
code {{ font-size: 13px; }}\n\
figure {{ margin: 1.5em 0; }} figure img {{ max-width: 100%; border: 1px solid #ddd; }}\n\
.better {{ color: #1a7f37; }} .worse {{ color: #c62828; }}\n\
</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );

    out.push_str("<h2>Run</h2>\n");
    let mut facts = vec![
        ("model version".to_owned(), input.model_version.clone()),
        ("created at".to_owned(), input.created_at.clone()),
        ("learner".to_owned(), input.learner.clone()),
        ("training data".to_owned(), input.data_uri.clone()),
        ("data SHA-256".to_owned(), input.data_sha256.clone()),
        (
            "decision threshold".to_owned(),
            format!("{:.4}", input.threshold),
        ),
        (
            "figures drawn from".to_owned(),
            format!(
                "{} slice, {} rows",
                input.evaluated_slice,
                input.labels.len()
            ),
        ),
        (
            "review cost per alert".to_owned(),
            format!("{:.2}", input.review_cost),
        ),
    ];
    facts.extend(input.notes.iter().cloned());
    table(&mut out, &facts);

    out.push_str("<h2>Parameters</h2>\n");
    table(&mut out, &input.params);

    out.push_str("<h2>Metrics</h2>\n<p>As recorded at training time (threshold chosen on validation; test never used for a choice).</p>\n");
    let rows: Vec<_> = input.metrics.iter().map(|m| ("this run", m)).collect();
    metrics_table(&mut out, &rows);

    out.push_str("<h2>Comparison with the promoted model</h2>\n");
    match &input.previous {
        None => out.push_str(
            "<p>No model was promoted when this run trained: nothing to compare with.</p>\n",
        ),
        Some(p) => {
            let ours = measured(
                input,
                &input.evaluated_slice,
                &input.scores,
                input.threshold,
            );
            let theirs = measured(input, &input.evaluated_slice, &p.scores, p.threshold);
            let _ = writeln!(
                out,
                "<p>Both models scored on this run's {} slice ({} rows), each at its own threshold. Promoted model: <code>{}</code>.</p>",
                escape(&input.evaluated_slice),
                input.labels.len(),
                escape(&p.version)
            );
            metrics_table(&mut out, &[("this run", &ours), ("promoted", &theirs)]);
            let delta = ours.pr_auc - theirs.pr_auc;
            let _ = writeln!(
                out,
                "<p class=\"{}\">PR-AUC difference (this run − promoted): {delta:+.4}</p>",
                if delta > 0.0 { "better" } else { "worse" }
            );
            if !p.recorded_metrics.is_empty() {
                out.push_str("<p>The promoted model's metrics as recorded when it was trained (on its own slices):</p>\n");
                let rows: Vec<_> = p.recorded_metrics.iter().map(|m| ("promoted", m)).collect();
                metrics_table(&mut out, &rows);
            }
        }
    }

    out.push_str("<h2>Figures</h2>\n");
    for (file, caption) in figures {
        let _ = writeln!(
            out,
            "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
            escape(file),
            escape(caption),
            escape(caption)
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_run_text() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
