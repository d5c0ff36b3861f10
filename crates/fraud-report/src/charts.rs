//! The figures, drawn with `plotters` into an in-memory RGB buffer and encoded as PNG.
//!
//! Text is rendered with `ab_glyph` from DejaVu Sans compiled into the binary: no
//! fontconfig, no system fonts, so the same figures come out on a laptop and in Lambda.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use crate::curves::{self, Confusion, Cost};
use crate::input::ReportInput;

/// Size of every figure, in pixels.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 640;

pub(crate) const FONT: &str = "sans-serif";
const CURRENT: RGBColor = RGBColor(31, 119, 180);
const PREVIOUS: RGBColor = RGBColor(255, 127, 14);
const LEGIT: RGBColor = RGBColor(90, 130, 200);
const FRAUD: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);

static FONTS: Once = Once::new();

/// Registers the embedded font under plotters' `sans-serif` family (once per process).
fn register_fonts() {
    FONTS.call_once(|| {
        // Both are valid TrueType files shipped by the `dejavu` crate.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = Result<(), String>;

pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draws with `draw` on a fresh white canvas and returns the PNG bytes.
pub fn render_png(draw: impl FnOnce(&Area) -> DrawResult) -> Result<Vec<u8>, String> {
    register_fonts();
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(&rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// How [`named_bars`] draws: the caption, the value axis (its range, its description
/// and the room under it), the size of the labels and the gap between bars.
pub(crate) struct NamedBars<'s> {
    pub caption: &'s str,
    pub x: std::ops::Range<f64>,
    pub x_desc: &'s str,
    pub x_label_area: u32,
    pub label_size: u32,
    pub bar_margin: u32,
}

/// A chart of horizontal bars, one named row each.
pub(crate) type BarChart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize>,
    >,
>;

/// Draws `bars` (name, value, colour) as horizontal bars from 0, the first at the bottom,
/// each row labelled with its name; returns the chart for more series.
pub(crate) fn named_bars<'a, 'b>(
    root: &'a Area<'b>,
    spec: &NamedBars,
    bars: &[(String, f64, RGBColor)],
) -> Result<BarChart<'a, 'b>, String> {
    let n = bars.len();
    let mut chart = ChartBuilder::on(root)
        .caption(spec.caption, (FONT, 26))
        .margin(20)
        .x_label_area_size(spec.x_label_area)
        .y_label_area_size(230)
        // A discrete range includes its end: 0..n-1 gives n segments.
        .build_cartesian_2d(spec.x.clone(), (0..n - 1).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc(spec.x_desc)
        .label_style((FONT, spec.label_size))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, value, color))| {
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*value, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(spec.bar_margin, spec.bar_margin, 0, 0);
            bar
        }))
        .map_err(err)?;
    Ok(chart)
}

fn short(version: &str) -> &str {
    version
}

fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
}

/// Precision–recall curve, with the operating point at the threshold.
pub fn pr_curve(input: &ReportInput) -> Result<Vec<u8>, String> {
    render_png(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Precision–recall, {} slice", input.evaluated_slice),
                (FONT, 26),
            )
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Recall (share of frauds flagged)")
            .y_desc("Precision (share of alerts that are fraud)")
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(err)?;
        if let Some(p) = &input.previous {
            let ap = curves::average_precision(&input.labels, &p.scores);
            chart
                .draw_series(LineSeries::new(
                    curves::pr_points(&input.labels, &p.scores),
                    PREVIOUS.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("promoted {} (AP {ap:.3})", short(&p.version)))
                .legend(legend_line(PREVIOUS));
            let c = Confusion::at(&input.labels, &p.scores, p.threshold);
            operating_point(&mut chart, pr_xy(c), PREVIOUS)?;
        }
        let ap = curves::average_precision(&input.labels, &input.scores);
        chart
            .draw_series(LineSeries::new(
                curves::pr_points(&input.labels, &input.scores),
                CURRENT.stroke_width(3),
            ))
            .map_err(err)?
            .label(format!(
                "this run {} (AP {ap:.3})",
                short(&input.model_version)
            ))
            .legend(legend_line(CURRENT));
        let c = Confusion::at(&input.labels, &input.scores, input.threshold);
        operating_point(&mut chart, pr_xy(c), CURRENT)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 17))
            .draw()
            .map_err(err)
    })
}

