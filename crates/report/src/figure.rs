//! Figures with plotters: the paper's Figure 6 (metrics per redshift bin, `docs/METRICS.md`
//! "Figure 6 panels") and the z_phot-vs-z_spec density plot, as PNG or SVG (chosen by the
//! extension); [`figure6`] and [`scatter_plot`] are `pzbench figure6` and `pzbench plot scatter`.
//!
//! Text uses the bundled DejaVu Sans (`fixtures/fonts/`, Bitstream Vera licence), embedded with
//! `include_bytes!` and registered with plotters' `ab_glyph` backend, so figures render on
//! machines without system fonts (`docs/reports.md`). Outputs are written atomically: the SVG is built
//! in memory and written with [`write_atomic`]; the PNG is saved to a temporary file beside the
//! target and renamed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::format::{significant, significant_fixed};
use super::score::ScoreReport;
use super::scoring::ScoredModels;
use super::table2::Dataset;
use pzbench_io::sample::{load_sample, Sample, SampleOptions};
use pzbench_io::write_atomic;
use pzbench_io::{Error, Result};
use pzbench_metrics::{evaluate, stats::percentile, Bins, Grouped, Metric, Metrics};

/// DejaVu Sans, registered as plotters' "sans-serif".
static FONT_BYTES: &[u8] = include_bytes!("../../../fixtures/fonts/DejaVuSans.ttf");
/// The outlier limit on |dz| drawn in the scatter plot (paper eqs. 5–6; the `outlier_frac` metric
/// uses the same 0.15).
const OUTLIER_LIMIT: f64 = 0.15;
/// The family every text style names.
pub(crate) const FONT: &str = "sans-serif";

/// Register the bundled font once per process.
fn register_fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::other(
            "the bundled font fixtures/fonts/DejaVuSans.ttf could not be loaded; rebuild pzbench from a clean checkout",
        ))
    }
}

/// Image formats, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// `.png` or `.svg` (any case); anything else is an error naming the fix.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).as_deref() {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => Err(Error::file(path, "unknown image format: end the output file name with .png or .svg")),
        }
    }
}

/// What a figure's drawing code returns.
pub type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw the whole figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Render `figure` to `path` (PNG or SVG by extension), atomically.
pub fn save(figure: &impl Figure, path: &Path) -> Result<()> {
    let format = ImageFormat::from_path(path)?;
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty() && !f.is_dir()) {
        return Err(Error::file(path, format!("the folder {} does not exist; create it first", folder.display())));
    }
    register_fonts()?;
    match format {
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
                figure.draw(&root).map_err(|e| draw_failed(path, e))?;
                root.present().map_err(|e| draw_failed(path, e))?;
            }
            write_atomic(path, svg.as_bytes())
        }
        ImageFormat::Png => {
            let tmp = png_temp_path(path);
            let drawn = {
                let root = BitMapBackend::new(&tmp, figure.size()).into_drawing_area();
                figure.draw(&root).and_then(|()| root.present())
            };
            let result = drawn.map_err(|e| draw_failed(path, e)).and_then(|()| {
                pzbench_io::persist_temp(&tmp, path)
                    .map_err(|e| Error::file(path, format!("cannot write output: {e}")).caused_by(e))
            });
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result
        }
    }
}

/// A plotters failure while drawing the figure for `path`, kept as the error's source.
fn draw_failed<E: std::error::Error + Send + Sync + 'static>(path: &Path, error: DrawingAreaErrorKind<E>) -> Error {
    Error::file(path, format!("cannot draw the figure: {error}")).caused_by(error)
}

/// A new temporary PNG beside `path` ([`pzbench_io::temp_path_for`]); it ends in `.png` because
/// the encoder picks the format by extension.
fn png_temp_path(path: &Path) -> PathBuf {
    let tmp = pzbench_io::temp_path_for(path);
    let name = tmp.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tmp.with_file_name(format!("{name}.png"))
}

