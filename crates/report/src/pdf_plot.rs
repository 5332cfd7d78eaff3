//! The PDF diagnostic plots (`docs/PDF_METRICS.md`): the PIT histogram with its QQ plot (§2.1),
//! the coverage of central credible intervals at every nominal level (§2.1's `coverage_68` and
//! `coverage_95`, generalised), and the stacked n(z) of every tomographic bin against the bin's
//! true redshifts (§2.5). Each is a [`Figure`] built from the pzbench dialect's per-galaxy values
//! ([`PdfValues::Pzbench`]); [`pit_plot`], [`coverage_plot`] and [`nz_plot`] build one and write it
//! with [`save`] (PNG or SVG by extension, atomically). The numbers behind the drawings are the
//! pure functions [`pit_histogram`], [`binomial_band`], [`qq_points`], [`coverage_curve`],
//! [`stacked_nz`] and [`density_histogram`].

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rayon::prelude::*;

use super::figure::{model_colour, save, tick_label, DrawResult, Figure, FONT};
use super::format::significant;
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::{
    GalaxyValues, Pdf, PdfValues, Pdfs, PitStats, Representation, COVERAGE_68, COVERAGE_95, DEFAULT_NZ_EDGES,
};
use pzbench_metrics::{linspace, BinOn, Bins};

/// At most this many points of the QQ curve are drawn (evenly spaced in rank).
const QQ_POINTS: usize = 2000;
/// Galaxies per parallel task when stacking densities; the partial sums are added in a fixed
/// order, so the stacked n(z) does not depend on the number of threads.
const STACK_CHUNK: usize = 256;
/// Height of every figure's header (title, subtitle, key) in pixels.
const HEADER: u32 = 150;

/// The galaxies of pzbench-dialect values; the rail dialect and an empty set are refused.
fn pzbench_galaxies(values: &PdfValues) -> Result<&[GalaxyValues]> {
    match values {
        PdfValues::Pzbench { galaxies, .. } if !galaxies.is_empty() => Ok(galaxies),
        PdfValues::Pzbench { .. } => Err(Error::usage("no galaxies to plot; the PDF plots need at least one galaxy")),
        PdfValues::Rail { .. } => Err(Error::usage(
            "the PDF plots use the pzbench dialect's exact values (docs/PDF_METRICS.md §2), not the rail dialect's; compute the values with the pzbench dialect",
        )),
    }
}

/// A figure size plotters can draw on.
fn check_size(size: (u32, u32)) -> Result<()> {
    if size.0 < 200 || size.1 < 200 {
        return Err(Error::usage(format!(
            "a {}x{} pixel figure is too small to draw; give at least 200x200",
            size.0, size.1
        )));
    }
    Ok(())
}

/// How a representation's PDFs are named in titles.
fn representation_name(representation: Representation) -> &'static str {
    match representation {
        Representation::Mixture => "Gaussian-mixture",
        Representation::Grid => "grid",
        Representation::Histogram => "histogram",
        Representation::Samples => "sample",
    }
}

/// `1 galaxy`, `2 galaxies`.
fn galaxies_count(n: usize) -> String {
    if n == 1 {
        "1 galaxy".to_string()
    } else {
        format!("{n} galaxies")
    }
}

/// The PIT histogram's heights as densities (§2.1): `bins` equal bins over [0, 1], each
/// [k/bins, (k + 1)/bins) with the last closed, height count/(n/bins), so the heights times the
/// bin width 1/bins sum to 1. All zero for no PITs.
pub fn pit_histogram(pits: &[f64], bins: usize) -> Vec<f64> {
    let mut counts = vec![0usize; bins];
    if bins == 0 || pits.is_empty() {
        return vec![0.0; bins];
    }
    for &u in pits {
        let k = ((u * bins as f64).floor().max(0.0) as usize).min(bins - 1);
        counts[k] += 1;
    }
    let scale = bins as f64 / pits.len() as f64;
    counts.into_iter().map(|c| c as f64 * scale).collect()
}

/// The ±2σ band of a PIT histogram bin's height under uniform PITs, in density units: a bin's
/// count is binomial(n, p = 1/bins), σ = √(n p (1 − p)), and a height is count · bins/n, so the
/// band is 1 ± 2σ · bins/n (its lower end clipped at 0).
pub fn binomial_band(n: usize, bins: usize) -> (f64, f64) {
    let (nf, b) = (n as f64, bins as f64);
    let p = 1.0 / b;
    let sigma = (nf * p * (1.0 - p)).sqrt() * b / nf;
    ((1.0 - 2.0 * sigma).max(0.0), 1.0 + 2.0 * sigma)
}

/// The QQ plot's points from the sorted PITs u_(1) ≤ … ≤ u_(n): (uniform quantile (i − ½)/n,
/// u_(i)), every rank for n ≤ `max_points`, else `max_points` ranks evenly spaced from the first to
/// the last.
pub fn qq_points(sorted: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let point = |i: usize| ((i as f64 + 0.5) / n as f64, sorted[i]);
    if n <= max_points.max(2) {
        return (0..n).map(point).collect();
    }
    let m = max_points.max(2);
    (0..m).map(|k| point(((k as f64 * (n - 1) as f64 / (m - 1) as f64).round() as usize).min(n - 1))).collect()
}

/// The empirical coverage of central credible intervals at each nominal level c: the fraction
/// of galaxies with |pit − ½| ≤ c/2 (§2.1's `coverage_68`/`coverage_95`, the same comparison, for
/// any c). NaN for no PITs.
pub fn coverage_curve(pits: &[f64], nominal: &[f64]) -> Vec<f64> {
    let mut distance: Vec<f64> = pits.iter().map(|u| (u - 0.5).abs()).collect();
    distance.sort_unstable_by(f64::total_cmp);
    let n = distance.len() as f64;
    nominal.iter().map(|c| distance.partition_point(|&d| d <= c / 2.0) as f64 / n).collect()
}

/// The stacked n(z) of the galaxies `rows` of `pdfs` at the points `z` (§2.5): mean_i f_i(z),
/// in parallel over chunks of galaxies added in order. `None` for sample PDFs (no density) or
/// no galaxies.
pub fn stacked_nz(pdfs: &Pdfs, rows: &[usize], z: &[f64]) -> Option<Vec<f64>> {
    if rows.is_empty() || pdfs.representation() == Representation::Samples {
        return None;
    }
    let partial: Vec<Vec<f64>> = rows
        .par_chunks(STACK_CHUNK)
        .map(|chunk| {
            let mut sum = vec![0.0; z.len()];
            for &i in chunk {
                let pdf = pdfs.galaxy(i);
                sum.iter_mut().zip(z).for_each(|(s, &x)| *s += pdf.density(x).unwrap_or(0.0));
            }
            sum
        })
        .collect();
    let mut total = vec![0.0; z.len()];
    for sum in &partial {
        total.iter_mut().zip(sum).for_each(|(t, s)| *t += s);
    }
    let m = rows.len() as f64;
    total.iter_mut().for_each(|t| *t /= m);
    Some(total)
}

