//! `pzbench train`: train the paper's CNN or NN on GalaxiesML HDF5 files or a magnitude catalogue.
//! The flags become a [`TrainRequest`] for [`pzbench_models::train_run`]; this file draws the
//! progress, prints, and turns SIGINT/SIGTERM into a request to stop.

use std::cell::OnceCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{ArgGroup, Args, ValueEnum};
use indicatif::ProgressBar;

use super::bench::{CudaGraphArgs, GpuKernels, Precision};
use super::input::{print_lock_wait, CatalogueArgs, LockArgs};
use super::progress::progress_bar;
use pzbench_io::{Error, Result};
use pzbench_models::{
    self, Callbacks, Head, InputSummary, LossKind, Model, ModelKind as Kind, ReduceLr, TanakaTarget, TrainConfig,
    TrainEvent, TrainOutcome, TrainRequest, Validation, DEFAULT_COMPONENTS, DEFAULT_NON_DETECTION,
};

/// The two reference models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// Images + photometry (needs GalaxiesML HDF5 files with the `image` key).
    Cnn,
    /// Photometry only (GalaxiesML HDF5 or any CSV/TSV/Parquet catalogue).
    Nn,
}

/// What the last layer predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeadArg {
    /// One redshift per galaxy (the paper's).
    Point,
    /// A Gaussian mixture per galaxy (a mixture density network, Bishop 1994).
    Mdn,
}

/// What the Tanaka term of --head mdn scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TanakaOn {
    /// The mixture's mean.
    Mean,
    /// The component means, weighted by the mixture's weights.
    Components,
}

/// The training losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    /// Tanaka et al. 2018, gamma = 0.15 (the paper's).
    Tanaka,
    /// Mean squared error of the redshift.
    Mse,
    /// Negative log-likelihood of the mixture (--head mdn).
    Nll,
}

/// Train the paper's CNN or NN and write a checkpoint.
///
/// Data: GalaxiesML HDF5 files (magnitudes `{g,r,i,z,y}_cmodel_mag`, `image`, `specz_redshift`,
/// `object_id`; images are streamed from the file in batches, never loaded whole) or, for
/// `--model nn`, a CSV/TSV/whitespace-separated text/Parquet catalogue, read as `pzbench score`
/// reads tables, whose magnitude columns are named by --bands (ids from `object_id` or `id`,
/// redshifts from `z_spec`, `specz_redshift` or `redshift`).
///
/// Non-detections (|mag| >= --non-detection, 99 by default) are replaced by the band's 99th
/// percentile of detected training magnitudes; the value is saved in the checkpoint
/// (`inputs.json`) and used again by `pzbench predict`. NaN or empty magnitudes are errors.
///
/// Defaults are the paper's (CNN: Adam lr 1e-4, batch 256, Tanaka loss, best epoch kept; NN: lr
/// 5e-4, batch 100, early stopping with patience 10) except the epoch counts, cut for CPUs: 20 for
/// the CNN, at most 200 for the NN. A checkpoint is written after every epoch (`--resume`
/// continues it); `model.json` records the settings, the per-epoch history and the SHA-256 of the
/// data files. A run holds the checkpoint directory's lock (DIR/.lock) while it trains: a second
/// run into the same directory waits for it (a line after a second) up to --lock-timeout.
///
/// Validation: a file of the same layout (--val), or a share of the training file's galaxies
/// drawn at random with --seed (--val-fraction, as Keras' validation_split but shuffled; the
/// split is recorded in model.json).
///
/// PDFs: --head mdn ends either model in a mixture-density head (Bishop 1994; D'Isanto &
/// Polsterer 2018) of --components Gaussians per galaxy (softmax weights, means, softplus widths
/// above 0.001), trained on the negative log-likelihood of the mixture (--loss nll, its default);
/// `pzbench predict` then writes each galaxy's PDF and its point estimate.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("validation").required(true).args(["val", "val_fraction"])),
    after_help = "Examples:\n  pzbench train --model cnn --train 5x64x64_training_with_morphology.hdf5 --val 5x64x64_validation_with_morphology.hdf5 --out cnn64 --device cuda\n  pzbench train --model nn --train fixtures/data/dc2/dc2_training_9816.csv --val-fraction 0.2 --bands mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst --out nn_dc2\n  pzbench train --model nn --head mdn --components 5 --train dc2_train.csv --val-fraction 0.2 --bands mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst --colors --out nn_mdn_dc2\n  pzbench train --model cnn --train train.hdf5 --val val.hdf5 --out cnn64 --epochs 40 --resume"
)]
pub struct TrainArgs {
    /// Which model: cnn (images + photometry) or nn (photometry only).
    #[arg(long, value_enum)]
    pub model: ModelKind,