/// Series colours (the Tableau 10 palette), cycled for more models.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The colour of model `k`.
pub fn model_colour(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// Figure 6's five panels: metric, panel title, y-axis label (`docs/METRICS.md` definitions).
pub const FIGURE6_PANELS: [(Metric, &str, &str); 5] = [
    (Metric::Bias, "(a) Bias", "bias = median(dz)"),
    (Metric::Scatter, "(b) Scatter", "scatter = 1.4826 MAD(dz)"),
    (Metric::OutlierFrac, "(c) Outlier fraction", "fraction with |dz| > 0.15"),
    (Metric::Mse, "(d) MSE", "MSE = mean((z_phot - z_spec)²)"),
    (Metric::Loss, "(e) Loss", "loss (Tanaka 2018, γ = 0.15)"),
];

/// Title of the sixth panel, the galaxy count per bin.
pub const COUNT_PANEL: &str = "(f) Galaxies per bin";

/// Bins with fewer galaxies than this are drawn with open markers in Figure 6 (and a dotted line
/// marks the count in panel (f)): a median, a MAD or an outlier fraction of a handful of galaxies,
/// and its bootstrap interval, say little.
pub const FEW_GALAXIES: usize = 30;

/// One plotted value: bin position, value, its interval if bootstrapped, and whether its bin
/// holds fewer than [`FEW_GALAXIES`] galaxies.
#[derive(Debug, Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
    err: Option<(f64, f64)>,
    few: bool,
}

/// Figure 6 of the GalaxiesML paper: bias, scatter, outlier fraction, MSE and loss against
/// redshift bin, one line per model with bootstrap error bars, plus a panel with the galaxy count
/// per bin. All models must share the bins.
pub struct Figure6<'a> {
    /// `(model name, its score report)`, in legend order.
    pub models: Vec<(&'a str, &'a ScoreReport)>,
    /// Lines under the title (dataset, its file, error bars and warnings, few-galaxy bins); four
    /// fit.
    pub subtitle: Vec<String>,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl Figure6<'_> {
    /// The points of model `k` for `metric`, by bin (`None` for an empty bin); models are
    /// shifted a little sideways so their error bars do not overlap.
    fn points(&self, k: usize, metric: Metric) -> Vec<Option<Point>> {
        let report = self.models[k].1;
        let n = self.models.len() as f64;
        report
            .per_bin
            .iter()
            .enumerate()
            .map(|(b, bin)| {
                let metrics = bin.metrics?;
                let y = metrics.get(metric);
                let shift = (bin.hi - bin.lo) * 0.08 * (k as f64 - (n - 1.0) / 2.0);
                let err = report
                    .intervals
                    .as_ref()
                    .and_then(|i| i.per_bin.get(b)?.as_ref()?.get(metric))
                    .filter(|i| i.lo.is_finite() && i.hi.is_finite())
                    .map(|i| (i.lo, i.hi));
                Some(Point { x: (bin.lo + bin.hi) / 2.0 + shift, y, err, few: metrics.count < FEW_GALAXIES })
            })
            .collect()
    }

    fn x_range(&self) -> (f64, f64) {
        let edges = self.models.first().map(|(_, r)| r.bins.edges.as_slice()).unwrap_or(&[]);
        match (edges.first(), edges.last()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => (0.0, 1.0),
        }
    }

    fn x_desc(&self) -> &'static str {
        match self.models.first().map(|(_, r)| r.bins.on) {
            Some(pzbench_metrics::BinOn::ZPhot) => "z_phot (bin centre)",
            _ => "z_spec (bin centre)",
        }
    }
}

impl Figure for Figure6<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(160);
        header.draw(&Text::new(
            "Figure 6: point metrics per redshift bin (smaller is better)",
            (30, 14),
            (FONT, 36).into_font(),
        ))?;
        for (n, line) in self.subtitle.iter().take(4).enumerate() {
            let style = (FONT, 21).into_font().color(&BLACK.mix(0.75));
            header.draw(&Text::new(line.clone(), (30, 56 + 25 * n as i32), style))?;
        }
        // Legend, right-aligned in the header.
        let width = self.size.0 as i32;
        let entry = |name: &str| 80 + 14 * name.chars().count() as i32;
        let total: i32 = self.models.iter().map(|(name, _)| entry(name)).sum();
        let mut x = (width - total - 30).max(900);
        for (k, (name, _)) in self.models.iter().enumerate() {
            let colour = model_colour(k);
            header.draw(&PathElement::new(vec![(x, 32), (x + 44, 32)], colour.stroke_width(4)))?;
            header.draw(&Circle::new((x + 22, 32), 7, colour.filled()))?;
            header.draw(&Text::new(name.to_string(), (x + 54, 18), (FONT, 28).into_font()))?;
            x += entry(name);
        }

        let panels = body.split_evenly((2, 3));
        let x_range = self.x_range();
        for (area, (metric, title, y_desc)) in panels.iter().zip(FIGURE6_PANELS) {
            let series: Vec<(RGBColor, Vec<Option<Point>>)> =
                (0..self.models.len()).map(|k| (model_colour(k), self.points(k, metric))).collect();
            metric_panel(area, title, y_desc, self.x_desc(), x_range, &series, metric.judged_by_magnitude())?;
        }
        if let Some(area) = panels.get(5) {
            let series: Vec<(RGBColor, Vec<Option<Point>>)> =
                (0..self.models.len()).map(|k| (model_colour(k), self.points(k, Metric::Count))).collect();
            count_panel(area, self.x_desc(), x_range, &series)?;
        }
        Ok(())
    }
}

