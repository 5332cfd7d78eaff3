//! The file-level API (`python/pzbench/_files.py`, `docs/python.md`): `pzbench score` on a file
//! (here), `gate` and `baseline save` ([`gate`]), `table2` and `figure6` ([`reports`]), and
//! `leaderboard add|show|render` ([`leaderboard`]).
//!
//! Each function takes the command's arguments as the command line takes them (the Python
//! wrappers write them from their keywords), parses them with the command line's own clap
//! structs ([`parse`]) and calls the function the command calls (`pzbench::cli`), so behaviour,
//! results and error messages are the command's. Nothing here prints: what the command prints
//! on stderr (the columns picked, notes, waits for a lock) is left out or returned.

mod gate;
mod leaderboard;
mod reports;

use std::ffi::OsString;
use std::panic::UnwindSafe;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pzbench::cli::score::ScoreArgs;
use pzbench::cli::Cli;

use crate::error::to_py_err;
use crate::{catch_panic, PzbenchError};

/// Parse `args` as the arguments of the subcommand `path` (e.g. `["leaderboard", "add"]`) of the
/// `pzbench` command line. A usage error becomes a `ValueError` that names the Python keyword of
/// the argument at fault: its flag's name with `_` for `-` (`--zspec-col` is `zspec_col`) unless
/// `keywords` maps the name (without dashes) to another keyword.
fn parse<T: FromArgMatches>(path: &[&str], args: Vec<OsString>, keywords: &[(&str, &str)]) -> PyResult<T> {
    let argv = std::iter::once("pzbench").chain(path.iter().copied()).map(OsString::from).chain(args);
    let usage = |error: clap::Error| PyValueError::new_err(usage_message(&error, keywords));
    let mut matches = Cli::command().try_get_matches_from(argv).map_err(usage)?;
    for name in path {
        matches = match matches.remove_subcommand() {
            Some((parsed, sub)) if parsed == *name => sub,
            _ => return Err(PzbenchError::new_err(format!("internal error: `pzbench {name}` was not parsed"))),
        };
    }
    T::from_arg_matches_mut(&mut matches).map_err(usage)
}

/// One line on a usage error, naming the Python keyword: `bin_on: invalid value 'x' (expected
/// one of: zspec, zphot)`, `bootstrap: invalid value '-1' (invalid digit found in string)`. Other
/// errors keep clap's first paragraph as one line, without its `error: `, the argument named by
/// its keyword (`a value is required for 'path' but none was supplied`).
fn usage_message(error: &clap::Error, keywords: &[(&str, &str)]) -> String {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        Some(ContextValue::Strings(texts)) => Some(texts.join(", ")),
        _ => None,
    };
    let arg = context(ContextKind::InvalidArg);
    let value = context(ContextKind::InvalidValue);
    let reason = match error.kind() {
        ErrorKind::InvalidValue => context(ContextKind::ValidValue)
            .filter(|valid| !valid.is_empty())
            .map(|valid| format!("expected one of: {valid}")),
        ErrorKind::ValueValidation => std::error::Error::source(error).map(|source| source.to_string()),
        _ => None,
    };
    if let (Some(arg), Some(value), Some(reason)) = (&arg, value, reason) {
        return format!("{}: invalid value '{value}' ({reason})", keyword(arg, keywords));
    }
    let rendered = error.render().to_string();
    let paragraph = rendered.split("\n\n").next().unwrap_or_default();
    let line = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    match &arg {
        Some(arg) => line.replace(&format!("'{arg}'"), &format!("'{}'", keyword(arg, keywords))),
        None => line.to_string(),
    }
}

/// The Python keyword of a clap argument as clap names it in errors (`--bin-on <BIN_ON>`,
/// `<PREDICTIONS>`): the name, in `keywords` if there, else with `_` for `-`, lower case.
fn keyword(arg: &str, keywords: &[(&str, &str)]) -> String {
    let name = arg.split_whitespace().next().unwrap_or(arg).trim_start_matches('-').trim_matches(['<', '>']);
    let name = name.to_lowercase().replace('-', "_");
    keywords.iter().find(|(flag, _)| *flag == name).map_or(name, |(_, keyword)| keyword.to_string())
}

/// Run `f` with the GIL released: a pzbench error becomes its Python exception
/// ([`to_py_err`]), a panic a `PzbenchError`.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> pzbench_io::Result<T> + Send + UnwindSafe) -> PyResult<T> {
    py.detach(|| catch_panic(f)?.map_err(to_py_err))
}

/// `pzbench score PATH ARGS`: the report as `--format json` prints it (`pzbench.score_file`).
#[pyfunction]
fn score_file(py: Python<'_>, args: Vec<OsString>) -> PyResult<String> {
    let args: ScoreArgs = parse(&["score"], args, &[("predictions", "path")])?;
    detached(py, || pzbench::cli::score::report(&args).map(|report| report.to_json()))
}

/// Add this topic's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(score_file, m)?)?;
    gate::register(m)?;
    reports::register(m)?;
    leaderboard::register(m)?;
    Ok(())
}
