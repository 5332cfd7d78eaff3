//! The 13 point metrics of `docs/METRICS.md`, computed from one set of galaxies.
//!
//! Notation, per galaxy: `dz = (z_phot - z_spec) / (1 + z_spec)` and `Δz = z_phot - z_spec`.
//! Every per-bin value and every bootstrap replicate goes through [`point_metrics`]; the
//! out-of-core path (`crate::scale`) finds the same order statistics, sums and counts in passes
//! and turns them into metrics with the same functions ([`assemble`] and the pieces before it).
//!
//! Sums are exact and rounded once ([`ExactSum`]), so they do not depend on the order or the
//! partitioning of the galaxies. Selected order statistics are canonical: `-0.0` becomes `+0.0`.

use serde::{Deserialize, Serialize};

use super::scale::ExactSum;
use super::stats::{median, median_and_quartiles, PARALLEL_MIN};
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
    scratch.clear();
    scratch.extend_from_slice(dz);
    let (bias, p25, p75) = median_and_quartiles(scratch)?;
    let (bias, p25, p75) = (canonical(bias), canonical(p25), canonical(p75));
    if n >= PARALLEL_MIN {
        scratch.par_iter_mut().zip(dz).for_each(|(s, &x)| *s = deviation(x, bias));
    } else {
        scratch.iter_mut().zip(dz).for_each(|(s, &x)| *s = deviation(x, bias));
    }
    let mad = canonical(median(scratch)?);

    let cut = rail_cut(p25, p75);
    let (sums, n_outlier_rail) = fold_chunks(
        n,
        |range| {
            let mut sums = PointSums::default();
            let mut n_rail = 0;
            for i in range {
                sums.add(dz[i], delta[i]);
                n_rail += u64::from(is_rail_outlier(dz[i], cut));
            }
            (sums, n_rail)
        },
        |(mut a, n_a), (b, n_b)| {
            a.merge(&b);
            (a, n_a + n_b)
        },
    );
    let biweight_sums = (mad != 0.0).then(|| {
        fold_chunks(
            n,
            |range| {
                let mut sums = BiweightSums::default();
                range.for_each(|i| sums.add(dz[i], bias, mad));
                sums
            },
            |mut a, b| {
                a.merge(&b);
                a
            },
        )
    });
    let (bias_bw, scatter_bw) = biweight(n as u64, bias, mad, biweight_sums.as_ref());
    let n_outlier_bw = fold_chunks(
        n,
        |range| range.filter(|&i| is_outlier_bw(dz[i], bias_bw, scatter_bw)).count() as u64,
        |a, b| a + b,
    );
    Some(assemble(&Summary {
        count: n as u64,
        bias,
        p25,
        p75,
        mad,
        sums: &sums,
        n_outlier_rail,
        bias_bw,
        scatter_bw,
        n_outlier_bw,
    }))
}

/// Rows per chunk of the parallel folds; the chunks' results merge exactly.
const FOLD_CHUNK: usize = 1 << 14;

/// `fold(0..n)` computed chunk by chunk (in parallel from [`PARALLEL_MIN`] rows on) and merged.
fn fold_chunks<S: Send>(
    n: usize,
    fold: impl Fn(std::ops::Range<usize>) -> S + Sync,
    merge: impl Fn(S, S) -> S + Sync,
) -> S {
    if n < PARALLEL_MIN {
        return fold(0..n);
    }
    (0..n.div_ceil(FOLD_CHUNK))
        .into_par_iter()
        .map(|c| fold(c * FOLD_CHUNK..((c + 1) * FOLD_CHUNK).min(n)))
        .reduce_with(&merge)
        .unwrap_or_else(|| fold(0..0))
}

/// An order statistic in canonical form: `-0.0` becomes `+0.0` (IEEE 754: `-0 + +0 = +0`), so the
/// result does not depend on which zero a selection happened to return.
pub(crate) fn canonical(x: f64) -> f64 {
    x + 0.0
}

/// The MAD's deviation `|dz - median|`.
#[inline]
pub(crate) fn deviation(x: f64, median: f64) -> f64 {
    (x - median).abs()
}

/// RAIL's outlier cut `max(0.06, 3 sigma_iqr)` from the quartiles.
pub(crate) fn rail_cut(p25: f64, p75: f64) -> f64 {
    f64::max(0.06, 3.0 * sigma_iqr(p25, p75))
}

fn sigma_iqr(p25: f64, p75: f64) -> f64 {
    (p75 - p25) / IQR_TO_SIGMA
}

/// Whether `|dz|` exceeds RAIL's cut.
#[inline]
pub(crate) fn is_rail_outlier(x: f64, cut: f64) -> bool {
    x.abs() > cut
}

/// Whether `|dz - bias_bw| > 2 scatter_bw` (authors' `outlier_bw`).
#[inline]
pub(crate) fn is_outlier_bw(x: f64, bias_bw: f64, scatter_bw: f64) -> bool {
    (x - bias_bw).abs() > 2.0 * scatter_bw
}

/// The sums and count that need no order statistic: `Σ dz`, `Σ dz²`, `Σ` Tanaka loss, `Σ Δz²`
/// (each exact) and the number with `|dz| > 0.15`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PointSums {
    pub dz: ExactSum,
    pub dz2: ExactSum,
    pub loss: ExactSum,
    pub delta2: ExactSum,
    pub n_outlier: u64,
}

