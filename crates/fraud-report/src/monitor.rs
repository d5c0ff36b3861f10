//! The monitor's report: one model version over one window. A page with the window's
//! figures and verdict, and three figures: PSI per feature (bars, the threshold as a line,
//! features above it in red), the score histogram now vs training (shares per
//! training-quantile bin, side by side), and the live metrics over time (the version's
//! monitored windows up to this one: PR-AUC against the test PR-AUC, score PSI against
//! its threshold, alert rate). Plain numbers in, like the training report.

use std::fmt::Write as _;
use std::ops::Range;

use chrono::{DateTime, Utc};
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
    /// The version's monitored windows in order of end, this one included (the live
    /// metrics over time).
    pub history: Vec<HistoryPoint>,
    /// The model's test-slice PR-AUC, drawn as the line the live PR-AUC is read against.
    pub test_pr_auc: Option<f64>,
    /// Score PSI above this flags a window.
    pub score_psi_threshold: f64,
}

/// One monitored window in the live metrics over time.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    /// The window's end.
    pub end: DateTime<Utc>,
    /// `None`: no labelled payment in the window.
    pub pr_auc: Option<f64>,
    /// `None`: not computed (no training distribution, no payment).
    pub score_psi: Option<f64>,
    pub alert_rate: Option<f64>,
    /// The window crossed a threshold (its points are drawn red).
    pub alert: bool,
}

/// The figures of a monitor report: file name, caption.
pub const MONITOR_FIGURES: [(&str, &str); 3] = [
    (
        "feature_psi.png",
        "PSI per feature against the training distribution; the line is the alert threshold",
    ),
    (
        "score_histogram.png",
        "Score distribution now vs training (shares per bin: training deciles and fixed probability edges)",
    ),
    (
        "live_metrics.png",
        "Live metrics over time, one point per monitored window of this model version (by window end; \
         this window is the last, red points crossed a threshold): PR-AUC against the labels \
         (grey line: the model's test PR-AUC), score PSI (red line: the alert threshold) and the \
         alert rate (review or block)",
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

/// One metric of the history, ready to draw: `(x, y)` runs of consecutive windows that
/// have the metric (a window without it breaks the line), and the alert windows' points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub runs: Vec<Vec<(f64, f64)>>,
    pub alerts: Vec<(f64, f64)>,
    /// The largest value (0 when none).
    pub max: f64,
}

/// Shapes one metric of `history` (x: the window's end in epoch seconds).
pub fn series(history: &[HistoryPoint], metric: impl Fn(&HistoryPoint) -> Option<f64>) -> Series {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut alerts = Vec::new();
    let mut open = false;
    let mut max = 0.0f64;
    for p in history {
        match metric(p).filter(|v| v.is_finite()) {
            Some(y) => {
                let xy = (p.end.timestamp() as f64, y);
                if !open {
                    runs.push(Vec::new());
                }
                runs.last_mut().expect("a run is open").push(xy);
                if p.alert {
                    alerts.push(xy);
                }
                max = max.max(y);
                open = true;
            }
            None => open = false,
        }
    }
    Series { runs, alerts, max }
}

/// The time axis over `history`: its first to last window end, padded so a single window
/// (the first) sits in the middle of a day's width.
pub fn time_axis(history: &[HistoryPoint]) -> Range<f64> {
    let xs = history.iter().map(|p| p.end.timestamp() as f64);
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() {
        return 0.0..86_400.0;
    }
    let pad = if hi > lo { (hi - lo) * 0.04 } else { 43_200.0 };
    lo - pad..hi + pad
}

const PANEL: RGBColor = RGBColor(31, 119, 180);

/// One panel of the live metrics: the series as lines with points, a reference line.
struct Panel<'s> {
    title: String,
    y_desc: &'s str,
    series: Series,
    y_max: f64,
    /// (value, colour) drawn across the panel.
    reference: Option<(f64, RGBColor)>,
    /// Said in the panel when the series is empty.
    empty: &'s str,
}

