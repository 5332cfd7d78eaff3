//! One galaxy's histogram PDF (`docs/PDF_METRICS.md` §1.1 "histogram", §2.4): f = p_j on
//! [e_j, e_{j+1}), the last bin closed, 0 outside; normalised so that Σ p_j (e_{j+1} − e_j) = 1;
//! F piecewise linear, F(z) = C_j + p_j (z − e_j).

use super::grid::first_max;
use crate::stats::pairwise_sum_by;

/// One galaxy's histogram PDF: the shared edges, the normalised densities and the CDF at the
/// edges.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram<'a> {
    edges: &'a [f64],
    p: Vec<f64>,
    cumulative: Vec<f64>,
}

impl<'a> Histogram<'a> {
    /// Normalise validated densities (non-negative, not all 0) in bins between strictly
    /// increasing edges, in qp's order: the mass is numpy's pairwise Σ p_j w_j, and C is the
    /// running sum of the normalised p_j w_j.
    pub(crate) fn new(edges: &'a [f64], densities: &[f64]) -> Self {
        let width = |j: usize| edges[j + 1] - edges[j];
        let total = Self::mass(edges, densities);
        let p: Vec<f64> = densities.iter().map(|v| v / total).collect();
        let mut cumulative = Vec::with_capacity(edges.len());
        let mut c = 0.0;
        cumulative.push(c);
        for (j, pj) in p.iter().enumerate() {
            c += pj * width(j);
            cumulative.push(c);
        }
        Histogram { edges, p, cumulative }
    }

    /// The mass Σ p_j w_j (numpy's pairwise sum) that [`Histogram::new`] divides by.
    pub(crate) fn mass(edges: &[f64], densities: &[f64]) -> f64 {
        pairwise_sum_by(densities.len(), &|j| densities[j] * (edges[j + 1] - edges[j]))
    }

    /// The bin edges e_j.
    pub fn edges(&self) -> &[f64] {
        self.edges
    }

    /// The normalised densities p_j.
    pub fn densities(&self) -> &[f64] {
        &self.p
    }

    /// The CDF at the edges, C_j (C_0 = 0).
    pub fn cumulative(&self) -> &[f64] {
        &self.cumulative
    }

    /// The bin j with e_j ≤ z < e_{j+1}, the last bin for z = e_M; `None` outside.
    fn bin(&self, z: f64) -> Option<usize> {
        let m = self.p.len();
        if z < self.edges[0] || z > self.edges[m] {
            return None;
        }
        Some((self.edges.partition_point(|&e| e <= z) - 1).min(m - 1))
    }

    /// f(z): the density of the bin to the right of an edge, of the last bin at e_M, 0 outside
    /// (§2.2).
    pub fn density(&self, z: f64) -> f64 {
        self.bin(z).map_or(0.0, |j| self.p[j])
    }

    /// F(z), exact (piecewise linear): 0 for z ≤ e_0, 1 for z ≥ e_M.
    pub fn cdf(&self, z: f64) -> f64 {
        let m = self.p.len();
        if z <= self.edges[0] {
            return 0.0;
        }
        if z >= self.edges[m] {
            return 1.0;
        }
        let j = self.edges.partition_point(|&e| e <= z) - 1;
        (self.cumulative[j] + self.p[j] * (z - self.edges[j])).clamp(0.0, 1.0)
    }

    /// inf{z : F(z) ≥ p} for p in (0, 1]: the first bin whose end reaches p, then linearly
    /// inside it (§2.4).
    pub fn quantile(&self, p: f64) -> f64 {
        let m = self.p.len();
        let reached = self.cumulative.partition_point(|&c| c < p);
        if reached == 0 || reached > m {
            return self.edges[reached.min(m)];
        }
        let j = reached - 1;
        let t = (p - self.cumulative[j]) / self.p[j];
        self.edges[j] + t.clamp(0.0, self.edges[j + 1] - self.edges[j])
    }

    /// The centre of the first bin of maximal density (§2.4).
    pub fn mode(&self) -> f64 {
        let j = first_max(&self.p);
        (self.edges[j] + self.edges[j + 1]) / 2.0
    }

    /// ∫ z f, exact: Σ p_j w_j (e_j + e_{j+1})/2.
    pub fn mean(&self) -> f64 {
        self.bins().map(|(e0, e1, p)| p * (e1 - e0) * (e0 + e1) / 2.0).sum()
    }

    /// ∫ (z − mean)² f, exact: Σ p_j w_j (a² + ab + b²)/3 with a, b the bin's edges minus the
    /// mean.
    pub fn variance(&self) -> f64 {
        self.variance_about(self.mean())
    }

    /// [`Histogram::variance`] given the mean.
    pub(crate) fn variance_about(&self, mean: f64) -> f64 {
        self.bins()
            .map(|(e0, e1, p)| {
                let (a, b) = (e0 - mean, e1 - mean);
                p * (e1 - e0) * (a * a + a * b + b * b) / 3.0
            })
            .sum()
    }

    /// `(e_j, e_{j+1}, p_j)` of every bin.
    pub(crate) fn bins(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        self.edges.windows(2).zip(&self.p).map(|(e, &p)| (e[0], e[1], p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_bin_histogram() {
        let edges = [0.0, 1.0, 3.0];
        let h = Histogram::new(&edges, &[2.0, 1.0]);
        assert_eq!(h.densities(), &[0.5, 0.25]);
        assert_eq!(h.cumulative(), &[0.0, 0.5, 1.0]);
        assert_eq!(h.density(1.0), 0.25);
        assert_eq!(h.density(3.0), 0.25);
        assert_eq!(h.density(3.1), 0.0);
        assert_eq!(h.quantile(0.5), 1.0);
        assert_eq!(h.quantile(0.75), 2.0);
        assert_eq!(h.mode(), 0.5);
        assert_eq!(h.mean(), 0.25 + 1.0);
        assert_eq!(h.cdf(2.0), 0.75);
    }
}