/// A density-normalised histogram of `values` on `edges` (bins [e_j, e_{j+1}), the last closed):
/// count_j / (N · width_j), N counting every value, also those outside the edges, so the
/// heights integrate to the fraction of values inside (1 when all are).
pub fn density_histogram(values: impl IntoIterator<Item = f64>, edges: &[f64]) -> Vec<f64> {
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0usize; bins];
    let mut total = 0usize;
    for v in values {
        total += 1;
        if bins == 0 {
            continue;
        }
        let above = edges.partition_point(|&e| e <= v);
        if (1..=bins).contains(&above) {
            counts[above - 1] += 1;
        } else if v == edges[bins] {
            counts[bins - 1] += 1;
        }
    }
    if total == 0 {
        return vec![0.0; bins];
    }
    counts.iter().zip(edges.windows(2)).map(|(&c, e)| c as f64 / (total as f64 * (e[1] - e[0]))).collect()
}

/// The outline of a histogram: up and down each bin edge, along each bin's top.
fn step_outline(edges: &[f64], heights: &[f64]) -> Vec<(f64, f64)> {
    let mut path = Vec::with_capacity(2 * heights.len() + 2);
    for (e, &h) in edges.windows(2).zip(heights) {
        path.push((e[0], h));
        path.push((e[1], h));
    }
    if let (Some(&first), Some(&last)) = (edges.first(), edges.get(heights.len())) {
        path.insert(0, (first, 0.0));
        path.push((last, 0.0));
    }
    path
}

/// A legend glyph.
#[derive(Debug, Clone, Copy)]
enum Key {
    /// A filled bar.
    Bar(RGBAColor),
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
}

/// The header of every figure: the title, one grey line under it, and a row of legend keys.
fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    keys: &[(Key, &str)],
) -> DrawResult<DB> {
    area.draw(&Text::new(title.to_string(), (30, 12), (FONT, 34).into_font()))?;
    let grey = BLACK.mix(0.75);
    let small = TextStyle::from((FONT, 20).into_font()).color(&grey);
    let width = area.dim_in_pixel().0.saturating_sub(60);
    for (k, line) in wrap(area, subtitle, &small, width)?.into_iter().enumerate() {
        area.draw(&Text::new(line, (30, 56 + 26 * k as i32), small.clone()))?;
    }
    let style = TextStyle::from((FONT, 20).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let (mut x, y) = (30, 126);
    for &(key, label) in keys {
        match key {
            Key::Bar(colour) => {
                area.draw(&Rectangle::new([(x, y - 10), (x + 40, y + 10)], colour.filled()))?;
            }
            Key::Line(colour) => area.draw(&PathElement::new(vec![(x, y), (x + 40, y)], colour.stroke_width(3)))?,
            Key::Dashed(colour) => {
                for dash in [x, x + 16, x + 32] {
                    area.draw(&PathElement::new(vec![(dash, y), (dash + 9, y)], colour.stroke_width(2)))?;
                }
            }
        }
        area.draw(&Text::new(label.to_string(), (x + 50, y), style.clone()))?;
        x += 50 + area.estimate_text_size(label, &style)?.0 as i32 + 44;
    }
    Ok(())
}

/// `text` in at most two lines no wider than `width` pixels, broken between words (a last line
/// that is still too wide is clipped by the figure's edge).
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: u32,
) -> std::result::Result<Vec<String>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.len() - 1;
        let longer = if lines[last].is_empty() { word.to_string() } else { format!("{} {word}", lines[last]) };
        if lines.len() < 2 && !lines[last].is_empty() && area.estimate_text_size(&longer, style)?.0 > width {
            lines.push(word.to_string());
        } else {
            lines[last] = longer;
        }
    }
    Ok(lines)
}

/// The points of a curve split into runs where its pixel path turns back by more than 120°,
/// each run sharing its end with the next. plotters draws a thick line as a polygon whose inner
/// corner at such a turn (a one-pixel-wide peak) is a long spike; runs drawn separately have
/// none. `pixels` are the points' backend coordinates; repeated pixels are not turns.
fn sharp_turn_runs(pixels: &[(i32, i32)]) -> Vec<std::ops::Range<usize>> {
    let mut kept: Vec<usize> = Vec::with_capacity(pixels.len());
    for (i, p) in pixels.iter().enumerate() {
        if kept.last().is_none_or(|&k| pixels[k] != *p) {
            kept.push(i);
        }
    }
    let mut starts = vec![0];
    for w in kept.windows(3) {
        let (a, b, c) = (pixels[w[0]], pixels[w[1]], pixels[w[2]]);
        let (u, v) = ((f64::from(b.0 - a.0), f64::from(b.1 - a.1)), (f64::from(c.0 - b.0), f64::from(c.1 - b.1)));
        let cosine = (u.0 * v.0 + u.1 * v.1) / ((u.0 * u.0 + u.1 * u.1) * (v.0 * v.0 + v.1 * v.1)).sqrt();
        if cosine < -0.5 {
            starts.push(w[1]);
        }
    }
    let end = pixels.len();
    starts.iter().enumerate().map(|(k, &s)| s..starts.get(k + 1).map_or(end, |&next| next + 1)).collect()
}

/// Draw `points` as a thick line in runs without sharp turns ([`sharp_turn_runs`]).
fn draw_curve<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    points: &[(f64, f64)],
    style: ShapeStyle,
) -> DrawResult<DB> {
    let pixels: Vec<(i32, i32)> = points.iter().map(|p| chart.backend_coord(p)).collect();
    for run in sharp_turn_runs(&pixels) {
        chart.draw_series(LineSeries::new(points[run].iter().copied(), style))?;
    }
    Ok(())
}

/// A white box of text lines in the lower right corner of `plot` (a plotting area in pixels); a
/// line with a colour starts with a marker of that colour.
fn text_box<DB: DrawingBackend>(plot: &DrawingArea<DB, Shift>, lines: &[(Option<RGBColor>, String)]) -> DrawResult<DB> {
    let style = TextStyle::from((FONT, 20).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let (line_height, indent) = (30, if lines.iter().any(|(m, _)| m.is_some()) { 26 } else { 0 });
    let mut width = 0;
    for (_, line) in lines {
        width = width.max(plot.estimate_text_size(line, &style)?.0 as i32);
    }
    let (w, h) = (width + indent + 28, line_height * lines.len() as i32 + 14);
    let (pw, ph) = plot.dim_in_pixel();
    let (x0, y0) = (pw as i32 - 12 - w, ph as i32 - 12 - h);
    plot.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], WHITE.mix(0.92).filled()))?;
    plot.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], BLACK.stroke_width(1)))?;
    for (k, (marker, line)) in lines.iter().enumerate() {
        let y = y0 + 7 + line_height / 2 + line_height * k as i32;
        if let Some(colour) = marker {
            plot.draw(&Circle::new((x0 + 14 + 8, y), 7, colour.filled()))?;
        }
        plot.draw(&Text::new(line.clone(), (x0 + 14 + indent, y), style.clone()))?;
    }
    Ok(())
}

