//! The rail dialect's statistics of a set of galaxies (`docs/PDF_METRICS.md` §3): scipy's KS and
//! CvM on qp's PITs, the k-sample Anderson–Darling statistic against `linspace(0, 1, n)`, the
//! outlier rate read off qp's quantile-spline CDF, the CDE loss on each fixed grid, qp's Brier
//! score and RAIL's point statistics on the grid mode.

use serde::Serialize;

use super::bspline::QuadraticSpline;
use super::dialect::{RailGalaxy, RailGrid};
use crate::linspace;
use crate::stats::{mean_by, median, median_and_quartiles, pairwise_sum, pairwise_sum_by};

/// qp's PIT outlier bounds (`evaluate_PIT_outlier_rate(pit_min=0.0001, pit_max=0.9999)`).
const PIT_OUTLIER_BOUNDS: (f64, f64) = (0.0001, 0.9999);
/// RAIL `PointSigmaMAD`'s scale.
const RAIL_MAD_SCALE: f64 = 1.4826;
/// RAIL `PointSigmaIQR`'s divisor.
const RAIL_IQR_DIVISOR: f64 = 1.349;
/// RAIL `PointOutlierRate`'s floor on the cut.
const RAIL_OUTLIER_FLOOR: f64 = 0.06;

/// RAIL's PIT statistics (§3). A statistic is `None` where qp or scipy raise (CvM and AD for too
/// few PITs, the outlier rate for fewer than 3 distinct quantiles strictly inside (0, 1)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RailPitStats {
    pub count: usize,
    /// scipy `kstest(pit, uniform.cdf)`.
    pub ks: f64,
    /// scipy `cramervonmises(pit, uniform.cdf)`.
    pub cvm: Option<f64>,
    /// scipy `anderson_ksamp([pit in [0, 1], linspace(0, 1, n_kept)])`, standardised.
    pub ad: Option<f64>,
    /// qp `calculate_outlier_rate` of the quantile-spline PIT distribution (not bounded by 1).
    pub outlier_rate: Option<f64>,
    /// PITs outside [0, 1] (left out of `ad`).
    pub n_outside_0_1: usize,
}

/// RAIL's point statistics of the grid mode (§3 "point_on_mode").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RailPointStats {
    /// `PointBias`: median(ez), ez = (mode − z)/(1 + z).
    pub bias: f64,
    /// `PointSigmaIQR`: (P75 − P25)/1.349.
    pub sigma_iqr: f64,
    /// `PointOutlierRate`: fraction with |ez| > max(0.06, 3 σ_IQR).
    pub outlier_rate: f64,
    /// `PointSigmaMAD`: 1.4826 × median |ez − median(ez)|.
    pub sigma_mad: f64,
}

/// The rail values of one fixed grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RailGridReport {
    /// The grid, labelled as in the reference files (`numpy.linspace(0, 3, 301)`, …).
    pub zgrid: &'static str,
    /// RAIL `CDELoss` on this grid.
    pub cde_loss: f64,
    /// RAIL's point statistics of the mode on this grid.
    pub point_on_mode: RailPointStats,
}

/// What qp/RAIL report for a set of galaxies (§3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RailReport {
    pub pit: RailPitStats,
    /// qp `calculate_brier(ensemble, z, limits=(0, 3), dx=0.01)`.
    pub brier: f64,
    /// One entry per [`RailGrid`], in [`RailGrid::ALL`] order.
    pub grids: Vec<RailGridReport>,
}

