//! `pzbench.leaderboard_add|show|render`: `pzbench leaderboard add|show|render`.

use std::ffi::OsString;

use pyo3::prelude::*;
use pzbench::cli::leaderboard::{AddArgs, RenderArgs, ShowArgs};
use pzbench_io::write_atomic;
use pzbench_report::leaderboard::{rank_metric, Board};

use super::{detached, parse};

/// `pzbench leaderboard add ARGS`: whether an entry was replaced, the entry's rank by loss and the
/// number of entries on the board now.
#[pyfunction]
fn leaderboard_add(py: Python<'_>, args: Vec<OsString>) -> PyResult<(bool, usize, usize)> {
    let args: AddArgs = parse(&["leaderboard", "add"], args, &[])?;
    detached(py, || {
        let added = pzbench::cli::leaderboard::add(&args, None)?;
        Ok((added.replaced, added.rank, added.entries))
    })
}

/// A board as `pzbench.leaderboard_show` returns it: its JSON (as pzbench writes boards), the
/// entries' names ranked by `--by`, and the board rendered ranked so: `leaderboard show`'s text,
/// Markdown and HTML.
#[derive(IntoPyObject)]
struct Shown {
    json: String,
    ranked: Vec<String>,
    text: String,
    markdown: String,
    html: String,
}

/// `pzbench leaderboard show ARGS`: the board and its ranking ([`Shown`]).
#[pyfunction]
fn leaderboard_show(py: Python<'_>, args: Vec<OsString>) -> PyResult<Shown> {
    let args: ShowArgs = parse(&["leaderboard", "show"], args, &[])?;
    detached(py, || {
        let by = rank_metric(&args.by)?;
        let board = Board::load(&args.board)?;
        Ok(Shown {
            json: board.to_json()?,
            ranked: board.ranked(by).into_iter().map(|entry| entry.name.clone()).collect(),
            text: board.to_terminal(by),
            markdown: board.to_markdown(by),
            html: board.to_html(by),
        })
    })
}

/// `pzbench leaderboard render ARGS`: the board rendered, also written to `--output` if given.
#[pyfunction]
fn leaderboard_render(py: Python<'_>, args: Vec<OsString>) -> PyResult<String> {
    let args: RenderArgs = parse(&["leaderboard", "render"], args, &[])?;
    detached(py, || {
        let text = pzbench::cli::leaderboard::render(&args)?;
        if let Some(path) = &args.output {
            write_atomic(path, text.as_bytes())?;
        }
        Ok(text)
    })
}

/// Add the leaderboard functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(leaderboard_add, m)?)?;
    m.add_function(wrap_pyfunction!(leaderboard_show, m)?)?;
    m.add_function(wrap_pyfunction!(leaderboard_render, m)?)?;
    Ok(())
}
