//! `pzbench predict`: a trained model's redshift (or redshift PDF) for every galaxy of a file,
//! ready for `score`. The flags become a [`PredictRequest`] for
//! [`pzbench_models::predict_file`]; this file prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::bench::CudaGraphArgs;
use super::input::CatalogueArgs;
use pzbench_io::Result;
use pzbench_models::{self, Estimates, PointEstimate, PredictRequest, DEFAULT_PREDICT_BATCH};

/// The point estimate of a PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PointArg {
    /// The highest peak.
    Mode,
    /// The mean.
    Mean,
    /// The median.
    Median,
}

impl From<PointArg> for PointEstimate {
    fn from(point: PointArg) -> Self {
        match point {
            PointArg::Mode => PointEstimate::Mode,
            PointArg::Mean => PointEstimate::Mean,
            PointArg::Median => PointEstimate::Median,
        }
    }
}

/// Predict redshifts with a model trained by `pzbench train`.
///
/// Reads the data file the way the model was trained (same magnitude columns, same non-detection
/// fill, saved in the checkpoint's `inputs.json`; images streamed from the HDF5 file for the CNN)
/// and writes one row per input galaxy, in file order: `object_id,z_spec,z_phot` (z_spec when the
/// file has spectroscopic redshifts), which `pzbench score` reads directly. On the CPU the same
/// model and data give the same predictions, bit for bit.
///
/// A model trained with --head mdn predicts a PDF per galaxy, a Gaussian mixture: the file then
/// also holds its columns w_0..w_{K-1}, mu_0.., sigma_0.. (docs/PDF_METRICS.md), z_phot being the
/// PDF's --point estimate, and `pzbench score` scores the PDFs and the point estimate at once;
/// --qp also writes the PDFs as a qp HDF5 file (mixmod; ids, z_spec and the point estimate in
/// ancil) that qp and RAIL read.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench predict --model cnn64 --data 5x64x64_testing_with_morphology.hdf5 --out preds.csv\n  pzbench predict --model reference:cnn-64 --data 5x64x64_testing_with_morphology.hdf5 --out preds.csv\n  pzbench predict --model nn_mdn_dc2 --data dc2_test.csv --out pdfs.csv --qp pdfs.qp.hdf5\n  pzbench score preds.csv"
)]
pub struct PredictArgs {
    /// Checkpoint directory written by `pzbench train`, an ensemble written by `pzbench ensemble`,
    /// or a shipped model: reference:nn, reference:cnn-64 (trained on a GPU; baselines/models/README.md).
    #[arg(long, value_name = "DIR|reference:NAME")]
    pub model: PathBuf,

    /// Data: GalaxiesML HDF5, or for an NN a CSV/TSV/text/Parquet catalogue with the model's magnitude columns.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,

    /// Predictions file to write (CSV, atomically).
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: PathBuf,

    /// Also write a mixture-density model's PDFs to this qp HDF5 file (mixmod), atomically.
    #[arg(long, value_name = "FILE")]
    pub qp: Option<PathBuf>,

    /// A mixture-density model's point estimate of each PDF, written as z_phot [default: mode].
    #[arg(long, value_enum)]
    pub point: Option<PointArg>,

    /// Compute device: cpu, cuda or cuda:N (cuda needs a build with --features cuda).
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,

    /// Galaxies per forward pass (memory, not results: predictions do not depend on it beyond float rounding).
    #[arg(long, default_value_t = DEFAULT_PREDICT_BATCH, value_name = "N")]
    pub batch_size: usize,

    #[command(flatten)]
    pub graphs: CudaGraphArgs,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,

    /// Do not print what was read and written.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Run `pzbench predict`.
pub fn run(args: PredictArgs) -> Result<ExitCode> {
    args.graphs.select();
    let request = PredictRequest {
        model_dir: pzbench_models::resolve_model_dir(&args.model, &reference_models_dir())?,
        data: args.data.clone(),
        device: args.device.clone(),
        batch_size: args.batch_size,
        read: args.catalogue.read_options()?,
        point: args.point.map(PointEstimate::from),
    };
    predict_to_files(&request, &args.output, args.qp.as_deref(), args.quiet)?;
    Ok(ExitCode::SUCCESS)
}

/// Where the shipped reference models are: `$PZBENCH_REFERENCE_MODELS`, else this repository's
/// `baselines/models/`.
pub(super) fn reference_models_dir() -> PathBuf {
    std::env::var_os(pzbench_models::REFERENCE_MODELS_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("baselines").join("models"))
}

/// [`pzbench_models::predict_file`] written as CSV to `output`, as `pzbench predict` shows it
/// (also used by `pzbench reproduce`): unless `quiet`, a line on the input and one on the result.
pub(super) fn predict_on_terminal(request: &PredictRequest, output: &Path, quiet: bool) -> Result<()> {
    predict_to_files(request, output, None, quiet)
}

/// [`predict_on_terminal`], the PDFs also written to the qp HDF5 file `qp` when given (refused
/// before anything is written for a model that predicts points).
fn predict_to_files(request: &PredictRequest, output: &Path, qp: Option<&Path>, quiet: bool) -> Result<()> {
    let predictions = pzbench_models::predict_file(request, &mut |input| {
        if !quiet {
            eprintln!("{}", super::train::describe(input));
        }
    })?;
    if let Some(qp) = qp {
        predictions.write_qp(qp)?;
    }
    predictions.write_csv(output)?;
    if !quiet {
        let seconds = predictions.started.elapsed().as_secs_f64();
        let what = match &predictions.estimates {
            Estimates::Points(_) => "predictions".to_string(),
            Estimates::Mixtures { pdfs, point, .. } => {
                let point = format!("{point:?}").to_lowercase();
                format!("PDFs (Gaussian mixtures, K = {}) with their {point} as z_phot", pdfs.k)
            }
        };
        let written = match qp {
            Some(qp) => format!("{} and {}", output.display(), qp.display()),
            None => output.display().to_string(),
        };
        let by = match predictions.members {
            1 => format!("the {}", predictions.architecture.name()),
            n => format!("an ensemble of {n} models"),
        };
        eprintln!(
            "pzbench: {} {what} by {by} in {:.1} s ({:.0} galaxies/s) -> {written}",
            predictions.len(),
            seconds,
            predictions.len() as f64 / seconds.max(1e-9),
        );
    }
    Ok(())
}
