//! The n(z) KS distance of every tomographic bin of every set (§2.5: sup_z |G(z) − ECDF(z)|, G
//! the mean CDF of the bin's PDFs), computed in passes over the PDFs' blocks ([`PdfSource`]), so
//! that the PDFs need not be held at once: grids and histograms stack their densities in one
//! pass; samples pool their draws in one pass; Gaussian mixtures evaluate G at the truths a
//! branch-and-bound search asks for, every set's search advancing together, one pass a round.
//!
//! Sums over galaxies run in row order, continued from block to block, so the result does not
//! depend on the blocks or the number of threads.

use rayon::prelude::*;

use super::grid::Grid;
use super::histogram::Histogram;
use super::normal::normal_cdf;
use super::nz::{members, MemberRow, Nz};
use super::representation::{Pdf, RawPdf, Representation};
use super::source::PdfSource;
use super::values::GalaxyValues;
use crate::stats::pairwise_sum;
use crate::Bins;

/// Each interval of truths holding more than this many truths is cut in this many parts before
/// the branch-and-bound search of the mixture KS distance starts.
const KS_FIRST_PARTS: usize = 32;

/// One tomographic bin of one set: its galaxies (increasing rows) and their sorted truths.
struct Problem {
    rows: Vec<MemberRow>,
    truths: Vec<f64>,
}

impl Problem {
    /// The position in `rows` of the galaxies of the block `first..first + len`.
    fn within(&self, first: usize, len: usize) -> std::ops::Range<usize> {
        let below = |end: usize| self.rows.partition_point(|&r| (r as usize) < end);
        below(first)..below(first + len)
    }
}

/// Fill the `nz_ks` of every non-empty tomographic bin of each `(rows, nz)` set (rows in
/// increasing order, `nz` that set's [`Nz`] of `galaxies`) from the PDFs of `source`.
pub(crate) fn fill_nz_ks<S: PdfSource>(
    source: &S,
    galaxies: &[GalaxyValues],
    edges: &Bins,
    sets: &mut [(&[usize], &mut Nz)],
) -> Result<(), S::Error> {
    let representation = source.representation();
    let mut problems = Vec::new();
    let mut slots = Vec::new();
    for (s, (rows, _)) in sets.iter().enumerate() {
        for (t, rows) in members(galaxies, rows, representation, edges).into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let mut truths: Vec<f64> = rows.iter().map(|&i| galaxies[i as usize].z_spec).collect();
            truths.sort_by(f64::total_cmp);
            problems.push(Problem { rows, truths });
            slots.push((s, t));
        }
    }
    let distances = match representation {
        Representation::Grid | Representation::Histogram => stacked_density_ks(source, &problems)?,
        Representation::Samples => samples_ks(source, &problems)?,
        Representation::Mixture => mixture_ks(source, &problems)?,
    };
    for ((s, t), d) in slots.into_iter().zip(distances) {
        sets[s].1.bins[t].nz_ks = Some(d);
    }
    Ok(())
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

/// Grids (histograms) on shared nodes (edges) stack into one grid (histogram) whose densities
/// are the mean of the normalised densities (divided as `Grid::new` and `Histogram::new` divide
/// them, without building each PDF); its CDF is G, continuous.
fn stacked_density_ks<S: PdfSource>(source: &S, problems: &[Problem]) -> Result<Vec<f64>, S::Error> {
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); problems.len()];
    let mut axis: Vec<f64> = Vec::new();
    source.for_each_block(&mut |first, block| {
        if axis.is_empty() {
            axis = match block.raw(0) {
                RawPdf::Grid { nodes, .. } => nodes.to_vec(),
                RawPdf::Histogram { edges, .. } => edges.to_vec(),
                _ => Vec::new(),
            };
        }
        sums.par_iter_mut().zip(problems).for_each(|(sum, problem)| {
            for &row in &problem.rows[problem.within(first, block.len())] {
                let (densities, mass) = match block.raw(row as usize - first) {
                    RawPdf::Grid { nodes, densities } => (densities, Grid::mass(nodes, densities)),
                    RawPdf::Histogram { edges, densities } => (densities, Histogram::mass(edges, densities)),
                    _ => continue,
                };
                sum.resize(densities.len(), 0.0);
                sum.iter_mut().zip(densities).for_each(|(s, v)| *s += v / mass);
            }
        });
        Ok(())
    })?;
    let histogram = source.representation() == Representation::Histogram;
    Ok(sums
        .into_par_iter()
        .zip(problems)
        .map(|(mut mean, problem)| {
            mean.iter_mut().for_each(|s| *s /= problem.rows.len() as f64);
            if histogram {
                let stacked = Histogram::new(&axis, &mean);
                continuous_ks(&problem.truths, |t| stacked.cdf(t))
            } else {
                let stacked = Grid::new(&axis, &mean);
                continuous_ks(&problem.truths, |t| stacked.cdf(t))
            }
        })
        .collect())
}