fn pr_xy(c: Confusion) -> (f64, f64) {
    let recall = c.tp as f64 / (c.tp + c.fn_).max(1) as f64;
    let precision = if c.tp + c.fp == 0 {
        1.0
    } else {
        c.tp as f64 / (c.tp + c.fp) as f64
    };
    (recall, precision)
}

fn operating_point<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    at: (f64, f64),
    color: RGBColor,
) -> DrawResult {
    chart
        .draw_series(std::iter::once(Circle::new(at, 7, color.stroke_width(3))))
        .map_err(err)?;
    Ok(())
}

/// ROC curve: the whole curve on the left, false-positive rates up to 5 % on the right
/// (with frauds this rare, that is where the models differ).
pub fn roc_curve(input: &ReportInput) -> Result<Vec<u8>, String> {
    render_png(|root| {
        let root = root
            .titled(&format!("ROC, {} slice", input.evaluated_slice), (FONT, 26))
            .map_err(err)?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        for (area, max_fpr, min_tpr) in [(&left, 1.0, 0.0), (&right, 0.05, 0.0)] {
            let mut chart = ChartBuilder::on(area)
                .caption(
                    if max_fpr < 1.0 {
                        "false-positive rate ≤ 5 %"
                    } else {
                        "whole curve"
                    },
                    (FONT, 18),
                )
                .margin(15)
                .x_label_area_size(55)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..max_fpr, min_tpr..1.01f64)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("False-positive rate")
                .y_desc("True-positive rate (recall)")
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 17))
                .x_labels(6)
                .draw()
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (max_fpr, max_fpr)],
                    GREY.stroke_width(1),
                ))
                .map_err(err)?;
            let clip = |points: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
                let mut out: Vec<(f64, f64)> = Vec::new();
                for p in points {
                    if p.0 <= max_fpr {
                        out.push(p);
                    } else {
                        // Carry the curve to the right edge at its height there.
                        if let Some(&last) = out.last() {
                            out.push((max_fpr, last.1));
                        }
                        break;
                    }
                }
                out
            };
            if let Some(p) = &input.previous {
                let auc = curves::roc_auc(&input.labels, &p.scores);
                chart
                    .draw_series(LineSeries::new(
                        clip(curves::roc_points(&input.labels, &p.scores)),
                        PREVIOUS.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(format!("promoted (AUC {auc:.4})"))
                    .legend(legend_line(PREVIOUS));
            }
            let auc = curves::roc_auc(&input.labels, &input.scores);
            chart
                .draw_series(LineSeries::new(
                    clip(curves::roc_points(&input.labels, &input.scores)),
                    CURRENT.stroke_width(3),
                ))
                .map_err(err)?
                .label(format!("this run (AUC {auc:.4})"))
                .legend(legend_line(CURRENT));
            let c = Confusion::at(&input.labels, &input.scores, input.threshold);
            let fpr = c.fp as f64 / (c.fp + c.tn).max(1) as f64;
            let tpr = c.tp as f64 / (c.tp + c.fn_).max(1) as f64;
            if fpr <= max_fpr {
                operating_point(&mut chart, (fpr, tpr), CURRENT)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font((FONT, 16))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Score distribution of each class, counts on a log scale.
pub fn score_histogram(input: &ReportInput) -> Result<Vec<u8>, String> {
    const BINS: usize = 50;
    let (legit, fraud) = curves::histogram(&input.labels, &input.scores, BINS);
    let top = legit
        .iter()
        .chain(&fraud)
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    render_png(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Score distribution by class, {} slice",
                    input.evaluated_slice
                ),
                (FONT, 26),
            )
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..1f64, (0.5f64..top * 2.0).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Model score (fraud probability)")
            .y_desc("Rows (log scale)")
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(err)?;
        let width = 1.0 / BINS as f64;
        for (counts, color, name) in [(&legit, LEGIT, "legitimate"), (&fraud, FRAUD, "fraud")] {
            let total: u64 = counts.iter().sum();
            chart
                .draw_series(
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, &c)| c > 0)
                        .map(|(i, &c)| {
                            let x0 = i as f64 * width;
                            Rectangle::new(
                                [(x0, 0.5), (x0 + width, c as f64)],
                                color.mix(0.5).filled(),
                            )
                        }),
                )
                .map_err(err)?
                .label(format!("{name} ({total} rows)"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], color.mix(0.5).filled())
                });
        }
        chart
            .draw_series(LineSeries::new(
                [(input.threshold, 0.5), (input.threshold, top * 2.0)],
                BLACK.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("threshold {:.3}", input.threshold))
            .legend(legend_line(BLACK));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperMiddle)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 17))
            .draw()
            .map_err(err)
    })
}