    /// Training data: GalaxiesML HDF5, or for the NN a CSV/TSV/text/Parquet catalogue.
    #[arg(long, value_name = "FILE")]
    pub train: PathBuf,

    /// Validation data (same layout): early stopping and the best epoch are decided on it.
    #[arg(long, value_name = "FILE")]
    pub val: Option<PathBuf>,

    /// Instead of --val: hold out this share of --train's galaxies, between 0 and 1 (e.g. 0.2),
    /// drawn at random with --seed; recorded in model.json.
    #[arg(long, value_name = "F")]
    pub val_fraction: Option<f64>,

    /// Checkpoint directory (created; must not hold a checkpoint unless --resume).
    #[arg(short, long, alias = "out", value_name = "DIR")]
    pub output: PathBuf,

    /// Continue the run checkpointed in --out (same settings and data) up to --epochs.
    #[arg(long)]
    pub resume: bool,

    /// What the last layer predicts: point (one redshift, the paper's) or mdn (a Gaussian mixture per galaxy: a redshift PDF).
    #[arg(long, value_enum, default_value_t = HeadArg::Point)]
    pub head: HeadArg,

    /// Gaussian components of --head mdn [default: 5].
    #[arg(long, value_name = "K")]
    pub components: Option<usize>,

    /// --head mdn: add W times the Tanaka loss of the mixture's mean to the likelihood (0: the likelihood alone).
    #[arg(long, value_name = "W", default_value_t = 0.0)]
    pub tanaka_weight: f64,

    /// --head mdn: what --tanaka-weight scores: mean (the Tanaka loss of the mixture's mean) or components (its expectation over the components, Σ w_k L(μ_k): weight moves to components near the truth, which keeps the mode off wrong peaks; docs/mdn.md).
    #[arg(long, value_enum, value_name = "TARGET", default_value_t = TanakaOn::Mean)]
    pub tanaka_on: TanakaOn,

    /// --head mdn: keep the trained widths; by default one factor on every width is fitted on the validation set so that its PIT is closest to uniform (docs/mdn.md).
    #[arg(long)]
    pub no_width_calibration: bool,

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

    /// Seed of the initial weights, of the epoch shuffles and of --val-fraction's split (same seed + data on one CPU machine: same model, bit for bit).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Seed of --val-fraction's split instead of --seed: runs with different --seed and the same --split-seed validate on the same galaxies, as the members of an ensemble must (`pzbench ensemble`).
    #[arg(long, value_name = "N", requires = "val_fraction")]
    pub split_seed: Option<u64>,

    /// Training loss, also watched on the validation set [default: tanaka, nll with --head mdn].
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,

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

    #[command(flatten)]
    pub graphs: CudaGraphArgs,

    /// Arithmetic on CUDA: f32 (cuDNN may use TF32 tensor cores, as PyTorch does), or bf16 mixed
    /// precision as PyTorch's bf16 autocast (bf16 activations, convolutions and products with
    /// f32 accumulation; f32 weights, loss and Adam). bf16 needs --device cuda and the fast
    /// kernels.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,

    /// Magnitude columns (catalogue) or keys (HDF5), comma-separated, in a fixed order [default: g_cmodel_mag,r_cmodel_mag,i_cmodel_mag,z_cmodel_mag,y_cmodel_mag].
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub bands: Option<Vec<String>>,

