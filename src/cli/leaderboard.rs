//! `pzbench leaderboard add|show|render`: a JSON leaderboard of models scored on one dataset.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::input::{print_lock_wait, BootstrapArgs, InputArgs, LockArgs, PdfArgs};
use pzbench_io::pdf::detect_pdf_file;
use pzbench_io::update::LockWait;
use pzbench_io::{Error, Result};
use pzbench_report::leaderboard::{self, rank_metric, Added, BoardFormat};
use pzbench_report::ModelInput;

/// Keep a leaderboard of photo-z models (a JSON file, layout in leaderboards/schema.json).
///
/// `add` scores a predictions file with the paper's metrics (overall and per Figure 6 bin, with
/// optional bootstrap intervals) and records it with the dataset's identity, the predictions'
/// SHA-256, the pzbench version and the date; `show` ranks the entries; `render` writes Markdown
/// or HTML. A file of PDFs is scored as `pzbench score` scores it, and its entry also keeps the
/// headline PDF metrics (PIT KS/CvM/AD, PIT outlier rate, coverage 68/95 %, CRPS, CDE loss), which
/// boards can be ranked by. Boards are validated on every load; every write is atomic.
#[derive(Debug, Args)]
pub struct LeaderboardArgs {
    #[command(subcommand)]
    pub command: LeaderboardCommand,
}

/// The leaderboard subcommands.
#[derive(Debug, Subcommand)]
pub enum LeaderboardCommand {
    Add(Box<AddArgs>),
    Show(ShowArgs),
    Render(RenderArgs),
}

/// Score a predictions file and add it to a board (created if missing).
///
/// An entry holds the metrics overall and per bin (0 to 4 in steps of 0.2 on z_spec, the paper's
/// Figure 6), with bootstrap intervals when --bootstrap is given, the dataset (label, synthetic or
/// not, the SHA-256 of the file z_spec came from and a fingerprint of the z_spec values), the
/// predictions' SHA-256, the pzbench version and the UTC date (SOURCE_DATE_EPOCH overrides the
/// clock). A file of PDFs (as recognised by `pzbench score`) is scored as `pzbench score` does:
/// the point metrics are those of its --point estimate, and the entry also holds the PDF metrics
/// pit_ks, pit_cvm, pit_ad, pit_outlier_rate, coverage_68, coverage_95, crps and cde_loss. All entries of a board must be scored on the same galaxies; a name already on the board
/// needs --replace.
///
/// The board is updated under a lock (a file .BOARD.lock beside it): adds to one board from
/// several processes at once run one after another and all land; one that waits prints a line
/// after a second and gives up (exit 2) after --lock-timeout.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench leaderboard add --board leaderboards/galaxiesml.json --name CNN --predictions cnn.csv\n  pzbench leaderboard add --board lb.json --name NN --predictions nn.csv --truth test.hdf5 --bootstrap 1000 --replace\n  pzbench leaderboard add --board lb.json --name KNN --predictions knn.qp.hdf5 --point median"
)]
pub struct AddArgs {
    /// The board file (JSON); created if it does not exist.
    #[arg(long, value_name = "FILE")]
    pub board: PathBuf,

    /// The entry's name (unique within the board).
    #[arg(long)]
    pub name: String,

    /// Predictions file: CSV, TSV, whitespace-separated text or Parquet, or a file of PDFs (as
    /// for `pzbench score`).
    #[arg(long, value_name = "FILE")]
    pub predictions: PathBuf,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub pdf: PdfArgs,

    /// Overwrite an entry of the same name.
    #[arg(long)]
    pub replace: bool,

    #[command(flatten)]
    pub bootstrap: BootstrapArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

/// Print a board's entries ranked by a metric (ascending; biases by absolute value).
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The board file.
    #[arg(long, value_name = "FILE")]
    pub board: PathBuf,

    /// Metric to rank by: any docs/METRICS.md key but count (e.g. loss, scatter, outlier_frac,
    /// bias), or a PDF metric (pit_ks, pit_cvm, pit_ad, pit_outlier_rate, coverage_68,
    /// coverage_95, crps, cde_loss; coverages by the distance from nominal; entries without PDF
    /// metrics last).
    #[arg(long, default_value = "loss", value_name = "METRIC")]
    pub by: String,
}

/// Output formats of `leaderboard render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// A Markdown heading, summary and table.
    Markdown,
    /// A standalone HTML page.
    Html,
}

/// Render a board as Markdown or HTML, ranked by a metric.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The board file.
    #[arg(long, value_name = "FILE")]
    pub board: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RenderFormat::Markdown)]
    pub format: RenderFormat,

    /// Metric to rank by (as for `show`).
    #[arg(long, default_value = "loss", value_name = "METRIC")]
    pub by: String,

    /// Write to FILE (atomically) instead of standard output.
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Run `pzbench leaderboard ...`.
pub fn run(args: LeaderboardArgs) -> Result<ExitCode> {
    match args.command {
        LeaderboardCommand::Add(args) => {
            let added = add(&args, Some(&print_lock_wait))?;
            eprintln!(
                "pzbench: {} '{}' {} {} (rank {} of {} by loss)",
                if added.replaced { "replaced" } else { "added" },
                args.name,
                if added.replaced { "in" } else { "to" },
                args.board.display(),
                added.rank,
                added.entries
            );
            Ok(ExitCode::SUCCESS)
        }
        LeaderboardCommand::Show(args) => {
            let by = rank_metric(&args.by)?;
            super::emit(&leaderboard::render(&args.board, by, BoardFormat::Terminal)?, None)?;
            Ok(ExitCode::SUCCESS)
        }
        LeaderboardCommand::Render(args) => {
            super::emit(&render(&args)?, args.output.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Score the predictions of `args` and add them to its board (`leaderboard add`); `on_wait` is
/// told when the wait for the board's lock lasts. Also what `pzbench.leaderboard_add` does.
pub fn add(args: &AddArgs, on_wait: Option<&dyn Fn(&LockWait<'_>)>) -> Result<Added> {
    if args.name.trim().is_empty() {
        return Err(Error::usage("--name must not be empty; give the model a name, e.g. --name CNN"));
    }
    let config = args.bootstrap.config()?;
    let input = ModelInput { pdf: args.pdf.options(&args.input.columns, false, false)?, ..args.input.model_input()? };
    if let Some(message) = args.pdf.refuse_on_points(false, "this file holds") {
        if detect_pdf_file(&args.predictions, &input.pdf.read)?.is_none() {
            return Err(Error::file(&args.predictions, message));
        }
    }
    let lock = args.lock.options(on_wait)?;
    leaderboard::add(&args.board, &args.name, &args.predictions, &input, config, args.replace, &lock)
}

/// The board of `args` rendered as `leaderboard render` writes it.
pub fn render(args: &RenderArgs) -> Result<String> {
    let by = rank_metric(&args.by)?;
    let format = match args.format {
        RenderFormat::Markdown => BoardFormat::Markdown,
        RenderFormat::Html => BoardFormat::Html,
    };
    leaderboard::render(&args.board, by, format)
}
