//! The PIT's statistics in the pzbench dialect (`docs/PDF_METRICS.md` §2.1): the one-sample
//! KS, Cramér–von Mises and Anderson–Darling statistics against U(0, 1), the outlier rate and the
//! coverage of the central 68 % and 95 % intervals, from the sorted PITs u_(1) ≤ … ≤ u_(n).

use serde::Serialize;

use crate::stats::pairwise_sum_by;

/// PITs below this or above 1 − this are outliers (§2.1, strict inequalities).
pub const PIT_OUTLIER_TAIL: f64 = 1e-4;
/// Central coverage of ±1σ, 0.682689492137 (§2.1).
pub const COVERAGE_68: f64 = 0.682689492137;
/// Central coverage of ±2σ, 0.954499736104 (§2.1).
pub const COVERAGE_95: f64 = 0.954499736104;
/// PITs are clipped to [this, 1 − this] inside the Anderson–Darling logarithms (§2.1).
pub const AD_CLIP: f64 = 1e-12;

/// The JSON's `pit` block (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PitStats {
    pub count: usize,
    /// sup |ECDF(u) − u| = max_i max(i/n − u_(i), u_(i) − (i − 1)/n) (scipy `kstest`).
    pub ks: f64,
    /// 1/(12n) + Σ ((2i − 1)/(2n) − u_(i))² (scipy `cramervonmises`; also for n = 1).
    pub cvm: f64,
    /// A² = −n − Σ (2i − 1)/n [ln u_(i) + ln(1 − u_(n+1−i))], u clipped to [1e−12, 1 − 1e−12].
    pub ad: f64,
    /// #{u < 1e−4 or u > 0.9999}/n.
    pub outlier_rate: f64,
    /// #{|u − ½| ≤ 0.682689492137/2}/n.
    pub coverage_68: f64,
    /// #{|u − ½| ≤ 0.954499736104/2}/n.
    pub coverage_95: f64,
}

impl PitStats {
    /// The statistics of the PITs `pits` (sorted in place); `None` for no PITs.
    pub fn of(pits: &mut [f64]) -> Option<Self> {
        let n = pits.len();
        if n == 0 {
            return None;
        }
        pits.sort_unstable_by(f64::total_cmp);
        let u: &[f64] = pits;
        let nf = n as f64;
        let ks = (0..n).fold(0.0f64, |d, i| d.max((i + 1) as f64 / nf - u[i]).max(u[i] - i as f64 / nf));
        let cvm = 1.0 / (12.0 * nf) + pairwise_sum_by(n, &|i| ((2 * (i + 1) - 1) as f64 / (2.0 * nf) - u[i]).powi(2));
        let clipped = |i: usize| u[i].clamp(AD_CLIP, 1.0 - AD_CLIP);
        let ad = -nf
            - pairwise_sum_by(n, &|i| {
                (2 * (i + 1) - 1) as f64 / nf * (clipped(i).ln() + (-clipped(n - 1 - i)).ln_1p())
            });
        let fraction = |keep: &dyn Fn(f64) -> bool| u.iter().filter(|&&x| keep(x)).count() as f64 / nf;
        Some(PitStats {
            count: n,
            ks,
            cvm,
            ad,
            outlier_rate: fraction(&|x| !(PIT_OUTLIER_TAIL..=1.0 - PIT_OUTLIER_TAIL).contains(&x)),
            coverage_68: fraction(&|x| (x - 0.5).abs() <= COVERAGE_68 / 2.0),
            coverage_95: fraction(&|x| (x - 0.5).abs() <= COVERAGE_95 / 2.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_pit() {
        // n = 1: ks = max(1 − u, u), cvm = 1/12 + (½ − u)².
        let s = PitStats::of(&mut [0.25]).unwrap();
        assert_eq!(s.ks, 0.75);
        assert_eq!(s.cvm, 1.0 / 12.0 + 0.0625);
        assert_eq!(s.coverage_68, 1.0);
        assert_eq!(s.outlier_rate, 0.0);
        assert!(PitStats::of(&mut []).is_none());
    }

    #[test]
    fn outliers_are_strict() {
        let s = PitStats::of(&mut [1e-4, 0.9999, 0.0, 1.0]).unwrap();
        assert_eq!(s.outlier_rate, 0.5);
    }
}