impl RailReport {
    /// The report of the galaxies `rows` (indices into `galaxies`, repeats allowed); `None` when
    /// `rows` is empty.
    pub(crate) fn of(galaxies: &[RailGalaxy], rows: &[usize]) -> Option<Self> {
        let n = rows.len();
        let pits: Vec<f64> = rows.iter().map(|&i| galaxies[i].pit).collect();
        let mut scratch = Vec::with_capacity(n);
        let grids = RailGrid::ALL
            .iter()
            .enumerate()
            .map(|(g, grid)| {
                let term = |pick: &(dyn Fn(&RailGalaxy) -> f64 + Sync)| mean_by(n, &|j| pick(&galaxies[rows[j]]));
                let cde_loss = term(&|x| x.int_f2[g]) - 2.0 * term(&|x| x.pdf_at_node[g]);
                scratch.clear();
                scratch.extend(rows.iter().map(|&i| {
                    let x = &galaxies[i];
                    crate::normalised_error(x.z_spec, x.mode[g])
                }));
                Some(RailGridReport { zgrid: grid.label(), cde_loss, point_on_mode: rail_point_stats(&mut scratch)? })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(RailReport { pit: rail_pit_stats(&pits)?, brier: mean_by(n, &|j| galaxies[rows[j]].brier), grids })
    }
}

/// RAIL's point statistics of the normalised errors `ez` (reordered in place); `None` if empty.
fn rail_point_stats(ez: &mut [f64]) -> Option<RailPointStats> {
    let n = ez.len() as f64;
    let (bias, p25, p75) = median_and_quartiles(ez)?;
    let sigma_iqr = (p75 - p25) / RAIL_IQR_DIVISOR;
    let cut = RAIL_OUTLIER_FLOOR.max(3.0 * sigma_iqr);
    let outliers = ez.iter().filter(|x| x.abs() > cut).count() as f64;
    ez.iter_mut().for_each(|x| *x = (*x - bias).abs());
    let mad = median(ez)?;
    Some(RailPointStats { bias, sigma_iqr, outlier_rate: outliers / n, sigma_mad: mad * RAIL_MAD_SCALE })
}

/// qp's PIT meta-metrics (`PIT.calculate_pit_meta_metrics`) of the PITs `pits` (§3); `None` for
/// no PITs. Public so that qp's statistics can be applied to exact PITs too (the reference files'
/// `pit_stats_on_exact_pit`).
pub fn rail_pit_stats(pits: &[f64]) -> Option<RailPitStats> {
    let n = pits.len();
    if n == 0 {
        return None;
    }
    let mut sorted = pits.to_vec();
    sorted.sort_by(f64::total_cmp);
    let nf = n as f64;
    // scipy's uniform.cdf clips to [0, 1].
    let cdf = |i: usize| sorted[i].clamp(0.0, 1.0);
    let ks = (0..n).fold(0.0f64, |d, i| d.max((i + 1) as f64 / nf - cdf(i)).max(cdf(i) - i as f64 / nf));
    let cvm = (n >= 2)
        .then(|| 1.0 / (12.0 * nf) + pairwise_sum_by(n, &|i| ((2 * (i + 1) - 1) as f64 / (2.0 * nf) - cdf(i)).powi(2)));
    let kept: Vec<f64> = sorted.iter().copied().filter(|u| (0.0..=1.0).contains(u)).collect();
    let ad = (kept.len() >= 2).then(|| anderson_ksamp_midrank(&kept, &linspace(0.0, 1.0, kept.len() - 1))).flatten();
    Some(RailPitStats {
        count: n,
        ks,
        cvm,
        ad,
        outlier_rate: quantile_spline_outlier_rate(&sorted),
        n_outside_0_1: n - kept.len(),
    })
}

/// scipy `anderson_ksamp([a, b], midrank=True).statistic` for two sorted samples: Scholz &
/// Stephens' A²_akN standardised as (A² − (k − 1))/σ_N, in scipy's order of operations. `None`
/// where scipy raises or divides by zero (fewer than 2 distinct values, N < 4).
fn anderson_ksamp_midrank(a: &[f64], b: &[f64]) -> Option<f64> {
    let samples = [a, b];
    let sizes = [a.len() as f64, b.len() as f64];
    let total = a.len() + b.len();
    let nn = total as f64;
    // Distinct values z* of the pooled sample, with #(Z < z*) and the multiplicity l_j, visited
    // in order rather than held (up to N of them).
    let mut pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    pooled.sort_by(f64::total_cmp);
    let pooled = &pooled;
    let distinct = || {
        let mut start = 0;
        std::iter::from_fn(move || {
            let z = *pooled.get(start)?;
            let run = pooled[start..].partition_point(|&v| v == z);
            let item = (z, start as f64, run as f64);
            start += run;
            Some(item)
        })
    };
    if total < 4 || pooled[0] == pooled[total - 1] {
        return None;
    }
    let mut a2 = 0.0;
    for (sample, &n_i) in samples.iter().zip(&sizes) {
        let terms: Vec<f64> = distinct()
            .map(|(z, below, l)| {
                let at_most = sample.partition_point(|&v| v <= z) as f64;
                let at = at_most - sample.partition_point(|&v| v < z) as f64;
                let m = at_most - at / 2.0;
                let b = below + l / 2.0;
                l / nn * (nn * m - b * n_i).powi(2) / (b * (nn - b) - nn * l / 4.0)
            })
            .collect();
        a2 += pairwise_sum(&terms) / n_i;
    }
    a2 *= (nn - 1.0) / nn;
    let k = 2.0;
    let big_h = 1.0 / sizes[0] + 1.0 / sizes[1];
    let mut running = 0.0;
    let cumulative: Vec<f64> = (2..total)
        .rev()
        .map(|d| {
            running += 1.0 / d as f64;
            running
        })
        .collect();
    let h = cumulative[cumulative.len() - 1] + 1.0;
    let g = pairwise_sum_by(cumulative.len(), &|j| cumulative[j] / (j + 2) as f64);
    let coef_a = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * big_h;
    let coef_b = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * big_h - 8.0 * h + 4.0 * g - 6.0;
    let coef_c = (6.0 * h + 2.0 * g - 2.0) * k * k + (4.0 * h - 4.0 * g + 6.0) * k + (2.0 * h - 6.0) * big_h + 4.0 * h;
    let coef_d = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    let sigma_sq =
        (coef_a * nn.powi(3) + coef_b * nn.powi(2) + coef_c * nn + coef_d) / ((nn - 1.0) * (nn - 2.0) * (nn - 3.0));
    Some((a2 - (k - 1.0)) / sigma_sq.sqrt())
}

/// numpy `quantile(sorted, q)` (linear method) of sorted values.
fn numpy_quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let virtual_index = last as f64 * q;
    if virtual_index >= last as f64 {
        return sorted[last];
    }
    let below = virtual_index.floor();
    let i = below as usize;
    let (a, b, t) = (sorted[i], sorted[i + 1], virtual_index - below);
    // numpy's `_lerp`, from the nearer end.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// qp's PIT outlier rate (§3 "outlier_rate"): the quantiles of the sorted PITs on
/// `linspace(0, 1, min(n, 100))`, repeated values dropped (first kept) and only those in (0, 1)
/// kept, padded to 0 and 1 by linear extrapolation (`pad_quantiles`), then
/// CDF(1e−4) + 1 − CDF(0.9999) of the quadratic spline through them.
fn quantile_spline_outlier_rate(sorted: &[f64]) -> Option<f64> {
    let m = sorted.len().min(100);
    if m < 2 {
        return None;
    }
    let grid = linspace(0.0, 1.0, m - 1);
    let q: Vec<f64> = grid.iter().map(|&g| numpy_quantile(sorted, g)).collect();
    // numpy `unique(return_index=True)`: sorted distinct values, each with its first index.
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| q[i].total_cmp(&q[j]));
    order.dedup_by(|later, earlier| q[*later] == q[*earlier]);
    let (quants, locs): (Vec<f64>, Vec<f64>) =
        order.into_iter().filter(|&i| q[i] > 0.0 && q[i] < 1.0).map(|i| (grid[i], q[i])).unzip();
    let (quants, locs) = pad_quantiles(quants, locs)?;
    // interp1d sorts x (stably) before fitting; the spline needs x strictly increasing.
    let mut order: Vec<usize> = (0..locs.len()).collect();
    order.sort_by(|&i, &j| locs[i].total_cmp(&locs[j]));
    let x: Vec<f64> = order.iter().map(|&i| locs[i]).collect();
    let y: Vec<f64> = order.iter().map(|&i| quants[i]).collect();
    if x.windows(2).any(|w| w[1] <= w[0]) {
        return None;
    }
    let cdf = QuadraticSpline::new(&x, &y, 0.0, 1.0)?;
    let (lo, hi) = PIT_OUTLIER_BOUNDS;
    Some(cdf.eval(lo) + (1.0 - cdf.eval(hi)))
}

/// qp `pad_quantiles`: prepend quantile 0 when the first is above machine epsilon and append 1
/// when the last is below 1, their locations extrapolated linearly from the two nearest points.
/// `None` for fewer than two points (qp fails).
fn pad_quantiles(quants: Vec<f64>, locs: Vec<f64>) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = quants.len();
    if n < 2 {
        return None;
    }
    let mut quants_out = Vec::with_capacity(n + 2);
    let mut locs_out = Vec::with_capacity(n + 2);
    if quants[0] > f64::EPSILON {
        quants_out.push(0.0);
        locs_out.push(locs[0] - quants[0] * (locs[1] - locs[0]) / (quants[1] - quants[0]));
    }
    quants_out.extend_from_slice(&quants);
    locs_out.extend_from_slice(&locs);
    if quants[n - 1] < 1.0 {
        quants_out.push(1.0);
        locs_out
            .push(locs[n - 1] - (1.0 - quants[n - 1]) * (locs[n - 2] - locs[n - 1]) / (quants[n - 1] - quants[n - 2]));
    }
    Some((quants_out, locs_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_quantiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(numpy_quantile(&v, 0.0), 1.0);
        assert_eq!(numpy_quantile(&v, 0.25), 1.75);
        assert_eq!(numpy_quantile(&v, 1.0), 4.0);
    }

    #[test]
    fn identical_samples_standardise_below_zero() {
        // scipy.stats.anderson_ksamp([[1, 2, 3, 4], [1, 2, 3, 4]]).statistic
        let v = [1.0, 2.0, 3.0, 4.0];
        let ad = anderson_ksamp_midrank(&v, &v).unwrap();
        assert!((ad - -1.6399445001598159).abs() < 1e-12, "{ad}");
    }
}
