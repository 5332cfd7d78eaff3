//! The `pzbench` command line. Exit codes: 0 success, 1 a finding (e.g. a regression), 2 error.
//!
//! Help text lives on each subcommand's `Args` struct: a doc comment on a `Command` variant would
//! replace its long help.

mod bench;
mod ensemble;
pub mod figure6;
pub mod gate;
pub mod input;
mod inspect;
pub mod leaderboard;
mod plot;
mod predict;
mod progress;
mod reproduce;
pub mod score;
mod synth;
pub mod table2;
mod train;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use pzbench_io::Result;

/// pzbench: the GalaxiesML photometric-redshift benchmark as a tool.
#[derive(Debug, Parser)]
#[command(name = "pzbench", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    Score(score::ScoreArgs),
    Synth(synth::SynthArgs),
    Inspect(inspect::InspectArgs),
    Train(train::TrainArgs),
    Predict(predict::PredictArgs),
    Ensemble(ensemble::EnsembleArgs),
    Table2(table2::Table2Args),
    Figure6(figure6::Figure6Args),
    Plot(plot::PlotArgs),
    Leaderboard(leaderboard::LeaderboardArgs),
    Gate(gate::GateArgs),
    Baseline(gate::BaselineArgs),
    Reproduce(reproduce::ReproduceArgs),
    Bench(bench::BenchArgs),
}

/// Parse the command line and run the command. Exit codes are decided here and only here: what
/// the command returns (0, or 1 for a finding), 2 with one line on stderr for an error, and 0
/// when standard output was closed by its reader (`pzbench score F | head`): a closed pipe is
/// not the user's problem.
///
/// `args` are the whole command line, the program's name first (`std::env::args_os()`). `--help`,
/// `--version` and a usage error end the process as clap ends it.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    match run_command(cli.command) {
        Ok(code) => code,
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Run one parsed command.
fn run_command(command: Command) -> Result<ExitCode> {
    match command {
        Command::Score(args) => score::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Gate(args) => gate::run(args),
        Command::Baseline(args) => gate::run_baseline(args),
        Command::Table2(args) => table2::run(args),
        Command::Figure6(args) => figure6::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Leaderboard(args) => leaderboard::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Train(args) => train::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Ensemble(args) => ensemble::run(args),
        Command::Reproduce(args) => reproduce::run(args),
    }
}

/// Write `text` to `output` atomically, or to standard output.
fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => pzbench_io::write_atomic(path, text.as_bytes()),
        None => print(text),
    }
}

/// Write `text` to standard output. A failure keeps its `std::io::Error` as the source, so that
/// [`main`] recognises a closed pipe.
fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| pzbench_io::Error::other(format!("cannot write to standard output: {e}")).caused_by(e))
}
