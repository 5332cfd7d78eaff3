//! The `pzbench` command line.

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
pub enum Command {}

/// Parse the command line, run the command, map errors to exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
