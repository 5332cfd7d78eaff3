//! Exact metrics at any scale from Python (issue 19): the pass protocol of
//! `pzbench_metrics::scale` as bytes, for engines that run Python on partitions (Dask, Spark,
//! Ray). The driver's [`Scorer`] (`pzbench.ExactScorer`) plans each pass as request bytes;
//! [`partial_score`] turns a partition's columns into a partial's bytes; [`merge`] folds partials
//! together; the merged partial goes back to the driver, until the metrics are known. The report
//! is `pzbench score`'s JSON, bit for bit, except its `input` block.

use std::panic::AssertUnwindSafe;

use numpy::PyReadonlyArray1;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pzbench_io::sample::{ColumnsUsed, FileInfo, InputInfo};
use pzbench_metrics::scale::{ExactScorer, PassPartial, PassRequest, PoissonBootstrap, ScaleConfig};
use pzbench_metrics::Bins;
use pzbench_report::ScoreReport;

use crate::catch_panic;
use crate::input::{self, Column};

/// The names of `partial_score`'s columns, as its Python arguments (for messages).
const Z_SPEC: &str = "z_spec";
const Z_PHOT: &str = "z_phot";
const IDS: &str = "ids";

/// A `ValueError` carrying a metrics error's message, after `context` (the argument it concerns).
fn value_error(context: &str, error: pzbench_metrics::Error) -> PyErr {
    PyValueError::new_err(format!("{context}: {error}"))
}

/// `work`'s result, computed with the GIL released; a panic becomes `PzbenchError`.
fn detached<T: Send>(py: Python<'_>, work: impl FnOnce() -> PyResult<T> + Send) -> PyResult<T> {
    py.detach(|| catch_panic(AssertUnwindSafe(work)).and_then(|result| result))
}

/// The pass request in `bytes` (what `ExactScorer.next_pass` returned).
fn request_from_bytes(bytes: &[u8]) -> PyResult<PassRequest> {
    PassRequest::from_bytes(bytes).map_err(|error| value_error("request", error))
}

/// `pzbench.ExactScorer`'s core: the driver of the passes, and the bins for the report.
#[pyclass(module = "pzbench._core", name = "ExactScorer")]
pub struct Scorer {
    scorer: ExactScorer,
    bins: Bins,
    /// Passes finished so far.
    passes: usize,
}

#[pymethods]
impl Scorer {
    /// A scorer of the bins `edges` (default: `Bins::galaxiesml_default`) on `bin_on`, with a
    /// Poisson bootstrap of `bootstrap` replicates when positive (options as `pzbench.score`'s).
    #[new]
    #[pyo3(signature = (*, edges=None, bin_on="zspec", bootstrap=0, confidence=0.95, seed=42))]
    fn new(edges: Option<Vec<f64>>, bin_on: &str, bootstrap: usize, confidence: f64, seed: u64) -> PyResult<Self> {
        let bins = input::bins(edges, bin_on)?;
        let bootstrap = input::bootstrap_config(bootstrap, confidence, seed)?.map(|config| PoissonBootstrap {
            replicates: config.resamples,
            confidence,
            seed,
        });
        let config = ScaleConfig { bins: bins.clone(), bootstrap };
        let scorer = catch_panic(|| ExactScorer::new(config))?;
        Ok(Scorer { scorer, bins, passes: 0 })
    }

    /// The next pass's request as bytes, or `None` when the metrics are known.
    fn next_pass<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let request = catch_panic(AssertUnwindSafe(|| self.scorer.next_pass().map(|request| request.to_bytes())))?;
        Ok(request.map(|bytes| PyBytes::new(py, &bytes)))
    }

    /// Take the merge of every partition's partial of the current pass (bytes of `merge` or
    /// `partial_score`).
    fn finish_pass(&mut self, py: Python<'_>, merged: &[u8]) -> PyResult<()> {
        let scorer = &mut self.scorer;
        detached(py, || {
            let partial = PassPartial::from_bytes(merged).map_err(|error| value_error("merged", error))?;
            scorer.finish_pass(partial).map_err(|error| value_error("merged", error))
        })?;
        self.passes += 1;
        Ok(())
    }

    /// Passes finished so far.
    #[getter]
    fn passes(&self) -> usize {
        self.passes
    }

    /// The report as `pzbench score --format json` writes it, once every pass is done; its
    /// `input` block names `path` and `format` (what was scored) and the columns the values came
    /// from (`zspec`, `zphot`, `ids`).
    #[pyo3(signature = (*, zspec, zphot, ids, path, format))]
    fn result(
        &self,
        py: Python<'_>,
        zspec: String,
        zphot: String,
        ids: Option<String>,
        path: String,
        format: String,
    ) -> PyResult<String> {
        let scorer = self.scorer.clone();
        let bins = self.bins.clone();
        detached(py, || {
            let result = scorer.finish().map_err(|error| PyValueError::new_err(error.to_string()))?;
            let rows = result.evaluation.overall.as_ref().map_or(0, |overall| overall.count);
            let columns = ColumnsUsed { id: ids, z_spec: Some(zspec), z_phot: Some(zphot) };
            let predictions = FileInfo { path, format, rows, dropped_invalid: 0, columns, sha256: String::new() };
            let input = InputInfo { predictions, truth: None };
            Ok(ScoreReport::new(result.evaluation, bins, result.n_outside, input, result.intervals).to_json())
        })
    }
}

