//! `pzbench predict`: a trained model's redshift for every galaxy of a file, ready for `score`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use pzbench_io::{Error, Result};
use pzbench_models::{self, read_data, InputSpec};

/// Predict redshifts with a model trained by `pzbench train`.
///
/// Reads the data file the way the model was trained (same magnitude columns, same non-detection
/// fill, saved in the checkpoint's `inputs.json`; images streamed from the HDF5 file for the CNN)
/// and writes one row per input galaxy, in file order: `object_id,z_spec,z_phot` (z_spec when the
/// file has spectroscopic redshifts), which `pzbench score` reads directly. On the CPU the same
/// model and data give the same predictions, bit for bit.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench predict --model cnn64 --data 5x64x64_testing_with_morphology.hdf5 --out preds.csv\n  pzbench score preds.csv"
)]
pub struct PredictArgs {
    /// Checkpoint directory written by `pzbench train`.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,

    /// Data: GalaxiesML HDF5, or for an NN a CSV/TSV/Parquet catalogue with the model's magnitude columns.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,

    /// Predictions file to write (CSV, atomically).
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: PathBuf,

    /// Compute device: cpu, cuda or cuda:N (cuda needs a build with --features cuda).
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,

    /// Galaxies per forward pass (memory, not results: predictions do not depend on it beyond float rounding).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub batch_size: usize,

    /// Do not print what was read and written.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Run `pzbench predict`.
pub fn run(args: PredictArgs) -> Result<ExitCode> {
    if args.batch_size == 0 {
        return Err(Error::usage("--batch-size must be at least 1"));
    }
    let device = pzbench_models::device(&args.device)?;
    let model = pzbench_models::load(&args.model, &device)?;
    let spec = InputSpec::load(&args.model)?;
    if spec.n_inputs() != model.architecture().n_mags() {
        return Err(Error::file(
            args.model.join(pzbench_models::INPUTS_FILE),
            format!(
                "describes {} inputs but the model reads {}; the checkpoint is inconsistent, retrain",
                spec.n_inputs(),
                model.architecture().n_mags()
            ),
        ));
    }
    let started = Instant::now();
    let images = model.architecture().image_shape().is_some();
    let raw = read_data(&args.data, &spec.bands, images, spec.non_detection)?;
    if !args.quiet {
        eprintln!("{}", super::train::describe(&raw, &spec));
    }
    let z_spec = raw.z.clone();
    let data = spec.dataset(raw)?;
    let z_phot = pzbench_models::predict(&model, &data, args.batch_size).map_err(|e| match e {
        Error::Usage(message) => Error::file(&args.data, message),
        other => other,
    })?;
    let mut csv = String::with_capacity(data.len() * 40);
    csv.push_str(if z_spec.is_some() { "object_id,z_spec,z_phot\n" } else { "object_id,z_phot\n" });
    for (row, (id, zp)) in data.ids().iter().zip(&z_phot).enumerate() {
        // Writing into a String cannot fail.
        let _ = match &z_spec {
            Some(z) => writeln!(csv, "{id},{},{zp}", z[row]),
            None => writeln!(csv, "{id},{zp}"),
        };
    }
    pzbench_io::write_atomic(&args.output, csv.as_bytes())?;
    if !args.quiet {
        eprintln!(
            "pzbench: {} predictions by the {} in {:.1} s ({:.0} galaxies/s) -> {}",
            z_phot.len(),
            model.architecture().name(),
            started.elapsed().as_secs_f64(),
            z_phot.len() as f64 / started.elapsed().as_secs_f64().max(1e-9),
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