    /// Magnitudes with an absolute value at least this large are non-detections.
    #[arg(long, default_value_t = DEFAULT_NON_DETECTION, value_name = "MAG")]
    pub non_detection: f64,

    /// Also feed the colours of adjacent --bands (e.g. u-g, g-r, ...) after the magnitudes; the paper's models read magnitudes only.
    #[arg(long)]
    pub colors: bool,

    /// CNN only: min-max scale its magnitudes (and colours) on the training set, as the NN does; the paper's CNN reads raw magnitudes.
    #[arg(long)]
    pub scale_mags: bool,

    #[command(flatten)]
    pub catalogue: CatalogueArgs,

    /// No per-epoch lines or progress bar on stderr.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub lock: LockArgs,
}

impl TrainArgs {
    /// The training settings: the command's defaults for the model, overridden by the flags.
    fn config(&self) -> TrainConfig {
        let defaults = self.kind().default_config();
        TrainConfig {
            epochs: self.epochs.unwrap_or(defaults.epochs),
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            lr: self.lr.unwrap_or(defaults.lr),
            patience: match self.patience {
                Some(0) => None,
                Some(p) => Some(p),
                None => defaults.patience,
            },
            seed: self.seed,
            loss: match (self.loss, self.head) {
                (Some(LossArg::Tanaka), _) | (None, HeadArg::Point) => LossKind::Tanaka,
                (Some(LossArg::Mse), _) => LossKind::Mse,
                (Some(LossArg::Nll), _) | (None, HeadArg::Mdn) => LossKind::Nll,
            },
            tanaka_weight: self.tanaka_weight,
            tanaka_target: match self.tanaka_on {
                TanakaOn::Mean => TanakaTarget::Mean,
                TanakaOn::Components => TanakaTarget::Components,
            },
            calibrate_widths: self.head == HeadArg::Mdn && !self.no_width_calibration,
            progress: !self.quiet,
            augment: self.augment,
            reduce_lr: (self.reduce_lr_patience > 0)
                .then_some(ReduceLr { patience: self.reduce_lr_patience, factor: self.reduce_lr_factor }),
            ..defaults
        }
    }

    /// `--model` as the library names it.
    fn kind(&self) -> Kind {
        match self.model {
            ModelKind::Cnn => Kind::Cnn,
            ModelKind::Nn => Kind::Nn,
        }
    }

    /// `--head` and `--components`.
    fn head(&self) -> Result<Head> {
        match (self.head, self.components) {
            (HeadArg::Point, _) if self.no_width_calibration => Err(Error::usage(
                "--no-width-calibration keeps the widths of --head mdn's PDFs; add --head mdn or drop it",
            )),
            (HeadArg::Point, None) => Ok(Head::Point),
            (HeadArg::Point, Some(_)) => {
                Err(Error::usage("--components sets the mixture of --head mdn; add --head mdn or drop --components"))
            }
            (HeadArg::Mdn, components) => Ok(Head::Mdn { components: components.unwrap_or(DEFAULT_COMPONENTS) }),
        }
    }

    /// `--val` or `--val-fraction` (clap lets exactly one through).
    fn validation(&self) -> Result<Validation> {
        match (&self.val, self.val_fraction) {
            (Some(file), None) => Ok(Validation::File(file.clone())),
            (None, Some(fraction)) => Ok(Validation::Fraction { fraction, seed: self.split_seed.unwrap_or(self.seed) }),
            _ => Err(Error::usage("give either --val FILE or --val-fraction F")),
        }
    }

    /// The library's request for these flags.
    fn request(&self) -> Result<TrainRequest> {
        Ok(TrainRequest {
            model: self.kind(),
            train: self.train.clone(),
            val: self.validation()?,
            checkpoint_dir: self.output.clone(),
            resume: self.resume,
            head: self.head()?,
            config: self.config(),
            device: self.device.clone(),
            bands: self.bands.clone(),
            non_detection: self.non_detection,
            colors: self.colors,
            scale_mags: self.scale_mags,
            read: self.catalogue.read_options()?,
            lock_timeout: self.lock.timeout()?,
        })
    }
}

