//! The conditional density estimation loss of Izbicki & Lee (2017)
//! (`docs/PDF_METRICS.md` §2.2): cde_loss = mean_i ∫ f_i² dz − 2 mean_i f_i(z_i), with the
//! integral exact for each representation.

use serde::Serialize;

use super::grid::Grid;
use super::histogram::Histogram;
use super::mixture::Mixture;
use super::normal::normal_pdf;
use super::representation::Pdf;

/// The two means of the CDE loss (§2.2, the JSON's `cde_terms`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CdeTerms {
    /// mean_i ∫ f_i².
    pub mean_int_f2: f64,
    /// mean_i f_i(z_i).
    pub mean_pdf_at_truth: f64,
}

impl CdeTerms {
    /// cde_loss = mean ∫ f² − 2 mean f(z_true) (§2.2).
    pub fn loss(&self) -> f64 {
        self.mean_int_f2 - 2.0 * self.mean_pdf_at_truth
    }
}

impl Pdf<'_> {
    /// ∫ f² dz (§2.2); `None` for samples, which have no density.
    pub fn int_f2(&self) -> Option<f64> {
        match self {
            Pdf::Mixture(m) => Some(mixture_int_f2(m)),
            Pdf::Grid(g) => Some(grid_int_f2(g)),
            Pdf::Histogram(h) => Some(histogram_int_f2(h)),
            Pdf::Samples(_) => None,
        }
    }
}

/// §2.2, mixture: Σ_a Σ_b w_a w_b N(μ_a − μ_b; 0, √(σ_a² + σ_b²)), each pair once.
fn mixture_int_f2(mixture: &Mixture) -> f64 {
    let c = mixture.components();
    let mut total = 0.0;
    for (i, a) in c.iter().enumerate() {
        let s = std::f64::consts::SQRT_2 * a.sigma;
        total += a.weight * a.weight * normal_pdf(0.0) / s;
        for b in &c[i + 1..] {
            let s = (a.sigma * a.sigma + b.sigma * b.sigma).sqrt();
            total += 2.0 * a.weight * b.weight * normal_pdf((a.mean - b.mean) / s) / s;
        }
    }
    total
}

/// §2.2, grid: Σ_j h_j (y_j² + y_j y_{j+1} + y_{j+1}²)/3.
fn grid_int_f2(grid: &Grid) -> f64 {
    grid.segments().map(|(x0, x1, y0, y1)| (x1 - x0) * (y0 * y0 + y0 * y1 + y1 * y1) / 3.0).sum()
}

/// §2.2, histogram: Σ_j p_j² (e_{j+1} − e_j).
fn histogram_int_f2(histogram: &Histogram) -> f64 {
    histogram.bins().map(|(e0, e1, p)| p * p * (e1 - e0)).sum()
}

#[cfg(test)]
mod tests {
    use crate::pdf::Pdfs;

    #[test]
    fn integrals_of_f_squared() {
        // N(0, σ²): 1/(2σ√π).
        let g = Pdfs::mixture(1, vec![1.0], vec![0.3], vec![0.2]).unwrap();
        let expected = 1.0 / (2.0 * 0.2 * std::f64::consts::PI.sqrt());
        assert!((g.galaxy(0).int_f2().unwrap() - expected).abs() < 1e-14);
        // Triangle on [0, 2] with peak 1: ∫ f² = 2/3.
        let t = Pdfs::grid(vec![0.0, 1.0, 2.0], vec![0.0, 1.0, 0.0]).unwrap();
        assert!((t.galaxy(0).int_f2().unwrap() - 2.0 / 3.0).abs() < 1e-16);
        let h = Pdfs::histogram(vec![0.0, 0.5, 2.0], vec![1.0, 0.0]).unwrap();
        assert_eq!(h.galaxy(0).int_f2(), Some(2.0));
        assert_eq!(Pdfs::samples(1, vec![0.5]).unwrap().galaxy(0).int_f2(), None);
    }
}
