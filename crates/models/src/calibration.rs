//! Width recalibration of a mixture-density head's PDFs on the validation set.
//!
//! A network trained on the likelihood can fit its widths to the training set more tightly than
//! they hold on new galaxies (its training NLL below its validation NLL): the PDFs are then too
//! narrow, too many truths fall outside their central intervals and the PIT histogram is
//! U-shaped. The correction is the regression form of temperature scaling (Guo et al. 2017,
//! ICML, "On calibration of modern neural networks", §4.2; Kuleshov, Fenner & Ermon 2018, ICML,
//! recalibrate on held-out data, as Bordoloi, Lilly & Amara 2010, MNRAS 406, 881, do for photo-z
//! PDFs with the PIT): one factor `s` multiplies every component's width of every galaxy,
//!
//! ```text
//! p_s(z | x) = Σ_k w_k N(z; μ_k, (s σ_k)²),
//! ```
//!
//! and `s` is the one that makes the validation set's PIT values `u_i = F_s(z_i | x_i)` closest to
//! uniform: the least Cramér–von Mises statistic `1/(12n) + Σ ((2i − 1)/(2n) − u_(i))²`
//! (`docs/PDF_METRICS.md` §2.1, [`PitStats`]). Weights and means stay, so the mixture keeps its
//! form (qp's `mixmod`) and its ranking of galaxies; the calibration is fitted on the best
//! epoch's validation predictions and recorded beside them in `model.json`.
//!
//! The search: the statistic at [`GRID_POINTS`] log-spaced factors in [`SCALE_RANGE`], then a
//! golden-section search of [`REFINE_STEPS`] steps between the best grid point's neighbours. It
//! is deterministic, so a resumed run records the same factor as an uninterrupted one.

use serde::{Deserialize, Serialize};

use super::mdn::GaussianMixtures;
use pzbench_metrics::pdf::PitStats;

/// The factors searched: from a quarter to four times the trained widths.
pub const SCALE_RANGE: (f64, f64) = (0.25, 4.0);

/// Log-spaced factors tried before refining (ratio 16^(1/64) ≈ 1.044 between neighbours).
const GRID_POINTS: usize = 65;

/// Golden-section steps between the best grid point's neighbours: the bracket shrinks by
/// 0.618^40 ≈ 4·10⁻⁹ of its width, far below the factor's effect on any metric.
const REFINE_STEPS: usize = 40;

/// A fitted width calibration: the factor and what it did to the validation set's PIT.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WidthCalibration {
    /// The factor `s` on every component's width.
    pub scale: f64,
    /// Validation galaxies it was fitted on.
    pub n_val: usize,
    /// The validation PIT's Cramér–von Mises statistic with the trained widths (`s` = 1) and
    /// with the calibrated ones.
    pub val_pit_cvm_before: f64,
    pub val_pit_cvm_after: f64,
    /// The validation PIT's Kolmogorov–Smirnov statistic, before and after.
    pub val_pit_ks_before: f64,
    pub val_pit_ks_after: f64,
}

/// The PIT statistics of the redshifts `z` under `mixtures` with every width multiplied by `scale`;
/// `None` without galaxies.
fn pit_stats(mixtures: &GaussianMixtures, z: &[f32], scale: f64) -> Option<PitStats> {
    let mut pits: Vec<f64> = z.iter().enumerate().map(|(i, &z)| mixtures.cdf(i, f64::from(z), scale)).collect();
    PitStats::of(&mut pits)
}