/// One partition's partial of the pass `request` (bytes of `ExactScorer.next_pass`): the rows
/// `z_spec`, `z_phot` (float64 numpy arrays or Arrow arrays, read in place where their layout
/// allows; any number of rows, none included) and their object `ids` (needed by a pass of the
/// Poisson bootstrap), as bytes for `merge` or `ExactScorer.finish_pass`. Computes with the GIL
/// released.
#[pyfunction]
#[pyo3(signature = (request, z_spec, z_phot, *, ids=None))]
fn partial_score<'py>(
    py: Python<'py>,
    request: &[u8],
    z_spec: &Bound<'py, PyAny>,
    z_phot: &Bound<'py, PyAny>,
    ids: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let request = request_from_bytes(request)?;
    let (z_spec_column, z_phot_column) = (Column::new(Z_SPEC, z_spec)?, Column::new(Z_PHOT, z_phot)?);
    let (z_spec, z_phot) = (z_spec_column.values(Z_SPEC)?, z_phot_column.values(Z_PHOT)?);
    let (z_spec, z_phot) = (z_spec.as_ref(), z_phot.as_ref());
    let ids = ids.as_ref().map(|ids| input::as_slice(IDS, ids)).transpose()?;
    let bytes = detached(py, || {
        check_rows(&request, z_spec, z_phot, ids)?;
        let mut partial = request.new_partial();
        partial.add(&request, z_spec, z_phot, ids).map_err(|error| PyValueError::new_err(error.to_string()))?;
        Ok(partial.to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// A partition's rows as `partial_score` takes them: columns as long as each other (empty is
/// allowed: a partition may hold no rows), finite, `z_spec > -1`, and ids — one a row, each once —
/// when the pass needs them.
fn check_rows(request: &PassRequest, z_spec: &[f64], z_phot: &[f64], ids: Option<&[i64]>) -> PyResult<()> {
    if !z_spec.is_empty() || !z_phot.is_empty() {
        input::check_columns(z_spec, z_phot)?;
    }
    match ids {
        Some(ids) => input::check_ids(ids, z_spec.len()),
        None if request.needs_ids() => Err(PyValueError::new_err(
            "this pass needs ids: the Poisson bootstrap weighs each galaxy by a hash of its object id; pass ids=",
        )),
        None => Ok(()),
    }
}

/// The merge of `partials` (an iterable of the bytes of `partial_score` or `merge`, all of one
/// pass; at least one), as bytes. Exact: any order and grouping give the same bytes' meaning.
/// Computes with the GIL released.
#[pyfunction]
fn merge<'py>(py: Python<'py>, partials: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut held = Vec::new();
    for (i, item) in partials.try_iter()?.enumerate() {
        let item = item?;
        let bytes = item.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "partials[{i}]: expected bytes (a partial from partial_score or merge), got {}",
                item.get_type().name().map(|name| name.to_string()).unwrap_or_default()
            ))
        })?;
        held.push(bytes.clone());
    }
    let slices: Vec<&[u8]> = held.iter().map(|bytes| bytes.as_bytes()).collect();
    let merged = detached(py, || merge_slices(&slices))?;
    Ok(PyBytes::new(py, &merged))
}

/// The bytes of the merge of the partials in `slices`, each read in turn.
fn merge_slices(slices: &[&[u8]]) -> PyResult<Vec<u8>> {
    let read =
        |i: usize, bytes: &[u8]| PassPartial::from_bytes(bytes).map_err(|e| value_error(&format!("partials[{i}]"), e));
    let Some((first, rest)) = slices.split_first() else {
        return Err(PyValueError::new_err("no partials to merge; give at least one (partial_score's bytes)"));
    };
    let mut merged = read(0, first)?;
    for (i, bytes) in rest.iter().enumerate() {
        merged.merge(&read(i + 1, bytes)?).map_err(|e| value_error(&format!("partials[{}]", i + 1), e))?;
    }
    Ok(merged.to_bytes())
}

/// Add `ExactScorer`, `partial_score` and `merge` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scorer>()?;
    m.add_function(wrap_pyfunction!(partial_score, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    Ok(())
}