/// §2.5 for samples: both the stacked CDF (the ECDF of all draws pooled, every galaxy having S
/// draws) and the truths' ECDF are step functions, so the sup is taken at every draw and truth.
fn samples_ks<S: PdfSource>(source: &S, problems: &[Problem]) -> Result<Vec<f64>, S::Error> {
    let mut pooled: Vec<Vec<f64>> = vec![Vec::new(); problems.len()];
    source.for_each_block(&mut |first, block| {
        pooled.par_iter_mut().zip(problems).for_each(|(draws, problem)| {
            for &row in &problem.rows[problem.within(first, block.len())] {
                if let Pdf::Samples(s) = block.galaxy(row as usize - first) {
                    draws.extend_from_slice(s.sorted());
                }
            }
        });
        Ok(())
    })?;
    Ok(pooled.into_par_iter().zip(problems).map(|(draws, problem)| step_ks(draws, &problem.truths)).collect())
}

/// sup |ECDF(draws) − ECDF(truths)| over every draw and truth.
fn step_ks(mut draws: Vec<f64>, truths: &[f64]) -> f64 {
    draws.sort_by(f64::total_cmp);
    let (nd, nt) = (draws.len() as f64, truths.len() as f64);
    let (mut i, mut j, mut best) = (0, 0, 0.0f64);
    while i < draws.len() || j < truths.len() {
        let next = match (draws.get(i), truths.get(j)) {
            (Some(&d), Some(&t)) => d.min(t),
            (Some(&d), None) => d,
            (None, Some(&t)) => t,
            (None, None) => break,
        };
        i += draws[i..].partition_point(|&d| d <= next);
        j += truths[j..].partition_point(|&t| t <= next);
        best = best.max((i as f64 / nd - j as f64 / nt).abs());
    }
    best
}

/// A mixture's CDF evaluated from its stored parameters (no normalised copy), bit for bit
/// [`super::Mixture::cdf`], with its flat tails found without evaluating Φ: Cephes' Φ(x) is
/// exactly 0 for x ≤ −38.5 (erfc underflows) and exactly 1 for x ≥ 8.5 (1 − Φ(−x) < 2⁻⁵⁴), so
/// F(t) is 0 at or below min(μ − 39σ) and Σw (clamped) at or above max(μ + 9σ).
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

/// The branch-and-bound search of one bin's max_k D_k for a continuous G: G is evaluated exactly
/// at a coarse subset of the sorted truths, and an interval (a, b) of truths is split further
/// only while its bound max(G(t_b) − (a + 1)/m, b/m − G(t_a)) — which holds for every D_k inside,
/// as G is non-decreasing — exceeds the best D found. The result is the exact maximum over all
/// truths with far fewer than m evaluations of G.
struct Search {
    m: usize,
    best: f64,
    /// Intervals (a, G(t_a), b, G(t_b)) still to search.
    open: Vec<(usize, f64, usize, f64)>,
    /// The truths whose G the next round needs.
    asked: Vec<usize>,
}

impl Search {
    fn new(m: usize) -> Self {
        let step = m.div_ceil(KS_FIRST_PARTS).max(1);
        let mut asked: Vec<usize> = (0..m).step_by(step).collect();
        if asked.last() != Some(&(m - 1)) {
            asked.push(m - 1);
        }
        Search { m, best: 0.0, open: Vec::new(), asked }
    }

    /// Take the values G(t_k) of the truths asked for, and decide what to ask next.
    fn receive(&mut self, values: &[f64]) {
        let mf = self.m as f64;
        self.best = self.asked.iter().zip(values).fold(self.best, |d, (&k, &g)| d.max(distance_at(k, g, mf)));
        self.open = if self.open.is_empty() {
            // The first round: the coarse subset's neighbours.
            self.asked.windows(2).zip(values.windows(2)).map(|(k, g)| (k[0], g[0], k[1], g[1])).collect()
        } else {
            self.open
                .iter()
                .zip(self.asked.iter().zip(values))
                .flat_map(|(&(a, ga, b, gb), (&c, &gc))| [(a, ga, c, gc), (c, gc, b, gb)])
                .collect()
        };
        let best = self.best;
        self.open.retain(|&(a, ga, b, gb)| b > a + 1 && (gb - (a + 1) as f64 / mf).max(b as f64 / mf - ga) > best);
        self.asked = self.open.iter().map(|&(a, _, b, _)| a + (b - a) / 2).collect();
    }
}

