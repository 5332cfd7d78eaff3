//! One galaxy's grid PDF (`docs/PDF_METRICS.md` §1.1 "grid", §2.4): f linear between the
//! nodes x_0 < … < x_{M−1} with f(x_j) = y_j, 0 outside; normalised so that the trapezoid sum
//! Σ_j h_j (y_j + y_{j+1})/2 is 1; F piecewise quadratic,
//! F(z) = C_j + y_j t + (y_{j+1} − y_j) t²/(2h_j) with t = z − x_j and C_j the trapezoid sum up
//! to node j. Every integral below is exact for that piecewise-linear f.

/// One galaxy's grid PDF: the shared nodes, the normalised densities and the CDF at the nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid<'a> {
    nodes: &'a [f64],
    y: Vec<f64>,
    cumulative: Vec<f64>,
}

impl<'a> Grid<'a> {
    /// Normalise validated densities (non-negative, not all 0) at strictly increasing nodes: the
    /// trapezoid total is summed in qp's order (`(h · 0.5) · (y_j + y_{j+1})`, left to right).
    pub(crate) fn new(nodes: &'a [f64], densities: &[f64]) -> Self {
        let total = Self::mass(nodes, densities);
        let y: Vec<f64> = densities.iter().map(|v| v / total).collect();
        let cumulative = trapezoid_cumulative(nodes, &y);
        Grid { nodes, y, cumulative }
    }

    /// The trapezoid total Σ (h · 0.5) · (y_j + y_{j+1}) that [`Grid::new`] divides by.
    pub(crate) fn mass(nodes: &[f64], densities: &[f64]) -> f64 {
        nodes.windows(2).zip(densities.windows(2)).fold(0.0, |c, (x, y)| c + (x[1] - x[0]) * 0.5 * (y[1] + y[0]))
    }

    /// The nodes x_j.
    pub fn nodes(&self) -> &[f64] {
        self.nodes
    }

    /// The normalised densities y_j.
    pub fn densities(&self) -> &[f64] {
        &self.y
    }

    /// The CDF at the nodes, C_j (C_0 = 0).
    pub fn cumulative(&self) -> &[f64] {
        &self.cumulative
    }

    /// The segment j with x_j ≤ z < x_{j+1}, for x_0 ≤ z < x_{M−1}.
    fn segment(&self, z: f64) -> usize {
        self.nodes.partition_point(|&x| x <= z) - 1
    }

    /// f(z): y_j on node j, linear in between, 0 outside [x_0, x_{M−1}] (§1.1, §2.2).
    pub fn density(&self, z: f64) -> f64 {
        let last = self.nodes.len() - 1;
        if z < self.nodes[0] || z > self.nodes[last] {
            return 0.0;
        }
        if z == self.nodes[last] {
            return self.y[last];
        }
        let j = self.segment(z);
        let t = z - self.nodes[j];
        if t == 0.0 {
            return self.y[j];
        }
        self.y[j] + (self.y[j + 1] - self.y[j]) * t / (self.nodes[j + 1] - self.nodes[j])
    }

    /// F(z), the exact quadratic CDF (§1.1): 0 for z ≤ x_0, 1 for z ≥ x_{M−1}.
    pub fn cdf(&self, z: f64) -> f64 {
        let last = self.nodes.len() - 1;
        if z <= self.nodes[0] {
            return 0.0;
        }
        if z >= self.nodes[last] {
            return 1.0;
        }
        let j = self.segment(z);
        segment_cdf(self.cumulative[j], self.y[j], self.y[j + 1], self.nodes[j + 1] - self.nodes[j], z - self.nodes[j])
            .clamp(0.0, 1.0)
    }

    /// inf{z : F(z) ≥ p} for p in (0, 1], solved exactly inside its segment (§2.4): the first
    /// segment whose end reaches p, then the positive root of the quadratic.
    pub fn quantile(&self, p: f64) -> f64 {
        let last = self.nodes.len() - 1;
        let reached = self.cumulative.partition_point(|&c| c < p);
        if reached == 0 || reached > last {
            return self.nodes[reached.min(last)];
        }
        let j = reached - 1;
        let h = self.nodes[j + 1] - self.nodes[j];
        let t = quadratic_root(p - self.cumulative[j], self.y[j], (self.y[j + 1] - self.y[j]) / (2.0 * h));
        self.nodes[j] + t.clamp(0.0, h)
    }

