//! Per-galaxy quantities, computed once per galaxy in parallel; every set-level statistic
//! (overall, per redshift bin, per bootstrap replicate) is then computed from these values of any
//! subset of galaxies.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dialect::{rail_galaxy, BrierGrid, Dialect, RailGalaxy, RailGrid, RailGrids};
use super::evaluate::PointEstimate;
use super::representation::{Pdfs, Representation};
use super::source::PdfSource;
use crate::{Error, Result};

/// One galaxy's quantities in the pzbench dialect (`docs/PDF_METRICS.md` §2); the names are the
/// columns of the reference files' `per_galaxy.csv`. 72 bytes: the three values that samples do
/// not define are stored as NaN there (read them as `Option`s with their methods; JSON: null).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GalaxyValues {
    /// The true redshift.
    pub z_spec: f64,
    /// F(z_spec) (§2.1).
    pub pit: f64,
    /// ∫ (F − 1{z ≥ z_spec})² (§2.3).
    pub crps: f64,
    #[serde(with = "undefined_is_null")]
    pdf_at_truth: f64,
    #[serde(with = "undefined_is_null")]
    int_f2: f64,
    #[serde(with = "undefined_is_null")]
    z_mode: f64,
    /// The mean (§2.4).
    pub z_mean: f64,
    /// The median (§2.4).
    pub z_median: f64,
    /// The PDF's variance, its term of the stacked n(z) width (§2.5).
    pub variance: f64,
}

impl GalaxyValues {
    /// f(z_spec) (§2.2); `None` for samples.
    pub fn pdf_at_truth(&self) -> Option<f64> {
        defined(self.pdf_at_truth)
    }

    /// ∫ f² (§2.2); `None` for samples.
    pub fn int_f2(&self) -> Option<f64> {
        defined(self.int_f2)
    }

    /// The mode (§2.4); `None` for samples.
    pub fn z_mode(&self) -> Option<f64> {
        defined(self.z_mode)
    }
}

/// A stored value that may be undefined (NaN: samples have no density).
fn defined(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

/// Serde for the values samples do not define: NaN ⇄ null, the JSON of an `Option<f64>`.
mod undefined_is_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        super::defined(*value).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

/// The per-galaxy quantities of a set of PDFs in one dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum PdfValues {
    /// Exact values (§2).
    Pzbench { representation: Representation, galaxies: Vec<GalaxyValues> },
    /// qp/RAIL's values (§3).
    Rail { representation: Representation, galaxies: Vec<RailGalaxy> },
}

