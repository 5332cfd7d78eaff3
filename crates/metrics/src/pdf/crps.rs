//! The continuous ranked probability score of one PDF at its truth,
//! CRPS = ∫ (F(z) − 1{z ≥ z_true})² dz (`docs/PDF_METRICS.md` §2.3), in closed form or exactly.

use super::grid::Grid;
use super::histogram::Histogram;
use super::mixture::Mixture;
use super::normal::{normal_cdf, normal_pdf};
use super::representation::Pdf;
use super::samples::Samples;

impl Pdf<'_> {
    /// The CRPS at truth `z` (§2.3).
    pub fn crps(&self, z: f64) -> f64 {
        match self {
            Pdf::Mixture(m) => mixture_crps(m, z),
            Pdf::Grid(g) => grid_crps(g, z),
            Pdf::Histogram(h) => histogram_crps(h, z),
            Pdf::Samples(s) => samples_crps(s, z),
        }
    }
}

/// Grimit et al. (2006)'s A(m, s²) = 2s φ(m/s) + m (2Φ(m/s) − 1), the mean |X| of X ~ N(m, s²)
/// (§2.3); `s` is the standard deviation.
fn abs_normal_mean(m: f64, s: f64) -> f64 {
    let r = m / s;
    2.0 * s * normal_pdf(r) + m * (2.0 * normal_cdf(r) - 1.0)
}

/// §2.3, mixture: Σ_k w_k A(z − μ_k, σ_k²) − ½ Σ_k Σ_l w_k w_l A(μ_k − μ_l, σ_k² + σ_l²), the
/// double sum taken once per pair (A is even in m).
fn mixture_crps(mixture: &Mixture, z: f64) -> f64 {
    let c = mixture.components();
    let to_truth: f64 = c.iter().map(|a| a.weight * abs_normal_mean(z - a.mean, a.sigma)).sum();
    let mut between = 0.0;
    for (i, a) in c.iter().enumerate() {
        between += a.weight * a.weight * abs_normal_mean(0.0, std::f64::consts::SQRT_2 * a.sigma);
        for b in &c[i + 1..] {
            let s = (a.sigma * a.sigma + b.sigma * b.sigma).sqrt();
            between += 2.0 * a.weight * b.weight * abs_normal_mean(a.mean - b.mean, s);
        }
    }
    to_truth - 0.5 * between
}

/// 3-point Gauss–Legendre on [a, b] (exact for polynomials of degree ≤ 5).
fn gauss_legendre_3(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
    const NODE: f64 = 0.774_596_669_241_483_4; // √(3/5)
    let (mid, half) = (0.5 * (a + b), 0.5 * (b - a));
    half * (5.0 / 9.0 * (f(mid - half * NODE) + f(mid + half * NODE)) + 8.0 / 9.0 * f(mid))
}

/// ∫_a^b of F² below the truth `z` and of (1 − F)² above it, splitting [a, b] at `z`: exact when
/// F is a polynomial of degree ≤ 2 on [a, b] (§2.3, "split the segment that contains z_i").
fn split_integral(a: f64, b: f64, z: f64, cdf: impl Fn(f64) -> f64) -> f64 {
    let below = if z > a { gauss_legendre_3(a, z.min(b), |x| cdf(x).powi(2)) } else { 0.0 };
    let above = if z < b { gauss_legendre_3(z.max(a), b, |x| (1.0 - cdf(x)).powi(2)) } else { 0.0 };
    below + above
}

/// The CRPS part outside the support [lo, hi], where F is 0 or 1: (lo − z) above a truth below
/// the support, (z − hi) below a truth above it (§2.3).
fn outside_support(lo: f64, hi: f64, z: f64) -> f64 {
    (lo - z).max(0.0) + (z - hi).max(0.0)
}

/// §2.3, grid: F is quadratic on each segment, F² quartic, so 3 Gauss–Legendre points per piece
/// are exact.
fn grid_crps(grid: &Grid, z: f64) -> f64 {
    let (nodes, c) = (grid.nodes(), grid.cumulative());
    let inside: f64 = grid
        .segments()
        .zip(c)
        .map(|((x0, x1, y0, y1), &c0)| {
            // F = C_j + t (y_j + a t), a = (y_{j+1} − y_j)/(2h_j) (§1.1).
            let a = (y1 - y0) / (2.0 * (x1 - x0));
            split_integral(x0, x1, z, |x| {
                let t = x - x0;
                c0 + t * (y0 + a * t)
            })
        })
        .sum();
    inside + outside_support(nodes[0], nodes[nodes.len() - 1], z)
}

/// §2.3, histogram: F is linear on each bin.
fn histogram_crps(histogram: &Histogram, z: f64) -> f64 {
    let (edges, c) = (histogram.edges(), histogram.cumulative());
    let inside: f64 =
        histogram.bins().zip(c).map(|((e0, e1, p), &c0)| split_integral(e0, e1, z, |x| c0 + p * (x - e0))).sum();
    inside + outside_support(edges[0], edges[edges.len() - 1], z)
}

/// §2.3, samples: the energy form over all S² pairs, exact for the empirical CDF,
/// (1/S) Σ|s − z| − (1/S²) Σ_k (2k − S − 1) s_(k).
fn samples_crps(samples: &Samples, z: f64) -> f64 {
    let sorted = samples.sorted();
    let s = sorted.len() as f64;
    let to_truth: f64 = sorted.iter().map(|x| (x - z).abs()).sum::<f64>() / s;
    let spread: f64 = sorted.iter().enumerate().map(|(k, x)| (2.0 * (k + 1) as f64 - s - 1.0) * x).sum::<f64>();
    to_truth - spread / (s * s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_crps_closed_form() {
        // CRPS of N(0, 1) at 0 is 2φ(0) − 1/√π.
        let pdfs = crate::pdf::Pdfs::mixture(1, vec![1.0], vec![0.0], vec![1.0]).unwrap();
        let expected = 2.0 * normal_pdf(0.0) - 1.0 / std::f64::consts::PI.sqrt();
        assert!((pdfs.galaxy(0).crps(0.0) - expected).abs() < 1e-15);
    }

    #[test]
    fn uniform_crps() {
        // U(0, 1) at z: z³/3 + (1 − z)³/3.
        let pdfs = crate::pdf::Pdfs::histogram(vec![0.0, 1.0], vec![1.0]).unwrap();
        for z in [0.0, 0.25, 0.5, 1.0] {
            let expected = (z * z * z + (1.0 - z) * (1.0 - z) * (1.0 - z)) / 3.0;
            assert!((pdfs.galaxy(0).crps(z) - expected).abs() < 1e-16, "{z}");
        }
        assert!((pdfs.galaxy(0).crps(2.0) - (1.0 / 3.0 + 1.0)).abs() < 1e-15);
    }

    #[test]
    fn samples_crps_equals_the_integral_of_the_step_cdf() {
        // Draws {0, 1} at z = 0.5: F = ½ on [0, 1): ∫_0^½ ¼ + ∫_½^1 ¼ = ¼.
        let pdfs = crate::pdf::Pdfs::samples(2, vec![1.0, 0.0]).unwrap();
        assert_eq!(pdfs.galaxy(0).crps(0.5), 0.25);
    }
}