/// Thresholds the cost curve is drawn at.
fn threshold_grid() -> Vec<f64> {
    (0..=400).map(|i| i as f64 / 400.0).collect()
}

/// Cost vs threshold: fraud amount let through plus the review cost of every alert.
pub fn cost_vs_threshold(input: &ReportInput) -> Result<Vec<u8>, String> {
    let grid = threshold_grid();
    let cost = |scores: &[f64]| {
        curves::cost_curve(
            &input.labels,
            scores,
            &input.amounts,
            input.review_cost,
            &grid,
        )
    };
    let current = cost(&input.scores);
    let previous = input.previous.as_ref().map(|p| (p, cost(&p.scores)));
    let at_threshold = |scores: &[f64], t: f64| {
        curves::cost_curve(
            &input.labels,
            scores,
            &input.amounts,
            input.review_cost,
            &[t],
        )[0]
    };
    let chosen = at_threshold(&input.scores, input.threshold);
    let cheapest = curves::cheapest_threshold(
        &input.labels,
        &input.scores,
        &input.amounts,
        input.review_cost,
    );
    let top = current
        .iter()
        .chain(previous.iter().flat_map(|(_, c)| c))
        .map(|c| c.total)
        .fold(1.0, f64::max);
    render_png(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Cost vs threshold, {} slice (missed fraud amount + {:.2} per alert)",
                    input.evaluated_slice, input.review_cost
                ),
                (FONT, 24),
            )
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..1f64, 0f64..top * 1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Threshold (score ≥ threshold raises an alert)")
            .y_desc("Cost")
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(err)?;
        if let Some((p, curve)) = &previous {
            let at = at_threshold(&p.scores, p.threshold);
            chart
                .draw_series(LineSeries::new(
                    curve.iter().map(|c| (c.threshold, c.total)),
                    PREVIOUS.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!(
                    "promoted model ({:.0} at its threshold {:.3})",
                    at.total, p.threshold
                ))
                .legend(legend_line(PREVIOUS));
            cost_marker(&mut chart, at, PREVIOUS)?;
        }
        chart
            .draw_series(LineSeries::new(
                current.iter().map(|c| (c.threshold, c.total)),
                CURRENT.stroke_width(3),
            ))
            .map_err(err)?
            .label(format!(
                "this run ({:.0} at threshold {:.3}: {:.0} missed + {} alerts)",
                chosen.total, input.threshold, chosen.missed_fraud_amount, chosen.alerts
            ))
            .legend(legend_line(CURRENT));
        cost_marker(&mut chart, chosen, CURRENT)?;
        if cheapest.threshold.is_finite() {
            chart
                .draw_series(std::iter::once(TriangleMarker::new(
                    (cheapest.threshold, cheapest.total),
                    10,
                    BLACK.filled(),
                )))
                .map_err(err)?
                .label(format!(
                    "cheapest threshold {:.3} ({:.0})",
                    cheapest.threshold, cheapest.total
                ))
                .legend(|(x, y)| TriangleMarker::new((x + 12, y), 8, BLACK.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 16))
            .draw()
            .map_err(err)
    })
}

fn cost_marker<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    at: Cost,
    color: RGBColor,
) -> DrawResult {
    operating_point(chart, (at.threshold, at.total), color)
}

