//! The 13 point metrics of `docs/METRICS.md`, computed from one set of galaxies.
//!
//! Notation, per galaxy: `dz = (z_phot - z_spec) / (1 + z_spec)` and `Δz = z_phot - z_spec`.
//! Every per-bin value and every bootstrap replicate goes through [`point_metrics`].

use serde::{Deserialize, Serialize};

use super::stats::{median, median_and_quartiles, pairwise_sums, PARALLEL_MIN};
use super::Metric;
use rayon::prelude::*;

/// Outlier threshold on `|dz|` (GalaxiesML paper eqs. 5–6; authors' `outlier_conv`).
pub const OUTLIER_THRESHOLD: f64 = 0.15;
/// γ of the Tanaka et al. (2018) loss used in the authors' evaluation (`calculate_loss`).
pub const LOSS_GAMMA: f64 = 0.15;
/// `Φ⁻¹(0.75)`: scipy's `median_abs_deviation(scale="normal")` divides the MAD by it
/// (equivalently multiplies by 1.482602218505602).
pub const NORMAL_MAD_SCALE: f64 = 0.6744897501960817;
/// RAIL's `PointSigmaIQR` divisor.
pub const IQR_TO_SIGMA: f64 = 1.349;
/// Tuning constant of astropy's `biweight_location` (authors' `bias_bw`).
pub const BIWEIGHT_LOCATION_C: f64 = 6.0;
/// Tuning constant of astropy's `biweight_midvariance` (authors' `scatter_bw`).
pub const BIWEIGHT_SCALE_C: f64 = 9.0;

/// Point metrics of a non-empty set of galaxies (`docs/METRICS.md`, one field per [`Metric`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Number of galaxies.
    pub count: usize,
    /// `median(dz)` (authors' `bias_conv`; RAIL `PointBias`).
    pub bias: f64,
    /// `mean(dz)` (paper eq. 2 read literally).
    pub mean_bias: f64,
    /// `median(|dz - median(dz)|) / Φ⁻¹(0.75)` (authors' `scatter_conv`, scipy `scale="normal"`).
    pub scatter: f64,
    /// `(P75(dz) - P25(dz)) / 1.349` (RAIL `PointSigmaIQR`).
    pub sigma_iqr: f64,
    /// `sqrt(mean(dz²))` (paper eq. 3).
    pub rms: f64,
    /// Fraction with `|dz| > 0.15` (paper eqs. 5–6).
    pub outlier_frac: f64,
    /// Fraction with `|dz| > max(0.06, 3 sigma_iqr)` (RAIL `PointOutlierRate`).
    pub outlier_frac_rail: f64,
    /// `mean(Δz²)`, un-normalised (authors' sklearn `mean_squared_error`).
    pub mse: f64,
    /// `mean(1 - 1 / (1 + (dz / 0.15)²))` (Tanaka et al. 2018; authors' `calculate_loss`).
    pub loss: f64,
    /// Biweight location of dz, c = 6 (astropy `biweight_location`).
    pub bias_bw: f64,
    /// Square root of the biweight midvariance of dz, c = 9 (astropy `biweight_midvariance`).
    pub scatter_bw: f64,
    /// Fraction with `|dz - bias_bw| > 2 scatter_bw` (authors' `outlier_bw`).
    pub outlier_frac_bw: f64,
}

impl Metrics {
    /// The value of `metric` (`count` as a float).
    pub fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Count => self.count as f64,
            Metric::Bias => self.bias,
            Metric::MeanBias => self.mean_bias,
            Metric::Scatter => self.scatter,
            Metric::SigmaIqr => self.sigma_iqr,
            Metric::Rms => self.rms,
            Metric::OutlierFrac => self.outlier_frac,
            Metric::OutlierFracRail => self.outlier_frac_rail,
            Metric::Mse => self.mse,
            Metric::Loss => self.loss,
            Metric::BiasBw => self.bias_bw,
            Metric::ScatterBw => self.scatter_bw,
            Metric::OutlierFracBw => self.outlier_frac_bw,
        }
    }
}

/// `dz = (z_phot - z_spec) / (1 + z_spec)`, the normalised error of `docs/METRICS.md`.
pub fn normalised_error(z_spec: f64, z_phot: f64) -> f64 {
    (z_phot - z_spec) / (1.0 + z_spec)
}

