//! `pzbench.gate` and `pzbench.save_baseline`: `pzbench gate` and `pzbench baseline save`.

use std::ffi::OsString;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pzbench::cli::gate::{GateArgs, SaveArgs};
use pzbench_gate::policy::{Policy, PolicyError};

use super::{detached, parse};

/// `pzbench gate ARGS`: the report as JSON, text and Markdown (as `--format json|text|markdown`
/// print it), and whether it failed (exit code 1). `policy`, when given, is the TOML text of a
/// policy written from a Python dict (one key a line), used instead of `--policy`.
#[pyfunction]
#[pyo3(signature = (args, policy=None))]
fn gate(py: Python<'_>, args: Vec<OsString>, policy: Option<String>) -> PyResult<(String, String, String, bool)> {
    let args: GateArgs = parse(&["gate"], args, &[])?;
    let policy = policy.map(|text| Policy::from_toml(&text).map_err(|e| policy_error(&text, e))).transpose()?;
    detached(py, move || {
        let policy = match policy {
            Some(policy) => policy,
            None => pzbench::cli::gate::policy(&args)?,
        };
        let report = pzbench::cli::gate::report(&args, policy)?;
        Ok((report.to_json(), report.to_text(), report.to_markdown(), report.failed()))
    })
}

/// The `ValueError` for a policy given as a dict (its TOML `text`): `policy: ` and the policy's
/// message, a TOML error quoting the line at fault, i.e. the key and value (`policy: confidence
/// = "high": invalid type: string "high", expected f64`).
fn policy_error(text: &str, error: PolicyError) -> PyErr {
    let message = match &error {
        PolicyError::Toml { line, message, .. } => match text.lines().nth(line.saturating_sub(1)) {
            Some(at) => format!("{}: {message}", at.trim()),
            None => message.clone(),
        },
        _ => error.to_string(),
    };
    PyValueError::new_err(format!("policy: {message}"))
}

/// `pzbench baseline save ARGS`: the score saved, as `pzbench score --format json` prints it.
#[pyfunction]
fn save_baseline(py: Python<'_>, args: Vec<OsString>) -> PyResult<String> {
    let args: SaveArgs = parse(&["baseline", "save"], args, &[])?;
    detached(py, || pzbench::cli::gate::save(&args, None).map(|report| report.to_json()))
}

/// Add `gate` and `save_baseline` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gate, m)?)?;
    m.add_function(wrap_pyfunction!(save_baseline, m)?)?;
    Ok(())
}
