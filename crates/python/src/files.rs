//! File-level commands (score a file, gate, Table 2, Figure 6, leaderboards): filled in by issue 17.

use pyo3::prelude::*;

/// Add this topic's functions to the module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
