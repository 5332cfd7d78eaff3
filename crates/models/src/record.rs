//! What a training run is and was: its settings ([`TrainConfig`]) and its record
//! ([`TrainingRecord`], one [`EpochRecord`] per epoch), saved in the checkpoint's `model.json`.
//! The model ([`crate::Model`]), the checkpoints and the training loop all read these; none of
//! them is read here.

use serde::{Deserialize, Serialize};

use super::calibration::WidthCalibration;
use super::loss::{LossKind, Objective, TanakaTarget};
use pzbench_io::{Error, Result};

/// How to train. [`TrainConfig::cnn_paper`] and [`TrainConfig::nn_paper`] give the authors'
/// settings (`docs/MODELS.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Galaxies per optimiser step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Stop after this many epochs without a lower validation loss (`None`: never stop early).
    pub patience: Option<usize>,
    /// Seed of the epoch shuffles.
    pub seed: u64,
    /// The loss minimised and monitored on the validation set.
    pub loss: LossKind,
    /// Rows per shuffle chunk when images are read (data module docs).
    pub chunk_rows: usize,
    /// Chunks shuffled together when images are read.
    pub buffer_chunks: usize,
    /// Whether the caller shows the run's progress (`pzbench train` draws a progress bar on a
    /// terminal unless `--quiet`); recorded in `model.json`. The library itself draws nothing:
    /// it reports progress through [`crate::Callbacks`].
    pub progress: bool,
    /// Random flips and 90° rotations of the training images (data module docs).
    #[serde(default)]
    pub augment: bool,
    /// Lower the learning rate when the validation loss stops improving (`None`: constant).
    #[serde(default)]
    pub reduce_lr: Option<ReduceLr>,
    /// Mixture head only: this multiple of the Tanaka loss of the mixtures' means is added to
    /// the negative log-likelihood (0: the likelihood alone; absent from `model.json` then).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tanaka_weight: f64,
    /// What that Tanaka term scores (absent from `model.json` for the mixtures' means).
    #[serde(default, skip_serializing_if = "TanakaTarget::is_mean")]
    pub tanaka_target: TanakaTarget,
    /// Mixture head only: fit one factor on the widths of the best epoch's PDFs on the validation
    /// set ([`crate::WidthCalibration`]; absent from `model.json` when off).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub calibrate_widths: bool,
}

/// Whether `x` is 0 (serde's `skip_serializing_if` for [`TrainConfig::tanaka_weight`]).
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Keras' `ReduceLROnPlateau` on the validation loss (min_delta 0, cooldown 0, no floor): after
/// `patience` epochs in a row without a new lowest validation loss, the learning rate is
/// multiplied by `factor` and the count starts again.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReduceLr {
    pub patience: usize,
    pub factor: f64,
}

impl TrainConfig {
    /// train_cnn.py: Adam lr 1e-4, batch 256, 200 epochs, best checkpoint kept, no early stop.
    pub fn cnn_paper() -> Self {
        TrainConfig {
            epochs: 200,
            batch_size: 256,
            lr: 1e-4,
            patience: None,
            seed: 0,
            loss: LossKind::Tanaka,
            chunk_rows: 1024,
            buffer_chunks: 16,
            progress: true,
            augment: false,
            reduce_lr: None,
            tanaka_weight: 0.0,
            tanaka_target: TanakaTarget::Mean,
            calibrate_widths: false,
        }
    }

    /// train_nn.py: Adam lr 5e-4, batch 100, up to 1000 epochs, early stopping with patience 10.
    pub fn nn_paper() -> Self {
        TrainConfig { epochs: 1000, batch_size: 100, lr: 5e-4, patience: Some(10), ..TrainConfig::cnn_paper() }
    }

    /// Checks that the settings can run: counts of at least 1, a positive learning rate, a
    /// schedule with a patience of at least 1 and a factor in (0, 1).
    pub(crate) fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.chunk_rows == 0 || self.buffer_chunks == 0 {
            return Err(Error::usage("epochs, batch size, chunk rows and buffer chunks must all be at least 1"));
        }
        if self.patience == Some(0) {
            return Err(Error::usage("the patience must be at least 1 epoch (or none, to never stop early)"));
        }
        if let Some(ReduceLr { patience, factor }) = self.reduce_lr {
            if patience == 0 || !(factor > 0.0 && factor < 1.0) {
                return Err(Error::usage(format!(
                    "reducing the learning rate needs a patience of at least 1 epoch and a factor between 0 and 1, got {patience} and {factor}"
                )));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::usage(format!("the learning rate must be a positive number, got {}", self.lr)));
        }
        if !(self.tanaka_weight.is_finite() && self.tanaka_weight >= 0.0) {
            return Err(Error::usage(format!("--tanaka-weight must be a number >= 0, got {}", self.tanaka_weight)));
        }
        if self.tanaka_target != TanakaTarget::Mean && self.tanaka_weight == 0.0 {
            return Err(Error::usage("--tanaka-on chooses what --tanaka-weight scores; give --tanaka-weight W > 0"));
        }
        if self.tanaka_weight > 0.0 && self.loss != LossKind::Nll {
            return Err(Error::usage(
                "--tanaka-weight adds a term to the mixture head's likelihood; use it with --head mdn",
            ));
        }
        Ok(())
    }

    /// What training minimises and early stopping watches: the loss and the Tanaka term.
    pub(crate) fn objective(&self) -> Objective {
        Objective { loss: self.loss, tanaka_weight: self.tanaka_weight, tanaka_target: self.tanaka_target }
    }
}

/// One epoch of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's galaxies (weights changing during the epoch, as Keras
    /// reports it).
    pub train_loss: f64,
    /// Loss on the whole validation set after the epoch.
    pub val_loss: f64,
    /// Wall time of the epoch: training and validation.
    pub seconds: f64,
    /// Training throughput: training galaxies per second of the training pass.
    pub galaxies_per_s: f64,
    /// The learning rate of the epoch.
    #[serde(default)]
    pub lr: f64,
}

/// How a model was trained; saved in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The settings (epochs and patience as last given; a resumed run may extend them).
    pub config: TrainConfig,
    /// Every epoch run so far.
    pub history: Vec<EpochRecord>,
    /// The epoch with the lowest validation loss: the weights kept.
    pub best_epoch: Option<usize>,
    /// Its validation loss.
    pub best_val_loss: Option<f64>,
    /// Epochs since the best one.
    pub epochs_since_best: usize,
    /// Whether training stopped on patience before `config.epochs`.
    pub stopped_early: bool,
    /// Training and validation set sizes.
    pub n_train: usize,
    pub n_val: usize,
    /// How the validation set was drawn from the training file, when it was
    /// (`pzbench train --val-fraction`); `None` when it came from a file of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_split: Option<ValidationSplit>,
    /// The best epoch's width calibration (`config.calibrate_widths`), which prediction applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width_calibration: Option<WidthCalibration>,
}

/// A validation set held out from the training file, as Keras' `validation_split` but drawn at
/// random: the file's galaxies are shuffled with `seed` (the run's) and the first
/// `round(fraction · n)` of the shuffle validate, the rest train (each part in file order).
/// Recorded in `model.json` so that a run can be audited and its split drawn again
/// ([`crate::RawData::split`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidationSplit {
    /// Share of the training file's galaxies held out, in (0, 1).
    pub fraction: f64,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Galaxies trained on.
    pub train: usize,
    /// Galaxies held out for validation.
    pub val: usize,
}