/// The per-epoch progress bar's layout.
const EPOCH_BAR: &str = "{prefix} [{bar:25}] {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]";

/// Run `pzbench train`.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let request = args.request()?;
    args.precision.select(&args.device, args.gpu_kernels)?;
    args.gpu_kernels.select();
    args.graphs.select();
    train_on_terminal(&request, args.quiet)?;
    Ok(ExitCode::SUCCESS)
}

/// [`pzbench_models::train_run`] as `pzbench train` shows it (also used by `pzbench reproduce`):
/// unless `quiet`, a line per input file, a progress bar per epoch on a terminal (one line per
/// epoch elsewhere: logs, CI) and a summary; SIGINT and SIGTERM stop the run after the current
/// epoch's checkpoint.
pub(super) fn train_on_terminal(request: &TrainRequest, quiet: bool) -> Result<TrainOutcome> {
    let cfg = &request.config;
    let terminal = std::io::stderr().is_terminal();
    let draw = cfg.progress && terminal;
    let log_lines = !quiet && !terminal;
    let outcome = {
        // Watched from the moment the epochs start: a stop then waits for the epoch's checkpoint.
        let signals: OnceCell<StopSignals> = OnceCell::new();
        let should_stop = || signals.get().and_then(StopSignals::received);
        let mut bar: Option<ProgressBar> = None;
        let mut on_event = |event: TrainEvent<'_>| -> Result<()> {
            match event {
                TrainEvent::DataRead { train, val } if !quiet => {
                    eprintln!("{}", describe(train));
                    match request.val {
                        Validation::File(_) => eprintln!("{}", describe(val)),
                        Validation::Fraction { fraction, seed } => eprintln!(
                            "pzbench: validating on {} more galaxies of {}, held out at random (--val-fraction {fraction}, split seed {seed})",
                            val.galaxies,
                            val.path.display(),
                        ),
                    }
                }
                TrainEvent::DataRead { .. } => {}
                TrainEvent::WaitingForLock { wait } => print_lock_wait(&wait),
                TrainEvent::Started { .. } => {
                    if signals.get().is_none() {
                        let _ = signals.set(StopSignals::register()?);
                    }
                }
                TrainEvent::EpochStarted { epoch, epochs, batches } => {
                    bar = if draw {
                        let epoch_bar = progress_bar(Some(batches as u64), EPOCH_BAR, true)?;
                        epoch_bar.set_style(epoch_bar.style().progress_chars("=> "));
                        epoch_bar.set_prefix(format!("epoch {epoch}/{epochs}"));
                        Some(epoch_bar)
                    } else {
                        None
                    };
                }
                TrainEvent::Batch { running } => {
                    if let Some(bar) = &bar {
                        if let Some(running) = running {
                            bar.set_message(format!("loss {:.5} | {:.0} gal/s", running.loss, running.galaxies_per_s));
                        }
                        bar.inc(1);
                    }
                }
                TrainEvent::EpochEnded { record, best } => {
                    if let Some(bar) = &bar {
                        bar.finish_with_message(format!(
                            "loss {:.5} | val {:.5}{} | {:.0} gal/s",
                            record.train_loss,
                            record.val_loss,
                            if best { " (best)" } else { "" },
                            record.galaxies_per_s
                        ));
                    }
                }
                TrainEvent::EpochSaved { record: r } if log_lines => eprintln!(
                    "epoch {}/{}: train loss {:.5}, val loss {:.5}, {:.1} s, {:.0} galaxies/s{}",
                    r.epoch,
                    cfg.epochs,
                    r.train_loss,
                    r.val_loss,
                    r.seconds,
                    r.galaxies_per_s,
                    if cfg.reduce_lr.is_some() { format!(", lr {:.3e}", r.lr) } else { String::new() }
                ),
                TrainEvent::EpochSaved { .. } => {}
            }
            Ok(())
        };
        let callbacks = Callbacks { should_stop: Some(&should_stop), on_event: Some(&mut on_event) };
        pzbench_models::train_run(request, callbacks)?
    };
    if !quiet {
        summarize(&outcome.model, &request.checkpoint_dir, outcome.started.elapsed().as_secs_f64());
    }
    Ok(outcome)
}

