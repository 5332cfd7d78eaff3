//! The two dialects of every PDF metric (`docs/PDF_METRICS.md`, introduction and §3), and the
//! rail dialect's per-galaxy quantities: qp 1.1.4's own PDF and CDF algorithms, reproduced in
//! their order of operations, evaluated at the truth and on RAIL's fixed grids.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::normal::{normal_cdf, normal_pdf};
use super::representation::{Origin, RawPdf};
use crate::linspace;
use crate::stats::{pairwise_sum, pairwise_sum_by};

/// Which definitions the metrics follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Exact values: closed forms and exact integration (§2). The default.
    #[default]
    Pzbench,
    /// What qp 1.1.4 / RAIL 2.0.11 report for the same PDFs, for comparison with published RAIL
    /// numbers (§3; §4 lists every difference).
    Rail,
}

/// The fixed redshift grids on which the rail dialect evaluates PDFs for the CDE loss and the
/// mode (§3 "cde_loss", "point_on_mode", "old_evaluator").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RailGrid {
    /// `linspace(0, 3, 301)`: RAIL's KNN and FlexZBoost grid, and `ensemble.mode`'s in §3.
    Estimators,
    /// `linspace(0, 2.5, 301)`: qp `CDELossMetric`'s default (RAIL's `DistToPointEvaluator`).
    QpDefault,
    /// `linspace(0, 3, 302)`: RAIL's `OldEvaluator` (zmin, zmax, nzbins + 1).
    OldEvaluator,
}

impl RailGrid {
    /// The three grids, in the order of the reference files' `cde_loss` lists.
    pub const ALL: [RailGrid; 3] = [RailGrid::Estimators, RailGrid::QpDefault, RailGrid::OldEvaluator];

    /// The grid's position in [`RailGrid::ALL`] (and in [`RailGalaxy`]'s arrays).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The grid as the reference files label it, e.g. `numpy.linspace(0, 3, 301)`.
    pub const fn label(self) -> &'static str {
        match self {
            RailGrid::Estimators => "numpy.linspace(0, 3, 301)",
            RailGrid::QpDefault => "numpy.linspace(0, 2.5, 301)",
            RailGrid::OldEvaluator => "numpy.linspace(0, 3, 302)",
        }
    }

    /// The nodes (numpy `linspace`).
    pub fn nodes(self) -> Vec<f64> {
        match self {
            RailGrid::Estimators => linspace(0.0, 3.0, 300),
            RailGrid::QpDefault => linspace(0.0, 2.5, 300),
            RailGrid::OldEvaluator => linspace(0.0, 3.0, 301),
        }
    }
}

/// One galaxy's quantities in the rail dialect (§3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RailGalaxy {
    /// The true redshift.
    pub z_spec: f64,
    /// qp's `ensemble.cdf(z_spec)`, non-finite values replaced by 0.
    pub pit: f64,
    /// `trapezoid(f(X)², X)` on each [`RailGrid`] X, in [`RailGrid::ALL`] order.
    pub int_f2: [f64; 3],
    /// f at the node of X nearest the truth (first on ties), per grid.
    pub pdf_at_node: [f64; 3],
    /// The first node of maximal f on each grid (qp's `ensemble.mode(grid)`).
    pub mode: [f64; 3],
    /// Σ (P − T)² of qp's `calculate_brier`: P the densities on the Brier grid, T the one-hot
    /// truth.
    pub brier: f64,
}

/// qp `calculate_brier(ensemble, z, limits=(0, 3), dx=0.01)`'s grid (§3 "brier"): limits widened
/// to every truth, `N = int((hi − lo)/dx)` points, and the one-hot bins centred on them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BrierGrid {
    points: Vec<f64>,
    edges: Vec<f64>,
}

impl BrierGrid {
    /// The grid for a set whose truths span [`lo`, `hi`] (`_prepare_for_brier`,
    /// `_calculate_grid_parameters`).
    pub(crate) fn new(z_min: f64, z_max: f64) -> Self {
        const DX: f64 = 0.01;
        let (lo, hi) = if z_min < 0.0 || z_max > 3.0 { (z_min.min(0.0), z_max.max(3.0)) } else { (0.0, 3.0) };
        let n = ((hi - lo) / DX) as usize;
        let resolution = (hi - lo) / (n - 1) as f64;
        BrierGrid { points: linspace(lo, hi, n - 1), edges: linspace(lo - resolution / 2.0, hi + resolution / 2.0, n) }
    }

