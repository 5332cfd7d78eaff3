//! The GalaxiesML paper's Table 2 (`docs/METRICS.md`, "Table 2 columns"): one row per model with
//! `Model, N galaxies, Loss, Bias, Scatter, Outlier Fraction, MSE`, i.e. the metric keys `count,
//! loss, bias, scatter, outlier_frac, mse`, optionally beside the paper's published rows
//! (`baselines/galaxiesml_table2.json`), with a caption that names the dataset the rows were
//! measured on. Rendered as a terminal table, Markdown, LaTeX (booktabs), CSV or JSON. When any
//! model is a file of PDFs, the table adds the headline PDF columns [`TABLE2_PDF_COLUMNS`]
//! (`docs/PDF_METRICS.md`), `—` for point-prediction models.
//!
//! Also home of [`Dataset`], the identity of the galaxies a model was scored on (used by
//! `table2`, `figure6` and the leaderboards).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::format::{significant, TextTable};
use super::leaderboard::PdfRecord;
use super::score::ScoreReport;
use super::scoring::ScoredModels;
use pzbench_io::sample::InputInfo;
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::PdfMetric;
use pzbench_metrics::{Interval, Metric};

/// Table 2's metric columns: `(metric, column header)`, in the paper's order
/// (`docs/METRICS.md`, "Table 2 columns").
pub const TABLE2_COLUMNS: [(Metric, &str); 6] = [
    (Metric::Count, "N galaxies"),
    (Metric::Loss, "Loss"),
    (Metric::Bias, "Bias"),
    (Metric::Scatter, "Scatter"),
    (Metric::OutlierFrac, "Outlier Fraction"),
    (Metric::Mse, "MSE"),
];

/// The PDF columns added when any model is a file of PDFs: `(metric, column header)`.
pub const TABLE2_PDF_COLUMNS: [PdfMetric; 4] =
    [PdfMetric::Crps, PdfMetric::PitKs, PdfMetric::CdeLoss, PdfMetric::Coverage68];

/// The text of a PDF column for a model that is not a PDF file.
const NOT_PDF: &str = "—";

/// The paper's published Table 2, embedded at build time (provenance inside the file).
const PUBLISHED_JSON: &str = include_str!("../../../baselines/galaxiesml_table2.json");

/// Significant digits of measured values in the tables: the paper prints three.
const DIGITS: usize = 3;

/// The galaxies a model was scored on, as far as pzbench can tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// A label: `--dataset NAME`, else the stem of the file z_spec came from.
    pub id: String,
    /// Whether the data is synthetic rather than the real GalaxiesML release: `--synthetic`, a
    /// label or file name containing "synthetic", or an HDF5 truth file with a root attribute
    /// named `synthetic`.
    pub synthetic: bool,
    /// File name (no folders) of the file z_spec came from: the truth file, else the predictions.
    pub source: String,
    /// SHA-256 of that file.
    pub sha256: String,
    /// SHA-256 of the sorted z_spec values ([`zspec_fingerprint`]): the same for any files that
    /// hold the same galaxies' spectroscopic redshifts, whatever their format or row order.
    pub zspec_sha256: String,
}

impl Dataset {
    /// Describe the dataset of a scored sample. `label` is `--dataset`, `synthetic` is
    /// `--synthetic`; `z_spec` are the sample's spectroscopic redshifts.
    pub fn describe(input: &InputInfo, z_spec: &[f64], label: Option<&str>, synthetic: bool) -> Self {
        let file = input.truth.as_ref().map_or(&input.predictions, |t| &t.file);
        let path = Path::new(&file.path);
        let source = path.file_name().map_or(file.path.clone(), |n| n.to_string_lossy().into_owned());
        let stem = path.file_stem().map_or(source.clone(), |s| s.to_string_lossy().into_owned());
        let id = label.map_or(stem, str::to_string);
        let says_synthetic = |s: &str| s.to_ascii_lowercase().contains("synthetic");
        let synthetic = synthetic
            || says_synthetic(&id)
            || says_synthetic(&source)
            || (input.truth.is_some() && hdf5_marked_synthetic(path));
        Dataset { id, synthetic, source, sha256: file.sha256.clone(), zspec_sha256: zspec_fingerprint(z_spec) }
    }