/// What [`pit_plot`] draws ([`Default`]: a title naming the PDFs, 20 bins, 1700×820 pixels).
#[derive(Debug, Clone, PartialEq)]
pub struct PitPlotOptions {
    /// The title (default: `PIT of <n> <representation> PDFs`).
    pub title: Option<String>,
    /// Equal bins of the histogram over [0, 1].
    pub bins: usize,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl Default for PitPlotOptions {
    fn default() -> Self {
        PitPlotOptions { title: None, bins: 20, size: (1700, 820) }
    }
}

/// The PIT diagnostic (§2.1): (a) the histogram of pit_i = F_i(z_i) as densities, with the
/// uniform expectation 1 and the ±2σ band of a binomial bin count; (b) the QQ plot of the sorted
/// PITs against uniform quantiles with the diagonal, and a box with n and the KS, CvM and AD
/// statistics and outlier rate of [`PitStats`].
#[derive(Debug, Clone, PartialEq)]
pub struct PitPlot {
    pub title: String,
    /// The grey line under the title.
    pub subtitle: String,
    /// [`pit_histogram`]'s heights.
    pub densities: Vec<f64>,
    /// [`binomial_band`].
    pub band: (f64, f64),
    /// [`qq_points`].
    pub qq: Vec<(f64, f64)>,
    /// The statistics in the box.
    pub stats: PitStats,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl PitPlot {
    /// The plot of the PITs of pzbench-dialect `values`.
    pub fn new(values: &PdfValues, options: &PitPlotOptions) -> Result<Self> {
        let galaxies = pzbench_galaxies(values)?;
        check_size(options.size)?;
        if options.bins == 0 {
            return Err(Error::usage("the PIT histogram needs at least one bin, e.g. 20"));
        }
        let mut pits: Vec<f64> = galaxies.iter().map(|g| g.pit).collect();
        let Some(stats) = PitStats::of(&mut pits) else {
            return Err(Error::usage("no galaxies to plot; the PDF plots need at least one galaxy"));
        };
        let name = representation_name(values.representation());
        Ok(PitPlot {
            title: options.title.clone().unwrap_or_else(|| format!("PIT of {} {name} PDFs", pits.len())),
            subtitle: format!(
                "pit = F(z_spec), exact (docs/PDF_METRICS.md §2.1); calibrated PDFs give uniform PITs. Band: ±2σ of a bin's binomial count, p = 1/{}.",
                options.bins
            ),
            densities: pit_histogram(&pits, options.bins),
            band: binomial_band(pits.len(), options.bins),
            qq: qq_points(&pits, QQ_POINTS),
            stats,
            size: options.size,
        })
    }

    /// The QQ panel's box.
    fn summary(&self) -> Vec<(Option<RGBColor>, String)> {
        let s = &self.stats;
        [
            format!("n = {}", s.count),
            format!("KS = {}", significant(s.ks, 3)),
            format!("CvM = {}", significant(s.cvm, 3)),
            format!("AD = {}", significant(s.ad, 3)),
            format!("outlier rate = {}", significant(s.outlier_rate, 3)),
        ]
        .into_iter()
        .map(|line| (None, line))
        .collect()
    }

    fn histogram_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let bins = self.densities.len();
        let (lo, hi) = self.band;
        let top = self.densities.iter().copied().fold(hi, f64::max) * 1.08;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("(a) PIT histogram, {bins} bins"), (FONT, 28))
            .margin(14)
            .x_label_area_size(62)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..1.0, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("PIT = F(z_spec)")
            .y_desc("density")
            .label_style((FONT, 20))
            .axis_desc_style((FONT, 21))
            .x_labels(11)
            .y_labels(8)
            .x_label_formatter(&|v| tick_label(*v, 1.0))
            .y_label_formatter(&|v| tick_label(*v, top))
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(TRANSPARENT)
            .draw()?;
        let width = 1.0 / bins as f64;
        let bar = |k: usize, d: f64| [(k as f64 * width, 0.0), ((k + 1) as f64 * width, d)];
        let colour = model_colour(0);
        chart.draw_series(
            self.densities.iter().enumerate().map(|(k, &d)| Rectangle::new(bar(k, d), colour.mix(0.55).filled())),
        )?;
        chart.draw_series(
            self.densities.iter().enumerate().map(|(k, &d)| Rectangle::new(bar(k, d), colour.stroke_width(1))),
        )?;
        chart.draw_series(std::iter::once(Rectangle::new([(0.0, lo), (1.0, hi)], BAND.mix(0.3).filled())))?;
        chart.draw_series(DashedLineSeries::new(vec![(0.0, 1.0), (1.0, 1.0)], 12, 8, BLACK.stroke_width(2)))?;
        Ok(())
    }

    fn qq_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut chart = ChartBuilder::on(area)
            .caption("(b) QQ plot", (FONT, 28))
            .margin(14)
            .x_label_area_size(62)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc("uniform quantile")
            .y_desc("PIT quantile")
            .label_style((FONT, 20))
            .axis_desc_style((FONT, 21))
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| tick_label(*v, 1.0))
            .y_label_formatter(&|v| tick_label(*v, 1.0))
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(TRANSPARENT)
            .draw()?;
        chart.draw_series(DashedLineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], 12, 8, BLACK.stroke_width(2)))?;
        draw_curve(&mut chart, &self.qq, model_colour(0).stroke_width(3))?;
        text_box(&chart.plotting_area().strip_coord_spec(), &self.summary())
    }
}

/// The colour of the PIT histogram's ±2σ band.
const BAND: RGBColor = RGBColor(255, 127, 14);

impl Figure for PitPlot {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER);
        let keys = [
            (Key::Bar(model_colour(0).mix(0.55)), "PIT histogram"),
            (Key::Dashed(BLACK), "uniform: density 1, QQ diagonal"),
            (Key::Bar(BAND.mix(0.3)), "±2σ binomial band"),
            (Key::Line(model_colour(0)), "sorted PITs"),
        ];
        draw_header(&header, &self.title, &self.subtitle, &keys)?;
        // The QQ panel is about square: as wide as the body is high, plus its label area.
        let qq_width = (self.size.1.saturating_sub(HEADER) + 20).min(self.size.0 / 2);
        let (left, right) = body.split_horizontally(self.size.0 - qq_width);
        self.histogram_panel(&left)?;
        self.qq_panel(&right)
    }
}