    /// The one-hot bin of `z`: `np.histogram` on the edges, bins [e_j, e_{j+1}), the last closed.
    fn bin(&self, z: f64) -> Option<usize> {
        let last = self.edges.len() - 1;
        if !(self.edges[0] <= z && z <= self.edges[last]) {
            return None;
        }
        Some((self.edges.partition_point(|&e| e <= z) - 1).min(last - 1))
    }
}

/// The grids of one rail evaluation: the three [`RailGrid`]s and the set's Brier grid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RailGrids {
    grids: [Vec<f64>; 3],
    brier: BrierGrid,
}

impl RailGrids {
    pub(crate) fn new(brier: BrierGrid) -> Self {
        RailGrids { grids: RailGrid::ALL.map(RailGrid::nodes), brier }
    }
}

/// The rail dialect's quantities of one galaxy (not samples: qp has no sample representation).
pub(crate) fn rail_galaxy(raw: RawPdf, origin: Origin, z: f64, grids: &RailGrids) -> RailGalaxy {
    let qp = QpPdf::new(raw, origin);
    let pit = qp.cdf(z);
    let mut on_grid = Vec::new();
    let mut int_f2 = [0.0; 3];
    let mut pdf_at_node = [0.0; 3];
    let mut mode = [0.0; 3];
    for (g, nodes) in grids.grids.iter().enumerate() {
        qp.pdf_on(nodes, &mut on_grid);
        int_f2[g] = trapezoid_of_squares(nodes, &on_grid);
        pdf_at_node[g] = on_grid[nearest_node(nodes, z)];
        mode[g] = nodes[super::grid::first_max(&on_grid)];
    }
    qp.pdf_on(&grids.brier.points, &mut on_grid);
    let hot = grids.brier.bin(z);
    let brier = pairwise_sum_by(on_grid.len(), &|j| {
        let miss = on_grid[j] - if hot == Some(j) { 1.0 } else { 0.0 };
        miss * miss
    });
    RailGalaxy { z_spec: z, pit: if pit.is_finite() { pit } else { 0.0 }, int_f2, pdf_at_node, mode, brier }
}

/// numpy `trapezoid(y**2, x)`: the pairwise sum of `(x_{j+1} − x_j) · (y²_{j+1} + y²_j) / 2`.
fn trapezoid_of_squares(x: &[f64], y: &[f64]) -> f64 {
    pairwise_sum_by(x.len() - 1, &|j| (x[j + 1] - x[j]) * (y[j + 1] * y[j + 1] + y[j] * y[j]) / 2.0)
}

/// `argmin |x − z|` (first on ties): one of the two nodes around z.
fn nearest_node(x: &[f64], z: f64) -> usize {
    let above = x.partition_point(|&v| v < z).min(x.len() - 1);
    if above > 0 && (x[above - 1] - z).abs() <= (x[above] - z).abs() {
        above - 1
    } else {
        above
    }
}

/// scipy `interp1d(x, y, kind="linear")` on a 2-D y (`_call_linear`): the segment found by
/// `searchsorted(x, v, "left")` clipped to [1, M − 1], so a node x_j > x_0 is reached from the
/// left segment, `slope · (v − x_lo) + y_lo`; `below`/`above` outside [x_0, x_{M−1}].
fn interp1d_linear(x: &[f64], y: &[f64], v: f64, below: f64, above: f64) -> f64 {
    let last = x.len() - 1;
    if v < x[0] {
        return below;
    }
    if v > x[last] {
        return above;
    }
    let hi = x.partition_point(|&node| node < v).clamp(1, last);
    let lo = hi - 1;
    let slope = (y[hi] - y[lo]) / (x[hi] - x[lo]);
    slope * (v - x[lo]) + y[lo]
}