/// The y range of a panel: every value and error-bar end, padded; from 0 for non-negative
/// metrics, always including 0 for signed ones (the biases).
fn y_range(series: &[(RGBColor, Vec<Option<Point>>)], signed: bool) -> (f64, f64) {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|(_, points)| points.iter().flatten())
        .flat_map(|p| [Some(p.y), p.err.map(|e| e.0), p.err.map(|e| e.1)])
        .flatten()
        .filter(|v| v.is_finite())
        .collect();
    let lo = values.iter().copied().fold(0.0, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let span = hi - lo;
    let pad = if span > 0.0 { span * 0.06 } else { 1e-3 };
    (if signed || lo < 0.0 { lo - pad } else { 0.0 }, hi + pad)
}

/// Draw one model's points: lines between consecutive non-empty bins, markers (open for bins of
/// fewer than [`FEW_GALAXIES`] galaxies), error bars.
fn draw_points<DB: DrawingBackend, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    colour: RGBColor,
    points: &[Option<Point>],
    y_of: impl Fn(f64) -> Y::ValueType,
) -> DrawResult<DB>
where
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    for run in points.split(Option::is_none) {
        let run: Vec<Point> = run.iter().flatten().copied().collect();
        chart.draw_series(LineSeries::new(run.iter().map(|p| (p.x, y_of(p.y))), colour.stroke_width(3)))?;
    }
    for p in points.iter().flatten() {
        if let Some((lo, hi)) = p.err {
            let style = colour.stroke_width(2);
            chart.draw_series(std::iter::once(PathElement::new(vec![(p.x, y_of(lo)), (p.x, y_of(hi))], style)))?;
            for end in [lo, hi] {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((p.x, y_of(end))) + PathElement::new(vec![(-6, 0), (6, 0)], style),
                ))?;
            }
        }
        let marker = if p.few { colour.stroke_width(2) } else { colour.filled() };
        chart.draw_series(std::iter::once(Circle::new((p.x, y_of(p.y)), 6, marker)))?;
    }
    Ok(())
}

/// A tick label to three significant digits; values within rounding noise of zero (relative to
/// the axis span, e.g. `-5.55e-17`) read `0`.
pub(crate) fn tick_label(v: f64, span: f64) -> String {
    if v.abs() <= span.abs() * 1e-9 {
        "0".to_string()
    } else {
        significant(v, 3)
    }
}

/// One of panels (a)–(e).
fn metric_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    x_desc: &str,
    (x0, x1): (f64, f64),
    series: &[(RGBColor, Vec<Option<Point>>)],
    signed: bool,
) -> DrawResult<DB> {
    let (y0, y1) = y_range(series, signed);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 30))
        .margin(14)
        .x_label_area_size(62)
        .y_label_area_size(100)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 20))
        .axis_desc_style((FONT, 21))
        .x_labels(9)
        .y_labels(7)
        .x_label_formatter(&|v| significant(*v, 3))
        .y_label_formatter(&|v| tick_label(*v, y1 - y0))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .draw()?;
    if signed {
        chart.draw_series(LineSeries::new(vec![(x0, 0.0), (x1, 0.0)], BLACK.mix(0.5).stroke_width(1)))?;
    }
    for (colour, points) in series {
        draw_points(&mut chart, *colour, points, |y| y)?;
    }
    Ok(())
}