/// Draw the [`PitPlot`] of pzbench-dialect `values` (§2.1), written to `output`
/// (PNG or SVG by extension, atomically).
pub fn pit_plot(values: &PdfValues, options: &PitPlotOptions, output: &Path) -> Result<()> {
    save(&PitPlot::new(values, options)?, output)
}

/// What [`coverage_plot`] draws ([`Default`]: a title naming the PDFs, 101 nominal levels,
/// 1050×1050 pixels).
#[derive(Debug, Clone, PartialEq)]
pub struct CoveragePlotOptions {
    /// The title (default: `Coverage of <n> <representation> PDFs`).
    pub title: Option<String>,
    /// Nominal levels, evenly spaced over [0, 1] (at least 2); 68.27 % and 95.45 % are added.
    pub points: usize,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl Default for CoveragePlotOptions {
    fn default() -> Self {
        CoveragePlotOptions { title: None, points: 101, size: (1050, 1050) }
    }
}

/// The colours of the 68 % and 95 % markers.
const MARKERS: [RGBColor; 2] = [RGBColor(255, 127, 14), RGBColor(214, 39, 40)];

/// Nominal against empirical coverage of central credible intervals ([`coverage_curve`], §2.1):
/// the diagonal is perfect calibration; above it the intervals are too wide, below too narrow.
/// Markers at the nominal 68.27 % and 95.45 % show [`PitStats`]' `coverage_68`/`coverage_95`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoveragePlot {
    pub title: String,
    /// The grey line under the title.
    pub subtitle: String,
    /// (nominal, empirical), increasing in the nominal level.
    pub curve: Vec<(f64, f64)>,
    /// The statistics behind the markers.
    pub stats: PitStats,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl CoveragePlot {
    /// The coverage curve of the PITs of pzbench-dialect `values`.
    pub fn new(values: &PdfValues, options: &CoveragePlotOptions) -> Result<Self> {
        let galaxies = pzbench_galaxies(values)?;
        check_size(options.size)?;
        if options.points < 2 {
            return Err(Error::usage("the coverage curve needs at least 2 nominal levels, e.g. 101"));
        }
        let mut pits: Vec<f64> = galaxies.iter().map(|g| g.pit).collect();
        let Some(stats) = PitStats::of(&mut pits) else {
            return Err(Error::usage("no galaxies to plot; the PDF plots need at least one galaxy"));
        };
        let mut nominal = linspace(0.0, 1.0, options.points - 1);
        nominal.extend([COVERAGE_68, COVERAGE_95]);
        nominal.sort_by(f64::total_cmp);
        nominal.dedup();
        let empirical = coverage_curve(&pits, &nominal);
        let name = representation_name(values.representation());
        Ok(CoveragePlot {
            title: options.title.clone().unwrap_or_else(|| format!("Coverage of {} {name} PDFs", pits.len())),
            subtitle: "Fraction of truths with |pit − ½| ≤ c/2 (docs/PDF_METRICS.md §2.1). Above the diagonal: intervals too wide; below: too narrow.".into(),
            curve: nominal.into_iter().zip(empirical).collect(),
            stats,
            size: options.size,
        })
    }
}

impl Figure for CoveragePlot {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER);
        let keys = [(Key::Line(model_colour(0)), "empirical coverage"), (Key::Dashed(BLACK), "calibrated (y = x)")];
        draw_header(&header, &self.title, &self.subtitle, &keys)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .margin_right(40)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc("nominal coverage c of the central interval")
            .y_desc("fraction of truths inside")
            .label_style((FONT, 20))
            .axis_desc_style((FONT, 22))
            .x_labels(11)
            .y_labels(11)
            .x_label_formatter(&|v| tick_label(*v, 1.0))
            .y_label_formatter(&|v| tick_label(*v, 1.0))
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(TRANSPARENT)
            .draw()?;
        chart.draw_series(DashedLineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], 12, 8, BLACK.stroke_width(2)))?;
        draw_curve(&mut chart, &self.curve, model_colour(0).stroke_width(3))?;
        let s = &self.stats;
        let markers = [(COVERAGE_68, s.coverage_68, "68 %"), (COVERAGE_95, s.coverage_95, "95 %")];
        let plot = chart.plotting_area().strip_coord_spec();
        let (pw, ph) = plot.dim_in_pixel();
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let label = TextStyle::from((FONT, 20).into_font());
        for ((c, e, name), colour) in markers.into_iter().zip(MARKERS) {
            chart.draw_series(std::iter::once(
                EmptyElement::at((c, e)) + Circle::new((0, 0), 9, colour.filled()) + Circle::new((0, 0), 9, BLACK),
            ))?;
            // The label on the side away from the diagonal (up-left above it, down-right below
            // it), kept inside the plot, on white so that lines under it do not hide it.
            let (px, py) = chart.backend_coord(&(c, e));
            let (px, py) = (px - xs.start, py - ys.start);
            let (tw, th) = plot.estimate_text_size(name, &label)?;
            let (tw, th) = (tw as i32, th as i32);
            let (x, y) = if e >= c { (px - 14 - tw, py - 14 - th) } else { (px + 14, py + 14) };
            let x = x.clamp(6, (pw as i32 - tw - 6).max(6));
            let y = y.clamp(4, (ph as i32 - th - 4).max(4));
            plot.draw(&Rectangle::new([(x - 5, y - 3), (x + tw + 5, y + th + 3)], WHITE.mix(0.9).filled()))?;
            plot.draw(&Text::new(name, (x, y), label.clone()))?;
        }
        let percent = |x: f64| format!("{} %", significant(100.0 * x, 3));
        let lines = vec![
            (None, format!("n = {}", s.count)),
            (Some(MARKERS[0]), format!("{} intervals hold {} of truths", percent(COVERAGE_68), percent(s.coverage_68))),
            (Some(MARKERS[1]), format!("{} intervals hold {} of truths", percent(COVERAGE_95), percent(s.coverage_95))),
        ];
        text_box(&chart.plotting_area().strip_coord_spec(), &lines)
    }
}

/// Draw the [`CoveragePlot`] of pzbench-dialect `values` (§2.1), written to
/// `output` (PNG or SVG by extension, atomically).
pub fn coverage_plot(values: &PdfValues, options: &CoveragePlotOptions, output: &Path) -> Result<()> {
    save(&CoveragePlot::new(values, options)?, output)
}

