//! The pass plan: every (stream, selector) moves through the same stages, independently, and a
//! pass carries whatever each one needs next. Independent work shares a pass:
//!
//! 1. first pass: counts, sums and the outlier count per cell, and the first histogram of `dz`;
//! 2. refine `dz`'s histograms until its median and quartiles are found;
//! 3. histogram `|dz - median|` (the MAD's deviations) and count RAIL's outliers, whose cut needs
//!    the quartiles; refine until the MAD is found;
//! 4. sum the biweight terms about the median and MAD (skipped when the MAD is 0);
//! 5. count the outliers about the biweight location and scale.

use super::partial::{Cell, Tallies, TaskTally};
use super::request::{Plan, Replicates, Select, Task};
use super::select::{Limits, Selection, Target};
use crate::point::{assemble, biweight, canonical, rail_cut, PointSums, Summary};
use crate::stats::{lerp, median_of, median_ranks, virtual_index, QUARTILES};
use crate::{Bins, Error, Metrics, Result};

/// `median(dz)`, `P25(dz)`, `P75(dz)`, canonical.
#[derive(Debug, Clone, Copy)]
struct DzStats {
    bias: f64,
    p25: f64,
    p75: f64,
}

/// Where one (stream, selector) stands.
#[derive(Debug, Clone)]
enum Stage {
    /// Before the first pass.
    First,
    Dz(Selection),
    Mad {
        dz: DzStats,
        selection: Selection,
        n_rail: Option<u64>,
    },
    Biweight {
        dz: DzStats,
        mad: f64,
        n_rail: u64,
    },
    OutlierBw {
        dz: DzStats,
        mad: f64,
        n_rail: u64,
        bw: (f64, f64),
    },
    Done(Option<Metrics>),
}

/// One (stream, selector): its weighted count and sums (known after the first pass) and stage.
#[derive(Debug, Clone)]
struct Progress {
    count: u64,
    sums: PointSums,
    stage: Stage,
    limits: Limits,
}

/// The driver's state.
#[derive(Debug, Clone)]
pub(super) struct Scorer {
    bins: Bins,
    replicates: Option<Replicates>,
    /// Passes finished.
    passes: u32,
    progress: Vec<Progress>,
    /// Weight outside every bin, per stream.
    outside: Vec<u64>,
}

/// The ranks of `dz` wanted for `count` values: the median's two, then each quartile's two.
fn dz_ranks(count: u64) -> Vec<u64> {
    let (lower, upper) = median_ranks(count);
    let mut ranks = vec![lower, upper];
    for q in QUARTILES {
        let (index, _) = virtual_index(count as usize, q);
        ranks.extend([index as u64, (index as u64 + 1).min(count - 1)]);
    }
    ranks
}

/// The statistics from the values at [`dz_ranks`].
fn dz_stats(count: u64, values: &[f64]) -> DzStats {
    let quartile = |k: usize| {
        let (_, fraction) = virtual_index(count as usize, QUARTILES[k]);
        canonical(lerp(values[2 + 2 * k], values[3 + 2 * k], fraction))
    };
    DzStats { bias: canonical(median_of(count, values[0], values[1])), p25: quartile(0), p75: quartile(1) }
}

impl Scorer {
    pub fn new(bins: Bins, replicates: Option<Replicates>) -> Self {
        let n_streams = 1 + replicates.map_or(0, |r| r.count as usize);
        let n_selectors = bins.len() + 1;
        let limits = Limits::new(n_streams * n_selectors);
        let start = Progress { count: 0, sums: PointSums::default(), stage: Stage::First, limits };
        Scorer { bins, replicates, passes: 0, progress: vec![start; n_streams * n_selectors], outside: Vec::new() }
    }

    pub fn passes(&self) -> u32 {
        self.passes
    }

    fn n_selectors(&self) -> usize {
        self.bins.len() + 1
    }

    /// The next pass's plan, or `None` when every metric is known.
    pub fn next_plan(&self) -> Option<Plan> {
        if self.progress.iter().all(|p| matches!(p.stage, Stage::Done(_))) {
            return None;
        }
        Some(Plan {
            pass: self.passes + 1,
            bins: self.bins.clone(),
            replicates: self.replicates,
            first: self.passes == 0,
            tasks: self.progress.iter().map(|p| task_of(&p.stage)).collect(),
        })
    }

    /// Take the merged tallies of the pass planned by `plan` (checked to fit it). On an error
    /// nothing changes, so the pass can be run again.
    pub fn finish_pass(&mut self, plan: &Plan, tallies: Tallies) -> Result<()> {
        if !tallies.fits(plan) {
            return Err(Error::scale("the partial does not have the shape of its pass's request"));
        }
        let mut next = self.clone();
        if plan.first {
            next.take_cells(&tallies.cells);
        }
        for (progress, tally) in next.progress.iter_mut().zip(&tallies.tasks) {
            progress.advance(tally)?;
        }
        next.passes += 1;
        *self = next;
        Ok(())
    }