/// Panel (f): galaxies per bin, on a log axis (empty bins are left out), with a dotted line at
/// [`FEW_GALAXIES`].
fn count_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x_desc: &str,
    (x0, x1): (f64, f64),
    series: &[(RGBColor, Vec<Option<Point>>)],
) -> DrawResult<DB> {
    let max = series.iter().flat_map(|(_, p)| p.iter().flatten()).map(|p| p.y).fold(FEW_GALAXIES as f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(COUNT_PANEL, (FONT, 30))
        .margin(14)
        .x_label_area_size(62)
        .y_label_area_size(100)
        .build_cartesian_2d(x0..x1, (0.7..max * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("galaxies in bin (N)")
        .label_style((FONT, 20))
        .axis_desc_style((FONT, 21))
        .x_labels(9)
        .x_label_formatter(&|v| significant(*v, 3))
        .y_label_formatter(&|v| log_tick_label(*v))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .draw()?;
    let few = FEW_GALAXIES as f64;
    chart.draw_series(DashedLineSeries::new(vec![(x0, few), (x1, few)], 4, 6, BLACK.mix(0.5).stroke_width(2)))?;
    for (colour, points) in series {
        let points: Vec<Option<Point>> = points.iter().map(|p| p.filter(|p| p.y > 0.0)).collect();
        draw_points(&mut chart, *colour, &points, |y| y)?;
    }
    Ok(())
}

/// Figure 6's default size in pixels (width, height).
pub const FIGURE6_SIZE: (u32, u32) = (1800, 1200);

/// `pzbench figure6`: draw Figure 6 of the scored models to `output` (PNG or SVG by extension,
/// written atomically), `size` pixels. The subtitle ([`figure6_subtitle`]) names the first model's
/// dataset, its galaxies outside the bins and the bootstrap behind the error bars, warns when the
/// models were not scored on the same galaxies, and explains open markers when a bin holds fewer
/// than [`FEW_GALAXIES`] galaxies.
pub fn figure6(scored: &ScoredModels, size: (u32, u32), output: &Path) -> Result<()> {
    let figure = Figure6 {
        models: scored.models().iter().map(|s| (s.name.as_str(), &s.report)).collect(),
        subtitle: figure6_subtitle(scored),
        size,
    };
    save(&figure, output)
}

/// Figure 6's lines under the title: the dataset, the error bars, and (when any bin holds fewer
/// than [`FEW_GALAXIES`] galaxies) what open markers mean.
fn figure6_subtitle(scored: &ScoredModels) -> Vec<String> {
    let first = scored.first();
    let dataset = &first.dataset;
    let warning =
        if scored.notes().is_empty() { "" } else { " Warning: the models were scored on different galaxies." };
    let report = &first.report;
    let mut lines = vec![
        format!(
            "Dataset {}: {} galaxies, {} outside the bins.",
            dataset.named(),
            report.overall.map_or(0, |m| m.count),
            report.n_outside_bins,
        ),
        format!("z_spec from {} (sha256 {}…).", dataset.source, &dataset.sha256[..dataset.sha256.len().min(16)]),
        match &report.intervals {
            Some(i) => format!(
                "Error bars: {}% percentile bootstrap over galaxies, B = {}, seed {}.{warning}",
                significant(i.confidence * 100.0, 4),
                i.resamples,
                i.seed
            ),
            None => format!("No error bars (no bootstrap resamples).{warning}"),
        },
    ];
    let few = scored
        .models()
        .iter()
        .flat_map(|s| &s.report.per_bin)
        .any(|bin| bin.metrics.is_some_and(|m| m.count < FEW_GALAXIES));
    if few {
        lines.push(format!(
            "Open markers: bins with fewer than {FEW_GALAXIES} galaxies (dotted line in (f)), too few for reliable values."
        ));
    }
    lines
}

/// What [`scatter_plot`] draws ([`Default`]: default title and range, 150 cells per axis,
/// 1300×1100 pixels, the dataset named as the reports name it).
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterOptions {
    /// The title [default: `z_phot vs z_spec: <predictions file name>`].
    pub title: Option<String>,
    /// `--dataset`: the dataset's label [default: the stem of the file z_spec came from].
    pub dataset: Option<String>,
    /// `--synthetic`: mark the dataset as synthetic (see [`Dataset::describe`]).
    pub synthetic: bool,
    /// Range of both axes [default: [`default_range`]].
    pub range: Option<(f64, f64)>,
    /// Cells per axis.
    pub cells: usize,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

impl Default for ScatterOptions {
    fn default() -> Self {
        ScatterOptions { title: None, dataset: None, synthetic: false, range: None, cells: 150, size: (1300, 1100) }
    }
}

/// `pzbench plot scatter`: the [`ScatterPlot`] of the predictions at `predictions` (joined with
/// `options.truth` if set), with their overall bias, scatter and outlier fraction
/// (`docs/METRICS.md`) and their dataset named as `table2` names it ([`Dataset::named`]), written
/// to `output` (PNG or SVG by extension, atomically).
pub fn scatter_plot(predictions: &Path, options: &SampleOptions, plot: &ScatterOptions, output: &Path) -> Result<()> {
    let Sample { z_spec, z_phot, input, .. } = load_sample(predictions, options)?;
    let dataset = Dataset::describe(&input, &z_spec, plot.dataset.as_deref(), plot.synthetic);
    let range = plot.range.unwrap_or_else(|| default_range(&z_spec, &z_phot));
    let title = plot.title.clone().unwrap_or_else(|| {
        let name = predictions.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
        format!("z_phot vs z_spec: {name}")
    });
    let grouped = Grouped::new(z_spec.clone(), z_phot.clone(), &Bins::galaxiesml_default());
    let Some(metrics) = evaluate(&grouped).overall else {
        return Err(Error::file(predictions, "no galaxies to plot; give a predictions file with at least one row"));
    };
    let mut figure = ScatterPlot::new(title, &z_spec, &z_phot, metrics, range, plot.cells);
    figure.size = plot.size;
    figure.subtitle = format!("Dataset {}, z_spec from {}", dataset.named(), dataset.source);
    save(&figure, output)
}

/// The scatter plot's default range: from min(0, min z_spec) to the larger 99.9th percentile of
/// z_spec and z_phot, rounded up to a multiple of 0.5.
pub fn default_range(z_spec: &[f64], z_phot: &[f64]) -> (f64, f64) {
    let lo = z_spec.iter().copied().fold(0.0, f64::min);
    let p999 = |z: &[f64]| percentile(&mut z.to_vec(), 0.999).unwrap_or(1.0);
    let hi = ((p999(z_spec).max(p999(z_phot)) / 0.5).ceil() * 0.5).max(lo + 0.5);
    (lo, hi)
}

/// Height of the scatter plot's header (title and dataset line), pixels.
const SCATTER_HEADER: u32 = 90;
/// Width of the scatter plot's colour bar with its ticks and label, pixels.
const COLOUR_BAR_WIDTH: u32 = 200;

/// A tick label of a logarithmic count axis (panel (f), the colour bar): the count at 1, 2 and 5
/// times a power of ten, empty elsewhere (those ticks stay unlabelled, so the labels never crowd).
fn log_tick_label(v: f64) -> String {
    let mantissa = v / 10f64.powf(v.log10().floor());
    let labelled = [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6);
    if v >= 1.0 && labelled {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// The viridis colour map at `t` in [0, 1] (five anchors, linear in between).
fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let scaled = t * (ANCHORS.len() - 1) as f64;
    let i = (scaled.floor() as usize).min(ANCHORS.len() - 2);
    let f = scaled - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The part of the line `y = slope·x + intercept` inside the square `[lo, hi]²`, if any.
fn clip_line(slope: f64, intercept: f64, lo: f64, hi: f64) -> Option<[(f64, f64); 2]> {
    let (a, b) = ((lo - intercept) / slope, (hi - intercept) / slope);
    let x0 = a.min(b).max(lo);
    let x1 = a.max(b).min(hi);
    (x0 < x1).then_some([(x0, slope * x0 + intercept), (x1, slope * x1 + intercept)])
}

/// A 2-D histogram of z_phot against z_spec with a logarithmic colour scale, the 1:1 line, the
/// outlier limits `z_phot = z_spec ± 0.15 (1 + z_spec)` (paper eqs. 5–6) and the overall bias,
/// scatter and outlier fraction in a text box.
pub struct ScatterPlot {
    pub title: String,
    /// A line under the title (the dataset); empty for none.
    pub subtitle: String,
    /// Both axes span `[lo, hi]`.
    pub range: (f64, f64),
    /// Cells per axis.
    pub cells: usize,
    /// Galaxies per cell, row-major by z_phot cell then z_spec cell.
    counts: Vec<u32>,
    /// Galaxies outside the plotted square.
    pub outside: usize,
    /// The overall metrics shown in the box.
    pub metrics: Metrics,
    pub size: (u32, u32),
}

impl ScatterPlot {
    /// Bin the galaxies into `cells × cells` square cells over `range` on both axes.
    pub fn new(
        title: String,
        z_spec: &[f64],
        z_phot: &[f64],
        metrics: Metrics,
        range: (f64, f64),
        cells: usize,
    ) -> Self {
        let (lo, hi) = range;
        let cells = cells.max(1);
        let mut counts = vec![0u32; cells * cells];
        let mut outside = 0;
        let cell_of = |z: f64| {
            let t = (z - lo) / (hi - lo);
            (0.0..=1.0).contains(&t).then(|| ((t * cells as f64) as usize).min(cells - 1))
        };
        for (&s, &p) in z_spec.iter().zip(z_phot) {
            match (cell_of(s), cell_of(p)) {
                (Some(i), Some(j)) => counts[j * cells + i] += 1,
                _ => outside += 1,
            }
        }
        ScatterPlot { title, subtitle: String::new(), range, cells, counts, outside, metrics, size: (1300, 1100) }
    }

    fn max_count(&self) -> u32 {
        self.counts.iter().copied().max().unwrap_or(0).max(1)
    }

    /// Colour of a cell holding `count` galaxies: viridis of `ln(count) / ln(max)`.
    fn colour(&self, count: u32) -> RGBColor {
        let max = f64::from(self.max_count());
        viridis(if max > 1.0 { f64::from(count).ln() / max.ln() } else { 1.0 })
    }

    /// The text box's lines.
    fn summary(&self) -> Vec<String> {
        let m = &self.metrics;
        let mut lines = vec![
            format!("N = {} galaxies", m.count),
            format!("bias = median(dz) = {}", significant_fixed(m.bias, 3)),
            format!("scatter = 1.4826 MAD(dz) = {}", significant_fixed(m.scatter, 3)),
            format!("outlier fraction (|dz| > 0.15) = {}", significant_fixed(m.outlier_frac, 3)),
        ];
        if self.outside > 0 {
            lines.push(format!("{} galaxies outside the plotted range", self.outside));
        }
        lines
    }
}

impl Figure for ScatterPlot {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (lo, hi) = self.range;
        let (header, body) = root.split_vertically(SCATTER_HEADER);
        header.draw(&Text::new(self.title.clone(), (30, 14), (FONT, 32).into_font()))?;
        header.draw(&Text::new(self.subtitle.clone(), (30, 58), (FONT, 22).into_font().color(&BLACK.mix(0.75))))?;
        let (main, bar) = body.split_horizontally(self.size.0.saturating_sub(COLOUR_BAR_WIDTH));
        let mut chart = ChartBuilder::on(&main)
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(lo..hi, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("z_spec")
            .y_desc("z_phot")
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 26))
            .x_label_formatter(&|v| significant(*v, 3))
            .y_label_formatter(&|v| significant(*v, 3))
            .bold_line_style(BLACK.mix(0.1))
            .light_line_style(TRANSPARENT)
            .draw()?;
        let width = (hi - lo) / self.cells as f64;
        chart.draw_series(self.counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(k, &c)| {
            let (i, j) = ((k % self.cells) as f64, (k / self.cells) as f64);
            let (x0, y0) = (lo + i * width, lo + j * width);
            Rectangle::new([(x0, y0), (x0 + width, y0 + width)], self.colour(c).filled())
        }))?;
        if let Some(line) = clip_line(1.0, 0.0, lo, hi) {
            chart.draw_series(LineSeries::new(line, BLACK.stroke_width(2)))?;
        }
        let t = OUTLIER_LIMIT;
        for (slope, intercept) in [(1.0 + t, t), (1.0 - t, -t)] {
            if let Some(line) = clip_line(slope, intercept, lo, hi) {
                chart.draw_series(DashedLineSeries::new(line, 12, 8, RED.stroke_width(2)))?;
            }
        }
        // The text box, in pixels from the plot's top-left corner, with a key to the lines.
        let lines = self.summary();
        let box_height = 22 + 32 * (lines.len() as i32 + 2);
        let area = chart.plotting_area();
        let corner = (lo, hi);
        area.draw(
            &(EmptyElement::at(corner)
                + Rectangle::new([(14, 14), (520, 14 + box_height)], WHITE.mix(0.92).filled())
                + Rectangle::new([(14, 14), (520, 14 + box_height)], BLACK.stroke_width(1))),
        )?;
        let text = |line: &str, y: i32| {
            EmptyElement::at(corner) + Text::new(line.to_string(), (90, y), (FONT, 22).into_font())
        };
        for (n, line) in lines.iter().enumerate() {
            area.draw(
                &(EmptyElement::at(corner) + Text::new(line.clone(), (28, 26 + 32 * n as i32), (FONT, 22).into_font())),
            )?;
        }
        let key_y = 26 + 32 * lines.len() as i32 + 12;
        area.draw(
            &(EmptyElement::at(corner) + PathElement::new(vec![(28, key_y), (78, key_y)], BLACK.stroke_width(2))),
        )?;
        area.draw(&text("z_phot = z_spec", key_y - 11))?;
        for dash in [28, 48, 68] {
            let y = key_y + 32;
            area.draw(
                &(EmptyElement::at(corner) + PathElement::new(vec![(dash, y), (dash + 12, y)], RED.stroke_width(2))),
            )?;
        }
        area.draw(&text("|dz| = 0.15: z_spec ± 0.15 (1 + z_spec)", key_y + 21))?;

        // Colour bar: galaxies per cell, log scale; ticks and label on its right, labelled at
        // 1, 2, 5, 10, 20, 50, …, aligned with the plotting area.
        let max = f64::from(self.max_count()).max(2.0);
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(20)
            .margin_bottom(20 + 70)
            .margin_left(10)
            .margin_right(10)
            .right_y_label_area_size(COLOUR_BAR_WIDTH / 2)
            .build_cartesian_2d(0.0..1.0, (1.0..max).log_scale())?;
        scale
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .disable_x_axis()
            .y_desc("galaxies per cell (log scale)")
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 24))
            .y_label_formatter(&|v| log_tick_label(*v))
            .draw()?;
        let steps = 120;
        scale.draw_series((0..steps).map(|s| {
            let (a, b) = (s as f64 / steps as f64, (s + 1) as f64 / steps as f64);
            let colour = viridis((a + b) / 2.0);
            Rectangle::new([(0.0, max.powf(a)), (1.0, max.powf(b))], colour.filled())
        }))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(ImageFormat::from_path(Path::new("a/fig.PNG")).unwrap(), ImageFormat::Png);
        assert_eq!(ImageFormat::from_path(Path::new("fig.svg")).unwrap(), ImageFormat::Svg);
        let error = ImageFormat::from_path(Path::new("fig.jpg")).unwrap_err().to_string();
        assert!(error.contains("fig.jpg") && error.contains(".png or .svg"), "{error}");
    }

    #[test]
    fn lines_are_clipped_to_the_square() {
        assert_eq!(clip_line(1.0, 0.0, 0.0, 4.0), Some([(0.0, 0.0), (4.0, 4.0)]));
        let [(x0, y0), (x1, y1)] = clip_line(1.15, 0.15, 0.0, 4.0).unwrap();
        assert_eq!((x0, y0), (0.0, 0.15));
        assert!((x1 - 3.85 / 1.15).abs() < 1e-12 && (y1 - 4.0).abs() < 1e-12);
        assert_eq!(clip_line(1.0, 10.0, 0.0, 4.0), None);
    }

    #[test]
    fn tick_labels_snap_rounding_noise_to_zero() {
        assert_eq!(tick_label(-5.55e-17, 0.4), "0");
        assert_eq!(tick_label(0.002, 0.01), "0.002");
    }

    #[test]
    fn colour_bar_ticks_are_labelled_at_one_two_five() {
        let labels: Vec<String> = [1.0, 2.0, 3.0, 5.0, 9.0, 10.0, 20.0, 40.0, 50.0, 100.0, 300.0, 2000.0]
            .into_iter()
            .map(log_tick_label)
            .collect();
        assert_eq!(labels, ["1", "2", "", "5", "", "10", "20", "", "50", "100", "", "2000"]);
    }

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }

    #[test]
    fn scatter_cells_count_galaxies_and_outsiders() {
        let metrics = pzbench_metrics::point_metrics(&[0.0], &[0.0], &mut Vec::new()).unwrap();
        let plot = ScatterPlot::new("t".into(), &[0.5, 0.5, 3.0, 9.0], &[0.5, 0.5, 1.0, 1.0], metrics, (0.0, 4.0), 4);
        assert_eq!(plot.counts.iter().sum::<u32>(), 3);
        assert_eq!(plot.counts[0], 2);
        assert_eq!(plot.counts[4 + 3], 1);
        assert_eq!(plot.outside, 1);
    }
}
