//! pzbench's errors as Python exceptions, with the CLI's one-line messages: a missing file is
//! `FileNotFoundError`, an unreadable one `PermissionError`, any other problem with an input,
//! an argument or a combination of arguments `ValueError`, and a failure that belongs to no input
//! (a numerical failure, a bug) `pzbench.PzbenchError`.

use pyo3::exceptions::{PyFileNotFoundError, PyPermissionError, PyValueError};
use pyo3::PyErr;
use pzbench_io::Error;

use crate::PzbenchError;

/// The exception for `error`, carrying its message (what `pzbench` prints after `error: `).
pub fn to_py_err(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::File { source, .. } => match io_kind(source.as_deref()) {
            Some(std::io::ErrorKind::NotFound) => PyFileNotFoundError::new_err(message),
            Some(std::io::ErrorKind::PermissionDenied) => PyPermissionError::new_err(message),
            _ => PyValueError::new_err(message),
        },
        Error::Usage(_) => PyValueError::new_err(message),
        Error::Other { .. } => PzbenchError::new_err(message),
    }
}

/// The kind of the `std::io::Error` that caused a file error, if that is what caused it.
fn io_kind(source: Option<&(dyn std::error::Error + Send + Sync + 'static)>) -> Option<std::io::ErrorKind> {
    source.and_then(|cause| cause.downcast_ref::<std::io::Error>()).map(std::io::Error::kind)
}
