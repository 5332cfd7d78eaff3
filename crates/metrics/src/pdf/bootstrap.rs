//! Percentile bootstrap of the PDF metrics over galaxies, with the conventions of the point
//! metrics' bootstrap (`crate::bootstrap`): replicate r draws n galaxies with replacement from a
//! ChaCha8 stream seeded by (seed, r), so results are bit-for-bit identical on any number of
//! threads; each replicate is binned again with every galaxy's own bin. Replicates recompute the
//! set statistics from the per-galaxy values only; the n(z) KS distance, which needs the PDFs
//! (O(n) CDF evaluations per truth), is left out of them.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::evaluate::{galaxy_bins, rows_per_bin, PdfOptions};
use super::nz::tomographic_bins;
use super::report::SetReport;
use super::values::PdfValues;
use crate::{percentile_interval, Bins, BootstrapConfig, Error, Interval, Result};

/// One replicate's reports (without n(z) KS distances), overall and per bin.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfReplicate {
    pub overall: Option<SetReport>,
    pub per_bin: Vec<Option<SetReport>>,
}

/// Intervals keyed by the values' JSON paths ([`SetReport::scalars`]); serialises as a map from
/// the key to `[lo, hi]`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedIntervals(pub Vec<(String, Interval)>);

impl KeyedIntervals {
    /// The interval of `key`, if any.
    pub fn get(&self, key: &str) -> Option<Interval> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, i)| *i)
    }
}

impl Serialize for KeyedIntervals {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, interval) in &self.0 {
            map.serialize_entry(key, interval)?;
        }
        map.end()
    }
}

/// Bootstrap intervals of the PDF metrics overall and per bin (the `intervals` of the `pdf`
/// block).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PdfIntervals {
    pub method: &'static str,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    /// `None` only for an empty input.
    pub overall: Option<KeyedIntervals>,
    /// `None` for a bin that was empty in every replicate.
    pub per_bin: Vec<Option<KeyedIntervals>>,
}

/// Evaluate several samples of values of the **same galaxies in the same order** (e.g. a
/// baseline's and a candidate's PDFs) on the same resamples: replicate r holds one
/// [`PdfReplicate`] per sample, all drawn from identical galaxy indices and binned as the first
/// sample bins them (a paired bootstrap).
pub fn paired_pdf_replicates(
    samples: &[&PdfValues],
    bins: &Bins,
    options: &PdfOptions,
    config: &BootstrapConfig,
) -> Result<Vec<Vec<PdfReplicate>>> {
    let Some(first) = samples.first() else {
        return Ok(Vec::new());
    };
    let n = first.len();
    if let Some(other) = samples.iter().find(|s| s.len() != n) {
        return Err(Error::PdfSizeMismatch(format!(
            "paired samples hold {n} and {} galaxies; pair values of the same galaxies",
            other.len()
        )));
    }
    let nz_edges = tomographic_bins(&options.nz_edges)?;
    let bin_of = galaxy_bins(first, bins, options.point)?;
    Ok((0..config.resamples)
        .into_par_iter()
        .map(|r| {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(r as u64);
            let draws: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let per_bin_rows = rows_per_bin(&bin_of, bins.len(), &draws);
            samples
                .iter()
                .map(|values| PdfReplicate {
                    overall: SetReport::of(values, &draws, &nz_edges),
                    per_bin: per_bin_rows.iter().map(|rows| SetReport::of(values, rows, &nz_edges)).collect(),
                })
                .collect()
        })
        .collect())
}

/// Percentile bootstrap intervals of every PDF metric, overall and per bin.
pub fn bootstrap_pdfs(
    values: &PdfValues,
    bins: &Bins,
    options: &PdfOptions,
    config: &BootstrapConfig,
) -> Result<PdfIntervals> {
    let replicates: Vec<PdfReplicate> =
        paired_pdf_replicates(&[values], bins, options, config)?.into_iter().filter_map(|mut r| r.pop()).collect();
    let interval_of = |pick: &dyn Fn(&PdfReplicate) -> Option<&SetReport>| {
        keyed_intervals(replicates.iter().filter_map(pick), config.confidence)
    };
    Ok(PdfIntervals {
        method: "percentile bootstrap over galaxies",
        confidence: config.confidence,
        resamples: config.resamples,
        seed: config.seed,
        overall: interval_of(&|r| r.overall.as_ref()),
        per_bin: (0..bins.len()).map(|b| interval_of(&|r| r.per_bin[b].as_ref())).collect(),
    })
}

/// The interval of every scalar of `reports` (keys in report order, nulls left out); `None`
/// when there is no report.
fn keyed_intervals<'a>(reports: impl Iterator<Item = &'a SetReport>, confidence: f64) -> Option<KeyedIntervals> {
    let mut columns: Vec<(String, Vec<f64>)> = Vec::new();
    for report in reports {
        let scalars = report.scalars();
        if columns.is_empty() {
            columns = scalars.iter().map(|(k, _)| (k.clone(), Vec::new())).collect();
        }
        for ((_, column), (_, value)) in columns.iter_mut().zip(scalars) {
            column.extend(value);
        }
    }
    (!columns.is_empty()).then(|| {
        KeyedIntervals(
            columns
                .into_iter()
                .filter_map(|(key, mut values)| Some((key, percentile_interval(&mut values, confidence)?)))
                .collect(),
        )
    })
}
