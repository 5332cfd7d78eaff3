//! The `pzbench` command line.

mod inspect;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// pzbench: the GalaxiesML photo-z benchmark as a tool.
#[derive(Debug, Parser)]
#[command(name = "pzbench", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    // Help text: on `InspectArgs` (a doc comment here would replace its long help).
    Inspect(inspect::InspectArgs),
}

/// Parse the command line, run the command, map errors to exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => inspect::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
