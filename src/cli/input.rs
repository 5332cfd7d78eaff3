//! Flags shared by every command that reads predictions: where z_spec comes from, which columns
//! to use, the dataset's label, the bins and the bootstrap.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use pzbench_io::pdf::PdfReadOptions;
use pzbench_io::sample::SampleOptions;
use pzbench_io::table::{Delimiter, ReadOptions};
use pzbench_io::update::{LockOptions, LockWait};
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::{Dialect, PointEstimate};
use pzbench_metrics::{parse_edges, parse_range, BinOn, Bins, BootstrapConfig};
use pzbench_report::{ModelInput, PdfScoreOptions};

/// `--truth`, the column names and the delimiter.
#[derive(Debug, Clone, Args)]
pub struct ColumnArgs {
    /// Take z_spec from this file (CSV/TSV/text/Parquet with object_id and z_spec, or a GalaxiesML
    /// HDF5 file), joined on the id; the predictions then need only object_id and z_phot.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,

    /// Name of the z_spec column [default: z_spec, zspec, specz_redshift, spect_z_test or redshift].
    #[arg(long, value_name = "NAME")]
    pub zspec_col: Option<String>,

    /// Name of the z_phot column [default: z_phot, zphot, photoz, photo_z_test or z_pred].
    #[arg(long, value_name = "NAME")]
    pub zphot_col: Option<String>,

    /// Name of the id column [default: object_id or id]; ids must be unique integers.
    #[arg(long, value_name = "NAME")]
    pub id_col: Option<String>,

    /// Field delimiter of text files: , ; | tab whitespace [default: detected from the header].
    #[arg(long, value_name = "DELIM")]
    pub delimiter: Option<String>,
}

impl ColumnArgs {
    /// How to read and join the input files; `drop_invalid` and `allow_missing` as in `score`.
    pub fn sample_options(&self, drop_invalid: bool, allow_missing: bool) -> Result<SampleOptions> {
        Ok(SampleOptions {
            zspec_col: self.zspec_col.clone(),
            zphot_col: self.zphot_col.clone(),
            id_col: self.id_col.clone(),
            truth: self.truth.clone(),
            allow_missing,
            read: ReadOptions { delimiter: self.delimiter.as_deref().map(Delimiter::parse).transpose()?, drop_invalid },
        })
    }
}

/// Where z_spec comes from, which columns to read and how to label the dataset: the input flags of
/// the reporting commands (`table2`, `figure6`, `plot scatter`, `leaderboard add`).
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    #[command(flatten)]
    pub columns: ColumnArgs,

    /// Label of the dataset in captions and leaderboards [default: the stem of the truth file, or
    /// of the predictions file when z_spec is in it].
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,

    /// Mark the dataset as synthetic (also inferred when the label or file name contains
    /// "synthetic", or an HDF5 truth file has a root attribute `synthetic`).
    #[arg(long)]
    pub synthetic: bool,
}

impl InputArgs {
    /// How the reports read the predictions and label their dataset.
    pub fn model_input(&self) -> Result<ModelInput> {
        let sample = self.columns.sample_options(false, false)?;
        let pdf = PdfScoreOptions { read: PdfReadOptions::from_sample(&sample), ..PdfScoreOptions::default() };
        Ok(ModelInput { sample, dataset: self.dataset.clone(), synthetic: self.synthetic, pdf })
    }
}

/// Where a PDF file's axis and truths come from (`docs/PDF_METRICS.md` §1).
#[derive(Debug, Clone, Args)]
pub struct PdfInputArgs {
    /// Grid nodes (one column `z`) or histogram edges (one column `edge`) of `pdf_k` columns
    /// [default: the sidecar STEM.grid.csv beside the file].
    #[arg(long, value_name = "FILE")]
    pub grid: Option<PathBuf>,

    /// How --truth is matched to the PDFs: on the id, or by row order (for RAIL truth files
    /// without ids; the row counts must match).
    #[arg(long, value_enum, default_value_t = AlignArg::Id)]
    pub align: AlignArg,
}

impl PdfInputArgs {
    /// How to read a PDF file, with the column flags and invalid-row handling of point files.
    pub fn read_options(
        &self,
        columns: &ColumnArgs,
        drop_invalid: bool,
        allow_missing: bool,
    ) -> Result<PdfReadOptions> {
        if self.align == AlignArg::Rows && columns.truth.is_none() {
            return Err(Error::usage("--align rows matches a --truth file by row order; give --truth FILE too"));
        }
        let sample = columns.sample_options(drop_invalid, allow_missing)?;
        Ok(PdfReadOptions {
            grid: self.grid.clone(),
            align_rows: self.align == AlignArg::Rows,
            ..PdfReadOptions::from_sample(&sample)
        })
    }
}

