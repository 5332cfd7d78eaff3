//! The four PDF representations of `docs/PDF_METRICS.md` §1.1, validated on construction.
//!
//! [`Pdfs`] holds the parameters of n galaxies exactly as read (row-major, one row a galaxy, the
//! column layouts of §1.3). [`Pdfs::galaxy`] gives one galaxy's PDF, normalised as §1.1 says ("normalise
//! on read, even when the file is already normalised"), as a [`Pdf`] with its density, CDF,
//! quantiles, mode, mean, median and variance.

use serde::{Deserialize, Serialize};

use super::grid::Grid;
use super::histogram::Histogram;
use super::mixture::Mixture;
use super::samples::Samples;
use crate::{Error, Result};

/// Which representation a set of PDFs uses (§1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Representation {
    /// Gaussian mixtures (qp `mixmod`).
    Mixture,
    /// Densities at shared nodes, linear in between (qp `interp`).
    Grid,
    /// Densities constant on shared bins (qp `hist`).
    Histogram,
    /// Draws from each PDF (no qp equivalent).
    Samples,
}

/// The PDFs of n galaxies, validated: finite parameters, non-negative densities and weights,
/// positive sigmas, strictly increasing nodes or edges, and no PDF of zero mass. Two sets are
/// equal when their parameters are, wherever they were read from.
#[derive(Debug, Clone)]
pub struct Pdfs {
    layout: Layout,
    n: usize,
    origin: Origin,
}

impl PartialEq for Pdfs {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.layout == other.layout
    }
}

/// Where the parameters come from, which decides how the rail dialect rebuilds qp's own values
/// from them (`docs/PDF_METRICS.md` §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Values as qp holds them in an ensemble (e.g. exported from `ensemble.objdata`), or a
    /// user's own: taken as they are when already normalised, else normalised once.
    #[default]
    Table,
    /// Values stored in a qp file: `qp.read` builds the ensemble from them, and that normalises
    /// them twice (the generator's constructor, then again when scipy's `rv_frozen` rebuilds the
    /// generator from its normalised parameters).
    QpFile,
}

#[derive(Debug, Clone, PartialEq)]
enum Layout {
    Mixture { k: usize, weights: Vec<f64>, means: Vec<f64>, sigmas: Vec<f64> },
    Grid { nodes: Vec<f64>, densities: Vec<f64> },
    Histogram { edges: Vec<f64>, densities: Vec<f64> },
    Samples { per_galaxy: usize, draws: Vec<f64> },
}