/// qp normalises every PDF when it builds an ensemble, and a file it writes holds the normalised
/// values. Values of a table ([`Origin::Table`]) whose total is within this of 1 are taken as
/// the values qp holds (the reference files' CSVs hold exactly those: their rail values were
/// computed on them); others are normalised as qp's constructor does.
const QP_NORMALISED: f64 = 1e-12;

/// `values / total`, unless `total` says they are qp's already-normalised values.
fn qp_normalised(values: &[f64], total: f64) -> Vec<f64> {
    if (total - 1.0).abs() <= QP_NORMALISED {
        values.to_vec()
    } else {
        divided(values, total)
    }
}

fn divided(values: &[f64], total: f64) -> Vec<f64> {
    values.iter().map(|v| v / total).collect()
}

/// The values qp's constructor starts from: a table's as they are; a qp file's normalised once
/// already, as `qp.read` normalises them twice (§3) and [`QpPdf::new`] does the second time.
fn constructor_input(values: &[f64], total: impl Fn(&[f64]) -> f64, origin: Origin) -> Cow<'_, [f64]> {
    match origin {
        Origin::Table => Cow::Borrowed(values),
        Origin::QpFile => Cow::Owned(divided(values, total(values))),
    }
}

/// The last normalisation of qp's constructor: forced for a qp file's values, else
/// [`qp_normalised`].
fn constructor_output(values: &[f64], total: f64, origin: Origin) -> Vec<f64> {
    match origin {
        Origin::Table => qp_normalised(values, total),
        Origin::QpFile => divided(values, total),
    }
}

/// `interp_gen._compute_ycumul`'s total: the trapezoid sum, node by node.
fn trapezoid_total(nodes: &[f64], densities: &[f64]) -> f64 {
    nodes
        .windows(2)
        .zip(densities.windows(2))
        .fold(0.0, |running, (x, y)| running + (x[1] - x[0]) * 0.5 * (y[1] + y[0]))
}

