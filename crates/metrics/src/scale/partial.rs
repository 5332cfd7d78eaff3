//! One partition's result of one pass ([`Tallies`]) and the per-row work that fills it.
//!
//! Rows map to groups as in memory (`Grouped`): a row's cell is its bin by `Bins::locate` on
//! the binned redshift ([`Locator`]), or "outside"; a row counts in its bin's selector (if any) and in
//! `overall`. The first pass's sums are kept per cell, and `overall`'s are the cells' merge.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::key::key;
use super::locate::Locator;
use super::poisson;
use super::request::{Plan, Task};
use super::select::Tally;
use crate::point::{deviation, is_outlier_bw, is_rail_outlier, normalised_error, BiweightSums, PointSums};
use crate::{BinOn, Error, Result};

/// Rows per piece of a batch that is split across threads.
const PARALLEL_ROWS: usize = 1 << 16;

/// The first pass's count and sums of one cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Cell {
    pub count: u64,
    pub sums: PointSums,
}

/// What one task found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct TaskTally {
    /// One per target of the task's selection.
    pub targets: Vec<Tally>,
    pub n_rail: u64,
    pub biweight: Option<BiweightSums>,
    pub n_outlier_bw: u64,
}

impl TaskTally {
    fn new(task: &Task) -> Self {
        TaskTally {
            targets: task.select.iter().flat_map(|s| s.targets.iter().map(|t| t.new_tally())).collect(),
            biweight: task.biweight.map(|_| BiweightSums::default()),
            ..TaskTally::default()
        }
    }

    /// Count the rows of `dz`, row `i` with weight `weight(i)` (rows of weight 0 are skipped).
    /// Each part of the task runs as its own loop over the rows.
    #[inline(always)]
    fn add(&mut self, task: &Task, dz: &[f64], weight: impl Fn(usize) -> u64) {
        let weighted = || dz.iter().enumerate().map(|(i, &x)| (x, weight(i))).filter(|&(_, w)| w > 0);
        if let Some(select) = &task.select {
            for (x, w) in weighted() {
                let k = key(select.centre.map_or(x, |centre| deviation(x, centre)));
                if let Some(t) = select.targets.iter().position(|t| t.contains(k)) {
                    self.targets[t].add(k, w);
                }
            }
        }
        if let Some(cut) = task.rail_cut {
            self.n_rail += weighted().map(|(x, w)| w * u64::from(is_rail_outlier(x, cut))).sum::<u64>();
        }
        if let (Some((median, mad)), Some(sums)) = (task.biweight, &mut self.biweight) {
            for (x, w) in weighted() {
                (0..w).for_each(|_| sums.add(x, median, mad));
            }
        }
        if let Some((bias_bw, scatter_bw)) = task.outlier_bw {
            self.n_outlier_bw +=
                weighted().map(|(x, w)| w * u64::from(is_outlier_bw(x, bias_bw, scatter_bw))).sum::<u64>();
        }
    }

    fn merge(&mut self, other: &TaskTally) {
        self.targets.iter_mut().zip(&other.targets).for_each(|(a, b)| a.merge(b));
        self.n_rail += other.n_rail;
        if let (Some(a), Some(b)) = (&mut self.biweight, &other.biweight) {
            a.merge(b);
        }
        self.n_outlier_bw += other.n_outlier_bw;
    }

    /// Whether this tally has the shape of `task`'s.
    fn fits(&self, task: &Task) -> bool {
        let targets = task.select.as_ref().map_or(&[][..], |s| &s.targets[..]);
        targets.len() == self.targets.len()
            && targets.iter().zip(&self.targets).all(|(t, tally)| t.fits(tally))
            && task.biweight.is_some() == self.biweight.is_some()
    }
}

/// Everything one partition found in one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Tallies {
    /// `streams × cells` in the first pass, else empty.
    pub cells: Vec<Cell>,
    /// `streams × selectors`, like the plan's tasks.
    pub tasks: Vec<TaskTally>,
}

impl Tallies {
    pub fn new(plan: &Plan) -> Self {
        let n_cells = if plan.first { plan.n_streams() * plan.n_cells() } else { 0 };
        Tallies { cells: vec![Cell::default(); n_cells], tasks: plan.tasks.iter().map(TaskTally::new).collect() }
    }

    /// Whether these tallies have the shape that `plan` gives them.
    pub fn fits(&self, plan: &Plan) -> bool {
        let n_cells = if plan.first { plan.n_streams() * plan.n_cells() } else { 0 };
        self.cells.len() == n_cells
            && self.tasks.len() == plan.tasks.len()
            && self.tasks.iter().zip(&plan.tasks).all(|(tally, task)| tally.fits(task))
    }