/// One galaxy's parameters as stored, before normalisation: what the rail dialect feeds to its
/// reproduction of qp (which normalises again, in its own order of operations).
#[derive(Debug, Clone, Copy)]
pub(crate) enum RawPdf<'a> {
    Mixture { weights: &'a [f64], means: &'a [f64], sigmas: &'a [f64] },
    Grid { nodes: &'a [f64], densities: &'a [f64] },
    Histogram { edges: &'a [f64], densities: &'a [f64] },
    Samples { draws: &'a [f64] },
}

/// One galaxy's normalised PDF (§1.1).
#[derive(Debug, Clone, PartialEq)]
pub enum Pdf<'a> {
    Mixture(Mixture),
    Grid(Grid<'a>),
    Histogram(Histogram<'a>),
    Samples(Samples),
}

impl Pdfs {
    /// Gaussian mixtures with `k` components: `weights`, `means` and `sigmas` are each (n, k),
    /// row-major (§1.3 `w_0..w_{K−1}`, `mu_…`, `sigma_…`). Weights are relative.
    pub fn mixture(k: usize, weights: Vec<f64>, means: Vec<f64>, sigmas: Vec<f64>) -> Result<Self> {
        if k == 0 {
            return Err(Error::PdfSizeMismatch("a mixture needs K >= 1 components (w_0, mu_0, sigma_0)".into()));
        }
        if weights.len() != means.len() || weights.len() != sigmas.len() || !weights.len().is_multiple_of(k) {
            return Err(Error::PdfSizeMismatch(format!(
                "{} weights, {} means and {} sigmas do not form rows of K = {k} components; give K of each per galaxy",
                weights.len(),
                means.len(),
                sigmas.len()
            )));
        }
        let n = weights.len() / k;
        for (row, ((w, mu), sigma)) in weights.chunks(k).zip(means.chunks(k)).zip(sigmas.chunks(k)).enumerate() {
            check_finite(row, "w", w)?;
            check_finite(row, "mu", mu)?;
            check_finite(row, "sigma", sigma)?;
            check_non_negative(row, "w", w)?;
            if let Some(c) = sigma.iter().position(|&s| s <= 0.0) {
                return Err(Error::NonPositiveSigma { row, column: format!("sigma_{c}"), value: sigma[c] });
            }
            if w.iter().all(|&x| x == 0.0) {
                return Err(Error::ZeroWeights { row });
            }
        }
        Ok(Pdfs { layout: Layout::Mixture { k, weights, means, sigmas }, n, origin: Origin::Table })
    }

    /// Grid PDFs: `densities` (n, M) row-major are the densities at the M shared `nodes`
    /// (§1.3 `pdf_0..pdf_{M−1}` and the `z` column of the grid sidecar).
    pub fn grid(nodes: Vec<f64>, densities: Vec<f64>) -> Result<Self> {
        check_axis("grid nodes", "z", &nodes)?;
        let n = rows_of(&densities, nodes.len(), "nodes")?;
        check_densities(&densities, nodes.len())?;
        Ok(Pdfs { layout: Layout::Grid { nodes, densities }, n, origin: Origin::Table })
    }

    /// Histogram PDFs: `densities` (n, M) row-major are the densities in the M bins between the
    /// M + 1 shared `edges` (§1.3, the `edge` column of the sidecar).
    pub fn histogram(edges: Vec<f64>, densities: Vec<f64>) -> Result<Self> {
        check_axis("histogram edges", "edge", &edges)?;
        let n = rows_of(&densities, edges.len() - 1, "bins")?;
        check_densities(&densities, edges.len() - 1)?;
        Ok(Pdfs { layout: Layout::Histogram { edges, densities }, n, origin: Origin::Table })
    }

    /// Sample PDFs: `draws` (n, S) row-major, S = `per_galaxy` draws a galaxy (§1.3 `s_0..s_{S−1}`).
    pub fn samples(per_galaxy: usize, draws: Vec<f64>) -> Result<Self> {
        if per_galaxy == 0 {
            return Err(Error::PdfSizeMismatch("sample PDFs need at least one draw per galaxy (s_0)".into()));
        }
        let n = rows_of(&draws, per_galaxy, "draws")?;
        for (row, s) in draws.chunks(per_galaxy).enumerate() {
            check_finite(row, "s", s)?;
        }
        Ok(Pdfs { layout: Layout::Samples { per_galaxy, draws }, n, origin: Origin::Table })
    }

    /// Number of galaxies.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no galaxies.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The representation of every PDF of the set.
    pub fn representation(&self) -> Representation {
        match self.layout {
            Layout::Mixture { .. } => Representation::Mixture,
            Layout::Grid { .. } => Representation::Grid,
            Layout::Histogram { .. } => Representation::Histogram,
            Layout::Samples { .. } => Representation::Samples,
        }
    }

    /// Galaxy `i`'s PDF, normalised (§1.1).
    pub fn galaxy(&self, i: usize) -> Pdf<'_> {
        match self.raw(i) {
            RawPdf::Mixture { weights, means, sigmas } => Pdf::Mixture(Mixture::new(weights, means, sigmas)),
            RawPdf::Grid { nodes, densities } => Pdf::Grid(Grid::new(nodes, densities)),
            RawPdf::Histogram { edges, densities } => Pdf::Histogram(Histogram::new(edges, densities)),
            RawPdf::Samples { draws } => Pdf::Samples(Samples::new(draws)),
        }
    }

    /// Galaxy `i`'s parameters as stored.
    /// The same PDFs, marked as read from a qp file ([`Origin::QpFile`]).
    pub fn from_qp_file(self) -> Self {
        Pdfs { origin: Origin::QpFile, ..self }
    }

    /// Where the parameters come from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    pub(crate) fn raw(&self, i: usize) -> RawPdf<'_> {
        match &self.layout {
            Layout::Mixture { k, weights, means, sigmas } => {
                RawPdf::Mixture { weights: row(weights, i, *k), means: row(means, i, *k), sigmas: row(sigmas, i, *k) }
            }
            Layout::Grid { nodes, densities } => RawPdf::Grid { nodes, densities: row(densities, i, nodes.len()) },
            Layout::Histogram { edges, densities } => {
                RawPdf::Histogram { edges, densities: row(densities, i, edges.len() - 1) }
            }
            Layout::Samples { per_galaxy, draws } => RawPdf::Samples { draws: row(draws, i, *per_galaxy) },
        }
    }
}

