//! `pzbench gate` and `pzbench baseline save`: block pull requests that make photo-z metrics worse.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::input::{print_lock_wait, BootstrapArgs, ColumnArgs, LockArgs, PdfInputArgs};
use pzbench_gate::policy::Policy;
use pzbench_gate::{run_gate, save_baseline, GateReport, GateRequest};
use pzbench_io::update::LockWait;
use pzbench_io::{Error, Result};
use pzbench_report::ScoreReport;

/// Output formats of `gate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GateFormat {
    Text,
    Markdown,
    Json,
}

/// Fail (exit 1) when the candidate's photo-z metrics are worse than the baseline's.
///
/// A regression is a change in the bad direction that is larger than the policy's tolerance AND
/// significant: its bootstrap interval excludes zero. With per-galaxy baseline predictions (a
/// predictions file, or a file from `pzbench baseline save`) the bootstrap is paired over
/// galaxies; with a saved score only the candidate is resampled. Overall and per-bin values (bins
/// on z_spec, the paper's 0.2-wide bins) are gated. Exit codes: 0 pass, 1 regression, 2 error.
///
/// PDF files (as `pzbench score` recognises them) are gated against a PDF file of the same
/// galaxies or a `pzbench baseline save` file of one: the policy's PDF metrics (crps, cde_loss,
/// pit_ks, pit_cvm, pit_ad, pit_outlier_rate, coverage_68, coverage_95) on a paired bootstrap,
/// with the point metrics of the PDFs' mode (median for samples).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench gate --baseline baselines/nn.baseline.json --candidate preds.csv\n  pzbench gate --baseline main_preds.csv --candidate preds.csv --policy policy.toml --summary \"$GITHUB_STEP_SUMMARY\"\n\nDefault policy (override any key in a TOML file):\n  confidence = 0.95\n  correction = \"bonferroni\"\n  resamples = 1000\n  seed = 42\n  bins = true\n  min_galaxies_per_bin = 100\n  [metrics]\n  loss = { relative = 0.05 }\n  bias = { absolute = 0.002 }      # gated on |bias|\n  scatter = { relative = 0.05 }\n  outlier_frac = { absolute = 0.005 }\n  mse = { relative = 0.10 }\n  # PDF files only, when [metrics] is not given:\n  crps = { relative = 0.05 }\n  pit_ks = { absolute = 0.01 }"
)]
pub struct GateArgs {
    /// Baseline: a predictions or PDF file, a `pzbench baseline save` file, or a score JSON.
    #[arg(long, value_name = "BASE")]
    pub baseline: PathBuf,
    /// Candidate predictions or PDF file.
    #[arg(long, value_name = "FILE")]
    pub candidate: PathBuf,
    /// Policy file (TOML); see below for the keys and defaults.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub input: ColumnArgs,
    #[command(flatten)]
    pub pdf: PdfInputArgs,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = GateFormat::Text)]
    pub format: GateFormat,
    /// Append a Markdown summary to FILE (e.g. "$GITHUB_STEP_SUMMARY").
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}

/// Run `pzbench gate`.
pub fn run(args: GateArgs) -> Result<ExitCode> {
    let report = report(&args, policy(&args)?)?;
    let text = match args.format {
        GateFormat::Text => report.to_text(),
        GateFormat::Markdown => report.to_markdown(),
        GateFormat::Json => report.to_json(),
    };
    super::emit(&text, None)?;
    if let Some(path) = &args.summary {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::file(path, format!("cannot open summary file: {e}")).caused_by(e))?;
        file.write_all(report.to_markdown().as_bytes())
            .map_err(|e| Error::file(path, format!("cannot write summary: {e}")).caused_by(e))?;
    }
    Ok(if report.failed() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The policy of `args`: its `--policy` file, or the default policy.
pub fn policy(args: &GateArgs) -> Result<Policy> {
    match &args.policy {
        Some(path) => Policy::load(path),
        None => Ok(Policy::default()),
    }
}

/// The gate's report on `args.candidate` against `args.baseline` under `policy` (its `--format`
/// and `--summary` aside). Also what `pzbench.gate` returns in Python.
pub fn report(args: &GateArgs, policy: Policy) -> Result<GateReport> {
    run_gate(&GateRequest {
        baseline: args.baseline.clone(),
        candidate: args.candidate.clone(),
        sample_options: args.input.sample_options(false, false)?,
        pdf_read: args.pdf.read_options(&args.input, false, false)?,
        policy,
    })
}

/// Manage gate baselines.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub command: BaselineCommand,
}

/// `pzbench baseline` subcommands.
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    Save(SaveArgs),
}

/// Save a baseline for `pzbench gate`: the score JSON, the predictions' hash, and the per-galaxy
/// predictions (so later gates run a paired bootstrap without the original files). For a PDF file:
/// the score with its `pdf` block and every galaxy's PDF values (PIT, CRPS, ...).
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Predictions or PDF file to save as the baseline.
    #[arg(long, value_name = "FILE")]
    pub predictions: PathBuf,
    #[command(flatten)]
    pub input: ColumnArgs,
    #[command(flatten)]
    pub pdf: PdfInputArgs,
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// Output baseline file (JSON, written atomically, under a lock: .FILE.lock beside it).
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// Run `pzbench baseline …`.
pub fn run_baseline(args: BaselineArgs) -> Result<ExitCode> {
    let BaselineCommand::Save(args) = args.command;
    let report = save(&args, Some(&print_lock_wait))?;
    let galaxies = report.overall.map_or(0, |m| m.count);
    eprintln!("pzbench: saved baseline {} ({galaxies} galaxies)", args.output.display());
    Ok(ExitCode::SUCCESS)
}

/// Save the baseline of `args` (`pzbench baseline save`) and return its score; `on_wait` is told
/// when the wait for the output's lock lasts. Also what `pzbench.save_baseline` does in Python.
pub fn save(args: &SaveArgs, on_wait: Option<&dyn Fn(&LockWait<'_>)>) -> Result<ScoreReport> {
    let options = args.input.sample_options(false, false)?;
    let pdf = args.pdf.read_options(&args.input, false, false)?;
    let bootstrap = args.bootstrap.config()?;
    let lock = args.lock.options(on_wait)?;
    save_baseline(&args.predictions, &options, &pdf, bootstrap, &args.output, &lock)
}
