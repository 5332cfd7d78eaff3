//! The stacked n(z) per tomographic bin (`docs/PDF_METRICS.md` §2.5): galaxies binned
//! right-closed on their mode (samples: median), each bin's stacked n(z) the mean of its PDFs,
//! compared with the bin's true redshifts by mean, width and KS distance.

use rayon::prelude::*;
use serde::Serialize;

use super::grid::Grid;
use super::histogram::Histogram;
use super::normal::normal_cdf;
use super::representation::{Pdf, Pdfs, RawPdf, Representation};
use super::values::GalaxyValues;
use crate::stats::{mean_by, pairwise_sum};
use crate::{BinOn, Bins, Result};

/// The spec's default tomographic edges for real data (§2.5, issue 15's `--nz-edges`).
pub const DEFAULT_NZ_EDGES: [f64; 8] = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 2.0, 3.0];

/// Each interval of truths holding more than this many truths is cut in this many parts before
/// the branch-and-bound search of the mixture KS distance starts.
const KS_FIRST_PARTS: usize = 32;

/// The JSON's `nz` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nz {
    /// `z_mode`, or `z_median` for samples.
    pub on: &'static str,
    /// Always `"right"`: bins are (lo, hi].
    pub closed: &'static str,
    pub edges: Vec<f64>,
    pub bins: Vec<NzBin>,
}

/// One tomographic bin; every value `None` (null) when the bin is empty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NzBin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    /// mean_i E_i(z).
    pub mean_stacked: Option<f64>,
    /// √(mean_i Var_i + mean_i (E_i(z) − mean_stacked)²), the law of total variance.
    pub std_stacked: Option<f64>,
    /// The mean of the bin's true redshifts.
    pub mean_true: Option<f64>,
    /// Their population standard deviation (ddof 0).
    pub std_true: Option<f64>,
    /// mean_stacked − mean_true.
    pub delta_mean: Option<f64>,
    /// std_stacked / std_true; `None` when std_true = 0.
    pub width_ratio: Option<f64>,
    /// sup_z |mean_i F_i(z) − ECDF_true(z)|; `None` too where it was not asked for (bootstrap
    /// replicates).
    pub nz_ks: Option<f64>,
}

impl Nz {
    /// The n(z) of the galaxies `rows` (indices into `galaxies`) in the tomographic bins `edges`.
    /// `pdfs` (the PDFs `galaxies` come from) gives the KS distances; without it they are `None`.
    pub(crate) fn of(
        galaxies: &[GalaxyValues],
        rows: &[usize],
        representation: Representation,
        edges: &Bins,
        pdfs: Option<&Pdfs>,
    ) -> Nz {
        let on_mode = representation != Representation::Samples;
        let binned_on = |g: &GalaxyValues| if on_mode { g.z_mode.unwrap_or(g.z_median) } else { g.z_median };
        let mut members = vec![Vec::new(); edges.len()];
        for &i in rows {
            if let Some(b) = edges.locate(binned_on(&galaxies[i])) {
                members[b].push(i);
            }
        }
        let bins = members
            .par_iter()
            .enumerate()
            .map(|(b, rows)| {
                let (lo, hi) = edges.interval(b);
                nz_bin(galaxies, rows, lo, hi, pdfs)
            })
            .collect();
        Nz { on: if on_mode { "z_mode" } else { "z_median" }, closed: "right", edges: edges.edges.clone(), bins }
    }
}

/// Tomographic bins from `edges` (validated like redshift bins: at least two, increasing).
pub(crate) fn tomographic_bins(edges: &[f64]) -> Result<Bins> {
    Bins::new(BinOn::ZPhot, edges.to_vec())
}

/// One bin's statistics (§2.5).
fn nz_bin(galaxies: &[GalaxyValues], rows: &[usize], lo: f64, hi: f64, pdfs: Option<&Pdfs>) -> NzBin {
    let m = rows.len();
    if m == 0 {
        return NzBin {
            lo,
            hi,
            count: 0,
            mean_stacked: None,
            std_stacked: None,
            mean_true: None,
            std_true: None,
            delta_mean: None,
            width_ratio: None,
            nz_ks: None,
        };
    }
    let at = |j: usize| &galaxies[rows[j]];
    let mean_stacked = mean_by(m, &|j| at(j).z_mean);
    let within = mean_by(m, &|j| at(j).variance);
    let between = mean_by(m, &|j| (at(j).z_mean - mean_stacked).powi(2));
    let std_stacked = (within + between).sqrt();
    let mean_true = mean_by(m, &|j| at(j).z_spec);
    let std_true = mean_by(m, &|j| (at(j).z_spec - mean_true).powi(2)).sqrt();
    let nz_ks = pdfs.map(|pdfs| {
        let mut truths: Vec<f64> = rows.iter().map(|&i| galaxies[i].z_spec).collect();
        truths.sort_by(f64::total_cmp);
        stacked_ks(pdfs, rows, &truths)
    });
    NzBin {
        lo,
        hi,
        count: m,
        mean_stacked: Some(mean_stacked),
        std_stacked: Some(std_stacked),
        mean_true: Some(mean_true),
        std_true: Some(std_true),
        delta_mean: Some(mean_stacked - mean_true),
        width_ratio: (std_true != 0.0).then(|| std_stacked / std_true),
        nz_ks,
    }
}

