//! `pzbench score` out of core (issue 19): the report of a data set too large for memory, its
//! files streamed once per pass of [`pzbench_metrics::scale`].

use rayon::prelude::*;

use super::ScoreReport;
use pzbench_io::dataset::Dataset;
use pzbench_io::table::{Batch, Role};
use pzbench_io::{Error, Result};
use pzbench_metrics::scale::{score_exact, PassPartial, PassRequest, PoissonBootstrap, ScaleConfig};
use pzbench_metrics::{Bins, BootstrapConfig};

/// A data set's report, and the passes it took over the files.
#[derive(Debug, Clone)]
pub struct DatasetScore {
    pub report: ScoreReport,
    pub passes: usize,
}

/// Score `dataset` out of core with [`score_exact`], streaming every file in each pass: the same
/// report as [`crate::score_file`] on the files concatenated in path order, bit for bit, but for
/// its `input` block ([`Dataset::input_info`]) and its intervals: `bootstrap` asks for the Poisson
/// bootstrap of [`PoissonBootstrap`], a galaxy's id being its id column's value, or else its index
/// among all the rows kept (files in path order). Each batch is shared out among one partial per
/// thread, merged at the end of the pass (exact merges: the threads do not change the result).
pub fn score_dataset(dataset: &mut Dataset, bins: &Bins, bootstrap: Option<BootstrapConfig>) -> Result<DatasetScore> {
    let bootstrap = bootstrap.map(|config| PoissonBootstrap {
        replicates: config.resamples,
        confidence: config.confidence,
        seed: config.seed,
    });
    let config = ScaleConfig { bins: bins.clone(), bootstrap };
    let mut scanned = None;
    let result = score_exact(config, |request, partial| {
        let mut shares: Vec<PassPartial> = (0..rayon::current_num_threads()).map(|_| request.new_partial()).collect();
        scanned = Some(dataset.scan(&mut |batch, first_row| add_in_parallel(request, &mut shares, batch, first_row))?);
        shares.iter().try_for_each(|share| partial.merge(share)).map_err(Error::from)
    })?;
    let scanned =
        scanned.ok_or_else(|| Error::other("the out-of-core scorer finished without a pass over the data"))?;
    let report = ScoreReport::new(
        result.evaluation,
        bins.clone(),
        result.n_outside,
        dataset.input_info(scanned),
        result.intervals,
    );
    Ok(DatasetScore { report, passes: result.passes })
}

/// Feed `batch`, whose first row is row `first_row` of the data set, into `shares`: one
/// contiguous part of it each, in parallel. The ids, when the pass needs them, are the batch's id
/// column or else the rows' indices.
fn add_in_parallel(
    request: &PassRequest,
    shares: &mut [PassPartial],
    batch: &Batch<'_>,
    first_row: usize,
) -> Result<()> {
    let n = batch.rows();
    let row_numbers: Vec<i64>;
    let ids = match (request.needs_ids(), batch.ids()) {
        (false, _) => None,
        (true, Some(ids)) => Some(ids),
        (true, None) => {
            row_numbers = (first_row..first_row + n).map(|row| row as i64).collect();
            Some(&row_numbers[..])
        }
    };
    let (Some(z_spec), Some(z_phot)) = (batch.column(Role::ZSpec), batch.column(Role::ZPhot)) else {
        return Err(Error::other("a batch of the data set lacks its z_spec or z_phot column"));
    };
    let part = n.div_ceil(shares.len().max(1)).max(1);
    shares.par_iter_mut().enumerate().try_for_each(|(k, share)| {
        let rows = (k * part).min(n)..((k + 1) * part).min(n);
        if rows.is_empty() {
            return Ok(());
        }
        let ids = ids.map(|ids| &ids[rows.clone()]);
        share.add(request, &z_spec[rows.clone()], &z_phot[rows], ids).map_err(Error::from)
    })
}
