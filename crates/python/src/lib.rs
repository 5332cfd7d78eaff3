//! `pzbench._core`, the compiled half of the `pzbench` Python package (`python/pzbench`,
//! `docs/python.md`), one module per topic: [`score`] runs `pzbench score`'s pipeline on arrays,
//! [`files`] the file-level commands (score a file, gate, Table 2, Figure 6, leaderboards),
//! [`pdf`] the PDF metrics on arrays, [`scale`] the exact metrics of partitioned data (Dask,
//! Spark, Ray), [`cli`] the `pzbench` command itself. Results cross into Python as plain dicts
//! and the CLI's JSON, which the pure-Python wrappers present. The GIL is released while
//! computing; a panic becomes `PzbenchError`.

mod arrow;
mod cli;
mod convert;
mod error;
mod files;
mod input;
mod interrupt;
mod pdf;
mod scale;
mod score;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _core,
    PzbenchError,
    PyException,
    "A pzbench failure that is not a bad input (ValueError) or a missing file (FileNotFoundError): a numerical failure, or a bug (please report it with the input that caused it)."
);

/// Run `f`, turning a panic into a `PzbenchError` carrying the panic's message.
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> PyResult<T> {
    std::panic::catch_unwind(f).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        PzbenchError::new_err(format!("internal error: {message}"))
    })
}

/// The module: each topic adds its functions, then `PzbenchError` and `main` (the command line).
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    score::register(m)?;
    files::register(m)?;
    pdf::register(m)?;
    scale::register(m)?;
    m.add_function(wrap_pyfunction!(cli::main, m)?)?;
    m.add("PzbenchError", m.py().get_type::<PzbenchError>())?;
    Ok(())
}
