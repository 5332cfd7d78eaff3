//! Checks on what Python passes in, each failing with a one-line `ValueError` that names the
//! argument, the position and the fix (the command line's messages name a file's row instead).

use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pzbench_metrics::BootstrapConfig;

/// The array's values in place; the Python side passes contiguous float64 arrays only.
pub fn as_slice<'a>(name: &str, array: &'a PyReadonlyArray1<'_, f64>) -> PyResult<&'a [f64]> {
    array.as_slice().map_err(|_| PyValueError::new_err(format!("{name}: expected a contiguous float64 array")))
}

/// Both columns: as long as each other, not empty, finite, and `z_spec > -1` (so `1 + z_spec > 0`).
pub fn check_columns(z_spec: &[f64], z_phot: &[f64]) -> PyResult<()> {
    if z_spec.len() != z_phot.len() {
        return Err(PyValueError::new_err(format!(
            "z_spec has {} values but z_phot has {}; give one z_phot per z_spec",
            z_spec.len(),
            z_phot.len()
        )));
    }
    if z_spec.is_empty() {
        return Err(PyValueError::new_err("z_spec and z_phot are empty; give at least one galaxy"));
    }
    for (name, column) in [("z_spec", z_spec), ("z_phot", z_phot)] {
        if let Some(i) = column.iter().position(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "{name}[{i}] is {}; every redshift must be a finite number (drop or fill missing values first)",
                column[i]
            )));
        }
    }
    if let Some(i) = z_spec.iter().position(|&z| z <= -1.0) {
        return Err(PyValueError::new_err(format!(
            "z_spec[{i}] = {} is <= -1, so 1 + z_spec <= 0; check that this is the spectroscopic redshift",
            z_spec[i]
        )));
    }
    Ok(())
}

/// The bootstrap settings (`None` for `resamples = 0`); `confidence` must lie in (0, 1).
pub fn bootstrap_config(resamples: usize, confidence: f64, seed: u64) -> PyResult<Option<BootstrapConfig>> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(PyValueError::new_err(format!(
            "confidence = {confidence} must lie strictly between 0 and 1, e.g. 0.95"
        )));
    }
    Ok((resamples > 0).then_some(BootstrapConfig { resamples, confidence, seed }))
}
