//! The 13 point metrics of `METRICS.md`, computed from one set of galaxies.
//!
//! Notation, per galaxy: `dz = (z_phot - z_spec) / (1 + z_spec)` and `Δz = z_phot - z_spec`.
//! Every per-bin value and every bootstrap replicate goes through [`point_metrics`].

use serde::{Deserialize, Serialize};

use super::stats::{mean_by, median, median_and_quartiles, pairwise_sum_by};

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

/// The metric keys in report order, exactly as in the reference JSON files.
pub const METRIC_KEYS: [&str; 13] = [
    "count",
    "bias",
    "mean_bias",
    "scatter",
    "sigma_iqr",
    "rms",
    "outlier_frac",
    "outlier_frac_rail",
    "mse",
    "loss",
    "bias_bw",
    "scatter_bw",
    "outlier_frac_bw",
];

/// Point metrics of a non-empty set of galaxies (METRICS.md, one field per key).
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
    /// The value of a metric by its key (`count` as a float); `None` for an unknown key.
    pub fn get(&self, key: &str) -> Option<f64> {
        Some(match key {
            "count" => self.count as f64,
            "bias" => self.bias,
            "mean_bias" => self.mean_bias,
            "scatter" => self.scatter,
            "sigma_iqr" => self.sigma_iqr,
            "rms" => self.rms,
            "outlier_frac" => self.outlier_frac,
            "outlier_frac_rail" => self.outlier_frac_rail,
            "mse" => self.mse,
            "loss" => self.loss,
            "bias_bw" => self.bias_bw,
            "scatter_bw" => self.scatter_bw,
            "outlier_frac_bw" => self.outlier_frac_bw,
            _ => return None,
        })
    }
}

/// `dz = (z_phot - z_spec) / (1 + z_spec)`, the normalised error of METRICS.md.
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
    scratch.iter_mut().zip(dz).for_each(|(s, &x)| *s = (x - bias).abs());
    let mad = median(scratch)?;

    let sigma_iqr = (p75 - p25) / IQR_TO_SIGMA;
    let rail_cut = f64::max(0.06, 3.0 * sigma_iqr);
    let bias_bw = biweight_location(dz, bias, mad);
    let scatter_bw = biweight_midvariance(dz, bias, mad).sqrt();

    Some(Metrics {
        count: n,
        bias,
        mean_bias: mean_by(n, &|i| dz[i]),
        scatter: mad / NORMAL_MAD_SCALE,
        sigma_iqr,
        rms: mean_by(n, &|i| dz[i] * dz[i]).sqrt(),
        outlier_frac: count_where(dz, |x| x.abs() > OUTLIER_THRESHOLD) / nf,
        outlier_frac_rail: count_where(dz, |x| x.abs() > rail_cut) / nf,
        mse: mean_by(n, &|i| delta[i] * delta[i]),
        loss: mean_by(n, &|i| {
            let r = dz[i] / LOSS_GAMMA;
            1.0 - 1.0 / (1.0 + r * r)
        }),
        bias_bw,
        scatter_bw,
        outlier_frac_bw: count_where(dz, |x| (x - bias_bw).abs() > 2.0 * scatter_bw) / nf,
    })
}

fn count_where(values: &[f64], predicate: impl Fn(f64) -> bool) -> f64 {
    values.iter().filter(|&&x| predicate(x)).count() as f64
}

/// astropy `biweight_location(x, c=6, M=median)`: `M + Σ d(1-u²)² / Σ (1-u²)²` over `|u| < 1`,
/// `u = (x - M) / (c MAD)`; returns `M` when the MAD is 0.
fn biweight_location(x: &[f64], median: f64, mad: f64) -> f64 {
    if mad == 0.0 {
        return median;
    }
    let weight = |i: usize| {
        let u = (x[i] - median) / (BIWEIGHT_LOCATION_C * mad);
        if u.abs() >= 1.0 {
            0.0
        } else {
            let w = 1.0 - u * u;
            w * w
        }
    };
    let numerator = pairwise_sum_by(x.len(), &|i| (x[i] - median) * weight(i));
    let denominator = pairwise_sum_by(x.len(), &weight);
    median + numerator / denominator
}

/// astropy `biweight_midvariance(x, c=9, M=median, modify_sample_size=False)`:
/// `n Σ d²(1-u²)⁴ / (Σ (1-u²)(1-5u²))²` over `|u| < 1`; 0 when the MAD is 0.
fn biweight_midvariance(x: &[f64], median: f64, mad: f64) -> f64 {
    if mad == 0.0 {
        return 0.0;
    }
    let u2 = |i: usize| {
        let u = (x[i] - median) / (BIWEIGHT_SCALE_C * mad);
        (u.abs() < 1.0).then_some(u * u)
    };
    let numerator = pairwise_sum_by(x.len(), &|i| match u2(i) {
        Some(u2) => {
            let d = x[i] - median;
            d * d * (1.0 - u2).powf(4.0)
        }
        None => 0.0,
    });
    let denominator = pairwise_sum_by(x.len(), &|i| match u2(i) {
        Some(u2) => (1.0 - u2) * (1.0 - 5.0 * u2),
        None => 0.0,
    });
    x.len() as f64 * numerator / (denominator.abs() * denominator.abs())
}