/// What [`nz_plot`] draws ([`Default`]: a title naming the PDFs, the spec's default edges,
/// the edges' range padded by 5 %, 600 points, 60 histogram bins, 1800×1050 pixels).
#[derive(Debug, Clone, PartialEq)]
pub struct NzPlotOptions {
    /// The title (default: `Stacked n(z) of <n> <representation> PDFs`).
    pub title: Option<String>,
    /// Tomographic bin edges (§2.5) [default: [`DEFAULT_NZ_EDGES`]].
    pub edges: Vec<f64>,
    /// The z axis of every panel [default: the edges' range padded by 5 % of its width, not
    /// below 0 when the first edge is not].
    pub range: Option<(f64, f64)>,
    /// Points at which the stacked n(z) is evaluated, evenly spaced over the range.
    pub points: usize,
    /// Equal histogram bins over the range (true redshifts; the draws of sample PDFs).
    pub histogram_bins: usize,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl Default for NzPlotOptions {
    fn default() -> Self {
        NzPlotOptions {
            title: None,
            edges: DEFAULT_NZ_EDGES.to_vec(),
            range: None,
            points: 600,
            histogram_bins: 60,
            size: (1800, 1050),
        }
    }
}

/// A bin's stacked n(z) as drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum StackedNz {
    /// mean_i f_i at [`NzPlot::z`].
    Curve(Vec<f64>),
    /// Sample PDFs: the density histogram of all the bin's draws on [`NzPlot::histogram_edges`].
    Histogram(Vec<f64>),
}

/// One tomographic bin's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct NzPanel {
    /// The bin (lo, hi].
    pub lo: f64,
    pub hi: f64,
    /// Galaxies in the bin.
    pub count: usize,
    /// `None` for an empty bin.
    pub stacked: Option<StackedNz>,
    /// The density histogram of the bin's true redshifts on [`NzPlot::histogram_edges`].
    pub truths: Vec<f64>,
}

/// The stacked n(z) per tomographic bin (§2.5): galaxies binned right-closed on z_mode (samples:
/// z_median); one panel per bin with the mean of the bin's PDFs against the density histogram of
/// its true redshifts, the bin's interval shaded; an empty bin's panel says so.
#[derive(Debug, Clone, PartialEq)]
pub struct NzPlot {
    pub title: String,
    /// The grey line under the title.
    pub subtitle: String,
    /// `"z_mode"` or `"z_median"` (samples).
    pub binned_on: &'static str,
    /// The points of [`StackedNz::Curve`].
    pub z: Vec<f64>,
    /// The histograms' edges.
    pub histogram_edges: Vec<f64>,
    pub panels: Vec<NzPanel>,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl NzPlot {
    /// The panels of the PDFs `pdfs` with their pzbench-dialect `values` (the same galaxies, in
    /// the same order).
    pub fn new(pdfs: &Pdfs, values: &PdfValues, options: &NzPlotOptions) -> Result<Self> {
        let galaxies = pzbench_galaxies(values)?;
        check_size(options.size)?;
        if pdfs.len() != galaxies.len() || pdfs.representation() != values.representation() {
            return Err(Error::usage(format!(
                "the n(z) plot got {} {} PDFs but values of {} {} PDFs; compute the values from the same PDFs",
                pdfs.len(),
                representation_name(pdfs.representation()),
                galaxies.len(),
                representation_name(values.representation())
            )));
        }
        if options.points < 2 || options.histogram_bins == 0 {
            return Err(Error::usage("the n(z) plot needs at least 2 points and 1 histogram bin, e.g. 600 and 60"));
        }
        let bins = Bins::new(BinOn::ZPhot, options.edges.clone())?;
        let (x0, x1) = match options.range {
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => (lo, hi),
            Some((lo, hi)) => {
                return Err(Error::usage(format!("the n(z) plot's range {lo}..{hi} must be finite and increasing")))
            }
            None => default_nz_range(&bins.edges),
        };
        let samples = pdfs.representation() == Representation::Samples;
        let binned_on = if samples { "z_median" } else { "z_mode" };
        let mut members = vec![Vec::new(); bins.len()];
        for (i, g) in galaxies.iter().enumerate() {
            let on = if samples { g.z_median } else { g.z_mode().unwrap_or(g.z_median) };
            if let Some(b) = bins.locate(on) {
                members[b].push(i);
            }
        }
        let z = linspace(x0, x1, options.points - 1);
        let histogram_edges = linspace(x0, x1, options.histogram_bins);
        let panels = members
            .iter()
            .enumerate()
            .map(|(b, rows)| {
                let (lo, hi) = bins.interval(b);
                let stacked = if rows.is_empty() {
                    None
                } else if samples {
                    let draws = rows.iter().flat_map(|&i| match pdfs.galaxy(i) {
                        Pdf::Samples(s) => s.sorted().to_vec(),
                        _ => Vec::new(),
                    });
                    Some(StackedNz::Histogram(density_histogram(draws, &histogram_edges)))
                } else {
                    stacked_nz(pdfs, rows, &z).map(StackedNz::Curve)
                };
                let truths = density_histogram(rows.iter().map(|&i| galaxies[i].z_spec), &histogram_edges);
                NzPanel { lo, hi, count: rows.len(), stacked, truths }
            })
            .collect();
        let binned: usize = members.iter().map(Vec::len).sum();
        let outside = galaxies.len() - binned;
        let name = representation_name(pdfs.representation());
        let stacked_is = if samples { "histogram of the bin's draws" } else { "mean of the bin's PDFs" };
        Ok(NzPlot {
            title: options.title.clone().unwrap_or_else(|| format!("Stacked n(z) of {} {name} PDFs", galaxies.len())),
            subtitle: format!(
                "Galaxies binned on {binned_on}, bins (lo, hi] (docs/PDF_METRICS.md §2.5); stacked n(z) = {stacked_is}; {} outside every bin.",
                galaxies_count(outside)
            ),
            binned_on,
            z,
            histogram_edges,
            panels,
            size: options.size,
        })
    }

    /// Columns of the panel grid: all in one row up to 3 bins, else 4 a row.
    fn columns(&self) -> usize {
        let n = self.panels.len().max(1);
        if n <= 3 {
            n
        } else {
            4
        }
    }

    fn panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, panel: &NzPanel) -> DrawResult<DB> {
        let (x0, x1) = (self.z[0], self.z[self.z.len() - 1]);
        let title = format!(
            "{} < {} ≤ {}, {}",
            significant(panel.lo, 3),
            self.binned_on,
            significant(panel.hi, 3),
            galaxies_count(panel.count)
        );
        let stacked_max = match &panel.stacked {
            Some(StackedNz::Curve(y) | StackedNz::Histogram(y)) => y.iter().copied().fold(0.0, f64::max),
            None => 0.0,
        };
        let top = panel.truths.iter().copied().fold(stacked_max, f64::max);
        let top = if top > 0.0 { top * 1.08 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 22))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(66)
            .build_cartesian_2d(x0..x1, 0.0..top)?;
        let x_label = |v: &f64| tick_label(*v, x1 - x0);
        let y_label = |v: &f64| tick_label(*v, top);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc("z")
            .y_desc("n(z)")
            .label_style((FONT, 17))
            .axis_desc_style((FONT, 18))
            .x_labels(7)
            .y_labels(6)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(TRANSPARENT);
        if panel.stacked.is_none() {
            mesh.disable_y_axis();
        }
        mesh.draw()?;
        let (lo, hi) = (panel.lo.max(x0), panel.hi.min(x1));
        if lo < hi {
            chart.draw_series(std::iter::once(Rectangle::new([(lo, 0.0), (hi, top)], SHADE.mix(0.18).filled())))?;
        }
        let Some(stacked) = &panel.stacked else {
            let plot = chart.plotting_area().strip_coord_spec();
            let (w, h) = plot.dim_in_pixel();
            let grey = BLACK.mix(0.6);
            let style = TextStyle::from((FONT, 26).into_font()).color(&grey).pos(Pos::new(HPos::Center, VPos::Center));
            return plot.draw(&Text::new("no galaxies", (w as i32 / 2, h as i32 / 2), style));
        };
        let edges = &self.histogram_edges;
        chart.draw_series(
            panel
                .truths
                .iter()
                .zip(edges.windows(2))
                .filter(|(&d, _)| d > 0.0)
                .map(|(&d, e)| Rectangle::new([(e[0], 0.0), (e[1], d)], TRUTH.mix(0.35).filled())),
        )?;
        let colour = model_colour(0);
        match stacked {
            StackedNz::Curve(y) => {
                let points: Vec<(f64, f64)> = self.z.iter().copied().zip(y.iter().copied()).collect();
                draw_curve(&mut chart, &points, colour.stroke_width(3))?;
            }
            StackedNz::Histogram(y) => draw_curve(&mut chart, &step_outline(edges, y), colour.stroke_width(3))?,
        }
        Ok(())
    }
}