/// The 20 most important features, most important on top.
pub fn feature_importance(input: &ReportInput) -> Result<Vec<u8>, String> {
    let mut features = input.feature_importances.clone();
    features.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    features.truncate(20);
    // Drawn bottom-up, so reverse: the most important ends on top.
    features.reverse();
    let n = features.len();
    let max = features.iter().map(|f| f.importance).fold(0.0, f64::max);
    let min = features.iter().map(|f| f.importance).fold(0.0, f64::min);
    let span = (max - min).max(1e-9);
    render_png(|root| {
        if n == 0 {
            return root
                .draw(&Text::new(
                    "No feature importances were given for this run",
                    ((WIDTH / 2) as i32, (HEIGHT / 2) as i32),
                    TextStyle::from((FONT, 24).into_font())
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(err);
        }
        let bars: Vec<(String, f64, RGBColor)> = features
            .iter()
            .map(|f| {
                let color = if f.importance >= 0.0 { CURRENT } else { GREY };
                (f.name.clone(), f.importance, color)
            })
            .collect();
        named_bars(
            root,
            &NamedBars {
                caption: &format!("Feature importance (top {n})"),
                x: (min - 0.05 * span)..(max + 0.05 * span),
                x_desc: input.importance_method.as_str(),
                x_label_area: 70,
                label_size: 15,
                bar_margin: 3,
            },
            &bars,
        )?;
        Ok(())
    })
}

/// Confusion matrix at the run's threshold, with row shares.
pub fn confusion_matrix(input: &ReportInput) -> Result<Vec<u8>, String> {
    let c = Confusion::at(&input.labels, &input.scores, input.threshold);
    render_png(|root| {
        let title = TextStyle::from((FONT, 26).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(
            format!(
                "Confusion matrix at threshold {:.3}, {} slice",
                input.threshold, input.evaluated_slice
            ),
            ((WIDTH / 2) as i32, 15),
            title,
        ))
        .map_err(err)?;
        let (x0, y0, cell_w, cell_h) = (300i32, 110i32, 300i32, 220i32);
        let centered = |size: u32| {
            TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
        };
        let right = |size: u32| {
            TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Right, VPos::Center))
        };
        // (row: actual, column: predicted)
        let cells = [
            [
                ("true negatives", c.tn, c.tn + c.fp),
                ("false positives", c.fp, c.tn + c.fp),
            ],
            [
                ("false negatives", c.fn_, c.tp + c.fn_),
                ("true positives", c.tp, c.tp + c.fn_),
            ],
        ];
        for (row, cells) in cells.iter().enumerate() {
            for (col, &(name, count, row_total)) in cells.iter().enumerate() {
                let share = count as f64 / row_total.max(1) as f64;
                let correct = row == col;
                let base = if correct { CURRENT } else { FRAUD };
                let fill = base.mix(0.12 + 0.6 * share);
                let (cx, cy) = (x0 + col as i32 * cell_w, y0 + row as i32 * cell_h);
                root.draw(&Rectangle::new(
                    [(cx, cy), (cx + cell_w, cy + cell_h)],
                    fill.filled(),
                ))
                .map_err(err)?;
                root.draw(&Rectangle::new(
                    [(cx, cy), (cx + cell_w, cy + cell_h)],
                    BLACK.stroke_width(2),
                ))
                .map_err(err)?;
                let mid = cx + cell_w / 2;
                root.draw(&Text::new(
                    count.to_string(),
                    (mid, cy + cell_h / 2 - 30),
                    centered(40),
                ))
                .map_err(err)?;
                root.draw(&Text::new(name, (mid, cy + cell_h / 2 + 20), centered(20)))
                    .map_err(err)?;
                root.draw(&Text::new(
                    format!(
                        "{:.2} % of actual {}",
                        100.0 * share,
                        if row == 0 { "legit" } else { "fraud" }
                    ),
                    (mid, cy + cell_h / 2 + 50),
                    centered(17),
                ))
                .map_err(err)?;
            }
        }
        for (col, label) in ["predicted legit", "predicted fraud (alert)"]
            .iter()
            .enumerate()
        {
            root.draw(&Text::new(
                *label,
                (x0 + col as i32 * cell_w + cell_w / 2, y0 - 22),
                centered(20),
            ))
            .map_err(err)?;
        }
        for (row, label) in ["actual legit", "actual fraud"].iter().enumerate() {
            root.draw(&Text::new(
                *label,
                (x0 - 15, y0 + row as i32 * cell_h + cell_h / 2),
                right(20),
            ))
            .map_err(err)?;
        }
        let precision = c.tp as f64 / (c.tp + c.fp).max(1) as f64;
        let recall = c.tp as f64 / (c.tp + c.fn_).max(1) as f64;
        root.draw(&Text::new(
            format!(
                "precision {precision:.3} · recall {recall:.3} · {} alerts of {} rows",
                c.tp + c.fp,
                c.tp + c.fp + c.tn + c.fn_
            ),
            ((WIDTH / 2) as i32, y0 + 2 * cell_h + 35),
            centered(20),
        ))
        .map_err(err)?;
        Ok(())
    })
}
