//! `pzbench train`: train the paper's CNN or NN on GalaxiesML HDF5 files or a magnitude catalogue.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::bench::GpuKernels;
use pzbench_io::{Error, Result};
use pzbench_models::{
    self, galaxiesml_bands, read_data, Architecture, CnnConfig, EpochRecord, InputSpec, LossKind, Model, NnConfig,
    RawData, ReduceLr, RunOptions, TrainConfig,
};

/// The two reference models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// Images + photometry (needs GalaxiesML HDF5 files with the `image` key).
    Cnn,
    /// Photometry only (GalaxiesML HDF5 or any CSV/TSV/Parquet catalogue).
    Nn,
}

/// The training losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    /// Tanaka et al. 2018, gamma = 0.15 (the paper's).
    Tanaka,
    /// Mean squared error of the redshift.
    Mse,
}

/// Default epoch count of the CNN: the paper's 200 take days even on a GPU; 20 is a CPU-sized run.
const CNN_DEFAULT_EPOCHS: usize = 20;
/// Default epoch cap of the NN (the paper's 1000, cut for the CPU; early stopping usually ends it
/// long before).
const NN_DEFAULT_EPOCHS: usize = 200;

/// Train the paper's CNN or NN and write a checkpoint.
///
/// Data: GalaxiesML HDF5 files (magnitudes `{g,r,i,z,y}_cmodel_mag`, `image`, `specz_redshift`,
/// `object_id`; images are streamed from the file in batches, never loaded whole) or, for
/// `--model nn`, a CSV/TSV/Parquet catalogue whose magnitude columns are named by --bands (ids from
/// `object_id` or `id`, redshifts from `z_spec`, `specz_redshift` or `redshift`).
///
/// Non-detections (|mag| >= --non-detection, 99 by default) are replaced by the band's 99th
/// percentile of detected training magnitudes; the value is saved in the checkpoint
/// (`inputs.json`) and used again by `pzbench predict`. NaN or empty magnitudes are errors.
///
/// Defaults are the paper's (CNN: Adam lr 1e-4, batch 256, Tanaka loss, best epoch kept; NN: lr
/// 5e-4, batch 100, early stopping with patience 10) except the epoch counts, cut for CPUs: 20 for
/// the CNN, at most 200 for the NN. A checkpoint is written after every epoch (`--resume`
/// continues it); `model.json` records the settings, the per-epoch history and the SHA-256 of the
/// data files.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench train --model cnn --train 5x64x64_training_with_morphology.hdf5 --val 5x64x64_validation_with_morphology.hdf5 --out cnn64 --device cuda\n  pzbench train --model nn --train dc2_train.csv --val dc2_val.csv --bands mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst --out nn_dc2\n  pzbench train --model cnn --train train.hdf5 --val val.hdf5 --out cnn64 --epochs 40 --resume"
)]
pub struct TrainArgs {
    /// Which model: cnn (images + photometry) or nn (photometry only).
    #[arg(long, value_enum)]
    pub model: ModelKind,

    /// Training data: GalaxiesML HDF5, or for the NN a CSV/TSV/Parquet catalogue.
    #[arg(long, value_name = "FILE")]
    pub train: PathBuf,

    /// Validation data (same layout): early stopping and the best epoch are decided on it.
    #[arg(long, value_name = "FILE")]
    pub val: PathBuf,

    /// Checkpoint directory (created; must not hold a checkpoint unless --resume).
    #[arg(short, long, alias = "out", value_name = "DIR")]
    pub output: PathBuf,

    /// Continue the run checkpointed in --out (same settings and data) up to --epochs.
    #[arg(long)]
    pub resume: bool,

