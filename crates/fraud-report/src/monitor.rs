//! The monitor's report: one model version over one window. A page with the window's
//! figures and verdict, and two figures: PSI per feature (bars, the threshold as a line,
//! features above it in red) and the score histogram now vs training (shares per
//! training-quantile bin, side by side). Plain numbers in, like the training report.

use std::fmt::Write as _;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::charts::{err, named_bars, render_png, NamedBars, FONT, HEIGHT, WIDTH};
use crate::html::escape;
use crate::{DrawerOf, ReportError, ReportFile};

/// Everything the monitor's report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorReportInput {
    pub model_version: String,
    /// The window, readable (`2026-12-05T10:00:00Z – 2026-12-06T10:00:00Z`).
    pub window: String,
    /// (name, value) rows of the figures table.
    pub figures: Vec<(String, String)>,
    /// PSI per feature, in feature order (empty: not computed).
    pub feature_psi: Vec<(String, f64)>,
    pub psi_threshold: f64,
    /// Score bins (labels), training shares, live shares (empty: not computed).
    pub score_bins: Vec<String>,
    pub score_training: Vec<f64>,
    pub score_live: Vec<f64>,
    /// Thresholds crossed, and checks not judged (with why).
    pub findings: Vec<String>,
    pub not_judged: Vec<String>,
}

/// The figures of a monitor report: file name, caption.
pub const MONITOR_FIGURES: [(&str, &str); 2] = [
    (
        "feature_psi.png",
        "PSI per feature against the training distribution; the line is the alert threshold",
    ),
    (
        "score_histogram.png",
        "Score distribution now vs training (shares per bin: training deciles and fixed probability edges)",
    ),
];

/// Draws one figure as PNG bytes.
type Drawer = DrawerOf<MonitorReportInput>;

const TRAINING: RGBColor = RGBColor(120, 120, 120);
const LIVE: RGBColor = RGBColor(31, 119, 180);
const OVER: RGBColor = RGBColor(214, 39, 40);

fn message(text: &str) -> Result<Vec<u8>, String> {
    render_png(|root| {
        root.draw(&Text::new(
            text.to_owned(),
            ((WIDTH / 2) as i32, (HEIGHT / 2) as i32),
            TextStyle::from((FONT, 22).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)
    })
}

/// PSI per feature, largest on top (the 25 largest).
pub fn feature_psi(input: &MonitorReportInput) -> Result<Vec<u8>, String> {
    if input.feature_psi.is_empty() {
        return message("Feature PSI not computed (see the page for why)");
    }
    let mut rows = input.feature_psi.clone();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows.truncate(25);
    rows.reverse();
    let n = rows.len();
    let max = rows.iter().map(|r| r.1).fold(input.psi_threshold, f64::max) * 1.1;
    render_png(|root| {
        let bars: Vec<(String, f64, RGBColor)> = rows
            .iter()
            .map(|r| {
                let color = if r.1 > input.psi_threshold {
                    OVER
                } else {
                    LIVE
                };
                (r.0.clone(), r.1, color)
            })
            .collect();
        let mut chart = named_bars(
            root,
            &NamedBars {
                caption: "PSI per feature (largest 25)",
                x: 0.0..max,
                x_desc: "population stability index",
                x_label_area: 60,
                label_size: 14,
                bar_margin: 2,
            },
            &bars,
        )?;
        chart
            .draw_series(LineSeries::new(
                [
                    (input.psi_threshold, SegmentValue::Exact(0)),
                    (input.psi_threshold, SegmentValue::Exact(n)),
                ],
                OVER.stroke_width(2),
            ))
            .map_err(err)?;
        Ok(())
    })
}

/// Score shares per bin, training beside now.
pub fn score_histogram(input: &MonitorReportInput) -> Result<Vec<u8>, String> {
    let n = input.score_bins.len();
    if n == 0 || input.score_live.len() != n || input.score_training.len() != n {
        return message("Score distribution not computed (see the page for why)");
    }
    let max = input
        .score_training
        .iter()
        .chain(&input.score_live)
        .fold(0.0, |a: f64, &b| a.max(b))
        * 1.15;
    render_png(|root| {
        let labels = input.score_bins.clone();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Score distribution: training (grey) vs now (blue)",
                (FONT, 26),
            )
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(70)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..max.max(1e-3))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("fraud probability bin (training deciles and fixed edges)")
            .y_desc("share of payments")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(err)?;
        for (shares, color, left) in [
            (&input.score_training, TRAINING, true),
            (&input.score_live, LIVE, false),
        ] {
            chart
                .draw_series(shares.iter().enumerate().map(|(i, &s)| {
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), 0.0),
                            (SegmentValue::Exact(i + 1), s),
                        ],
                        color.filled(),
                    );
                    // Each bin's left half is training, its right half now.
                    let w = (WIDTH as f64 / (n as f64 + 1.0) * 0.45) as u32;
                    if left {
                        bar.set_margin(0, 0, 4, w);
                    } else {
                        bar.set_margin(0, 0, w, 4);
                    }
                    bar
                }))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Renders the monitor's page and figures as files (in memory).