/// Row `i` of a row-major array whose rows have `width` values.
fn row(values: &[f64], i: usize, width: usize) -> &[f64] {
    &values[i * width..(i + 1) * width]
}

impl Pdf<'_> {
    /// The density f(z) (§1.1); `None` for samples, which have none.
    pub fn density(&self, z: f64) -> Option<f64> {
        match self {
            Pdf::Mixture(p) => Some(p.density(z)),
            Pdf::Grid(p) => Some(p.density(z)),
            Pdf::Histogram(p) => Some(p.density(z)),
            Pdf::Samples(_) => None,
        }
    }

    /// The CDF F(z) (§1.1), in [0, 1].
    pub fn cdf(&self, z: f64) -> f64 {
        match self {
            Pdf::Mixture(p) => p.cdf(z),
            Pdf::Grid(p) => p.cdf(z),
            Pdf::Histogram(p) => p.cdf(z),
            Pdf::Samples(p) => p.cdf(z),
        }
    }

    /// The quantile inf{z : F(z) ≥ p} (§2.4 "median" for p = ½); at p ≤ 0 and p ≥ 1 the ends of
    /// the support (infinite for mixtures).
    pub fn quantile(&self, p: f64) -> f64 {
        match self {
            Pdf::Mixture(m) => m.quantile(p),
            Pdf::Grid(g) => g.quantile(p),
            Pdf::Histogram(h) => h.quantile(p),
            Pdf::Samples(s) => s.quantile(p),
        }
    }

    /// The mode (§2.4); `None` for samples.
    pub fn mode(&self) -> Option<f64> {
        match self {
            Pdf::Mixture(p) => Some(p.mode()),
            Pdf::Grid(p) => Some(p.mode()),
            Pdf::Histogram(p) => Some(p.mode()),
            Pdf::Samples(_) => None,
        }
    }

    /// The mean ∫ z f (§2.4).
    pub fn mean(&self) -> f64 {
        match self {
            Pdf::Mixture(p) => p.mean(),
            Pdf::Grid(p) => p.mean(),
            Pdf::Histogram(p) => p.mean(),
            Pdf::Samples(p) => p.mean(),
        }
    }

    /// The median F⁻¹(½) (§2.4).
    pub fn median(&self) -> f64 {
        match self {
            Pdf::Mixture(p) => p.median(),
            Pdf::Grid(p) => p.quantile(0.5),
            Pdf::Histogram(p) => p.quantile(0.5),
            Pdf::Samples(p) => p.median(),
        }
    }

    /// The variance ∫ (z − mean)² f, each PDF's term of the law of total variance (§2.5).
    pub fn variance(&self) -> f64 {
        self.variance_about(self.mean())
    }

    /// [`Pdf::variance`] given the mean.
    pub(crate) fn variance_about(&self, mean: f64) -> f64 {
        match self {
            Pdf::Mixture(p) => p.variance_about(mean),
            Pdf::Grid(p) => p.variance_about(mean),
            Pdf::Histogram(p) => p.variance_about(mean),
            Pdf::Samples(p) => p.variance_about(mean),
        }
    }
}

/// The number of rows of `values` in rows of `width`.
fn rows_of(values: &[f64], width: usize, what: &str) -> Result<usize> {
    if !values.len().is_multiple_of(width) {
        return Err(Error::PdfSizeMismatch(format!(
            "{} values are not whole rows of {width} {what}; give {width} values per galaxy",
            values.len()
        )));
    }
    Ok(values.len() / width)
}

/// Grid nodes or histogram edges: at least two, finite, strictly increasing.
fn check_axis(what: &'static str, name: &'static str, axis: &[f64]) -> Result<()> {
    if axis.len() < 2 {
        return Err(Error::InvalidPdfAxis(format!(
            "{what}: need at least 2 values in column `{name}`, got {}",
            axis.len()
        )));
    }
    if let Some(i) = axis.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidPdfAxis(format!("{what}: {name}[{i}] = {} is not a finite number", axis[i])));
    }
    match axis.windows(2).position(|w| w[1] <= w[0]) {
        Some(i) => Err(Error::NotIncreasing { what, name, index: i + 1, previous: axis[i], value: axis[i + 1] }),
        None => Ok(()),
    }
}