/// How PDF files are read and scored (`docs/PDF_METRICS.md`); point-prediction files take none
/// of these.
#[derive(Debug, Clone, Args)]
pub struct PdfArgs {
    #[command(flatten)]
    pub input: PdfInputArgs,

    /// Metric definitions: exact (pzbench), or qp/RAIL's algorithms to compare with published RAIL
    /// numbers (docs/PDF_METRICS.md §3–4).
    #[arg(long, value_enum, default_value_t = DialectArg::Pzbench)]
    pub dialect: DialectArg,

    /// The PDFs' point estimate whose point metrics are reported (and binned on with --bin-on
    /// zphot) [default: mode; median for sample PDFs].
    #[arg(long, value_enum)]
    pub point: Option<PointArg>,

    /// Tomographic bin edges of the n(z), comma-separated [default: 0,0.3,0.6,0.9,1.2,1.5,2,3].
    #[arg(long, value_name = "E0,E1,...")]
    pub nz_edges: Option<String>,
}

/// `--align`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlignArg {
    /// Join on the id column.
    Id,
    /// Row i of the truth file is galaxy i.
    Rows,
}

/// `--dialect`'s values, the command-line names of [`Dialect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectArg {
    /// Exact values (closed forms, exact integration).
    Pzbench,
    /// qp 1.1.4 / RAIL 2.0.11's algorithms.
    Rail,
}

impl From<DialectArg> for Dialect {
    fn from(arg: DialectArg) -> Self {
        match arg {
            DialectArg::Pzbench => Dialect::Pzbench,
            DialectArg::Rail => Dialect::Rail,
        }
    }
}

/// `--point`'s values, the command-line names of [`PointEstimate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PointArg {
    Mode,
    Mean,
    Median,
}

impl From<PointArg> for PointEstimate {
    fn from(arg: PointArg) -> Self {
        match arg {
            PointArg::Mode => PointEstimate::Mode,
            PointArg::Mean => PointEstimate::Mean,
            PointArg::Median => PointEstimate::Median,
        }
    }
}

impl PdfArgs {
    /// How to read and score a PDF file, with the column flags and invalid-row handling of
    /// point files.
    pub fn options(&self, columns: &ColumnArgs, drop_invalid: bool, allow_missing: bool) -> Result<PdfScoreOptions> {
        Ok(PdfScoreOptions {
            read: self.input.read_options(columns, drop_invalid, allow_missing)?,
            dialect: self.dialect.into(),
            nz_edges: self.nz_edges.as_deref().map(parse_edges).transpose()?,
            point: self.point.map(PointEstimate::from),
        })
    }

    /// The error for the first PDF flag given (or `--pit-out`, when `pit_out`) when `subject`
    /// (e.g. "this file") holds point predictions; `None` when no such flag was given.
    pub fn refuse_on_points(&self, pit_out: bool, subject: &str) -> Option<String> {
        let flag = self.given().into_iter().chain(pit_out.then_some("--pit-out")).next()?;
        Some(format!(
            "{flag} applies to PDF files, and {subject} point predictions (no qp meta/pdf_name, no w_k/mu_k/sigma_k, pdf_k or s_k columns); drop {flag}"
        ))
    }

    /// The PDF flags given, by name.
    fn given(&self) -> Vec<&'static str> {
        let flags = [
            (self.input.grid.is_some(), "--grid"),
            (self.input.align != AlignArg::Id, "--align"),
            (self.dialect != DialectArg::Pzbench, "--dialect"),
            (self.point.is_some(), "--point"),
            (self.nz_edges.is_some(), "--nz-edges"),
        ];
        flags.into_iter().filter_map(|(given, flag)| given.then_some(flag)).collect()
    }
}

/// `--bins`, `--edges` and `--bin-on`.
#[derive(Debug, Clone, Args)]
pub struct BinArgs {
    /// Bins as LO:HI:WIDTH, right-closed (lo, hi] [default: 0:4:0.2, the paper's Figure 6].
    #[arg(long, value_name = "LO:HI:WIDTH", conflicts_with = "edges")]
    pub bins: Option<String>,

    /// Explicit bin edges, comma-separated, e.g. 0,0.5,1,2,4.
    #[arg(long, value_name = "E0,E1,...")]
    pub edges: Option<String>,