    /// Add another partition's tallies (of the same shape).
    pub fn merge(&mut self, other: &Tallies) {
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            a.count += b.count;
            a.sums.merge(&b.sums);
        }
        self.tasks.iter_mut().zip(&other.tasks).for_each(|(a, b)| a.merge(b));
    }

    /// Feed a batch of rows; `ids` are present when the plan has replicates. Large batches are
    /// split across threads (exact merging makes the split invisible).
    pub fn add(&mut self, plan: &Plan, z_spec: &[f64], z_phot: &[f64], ids: Option<&[i64]>) -> Result<()> {
        let n = z_spec.len();
        if z_phot.len() != n {
            return Err(Error::scale(format!(
                "z_spec has {n} rows but z_phot has {}; give both columns of the same rows",
                z_phot.len()
            )));
        }
        if let Some(ids) = ids.filter(|ids| ids.len() != n) {
            return Err(Error::scale(format!("z_spec has {n} rows but ids has {}; give one id per row", ids.len())));
        }
        let ids = match (plan.replicates, ids) {
            (Some(_), None) => {
                return Err(Error::scale(
                    "the Poisson bootstrap needs the galaxies' ids: pass an id per row (e.g. an id column)",
                ))
            }
            (Some(_), Some(ids)) => Some(ids),
            (None, _) => None,
        };
        if n < 2 * PARALLEL_ROWS {
            self.add_rows(plan, z_spec, z_phot, ids);
            return Ok(());
        }
        let pieces = n.div_ceil(PARALLEL_ROWS);
        let rows = |p: usize| p * PARALLEL_ROWS..((p + 1) * PARALLEL_ROWS).min(n);
        let merged = (0..pieces)
            .into_par_iter()
            .fold(
                || Tallies::new(plan),
                |mut tallies, p| {
                    let r = rows(p);
                    tallies.add_rows(plan, &z_spec[r.clone()], &z_phot[r.clone()], ids.map(|ids| &ids[r]));
                    tallies
                },
            )
            .reduce_with(|mut a, b| {
                a.merge(&b);
                a
            });
        if let Some(merged) = merged {
            self.merge(&merged);
        }
        Ok(())
    }

    /// The per-row loops (lengths checked), block by block: the point estimate, then each
    /// replicate with its weights.
    fn add_rows(&mut self, plan: &Plan, z_spec: &[f64], z_phot: &[f64], ids: Option<&[i64]>) {
        let binned = match plan.bins.on {
            BinOn::ZSpec => z_spec,
            BinOn::ZPhot => z_phot,
        };
        let locator = Locator::new(&plan.bins);
        let mut block = Block::new();
        let mut weights = [0u64; BLOCK];
        for start in (0..z_spec.len()).step_by(BLOCK) {
            let rows = start..(start + BLOCK).min(z_spec.len());
            block.fill(&locator, &binned[rows.clone()], &z_spec[rows.clone()], &z_phot[rows.clone()]);
            self.stream(plan, 0).add(&block, |_| 1);
            let (Some(replicates), Some(ids)) = (plan.replicates, ids) else { continue };
            for r in 0..replicates.count {
                for (w, &id) in weights.iter_mut().zip(&ids[rows.clone()]) {
                    *w = poisson::weight(replicates.seed, id, r);
                }
                self.stream(plan, r as usize + 1).add(&block, |i| weights[i]);
            }
        }
    }

    /// The tasks, tallies and (first pass) cells of stream `stream`.
    fn stream<'a>(&'a mut self, plan: &'a Plan, stream: usize) -> Stream<'a> {
        let (n_selectors, n_cells) = (plan.n_selectors(), plan.n_cells());
        let selectors = stream * n_selectors..(stream + 1) * n_selectors;
        let cells = (!self.cells.is_empty()).then(|| &mut self.cells[stream * n_cells..(stream + 1) * n_cells]);
        Stream { tasks: &plan.tasks[selectors.clone()], tallies: &mut self.tasks[selectors], cells }
    }
}

/// Rows per block of the per-row loops: a block's columns stay in the L1 cache while every task
/// runs over them.
const BLOCK: usize = 256;

/// A block of rows: each row's cell (bin, or `n_bins` for outside), `dz` and `Δz`.
struct Block {
    len: usize,
    cell: [usize; BLOCK],
    dz: [f64; BLOCK],
    delta: [f64; BLOCK],
}

impl Block {
    fn new() -> Self {
        Block { len: 0, cell: [0; BLOCK], dz: [0.0; BLOCK], delta: [0.0; BLOCK] }
    }

    /// Take at most [`BLOCK`] rows.
    fn fill(&mut self, locator: &Locator, binned: &[f64], z_spec: &[f64], z_phot: &[f64]) {
        self.len = z_spec.len();
        for ((dz, delta), (&zs, &zp)) in self.dz.iter_mut().zip(&mut self.delta).zip(z_spec.iter().zip(z_phot)) {
            (*dz, *delta) = (normalised_error(zs, zp), zp - zs);
        }
        for (cell, &z) in self.cell.iter_mut().zip(binned) {
            *cell = locator.cell(z);
        }
    }
}

/// One stream's share of a pass: its selectors' tasks and tallies (the last is `overall`) and,
/// in the first pass, its cells.
struct Stream<'a> {
    tasks: &'a [Task],
    tallies: &'a mut [TaskTally],
    cells: Option<&'a mut [Cell]>,
}

impl Stream<'_> {
    /// A block of galaxies, row `i` with weight `weight(i)`: each row's cell sums (first pass),
    /// its bin's selector (if any) and `overall`.
    #[inline(always)]
    fn add(&mut self, block: &Block, weight: impl Fn(usize) -> u64 + Copy) {
        let rows = 0..block.len;
        if let Some(cells) = &mut self.cells {
            for i in rows.clone() {
                let cell = &mut cells[block.cell[i]];
                let w = weight(i);
                cell.count += w;
                (0..w).for_each(|_| cell.sums.add(block.dz[i], block.delta[i]));
            }
        }
        let overall = self.tallies.len() - 1;
        self.tallies[overall].add(&self.tasks[overall], &block.dz[rows.clone()], weight);
        for i in rows {
            let bin = block.cell[i];
            if bin < overall {
                self.tallies[bin].add(&self.tasks[bin], std::slice::from_ref(&block.dz[i]), |_| weight(i));
            }
        }
    }
}
