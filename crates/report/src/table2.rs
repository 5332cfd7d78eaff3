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

use super::format::{plus_minus, significant, significant_fixed, TextTable};
use super::leaderboard::PdfRecord;
use super::score::ScoreReport;
use super::scoring::ScoredModels;
use pzbench_io::galaxiesml::{is_hdf5, SYNTHETIC_MARKER};
use pzbench_io::sample::InputInfo;
use pzbench_io::table::{column_names, ReadOptions};
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
    /// Whether the data is marked as generated ([`SYNTHETIC_MARKER`]): `--synthetic`, a label or
    /// file name containing "synthetic", an HDF5 truth file with a root attribute `synthetic`, or
    /// a table with a column `synthetic` (both written by `pzbench synth`).
    pub synthetic: bool,
    /// Whether z_spec came from a GalaxiesML HDF5 file (`--truth`) that is not marked synthetic:
    /// the only files pzbench takes to be the GalaxiesML release. Absent in boards written before
    /// pzbench recorded it (read as `false`).
    #[serde(default)]
    pub release: bool,
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
        let says_synthetic = |s: &str| s.to_ascii_lowercase().contains(SYNTHETIC_MARKER);
        let galaxiesml_hdf5 = input.truth.is_some() && is_hdf5(path);
        let synthetic = synthetic
            || says_synthetic(&id)
            || says_synthetic(&source)
            || if galaxiesml_hdf5 { hdf5_marked_synthetic(path) } else { table_marked_synthetic(path) };
        Dataset {
            id,
            synthetic,
            release: galaxiesml_hdf5 && !synthetic,
            source,
            sha256: file.sha256.clone(),
            zspec_sha256: zspec_fingerprint(z_spec),
        }
    }

    /// What the data is, for captions: `Some("synthetic data, not the GalaxiesML release")`,
    /// `Some("the GalaxiesML release")` for a release file ([`Dataset::release`]), and `None` for
    /// anything else, which captions then name by its label alone.
    pub fn kind(&self) -> Option<&'static str> {
        if self.synthetic {
            Some("synthetic data, not the GalaxiesML release")
        } else if self.release {
            Some("the GalaxiesML release")
        } else {
            None
        }
    }

    /// `'label'`, followed by ` (kind)` when [`Dataset::kind`] knows it: how captions name the data.
    pub fn named(&self) -> String {
        match self.kind() {
            Some(kind) => format!("'{}' ({kind})", self.id),
            None => format!("'{}'", self.id),
        }
    }
}

/// Whether an HDF5 file has a root attribute [`SYNTHETIC_MARKER`] (any case). Anything that is not
/// a readable HDF5 file is `false`.
fn hdf5_marked_synthetic(path: &Path) -> bool {
    hdf5::File::open(path)
        .and_then(|f| f.attr_names())
        .is_ok_and(|names| names.iter().any(|n| n.eq_ignore_ascii_case(SYNTHETIC_MARKER)))
}