    /// Redshift that decides a galaxy's bin.
    #[arg(long, value_enum, default_value_t = BinOnArg::Zspec)]
    pub bin_on: BinOnArg,
}

/// `--bin-on`'s values, the command-line names of [`BinOn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BinOnArg {
    /// Spectroscopic redshift (the paper's Figure 6).
    Zspec,
    /// Photometric redshift (tomographic bins, as used in cosmology).
    Zphot,
}

impl From<BinOnArg> for BinOn {
    fn from(arg: BinOnArg) -> Self {
        match arg {
            BinOnArg::Zspec => BinOn::ZSpec,
            BinOnArg::Zphot => BinOn::ZPhot,
        }
    }
}

impl BinArgs {
    /// The bins asked for on the command line.
    pub fn bins(&self) -> Result<Bins> {
        let edges = match (&self.bins, &self.edges) {
            (Some(range), _) => parse_range(range)?,
            (None, Some(edges)) => parse_edges(edges)?,
            (None, None) => return Ok(Bins { on: self.bin_on.into(), ..Bins::galaxiesml_default() }),
        };
        Ok(Bins::new(self.bin_on.into(), edges)?)
    }
}

/// `--bootstrap`, `--confidence` and `--seed`.
#[derive(Debug, Clone, Args)]
pub struct BootstrapArgs {
    /// Bootstrap resamples for confidence intervals (0 = off; the flag alone means 1000).
    #[arg(long, value_name = "B", default_value_t = 0, num_args = 0..=1, default_missing_value = "1000")]
    pub bootstrap: usize,

    /// Central coverage of the bootstrap intervals.
    #[arg(long, default_value_t = 0.95, value_name = "LEVEL")]
    pub confidence: f64,

    /// Seed of the bootstrap (same seed, same intervals, bit for bit).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl BootstrapArgs {
    /// The bootstrap settings (`None` for `--bootstrap 0`).
    pub fn config(&self) -> Result<Option<BootstrapConfig>> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::usage(format!(
                "--confidence {} must lie strictly between 0 and 1, e.g. 0.95",
                self.confidence
            )));
        }
        Ok((self.bootstrap > 0).then_some(BootstrapConfig {
            resamples: self.bootstrap,
            confidence: self.confidence,
            seed: self.seed,
        }))
    }
}

/// How `train`, `predict` and `ensemble` read text catalogues.
#[derive(Debug, Clone, Args)]
pub struct CatalogueArgs {
    /// Field delimiter of text catalogues: , ; | tab whitespace [default: detected from the header].
    #[arg(long, value_name = "DELIM")]
    pub delimiter: Option<String>,

    /// Drop catalogue rows with NaN, infinite or empty values (and say how many) instead of failing.
    #[arg(long)]
    pub drop_invalid: bool,
}

impl CatalogueArgs {
    /// `--delimiter` and `--drop-invalid` as the table reader takes them.
    pub fn read_options(&self) -> Result<ReadOptions> {
        let delimiter = self.delimiter.as_deref().map(Delimiter::parse).transpose()?;
        Ok(ReadOptions { delimiter, drop_invalid: self.drop_invalid })
    }
}

/// `--lock-timeout`: how long a command that updates a shared file (a board, a baseline, a
/// checkpoint directory) waits for another pzbench that is updating it.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// Wait at most this long (seconds) for another pzbench updating the same file to finish; a
    /// line is printed after a second of waiting. 0 tries once.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub lock_timeout: f64,
}

impl LockArgs {
    /// `--lock-timeout` as a duration.
    pub fn timeout(&self) -> Result<Duration> {
        Duration::try_from_secs_f64(self.lock_timeout).map_err(|_| {
            Error::usage(format!(
                "--lock-timeout {} must be a number of seconds, 0 or more, e.g. 60",
                self.lock_timeout
            ))
        })
    }

    /// The lock options: `--lock-timeout`, and `on_wait` told when a wait lasts (the command
    /// line's [`print_lock_wait`] prints a line on stderr).
    pub fn options<'a>(&self, on_wait: Option<&'a dyn Fn(&LockWait<'_>)>) -> Result<LockOptions<'a>> {
        Ok(LockOptions { timeout: self.timeout()?, on_wait })
    }
}

/// `pzbench: waiting for the lock on board.json (held by pid 1234: pzbench leaderboard add; lock file .board.json.lock)`
pub fn print_lock_wait(wait: &LockWait<'_>) {
    eprintln!("pzbench: {wait}");
}