fn draw_panel(area: &crate::charts::Area, x: Range<f64>, panel: &Panel) -> Result<(), String> {
    let span = x.end - x.start;
    let format = if span > 3.0 * 86_400.0 {
        "%Y-%m-%d"
    } else {
        "%m-%d %H:%M"
    };
    let label = move |v: &f64| {
        DateTime::<Utc>::from_timestamp(*v as i64, 0)
            .map(|t| t.format(format).to_string())
            .unwrap_or_default()
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 18))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(x.clone(), 0.0..panel.y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(5)
        .x_label_formatter(&label)
        .y_desc(panel.y_desc)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(err)?;
    if let Some((y, color)) = panel.reference {
        chart
            .draw_series(LineSeries::new(
                [(x.start, y), (x.end, y)],
                color.stroke_width(2),
            ))
            .map_err(err)?;
    }
    for run in &panel.series.runs {
        chart
            .draw_series(LineSeries::new(run.iter().copied(), PANEL.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(run.iter().map(|&p| Circle::new(p, 4, PANEL.filled())))
            .map_err(err)?;
    }
    chart
        .draw_series(
            panel
                .series
                .alerts
                .iter()
                .map(|&p| Circle::new(p, 5, OVER.filled())),
        )
        .map_err(err)?;
    if panel.series.runs.is_empty() {
        let (w, h) = area.dim_in_pixel();
        area.draw(&Text::new(
            panel.empty.to_owned(),
            ((w / 2) as i32, (h / 2) as i32),
            TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// PR-AUC, score PSI and alert rate of the version's windows against window end, one
/// panel each.
pub fn live_metrics(input: &MonitorReportInput) -> Result<Vec<u8>, String> {
    let h = &input.history;
    if h.is_empty() {
        return message("No monitored window yet");
    }
    let first = if h.len() == 1 { ", first window" } else { "" };
    let x = time_axis(h);
    let psi = series(h, |p| p.score_psi);
    let rate = series(h, |p| p.alert_rate);
    let panels = [
        Panel {
            title: format!(
                "Live PR-AUC{first}{}",
                input
                    .test_pr_auc
                    .map_or(String::new(), |t| format!(" (grey: test PR-AUC {t:.3})"))
            ),
            y_desc: "PR-AUC",
            series: series(h, |p| p.pr_auc),
            y_max: 1.02,
            reference: input.test_pr_auc.map(|t| (t, TRAINING)),
            empty: "no labelled payments in these windows",
        },
        Panel {
            title: format!("Score PSI (red: threshold {})", input.score_psi_threshold),
            y_desc: "PSI",
            y_max: (psi.max * 1.15).max(input.score_psi_threshold * 1.3),
            series: psi,
            reference: Some((input.score_psi_threshold, OVER)),
            empty: "score PSI not computed (no training distribution)",
        },
        Panel {
            title: "Alert rate (review or block)".to_owned(),
            y_desc: "share of payments",
            y_max: (rate.max * 1.2).max(1e-3),
            series: rate,
            reference: None,
            empty: "no payments",
        },
    ];
    render_png(|root| {
        let areas = root.split_evenly((panels.len(), 1));
        for (area, panel) in areas.iter().zip(&panels) {
            draw_panel(area, x.clone(), panel)?;
        }
        Ok(())
    })
}

/// Renders the monitor's page and figures as files (in memory).
pub fn build_monitor(input: &MonitorReportInput) -> Result<Vec<ReportFile>, ReportError> {
    let drawers: [Drawer; 3] = [feature_psi, score_histogram, live_metrics];
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
    fn a_monitor_report_has_its_page_and_three_pngs_even_without_psi_or_history() {
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
            history: vec![point(6, Some(0.8), Some(0.3), true)],
            test_pr_auc: Some(0.85),
            score_psi_threshold: 0.25,
        };
        for _ in 0..2 {
            let files = build_monitor(&input).unwrap();
            let names: Vec<&str> = files.iter().map(|f| f.name).collect();
            assert_eq!(
                names,
                [
                    "feature_psi.png",
                    "score_histogram.png",
                    "live_metrics.png",
                    "index.html"
                ]
            );
            assert!(files[..3].iter().all(|f| f.bytes.starts_with(b"\x89PNG")));
            let page = std::str::from_utf8(&files[3].bytes).unwrap();
            assert!(page.contains("<img src=\"live_metrics.png\""), "{page}");
            assert!(page.contains("Live metrics over time"), "{page}");
            input.feature_psi.clear();
            input.score_bins.clear();
            input.findings.clear();
            input.history.clear();
            input.test_pr_auc = None;
        }
    }

    fn point(day: u32, pr_auc: Option<f64>, psi: Option<f64>, alert: bool) -> HistoryPoint {
        HistoryPoint {
            end: format!("2026-12-{day:02}T00:00:00Z").parse().unwrap(),
            pr_auc,
            score_psi: psi,
            alert_rate: Some(0.01),
            alert,
        }
    }

    #[test]
    fn a_window_without_a_metric_breaks_its_line_and_alert_windows_are_marked() {
        let h = [
            point(1, Some(0.9), Some(0.05), false),
            point(2, None, Some(0.1), false),
            point(3, Some(0.7), Some(0.4), true),
            point(4, Some(0.6), None, false),
        ];
        let day = |d: u32| h[d as usize - 1].end.timestamp() as f64;
        let pr = series(&h, |p| p.pr_auc);
        assert_eq!(
            pr.runs,
            [vec![(day(1), 0.9)], vec![(day(3), 0.7), (day(4), 0.6)]]
        );
        assert_eq!(pr.alerts, [(day(3), 0.7)]);
        assert_eq!(pr.max, 0.9);
        let psi = series(&h, |p| p.score_psi);
        assert_eq!(psi.runs.len(), 1);
        assert_eq!(psi.runs[0].len(), 3);
        let none = series(&h, |_| None);
        assert!(none.runs.is_empty() && none.max == 0.0);
    }

    #[test]
    fn a_single_window_sits_inside_a_padded_time_axis() {
        let one = [point(5, Some(0.8), Some(0.1), false)];
        let x = time_axis(&one);
        let t = one[0].end.timestamp() as f64;
        assert!(
            x.start < t && t < x.end && x.end - x.start == 86_400.0,
            "{x:?}"
        );
        let two = [point(1, None, None, false), point(11, None, None, false)];
        let x = time_axis(&two);
        assert!(x.start < two[0].end.timestamp() as f64);
        assert!(x.end > two[1].end.timestamp() as f64);
        assert!(live_metrics(&MonitorReportInput {
            history: one.to_vec(),
            ..empty_input()
        })
        .unwrap()
        .starts_with(b"\x89PNG"));
    }

    fn empty_input() -> MonitorReportInput {
        MonitorReportInput {
            model_version: "v1".into(),
            window: "open".into(),
            figures: vec![],
            feature_psi: vec![],
            psi_threshold: 0.25,
            score_bins: vec![],
            score_training: vec![],
            score_live: vec![],
            findings: vec![],
            not_judged: vec![],
            history: vec![],
            test_pr_auc: None,
            score_psi_threshold: 0.25,
        }
    }
}
