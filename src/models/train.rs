//! Training with Adam, early stopping on the validation loss, the best weights kept, a progress
//! bar per epoch, a per-epoch history, and checkpoints that a run can be resumed from exactly.
//!
//! Determinism: the initial weights come from the model's seed (`Model::new`), the epoch orders
//! from `TrainConfig::seed` and the epoch number alone, so on the CPU the same seeds give the
//! same model bit for bit, and a resumed run gives the same model as an uninterrupted one (the
//! checkpoint holds the latest weights, the best weights and Adam's moments and step count).
//! GPU kernels may sum in a different order from run to run, so CUDA runs are close, not equal.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::adam::Adam;
use super::checkpoint::{load_for_resume, save_training_state};
use super::data::{epoch_batches, Dataset};
use super::loss::LossKind;
use super::model::{predict, Model};
use super::CandleContext;
use crate::{Error, Result};

/// How to train. [`TrainConfig::cnn_paper`] and [`TrainConfig::nn_paper`] give the authors'
/// settings (MODELS.md).
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
    /// Show a progress bar on a terminal (never drawn when stderr is not a terminal).
    pub progress: bool,
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
        }
    }

    /// train_nn.py: Adam lr 5e-4, batch 100, up to 1000 epochs, early stopping with patience 10.
    pub fn nn_paper() -> Self {
        TrainConfig { epochs: 1000, batch_size: 100, lr: 5e-4, patience: Some(10), ..TrainConfig::cnn_paper() }
    }

    fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.chunk_rows == 0 || self.buffer_chunks == 0 {
            return Err(Error::usage("epochs, batch size, chunk rows and buffer chunks must all be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::usage(format!("the learning rate must be a positive number, got {}", self.lr)));
        }
        Ok(())
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
}

/// What the caller adds to a run: hashes of the data files (saved in the checkpoint and checked on
/// resume) and a callback after each epoch (e.g. to log when no progress bar is drawn).
#[derive(Default)]
pub struct RunOptions<'a> {
    /// E.g. `{"train": "sha256:…", "val": "sha256:…"}`.
    pub data_hashes: BTreeMap<String, String>,
    /// Called after every epoch, once the checkpoint (if any) is written.
    pub on_epoch: Option<&'a mut dyn FnMut(&EpochRecord)>,
}

/// Trains a fresh model (from [`Model::new`]) on `train`, monitoring `val` (both need redshifts).
/// With `checkpoint_dir`, a checkpoint is written there after every epoch: [`super::load`] reads
/// the best weights so far, [`resume`] continues the run. Returns the model with its best weights
/// and its [`TrainingRecord`].
pub fn train(
    mut model: Model,
    train: &Dataset,
    val: &Dataset,
    cfg: &TrainConfig,
    checkpoint_dir: Option<&Path>,
    options: RunOptions<'_>,
) -> Result<Model> {
    cfg.validate()?;
    if model.training.is_some() {
        return Err(Error::usage("this model has been trained already; resume its checkpoint to continue the run"));
    }
    check_sets(&model, train, val)?;
    model.data_hashes = options.data_hashes.clone();
    let adam = Adam::new(model.named_vars()?, cfg.lr).context("creating the optimizer")?;
    let best = model.weights()?;
    let record = TrainingRecord {
        config: cfg.clone(),
        history: Vec::new(),
        best_epoch: None,
        best_val_loss: None,
        epochs_since_best: 0,
        stopped_early: false,
        n_train: train.len(),
        n_val: val.len(),
    };
    let mut run = Run { model, adam, best, record };
    run.epochs(train, val, checkpoint_dir, options)?;
    run.finish()
}