    /// "synthetic data" or "real GalaxiesML data", for captions.
    pub fn kind(&self) -> &'static str {
        if self.synthetic {
            "synthetic data, not the GalaxiesML release"
        } else {
            "real GalaxiesML data, not marked synthetic"
        }
    }
}

/// Whether an HDF5 file has a root attribute named `synthetic` (the convention pzbench uses to
/// mark generated GalaxiesML-layout files). Anything that is not a readable HDF5 file is `false`.
fn hdf5_marked_synthetic(path: &Path) -> bool {
    let hdf5_extension =
        path.extension().is_some_and(|e| ["hdf5", "h5", "he5"].iter().any(|x| e.eq_ignore_ascii_case(x)));
    hdf5_extension
        && hdf5::File::open(path)
            .and_then(|f| f.attr_names())
            .is_ok_and(|names| names.iter().any(|n| n.eq_ignore_ascii_case("synthetic")))
}

/// SHA-256 (hex) of the z_spec values sorted ascending, each as its IEEE-754 bits in little-endian
/// order (`-0.0` counted as `0.0`), preceded by the count as a little-endian u64.
pub fn zspec_fingerprint(z_spec: &[f64]) -> String {
    let mut sorted: Vec<f64> = z_spec.iter().map(|&z| if z == 0.0 { 0.0 } else { z }).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut hasher = Sha256::new();
    hasher.update((sorted.len() as u64).to_le_bytes());
    for z in sorted {
        hasher.update(z.to_bits().to_le_bytes());
    }
    pzbench_io::hex(&hasher.finalize())
}

/// Where a row's numbers come from.
#[derive(Debug, Clone, PartialEq)]
pub enum RowSource {
    /// Scored by pzbench from a predictions file (file name and SHA-256).
    Measured { predictions: String, sha256: String },
    /// The paper's Table 2, as printed.
    Published,
}

/// One cell of a metric column.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The value; `None` for an empty set.
    pub value: Option<f64>,
    /// Bootstrap interval, when computed.
    pub interval: Option<Interval>,
    /// The value as printed in the paper (published rows only), to keep its digits.
    pub printed: Option<String>,
}

/// One model's row: a cell per [`TABLE2_COLUMNS`] entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Table2Row {
    pub model: String,
    pub source: RowSource,
    pub cells: Vec<Cell>,
    /// The headline PDF metrics of a model given as a file of PDFs; `None` otherwise.
    pub pdf: Option<PdfRecord>,
}

impl Table2Row {
    /// The row of a scored model: its overall metrics and, if bootstrapped, their intervals.
    pub fn measured(model: &str, report: &ScoreReport) -> Self {
        let predictions = &report.input.predictions;
        let name = Path::new(&predictions.path)
            .file_name()
            .map_or(predictions.path.clone(), |n| n.to_string_lossy().into_owned());
        let intervals = report.intervals.as_ref().and_then(|i| i.overall.as_ref());
        let cells = TABLE2_COLUMNS
            .iter()
            .map(|&(metric, _)| Cell {
                value: report.overall.map(|m| m.get(metric)),
                interval: intervals.and_then(|i| i.get(metric)),
                printed: None,
            })
            .collect();
        Table2Row {
            model: model.to_string(),
            source: RowSource::Measured { predictions: name, sha256: predictions.sha256.clone() },
            cells,
            pdf: report.pdf.as_ref().map(PdfRecord::from_block),
        }
    }

    /// The cells of the PDF columns ([`TABLE2_PDF_COLUMNS`]); `None` for a row without PDFs.
    pub fn pdf_cells(&self) -> Option<Vec<Cell>> {
        let pdf = self.pdf.as_ref()?;
        let cells = TABLE2_PDF_COLUMNS
            .iter()
            .map(|&metric| Cell {
                value: pdf.overall.get(metric),
                interval: pdf
                    .intervals
                    .as_ref()
                    .and_then(|i| i.get(metric.key()))
                    .and_then(|[lo, hi]| Some(Interval { lo: (*lo)?, hi: (*hi)? })),
                printed: None,
            })
            .collect();
        Some(cells)
    }

    /// The model's label in rendered tables: published rows say so.
    pub fn label(&self) -> String {
        match self.source {
            RowSource::Measured { .. } => self.model.clone(),
            RowSource::Published => format!("{} (published)", self.model),
        }
    }
}

