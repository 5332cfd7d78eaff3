//! The `pzbench` command inside the wheel: the console script `pzbench` (pyproject.toml) calls
//! [`main`], which runs the same command line as the `pzbench` binary (`pzbench::cli::main`), so
//! `pip install` alone gives CI the gate.

use std::ffi::OsString;
use std::process::ExitCode;

use pyo3::prelude::*;

/// Run the `pzbench` command line on `argv` (the program's name first, as `sys.argv`) and return
/// its exit code: 0 success, 1 a finding (a regression, a failed check), 2 an error. The GIL is
/// released while the command runs; `--help`, `--version` and a usage error end the process.
#[pyfunction]
pub fn main(py: Python<'_>, argv: Vec<OsString>) -> u8 {
    pzbench::return_large_frees_to_the_system();
    let code = py.detach(|| pzbench::cli::main(argv));
    [ExitCode::SUCCESS, ExitCode::FAILURE].iter().position(|known| *known == code).unwrap_or(2) as u8
}