/// Continues the run checkpointed in `dir` (by [`train`] with `checkpoint_dir`), up to
/// `cfg.epochs` and with `cfg.patience`, writing further checkpoints into `dir`. The other
/// settings must equal the original run's, and the data hashes too when both runs have them.
pub fn resume(
    dir: &Path,
    device: &Device,
    train: &Dataset,
    val: &Dataset,
    cfg: &TrainConfig,
    options: RunOptions<'_>,
) -> Result<Model> {
    cfg.validate()?;
    let state = load_for_resume(dir, device)?;
    let mut model = state.model;
    let mut record = model.training.take().ok_or_else(|| {
        Error::file(dir, "this checkpoint holds no training state to resume (it was saved after training)")
    })?;
    let saved = &record.config;
    let mismatch = [
        ("seed", saved.seed != cfg.seed, saved.seed.to_string(), cfg.seed.to_string()),
        ("batch size", saved.batch_size != cfg.batch_size, saved.batch_size.to_string(), cfg.batch_size.to_string()),
        ("learning rate", saved.lr != cfg.lr, saved.lr.to_string(), cfg.lr.to_string()),
        ("loss", saved.loss != cfg.loss, format!("{:?}", saved.loss), format!("{:?}", cfg.loss)),
        ("chunk rows", saved.chunk_rows != cfg.chunk_rows, saved.chunk_rows.to_string(), cfg.chunk_rows.to_string()),
        (
            "buffer chunks",
            saved.buffer_chunks != cfg.buffer_chunks,
            saved.buffer_chunks.to_string(),
            cfg.buffer_chunks.to_string(),
        ),
    ];
    if let Some((what, _, was, now)) = mismatch.iter().find(|m| m.1) {
        return Err(Error::usage(format!(
            "the {what} differs from the interrupted run's ({now} instead of {was}); resume with the same settings or start a new run"
        )));
    }
    if !options.data_hashes.is_empty() && !model.data_hashes.is_empty() && options.data_hashes != model.data_hashes {
        return Err(Error::usage(format!(
            "the data differ from the interrupted run's (hashes {:?}, checkpoint has {:?}); resume on the same files",
            options.data_hashes, model.data_hashes
        )));
    }
    check_sets(&model, train, val)?;
    if (record.n_train, record.n_val) != (train.len(), val.len()) {
        return Err(Error::usage(format!(
            "the run trained on {} + {} galaxies, the data given has {} + {}; resume on the same files",
            record.n_train,
            record.n_val,
            train.len(),
            val.len()
        )));
    }
    if model.data_hashes.is_empty() {
        model.data_hashes = options.data_hashes.clone();
    }
    record.config = cfg.clone();
    let mut adam = Adam::new(model.named_vars()?, cfg.lr).context("creating the optimizer")?;
    adam.restore(&state.optimizer, state.adam_steps)
        .map_err(|e| Error::file(dir.join(super::checkpoint::OPTIMIZER_FILE), format!("corrupt optimizer state: {e}")))?;
    let mut run = Run { model, adam, best: state.best, record };
    run.epochs(train, val, Some(dir), options)?;
    run.finish()
}

fn check_sets(model: &Model, train: &Dataset, val: &Dataset) -> Result<()> {
    for (name, set) in [("training", train), ("validation", val)] {
        if set.is_empty() {
            return Err(Error::usage(format!("the {name} set is empty")));
        }
        if set.redshifts().is_none() {
            return Err(Error::usage(format!("the {name} set has no spectroscopic redshifts to train on")));
        }
        model.check_data(set)?;
    }
    Ok(())
}

/// A run in progress.
struct Run {
    /// Holds the latest weights during training.
    model: Model,
    adam: Adam,
    /// The weights of the best epoch so far.
    best: HashMap<String, Tensor>,
    record: TrainingRecord,
}

impl Run {
    fn patience_exhausted(&self) -> bool {
        self.record.config.patience.is_some_and(|p| self.record.epochs_since_best >= p)
    }