impl PdfValues {
    /// Evaluate every galaxy's PDF at its truth `z_spec[i]`, block by block of `source`, each
    /// block in parallel. The rail dialect needs a qp representation (not samples); its Brier
    /// grid spans the truths of the whole set.
    pub fn compute<S: PdfSource>(source: &S, z_spec: &[f64], dialect: Dialect) -> std::result::Result<Self, S::Error> {
        if z_spec.len() != source.len() {
            return Err(Error::PdfSizeMismatch(format!(
                "{} PDFs but {} true redshifts; give one z_spec per PDF row",
                source.len(),
                z_spec.len()
            ))
            .into());
        }
        if let Some(row) = z_spec.iter().position(|z| !z.is_finite()) {
            return Err(Error::NonFinitePdfValue { row, column: "z_spec".into(), value: z_spec[row] }.into());
        }
        let representation = source.representation();
        match dialect {
            Dialect::Pzbench => {
                let mut galaxies = Vec::with_capacity(z_spec.len());
                source.for_each_block(&mut |first, pdfs| {
                    let truths = &z_spec[first..first + pdfs.len()];
                    galaxies.par_extend(truths.par_iter().enumerate().map(|(i, &z)| galaxy_values(pdfs, i, z)));
                    Ok(())
                })?;
                Ok(PdfValues::Pzbench { representation, galaxies })
            }
            Dialect::Rail => {
                if representation == Representation::Samples {
                    return Err(Error::PdfUnsupported(
                        "the rail dialect needs a qp representation; qp 1.1.4 has none for samples, score them with --dialect pzbench".into(),
                    )
                    .into());
                }
                let (lo, hi) =
                    z_spec.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &z| (lo.min(z), hi.max(z)));
                let grids = RailGrids::new(BrierGrid::new(lo, hi));
                let mut galaxies = Vec::with_capacity(z_spec.len());
                source.for_each_block(&mut |first, pdfs| {
                    let truths = &z_spec[first..first + pdfs.len()];
                    galaxies.par_extend(
                        truths.par_iter().enumerate().map(|(i, &z)| rail_galaxy(pdfs.raw(i), pdfs.origin(), z, &grids)),
                    );
                    Ok(())
                })?;
                Ok(PdfValues::Rail { representation, galaxies })
            }
        }
    }

    /// Number of galaxies.
    pub fn len(&self) -> usize {
        match self {
            PdfValues::Pzbench { galaxies, .. } => galaxies.len(),
            PdfValues::Rail { galaxies, .. } => galaxies.len(),
        }
    }

    /// Whether there are no galaxies.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dialect the values follow.
    pub fn dialect(&self) -> Dialect {
        match self {
            PdfValues::Pzbench { .. } => Dialect::Pzbench,
            PdfValues::Rail { .. } => Dialect::Rail,
        }
    }

    /// The representation of the PDFs the values come from.
    pub fn representation(&self) -> Representation {
        match self {
            PdfValues::Pzbench { representation, .. } | PdfValues::Rail { representation, .. } => *representation,
        }
    }

    /// Every galaxy's point estimate `point` (§2.4), the z_phot of its point metrics: the mode,
    /// mean or median in the pzbench dialect (samples have no mode); the rail dialect has only
    /// its mode on `linspace(0, 3, 301)` (§3 "point_on_mode").
    pub fn point_estimates(&self, point: PointEstimate) -> Result<Vec<f64>> {
        match self {
            PdfValues::Pzbench { representation, galaxies } => match point {
                PointEstimate::Mode if *representation == Representation::Samples => {
                    Err(Error::PdfUnsupported("sample PDFs have no mode; use --point median or --point mean".into()))
                }
                PointEstimate::Mode => Ok(galaxies.iter().map(|g| g.z_mode).collect()),
                PointEstimate::Mean => Ok(galaxies.iter().map(|g| g.z_mean).collect()),
                PointEstimate::Median => Ok(galaxies.iter().map(|g| g.z_median).collect()),
            },
            PdfValues::Rail { galaxies, .. } => match point {
                PointEstimate::Mode => Ok(galaxies.iter().map(|g| g.mode[RailGrid::Estimators.index()]).collect()),
                _ => Err(Error::PdfUnsupported(format!(
                    "the rail dialect's point estimate is the mode on {}; use --point mode",
                    RailGrid::Estimators.label()
                ))),
            },
        }
    }

    /// Galaxy `i`'s true redshift.
    pub fn z_spec(&self, i: usize) -> f64 {
        match self {
            PdfValues::Pzbench { galaxies, .. } => galaxies[i].z_spec,
            PdfValues::Rail { galaxies, .. } => galaxies[i].z_spec,
        }
    }
}

/// Galaxy `i`'s quantities at its truth `z`.
fn galaxy_values(pdfs: &Pdfs, i: usize, z: f64) -> GalaxyValues {
    let pdf = pdfs.galaxy(i);
    let z_mean = pdf.mean();
    GalaxyValues {
        z_spec: z,
        pit: pdf.cdf(z),
        crps: pdf.crps(z),
        pdf_at_truth: pdf.density(z).unwrap_or(f64::NAN),
        int_f2: pdf.int_f2().unwrap_or(f64::NAN),
        z_mode: pdf.mode().unwrap_or(f64::NAN),
        z_mean,
        z_median: pdf.median(),
        variance: pdf.variance_about(z_mean),
    }
}
