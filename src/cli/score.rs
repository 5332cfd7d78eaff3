//! `pzbench score`: the GalaxiesML metrics of a predictions file, overall and per redshift bin.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::input::{BinArgs, BootstrapArgs, ColumnArgs, PdfArgs};
use pzbench_io::dataset::{is_dataset_path, Dataset};
use pzbench_io::pdf::detect_pdf_file;
use pzbench_io::{write_atomic, Error, Result};
use pzbench_report::{per_galaxy_csv, score_dataset, score_file, score_pdf_file, ScoreReport};

/// Output formats of `score`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScoreFormat {
    /// Aligned table for the terminal.
    Table,
    /// The full report as JSON (keys as in docs/METRICS.md).
    Json,
    /// Markdown tables (all 13 metrics).
    Markdown,
    /// CSV, one row per bin, full precision.
    Csv,
}

/// Score photo-z predictions with the GalaxiesML paper's metrics, or redshift PDFs with PIT, CRPS,
/// CDE loss and n(z).
///
/// Reads a predictions file (CSV, TSV, whitespace-separated text or Parquet), finds the z_spec and
/// z_phot columns (or takes z_spec from --truth, joined on object_id), and reports bias, scatter,
/// outlier fractions, RMS, MSE and the Tanaka loss overall and per redshift bin, exactly as the
/// authors computed them.
///
/// A file of PDFs is recognised by its content — a qp HDF5 file (mixmod, norm, interp, hist) or
/// columns w_k/mu_k/sigma_k (Gaussian mixtures), pdf_k (a grid or histogram; nodes or edges in
/// STEM.grid.csv or --grid) or s_k (samples) — and also gets the PDF metrics of
/// docs/PDF_METRICS.md; the point metrics are then those of its --point estimate.
///
/// A directory or a glob pattern of point-prediction files (or one file with --out-of-core) is
/// scored out of core: streamed in a few passes, in memory that does not grow with the rows, with
/// the same metrics, bit for bit, as the files concatenated (docs/score.md, "Out of core").
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench score preds.csv\n  pzbench score preds.csv --truth test.hdf5 --format json --output score.json\n  pzbench score preds.parquet --bins 0:3:0.5 --bootstrap 1000 --seed 7\n  pzbench score knn.qp.hdf5 --format json --output knn.json\n  pzbench score fzb.csv --grid nodes.csv --dialect rail\n  pzbench score pdfs.hdf5 --truth truth.csv --align rows --pit-out per_galaxy.csv\n  pzbench score catalogue/ --format json --output score.json\n  pzbench score 'preds_*.csv' --bins 0:3:0.5\n  pzbench score big.parquet --out-of-core"
)]
pub struct ScoreArgs {
    /// Predictions file: CSV, TSV, whitespace-separated text or Parquet. Or a data set, scored out
    /// of core: a directory (read recursively, e.g. hive-partitioned Parquet
    /// `key=value/part-0.parquet`; names starting with . or _ skipped) or a quoted glob pattern
    /// such as 'preds_*.csv', of files of one kind with the same columns.
    pub predictions: PathBuf,

    /// Score out of core even a single file: stream it in passes, in memory that does not grow
    /// with its rows (directories and glob patterns always are).
    #[arg(long)]
    pub out_of_core: bool,

    #[command(flatten)]
    pub columns: ColumnArgs,

    /// Drop rows with NaN, infinite or empty values (and say how many) instead of failing.
    #[arg(long)]
    pub drop_invalid: bool,

    /// With --truth: score the matched galaxies even if some truth galaxies have no prediction.
    #[arg(long)]
    pub allow_missing: bool,

    #[command(flatten)]
    pub binning: BinArgs,

    #[command(flatten)]
    pub pdf: PdfArgs,

    /// PDF files: write every galaxy's PIT, CRPS and point estimates to FILE as CSV.
    #[arg(long, value_name = "FILE")]
    pub pit_out: Option<PathBuf>,

    #[command(flatten)]
    pub bootstrap: BootstrapArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ScoreFormat::Table)]
    pub format: ScoreFormat,

    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Do not print which columns were picked.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Run `pzbench score`.