/// The width factor that makes the PIT of the redshifts `z` (one per galaxy of `mixtures`) closest
/// to uniform (module docs); `None` without galaxies.
pub fn fit_width_scale(mixtures: &GaussianMixtures, z: &[f32]) -> Option<WidthCalibration> {
    let cvm = |log_scale: f64| pit_stats(mixtures, z, log_scale.exp()).map_or(f64::INFINITY, |s| s.cvm);
    let (lo, hi) = (SCALE_RANGE.0.ln(), SCALE_RANGE.1.ln());
    let step = (hi - lo) / (GRID_POINTS - 1) as f64;
    let grid: Vec<f64> = (0..GRID_POINTS).map(|j| cvm(lo + step * j as f64)).collect();
    let best = (0..GRID_POINTS).min_by(|&a, &b| grid[a].total_cmp(&grid[b]))?;
    let (mut a, mut b) =
        (lo + step * best.saturating_sub(1) as f64, lo + step * (best + 1).min(GRID_POINTS - 1) as f64);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - ratio * (b - a), a + ratio * (b - a));
    let (mut fc, mut fd) = (cvm(c), cvm(d));
    for _ in 0..REFINE_STEPS {
        if fc <= fd {
            (b, d, fd) = (d, c, fc);
            c = b - ratio * (b - a);
            fc = cvm(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + ratio * (b - a);
            fd = cvm(d);
        }
    }
    // The refined point, unless a grid point (e.g. an end of the range) is better still.
    let (log_scale, _) =
        [(c, fc), (d, fd), (lo + step * best as f64, grid[best])].into_iter().min_by(|x, y| x.1.total_cmp(&y.1))?;
    let scale = log_scale.exp();
    let (before, after) = (pit_stats(mixtures, z, 1.0)?, pit_stats(mixtures, z, scale)?);
    Some(WidthCalibration {
        scale,
        n_val: z.len(),
        val_pit_cvm_before: before.cvm,
        val_pit_cvm_after: after.cvm,
        val_pit_ks_before: before.ks,
        val_pit_ks_after: after.ks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Galaxies whose true redshifts scatter around μ with width `true_sigma`, described by
    /// one-component mixtures of width `stated_sigma` (and a second, negligible component).
    fn overconfident(n: usize, true_sigma: f64, stated_sigma: f64) -> (GaussianMixtures, Vec<f32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // Box–Muller: a standard normal deviate from two uniform ones.
        let mut normal = || {
            let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let mut mixtures = GaussianMixtures { k: 2, weights: vec![], means: vec![], sigmas: vec![] };
        let mut z = Vec::with_capacity(n);
        for i in 0..n {
            let mu = 0.2 + 2.0 * i as f64 / n as f64;
            mixtures.weights.extend([1.0 - 1e-12, 1e-12]);
            mixtures.means.extend([mu, mu + 1.0]);
            mixtures.sigmas.extend([stated_sigma, stated_sigma]);
            z.push((mu + true_sigma * normal()) as f32);
        }
        (mixtures, z)
    }

    /// PDFs 1.5 times too narrow: the fitted factor is 1.5 within the sampling noise of 20,000
    /// galaxies, the validation PIT's statistics fall, and a scale of 1 on calibrated PDFs stays
    /// near 1.
    #[test]
    fn recovers_the_width_factor() {
        let (too_narrow, z) = overconfident(20_000, 0.03, 0.02);
        let fit = fit_width_scale(&too_narrow, &z).unwrap();
        assert!((fit.scale - 1.5).abs() < 0.03, "{fit:?}");
        assert!(fit.val_pit_cvm_after < fit.val_pit_cvm_before / 20.0, "{fit:?}");
        assert!(fit.val_pit_ks_after < fit.val_pit_ks_before / 4.0, "{fit:?}");
        assert_eq!(fit.n_val, 20_000);
        let (calibrated, z) = overconfident(20_000, 0.03, 0.03);
        let fit = fit_width_scale(&calibrated, &z).unwrap();
        assert!((fit.scale - 1.0).abs() < 0.02, "{fit:?}");
        assert!(fit.val_pit_cvm_after <= fit.val_pit_cvm_before, "{fit:?}");
    }

    /// The search's optimum is at least as good as every grid point and the ends of the range.
    #[test]
    fn optimum_beats_the_grid_and_stays_in_range() {
        let (mixtures, z) = overconfident(2_000, 0.05, 0.01);
        let fit = fit_width_scale(&mixtures, &z).unwrap();
        assert!((SCALE_RANGE.0..=SCALE_RANGE.1).contains(&fit.scale), "{fit:?}");
        for s in [0.25, 0.5, 1.0, 2.0, 3.9, 4.0] {
            let other = pit_stats(&mixtures, &z, s).unwrap().cvm;
            assert!(fit.val_pit_cvm_after <= other, "s = {s}: {other} < {fit:?}");
        }
        // Five times too narrow is beyond the range: the largest factor is taken.
        assert!((fit.scale - SCALE_RANGE.1).abs() < 1e-6, "{fit:?}");
        assert!(fit_width_scale(&mixtures, &[]).is_none());
    }
}
