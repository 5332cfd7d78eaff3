//! What Python passes in: the redshift columns ([`Column`]) and the checks on them and on the
//! options, each failing with a one-line `ValueError` that names the argument, the position and
//! the fix (the command line's messages name a file's row instead).

use std::borrow::Cow;

use numpy::{Element, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pzbench_metrics::{BinOn, Bins, BootstrapConfig};

use crate::arrow::{exports_arrow, ArrowColumn};

/// A column of numbers as Python passes it: a contiguous float64 numpy array (the Python side
/// converts other numpy input), or an Arrow array or stream.
pub enum Column<'py> {
    Numpy(PyReadonlyArray1<'py, f64>),
    Arrow(ArrowColumn),
}

impl<'py> Column<'py> {
    /// The column `object`, the Python argument `name`: an object with the Arrow PyCapsule
    /// interface is imported as Arrow, anything else must be a float64 numpy array.
    pub fn new(name: &str, object: &Bound<'py, PyAny>) -> PyResult<Self> {
        if exports_arrow(object)? {
            return Ok(Column::Arrow(ArrowColumn::import(name, object)?));
        }
        Ok(Column::Numpy(
            object.extract().map_err(|_| {
                PyValueError::new_err(format!("{name}: expected a float64 numpy array or an Arrow array"))
            })?,
        ))
    }

    /// The values as float64 (`name`: the Python argument, for messages), in place where the
    /// layout allows (a contiguous float64 numpy array, a single float64 Arrow chunk without
    /// nulls), converted once otherwise.
    pub fn values(&self, name: &str) -> PyResult<Cow<'_, [f64]>> {
        match self {
            Column::Numpy(array) => as_slice(name, array).map(Cow::Borrowed),
            Column::Arrow(column) => column.values(name),
        }
    }
}

/// The array's values in place; the Python side passes contiguous arrays only.
pub fn as_slice<'a, T: Element>(name: &str, array: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    array.as_slice().map_err(|_| PyValueError::new_err(format!("{name}: expected a contiguous array")))
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
    check_finite("z_spec", z_spec)?;
    check_finite("z_phot", z_phot)?;
    check_true_redshifts("z_spec", z_spec)
}

/// Every value of the redshift column `name` is a finite number.
pub fn check_finite(name: &str, column: &[f64]) -> PyResult<()> {
    match column.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(PyValueError::new_err(format!(
            "{name}[{i}] is {}; every redshift must be a finite number (drop or fill missing values first)",
            column[i]
        ))),
        None => Ok(()),
    }
}

/// Every true redshift of the column `name` is above -1, so that `1 + z_spec > 0`.
pub fn check_true_redshifts(name: &str, z_spec: &[f64]) -> PyResult<()> {
    match z_spec.iter().position(|&z| z <= -1.0) {
        Some(i) => Err(PyValueError::new_err(format!(
            "{name}[{i}] = {} is <= -1, so 1 + z_spec <= 0; check that this is the spectroscopic redshift",
            z_spec[i]
        ))),
        None => Ok(()),
    }
}

/// The bins of `edges` (default: the paper's, `Bins::galaxiesml_default`) on the redshift
/// `bin_on` names: `"zspec"` or `"zphot"`, as `pzbench score --edges` and `--bin-on`.
pub fn bins(edges: Option<Vec<f64>>, bin_on: &str) -> PyResult<Bins> {
    let on = match bin_on {
        "zspec" => BinOn::ZSpec,
        "zphot" => BinOn::ZPhot,
        other => return Err(PyValueError::new_err(format!("bin_on = '{other}': expected 'zspec' or 'zphot'"))),
    };
    match edges {
        Some(edges) => Bins::new(on, edges),
        None => Ok(Bins { on, ..Bins::galaxiesml_default() }),
    }
    .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The object ids `ids`: one a galaxy (`n`), each galaxy once, as `pzbench score` requires of a
/// file's id column (its message, naming positions in `ids` instead of a file's rows).
pub fn check_ids(ids: &[i64], n: usize) -> PyResult<()> {
    if ids.len() != n {
        return Err(PyValueError::new_err(format!(
            "ids has {} values but z_spec has {n}; give one id per galaxy",
            ids.len()
        )));
    }
    if ids.windows(2).all(|pair| pair[0] < pair[1]) {
        return Ok(());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let Some(id) = sorted.windows(2).find(|pair| pair[0] == pair[1]).map(|pair| pair[0]) else {
        return Ok(());
    };
    let mut positions = ids.iter().enumerate().filter(|(_, value)| **value == id).map(|(i, _)| i);
    let (first, second) = (positions.next().unwrap_or_default(), positions.next().unwrap_or_default());
    Err(PyValueError::new_err(format!(
        "duplicate id {id} (ids[{first}] and ids[{second}]); each galaxy must appear once"
    )))
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
