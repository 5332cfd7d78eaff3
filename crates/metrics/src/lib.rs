//! pzbench's light metrics core: the GalaxiesML point metrics (`docs/METRICS.md`), overall and per
//! redshift bin, with percentile bootstrap intervals. Metrics are named by [`Metric`].
//!
//! The pipeline: [`Grouped::new`] computes `dz` and `Δz` once and lays galaxies out bin by bin;
//! [`evaluate`] runs the same [`point_metrics`] on the whole set and on every bin;
//! [`bootstrap`] repeats that on resampled galaxies.

mod bins;
mod bootstrap;
mod error;
mod metric;
pub mod pdf;
mod point;
pub mod scale;
pub mod stats;

pub use bins::{linspace, parse_edges, parse_range, BinOn, Bins};
pub use bootstrap::{
    bootstrap, bootstrap_until, paired_replicates, paired_replicates_until, percentile_interval, BootstrapConfig,
    Interval, Intervals, MetricIntervals,
};
pub use error::{Error, Result};
pub use metric::Metric;
pub use point::{normalised_error, point_metrics, Metrics};

use rayon::prelude::*;

/// Galaxies' errors laid out bin by bin: bin `b` occupies `offsets[b]..offsets[b + 1]`, and the
/// galaxies outside every bin come last (`offsets[n_bins]..`). Within a bin the input order is kept.
#[derive(Debug, Clone)]
pub struct Grouped {
    /// `dz = (z_phot - z_spec) / (1 + z_spec)`.
    pub dz: Vec<f64>,
    /// `Δz = z_phot - z_spec`.
    pub delta: Vec<f64>,
    /// `n_bins + 2` offsets into `dz` / `delta`.
    pub offsets: Vec<usize>,
}

impl Grouped {
    /// Group galaxies by bin. Takes the redshift columns by value and frees them as soon as the
    /// errors are computed, so peak memory stays near four columns for large inputs.
    ///
    /// Runs in parallel over chunks of rows: each chunk counts its galaxies per bin, which gives
    /// every (bin, chunk) pair its own output range in input order, and then fills it.
    pub fn new(z_spec: Vec<f64>, z_phot: Vec<f64>, bins: &Bins) -> Self {
        Self::from_slices(&z_spec, &z_phot, bins)
    }

    /// [`Grouped::new`] on borrowed columns (e.g. a caller's arrays, read in place without a copy).
    pub fn from_slices(z_spec: &[f64], z_phot: &[f64], bins: &Bins) -> Self {
        const CHUNK_ROWS: usize = 1 << 16;
        let binned = match bins.on {
            BinOn::ZSpec => z_spec,
            BinOn::ZPhot => z_phot,
        };
        let n = z_spec.len();
        let n_groups = bins.len() + 1;
        // Bins are located twice (count, then place) rather than stored: saves 4 bytes a galaxy.
        let bin_of = |i: usize| bins.locate(binned[i]).unwrap_or(bins.len());
        let chunk_rows = |c: usize| c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n);
        let n_chunks = n.div_ceil(CHUNK_ROWS);
        let counts: Vec<Vec<usize>> = (0..n_chunks)
            .into_par_iter()
            .map(|c| {
                let mut counts = vec![0usize; n_groups];
                chunk_rows(c).for_each(|i| counts[bin_of(i)] += 1);
                counts
            })
            .collect();
        let mut offsets = vec![0usize; n_groups + 1];
        for (g, offset) in offsets.iter_mut().skip(1).enumerate() {
            *offset = counts.iter().map(|chunk| chunk[g]).sum();
        }
        for g in 1..offsets.len() {
            offsets[g] += offsets[g - 1];
        }

