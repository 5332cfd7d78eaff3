//! PDF metrics on arrays and qp ensembles: filled in by issue 17.

use pyo3::prelude::*;

/// Add this topic's functions to the module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