/// All 13 metrics of the galaxies whose normalised errors are `dz` and raw errors `delta`
/// (`Δz`, same order). `scratch` is reused between calls to avoid allocation.
/// Returns `None` for an empty set (an empty bin reports `count = 0` and nulls).
pub fn point_metrics(dz: &[f64], delta: &[f64], scratch: &mut Vec<f64>) -> Option<Metrics> {
    debug_assert_eq!(dz.len(), delta.len());
    let n = dz.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;

    scratch.clear();
    scratch.extend_from_slice(dz);
    let (bias, p25, p75) = median_and_quartiles(scratch)?;
    if n >= PARALLEL_MIN {
        scratch.par_iter_mut().zip(dz).for_each(|(s, &x)| *s = (x - bias).abs());
    } else {
        scratch.iter_mut().zip(dz).for_each(|(s, &x)| *s = (x - bias).abs());
    }
    let mad = median(scratch)?;

    let sigma_iqr = (p75 - p25) / IQR_TO_SIGMA;
    let rail_cut = f64::max(0.06, 3.0 * sigma_iqr);
    // One pass for the sums and counts (each lane in numpy's pairwise order).
    let [sum_dz, sum_dz2, sum_loss, sum_delta2, n_outlier, n_outlier_rail] = pairwise_sums(n, &|i| {
        let x = dz[i];
        let r = x / LOSS_GAMMA;
        [
            x,
            x * x,
            1.0 - 1.0 / (1.0 + r * r),
            delta[i] * delta[i],
            f64::from(u8::from(x.abs() > OUTLIER_THRESHOLD)),
            f64::from(u8::from(x.abs() > rail_cut)),
        ]
    });
    let (bias_bw, scatter_bw) = biweight(dz, bias, mad);
    let is_outlier_bw = |x: &f64| (x - bias_bw).abs() > 2.0 * scatter_bw;
    let n_outlier_bw = if n >= PARALLEL_MIN {
        dz.par_iter().filter(|x| is_outlier_bw(x)).count()
    } else {
        dz.iter().filter(|x| is_outlier_bw(x)).count()
    };

    Some(Metrics {
        count: n,
        bias,
        mean_bias: sum_dz / nf,
        scatter: mad / NORMAL_MAD_SCALE,
        sigma_iqr,
        rms: (sum_dz2 / nf).sqrt(),
        outlier_frac: n_outlier / nf,
        outlier_frac_rail: n_outlier_rail / nf,
        mse: sum_delta2 / nf,
        loss: sum_loss / nf,
        bias_bw,
        scatter_bw,
        outlier_frac_bw: n_outlier_bw as f64 / nf,
    })
}

/// The biweight location and scale of `x` about its `median`, in one pass:
/// - astropy `biweight_location(x, c=6, M=median)`: `M + Σ d(1-u²)² / Σ (1-u²)²` over `|u| < 1`,
///   `u = (x - M) / (c MAD)`; `M` when the MAD is 0;
/// - the square root of astropy `biweight_midvariance(x, c=9, M=median,
///   modify_sample_size=False)`: `n Σ d²(1-u²)⁴ / (Σ (1-u²)(1-5u²))²` over `|u| < 1`; 0 when the
///   MAD is 0.
fn biweight(x: &[f64], median: f64, mad: f64) -> (f64, f64) {
    if mad == 0.0 {
        return (median, 0.0);
    }
    let [loc_num, loc_den, var_num, var_den] = pairwise_sums(x.len(), &|i| {
        let d = x[i] - median;
        let u_loc = d / (BIWEIGHT_LOCATION_C * mad);
        let u_var = d / (BIWEIGHT_SCALE_C * mad);
        let (loc_num, loc_den) = if u_loc.abs() < 1.0 {
            let w = 1.0 - u_loc * u_loc;
            (d * (w * w), w * w)
        } else {
            (0.0, 0.0)
        };
        let (var_num, var_den) = if u_var.abs() < 1.0 {
            let u2 = u_var * u_var;
            let w = 1.0 - u2;
            let w2 = w * w;
            (d * d * (w2 * w2), w * (1.0 - 5.0 * u2))
        } else {
            (0.0, 0.0)
        };
        [loc_num, loc_den, var_num, var_den]
    });
    let location = median + loc_num / loc_den;
    let midvariance = x.len() as f64 * var_num / (var_den.abs() * var_den.abs());
    (location, midvariance.sqrt())
}
