//! Scoring probabilistic photo-z (`docs/PDF_METRICS.md`): a PDF file's per-galaxy values, the
//! point metrics of the chosen point estimate (the report's `overall` and `per_bin`, exactly as
//! for a point-predictions file), and the `pdf` block: PIT statistics, CRPS, CDE loss, the three
//! point estimates and the n(z) per tomographic bin, overall, per redshift bin and with bootstrap
//! intervals.

use std::path::Path;

use serde::Serialize;

use super::score::{score_sample, ScoreReport};
use pzbench_io::pdf::{read_pdf_file, PdfFile, PdfReadOptions};
use pzbench_io::sample::Sample;
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::{
    bootstrap_pdfs, evaluate_pdfs, Dialect, PdfIntervals, PdfOptions, PdfSource, PdfValues, PointEstimate,
    Representation, SetReport,
};
use pzbench_metrics::{Bins, BootstrapConfig};

/// How to score a PDF file beyond reading it.
#[derive(Debug, Clone, Default)]
pub struct PdfScoreOptions {
    /// `--grid`, `--truth`, `--align rows`, columns, delimiter.
    pub read: PdfReadOptions,
    /// `--dialect`: exact values (default) or qp/RAIL's.
    pub dialect: Dialect,
    /// `--nz-edges` [default: the spec's 0, 0.3, 0.6, 0.9, 1.2, 1.5, 2, 3].
    pub nz_edges: Option<Vec<f64>>,
    /// `--point` [default: the mode; the median for samples, which have no mode].
    pub point: Option<PointEstimate>,
}

impl PdfScoreOptions {
    /// The point estimate used for PDFs of `representation`.
    pub fn point_for(&self, representation: Representation) -> PointEstimate {
        self.point.unwrap_or(match representation {
            Representation::Samples => PointEstimate::Median,
            _ => PointEstimate::Mode,
        })
    }

    /// The metrics crate's options for PDFs of `representation`.
    pub fn metric_options(&self, representation: Representation) -> PdfOptions {
        let defaults = PdfOptions::default();
        PdfOptions {
            nz_edges: self.nz_edges.clone().unwrap_or(defaults.nz_edges),
            point: self.point_for(representation),
        }
    }
}

/// The `pdf` block of a score report.
#[derive(Debug, Clone, Serialize)]
pub struct PdfBlock {
    /// `pzbench` (exact) or `rail` (qp/RAIL's algorithms).
    pub dialect: Dialect,
    pub representation: Representation,
    /// The estimate whose point metrics are the report's `overall` and `per_bin`.
    pub point_estimate: PointEstimate,
    /// The whole set: exactly the reference files' `pzbench` block (or the rail values).
    #[serde(flatten)]
    pub overall: Option<SetReport>,
    /// The same per redshift bin of the report's `bins`.
    pub per_bin: Vec<PdfBin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intervals: Option<PdfIntervals>,
}

/// One redshift bin's PDF metrics (`lo`, `hi`, then the block's keys; only `lo` and `hi` for an
/// empty bin).
#[derive(Debug, Clone, Serialize)]
pub struct PdfBin {
    pub lo: f64,
    pub hi: f64,
    #[serde(flatten)]
    pub report: Option<SetReport>,
}

/// A scored PDF file: the report, and what the per-galaxy output needs.
#[derive(Debug, Clone)]
pub struct PdfScore {
    /// The point metrics of the chosen estimate, with the `pdf` block.
    pub report: ScoreReport,
    pub values: PdfValues,
    pub ids: Option<Vec<i64>>,
}

/// Read a PDF file and evaluate every galaxy at its truth in `dialect` (`PdfValues::compute`).
pub fn load_pdf_values(path: &Path, read: &PdfReadOptions, dialect: Dialect) -> Result<(PdfFile, PdfValues)> {
    let file = read_pdf_file(path, read)?;
    let values = PdfValues::compute(&file.pdfs, &file.z_spec, dialect).map_err(|e| in_file(path, e))?;
    Ok((file, values))
}

/// Score the PDF file at `path`: `pzbench score` for PDFs. The report's `overall` and `per_bin`
/// hold the 13 point metrics of the chosen point estimate (with intervals when bootstrapping, on
/// the same resamples' seed as the PDF metrics), its `pdf` block everything else.
pub fn score_pdf_file(
    path: &Path,
    options: &PdfScoreOptions,
    bins: &Bins,
    bootstrap_config: Option<BootstrapConfig>,
) -> Result<PdfScore> {
    let (file, values) = load_pdf_values(path, &options.read, options.dialect)?;
    score_pdf_values(file, values, options, bins, bootstrap_config).map_err(|e| in_file(path, e))
}

