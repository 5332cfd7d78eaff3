//! `pzbench plot`: diagnostic plots of one predictions file (scatter) or PDF file (pit, coverage,
//! nz).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::figure6::ImageSize;
use super::input::{ColumnArgs, InputArgs, PdfInputArgs};
use pzbench_io::pdf::PdfFile;
use pzbench_io::{Error, Result};
use pzbench_metrics::parse_edges;
use pzbench_metrics::pdf::{Dialect, PdfValues};
use pzbench_report::figure::ImageFormat;
use pzbench_report::{
    coverage_plot, load_pdf_values, nz_plot, pit_plot, scatter_plot, CoveragePlotOptions, NzPlotOptions,
    PitPlotOptions, ScatterOptions,
};

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
    Pit(PitArgs),
    Coverage(CoverageArgs),
    Nz(NzArgs),
}

/// A PDF file and where its axis and truths come from: the input of the PDF plots.
#[derive(Debug, Args)]
pub struct PdfPlotInput {
    /// PDF file: qp HDF5, or CSV/TSV/text/Parquet in the column layout of docs/PDF_METRICS.md §1.3.
    pub pdfs: PathBuf,

    #[command(flatten)]
    pub columns: ColumnArgs,

    #[command(flatten)]
    pub pdf: PdfInputArgs,

    /// Output image: .png or .svg (written atomically).
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: PathBuf,

    /// Plot title [default: from the file's PDFs].
    #[arg(long)]
    pub title: Option<String>,
}

impl PdfPlotInput {
    /// The PDFs and their exact per-galaxy values; the output's format is checked first.
    fn load(&self) -> Result<(PdfFile, PdfValues)> {
        ImageFormat::from_path(&self.output)?;
        let read = self.pdf.read_options(&self.columns, false, false)?;
        load_pdf_values(&self.pdfs, &read, Dialect::Pzbench)
    }
}

/// PIT histogram of a PDF file, with the uniform expectation and its ±2σ binomial band, and a QQ
/// panel; KS, CvM, AD and the outlier rate in a box (docs/PDF_METRICS.md §2.1).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench plot pit knn.qp.hdf5 --output pit.png\n  pzbench plot pit fzb.csv --grid nodes.csv --bins 30 --output pit.svg"
)]
pub struct PitArgs {
    #[command(flatten)]
    pub input: PdfPlotInput,

    /// Histogram bins over [0, 1].
    #[arg(long, default_value_t = PitPlotOptions::default().bins, value_name = "N")]
    pub bins: usize,

    /// Image size in pixels as WIDTHxHEIGHT.
    #[arg(long, default_value_t = ImageSize(PitPlotOptions::default().size), value_name = "WxH")]
    pub size: ImageSize,
}

/// Empirical against nominal coverage of the PDFs' central credible intervals: the fraction of
/// galaxies with |PIT − ½| ≤ c/2 for every level c, with the 68 % and 95 % levels marked.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pzbench plot coverage knn.qp.hdf5 --output coverage.png")]
pub struct CoverageArgs {
    #[command(flatten)]
    pub input: PdfPlotInput,

    /// Image size in pixels as WIDTHxHEIGHT.
    #[arg(long, default_value_t = ImageSize(CoveragePlotOptions::default().size), value_name = "WxH")]
    pub size: ImageSize,
}

/// Stacked n(z) (the mean of the PDFs) against the histogram of true redshifts, one panel per
/// tomographic bin; galaxies binned on their mode (samples: median), bins (lo, hi]
/// (docs/PDF_METRICS.md §2.5).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pzbench plot nz fzb.csv --nz-edges 0,0.5,1,1.5,3 --output nz.png")]
pub struct NzArgs {
    #[command(flatten)]
    pub input: PdfPlotInput,

    /// Tomographic bin edges, comma-separated [default: 0,0.3,0.6,0.9,1.2,1.5,2,3].
    #[arg(long, value_name = "E0,E1,...")]
    pub nz_edges: Option<String>,

    /// Image size in pixels as WIDTHxHEIGHT.
    #[arg(long, default_value_t = ImageSize(NzPlotOptions::default().size), value_name = "WxH")]
    pub size: ImageSize,
}

/// Plot z_phot against z_spec as a 2-D density.
///
/// Square cells coloured by galaxy count on a logarithmic scale, the 1:1 line, the outlier limits
/// z_phot = z_spec ± 0.15 (1 + z_spec) (|dz| = 0.15, paper eqs. 5–6), and the overall bias,
/// scatter and outlier fraction (docs/METRICS.md) in a text box; the line under the title names the
/// dataset as table2 does (--dataset, --synthetic). The format follows the extension of --out: .png
/// or .svg.
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
        PlotCommand::Pit(args) => {
            let (_, values) = args.input.load()?;
            let options = PitPlotOptions { title: args.input.title.clone(), bins: args.bins, size: args.size.0 };
            pit_plot(&values, &options, &args.input.output)?;
            wrote(&args.input.output)
        }
        PlotCommand::Coverage(args) => {
            let (_, values) = args.input.load()?;
            let options = CoveragePlotOptions {
                title: args.input.title.clone(),
                size: args.size.0,
                ..CoveragePlotOptions::default()
            };
            coverage_plot(&values, &options, &args.input.output)?;
            wrote(&args.input.output)
        }
        PlotCommand::Nz(args) => {
            let edges = args.nz_edges.as_deref().map(parse_edges).transpose()?;
            let (file, values) = args.input.load()?;
            let defaults = NzPlotOptions::default();
            let options = NzPlotOptions {
                title: args.input.title.clone(),
                edges: edges.unwrap_or(defaults.edges.clone()),
                size: args.size.0,
                ..defaults
            };
            nz_plot(&file.pdfs.into_memory()?, &values, &options, &args.input.output)?;
            wrote(&args.input.output)
        }
    }
}

/// Say where the image went.
fn wrote(output: &std::path::Path) -> Result<ExitCode> {
    eprintln!("pzbench: wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
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
    let plot = ScatterOptions {
        title: args.title,
        dataset: args.input.dataset,
        synthetic: args.input.synthetic,
        range,
        cells: args.cells,
        size: args.size.0,
    };
    scatter_plot(&args.predictions, &options, &plot, &args.output)?;
    wrote(&args.output)
}
