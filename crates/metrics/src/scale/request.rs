//! A pass's instructions ([`Plan`]): for every stream (the point estimate, then each bootstrap
//! replicate) and every selector (each bin, then `overall`), a [`Task`] saying what to do with
//! the rows of that selector.

use serde::{Deserialize, Serialize};

use super::select::Target;
use crate::Bins;

/// The Poisson bootstrap's settings as a pass carries them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct Replicates {
    pub count: u32,
    pub seed: u64,
    pub confidence: f64,
}

/// What every partition does in one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Plan {
    /// 1 for the first pass.
    pub pass: u32,
    pub bins: Bins,
    pub replicates: Option<Replicates>,
    /// The first pass also sums and counts per cell (bin or outside) and stream.
    pub first: bool,
    /// `streams × selectors` tasks, stream-major.
    pub tasks: Vec<Task>,
}

impl Plan {
    /// Streams: the point estimate and each replicate.
    pub fn n_streams(&self) -> usize {
        1 + self.replicates.map_or(0, |r| r.count as usize)
    }

    /// Selectors: each bin and `overall` (last).
    pub fn n_selectors(&self) -> usize {
        self.bins.len() + 1
    }

    /// Cells: each bin and "outside" (last).
    pub fn n_cells(&self) -> usize {
        self.bins.len() + 1
    }
}

/// What to do with the rows of one selector in one stream; several parts may be active.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Task {
    /// Histogram or collect a quantity's keys in these targets.
    pub select: Option<Select>,
    /// Count the rows with `|dz|` above this cut (RAIL's outliers).
    pub rail_cut: Option<f64>,
    /// Sum the biweight terms about `(median, mad)`.
    pub biweight: Option<(f64, f64)>,
    /// Count the rows with `|dz - bias_bw| > 2 scatter_bw`, given `(bias_bw, scatter_bw)`.
    pub outlier_bw: Option<(f64, f64)>,
}

/// A selection step over `dz` (`centre: None`) or over `|dz - centre|` (the MAD's deviations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Select {
    pub centre: Option<f64>,
    pub targets: Vec<Target>,
}