/// The colour of the true redshifts' histogram.
const TRUTH: RGBColor = RGBColor(0, 0, 0);
/// The colour of a bin's shaded interval.
const SHADE: RGBColor = RGBColor(255, 200, 0);

/// The edges' range padded by 5 % of its width on each side, not below 0 when the first edge is
/// not (redshifts are not negative).
fn default_nz_range(edges: &[f64]) -> (f64, f64) {
    let (first, last) = (edges[0], edges[edges.len() - 1]);
    let pad = 0.05 * (last - first);
    let lo = if first >= 0.0 { (first - pad).max(0.0) } else { first - pad };
    (lo, last + pad)
}

impl Figure for NzPlot {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER);
        let stacked = match self.binned_on {
            "z_median" => "stacked n(z): density histogram of the bin's draws",
            _ => "stacked n(z): mean of the bin's PDFs",
        };
        let keys = [
            (Key::Line(model_colour(0)), stacked),
            (Key::Bar(TRUTH.mix(0.35)), "true z_spec (density histogram)"),
            (Key::Bar(SHADE.mix(0.18)), "the bin's interval"),
        ];
        draw_header(&header, &self.title, &self.subtitle, &keys)?;
        let columns = self.columns();
        let rows = self.panels.len().div_ceil(columns).max(1);
        let areas = body.split_evenly((rows, columns));
        for (area, panel) in areas.iter().zip(&self.panels) {
            self.panel(area, panel)?;
        }
        Ok(())
    }
}

