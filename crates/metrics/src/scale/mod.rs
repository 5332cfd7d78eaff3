//! Exact metrics at any scale (issue 19): the GalaxiesML point metrics of data that never sit in
//! memory at once, computed in passes whose per-partition results merge exactly, so the result is
//! the same bits however the rows are partitioned — and the same bits as [`crate::evaluate`].
//!
//! Protocol: the driver holds an [`ExactScorer`]. While [`ExactScorer::next_pass`] gives a
//! [`PassRequest`], every partition feeds its rows into `request.new_partial()` with
//! [`PassPartial::add`] (any number of batches, any order), the partials are merged with
//! [`PassPartial::merge`] (any tree, any order), and the merged partial goes back with
//! [`ExactScorer::finish_pass`]. Requests and partials cross process boundaries as bytes
//! ([`PassRequest::to_bytes`], [`PassPartial::to_bytes`]).
//!
//! The method, the state format and the number of passes are described in `docs/scale.md`:
//! sums are exact ([`ExactSum`]), order statistics are found by radix selection on the values'
//! bit patterns (`select.rs`), and the plan of passes is in `scorer.rs`.

mod exact_sum;
mod histogram;
mod key;
mod locate;
mod partial;
mod poisson;
mod request;
mod scorer;
mod select;
mod wire;

pub use exact_sum::ExactSum;

use partial::Tallies;
use request::{Plan, Replicates};
use scorer::Scorer;

use crate::bootstrap::percentile_intervals;
use crate::{BootstrapConfig, Error, Evaluation, Intervals, Result};

/// What to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleConfig {
    pub bins: crate::Bins,
    /// Poisson bootstrap intervals (issue 19 item 4); `None`: none.
    pub bootstrap: Option<PoissonBootstrap>,
}

/// The Poisson bootstrap: galaxy `i`'s weight in replicate `r` is a Poisson(1) draw made from a
/// hash of `(seed, id_i, r)`, so it is the same in whatever partition the galaxy lies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoissonBootstrap {
    pub replicates: usize,
    pub confidence: f64,
    pub seed: u64,
}

/// The `method` of the Poisson bootstrap's [`Intervals`].
pub const POISSON_METHOD: &str = "percentile Poisson bootstrap over galaxies";

/// The driver's state: which passes ran and what they found.
#[derive(Debug, Clone)]
pub struct ExactScorer {
    config: ScaleConfig,
    run: u64,
    scorer: Scorer,
}

/// The result: the same [`Evaluation`] as [`crate::evaluate`] on all rows, bit for bit.
#[derive(Debug, Clone)]
pub struct ExactResult {
    pub evaluation: Evaluation,
    /// Rows outside every bin (they count in `overall`).
    pub n_outside: usize,
    pub intervals: Option<Intervals>,
    /// Passes run over the data.
    pub passes: usize,
}

/// One pass's instructions to every partition (self-contained: includes the bins).
#[derive(Debug, Clone, PartialEq)]
pub struct PassRequest {
    plan: Plan,
    /// Fingerprint of the run (bins and bootstrap settings) and of this request.
    run: u64,
    digest: u64,
}

/// One partition's — or a merge of several partitions' — result of one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct PassPartial {
    run: u64,
    pass: u32,
    digest: u64,
    tallies: Tallies,
}

impl ExactScorer {
    pub fn new(config: ScaleConfig) -> Self {
        let replicates = config.bootstrap.map(|b| Replicates {
            count: u32::try_from(b.replicates).unwrap_or(u32::MAX),
            seed: b.seed,
            confidence: b.confidence,
        });
        let run = wire::run_fingerprint(&config.bins, &replicates);
        let scorer = Scorer::new(config.bins.clone(), replicates);
        ExactScorer { config, run, scorer }
    }

    /// The next pass to run over all rows, or `None` when the metrics are known.
    pub fn next_pass(&self) -> Option<PassRequest> {
        self.scorer.next_plan().map(|plan| PassRequest::new(plan, self.run))
    }

    /// Take the merge of every partition's partial of the current pass.
    /// Errors when `merged` belongs to another pass or run.
    pub fn finish_pass(&mut self, merged: PassPartial) -> Result<()> {
        let request = self.next_pass().ok_or_else(|| Error::scale("every pass has run already; call finish"))?;
        merged.check_belongs_to(&request)?;
        self.scorer.finish_pass(&request.plan, merged.tallies)
    }

    /// The metrics, once `next_pass` is `None` (an error before).
    pub fn finish(self) -> Result<ExactResult> {
        if let Some(request) = self.next_pass() {
            return Err(Error::scale(format!(
                "pass {} has not run yet; run every pass before finish",
                request.plan.pass
            )));
        }
        let (overall, per_bin) = self.scorer.metrics(0)?;
        let intervals = match self.config.bootstrap {
            Some(bootstrap) => Some(self.intervals(&bootstrap)?),
            None => None,
        };
        Ok(ExactResult {
            evaluation: Evaluation { overall, per_bin },
            n_outside: self.scorer.outside(0) as usize,
            intervals,
            passes: self.scorer.passes() as usize,
        })
    }