impl PointSums {
    /// Add one galaxy.
    #[inline]
    pub fn add(&mut self, dz: f64, delta: f64) {
        let r = dz / LOSS_GAMMA;
        self.dz.add(dz);
        self.dz2.add(dz * dz);
        self.loss.add(1.0 - 1.0 / (1.0 + r * r));
        self.delta2.add(delta * delta);
        self.n_outlier += u64::from(dz.abs() > OUTLIER_THRESHOLD);
    }

    pub fn merge(&mut self, other: &PointSums) {
        self.dz.merge(&other.dz);
        self.dz2.merge(&other.dz2);
        self.loss.merge(&other.loss);
        self.delta2.merge(&other.delta2);
        self.n_outlier += other.n_outlier;
    }
}

/// The four sums of [`biweight`] about a median and MAD.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BiweightSums {
    loc_num: ExactSum,
    loc_den: ExactSum,
    var_num: ExactSum,
    var_den: ExactSum,
}

impl BiweightSums {
    /// Add the terms of `x` (astropy's, see [`biweight`]); `mad` must not be 0.
    #[inline]
    pub fn add(&mut self, x: f64, median: f64, mad: f64) {
        let d = x - median;
        let u_loc = d / (BIWEIGHT_LOCATION_C * mad);
        let u_var = d / (BIWEIGHT_SCALE_C * mad);
        if u_loc.abs() < 1.0 {
            let w = 1.0 - u_loc * u_loc;
            self.loc_num.add(d * (w * w));
            self.loc_den.add(w * w);
        }
        if u_var.abs() < 1.0 {
            let u2 = u_var * u_var;
            let w = 1.0 - u2;
            let w2 = w * w;
            self.var_num.add(d * d * (w2 * w2));
            self.var_den.add(w * (1.0 - 5.0 * u2));
        }
    }

    pub fn merge(&mut self, other: &BiweightSums) {
        self.loc_num.merge(&other.loc_num);
        self.loc_den.merge(&other.loc_den);
        self.var_num.merge(&other.var_num);
        self.var_den.merge(&other.var_den);
    }
}

/// The biweight location and scale of `n` values about their `median` and `mad`:
/// - astropy `biweight_location(x, c=6, M=median)`: `M + Σ d(1-u²)² / Σ (1-u²)²` over `|u| < 1`,
///   `u = (x - M) / (c MAD)`; `M` when the MAD is 0;
/// - the square root of astropy `biweight_midvariance(x, c=9, M=median,
///   modify_sample_size=False)`: `n Σ d²(1-u²)⁴ / (Σ (1-u²)(1-5u²))²` over `|u| < 1`; 0 when the
///   MAD is 0.
///
/// `sums` are the [`BiweightSums`] of the values (`None` when the MAD is 0: nothing is summed).
pub(crate) fn biweight(n: u64, median: f64, mad: f64, sums: Option<&BiweightSums>) -> (f64, f64) {
    let Some(sums) = sums.filter(|_| mad != 0.0) else {
        return (median, 0.0);
    };
    let var_den = sums.var_den.value();
    let location = median + sums.loc_num.value() / sums.loc_den.value();
    let midvariance = n as f64 * sums.var_num.value() / (var_den.abs() * var_den.abs());
    (location, midvariance.sqrt())
}

/// What the metrics of a set of galaxies are made of, however it was found: in memory by
/// [`point_metrics`] or in passes by `crate::scale`. Order statistics are [`canonical`].
pub(crate) struct Summary<'a> {
    /// Number of galaxies (with bootstrap weights: the sum of the weights).
    pub count: u64,
    /// `median(dz)`, `P25(dz)`, `P75(dz)` (numpy linear percentiles).
    pub bias: f64,
    pub p25: f64,
    pub p75: f64,
    /// `median(|dz - bias|)`.
    pub mad: f64,
    pub sums: &'a PointSums,
    /// Number with `|dz| > rail_cut(p25, p75)`.
    pub n_outlier_rail: u64,
    /// [`biweight`]'s location and scale.
    pub bias_bw: f64,
    pub scatter_bw: f64,
    /// Number with [`is_outlier_bw`].
    pub n_outlier_bw: u64,
}

/// The 13 metrics of `docs/METRICS.md` from their ingredients: the one place where both paths
/// turn order statistics, sums and counts into metrics.
pub(crate) fn assemble(s: &Summary) -> Metrics {
    let nf = s.count as f64;
    Metrics {
        count: s.count as usize,
        bias: s.bias,
        mean_bias: s.sums.dz.value() / nf,
        scatter: s.mad / NORMAL_MAD_SCALE,
        sigma_iqr: sigma_iqr(s.p25, s.p75),
        rms: (s.sums.dz2.value() / nf).sqrt(),
        outlier_frac: s.sums.n_outlier as f64 / nf,
        outlier_frac_rail: s.n_outlier_rail as f64 / nf,
        mse: s.sums.delta2.value() / nf,
        loss: s.sums.loss.value() / nf,
        bias_bw: s.bias_bw,
        scatter_bw: s.scatter_bw,
        outlier_frac_bw: s.n_outlier_bw as f64 / nf,
    }
}