    /// Maximum number of epochs [default: 20 for the CNN, 200 for the NN].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Galaxies per optimiser step [default: the paper's, 256 for the CNN, 100 for the NN].
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Adam's learning rate [default: the paper's, 1e-4 for the CNN, 5e-4 for the NN].
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,

    /// Stop after N epochs without a better validation loss; 0 never stops early [default: 10 for the NN, 0 for the CNN].
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,

    /// Seed of the initial weights and of the epoch shuffles (same seed + data on CPU: same model, bit for bit).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Training loss, also watched on the validation set.
    #[arg(long, value_enum, default_value_t = LossArg::Tanaka)]
    pub loss: LossArg,

    /// Compute device: cpu, cuda or cuda:N (cuda needs a build with --features cuda).
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,

    /// CNN: turn each training image by a random flip and quarter turns (one of the 8 symmetries
    /// of the square, drawn per galaxy and epoch from --seed) against over-fitting. The paper does
    /// not augment.
    #[arg(long)]
    pub augment: bool,

    /// Halve (or multiply by --reduce-lr-factor) the learning rate after N epochs in a row
    /// without a better validation loss, as Keras' ReduceLROnPlateau; 0 keeps it constant (the
    /// paper's setting).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reduce_lr_patience: usize,

    /// Factor applied by --reduce-lr-patience, between 0 and 1.
    #[arg(long, value_name = "F", default_value_t = 0.5)]
    pub reduce_lr_factor: f64,

    /// CUDA implementation of the CNN's convolutions and pooling: fast (cuDNN convolutions with
    /// --features cudnn, pzbench's pooling kernels) or stock (candle's operations).
    #[arg(long, value_enum, default_value_t = GpuKernels::Fast)]
    pub gpu_kernels: GpuKernels,

    /// Magnitude columns (catalogue) or keys (HDF5), comma-separated, in a fixed order [default: g_cmodel_mag,r_cmodel_mag,i_cmodel_mag,z_cmodel_mag,y_cmodel_mag].
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub bands: Option<Vec<String>>,

    /// Magnitudes with an absolute value at least this large are non-detections.
    #[arg(long, default_value_t = 99.0, value_name = "MAG")]
    pub non_detection: f64,

    /// Also feed the colours of adjacent --bands (e.g. u-g, g-r, ...) after the magnitudes; the paper's models read magnitudes only.
    #[arg(long)]
    pub colors: bool,

    /// CNN only: min-max scale its magnitudes (and colours) on the training set, as the NN does; the paper's CNN reads raw magnitudes.
    #[arg(long)]
    pub scale_mags: bool,

    /// No per-epoch lines or progress bar on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl TrainArgs {
    /// The training settings: the paper's for the model, overridden by the flags.
    fn config(&self) -> TrainConfig {
        let paper = match self.model {
            ModelKind::Cnn => TrainConfig { epochs: CNN_DEFAULT_EPOCHS, ..TrainConfig::cnn_paper() },
            ModelKind::Nn => TrainConfig { epochs: NN_DEFAULT_EPOCHS, ..TrainConfig::nn_paper() },
        };
        TrainConfig {
            epochs: self.epochs.unwrap_or(paper.epochs),
            batch_size: self.batch_size.unwrap_or(paper.batch_size),
            lr: self.lr.unwrap_or(paper.lr),
            patience: match self.patience {
                Some(0) => None,
                Some(p) => Some(p),
                None => paper.patience,
            },
            seed: self.seed,
            loss: match self.loss {
                LossArg::Tanaka => LossKind::Tanaka,
                LossArg::Mse => LossKind::Mse,
            },
            progress: !self.quiet,
            augment: self.augment,
            reduce_lr: (self.reduce_lr_patience > 0)
                .then_some(ReduceLr { patience: self.reduce_lr_patience, factor: self.reduce_lr_factor }),
            ..paper
        }
    }
}

