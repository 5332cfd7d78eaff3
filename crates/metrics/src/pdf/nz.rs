//! The stacked n(z) per tomographic bin (`docs/PDF_METRICS.md` §2.5): galaxies binned
//! right-closed on their mode (samples: median), each bin's stacked n(z) the mean of its PDFs,
//! compared with the bin's true redshifts by mean, width and KS distance.

use rayon::prelude::*;
use serde::Serialize;

use super::representation::Representation;
use super::values::GalaxyValues;
use crate::stats::mean_by;
use crate::{BinOn, Bins, Result};

/// The spec's default tomographic edges for real data (§2.5, issue 15's `--nz-edges`).
pub const DEFAULT_NZ_EDGES: [f64; 8] = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 2.0, 3.0];

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
    /// The n(z) of the galaxies `rows` (indices into `galaxies`) in the tomographic bins `edges`,
    /// without the KS distances (`None`: [`super::nz_ks::fill_nz_ks`] computes them from the PDFs).
    pub(crate) fn of(galaxies: &[GalaxyValues], rows: &[usize], representation: Representation, edges: &Bins) -> Nz {
        let bins = members(galaxies, rows, representation, edges)
            .par_iter()
            .enumerate()
            .map(|(b, rows)| {
                let (lo, hi) = edges.interval(b);
                nz_bin(galaxies, rows, lo, hi)
            })
            .collect();
        Nz { on: binned_on(representation), closed: "right", edges: edges.edges.clone(), bins }
    }
}

/// What galaxies are binned on: `z_mode`, or `z_median` for samples (§2.5).
fn binned_on(representation: Representation) -> &'static str {
    if representation == Representation::Samples {
        "z_median"
    } else {
        "z_mode"
    }
}

/// A galaxy's row in a tomographic bin's member list: 4 bytes, as the lists of every set and
/// bin are held together while the n(z) KS distances are computed ([`MAX_GALAXIES`] bounds it).
pub(crate) type MemberRow = u32;

/// The most PDFs one evaluation takes (rows must fit a [`MemberRow`]).
pub(crate) const MAX_GALAXIES: usize = MemberRow::MAX as usize;

/// The galaxies of `rows` in each tomographic bin of `edges`, in the order of `rows`, each list
/// allocated to its size (counted first). Rows must be below [`MAX_GALAXIES`].
pub(crate) fn members(
    galaxies: &[GalaxyValues],
    rows: &[usize],
    representation: Representation,
    edges: &Bins,
) -> Vec<Vec<MemberRow>> {
    let on_mode = representation != Representation::Samples;
    let bin = |i: usize| {
        let g = &galaxies[i];
        edges.locate(if on_mode { g.z_mode().unwrap_or(g.z_median) } else { g.z_median })
    };
    let mut counts = vec![0usize; edges.len()];
    rows.iter().filter_map(|&i| bin(i)).for_each(|b| counts[b] += 1);
    let mut members: Vec<Vec<MemberRow>> = counts.into_iter().map(Vec::with_capacity).collect();
    for &i in rows {
        if let Some(b) = bin(i) {
            members[b].push(i as MemberRow);
        }
    }
    members
}

/// Tomographic bins from `edges` (validated like redshift bins: at least two, increasing).
pub(crate) fn tomographic_bins(edges: &[f64]) -> Result<Bins> {
    Bins::new(BinOn::ZPhot, edges.to_vec())
}

/// One bin's statistics (§2.5).
fn nz_bin(galaxies: &[GalaxyValues], rows: &[MemberRow], lo: f64, hi: f64) -> NzBin {
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
    let at = |j: usize| &galaxies[rows[j] as usize];
    let mean_stacked = mean_by(m, &|j| at(j).z_mean);
    let within = mean_by(m, &|j| at(j).variance);
    let between = mean_by(m, &|j| (at(j).z_mean - mean_stacked).powi(2));
    let std_stacked = (within + between).sqrt();
    let mean_true = mean_by(m, &|j| at(j).z_spec);
    let std_true = mean_by(m, &|j| (at(j).z_spec - mean_true).powi(2)).sqrt();
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
        nz_ks: None,
    }
}
