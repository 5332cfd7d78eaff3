//! scipy's `interp1d(x, y, kind="quadratic")`, which qp's `quant` representation uses for the
//! CDF behind RAIL's PIT outlier rate (`docs/PDF_METRICS.md` §3 "outlier_rate", step 3).
//!
//! `make_interp_spline(x, y, k=2)`: knots at the Greville sites without the second and the
//! second-to-last (`[x_0]·3, (x_1+x_2)/2, …, (x_{n−3}+x_{n−2})/2, [x_{n−1}]·3`), the collocation
//! matrix from the Cox–de Boor recursion, solved as LAPACK's `gbsv` does (banded LU with partial
//! pivoting, multipliers scaled by the pivot's reciprocal); evaluation by the same recursion.
//! The spline reproduces scipy's arithmetic step by step, because the quantiles it interpolates
//! can be nearly coincident, which makes the system ill-conditioned and the result (a CDF that
//! may leave [0, 1]) sensitive to every rounding.

/// The spline's degree.
const K: usize = 2;

/// A quadratic interpolating B-spline, evaluated with constant fills outside its data range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuadraticSpline {
    knots: Vec<f64>,
    coefficients: Vec<f64>,
    below: f64,
    above: f64,
}

impl QuadraticSpline {
    /// The spline through (x_i, y_i), `x` strictly increasing; `below` / `above` are returned
    /// left of x_0 / right of x_{n−1} (`bounds_error=False, fill_value=(below, above)`). `None`
    /// where scipy raises: fewer than 3 points, or a singular collocation matrix.
    pub(crate) fn new(x: &[f64], y: &[f64], below: f64, above: f64) -> Option<Self> {
        let n = x.len();
        if n < 3 || y.len() != n {
            return None;
        }
        let mut knots = vec![x[0]; K + 1];
        knots.extend((1..n - 2).map(|i| (x[i + 1] + x[i]) / 2.0));
        knots.extend([x[n - 1]; K + 1]);
        let mut matrix = vec![vec![0.0; n]; n];
        for (row, &xj) in matrix.iter_mut().zip(x) {
            let left = interval(&knots, xj);
            let basis = de_boor(&knots, xj, left);
            row[left - K..=left].copy_from_slice(&basis);
        }
        let coefficients = solve_banded(matrix, y.to_vec(), K, K)?;
        Some(QuadraticSpline { knots, coefficients, below, above })
    }

    /// The spline at `v` (the fills outside the data range).
    pub(crate) fn eval(&self, v: f64) -> f64 {
        let (first, last) = (self.knots[0], self.knots[self.knots.len() - 1]);
        if v < first {
            return self.below;
        }
        if v > last {
            return self.above;
        }
        let left = interval(&self.knots, v);
        let basis = de_boor(&self.knots, v, left);
        (0..=K).fold(0.0, |sum, a| sum + self.coefficients[left - K + a] * basis[a])
    }
}

/// scipy's `find_interval`: the knot span l in [k, n − 1] with t_l ≤ v < t_{l+1} (the last span
/// for v = t_n), n = len(t) − k − 1.
fn interval(knots: &[f64], v: f64) -> usize {
    let n = knots.len() - K - 1;
    knots.partition_point(|&t| t <= v).saturating_sub(1).clamp(K, n - 1)
}

/// scipy's `_deBoor_D` (ν = 0): the k + 1 B-splines non-zero on span `left`, at `v`.
fn de_boor(knots: &[f64], v: f64, left: usize) -> [f64; K + 1] {
    let mut h = [0.0; K + 1];
    h[0] = 1.0;
    for j in 1..=K {
        let previous = h;
        h[0] = 0.0;
        for m in 1..=j {
            let (xb, xa) = (knots[left + m], knots[left + m - j]);
            if xb == xa {
                h[m] = 0.0;
                continue;
            }
            let w = previous[m - 1] / (xb - xa);
            h[m - 1] += w * (xb - v);
            h[m] = w * (v - xa);
        }
    }
    h
}

/// LAPACK `dgbsv` for a band of `kl` sub- and `ku` super-diagonals, on a dense copy: `dgbtf2`
/// (pivot = first largest |a| in the column's band, rows swapped from the column on, multipliers
/// times 1/pivot, rank-1 update of the band) then `dgbtrs` (interchanges applied as the forward
/// substitution goes, then the banded back substitution). The updates `a + l·(−u)` are fused
/// multiply-adds, as OpenBLAS's `dger`/`daxpy` kernels (Haswell and later, scipy's wheels) compute
/// them: on the near-singular systems of clustered PIT quantiles, unfused updates move the
/// result in the fourth digit. `None` for a zero pivot.
fn solve_banded(mut a: Vec<Vec<f64>>, mut b: Vec<f64>, kl: usize, ku: usize) -> Option<Vec<f64>> {
    let n = b.len();
    let mut pivots = Vec::with_capacity(n);
    let mut ju = 0;
    for j in 0..n {
        let km = kl.min(n - 1 - j);
        let p = (j..=j + km).fold(j, |best, i| if a[i][j].abs() > a[best][j].abs() { i } else { best });
        pivots.push(p);
        if a[p][j] == 0.0 {
            return None;
        }
        ju = ju.max((p + ku).min(n - 1));
        if p != j {
            // Columns j..=ju only: the multipliers of earlier columns stay where they were.
            let (upper, lower) = a.split_at_mut(p);
            upper[j][j..=ju].swap_with_slice(&mut lower[0][j..=ju]);
        }
        let reciprocal = 1.0 / a[j][j];
        for i in j + 1..=j + km {
            a[i][j] *= reciprocal;
            for col in j + 1..=ju {
                a[i][col] = a[i][j].mul_add(-a[j][col], a[i][col]);
            }
        }
    }
    for j in 0..n.saturating_sub(1) {
        b.swap(j, pivots[j]);
        for i in j + 1..=j + kl.min(n - 1 - j) {
            b[i] = a[i][j].mul_add(-b[j], b[i]);
        }
    }
    for j in (0..n).rev() {
        if b[j] != 0.0 {
            b[j] /= a[j][j];
            for i in j.saturating_sub(kl + ku)..j {
                b[i] = a[i][j].mul_add(-b[j], b[i]);
            }
        }
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_a_quadratic_exactly() {
        let x = [0.0, 0.5, 1.5, 2.0, 3.5];
        let y: Vec<f64> = x.iter().map(|v| 1.0 + v - 0.25 * v * v).collect();
        let spline = QuadraticSpline::new(&x, &y, -7.0, 7.0).unwrap();
        for v in [0.0, 0.3, 1.0, 1.7, 2.9, 3.5] {
            assert!((spline.eval(v) - (1.0 + v - 0.25 * v * v)).abs() < 1e-14, "{v}");
        }
        assert_eq!(spline.eval(-0.1), -7.0);
        assert_eq!(spline.eval(3.6), 7.0);
        assert!(QuadraticSpline::new(&x[..2], &y[..2], 0.0, 1.0).is_none());
    }
}