/// sup_z |G(z) − ECDF(z)| for G = mean_i F_i over the PDFs `rows` of `pdfs` and the sorted
/// truths (§2.5).
fn stacked_ks(pdfs: &Pdfs, rows: &[usize], truths: &[f64]) -> f64 {
    match pdfs.representation() {
        Representation::Samples => samples_ks(pdfs, rows, truths),
        Representation::Grid | Representation::Histogram => {
            // Grids (histograms) on shared nodes (edges) stack into one grid (histogram) whose
            // densities are the mean of the normalised densities (divided as `Grid::new` and
            // `Histogram::new` divide them, without building each PDF); its CDF is G, continuous.
            let mut mean: Vec<f64> = Vec::new();
            let mut axis: &[f64] = &[];
            for &i in rows {
                let (nodes, densities, mass) = match pdfs.raw(i) {
                    RawPdf::Grid { nodes, densities } => (nodes, densities, Grid::mass(nodes, densities)),
                    RawPdf::Histogram { edges, densities } => (edges, densities, Histogram::mass(edges, densities)),
                    _ => unreachable!("the representation is a grid or a histogram"),
                };
                axis = nodes;
                mean.resize(densities.len(), 0.0);
                mean.iter_mut().zip(densities).for_each(|(s, v)| *s += v / mass);
            }
            mean.iter_mut().for_each(|s| *s /= rows.len() as f64);
            if pdfs.representation() == Representation::Grid {
                let stacked = Grid::new(axis, &mean);
                continuous_ks(truths, |t| stacked.cdf(t))
            } else {
                let stacked = Histogram::new(axis, &mean);
                continuous_ks(truths, |t| stacked.cdf(t))
            }
        }
        Representation::Mixture => {
            let mixtures: Vec<TailedMixture> = rows.iter().map(|&i| TailedMixture::new(pdfs.raw(i))).collect();
            mixture_ks(&mixtures, truths)
        }
    }
}

/// D_k = max(|G(t_k) − k/m|, |G(t_k) − (k − 1)/m|) for 1-based k (§2.5), with `g` = G(t_k).
fn distance_at(k: usize, g: f64, m: f64) -> f64 {
    (g - k as f64 / m).max((k + 1) as f64 / m - g)
}

/// max_k D_k for a continuous G evaluated at every sorted truth.
fn continuous_ks(truths: &[f64], g: impl Fn(f64) -> f64) -> f64 {
    let m = truths.len() as f64;
    truths.iter().enumerate().fold(0.0, |best, (k, &t)| best.max(distance_at(k, g(t), m)))
}

/// A mixture's CDF evaluated from its stored parameters (no normalised copy: a bin may hold
/// every galaxy), bit for bit [`super::Mixture::cdf`], with its flat tails found without evaluating Φ:
/// Cephes' Φ(x) is exactly 0 for x ≤ −38.5 (erfc underflows) and exactly 1 for x ≥ 8.5
/// (1 − Φ(−x) < 2⁻⁵⁴), so F(t) is 0 at or below min(μ − 39σ) and Σw (clamped) at or above
/// max(μ + 9σ).
struct TailedMixture<'a> {
    raw: RawPdf<'a>,
    total: f64,
    below: f64,
    above: f64,
    mass: f64,
}

impl<'a> TailedMixture<'a> {
    /// `raw` must be a mixture's parameters.
    fn new(raw: RawPdf<'a>) -> Self {
        let total = match raw {
            RawPdf::Mixture { weights, .. } => pairwise_sum(weights),
            _ => 1.0,
        };
        let tailed = TailedMixture { raw, total, below: f64::INFINITY, above: f64::NEG_INFINITY, mass: 0.0 };
        let mass: f64 = tailed.components().map(|(w, _, _)| w).sum();
        let (below, above) =
            tailed.components().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, mean, sigma)| {
                (lo.min(mean - 39.0 * sigma), hi.max(mean + 9.0 * sigma))
            });
        TailedMixture { below, above, mass: mass.clamp(0.0, 1.0), ..tailed }
    }

    /// The components of positive weight as `Mixture::new` normalises them: (w/Σw, μ, σ).
    fn components(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        let (weights, means, sigmas): (&[f64], &[f64], &[f64]) = match self.raw {
            RawPdf::Mixture { weights, means, sigmas } => (weights, means, sigmas),
            _ => (&[], &[], &[]),
        };
        let total = self.total;
        weights
            .iter()
            .zip(means)
            .zip(sigmas)
            .filter(|((&w, _), _)| w > 0.0)
            .map(move |((&w, &m), &s)| (w / total, m, s))
    }

    fn cdf(&self, t: f64) -> f64 {
        if t <= self.below {
            0.0
        } else if t >= self.above {
            self.mass
        } else {
            let f: f64 = self.components().map(|(w, mean, sigma)| w * normal_cdf((t - mean) / sigma)).sum();
            f.clamp(0.0, 1.0)
        }
    }
}