/// Whether a table (CSV/TSV/text/Parquet) has a column [`SYNTHETIC_MARKER`] (any case). A file
/// whose header cannot be read is `false`.
fn table_marked_synthetic(path: &Path) -> bool {
    column_names(path, &ReadOptions::default())
        .is_ok_and(|names| names.iter().any(|n| n.eq_ignore_ascii_case(SYNTHETIC_MARKER)))
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

/// `value ± half-width`: the half-width is half the percentile interval's width (the interval
/// itself, possibly asymmetric, is in the JSON and CSV output).
fn half_width(interval: Interval) -> f64 {
    (interval.hi - interval.lo) / 2.0
}

/// A cell as printed: the value and, when bootstrapped, the half-width of its interval.
#[derive(Debug, Clone, PartialEq)]
struct CellText {
    value: String,
    plus_minus: Option<String>,
    /// Whether `value` is a number (typeset in math mode in LaTeX) rather than a mark.
    number: bool,
}

impl CellText {
    fn mark(text: &str) -> Self {
        CellText { value: text.to_string(), plus_minus: None, number: false }
    }

    fn number(value: String, plus_minus: Option<String>) -> Self {
        CellText { value, plus_minus, number: true }
    }

    /// A measured value: [`significant_fixed`] to [`DIGITS`], or with an interval
    /// [`plus_minus`] (value and ± to the same decimal place); `-` for an empty set.
    fn measured(cell: &Cell) -> Self {
        match (cell.value, cell.interval) {
            (None, _) => Self::mark("-"),
            (Some(value), Some(interval)) => {
                let (value, half) = plus_minus(value, half_width(interval), DIGITS);
                Self::number(value, Some(half))
            }
            (Some(value), None) => Self::number(significant_fixed(value, DIGITS), None),
        }
    }

    /// For terminal and Markdown: `value` or `value ± half-width`.
    fn plain(&self) -> String {
        match &self.plus_minus {
            Some(half) => format!("{} ± {half}", self.value),
            None => self.value.clone(),
        }
    }

    /// For LaTeX: numbers in math mode (a real minus sign, `\pm`), marks escaped (`-` as an en
    /// dash).
    fn latex(&self) -> String {
        match (&self.plus_minus, self.number) {
            (Some(half), _) => format!(r"${} \pm {half}$", self.value),
            (None, true) => format!("${}$", self.value),
            (None, false) if self.value == "-" => "--".to_string(),
            (None, false) => latex_escape(&self.value),
        }
    }
}

/// Text for a LaTeX comment line: control characters (line ends) become spaces.
fn comment_text(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

impl Table2 {
    /// The caption: what the rows are, on which data (with the SHA-256 of the file z_spec came
    /// from and the z_spec fingerprint), and what ± means.
    pub fn caption(&self) -> String {
        self.caption_text(true)
    }

    /// The caption, with or without the hashes (LaTeX keeps them in comments instead).
    fn caption_text(&self, hashes: bool) -> String {
        let d = &self.dataset;
        let measured = self.rows.iter().filter(|r| matches!(r.source, RowSource::Measured { .. })).count();
        let provenance = if hashes {
            format!(" (sha256 {}; z_spec fingerprint {})", d.sha256, d.zspec_sha256)
        } else {
            String::new()
        };
        let mut caption = format!(
            "Point metrics as in the GalaxiesML paper's Table 2 (definitions in METRICS.md) of {measured} model{} on dataset {}: z_spec from {}{provenance}.",
            if measured == 1 { "" } else { "s" },
            d.named(),
            d.source,
        );
        if let Some(b) = &self.bootstrap {
            caption.push_str(&format!(
                " ± is half the width of the {}% interval of a {} ({} resamples, seed {}); each value is rounded to the decimal place of its ±.",
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

    /// A cell as printed: published cells as printed, counts as integers, other values as
    /// [`CellText::measured`].
    fn cell_text(metric: Metric, cell: &Cell) -> CellText {
        match (&cell.printed, metric, cell.value) {
            (Some(printed), ..) => CellText::number(printed.clone(), None),
            (None, Metric::Count, value) => CellText::number(format!("{:.0}", value.unwrap_or(0.0)), None),
            (None, ..) => CellText::measured(cell),
        }
    }

    /// Whether any row has PDF metrics (then the table has the PDF columns).
    pub fn has_pdf(&self) -> bool {
        self.rows.iter().any(|r| r.pdf.is_some())
    }

    /// A row's cells: the [`TABLE2_COLUMNS`], then the PDF columns when the table has them
    /// (`—` for a row without PDFs, `-` for a value its PDFs do not define).
    fn row_cells(&self, row: &Table2Row) -> Vec<CellText> {
        let mut cells: Vec<CellText> =
            TABLE2_COLUMNS.iter().zip(&row.cells).map(|(&(metric, _), cell)| Self::cell_text(metric, cell)).collect();
        if self.has_pdf() {
            match row.pdf_cells() {
                Some(pdf) => cells.extend(pdf.iter().map(CellText::measured)),
                None => cells.extend(std::iter::repeat_n(CellText::mark(NOT_PDF), TABLE2_PDF_COLUMNS.len())),
            }
        }
        cells
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
            .map(|row| std::iter::once(row.label()).chain(self.row_cells(row).iter().map(CellText::plain)).collect())
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

    /// The provenance LaTeX keeps out of its caption, as comment lines: the dataset's file, its
    /// SHA-256 and z_spec fingerprint, and each measured row's predictions file and SHA-256.
    fn latex_provenance(&self) -> String {
        let d = &self.dataset;
        let mut out = format!(
            "% Provenance:\n%   dataset '{}': z_spec from {}, sha256 {}, z_spec fingerprint {}\n",
            comment_text(&d.id),
            comment_text(&d.source),
            d.sha256,
            d.zspec_sha256
        );
        for row in &self.rows {
            if let RowSource::Measured { predictions, sha256 } = &row.source {
                out.push_str(&format!(
                    "%   {}: {}, sha256 {sha256}\n",
                    comment_text(&row.model),
                    comment_text(predictions)
                ));
            }
        }
        out
    }

    /// LaTeX: a `table` float with a booktabs `tabular` (`\toprule`, `\midrule` between measured
    /// and published rows, `\bottomrule`); needs `\usepackage{booktabs}`. Numbers are in math mode
    /// (real minus signs); the caption names the data without hashes, which are in comments above.
    pub fn to_latex(&self) -> String {
        let mut out = String::from("% pzbench table2: needs \\usepackage{booktabs}\n");
        out.push_str(&self.latex_provenance());
        out.push_str("\\begin{table}\n  \\centering\n");
        out.push_str(&format!("  \\caption{{{}}}\n", latex_escape(&self.caption_text(false))));
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
                .chain(self.row_cells(row).iter().map(CellText::latex))
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
        let cell = |value: f64, interval: Option<Interval>| Cell { value: Some(value), interval, printed: None };
        let negative = CellText::measured(&cell(-0.000177427, Some(Interval { lo: -0.00054, hi: 0.00018 })));
        assert_eq!(negative.plain(), "-0.00018 ± 0.00036");
        assert_eq!(negative.latex(), r"$-0.00018 \pm 0.00036$");
        assert_eq!(CellText::measured(&cell(0.036, None)).latex(), "$0.0360$");
        assert_eq!(CellText::measured(&Cell { value: None, interval: None, printed: None }).latex(), "--");
        assert_eq!(CellText::mark(NOT_PDF).latex(), "---");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("CNN"), "CNN");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