    /// The percentile intervals over the replicates, laid out as the in-memory bootstrap's.
    fn intervals(&self, bootstrap: &PoissonBootstrap) -> Result<Intervals> {
        let replicates = (1..=bootstrap.replicates)
            .map(|stream| {
                let (overall, per_bin) = self.scorer.metrics(stream)?;
                Ok(Evaluation { overall, per_bin })
            })
            .collect::<Result<Vec<Evaluation>>>()?;
        let config =
            BootstrapConfig { resamples: bootstrap.replicates, confidence: bootstrap.confidence, seed: bootstrap.seed };
        Ok(percentile_intervals(POISSON_METHOD, &replicates, self.config.bins.len(), &config))
    }
}

impl PassRequest {
    fn new(plan: Plan, run: u64) -> Self {
        let digest = wire::plan_digest(&plan);
        PassRequest { plan, run, digest }
    }

    /// Whether [`PassPartial::add`] needs the galaxies' ids (the Poisson bootstrap does).
    pub fn needs_ids(&self) -> bool {
        self.plan.replicates.is_some()
    }

    /// An empty partial for this pass.
    pub fn new_partial(&self) -> PassPartial {
        PassPartial { run: self.run, pass: self.plan.pass, digest: self.digest, tallies: Tallies::new(&self.plan) }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        wire::encode(wire::Kind::Request, &self.plan)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let plan: Plan = wire::decode(wire::Kind::Request, bytes)?;
        let run = wire::run_fingerprint(&plan.bins, &plan.replicates);
        Ok(PassRequest::new(plan, run))
    }
}

impl PassPartial {
    /// Feed one batch of rows (the same rows in every pass; finite values, as the in-memory path
    /// requires). `ids` must be given when `request.needs_ids()`.
    pub fn add(&mut self, request: &PassRequest, z_spec: &[f64], z_phot: &[f64], ids: Option<&[i64]>) -> Result<()> {
        self.check_belongs_to(request)?;
        self.tallies.add(&request.plan, z_spec, z_phot, ids)
    }

    /// Fold in another partial of the same pass (exact: order and grouping do not matter).
    pub fn merge(&mut self, other: &PassPartial) -> Result<()> {
        let same_shape = self.tallies.cells.len() == other.tallies.cells.len()
            && self.tallies.tasks.len() == other.tallies.tasks.len()
            && self
                .tallies
                .tasks
                .iter()
                .zip(&other.tallies.tasks)
                .all(|(a, b)| a.targets.len() == b.targets.len() && a.biweight.is_some() == b.biweight.is_some());
        if (self.run, self.pass, self.digest) != (other.run, other.pass, other.digest) || !same_shape {
            return Err(Error::scale(format!(
                "cannot merge a partial of pass {} into one of pass {}{}: merge only the partials of one request",
                other.pass,
                self.pass,
                if self.run != other.run { " of another run (other bins or bootstrap settings)" } else { "" }
            )));
        }
        self.tallies.merge(&other.tallies);
        Ok(())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        wire::encode(wire::Kind::Partial, &(self.run, self.pass, self.digest, &self.tallies))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (run, pass, digest, tallies) = wire::decode(wire::Kind::Partial, bytes)?;
        Ok(PassPartial { run, pass, digest, tallies })
    }

    /// An error unless this partial was made for `request` (same run, pass and plan, and the
    /// plan's shape).
    fn check_belongs_to(&self, request: &PassRequest) -> Result<()> {
        if self.run != request.run {
            return Err(Error::scale(
                "this partial belongs to another run (other bins or bootstrap settings); \
                 make every partial from this run's requests",
            ));
        }
        if self.pass != request.plan.pass {
            return Err(Error::scale(format!(
                "this partial is of pass {}, but the request is of pass {}; give each pass the partials of its own request",
                self.pass, request.plan.pass
            )));
        }
        if self.digest != request.digest || !self.tallies.fits(&request.plan) {
            return Err(Error::scale(format!(
                "this partial of pass {} was made from another request (another scorer's); \
                 make every partial from this scorer's request",
                self.pass
            )));
        }
        Ok(())
    }
}

/// Every pass in one process: `scan(request, partial)` must feed all rows into `partial`
/// (typically by streaming files). What `pzbench score` does out of core.
pub fn score_exact<E: From<crate::Error>>(
    config: ScaleConfig,
    mut scan: impl FnMut(&PassRequest, &mut PassPartial) -> std::result::Result<(), E>,
) -> std::result::Result<ExactResult, E> {
    let mut scorer = ExactScorer::new(config);
    while let Some(request) = scorer.next_pass() {
        let mut partial = request.new_partial();
        scan(&request, &mut partial)?;
        scorer.finish_pass(partial)?;
    }
    Ok(scorer.finish()?)
}

#[cfg(test)]
mod tests;
