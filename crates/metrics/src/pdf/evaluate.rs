//! PDF metrics of the whole set and of every redshift bin, with the same [`Bins`] as the point
//! metrics: per-galaxy values computed once ([`PdfValues`]), then each set's statistics from
//! its galaxies' rows.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::nz::{tomographic_bins, Nz, DEFAULT_NZ_EDGES, MAX_GALAXIES};
use super::nz_ks::fill_nz_ks;
use super::report::SetReport;
use super::source::PdfSource;
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

/// Evaluate `values` (computed from the PDFs of `source`) overall and per bin of `bins`, the
/// sets in parallel; the n(z) KS distances read the PDFs again, in passes over their blocks.
pub fn evaluate_pdfs<S: PdfSource>(
    source: &S,
    values: &PdfValues,
    bins: &Bins,
    options: &PdfOptions,
) -> std::result::Result<PdfEvaluation, S::Error> {
    if source.len() != values.len() || source.representation() != values.representation() {
        return Err(Error::PdfSizeMismatch(format!(
            "values of {} {:?} PDFs given with {} {:?} PDFs; compute the values from the same PDFs",
            values.len(),
            values.representation(),
            source.len(),
            source.representation()
        ))
        .into());
    }
    let (mut evaluation, sets) = evaluate(values, bins, options)?;
    let (PdfValues::Pzbench { galaxies, .. }, Some(SetReport::Pzbench(_))) = (values, &evaluation.overall) else {
        // The rail dialect has no n(z).
        return Ok(evaluation);
    };
    let nz_edges = tomographic_bins(&options.nz_edges)?;
    let reports = std::iter::once(&mut evaluation.overall).chain(evaluation.per_bin.iter_mut());
    let mut with_nz: Vec<(&[usize], &mut Nz)> = sets
        .iter()
        .zip(reports)
        .filter_map(|(rows, report)| match report {
            Some(SetReport::Pzbench(report)) => Some((rows.as_slice(), &mut report.nz)),
            _ => None,
        })
        .collect();
    fill_nz_ks(source, galaxies, &nz_edges, &mut with_nz)?;
    Ok(evaluation)
}

/// [`evaluate_pdfs`] from the per-galaxy values alone (e.g. a saved baseline's): every metric but
/// the n(z) KS distances, which need the PDFs (`None`, as in bootstrap replicates).
pub fn evaluate_pdf_values(values: &PdfValues, bins: &Bins, options: &PdfOptions) -> Result<PdfEvaluation> {
    Ok(evaluate(values, bins, options)?.0)
}

/// The evaluation without KS distances, and the rows of each set (all, then each bin's).
fn evaluate(values: &PdfValues, bins: &Bins, options: &PdfOptions) -> Result<(PdfEvaluation, Vec<Vec<usize>>)> {
    if values.len() > MAX_GALAXIES {
        return Err(Error::PdfUnsupported(format!(
            "{} PDFs in one evaluation: at most {MAX_GALAXIES} are evaluated together; split the file",
            values.len()
        )));
    }
    let nz_edges = tomographic_bins(&options.nz_edges)?;
    let all: Vec<usize> = (0..values.len()).collect();
    let per_bin_rows = rows_per_bin(&galaxy_bins(values, bins, options.point)?, bins.len(), &all);
    let report = |rows: &[usize]| SetReport::of(values, rows, &nz_edges);
    let (overall, per_bin) =
        rayon::join(|| report(&all), || per_bin_rows.par_iter().map(|rows| report(rows)).collect());
    let sets = std::iter::once(all).chain(per_bin_rows).collect();
    Ok((PdfEvaluation { overall, per_bin }, sets))
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

/// The rows of each bin, in the order of `rows` (which may repeat galaxies), each list allocated
/// to its size (counted first).
pub(crate) fn rows_per_bin(bin_of: &[Option<usize>], n_bins: usize, rows: &[usize]) -> Vec<Vec<usize>> {
    let mut counts = vec![0usize; n_bins];
    rows.iter().filter_map(|&i| bin_of[i]).for_each(|b| counts[b] += 1);
    let mut per_bin: Vec<Vec<usize>> = counts.into_iter().map(Vec::with_capacity).collect();
    for &i in rows {
        if let Some(b) = bin_of[i] {
            per_bin[b].push(i);
        }
    }
    per_bin
}