pub fn build_monitor(input: &MonitorReportInput) -> Result<Vec<ReportFile>, ReportError> {
    let drawers: [Drawer; 2] = [feature_psi, score_histogram];
    crate::figures_and_page(&MONITOR_FIGURES, &drawers, input, page(input))
}

fn page(input: &MonitorReportInput) -> String {
    let mut out = String::new();
    let title = format!("Model monitor: {} ({})", input.model_version, input.window);
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}\
         td,th{{padding:2px 10px;text-align:left}}.alert{{color:#d62728}}</style></head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    if input.findings.is_empty() {
        out.push_str("<p>No threshold crossed.</p>");
    } else {
        out.push_str("<h2 class=\"alert\">Thresholds crossed: retrain</h2><ul>");
        for f in &input.findings {
            let _ = write!(out, "<li class=\"alert\">{}</li>", escape(f));
        }
        out.push_str("</ul>");
    }
    if !input.not_judged.is_empty() {
        out.push_str("<h2>Not judged</h2><ul>");
        for f in &input.not_judged {
            let _ = write!(out, "<li>{}</li>", escape(f));
        }
        out.push_str("</ul>");
    }
    out.push_str("<h2>Figures</h2><table>");
    for (k, v) in &input.figures {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    out.push_str("</table>");
    for (file, caption) in MONITOR_FIGURES {
        let _ = write!(
            out,
            "<figure><img src=\"{}\" width=\"1000\"><figcaption>{}</figcaption></figure>",
            escape(file),
            escape(caption)
        );
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_report_has_its_page_and_two_pngs_even_without_psi() {
        let mut input = MonitorReportInput {
            model_version: "v1".into(),
            window: "open".into(),
            figures: vec![("volume".into(), "3".into())],
            feature_psi: vec![("amt".into(), 0.9), ("hour".into(), 0.01)],
            psi_threshold: 0.25,
            score_bins: vec!["≤ 0.1".into(), "> 0.1".into()],
            score_training: vec![0.5, 0.5],
            score_live: vec![0.1, 0.9],
            findings: vec!["feature `amt` PSI 0.9 > 0.25".into()],
            not_judged: vec![],
        };
        for _ in 0..2 {
            let files = build_monitor(&input).unwrap();
            let names: Vec<&str> = files.iter().map(|f| f.name).collect();
            assert_eq!(
                names,
                ["feature_psi.png", "score_histogram.png", "index.html"]
            );
            assert!(files[..2].iter().all(|f| f.bytes.starts_with(b"\x89PNG")));
            input.feature_psi.clear();
            input.score_bins.clear();
            input.findings.clear();
        }
    }
}