    /// The first node of maximal density (§2.4).
    pub fn mode(&self) -> f64 {
        self.nodes[first_max(&self.y)]
    }

    /// ∫ z f(z) dz, exact: Σ_j h_j [x_j (2y_j + y_{j+1}) + x_{j+1} (y_j + 2y_{j+1})]/6.
    pub fn mean(&self) -> f64 {
        self.segments().map(|(x0, x1, y0, y1)| (x1 - x0) * (x0 * (2.0 * y0 + y1) + x1 * (y0 + 2.0 * y1)) / 6.0).sum()
    }

    /// ∫ (z − mean)² f(z) dz, exact: with a = x_j − mean and b = x_{j+1} − mean,
    /// Σ_j h_j [y_j (3a² + 2ab + b²) + y_{j+1} (a² + 2ab + 3b²)]/12.
    pub fn variance(&self) -> f64 {
        self.variance_about(self.mean())
    }

    /// [`Grid::variance`] given the mean.
    pub(crate) fn variance_about(&self, mean: f64) -> f64 {
        self.segments()
            .map(|(x0, x1, y0, y1)| {
                let (a, b) = (x0 - mean, x1 - mean);
                (x1 - x0) * (y0 * (3.0 * a * a + 2.0 * a * b + b * b) + y1 * (a * a + 2.0 * a * b + 3.0 * b * b)) / 12.0
            })
            .sum()
    }

    /// `(x_j, x_{j+1}, y_j, y_{j+1})` of every segment.
    pub(crate) fn segments(&self) -> impl Iterator<Item = (f64, f64, f64, f64)> + '_ {
        self.nodes.windows(2).zip(self.y.windows(2)).map(|(x, y)| (x[0], x[1], y[0], y[1]))
    }
}

/// The trapezoid CDF at the nodes, C_0 = 0 and C_{j+1} = C_j + (h_j · 0.5) · (y_j + y_{j+1})
/// (qp's `interp` cumulative order).
fn trapezoid_cumulative(nodes: &[f64], y: &[f64]) -> Vec<f64> {
    let mut cumulative = Vec::with_capacity(y.len());
    let mut c = 0.0;
    cumulative.push(c);
    for (x, y) in nodes.windows(2).zip(y.windows(2)) {
        c += (x[1] - x[0]) * 0.5 * (y[1] + y[0]);
        cumulative.push(c);
    }
    cumulative
}

/// F at offset t into a segment of width h that starts at CDF c with densities y0, y1 (§1.1).
fn segment_cdf(c: f64, y0: f64, y1: f64, h: f64, t: f64) -> f64 {
    c + y0 * t + (y1 - y0) * t * t / (2.0 * h)
}

/// The root t ≥ 0 of a t² + b t = r for r > 0, b ≥ 0 and b² + 4ar ≥ 0, in the form without
/// cancellation: t = 2r / (b + √(b² + 4ar)).
pub(crate) fn quadratic_root(r: f64, b: f64, a: f64) -> f64 {
    if r <= 0.0 {
        return 0.0;
    }
    2.0 * r / (b + (b * b + 4.0 * a * r).max(0.0).sqrt())
}

/// The index of the first maximal value.
pub(crate) fn first_max(values: &[f64]) -> usize {
    values.iter().enumerate().fold(0, |best, (i, &v)| if v > values[best] { i } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangle_pdf_moments() {
        // A triangle on [0, 2] peaking at 1: mean 1, variance 1/6, median 1, F(0.5) = 1/8.
        let nodes = [0.0, 1.0, 2.0];
        let g = Grid::new(&nodes, &[0.0, 3.0, 0.0]);
        assert_eq!(g.densities(), &[0.0, 1.0, 0.0]);
        assert_eq!(g.mean(), 1.0);
        assert!((g.variance() - 1.0 / 6.0).abs() < 1e-16);
        assert_eq!(g.quantile(0.5), 1.0);
        assert_eq!(g.cdf(0.5), 0.125);
        assert_eq!(g.cdf(-1.0), 0.0);
        assert_eq!(g.cdf(2.0), 1.0);
        assert_eq!(g.density(1.5), 0.5);
        assert_eq!(g.mode(), 1.0);
        assert!((g.quantile(0.125) - 0.5).abs() < 1e-16);
    }
}
