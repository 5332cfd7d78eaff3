//! The `pzbench` binary: [`cli`] parses the command line into the library crates' objects, runs
//! them and prints; exit codes are decided in one place ([`cli::main`]).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