/// Score PDFs already in memory with their truths (the Python API's arrays and qp ensembles), as
/// [`score_pdf_file`] scores a file once read: the values of every galaxy in `options.dialect`,
/// then the report (`options.read` is not used).
pub fn score_pdfs(
    file: PdfFile,
    options: &PdfScoreOptions,
    bins: &Bins,
    bootstrap_config: Option<BootstrapConfig>,
) -> Result<PdfScore> {
    let values = PdfValues::compute(&file.pdfs, &file.z_spec, options.dialect)?;
    score_pdf_values(file, values, options, bins, bootstrap_config)
}

/// The report of PDFs whose per-galaxy `values` are computed: the point metrics of the chosen
/// estimate, and the `pdf` block.
fn score_pdf_values(
    file: PdfFile,
    values: PdfValues,
    options: &PdfScoreOptions,
    bins: &Bins,
    bootstrap_config: Option<BootstrapConfig>,
) -> Result<PdfScore> {
    let PdfFile { pdfs, ids, z_spec, input, .. } = file;
    let representation = pdfs.representation();
    let metric_options = options.metric_options(representation);
    let z_phot = values.point_estimates(metric_options.point)?;
    let sample = Sample { ids: None, z_spec, z_phot, input };
    let mut report = score_sample(sample, bins.clone(), bootstrap_config);
    let evaluation = evaluate_pdfs(&pdfs, &values, bins, &metric_options)?;
    let intervals =
        bootstrap_config.map(|config| bootstrap_pdfs(&values, bins, &metric_options, &config)).transpose()?;
    let per_bin = evaluation
        .per_bin
        .into_iter()
        .enumerate()
        .map(|(b, report)| {
            let (lo, hi) = bins.interval(b);
            PdfBin { lo, hi, report }
        })
        .collect();
    report.pdf = Some(PdfBlock {
        dialect: options.dialect,
        representation,
        point_estimate: metric_options.point,
        overall: evaluation.overall,
        per_bin,
        intervals,
    });
    Ok(PdfScore { report, values, ids })
}

/// An error about the PDFs of `path`, as one line naming the file: the metrics' own errors
/// (converted to usage errors) are given the file's name; the reader's name it already.
fn in_file(path: &Path, error: impl Into<Error>) -> Error {
    match error.into() {
        Error::Usage(message) => Error::file(path, message),
        other => other,
    }
}

/// Per-galaxy values as named columns, one value a galaxy (`None` where a representation has no
/// value), in the dialect's columns — pzbench: `z_spec, pit, crps, pdf_at_truth, int_f2, z_mode,
/// z_mean, z_median` (the reference files' `per_galaxy.csv` columns); rail: `z_spec, pit, z_mode`
/// (on `linspace(0, 3, 301)`), `pdf_at_node, brier`. What `--pit-out` writes and
/// `pzbench.pdf_values` returns.
pub fn per_galaxy_columns(values: &PdfValues) -> Vec<(&'static str, Vec<Option<f64>>)> {
    fn column<G>(galaxies: &[G], value: impl Fn(&G) -> Option<f64>) -> Vec<Option<f64>> {
        galaxies.iter().map(value).collect()
    }
    match values {
        PdfValues::Pzbench { galaxies, .. } => vec![
            ("z_spec", column(galaxies, |g| Some(g.z_spec))),
            ("pit", column(galaxies, |g| Some(g.pit))),
            ("crps", column(galaxies, |g| Some(g.crps))),
            ("pdf_at_truth", column(galaxies, |g| g.pdf_at_truth())),
            ("int_f2", column(galaxies, |g| g.int_f2())),
            ("z_mode", column(galaxies, |g| g.z_mode())),
            ("z_mean", column(galaxies, |g| Some(g.z_mean))),
            ("z_median", column(galaxies, |g| Some(g.z_median))),
        ],
        PdfValues::Rail { galaxies, .. } => {
            let on = pzbench_metrics::pdf::RailGrid::Estimators.index();
            vec![
                ("z_spec", column(galaxies, |g| Some(g.z_spec))),
                ("pit", column(galaxies, |g| Some(g.pit))),
                ("z_mode", column(galaxies, |g| Some(g.mode[on]))),
                ("pdf_at_node", column(galaxies, |g| Some(g.pdf_at_node[on]))),
                ("brier", column(galaxies, |g| Some(g.brier))),
            ]
        }
    }
}

/// Per-galaxy values as CSV (`--pit-out`): `object_id` (when the file has ids), then the columns
/// of [`per_galaxy_columns`] (empty where a representation has no value). Full precision.
pub fn per_galaxy_csv(ids: Option<&[i64]>, values: &PdfValues) -> String {
    let columns = per_galaxy_columns(values);
    let mut out = String::new();
    if ids.is_some() {
        out.push_str("object_id,");
    }
    out.push_str(&columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(","));
    out.push('\n');
    for i in 0..values.len() {
        if let Some(id) = ids.and_then(|ids| ids.get(i)) {
            out.push_str(&format!("{id},"));
        }
        let row: Vec<String> = columns
            .iter()
            .map(|(_, values)| values.get(i).copied().flatten().map_or(String::new(), |v| v.to_string()))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
