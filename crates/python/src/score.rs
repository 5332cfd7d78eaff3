//! `pzbench.score` on arrays: `pzbench score`'s computation (`pzbench_metrics`: group by bin,
//! evaluate, bootstrap) on two float64 columns, read in place where their layout allows, and its
//! report (`pzbench_report::ScoreReport`) as JSON.

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;

use numpy::PyReadonlyArray1;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pzbench_io::sample::{ColumnsUsed, InputInfo};
use pzbench_metrics::{bootstrap_until, evaluate, parse_range, Bins, BootstrapConfig, Grouped};
use pzbench_report::ScoreReport;

use crate::input::{self, Column};
use crate::{convert, interrupt};

/// The names of `score`'s columns: its Python arguments, which messages and the report's
/// `input.columns` name.
const Z_SPEC: &str = "z_spec";
const Z_PHOT: &str = "z_phot";
const IDS: &str = "ids";

/// `pzbench score`'s report of borrowed columns (`ScoreReport`, as `pzbench_report::score_sample`
/// builds it): group by `bins`, evaluate every metric overall and per bin, and bootstrap when
/// `config` is given, giving up when `stop` is set.
fn report(
    z_spec: &[f64],
    z_phot: &[f64],
    bins: Bins,
    config: Option<BootstrapConfig>,
    input: InputInfo,
    stop: &AtomicBool,
) -> PyResult<ScoreReport> {
    let grouped = Grouped::from_slices(z_spec, z_phot, &bins);
    let evaluation = evaluate(&grouped);
    let intervals = config
        .map(|config| {
            bootstrap_until(&grouped, &config, stop).ok_or_else(|| PyKeyboardInterrupt::new_err("interrupted"))
        })
        .transpose()?;
    Ok(ScoreReport::new(evaluation, bins, grouped.n_outside(), input, intervals))
}

/// Score `z_phot` against `z_spec` (float64 numpy arrays or Arrow arrays, read in place where
/// their layout allows) over the bins `edges` (default: `Bins::galaxiesml_default`) on `bin_on`,
/// with `bootstrap` resamples when positive; `ids` are the galaxies' object ids. Returns the
/// report as `pzbench score --format json` writes it, its `input` block describing the arrays
/// ([`convert::arrays_input`]). Computes with the GIL released; Ctrl-C stops a bootstrap.
#[pyfunction]
#[pyo3(signature = (z_spec, z_phot, *, ids=None, edges=None, bin_on="zspec", bootstrap=0, confidence=0.95, seed=42))]
#[allow(clippy::too_many_arguments)]
fn score<'py>(
    py: Python<'py>,
    z_spec: &Bound<'py, PyAny>,
    z_phot: &Bound<'py, PyAny>,
    ids: Option<PyReadonlyArray1<'py, i64>>,
    edges: Option<Vec<f64>>,
    bin_on: &str,
    bootstrap: usize,
    confidence: f64,
    seed: u64,
) -> PyResult<String> {
    let bins = input::bins(edges, bin_on)?;
    let config = input::bootstrap_config(bootstrap, confidence, seed)?;
    let (z_spec_column, z_phot_column) = (Column::new(Z_SPEC, z_spec)?, Column::new(Z_PHOT, z_phot)?);
    let (z_spec, z_phot) = (z_spec_column.values(Z_SPEC)?, z_phot_column.values(Z_PHOT)?);
    let (z_spec, z_phot) = (z_spec.as_ref(), z_phot.as_ref());
    let ids = ids.as_ref().map(|ids| input::as_slice(IDS, ids)).transpose()?;
    interrupt::run(py, |stop| {
        input::check_columns(z_spec, z_phot)?;
        if let Some(ids) = ids {
            input::check_ids(ids, z_spec.len())?;
        }
        let columns = ColumnsUsed {
            id: ids.map(|_| IDS.to_string()),
            z_spec: Some(Z_SPEC.to_string()),
            z_phot: Some(Z_PHOT.to_string()),
        };
        let input = convert::arrays_input(z_spec.len(), columns);
        Ok(report(z_spec, z_phot, bins, config, input, stop)?.to_json())
    })
}

/// The address of the float64 values that `score` reads from `values` (a float64 numpy array or
/// an Arrow array) when it reads them in place, `None` when it converts them first: shows the
/// tests which input is not copied.
#[pyfunction]
fn _values_address(values: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    let column = Column::new("values", values)?;
    Ok(match column.values("values")? {
        Cow::Borrowed(slice) => Some(slice.as_ptr() as usize),
        Cow::Owned(_) => None,
    })
}

/// The edges of `LO:HI:WIDTH` (e.g. `"0:4:0.2"`), parsed as `pzbench score --bins` parses them.
#[pyfunction]
fn parse_bins(spec: &str) -> PyResult<Vec<f64>> {
    parse_range(spec).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Add `score`, `parse_bins`, `_values_address`, `DEFAULT_EDGES` and `METRICS` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(parse_bins, m)?)?;
    m.add_function(wrap_pyfunction!(_values_address, m)?)?;
    m.add("DEFAULT_EDGES", Bins::galaxiesml_default().edges)?;
    m.add("METRICS", pzbench_metrics::Metric::ALL.map(|metric| metric.key()).to_vec())?;
    Ok(())
}
