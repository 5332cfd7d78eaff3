//! One galaxy's sample PDF (`docs/PDF_METRICS.md` §1.1 "samples", §2.4): S draws with the
//! empirical CDF F(z) = #{s ≤ z}/S. It has no density, so no mode and no CDE loss.

use crate::stats::mean_by;

/// One galaxy's draws, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    sorted: Vec<f64>,
}

impl Samples {
    pub(crate) fn new(draws: &[f64]) -> Self {
        let mut sorted = draws.to_vec();
        sorted.sort_by(f64::total_cmp);
        Samples { sorted }
    }

    /// The draws in increasing order, s_(1) ≤ … ≤ s_(S).
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// F(z) = #{s ≤ z}/S.
    pub fn cdf(&self, z: f64) -> f64 {
        self.sorted.partition_point(|&s| s <= z) as f64 / self.sorted.len() as f64
    }

    /// inf{z : F(z) ≥ p} = s_(⌈pS⌉) (s_(1) for p ≤ 1/S).
    pub fn quantile(&self, p: f64) -> f64 {
        let s = self.sorted.len();
        let rank = (p * s as f64).ceil().clamp(1.0, s as f64) as usize;
        self.sorted[rank - 1]
    }

    /// s_(⌈S/2⌉) = inf{z : F(z) ≥ ½} (§2.4; not numpy's median for even S).
    pub fn median(&self) -> f64 {
        self.sorted[self.sorted.len().div_ceil(2) - 1]
    }

    /// The mean of the draws (numpy's pairwise sum).
    pub fn mean(&self) -> f64 {
        mean_by(self.sorted.len(), &|i| self.sorted[i])
    }

    /// The population variance of the draws (ddof 0).
    pub fn variance(&self) -> f64 {
        self.variance_about(self.mean())
    }

    /// [`Samples::variance`] given the mean.
    pub(crate) fn variance_about(&self, mean: f64) -> f64 {
        mean_by(self.sorted.len(), &|i| (self.sorted[i] - mean) * (self.sorted[i] - mean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empirical_cdf_and_median() {
        let s = Samples::new(&[0.3, 0.1, 0.2, 0.2]);
        assert_eq!(s.cdf(0.2), 0.75);
        assert_eq!(s.cdf(0.05), 0.0);
        assert_eq!(s.median(), 0.2);
        assert_eq!(s.quantile(0.25), 0.1);
        assert_eq!(s.quantile(1.0), 0.3);
    }
}