/// max_k D_k of every bin's mean mixture CDF: each bin's [`Search`] asks for G at some truths,
/// one pass over the blocks sums every asked F_i(t_k) (in row order), and the searches go on
/// until none asks for more.
fn mixture_ks<S: PdfSource>(source: &S, problems: &[Problem]) -> Result<Vec<f64>, S::Error> {
    let mut searches: Vec<Search> = problems.iter().map(|p| Search::new(p.truths.len())).collect();
    while searches.iter().any(|s| !s.asked.is_empty()) {
        let mut sums: Vec<Vec<f64>> = searches.iter().map(|s| vec![0.0; s.asked.len()]).collect();
        source.for_each_block(&mut |first, block| {
            let mixtures: Vec<TailedMixture> = (0..block.len()).map(|i| TailedMixture::new(block.raw(i))).collect();
            let tasks: Vec<(usize, usize)> =
                searches.iter().enumerate().flat_map(|(p, s)| (0..s.asked.len()).map(move |j| (p, j))).collect();
            let added: Vec<f64> = tasks
                .par_iter()
                .map(|&(p, j)| {
                    let problem = &problems[p];
                    let t = problem.truths[searches[p].asked[j]];
                    problem.rows[problem.within(first, block.len())]
                        .iter()
                        .fold(sums[p][j], |acc, &row| acc + mixtures[row as usize - first].cdf(t))
                })
                .collect();
            for (&(p, j), value) in tasks.iter().zip(added) {
                sums[p][j] = value;
            }
            Ok(())
        })?;
        for ((search, sum), problem) in searches.iter_mut().zip(sums).zip(problems) {
            if !search.asked.is_empty() {
                let m = problem.truths.len() as f64;
                let values: Vec<f64> = sum.iter().map(|s| s / m).collect();
                search.receive(&values);
            }
        }
    }
    Ok(searches.into_iter().map(|s| s.best).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::Pdfs;

    /// Mixtures whose stacked CDF differs from the truths' ECDF in a spiky way, and their truths.
    fn spiky(n: usize) -> (Pdfs, Vec<f64>) {
        let (mut weights, mut means, mut sigmas) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let c = (i as f64 * 0.618_033_988_75).fract();
            weights.extend([0.6, 0.4]);
            means.extend([c, c + 0.2]);
            sigmas.extend([0.01 + 0.05 * c, 0.02]);
        }
        let truths = (0..n).map(|i| ((i * 7919) % n) as f64 / n as f64 * 1.2 - 0.05).collect();
        (Pdfs::mixture(2, weights, means, sigmas).unwrap(), truths)
    }

    /// The PDFs in blocks of `size` galaxies.
    struct Blocks(Pdfs, usize);

    impl PdfSource for Blocks {
        type Error = crate::Error;
        fn len(&self) -> usize {
            self.0.len()
        }
        fn representation(&self) -> Representation {
            self.0.representation()
        }
        fn for_each_block(&self, visit: &mut crate::pdf::BlockVisit<'_, crate::Error>) -> crate::Result<()> {
            for first in (0..self.0.len()).step_by(self.1) {
                let (mut w, mut m, mut s) = (Vec::new(), Vec::new(), Vec::new());
                for i in first..(first + self.1).min(self.0.len()) {
                    if let RawPdf::Mixture { weights, means, sigmas } = self.0.raw(i) {
                        w.extend_from_slice(weights);
                        m.extend_from_slice(means);
                        s.extend_from_slice(sigmas);
                    }
                }
                visit(first, &Pdfs::mixture(2, w, m, s)?)?;
            }
            Ok(())
        }
    }

    #[test]
    fn branch_and_bound_finds_the_full_maximum_from_any_blocks() {
        let n = 700;
        let (pdfs, truths) = spiky(n);
        let mut sorted = truths.clone();
        sorted.sort_by(f64::total_cmp);
        let mixtures: Vec<Pdf> = (0..n).map(|i| pdfs.galaxy(i)).collect();
        let brute = continuous_ks(&sorted, |t| mixtures.iter().map(|x| x.cdf(t)).sum::<f64>() / n as f64);
        // Evaluated from the stored parameters with the tails' shortcut: the same bits as the
        // normalised mixture's CDF.
        for &t in &sorted {
            for (i, x) in mixtures.iter().enumerate() {
                assert_eq!(TailedMixture::new(pdfs.raw(i)).cdf(t), x.cdf(t));
            }
        }
        let problem = || vec![Problem { rows: (0..n as MemberRow).collect(), truths: sorted.clone() }];
        assert_eq!(mixture_ks(&pdfs, &problem()).unwrap(), vec![brute]);
        for size in [1, 64, 699] {
            assert_eq!(mixture_ks(&Blocks(pdfs.clone(), size), &problem()).unwrap(), vec![brute], "blocks of {size}");
        }
    }
}
