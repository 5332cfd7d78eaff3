//! `pzbench.score` on arrays: `pzbench score`'s computation (`pzbench_metrics`: group by bin,
//! evaluate, bootstrap) on two borrowed float64 columns.

use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pzbench_metrics::{bootstrap, evaluate, parse_range, BinOn, Bins, BootstrapConfig, Evaluation, Grouped, Intervals};

use crate::{catch_panic, convert, input};

/// What [`score`] computes: the evaluation, the galaxies outside every bin, and the intervals.
pub(crate) struct Scored {
    pub evaluation: Evaluation,
    pub n_outside_bins: usize,
    pub intervals: Option<Intervals>,
}

/// `pzbench score`'s computation on borrowed columns: group by `bins`, evaluate every metric
/// overall and per bin, and bootstrap when `config` is given.
fn compute(z_spec: &[f64], z_phot: &[f64], bins: &Bins, config: Option<BootstrapConfig>) -> Scored {
    let grouped = Grouped::from_slices(z_spec, z_phot, bins);
    let evaluation = evaluate(&grouped);
    let intervals = config.map(|config| bootstrap(&grouped, &config));
    Scored { evaluation, n_outside_bins: grouped.n_outside(), intervals }
}

/// Which redshift `bin_on` names: `"zspec"` or `"zphot"`, as `pzbench score --bin-on`.
fn parse_bin_on(bin_on: &str) -> PyResult<BinOn> {
    match bin_on {
        "zspec" => Ok(BinOn::ZSpec),
        "zphot" => Ok(BinOn::ZPhot),
        other => Err(PyValueError::new_err(format!("bin_on = '{other}': expected 'zspec' or 'zphot'"))),
    }
}

/// Score `z_phot` against `z_spec` (contiguous float64 arrays, read in place) over the bins
/// `edges` (default: `Bins::galaxiesml_default`) on `bin_on`, with `bootstrap` resamples when
/// positive. Returns a dict: `overall`, `per_bin`, `edges`, `n_outside_bins`, `intervals`.
#[pyfunction]
#[pyo3(signature = (z_spec, z_phot, *, edges=None, bin_on="zspec", bootstrap=0, confidence=0.95, seed=42))]
#[allow(clippy::too_many_arguments)]
fn score<'py>(
    py: Python<'py>,
    z_spec: PyReadonlyArray1<'py, f64>,
    z_phot: PyReadonlyArray1<'py, f64>,
    edges: Option<Vec<f64>>,
    bin_on: &str,
    bootstrap: usize,
    confidence: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let on = parse_bin_on(bin_on)?;
    let bins = match edges {
        Some(edges) => Bins::new(on, edges),
        None => Ok(Bins { on, ..Bins::galaxiesml_default() }),
    }
    .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let config = input::bootstrap_config(bootstrap, confidence, seed)?;
    let (z_spec, z_phot) = (input::as_slice("z_spec", &z_spec)?, input::as_slice("z_phot", &z_phot)?);
    let scored = py.detach(|| {
        input::check_columns(z_spec, z_phot)?;
        catch_panic(|| compute(z_spec, z_phot, &bins, config))
    })?;
    convert::result_dict(py, &scored, &bins)
}

/// The edges of `LO:HI:WIDTH` (e.g. `"0:4:0.2"`), parsed as `pzbench score --bins` parses them.
#[pyfunction]
fn parse_bins(spec: &str) -> PyResult<Vec<f64>> {
    parse_range(spec).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Add `score`, `parse_bins`, `DEFAULT_EDGES` and `METRICS` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(parse_bins, m)?)?;
    m.add("DEFAULT_EDGES", Bins::galaxiesml_default().edges)?;
    m.add("METRICS", pzbench_metrics::Metric::ALL.map(|metric| metric.key()).to_vec())?;
    Ok(())
}