pub fn run(args: ScoreArgs) -> Result<ExitCode> {
    let Scored { report, passes } = score(&args)?;
    if !args.quiet {
        eprintln!("{}", describe_report(&report, passes));
    }
    let text = match args.format {
        ScoreFormat::Table => report.to_terminal(),
        ScoreFormat::Json => report.to_json(),
        ScoreFormat::Markdown => report.to_markdown(),
        ScoreFormat::Csv => report.to_csv(),
    };
    super::emit(&text, args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// The report `pzbench score` prints for `args` (its `--format` and `--output` aside): the
/// predictions file scored with the point metrics, or, for a file of PDFs (recognised by its
/// content), with the PDF metrics too, whose per-galaxy values go to `--pit-out` if given. Also
/// what `pzbench.score_file` returns in Python.
pub fn report(args: &ScoreArgs) -> Result<ScoreReport> {
    Ok(score(args)?.report)
}

/// A report, and the passes over the data when scored out of core.
struct Scored {
    report: ScoreReport,
    passes: Option<usize>,
}

/// [`report`], with the passes: a data set (a directory or a glob pattern), or any file with
/// `--out-of-core`, is scored out of core by [`score_dataset`], refusing the flags that need
/// every galaxy in memory (`--truth`, `--pit-out`, the PDF flags).
fn score(args: &ScoreArgs) -> Result<Scored> {
    let bins = args.binning.bins()?;
    let bootstrap_config = args.bootstrap.config()?;
    let options = args.columns.sample_options(args.drop_invalid, args.allow_missing)?;
    if args.out_of_core || is_dataset_path(&args.predictions) {
        if let Some(message) = args.pdf.refuse_on_points(args.pit_out.is_some(), "out-of-core scoring reads") {
            return Err(Error::usage(message));
        }
        let mut dataset = Dataset::open(&args.predictions, &options)?;
        let scored = score_dataset(&mut dataset, &bins, bootstrap_config)?;
        return Ok(Scored { report: scored.report, passes: Some(scored.passes) });
    }
    let pdf_options = args.pdf.options(&args.columns, args.drop_invalid, args.allow_missing)?;
    if detect_pdf_file(&args.predictions, &pdf_options.read)?.is_some() {
        let scored = score_pdf_file(&args.predictions, &pdf_options, &bins, bootstrap_config)?;
        if let Some(path) = &args.pit_out {
            write_atomic(path, per_galaxy_csv(scored.ids.as_deref(), &scored.values).as_bytes())?;
        }
        return Ok(Scored { report: scored.report, passes: None });
    }
    if let Some(message) = args.pdf.refuse_on_points(args.pit_out.is_some(), "this file holds") {
        return Err(Error::file(&args.predictions, message));
    }
    Ok(Scored { report: score_file(&args.predictions, &options, &bins, bootstrap_config)?, passes: None })
}

/// One line saying which file, layout and columns were used, how many rows were dropped, for
/// PDFs how they were scored, and out of core in how many passes.
fn describe_report(report: &ScoreReport, passes: Option<usize>) -> String {
    let mut line = describe_input(&report.input);
    if let Some(passes) = passes {
        line.push_str(&format!("; scored out of core in {passes} passes over the files"));
    }
    if let Some(pdf) = &report.pdf {
        line.push_str(&format!("; {}", pdf.summary()));
    }
    line
}

/// One line saying which file, layout and columns were used, and how many rows were dropped.
fn describe_input(input: &pzbench_io::sample::InputInfo) -> String {
    let p = &input.predictions;
    let column = |c: &Option<String>| c.as_deref().map_or("-".to_string(), |c| format!("'{c}'"));
    // PDF files have no z_phot column.
    let z_phot = p.columns.z_phot.as_ref().map_or(String::new(), |c| format!(" z_phot = '{c}',"));
    let mut line = format!("pzbench: {} ({}, {} rows):{z_phot}", p.path, p.format, p.rows);
    match &input.truth {
        Some(truth) => line.push_str(&format!(
            " z_spec = {} from {} joined on {} ({} matched, {} truth galaxies without prediction)",
            column(&truth.file.columns.z_spec),
            truth.file.path,
            column(&truth.file.columns.id),
            truth.matched,
            truth.without_prediction
        )),
        None => line.push_str(&format!(" z_spec = {}, id = {}", column(&p.columns.z_spec), column(&p.columns.id))),
    }
    let dropped = p.dropped_invalid + input.truth.as_ref().map_or(0, |t| t.file.dropped_invalid);
    if dropped > 0 {
        line.push_str(&format!("; dropped {dropped} rows with NaN, infinite or empty values (--drop-invalid)"));
    }
    line
}