/// The embedded file's layout.
#[derive(Deserialize)]
struct PublishedFile {
    rows: Vec<PublishedRow>,
}

#[derive(Deserialize)]
struct PublishedRow {
    model: String,
    count: usize,
    loss: String,
    bias: String,
    scatter: String,
    outlier_frac: String,
    mse: String,
}

/// The paper's Table 2 rows (CNN and NN on the 40,914-galaxy test set), from the embedded
/// `baselines/galaxiesml_table2.json`.
pub fn published_rows() -> Result<Vec<Table2Row>> {
    let broken = |why: String| {
        Error::other(format!(
            "baselines/galaxiesml_table2.json (embedded): {why}; rebuild pzbench from a clean checkout"
        ))
    };
    let file: PublishedFile = serde_json::from_str(PUBLISHED_JSON).map_err(|e| broken(e.to_string()).caused_by(e))?;
    file.rows
        .into_iter()
        .map(|row| {
            let count = row.count.to_string();
            let texts = [&count, &row.loss, &row.bias, &row.scatter, &row.outlier_frac, &row.mse];
            let cells = texts
                .iter()
                .map(|text| {
                    let value =
                        text.parse::<f64>().map_err(|e| broken(format!("'{text}' is not a number")).caused_by(e))?;
                    Ok(Cell { value: Some(value), interval: None, printed: Some(text.to_string()) })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Table2Row { model: row.model, source: RowSource::Published, cells, pdf: None })
        })
        .collect()
}

/// The bootstrap behind the ± of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapInfo {
    pub method: String,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
}

/// Table 2: dataset, rows, bootstrap settings and notes (e.g. models scored on different galaxies).
#[derive(Debug, Clone, PartialEq)]
pub struct Table2 {
    pub dataset: Dataset,
    pub rows: Vec<Table2Row>,
    pub bootstrap: Option<BootstrapInfo>,
    pub notes: Vec<String>,
}

/// Table 2 of scored models (`docs/METRICS.md`, "Table 2 columns"): one measured row per model, in
/// order, then the paper's published rows if `published`. The dataset is the first model's, the
/// bootstrap settings are those its intervals were computed with, and the notes are the models'.
pub fn table2(scored: &ScoredModels, published: bool) -> Result<Table2> {
    let first = scored.first();
    let mut rows: Vec<Table2Row> = scored.models().iter().map(|s| Table2Row::measured(&s.name, &s.report)).collect();
    if published {
        rows.extend(published_rows()?);
    }
    Ok(Table2 {
        dataset: first.dataset.clone(),
        rows,
        bootstrap: first.report.intervals.as_ref().map(|i| BootstrapInfo {
            method: i.method.to_string(),
            confidence: i.confidence,
            resamples: i.resamples,
            seed: i.seed,
        }),
        notes: scored.notes().to_vec(),
    })
}

/// Escape text for LaTeX (outside math mode).
fn latex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str(r"\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str(r"\textasciitilde{}"),
            '^' => out.push_str(r"\textasciicircum{}"),
            '±' => out.push_str(r"$\pm$"),
            '—' => out.push_str("---"),
            '…' => out.push_str(r"\ldots{}"),
            _ => out.push(c),
        }
    }
    out
}

/// A number as LaTeX: `1.23e-5` becomes `$1.23\times10^{-5}$`.
fn latex_number(text: &str) -> String {
    match text.split_once('e') {
        Some((mantissa, exponent)) => format!(r"${mantissa}\times10^{{{exponent}}}$"),
        None => text.to_string(),
    }
}

/// `value ± half-width`: the half-width is half the percentile interval's width (the interval
/// itself, possibly asymmetric, is in the JSON and CSV output).
fn half_width(interval: Interval) -> f64 {
    (interval.hi - interval.lo) / 2.0
}

