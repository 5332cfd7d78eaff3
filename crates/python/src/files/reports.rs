//! `pzbench.table2` and `pzbench.figure6`: `pzbench table2` and `pzbench figure6`.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::ValueEnum;
use pyo3::prelude::*;
use pzbench::cli::figure6::Figure6Args;
use pzbench::cli::table2::{render, Table2Args, Table2Format};
use pzbench_io::write_atomic;

use super::{detached, parse};

/// The Python keywords of the reports' flags that are not the flag's name: a `--model` each
/// item of `models`, `--edges` a list given as `bins`.
const KEYWORDS: [(&str, &str); 2] = [("model", "models"), ("edges", "bins")];

/// `pzbench table2 ARGS`: the table in every format, by `--format` name; written to `--output`
/// in `--format` when given.
#[pyfunction]
fn table2(py: Python<'_>, args: Vec<OsString>) -> PyResult<BTreeMap<String, String>> {
    let args: Table2Args = parse(&["table2"], args, &KEYWORDS)?;
    detached(py, || {
        let scored = pzbench::cli::table2::score(&args)?;
        let table = pzbench_report::table2(&scored, args.published)?;
        if let Some(path) = &args.output {
            write_atomic(path, render(&table, args.format).as_bytes())?;
        }
        Ok(Table2Format::value_variants()
            .iter()
            .filter_map(|format| Some((format.to_possible_value()?.get_name().to_string(), render(&table, *format))))
            .collect())
    })
}

/// What `pzbench.figure6` drew: each model's name and score (as `pzbench score --format json`
/// prints it), in legend order, and the notes on the comparison.
#[derive(IntoPyObject)]
struct Drawn {
    scores: Vec<(String, String)>,
    notes: Vec<String>,
}

/// `pzbench figure6 ARGS`: draws the figure into `--output` ([`Drawn`]).
#[pyfunction]
fn figure6(py: Python<'_>, args: Vec<OsString>) -> PyResult<Drawn> {
    let args: Figure6Args = parse(&["figure6"], args, &KEYWORDS)?;
    detached(py, || {
        let scored = pzbench::cli::figure6::score(&args)?;
        pzbench::cli::figure6::draw(&args, &scored)?;
        let scores = scored.models().iter().map(|model| (model.name.clone(), model.report.to_json())).collect();
        Ok(Drawn { scores, notes: scored.notes().to_vec() })
    })
}

/// Add `table2` and `figure6` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(table2, m)?)?;
    m.add_function(wrap_pyfunction!(figure6, m)?)?;
    Ok(())
}