/// max_k D_k for the mean CDF of Gaussian mixtures, by branch and bound over the sorted truths:
/// G is evaluated exactly (O(m K) each) at a coarse subset, and an interval (a, b) of truths is
/// split further only while its bound max(G(t_b) − (a + 1)/m, b/m − G(t_a)) — which holds for
/// every D_k inside, as G is non-decreasing — exceeds the best D found. The result is the exact
/// maximum over all truths with far fewer than m evaluations of G.
fn mixture_ks(mixtures: &[TailedMixture], truths: &[f64]) -> f64 {
    let m = truths.len();
    let mf = m as f64;
    let stacked = |k: usize| mixtures.iter().map(|x| x.cdf(truths[k])).sum::<f64>() / mf;
    let evaluate = |ks: &[usize]| -> Vec<f64> { ks.par_iter().map(|&k| stacked(k)).collect() };
    let step = m.div_ceil(KS_FIRST_PARTS).max(1);
    let mut known: Vec<usize> = (0..m).step_by(step).collect();
    if known.last() != Some(&(m - 1)) {
        known.push(m - 1);
    }
    let values = evaluate(&known);
    let mut best = known.iter().zip(&values).fold(0.0f64, |d, (&k, &g)| d.max(distance_at(k, g, mf)));
    let mut open: Vec<(usize, f64, usize, f64)> =
        known.windows(2).zip(values.windows(2)).map(|(k, g)| (k[0], g[0], k[1], g[1])).collect();
    loop {
        open.retain(|&(a, ga, b, gb)| b > a + 1 && (gb - (a + 1) as f64 / mf).max(b as f64 / mf - ga) > best);
        if open.is_empty() {
            return best;
        }
        let middles: Vec<usize> = open.iter().map(|&(a, _, b, _)| a + (b - a) / 2).collect();
        let values = evaluate(&middles);
        best = middles.iter().zip(&values).fold(best, |d, (&k, &g)| d.max(distance_at(k, g, mf)));
        open = open
            .iter()
            .zip(middles.iter().zip(&values))
            .flat_map(|(&(a, ga, b, gb), (&c, &gc))| [(a, ga, c, gc), (c, gc, b, gb)])
            .collect();
    }
}

/// §2.5 for samples: both the stacked CDF (the ECDF of all draws pooled, every galaxy having S
/// draws) and the truths' ECDF are step functions, so the sup is taken at every draw and truth.
fn samples_ks(pdfs: &Pdfs, rows: &[usize], truths: &[f64]) -> f64 {
    let mut draws: Vec<f64> = Vec::new();
    for &i in rows {
        if let Pdf::Samples(s) = pdfs.galaxy(i) {
            draws.extend_from_slice(s.sorted());
        }
    }
    draws.sort_by(f64::total_cmp);
    let (nd, nt) = (draws.len() as f64, truths.len() as f64);
    let (mut i, mut j, mut best) = (0, 0, 0.0f64);
    while i < draws.len() || j < truths.len() {
        let next = match (draws.get(i), truths.get(j)) {
            (Some(&d), Some(&t)) => d.min(t),
            (Some(&d), None) => d,
            (None, Some(&t)) => t,
            (None, None) => unreachable!(),
        };
        i += draws[i..].partition_point(|&d| d <= next);
        j += truths[j..].partition_point(|&t| t <= next);
        best = best.max((i as f64 / nd - j as f64 / nt).abs());
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_and_bound_finds_the_full_maximum() {
        // Mixtures whose stacked CDF differs from the truths' ECDF in a spiky way.
        let n = 700;
        let (mut weights, mut means, mut sigmas) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let c = (i as f64 * 0.618_033_988_75).fract();
            weights.extend([0.6, 0.4]);
            means.extend([c, c + 0.2]);
            sigmas.extend([0.01 + 0.05 * c, 0.02]);
        }
        let pdfs = Pdfs::mixture(2, weights, means, sigmas).unwrap();
        let mixtures: Vec<Pdf> = (0..n).map(|i| pdfs.galaxy(i)).collect();
        let tailed: Vec<TailedMixture> = (0..n).map(|i| TailedMixture::new(pdfs.raw(i))).collect();
        let mut truths: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 / n as f64 * 1.2 - 0.05).collect();
        truths.sort_by(f64::total_cmp);
        let brute = continuous_ks(&truths, |t| mixtures.iter().map(|x| x.cdf(t)).sum::<f64>() / n as f64);
        // Evaluated from the stored parameters with the tails' shortcut: the same bits as the
        // normalised mixture's CDF.
        for &t in &truths {
            for (x, y) in mixtures.iter().zip(&tailed) {
                assert_eq!(y.cdf(t), x.cdf(t));
            }
        }
        assert_eq!(mixture_ks(&tailed, &truths), brute);
    }
}