impl Table2 {
    /// The caption: what the rows are, on which data, and what ± means.
    pub fn caption(&self) -> String {
        let d = &self.dataset;
        let measured = self.rows.iter().filter(|r| matches!(r.source, RowSource::Measured { .. })).count();
        let mut caption = format!(
            "Point metrics as in the GalaxiesML paper's Table 2 (definitions in METRICS.md) of {measured} model{} on dataset '{}' ({}): z_spec from {} (sha256 {}; z_spec fingerprint {}).",
            if measured == 1 { "" } else { "s" },
            d.id,
            d.kind(),
            d.source,
            d.sha256,
            d.zspec_sha256
        );
        if let Some(b) = &self.bootstrap {
            caption.push_str(&format!(
                " ± is half the width of the {}% interval of a {} ({} resamples, seed {}).",
                significant(b.confidence * 100.0, 4),
                b.method,
                b.resamples,
                b.seed
            ));
        }
        if self.has_pdf() {
            let mut estimates: Vec<String> = self
                .rows
                .iter()
                .filter_map(|r| r.pdf.as_ref())
                .map(|p| serde_json::to_value(p.point_estimate).ok().and_then(|v| v.as_str().map(str::to_string)))
                .map(Option::unwrap_or_default)
                .collect();
            estimates.sort();
            estimates.dedup();
            caption.push_str(&format!(
                " Models given as PDF files are scored as in PDF_METRICS.md: their point metrics are those of the PDFs' {} point estimate{}, and CRPS, PIT KS, CDE loss and coverage 68 % (the fraction of PIT values within the central 68.27 % interval, nominal 0.6827) are the PDF metrics; {NOT_PDF} marks models of point predictions.",
                estimates.join("/"),
                if estimates.len() == 1 { "" } else { "s" }
            ));
        }
        if self.rows.iter().any(|r| r.source == RowSource::Published) {
            caption.push_str(" Rows marked (published) are the paper's Table 2 as printed, on the real GalaxiesML test set, not recomputed.");
        }
        for note in &self.notes {
            caption.push(' ');
            caption.push_str(note);
        }
        caption
    }

    /// A cell as text: published cells as printed, counts as integers, other values to three
    /// significant digits, `value ± half-width` with an interval, `-` for an empty set.
    fn cell_text(metric: Metric, cell: &Cell) -> String {
        if let Some(printed) = &cell.printed {
            return printed.clone();
        }
        let Some(value) = cell.value else {
            return if metric == Metric::Count { "0".into() } else { "-".into() };
        };
        if metric == Metric::Count {
            return format!("{value:.0}");
        }
        match cell.interval {
            Some(i) => format!("{} ± {}", significant(value, DIGITS), significant(half_width(i), 2)),
            None => significant(value, DIGITS),
        }
    }

    /// Whether any row has PDF metrics (then the table has the PDF columns).
    pub fn has_pdf(&self) -> bool {
        self.rows.iter().any(|r| r.pdf.is_some())
    }

    /// A PDF column's cell as text: as [`Table2::cell_text`], `-` for a value the PDFs do not
    /// define (e.g. the CDE loss of samples).
    fn pdf_cell_text(cell: &Cell) -> String {
        match cell.value {
            None => "-".into(),
            Some(value) => match cell.interval {
                Some(i) => format!("{} ± {}", significant(value, DIGITS), significant(half_width(i), 2)),
                None => significant(value, DIGITS),
            },
        }
    }

    /// The texts of a row's PDF columns (none when no row has PDFs; `—` for a row without).
    fn pdf_texts(&self, row: &Table2Row) -> Vec<String> {
        if !self.has_pdf() {
            return Vec::new();
        }
        match row.pdf_cells() {
            Some(cells) => cells.iter().map(Self::pdf_cell_text).collect(),
            None => vec![NOT_PDF.to_string(); TABLE2_PDF_COLUMNS.len()],
        }
    }