        let mut dz = vec![0.0; n];
        let mut delta = vec![0.0; n];
        // Carve the output, group by group and within a group chunk by chunk, into the pieces
        // each chunk fills: pieces[c][g] = (dz, Δz) of chunk c's galaxies in group g.
        let mut pieces: Vec<Vec<(&mut [f64], &mut [f64])>> =
            (0..n_chunks).map(|_| Vec::with_capacity(n_groups)).collect();
        let (mut rest_dz, mut rest_delta) = (&mut dz[..], &mut delta[..]);
        for g in 0..n_groups {
            for (chunk_pieces, chunk_counts) in pieces.iter_mut().zip(&counts) {
                let (piece_dz, tail_dz) = std::mem::take(&mut rest_dz).split_at_mut(chunk_counts[g]);
                let (piece_delta, tail_delta) = std::mem::take(&mut rest_delta).split_at_mut(chunk_counts[g]);
                (rest_dz, rest_delta) = (tail_dz, tail_delta);
                chunk_pieces.push((piece_dz, piece_delta));
            }
        }
        pieces.into_par_iter().enumerate().for_each(|(c, mut chunk_pieces)| {
            let mut filled = vec![0usize; n_groups];
            for i in chunk_rows(c) {
                let g = bin_of(i);
                let (piece_dz, piece_delta) = &mut chunk_pieces[g];
                piece_dz[filled[g]] = normalised_error(z_spec[i], z_phot[i]);
                piece_delta[filled[g]] = z_phot[i] - z_spec[i];
                filled[g] += 1;
            }
        });
        Grouped { dz, delta, offsets }
    }

    /// Lay out `n_rows` rows, row `k` being galaxy `galaxy(k)`, in bin `bin_of(galaxy)`
    /// (`n_bins` for "outside"), with errors `errors(galaxy)` = `(dz, Δz)`.
    fn from_rows(
        n_bins: usize,
        n_rows: usize,
        galaxy: impl Fn(usize) -> usize,
        bin_of: impl Fn(usize) -> usize,
        errors: impl Fn(usize) -> (f64, f64),
    ) -> Self {
        let mut offsets = vec![0usize; n_bins + 2];
        for k in 0..n_rows {
            offsets[bin_of(galaxy(k)) + 1] += 1;
        }
        for b in 1..offsets.len() {
            offsets[b] += offsets[b - 1];
        }
        let mut next = offsets.clone();
        let mut dz = vec![0.0; n_rows];
        let mut delta = vec![0.0; n_rows];
        for k in 0..n_rows {
            let i = galaxy(k);
            let slot = &mut next[bin_of(i)];
            (dz[*slot], delta[*slot]) = errors(i);
            *slot += 1;
        }
        Grouped { dz, delta, offsets }
    }

    /// Number of bins (not counting the "outside" group).
    pub fn n_bins(&self) -> usize {
        self.offsets.len() - 2
    }

    /// Number of galaxies outside every bin.
    pub fn n_outside(&self) -> usize {
        self.dz.len() - self.offsets[self.n_bins()]
    }

    /// The bin of every galaxy in grouped order (`n_bins` for "outside").
    fn bin_of_rows(&self) -> Vec<u32> {
        let mut ids = Vec::with_capacity(self.dz.len());
        for b in 0..=self.n_bins() {
            ids.resize(self.offsets[b + 1], b as u32);
        }
        ids
    }

    /// `(dz, Δz)` of bin `b`.
    pub fn bin(&self, b: usize) -> (&[f64], &[f64]) {
        let range = self.offsets[b]..self.offsets[b + 1];
        (&self.dz[range.clone()], &self.delta[range])
    }
}

/// Metrics of the whole set and of every bin (`None` where a bin is empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// All galaxies, including those outside every bin.
    pub overall: Option<Metrics>,
    /// One entry per bin.
    pub per_bin: Vec<Option<Metrics>>,
}

/// Compute [`point_metrics`] overall and per bin, in parallel across bins.
pub fn evaluate(grouped: &Grouped) -> Evaluation {
    let (overall, per_bin) = rayon::join(
        || point_metrics(&grouped.dz, &grouped.delta, &mut Vec::new()),
        || {
            (0..grouped.n_bins())
                .into_par_iter()
                .map_init(Vec::new, |scratch, b| {
                    let (dz, delta) = grouped.bin(b);
                    point_metrics(dz, delta, scratch)
                })
                .collect()
        },
    );
    Evaluation { overall, per_bin }
}

/// Evaluate without rayon: used inside bootstrap replicates, which are parallel already.
fn evaluate_serial(grouped: &Grouped, scratch: &mut Vec<f64>) -> Evaluation {
    Evaluation {
        overall: point_metrics(&grouped.dz, &grouped.delta, scratch),
        per_bin: (0..grouped.n_bins())
            .map(|b| {
                let (dz, delta) = grouped.bin(b);
                point_metrics(dz, delta, scratch)
            })
            .collect(),
    }
}