/// Run `pzbench train`.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    if args.augment && args.model == ModelKind::Nn {
        return Err(Error::usage("--augment turns training images; the NN reads none (use it with --model cnn)"));
    }
    let cfg = args.config();
    let device = pzbench_models::device(&args.device)?;
    args.gpu_kernels.select();
    let has_checkpoint = args.output.join("model.json").is_file();
    if has_checkpoint && !args.resume {
        return Err(Error::file(
            &args.output,
            "already holds a checkpoint; pass --resume to continue that run, or choose another --out",
        ));
    }
    if args.resume && !has_checkpoint {
        return Err(Error::file(&args.output, "holds no checkpoint to resume (model.json is missing); drop --resume"));
    }
    let images = args.model == ModelKind::Cnn;
    if args.scale_mags && !images {
        return Err(Error::usage("--scale-mags is for the CNN: the NN always min-max scales its magnitudes"));
    }
    let saved = if args.resume { Some(InputSpec::load(&args.output)?) } else { None };
    let bands = match (&saved, &args.bands) {
        (Some(saved), Some(bands)) if *bands != saved.bands => {
            return Err(Error::usage(format!(
                "--bands differs from the interrupted run's ({}); resume with the same bands",
                saved.bands.join(",")
            )))
        }
        (Some(saved), _) => saved.bands.clone(),
        (None, Some(bands)) => bands.iter().map(|b| b.trim().to_string()).collect(),
        (None, None) => galaxiesml_bands(),
    };
    if saved.as_ref().is_some_and(|s| args.colors && !s.colors) {
        return Err(Error::usage("--colors differs from the interrupted run's (magnitudes only); resume without it"));
    }
    let non_detection = saved.as_ref().map_or(args.non_detection, |s| s.non_detection);
    let started = Instant::now();
    let raw_train = read_data(&args.train, &bands, images, non_detection)?;
    let raw_val = read_data(&args.val, &bands, images, non_detection)?;
    for raw in [&raw_train, &raw_val] {
        if raw.z.is_none() {
            return Err(Error::file(
                &raw.path,
                "has no spectroscopic redshift to train on (key specz_redshift, or a column z_spec, specz_redshift or redshift)",
            ));
        }
    }
    let spec = match saved {
        Some(saved) => saved,
        None if args.scale_mags => {
            InputSpec::fit(&raw_train, bands, non_detection, args.colors)?.with_scaling(&raw_train)?
        }
        None => InputSpec::fit(&raw_train, bands, non_detection, args.colors)?,
    };
    if !args.quiet {
        for raw in [&raw_train, &raw_val] {
            eprintln!("{}", describe(raw, &spec));
        }
    }
    let hashes = BTreeMap::from([
        ("train".to_string(), format!("sha256:{}", pzbench_io::sha256_file(&args.train)?)),
        ("val".to_string(), format!("sha256:{}", pzbench_io::sha256_file(&args.val)?)),
    ]);
    let train_set = spec.dataset(raw_train)?;
    let val_set = spec.dataset(raw_val)?;
    let mut log = |r: &EpochRecord| {
        eprintln!(
            "epoch {}/{}: train loss {:.5}, val loss {:.5}, {:.1} s, {:.0} galaxies/s{}",
            r.epoch,
            cfg.epochs,
            r.train_loss,
            r.val_loss,
            r.seconds,
            r.galaxies_per_s,
            if cfg.reduce_lr.is_some() { format!(", lr {:.3e}", r.lr) } else { String::new() }
        )
    };
    // The progress bar shows the epoch on a terminal; elsewhere (logs, CI) one line per epoch.
    let log_lines = !args.quiet && !std::io::stderr().is_terminal();
    let options = RunOptions {
        data_hashes: hashes,
        on_epoch: if log_lines { Some(&mut log as &mut dyn FnMut(&EpochRecord)) } else { None },
    };
    let model = if args.resume {
        pzbench_models::resume(&args.output, &device, &train_set, &val_set, &cfg, options)?
    } else {
        let arch = match (args.model, train_set.image_shape()) {
            (ModelKind::Cnn, Some((bands_img, h, w))) => {
                if h != w {
                    return Err(Error::file(&args.train, format!("images are {h}x{w}; the CNN needs square cutouts")));
                }
                Architecture::Cnn(CnnConfig { image_size: h, n_bands: bands_img, n_mags: spec.n_inputs() })
            }
            (ModelKind::Cnn, None) => {
                return Err(Error::file(&args.train, "has no images; the CNN needs the `image` key"))
            }
            (ModelKind::Nn, _) => Architecture::Nn(NnConfig { n_mags: spec.n_inputs() }),
        };
        let model = Model::new(arch, &train_set, args.seed, &device).map_err(|e| on_file(e, &args.train))?;
        std::fs::create_dir_all(&args.output)
            .map_err(|e| Error::file(&args.output, format!("cannot create the checkpoint directory: {e}")))?;
        spec.save(&args.output)?;
        pzbench_models::train(model, &train_set, &val_set, &cfg, Some(&args.output), options)?
    };
    if !args.quiet {
        summarize(&model, &args.output, started.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

/// A usage error about the data, said of the file it came from.
fn on_file(error: Error, path: &Path) -> Error {
    match error {
        Error::Usage(message) => Error::file(path, message),
        other => other,
    }
}

/// One line per input file: format, galaxies, non-detections filled.
pub(super) fn describe(raw: &RawData, spec: &InputSpec) -> String {
    let filled: Vec<String> = spec
        .bands
        .iter()
        .zip(&raw.non_detections)
        .zip(&spec.fill)
        .filter(|((_, n), _)| **n > 0)
        .map(|((band, n), fill)| format!("{n} in {band} -> {fill:.3}"))
        .collect();
    format!(
        "pzbench: {} ({}, {} galaxies{}){}",
        raw.path.display(),
        raw.format,
        raw.len(),
        raw.images.as_ref().map_or(String::new(), |i| {
            let (c, h, w) = i.image_shape();
            format!(", images {c}x{h}x{w}")
        }),
        if filled.is_empty() { String::new() } else { format!("; non-detections filled: {}", filled.join(", ")) }
    )
}

fn summarize(model: &Model, out: &Path, seconds: f64) {
    let Some(record) = model.training() else {
        return;
    };
    let best = match (record.best_epoch, record.best_val_loss) {
        (Some(epoch), Some(loss)) => format!("best epoch {epoch} (val loss {loss:.5})"),
        _ => "no epoch run".to_string(),
    };
    let rate = record.history.iter().map(|r| r.galaxies_per_s).sum::<f64>() / record.history.len().max(1) as f64;
    eprintln!(
        "pzbench: trained the {} ({} parameters) for {} epochs{}: {best}; {rate:.0} galaxies/s; {seconds:.1} s in all; checkpoint in {}",
        model.architecture().name(),
        model.num_parameters(),
        record.history.len(),
        if record.stopped_early { " (stopped early)" } else { "" },
        out.display()
    );
}
