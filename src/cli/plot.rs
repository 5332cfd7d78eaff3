//! `pzbench plot`: diagnostic plots of one predictions file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::figure6::ImageSize;
use super::input::InputArgs;
use pzbench_io::{Error, Result};
use pzbench_report::figure::ImageFormat;
use pzbench_report::{scatter_plot, ScatterOptions};

/// Diagnostic plots of a predictions file.
#[derive(Debug, Args)]
pub struct PlotArgs {
    #[command(subcommand)]
    pub plot: PlotCommand,
}

/// The plots.
#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    Scatter(ScatterArgs),
}

/// Plot z_phot against z_spec as a 2-D density.
///
/// Square cells coloured by galaxy count on a logarithmic scale, the 1:1 line, the outlier limits
/// z_phot = z_spec ± 0.15 (1 + z_spec) (|dz| = 0.15, paper eqs. 5–6), and the overall bias,
/// scatter and outlier fraction (docs/METRICS.md) in a text box. The format follows the extension of
/// --out: .png or .svg.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench plot scatter --predictions preds.csv --output scatter.png\n  pzbench plot scatter --predictions preds.csv --truth test.hdf5 --range 0:3 --output scatter.svg"
)]
pub struct ScatterArgs {
    /// Predictions file: CSV, TSV, whitespace-separated text or Parquet.
    #[arg(long, value_name = "FILE")]
    pub predictions: PathBuf,

    #[command(flatten)]
    pub input: InputArgs,

    /// Output image: .png or .svg (written atomically).
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: PathBuf,

    /// Cells per axis of the density.
    #[arg(long, default_value_t = ScatterOptions::default().cells, value_name = "N")]
    pub cells: usize,

    /// Redshift range of both axes as LO:HI [default: from min(0, min z_spec) to the larger 99.9th
    /// percentile of z_spec and z_phot, rounded up to 0.5].
    #[arg(long, value_name = "LO:HI")]
    pub range: Option<String>,

    /// Plot title [default: the predictions file name].
    #[arg(long)]
    pub title: Option<String>,

    /// Image size in pixels as WIDTHxHEIGHT.
    #[arg(long, default_value_t = ImageSize(ScatterOptions::default().size), value_name = "WxH")]
    pub size: ImageSize,
}

/// Run `pzbench plot ...`.
pub fn run(args: PlotArgs) -> Result<ExitCode> {
    match args.plot {
        PlotCommand::Scatter(args) => scatter(args),
    }
}

/// Parse `--range LO:HI`.
fn parse_range_pair(spec: &str) -> Result<(f64, f64)> {
    let parsed = spec
        .split_once(':')
        .and_then(|(lo, hi)| Some((lo.trim().parse::<f64>().ok()?, hi.trim().parse::<f64>().ok()?)));
    match parsed {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => Ok((lo, hi)),
        _ => Err(Error::usage(format!("--range {spec}: expected LO:HI with LO < HI, e.g. 0:3"))),
    }
}

fn scatter(args: ScatterArgs) -> Result<ExitCode> {
    ImageFormat::from_path(&args.output)?;
    if !(1..=1000).contains(&args.cells) {
        return Err(Error::usage(format!("--cells {}: use 1 to 1000 cells per axis, e.g. 150", args.cells)));
    }
    let range = args.range.as_deref().map(parse_range_pair).transpose()?;
    let options = args.input.columns.sample_options(false, false)?;
    let plot = ScatterOptions { title: args.title, range, cells: args.cells, size: args.size.0 };
    scatter_plot(&args.predictions, &options, &plot, &args.output)?;
    eprintln!("pzbench: wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