/// One galaxy's PDF as qp 1.1.4 holds and evaluates it.
enum QpPdf<'a> {
    /// `mixmod`: weights divided by their (numpy) sum; f and F summed over components in order.
    Mixture { weights: Vec<f64>, means: &'a [f64], sigmas: &'a [f64] },
    /// `interp`: normalised densities, and the cumulative whose first node holds ½ y_0 h_0
    /// (§4 "grid CDF").
    Grid { nodes: &'a [f64], y: Vec<f64>, cumulative: Vec<f64> },
    /// `hist`: normalised densities, their cumulative (0 at e_0) and qp's bin lookup (arithmetic
    /// for equal widths, `np.allclose`).
    Histogram { edges: &'a [f64], p: Vec<f64>, cumulative: Vec<f64>, equal_widths: bool },
}

impl<'a> QpPdf<'a> {
    /// The PDF qp builds from `raw`'s parameters read from `origin`.
    fn new(raw: RawPdf<'a>, origin: Origin) -> Self {
        match raw {
            RawPdf::Mixture { weights, means, sigmas } => {
                let weights = constructor_input(weights, pairwise_sum, origin);
                QpPdf::Mixture { weights: constructor_output(&weights, pairwise_sum(&weights), origin), means, sigmas }
            }
            RawPdf::Grid { nodes, densities } => {
                let densities = constructor_input(densities, |y| trapezoid_total(nodes, y), origin);
                // `interp_gen._compute_ycumul`, then `normalize`.
                let mut cumulative = Vec::with_capacity(densities.len());
                cumulative.push(0.5 * densities[0] * (nodes[1] - nodes[0]));
                let mut running = 0.0;
                for (x, y) in nodes.windows(2).zip(densities.windows(2)) {
                    running += (x[1] - x[0]) * 0.5 * (y[1] + y[0]);
                    cumulative.push(running);
                }
                // qp holds its cumulative divided by its total (so 1 at the last node) in either case.
                let total = running;
                cumulative.iter_mut().for_each(|c| *c /= total);
                QpPdf::Grid { nodes, y: constructor_output(&densities, total, origin), cumulative }
            }
            RawPdf::Histogram { edges, densities } => {
                let width = |j: usize| edges[j + 1] - edges[j];
                let mass = |p: &[f64]| pairwise_sum_by(p.len(), &|j| p[j] * width(j));
                let densities = constructor_input(densities, mass, origin);
                let p = constructor_output(&densities, mass(&densities), origin);
                let mut cumulative = Vec::with_capacity(edges.len());
                let mut running = 0.0;
                cumulative.push(running);
                for (j, pj) in p.iter().enumerate() {
                    running += pj * width(j);
                    cumulative.push(running);
                }
                let w0 = width(0);
                let equal_widths = (0..p.len()).all(|j| (width(j) - w0).abs() <= 1e-8 + 1e-5 * w0.abs());
                QpPdf::Histogram { edges, p, cumulative, equal_widths }
            }
            RawPdf::Samples { .. } => unreachable!("the rail dialect rejects sample PDFs before evaluating"),
        }
    }

    /// `ensemble.cdf(z)` (§3 "PIT", §4).
    fn cdf(&self, z: f64) -> f64 {
        match self {
            QpPdf::Mixture { weights, means, sigmas } => {
                (0..weights.len()).map(|k| weights[k] * normal_cdf((z - means[k]) / sigmas[k])).sum()
            }
            QpPdf::Grid { nodes, cumulative, .. } => interp1d_linear(nodes, cumulative, z, 0.0, 1.0),
            QpPdf::Histogram { edges, cumulative, .. } => interp1d_linear(edges, cumulative, z, 0.0, 1.0),
        }
    }

    /// `ensemble.pdf(x)` at every node of `x` (increasing, so qp's sorted-x bug of §4 does not
    /// arise), into `out`.
    fn pdf_on(&self, x: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(x.iter().map(|&v| self.pdf(v)));
    }

    fn pdf(&self, v: f64) -> f64 {
        match self {
            QpPdf::Mixture { weights, means, sigmas } => {
                (0..weights.len()).map(|k| weights[k] * (normal_pdf((v - means[k]) / sigmas[k]) / sigmas[k])).sum()
            }
            QpPdf::Grid { nodes, y, .. } => interp1d_linear(nodes, y, v, 0.0, 0.0),
            QpPdf::Histogram { edges, p, equal_widths, .. } => {
                // Equal widths: floor((x − e_0)/w); otherwise the bin to the LEFT of an edge (§4).
                let bin = if *equal_widths {
                    ((v - edges[0]) / (edges[1] - edges[0])).floor()
                } else {
                    edges.partition_point(|&e| e < v) as f64 - 1.0
                };
                if bin >= 0.0 && bin < p.len() as f64 {
                    p[bin as usize]
                } else {
                    0.0
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_interpolation_reaches_nodes_from_the_left() {
        let x = [0.0, 1.0, 2.0];
        let y = [0.0, 0.3, 0.1];
        assert_eq!(interp1d_linear(&x, &y, 0.0, -1.0, 9.0), 0.0);
        assert_eq!(interp1d_linear(&x, &y, 1.0, -1.0, 9.0), 0.3);
        assert_eq!(interp1d_linear(&x, &y, -0.5, -1.0, 9.0), -1.0);
        assert_eq!(interp1d_linear(&x, &y, 2.5, -1.0, 9.0), 9.0);
    }

    #[test]
    fn nearest_node_prefers_the_first_on_ties() {
        let x = [0.0, 1.0, 2.0];
        assert_eq!(nearest_node(&x, 0.5), 0);
        assert_eq!(nearest_node(&x, 0.6), 1);
        assert_eq!(nearest_node(&x, -3.0), 0);
        assert_eq!(nearest_node(&x, 7.0), 2);
    }

    #[test]
    fn brier_grid_is_qps() {
        let grid = BrierGrid::new(0.1, 2.9);
        assert_eq!(grid.points.len(), 300);
        assert_eq!(grid.edges.len(), 301);
        assert_eq!(grid.bin(0.0), Some(0));
        assert_eq!(grid.bin(3.0), Some(299));
        assert_eq!(grid.bin(3.1), None);
    }
}