    /// Count and sums per selector from the first pass's cells: a bin is its cell, `overall`
    /// every cell merged.
    fn take_cells(&mut self, cells: &[Cell]) {
        let n_cells = self.bins.len() + 1;
        let n_selectors = self.n_selectors();
        self.outside = cells.chunks(n_cells).map(|stream| stream[n_cells - 1].count).collect();
        for (stream, stream_cells) in cells.chunks(n_cells).enumerate() {
            let progress = &mut self.progress[stream * n_selectors..(stream + 1) * n_selectors];
            let Some((overall, bins)) = progress.split_last_mut() else { continue };
            for (progress, cell) in bins.iter_mut().zip(stream_cells) {
                (progress.count, progress.sums) = (cell.count, cell.sums.clone());
            }
            for cell in stream_cells {
                overall.count += cell.count;
                overall.sums.merge(&cell.sums);
            }
        }
    }

    /// The metrics of stream `stream`: `(overall, per bin)`, once every stage is done.
    pub fn metrics(&self, stream: usize) -> Result<(Option<Metrics>, Vec<Option<Metrics>>)> {
        let n_selectors = self.n_selectors();
        let done: Option<Vec<Option<Metrics>>> = self.progress[stream * n_selectors..(stream + 1) * n_selectors]
            .iter()
            .map(|p| match p.stage {
                Stage::Done(metrics) => Some(metrics),
                _ => None,
            })
            .collect();
        let mut done = done.ok_or_else(|| Error::scale("the metrics are not known yet: run every pass first"))?;
        let overall = done.pop().flatten();
        Ok((overall, done))
    }

    /// Weight outside every bin in stream `stream` (0 before the first pass).
    pub fn outside(&self, stream: usize) -> u64 {
        self.outside.get(stream).copied().unwrap_or(0)
    }
}

/// What a pass must do for a (stream, selector) at `stage`.
fn task_of(stage: &Stage) -> Task {
    let select = |centre, targets| Some(Select { centre, targets });
    match stage {
        Stage::First => Task { select: select(None, vec![Target::FULL]), ..Task::default() },
        Stage::Dz(selection) => Task { select: select(None, selection.targets()), ..Task::default() },
        Stage::Mad { dz, selection, n_rail } => Task {
            select: select(Some(dz.bias), selection.targets()),
            rail_cut: n_rail.is_none().then(|| rail_cut(dz.p25, dz.p75)),
            ..Task::default()
        },
        Stage::Biweight { dz, mad, .. } => Task { biweight: Some((dz.bias, *mad)), ..Task::default() },
        Stage::OutlierBw { bw, .. } => Task { outlier_bw: Some(*bw), ..Task::default() },
        Stage::Done(_) => Task::default(),
    }
}

impl Progress {
    /// Take this pass's tally, then move on through every stage that needs no further pass.
    fn advance(&mut self, tally: &TaskTally) -> Result<()> {
        let stage = std::mem::replace(&mut self.stage, Stage::Done(None));
        self.stage = match stage {
            Stage::First if self.count == 0 => Stage::Done(None),
            Stage::First => {
                let mut selection = Selection::new(&dz_ranks(self.count), self.count, self.limits);
                selection.absorb(&tally.targets)?;
                Stage::Dz(selection)
            }
            Stage::Dz(mut selection) => {
                selection.absorb(&tally.targets)?;
                Stage::Dz(selection)
            }
            Stage::Mad { dz, mut selection, n_rail } => {
                selection.absorb(&tally.targets)?;
                Stage::Mad { dz, selection, n_rail: n_rail.or(Some(tally.n_rail)) }
            }
            Stage::Biweight { dz, mad, n_rail } => {
                let bw = biweight(self.count, dz.bias, mad, tally.biweight.as_ref());
                Stage::OutlierBw { dz, mad, n_rail, bw }
            }
            Stage::OutlierBw { dz, mad, n_rail, bw } => Stage::Done(Some(assemble(&Summary {
                count: self.count,
                bias: dz.bias,
                p25: dz.p25,
                p75: dz.p75,
                mad,
                sums: &self.sums,
                n_outlier_rail: n_rail,
                bias_bw: bw.0,
                scatter_bw: bw.1,
                n_outlier_bw: tally.n_outlier_bw,
            }))),
            done @ Stage::Done(_) => done,
        };
        self.settle();
        Ok(())
    }

    /// Move past stages whose work is complete.
    fn settle(&mut self) {
        let (lower, upper) = median_ranks(self.count);
        let next = match &self.stage {
            Stage::Dz(selection) => selection.values().map(|values| {
                let dz = dz_stats(self.count, &values);
                Stage::Mad { dz, selection: Selection::new(&[lower, upper], self.count, self.limits), n_rail: None }
            }),
            Stage::Mad { dz, selection, n_rail: Some(n_rail) } => selection.values().map(|values| {
                let mad = canonical(median_of(self.count, values[0], values[1]));
                if mad == 0.0 {
                    Stage::OutlierBw { dz: *dz, mad, n_rail: *n_rail, bw: biweight(self.count, dz.bias, mad, None) }
                } else {
                    Stage::Biweight { dz: *dz, mad, n_rail: *n_rail }
                }
            }),
            _ => None,
        };
        if let Some(next) = next {
            self.stage = next;
        }
    }
}
