//! PDF metrics of the whole set and of every redshift bin, with the same [`Bins`] as the point
//! metrics: per-galaxy values computed once ([`PdfValues`]), then each set's statistics from
//! its galaxies' rows.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::nz::{tomographic_bins, DEFAULT_NZ_EDGES};
use super::report::SetReport;
use super::representation::Pdfs;
use super::values::PdfValues;
use crate::{BinOn, Bins, Error, Result};

/// Which point estimate of each PDF stands for z_phot where bins are on z_phot (§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PointEstimate {
    #[default]
    Mode,
    Mean,
    Median,
}

/// How to evaluate PDFs beyond the redshift bins.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfOptions {
    /// Tomographic bin edges of the n(z) (§2.5), right-closed.
    pub nz_edges: Vec<f64>,
    /// The estimate binned as z_phot when `Bins::on` is z_phot. The rail dialect has only its
    /// grid mode (`linspace(0, 3, 301)`).
    pub point: PointEstimate,
}

impl Default for PdfOptions {
    /// The spec's tomographic edges 0, 0.3, 0.6, 0.9, 1.2, 1.5, 2, 3, and the mode.
    fn default() -> Self {
        PdfOptions { nz_edges: DEFAULT_NZ_EDGES.to_vec(), point: PointEstimate::Mode }
    }
}

/// PDF metrics of the whole set and of every redshift bin (`None` where a bin is empty).
#[derive(Debug, Clone, PartialEq)]
pub struct PdfEvaluation {
    /// All galaxies, including those outside every bin.
    pub overall: Option<SetReport>,
    /// One entry per bin.
    pub per_bin: Vec<Option<SetReport>>,
}

/// Evaluate `values` (computed from `pdfs`) overall and per bin of `bins`, the sets in
/// parallel.
pub fn evaluate_pdfs(pdfs: &Pdfs, values: &PdfValues, bins: &Bins, options: &PdfOptions) -> Result<PdfEvaluation> {
    if pdfs.len() != values.len() || pdfs.representation() != values.representation() {
        return Err(Error::PdfSizeMismatch(format!(
            "values of {} {:?} PDFs given with {} {:?} PDFs; compute the values from the same PDFs",
            values.len(),
            values.representation(),
            pdfs.len(),
            pdfs.representation()
        )));
    }
    evaluate(values, bins, options, Some(pdfs))
}

/// [`evaluate_pdfs`] from the per-galaxy values alone (e.g. a saved baseline's): every metric but
/// the n(z) KS distances, which need the PDFs (`None`, as in bootstrap replicates).
pub fn evaluate_pdf_values(values: &PdfValues, bins: &Bins, options: &PdfOptions) -> Result<PdfEvaluation> {
    evaluate(values, bins, options, None)
}

fn evaluate(values: &PdfValues, bins: &Bins, options: &PdfOptions, pdfs: Option<&Pdfs>) -> Result<PdfEvaluation> {
    let nz_edges = tomographic_bins(&options.nz_edges)?;
    let bin_of = galaxy_bins(values, bins, options.point)?;
    let all: Vec<usize> = (0..values.len()).collect();
    let per_bin_rows = rows_per_bin(&bin_of, bins.len(), &all);
    let report = |rows: &[usize]| SetReport::of(values, rows, &nz_edges, pdfs);
    let (overall, per_bin) =
        rayon::join(|| report(&all), || per_bin_rows.par_iter().map(|rows| report(rows)).collect());
    Ok(PdfEvaluation { overall, per_bin })
}

/// The redshift bin of every galaxy of `values` (`None` outside every bin), on z_spec or on the
/// chosen point estimate.
pub(crate) fn galaxy_bins(values: &PdfValues, bins: &Bins, point: PointEstimate) -> Result<Vec<Option<usize>>> {
    let binned = match bins.on {
        BinOn::ZSpec => (0..values.len()).map(|i| values.z_spec(i)).collect(),
        BinOn::ZPhot => values.point_estimates(point)?,
    };
    Ok(binned.into_iter().map(|z| bins.locate(z)).collect())
}

/// The rows of each bin, in the order of `rows` (which may repeat galaxies).
pub(crate) fn rows_per_bin(bin_of: &[Option<usize>], n_bins: usize, rows: &[usize]) -> Vec<Vec<usize>> {
    let mut per_bin = vec![Vec::new(); n_bins];
    for &i in rows {
        if let Some(b) = bin_of[i] {
            per_bin[b].push(i);
        }
    }
    per_bin
}