/// Draw the [`NzPlot`] of `pdfs` and their pzbench-dialect `values` (§2.5), written
/// to `output` (PNG or SVG by extension, atomically).
pub fn nz_plot(pdfs: &Pdfs, values: &PdfValues, options: &NzPlotOptions, output: &Path) -> Result<()> {
    save(&NzPlot::new(pdfs, values, options)?, output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pzbench_metrics::pdf::Dialect;

    /// A deterministic uniform in (0, 1) (a 64-bit LCG's top bits).
    struct Lcg(u64);

    impl Lcg {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// `n` two-component Gaussian mixtures and truths drawn from them (calibrated PDFs).
    fn mixtures(n: usize) -> (Pdfs, Vec<f64>) {
        let mut rng = Lcg(7);
        let (mut w, mut mu, mut sigma, mut truth) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let centre = 0.1 + 2.3 * rng.uniform();
            let width = 0.03 + 0.1 * rng.uniform();
            w.extend([0.8, 0.2]);
            mu.extend([centre, centre + 0.5]);
            sigma.extend([width, 2.0 * width]);
            let (m, s) = if rng.uniform() < 0.8 { (centre, width) } else { (centre + 0.5, 2.0 * width) };
            truth.push(m + s * rng.normal());
        }
        (Pdfs::mixture(2, w, mu, sigma).unwrap(), truth)
    }

    fn pzbench(pdfs: &Pdfs, truth: &[f64]) -> PdfValues {
        PdfValues::compute(pdfs, truth, Dialect::Pzbench).unwrap()
    }

    const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    /// Writes `figure` as PNG and SVG in `dir` and returns the SVG text.
    fn png_and_svg(dir: &Path, name: &str, write: impl Fn(&Path) -> Result<()>) -> String {
        let png = dir.join(format!("{name}.png"));
        write(&png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(&PNG_MAGIC), "{name}.png is not a PNG");
        let svg = dir.join(format!("{name}.svg"));
        write(&svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"), "{name}.svg is not an SVG");
        let jpg = dir.join(format!("{name}.jpg"));
        let error = write(&jpg).unwrap_err().to_string();
        assert!(error.contains(".png or .svg"), "{error}");
        assert!(!jpg.exists());
        text
    }

    #[test]
    fn pit_plot_writes_png_and_svg() {
        let (pdfs, truth) = mixtures(500);
        let values = pzbench(&pdfs, &truth);
        let dir = tempfile::tempdir().unwrap();
        let svg = png_and_svg(dir.path(), "pit", |p| pit_plot(&values, &PitPlotOptions::default(), p));
        for text in ["PIT of 500 Gaussian-mixture PDFs", "(a) PIT histogram, 20 bins", "QQ plot", "KS = ", "CvM = "] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        for text in ["AD = ", "outlier rate = ", "n = 500", "density", "uniform quantile"] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        let plot = PitPlot::new(&values, &PitPlotOptions { bins: 7, ..Default::default() }).unwrap();
        assert_eq!(plot.densities.len(), 7);
        let mut pits: Vec<f64> = truth.iter().enumerate().map(|(i, &z)| pdfs.galaxy(i).cdf(z)).collect();
        assert_eq!(Some(plot.stats), PitStats::of(&mut pits));
        assert_eq!(plot.qq.len(), 500);
        assert_eq!(plot.qq[0], (0.5 / 500.0, pits[0]));
    }

    #[test]
    fn coverage_plot_writes_png_and_svg() {
        let (pdfs, truth) = mixtures(500);
        let values = pzbench(&pdfs, &truth);
        let dir = tempfile::tempdir().unwrap();
        let svg = png_and_svg(dir.path(), "coverage", |p| coverage_plot(&values, &CoveragePlotOptions::default(), p));
        for text in ["Coverage of 500", "nominal coverage", "fraction of truths inside", "68 %", "95 %", "68.3 %"] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        let plot = CoveragePlot::new(&values, &CoveragePlotOptions::default()).unwrap();
        assert_eq!(plot.curve.len(), 103);
        assert_eq!(plot.curve[0].0, 0.0);
        assert_eq!(plot.curve[102], (1.0, 1.0));
        assert!(plot.curve.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        // The markers lie on the curve: the curve at 68.27 % and 95.45 % is PitStats' coverage.
        assert!(plot.curve.contains(&(COVERAGE_68, plot.stats.coverage_68)));
        assert!(plot.curve.contains(&(COVERAGE_95, plot.stats.coverage_95)));
    }

    #[test]
    fn nz_plot_writes_png_and_svg_with_an_empty_bin() {
        let (pdfs, truth) = mixtures(500);
        let values = pzbench(&pdfs, &truth);
        let dir = tempfile::tempdir().unwrap();
        let options = NzPlotOptions { edges: vec![0.0, 0.5, 1.0, 2.0, 3.0, 4.0], ..Default::default() };
        let svg = png_and_svg(dir.path(), "nz", |p| nz_plot(&pdfs, &values, &options, p));
        for text in ["Stacked n(z) of 500", "no galaxies", "3 &lt; z_mode ≤ 4, 0 galaxies", "n(z)", "true z_spec"] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        let plot = NzPlot::new(&pdfs, &values, &options).unwrap();
        assert_eq!(plot.panels.len(), 5);
        assert_eq!(plot.panels[4].stacked, None);
        assert_eq!(plot.z.len(), 600);
        assert_eq!((plot.z[0], plot.z[599]), (0.0, 4.2));
        // Bins on z_mode, right-closed, as nz.rs: every galaxy lands in exactly one bin here.
        let counts: Vec<usize> = plot.panels.iter().map(|p| p.count).collect();
        let expected: Vec<usize> = [(0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
            .iter()
            .map(|&(lo, hi)| {
                values_of(&values).iter().filter(|g| g.z_mode().is_some_and(|m| lo < m && m <= hi)).count()
            })
            .collect();
        assert_eq!(counts, expected);
        assert_eq!(counts.iter().sum::<usize>(), 500);
    }

    fn values_of(values: &PdfValues) -> &[GalaxyValues] {
        pzbench_galaxies(values).unwrap()
    }

    #[test]
    fn nz_plot_of_samples_stacks_the_draws() {
        let mut rng = Lcg(11);
        let (n, s) = (200, 32);
        let mut draws = Vec::new();
        let mut truth = Vec::new();
        for _ in 0..n {
            let centre = 0.2 + 1.5 * rng.uniform();
            draws.extend((0..s).map(|_| centre + 0.05 * rng.normal()));
            truth.push(centre + 0.05 * rng.normal());
        }
        let pdfs = Pdfs::samples(s, draws).unwrap();
        let values = pzbench(&pdfs, &truth);
        let plot = NzPlot::new(&pdfs, &values, &NzPlotOptions::default()).unwrap();
        assert_eq!(plot.binned_on, "z_median");
        assert!(plot.subtitle.contains("z_median"));
        for panel in plot.panels.iter().filter(|p| p.count > 0) {
            let Some(StackedNz::Histogram(y)) = &panel.stacked else { panic!("samples stack as a histogram") };
            let width = plot.histogram_edges[1] - plot.histogram_edges[0];
            assert!((y.iter().sum::<f64>() * width - 1.0).abs() < 1e-9);
        }
        let dir = tempfile::tempdir().unwrap();
        let svg = png_and_svg(dir.path(), "nz_samples", |p| nz_plot(&pdfs, &values, &NzPlotOptions::default(), p));
        assert!(svg.contains("z_median ≤"));
    }

    #[test]
    fn rail_values_and_mismatches_are_refused() {
        let (pdfs, truth) = mixtures(50);
        let rail = PdfValues::compute(&pdfs, &truth, Dialect::Rail).unwrap();
        let out = Path::new("unused.png");
        let errors = [
            pit_plot(&rail, &PitPlotOptions::default(), out).unwrap_err(),
            coverage_plot(&rail, &CoveragePlotOptions::default(), out).unwrap_err(),
            nz_plot(&pdfs, &rail, &NzPlotOptions::default(), out).unwrap_err(),
        ];
        for error in errors {
            assert!(error.to_string().contains("pzbench dialect"), "{error}");
        }
        let values = pzbench(&pdfs, &truth);
        let (other, _) = mixtures(40);
        let error = nz_plot(&other, &values, &NzPlotOptions::default(), out).unwrap_err().to_string();
        assert!(error.contains("40 Gaussian-mixture PDFs but values of 50"), "{error}");
        let bins = PitPlotOptions { bins: 0, ..Default::default() };
        assert!(pit_plot(&values, &bins, out).unwrap_err().to_string().contains("at least one bin"));
        let edges = NzPlotOptions { edges: vec![1.0, 0.5], ..Default::default() };
        assert!(nz_plot(&pdfs, &values, &edges, out).unwrap_err().to_string().contains("increase strictly"));
        assert!(!out.exists());
    }

    #[test]
    fn pit_histogram_heights_are_densities() {
        let pits = [0.0, 0.1, 0.25, 0.5, 0.74, 0.75, 0.99, 1.0];
        assert_eq!(pit_histogram(&pits, 4), vec![1.0, 0.5, 1.0, 1.5]);
        let (pdfs, truth) = mixtures(500);
        let pits: Vec<f64> = values_of(&pzbench(&pdfs, &truth)).iter().map(|g| g.pit).collect();
        for bins in [1, 7, 20, 100] {
            let heights = pit_histogram(&pits, bins);
            assert!((heights.iter().sum::<f64>() / bins as f64 - 1.0).abs() < 1e-12);
        }
        assert_eq!(pit_histogram(&[], 3), vec![0.0; 3]);
    }

    #[test]
    fn binomial_band_in_density_units() {
        // n = 400, 4 bins: σ = √(400 · ¼ · ¾) = √75 counts, × 4/400 in density.
        let (lo, hi) = binomial_band(400, 4);
        let sigma = 75f64.sqrt() / 100.0;
        assert!((lo - (1.0 - 2.0 * sigma)).abs() < 1e-15 && (hi - (1.0 + 2.0 * sigma)).abs() < 1e-15);
        assert_eq!(binomial_band(1, 20).0, 0.0);
    }

    #[test]
    fn coverage_curve_ends() {
        // |pit − ½| = ½, 0, 0, ¼, 0.4, ½, 0, ⅛.
        let pits = [0.0, 0.5, 0.5, 0.25, 0.9, 1.0, 0.5, 0.625];
        let curve = coverage_curve(&pits, &[0.0, 0.3, 0.6, 1.0]);
        assert_eq!(curve, vec![3.0 / 8.0, 4.0 / 8.0, 5.0 / 8.0, 1.0]);
        let (pdfs, truth) = mixtures(500);
        let mut pits: Vec<f64> = values_of(&pzbench(&pdfs, &truth)).iter().map(|g| g.pit).collect();
        let curve = coverage_curve(&pits, &[0.0, COVERAGE_68, COVERAGE_95, 1.0]);
        let stats = PitStats::of(&mut pits).unwrap();
        assert_eq!(curve, vec![0.0, stats.coverage_68, stats.coverage_95, 1.0]);
    }

    #[test]
    fn curves_split_at_sharp_turns_only() {
        // A one-pixel-wide peak (up then straight back down) splits; right angles and repeated
        // pixels do not.
        let peak = [(0, 0), (1, -75), (1, -75), (2, 0), (3, 0)];
        assert_eq!(sharp_turn_runs(&peak), vec![0..2, 1..5]);
        let steps = [(0, 0), (0, -5), (4, -5), (4, 0), (8, 0)];
        assert_eq!(sharp_turn_runs(&steps), vec![0..5]);
        assert_eq!(sharp_turn_runs(&[(0, 0), (0, 0)]), vec![0..2]);
    }

    #[test]
    fn qq_points_thin_out_evenly() {
        let sorted: Vec<f64> = (0..10).map(|i| i as f64 / 10.0).collect();
        assert_eq!(qq_points(&sorted, 20).len(), 10);
        let thin = qq_points(&sorted, 4);
        assert_eq!(thin, vec![(0.05, 0.0), (0.35, 0.3), (0.65, 0.6), (0.95, 0.9)]);
    }

    #[test]
    fn stacked_nz_is_the_mean_density() {
        let (pdfs, _) = mixtures(600);
        let z = linspace(0.0, 3.0, 299);
        let one = stacked_nz(&pdfs, &[3], &z).unwrap();
        let density: Vec<f64> = z.iter().map(|&x| pdfs.galaxy(3).density(x).unwrap()).collect();
        assert_eq!(one, density);
        // Over more than one parallel chunk: the mean of the densities, and it integrates to ~1.
        let rows: Vec<usize> = (0..600).collect();
        let all = stacked_nz(&pdfs, &rows, &z).unwrap();
        let k = 150;
        let mean = rows.iter().map(|&i| pdfs.galaxy(i).density(z[k]).unwrap()).sum::<f64>() / 600.0;
        assert!((all[k] - mean).abs() < 1e-12 * mean.max(1.0));
        let integral: f64 = all.windows(2).map(|w| (w[0] + w[1]) / 2.0 * 0.01).sum();
        assert!((integral - 1.0).abs() < 0.01, "{integral}");
        assert_eq!(stacked_nz(&pdfs, &[], &z), None);
        assert_eq!(stacked_nz(&Pdfs::samples(1, vec![0.5]).unwrap(), &[0], &z), None);
    }

    #[test]
    fn density_histograms_integrate_to_the_fraction_inside() {
        let edges = [0.0, 0.5, 1.0, 2.0];
        assert_eq!(density_histogram([0.0, 0.5, 0.7, 2.0], &edges), vec![0.5, 1.0, 0.25]);
        let inside = density_histogram([0.1, 0.6, 1.5, 3.0], &edges);
        let integral: f64 = inside.iter().zip(edges.windows(2)).map(|(h, e)| h * (e[1] - e[0])).sum();
        assert_eq!(integral, 0.75);
        assert_eq!(density_histogram(std::iter::empty(), &edges), vec![0.0; 3]);
        assert_eq!(
            step_outline(&edges, &[1.0, 2.0, 3.0]),
            vec![(0.0, 0.0), (0.0, 1.0), (0.5, 1.0), (0.5, 2.0), (1.0, 2.0), (1.0, 3.0), (2.0, 3.0), (2.0, 0.0)]
        );
    }

    /// Renders the three plots of the FlexZBoost reference case (grid PDFs on linspace(0, 3,
    /// 301), 3066 DC2 galaxies; `shared/reference/pdf/flexzboost_dc2.csv`) into
    /// `$PZBENCH_PLOT_DIR` (default: `/tmp/pdfplots`) to be looked at.
    #[test]
    #[ignore = "needs shared/reference/pdf and writes PNGs for a person to look at"]
    fn render_flexzboost_dc2() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/pdf");
        let numbers = |line: &str| line.split(',').map(|v| v.trim().parse::<f64>().unwrap()).collect::<Vec<f64>>();
        let grid = std::fs::read_to_string(folder.join("flexzboost_dc2.grid.csv")).unwrap();
        let nodes: Vec<f64> = grid.lines().skip(1).filter(|l| !l.is_empty()).map(|l| numbers(l)[0]).collect();
        let text = std::fs::read_to_string(folder.join("flexzboost_dc2.csv")).unwrap();
        let mut lines = text.lines().filter(|l| !l.is_empty());
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(&header[..3], &["object_id", "z_spec", "pdf_0"]);
        let (mut truth, mut densities) = (Vec::new(), Vec::new());
        for line in lines {
            let row = numbers(line);
            truth.push(row[1]);
            densities.extend_from_slice(&row[2..]);
        }
        let pdfs = Pdfs::grid(nodes, densities).unwrap();
        let values = pzbench(&pdfs, &truth);
        let out =
            std::env::var_os("PZBENCH_PLOT_DIR").map_or_else(|| Path::new("/tmp/pdfplots").to_path_buf(), Into::into);
        std::fs::create_dir_all(&out).unwrap();
        let title = |what: &str| Some(format!("{what}: FlexZBoost on DC2 ({} grid PDFs)", truth.len()));
        pit_plot(&values, &PitPlotOptions { title: title("PIT"), ..Default::default() }, &out.join("pit.png")).unwrap();
        let coverage = CoveragePlotOptions { title: title("Coverage"), ..Default::default() };
        coverage_plot(&values, &coverage, &out.join("coverage.png")).unwrap();
        let nz = NzPlotOptions { title: title("Stacked n(z)"), ..Default::default() };
        nz_plot(&pdfs, &values, &nz, &out.join("nz.png")).unwrap();
    }
}