/// Densities (rows of `width`): finite, non-negative, not all zero.
fn check_densities(densities: &[f64], width: usize) -> Result<()> {
    for (row, y) in densities.chunks(width).enumerate() {
        check_finite(row, "pdf", y)?;
        check_non_negative(row, "pdf", y)?;
        if y.iter().all(|&v| v == 0.0) {
            return Err(Error::ZeroIntegral { row });
        }
    }
    Ok(())
}

fn check_finite(row: usize, prefix: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(c) => Err(Error::NonFinitePdfValue { row, column: format!("{prefix}_{c}"), value: values[c] }),
        None => Ok(()),
    }
}

fn check_non_negative(row: usize, prefix: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|&v| v < 0.0) {
        Some(c) => Err(Error::NegativePdfValue { row, column: format!("{prefix}_{c}"), value: values[c] }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<Pdfs>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn bad_pdfs_are_refused_with_their_row_and_column() {
        let cases = [
            (
                message(Pdfs::grid(vec![0.0, 1.0, 2.0], vec![1.0, 2.0, 1.0, 0.0, -0.5, 1.0])),
                "PDF row 2: pdf_1 = -0.5 is negative; densities and weights must be >= 0 (clip round-off negatives to 0)",
            ),
            (
                message(Pdfs::grid(vec![0.0, 1.0, 1.0], vec![1.0, 2.0, 1.0])),
                "PDF grid nodes: z[2] = 1 does not exceed z[1] = 1; grid nodes must increase strictly",
            ),
            (
                message(Pdfs::histogram(vec![0.0, 2.0, 1.5], vec![1.0, 1.0])),
                "PDF histogram edges: edge[2] = 1.5 does not exceed edge[1] = 2; histogram edges must increase strictly",
            ),
            (
                message(Pdfs::grid(vec![0.5], vec![1.0])),
                "PDF grid nodes: need at least 2 values in column `z`, got 1",
            ),
            (
                message(Pdfs::mixture(2, vec![0.5, 0.5], vec![0.3, 0.4], vec![0.1, 0.0])),
                "PDF row 1: sigma_1 = 0 must be > 0; a Gaussian component needs a positive width",
            ),
            (
                message(Pdfs::mixture(2, vec![0.5, 0.5, 0.0, 0.0], vec![0.3, 0.4, 0.3, 0.4], vec![0.1; 4])),
                "PDF row 2: the mixture weights sum to 0; give at least one component a positive weight",
            ),
            (
                message(Pdfs::histogram(vec![0.0, 1.0, 2.0], vec![0.0, 0.0])),
                "PDF row 1: the PDF integrates to 0 (every density is 0); drop the row or give it a positive density",
            ),
            (
                message(Pdfs::grid(vec![0.0, 1.0, 2.0], vec![1.0, 2.0, 1.0, 0.0])),
                "PDF sizes do not match: 4 values are not whole rows of 3 nodes; give 3 values per galaxy",
            ),
            (
                message(Pdfs::mixture(2, vec![1.0, 1.0], vec![0.3], vec![0.1, 0.1])),
                "PDF sizes do not match: 2 weights, 1 means and 2 sigmas do not form rows of K = 2 components; give K of each per galaxy",
            ),
            (
                message(Pdfs::samples(2, vec![0.1, f64::NAN])),
                "PDF row 1: s_1 = NaN is not a finite number; every PDF parameter must be finite",
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
            assert!(!got.contains('\n'));
        }
    }

    #[test]
    fn truths_must_fit_the_pdfs() {
        use crate::pdf::{Dialect, PdfValues};
        let pdfs = Pdfs::samples(2, vec![0.1, 0.2, 0.3, 0.4]).unwrap();
        let err = PdfValues::compute(&pdfs, &[0.5], Dialect::Pzbench).unwrap_err().to_string();
        assert_eq!(err, "PDF sizes do not match: 2 PDFs but 1 true redshifts; give one z_spec per PDF row");
        let err = PdfValues::compute(&pdfs, &[0.5, 0.6], Dialect::Rail).unwrap_err().to_string();
        assert!(err.starts_with("the rail dialect needs a qp representation"), "{err}");
    }
}