    /// The headers of the PDF columns, if the table has them.
    fn pdf_headers(&self) -> Vec<&'static str> {
        if self.has_pdf() {
            TABLE2_PDF_COLUMNS.iter().map(|m| m.header()).collect()
        } else {
            Vec::new()
        }
    }

    fn text_table(&self) -> TextTable {
        let mut header = vec!["Model".to_string()];
        header.extend(TABLE2_COLUMNS.iter().map(|(_, h)| h.to_string()));
        header.extend(self.pdf_headers().into_iter().map(str::to_string));
        let rows = self
            .rows
            .iter()
            .map(|row| {
                std::iter::once(row.label())
                    .chain(
                        TABLE2_COLUMNS.iter().zip(&row.cells).map(|(&(metric, _), cell)| Self::cell_text(metric, cell)),
                    )
                    .chain(self.pdf_texts(row))
                    .collect()
            })
            .collect();
        TextTable { header, rows }
    }

    /// Terminal output: the caption, then an aligned table.
    pub fn to_terminal(&self) -> String {
        format!("{}\n\n{}", self.caption(), self.text_table().to_terminal())
    }

    /// Markdown: the caption as a paragraph, then a GitHub table.
    pub fn to_markdown(&self) -> String {
        format!("**Table 2.** {}\n\n{}", self.caption(), self.text_table().to_markdown())
    }

    /// LaTeX: a `table` float with a booktabs `tabular` (`\toprule`, `\midrule` between measured
    /// and published rows, `\bottomrule`); needs `\usepackage{booktabs}`.
    pub fn to_latex(&self) -> String {
        let mut out = String::from("% pzbench table2: needs \\usepackage{booktabs}\n\\begin{table}\n  \\centering\n");
        out.push_str(&format!("  \\caption{{{}}}\n", latex_escape(&self.caption())));
        let columns = "r".repeat(TABLE2_COLUMNS.len() + self.pdf_headers().len());
        out.push_str(&format!("  \\label{{tab:pzbench-table2}}\n  \\begin{{tabular}}{{l{columns}}}\n    \\toprule\n"));
        let header: Vec<String> = std::iter::once("Model")
            .chain(TABLE2_COLUMNS.iter().map(|(_, h)| *h))
            .chain(self.pdf_headers())
            .map(|h| if h == "N galaxies" { "$N$ galaxies".to_string() } else { latex_escape(h) })
            .collect();
        out.push_str(&format!("    {} \\\\\n    \\midrule\n", header.join(" & ")));
        let mut previous_published = None;
        for row in &self.rows {
            let published = row.source == RowSource::Published;
            if previous_published == Some(false) && published {
                out.push_str("    \\midrule\n");
            }
            previous_published = Some(published);
            let cells: Vec<String> = std::iter::once(latex_escape(&row.label()))
                .chain(TABLE2_COLUMNS.iter().zip(&row.cells).map(|(&(metric, _), cell)| {
                    let text = Self::cell_text(metric, cell);
                    match text.split_once(" ± ") {
                        Some((v, h)) => {
                            format!("{} $\\pm$ {}", latex_number(v), latex_number(h))
                        }
                        None => latex_number(&text),
                    }
                }))
                .chain(self.pdf_texts(row).into_iter().map(|text| match text.split_once(" ± ") {
                    Some((v, h)) => format!("{} $\\pm$ {}", latex_number(v), latex_number(h)),
                    None if text == NOT_PDF => latex_escape(&text),
                    None => latex_number(&text),
                }))
                .collect();
            out.push_str(&format!("    {} \\\\\n", cells.join(" & ")));
        }
        out.push_str("    \\bottomrule\n  \\end{tabular}\n\\end{table}\n");
        out
    }

    /// CSV at full precision: `model, source, predictions_sha256`, the six metric columns (metric
    /// keys, `n_galaxies` for `count`), the PDF columns (`crps, pit_ks, cde_loss, coverage_68`,
    /// empty for point predictions) when any model is a PDF file, then `<key>_lo, <key>_hi` when
    /// bootstrapped.
    pub fn to_csv(&self) -> String {
        let mut header = vec!["model".to_string(), "source".into(), "predictions_sha256".into()];
        header.extend(TABLE2_COLUMNS.iter().map(|(metric, _)| match metric {
            Metric::Count => "n_galaxies".to_string(),
            other => other.key().to_string(),
        }));
        let pdf = self.has_pdf();
        if pdf {
            header.extend(TABLE2_PDF_COLUMNS.iter().map(|metric| metric.key().to_string()));
        }
        if self.bootstrap.is_some() {
            for (metric, _) in &TABLE2_COLUMNS[1..] {
                header.push(format!("{metric}_lo"));
                header.push(format!("{metric}_hi"));
            }
            if pdf {
                for metric in &TABLE2_PDF_COLUMNS {
                    header.push(format!("{}_lo", metric.key()));
                    header.push(format!("{}_hi", metric.key()));
                }
            }
        }
        let mut out = header.join(",");
        out.push('\n');
        let number = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for row in &self.rows {
            let (source, sha) = match &row.source {
                RowSource::Measured { sha256, .. } => ("measured", sha256.as_str()),
                RowSource::Published => ("published", ""),
            };
            let mut cells = vec![csv_field(&row.model), source.to_string(), sha.to_string()];
            cells.extend(row.cells.iter().map(|c| number(c.value)));
            let pdf_cells = row
                .pdf_cells()
                .unwrap_or_else(|| vec![Cell { value: None, interval: None, printed: None }; TABLE2_PDF_COLUMNS.len()]);
            if pdf {
                cells.extend(pdf_cells.iter().map(|c| number(c.value)));
            }
            if self.bootstrap.is_some() {
                for cell in &row.cells[1..] {
                    cells.push(number(cell.interval.map(|i| i.lo)));
                    cells.push(number(cell.interval.map(|i| i.hi)));
                }
                if pdf {
                    for cell in &pdf_cells {
                        cells.push(number(cell.interval.map(|i| i.lo)));
                        cells.push(number(cell.interval.map(|i| i.hi)));
                    }
                }
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// JSON: caption, dataset, bootstrap settings, and per row the metrics (numbers; `null` for an
    /// empty set), their intervals `[lo, hi]`, for published rows the values as printed, and for
    /// models given as PDF files their `pdf` object (as in leaderboards: dialect, representation,
    /// point estimate, the headline PDF metrics and their intervals).
    pub fn to_json(&self) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut metrics = Map::new();
                let mut intervals = Map::new();
                let mut printed = Map::new();
                for (&(metric, _), cell) in TABLE2_COLUMNS.iter().zip(&row.cells) {
                    let value = match (metric, cell.value) {
                        (Metric::Count, Some(v)) => json!(v as u64),
                        (Metric::Count, None) => json!(0),
                        (_, v) => json!(v),
                    };
                    let key = metric.key().to_string();
                    if let Some(i) = cell.interval {
                        intervals.insert(key.clone(), json!([i.lo, i.hi]));
                    }
                    if let Some(p) = &cell.printed {
                        printed.insert(key.clone(), json!(p));
                    }
                    metrics.insert(key, value);
                }
                let mut entry = Map::new();
                entry.insert("model".into(), json!(row.model));
                match &row.source {
                    RowSource::Measured { predictions, sha256 } => {
                        entry.insert("source".into(), json!("measured"));
                        entry.insert("predictions".into(), json!({ "file": predictions, "sha256": sha256 }));
                    }
                    RowSource::Published => {
                        entry.insert("source".into(), json!("published"));
                        entry.insert("as_printed".into(), Value::Object(printed));
                    }
                }
                entry.insert("metrics".into(), Value::Object(metrics));
                if !intervals.is_empty() {
                    entry.insert("intervals".into(), Value::Object(intervals));
                }
                if let Some(pdf) = &row.pdf {
                    entry.insert("pdf".into(), serde_json::to_value(pdf).unwrap_or(Value::Null));
                }
                Value::Object(entry)
            })
            .collect();
        let document = json!({
            "caption": self.caption(),
            "dataset": self.dataset,
            "bootstrap": self.bootstrap,
            "notes": self.notes,
            "rows": rows,
            "pzbench_version": pzbench_io::VERSION,
        });
        let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Quote a CSV field if it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_rows_match_metrics_md() {
        let rows = published_rows().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].model, "CNN");
        let values: Vec<f64> = rows[0].cells.iter().map(|c| c.value.unwrap()).collect();
        assert_eq!(values, vec![40914.0, 0.0577, 0.000100, 0.0167, 0.0377, 0.0615]);
        let nn: Vec<&str> = rows[1].cells.iter().map(|c| c.printed.as_deref().unwrap()).collect();
        assert_eq!(nn, vec!["40914", "0.106", "0.00110", "0.0315", "0.0688", "0.133"]);
    }

    #[test]
    fn fingerprint_ignores_order_and_signed_zero() {
        assert_eq!(zspec_fingerprint(&[0.5, 0.0, 1.5]), zspec_fingerprint(&[1.5, -0.0, 0.5]));
        assert_ne!(zspec_fingerprint(&[0.5, 1.5]), zspec_fingerprint(&[0.5, 1.5, 1.5]));
    }

    #[test]
    fn latex_escapes_and_numbers() {
        assert_eq!(latex_escape("a_b & 50% #1"), r"a\_b \& 50\% \#1");
        assert_eq!(latex_number("1.23e-5"), r"$1.23\times10^{-5}$");
        assert_eq!(latex_number("0.0577"), "0.0577");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("CNN"), "CNN");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
