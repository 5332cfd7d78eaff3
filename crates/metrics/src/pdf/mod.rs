//! Probabilistic photo-z metrics: PIT and its statistics, CRPS, CDE loss, point estimates and the
//! stacked n(z) per tomographic bin, exactly as `docs/PDF_METRICS.md` defines them (the pzbench
//! dialect), or as qp 1.1.4 / RAIL 2.0.11 compute them (the rail dialect, §3).
//!
//! The pipeline: [`Pdfs`] validates the PDFs of n galaxies in one of the four representations
//! (§1.1); [`PdfValues::compute`] evaluates every galaxy once, in parallel (PIT, CRPS, f(z_true),
//! ∫f², mode, mean, median, variance, or the rail dialect's counterparts); [`evaluate_pdfs`]
//! computes the set statistics of the whole set and of every redshift bin from those values
//! ([`PdfReport`] serialises as the reference files' `pzbench` block, [`RailReport`] as the rail
//! values); [`bootstrap_pdfs`] repeats them on resampled galaxies as the point metrics'
//! bootstrap does.

mod bootstrap;
mod bspline;
mod cde;
mod crps;
mod dialect;
mod evaluate;
mod grid;
mod headline;
mod histogram;
mod mixture;
mod normal;
mod nz;
mod nz_ks;
mod pit;
mod rail;
mod report;
mod representation;
mod samples;
mod source;
mod values;

pub use bootstrap::{bootstrap_pdfs, paired_pdf_replicates, KeyedIntervals, PdfIntervals, PdfReplicate};
pub use cde::CdeTerms;
pub use dialect::{Dialect, RailGalaxy, RailGrid};
pub use evaluate::{evaluate_pdf_values, evaluate_pdfs, PdfEvaluation, PdfOptions, PointEstimate};
pub use grid::Grid;
pub use headline::PdfMetric;
pub use histogram::Histogram;
pub use mixture::{Component, Mixture};
pub use normal::{normal_cdf, normal_pdf};
pub use nz::{Nz, NzBin, DEFAULT_NZ_EDGES};
pub use pit::{PitStats, AD_CLIP, COVERAGE_68, COVERAGE_95, PIT_OUTLIER_TAIL};
pub use rail::{rail_pit_stats, RailGridReport, RailPitStats, RailPointStats, RailReport};
pub use report::{PdfReport, PointReport, SetReport};
pub use representation::{Origin, Pdf, Pdfs, Representation};
pub use samples::Samples;
pub use source::{BlockVisit, PdfSource};
pub use values::{GalaxyValues, PdfValues};