/// SIGINT and SIGTERM, caught while a run trains (Unix; elsewhere none is caught), so that the run
/// stops after the current epoch is saved instead of being killed mid-write.
struct StopSignals {
    flags: Vec<(&'static str, Arc<AtomicBool>, signal_hook::SigId)>,
}

impl StopSignals {
    /// Starts catching the signals.
    fn register() -> Result<StopSignals> {
        let mut flags = Vec::new();
        #[cfg(unix)]
        for (name, signal) in [("SIGINT", signal_hook::consts::SIGINT), ("SIGTERM", signal_hook::consts::SIGTERM)] {
            let flag = Arc::new(AtomicBool::new(false));
            let id = signal_hook::flag::register(signal, flag.clone())
                .map_err(|e| Error::other(format!("cannot watch for {name}: {e}")).caused_by(e))?;
            flags.push((name, flag, id));
        }
        Ok(StopSignals { flags })
    }

    /// The name of the first signal caught, if any.
    fn received(&self) -> Option<String> {
        self.flags.iter().find(|(_, flag, _)| flag.load(Ordering::Relaxed)).map(|(name, _, _)| name.to_string())
    }
}

impl Drop for StopSignals {
    /// Restore the default handling (a later signal kills the process again).
    fn drop(&mut self) {
        for (_, _, id) in self.flags.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// One line per input file: format, galaxies, non-detections filled, rows dropped.
pub(super) fn describe(input: &InputSummary) -> String {
    let filled: Vec<String> =
        input.filled.iter().map(|f| format!("{} in {} -> {:.3}", f.count, f.band, f.fill)).collect();
    format!(
        "pzbench: {} ({}, {} galaxies{}){}{}",
        input.path.display(),
        input.format,
        input.galaxies,
        input.image_shape.map_or(String::new(), |(c, h, w)| format!(", images {c}x{h}x{w}")),
        if filled.is_empty() { String::new() } else { format!("; non-detections filled: {}", filled.join(", ")) },
        match input.dropped_invalid {
            0 => String::new(),
            n => format!("; dropped {n} rows with NaN, infinite or empty values (--drop-invalid)"),
        }
    )
}

/// The closing line: the model, its epochs, the best one, the throughput, the time in all.
fn summarize(model: &Model, out: &Path, seconds: f64) {
    let Some(record) = model.training() else {
        return;
    };
    let best = match (record.best_epoch, record.best_val_loss) {
        (Some(epoch), Some(loss)) => format!("best epoch {epoch} (val loss {loss:.5})"),
        _ => "no epoch run".to_string(),
    };
    let rate = record.history.iter().map(|r| r.galaxies_per_s).sum::<f64>() / record.history.len().max(1) as f64;
    let head = match (model.architecture().head(), record.width_calibration) {
        (Head::Point, _) => String::new(),
        (mixture, None) => format!(" with the {mixture} head"),
        (mixture, Some(c)) => format!(
            " with the {mixture} head (widths × {:.4}: validation PIT KS {:.4} → {:.4})",
            c.scale, c.val_pit_ks_before, c.val_pit_ks_after
        ),
    };
    eprintln!(
        "pzbench: trained the {}{head} ({} parameters) for {} epochs{}: {best}; {rate:.0} galaxies/s; {seconds:.1} s in all; checkpoint in {}",
        model.architecture().name(),
        model.num_parameters(),
        record.history.len(),
        if record.stopped_early { " (stopped early)" } else { "" },
        out.display()
    );
}