    /// Runs epochs `history.len() + 1 ..= config.epochs` unless patience runs out.
    fn epochs(&mut self, train: &Dataset, val: &Dataset, dir: Option<&Path>, mut options: RunOptions<'_>) -> Result<()> {
        let cfg = self.record.config.clone();
        let start = self.record.history.len();
        self.record.stopped_early = start < cfg.epochs && self.patience_exhausted();
        if self.record.stopped_early {
            return Ok(());
        }
        let prep = self.model.preprocess();
        let window = prep.images.then_some((cfg.chunk_rows, cfg.buffer_chunks));
        let draw = cfg.progress && std::io::stderr().is_terminal();
        for epoch in start..cfg.epochs {
            let started = Instant::now();
            let batches = epoch_batches(train.len(), cfg.batch_size, cfg.seed, epoch, window);
            let bar = progress_bar(draw, batches.len(), epoch + 1, cfg.epochs)?;
            let (mut loss_sum, mut seen) = (0.0f64, 0usize);
            let (model, adam) = (&self.model, &mut self.adam);
            prep.for_each_batch(train, &batches, |batch| {
                let z = batch.z.as_deref().ok_or_else(|| Error::usage("the training set has no redshifts"))?;
                let z = Tensor::from_slice(z, (batch.n, 1), model.device()).context("moving redshifts")?;
                let pred = model.forward(&batch).context("forward pass")?;
                let loss = cfg.loss.tensor(&pred, &z).context("computing the loss")?;
                let grads = loss.backward().context("backward pass")?;
                adam.step(&grads).context("updating the weights")?;
                let value = f64::from(loss.to_scalar::<f32>().context("reading the loss")?);
                if !value.is_finite() {
                    return Err(Error::other(format!(
                        "training diverged: the loss is {value} in epoch {} (try a lower learning rate)",
                        epoch + 1
                    )));
                }
                loss_sum += value * batch.n as f64;
                seen += batch.n;
                bar.inc(1);
                bar.set_message(format!(
                    "loss {:.5} | {:.0} gal/s",
                    loss_sum / seen as f64,
                    seen as f64 / started.elapsed().as_secs_f64()
                ));
                Ok(())
            })?;
            let train_seconds = started.elapsed().as_secs_f64();
            let val_pred = predict(&self.model, val, cfg.batch_size)?;
            let val_z = val.redshifts().ok_or_else(|| Error::usage("the validation set has no redshifts"))?;
            let val_loss = cfg.loss.value(&val_pred, val_z);
            if !val_loss.is_finite() {
                return Err(Error::other(format!(
                    "training diverged: the validation loss is {val_loss} after epoch {}",
                    epoch + 1
                )));
            }
            let record = EpochRecord {
                epoch: epoch + 1,
                train_loss: loss_sum / seen as f64,
                val_loss,
                seconds: started.elapsed().as_secs_f64(),
                galaxies_per_s: seen as f64 / train_seconds,
            };
            if self.record.best_val_loss.is_none_or(|best| val_loss < best) {
                self.best = self.model.weights()?;
                self.record.best_epoch = Some(epoch + 1);
                self.record.best_val_loss = Some(val_loss);
                self.record.epochs_since_best = 0;
            } else {
                self.record.epochs_since_best += 1;
            }
            bar.finish_with_message(format!(
                "loss {:.5} | val {:.5}{} | {:.0} gal/s",
                record.train_loss,
                record.val_loss,
                if self.record.epochs_since_best == 0 { " (best)" } else { "" },
                record.galaxies_per_s
            ));
            self.record.history.push(record);
            self.record.stopped_early = epoch + 1 < cfg.epochs && self.patience_exhausted();
            if let Some(dir) = dir {
                save_training_state(dir, &self.model, &self.best, &self.adam, &self.record)?;
            }
            if let Some(callback) = options.on_epoch.as_mut() {
                if let Some(last) = self.record.history.last() {
                    callback(last);
                }
            }
            if self.record.stopped_early {
                break;
            }
        }
        Ok(())
    }

    /// The model with the best epoch's weights and the training record.
    fn finish(self) -> Result<Model> {
        let mut model = self.model;
        model.set_weights(&self.best).map_err(|e| Error::other(format!("restoring the best weights: {e}")))?;
        model.training = Some(self.record);
        Ok(model)
    }
}

fn progress_bar(draw: bool, batches: usize, epoch: usize, epochs: usize) -> Result<ProgressBar> {
    let target = if draw { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let style = ProgressStyle::with_template("{prefix} [{bar:25}] {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]")
        .map_err(|e| Error::other(format!("progress bar template: {e}")))?
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(batches as u64), target).with_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    Ok(bar)
}
