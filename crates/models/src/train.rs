//! Training with Adam, early stopping on the validation loss, the best weights kept, a per-epoch
//! history, and checkpoints that a run can be resumed from exactly. What happens is reported to
//! the caller's [`Callbacks`] (a progress display, a log line per epoch), which may also ask the
//! run to stop (e.g. on SIGINT) once the current epoch is saved; the library itself never draws
//! on the terminal nor installs signal handlers.
//!
//! Determinism: the initial weights come from the model's seed (`Model::new`), the epoch orders
//! from `TrainConfig::seed` and the epoch number alone, so on one CPU machine the same seeds give
//! the same model bit for bit, on any number of threads, and a resumed run gives the same model
//! as an uninterrupted one (the checkpoint holds the latest weights, the best weights and Adam's
//! moments and step count). Another CPU model may round differently: candle's matrix products
//! (the `gemm` crate) sum in blocks sized from the processor's L1 data cache (docs/models.md,
//! "Reproducibility"). GPU kernels may sum in a different order from run to run, so CUDA runs are
//! close, not equal.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};

use super::adam::Adam;
use super::calibration::{fit_width_scale, WidthCalibration};
use super::checkpoint::{load_for_resume, save_training_state, BestWeights};
use super::data::{epoch_batches, Dataset};
use super::loss::LossKind;
use super::mdn::{GaussianMixtures, Head};
use super::model::Model;
use super::record::{EpochRecord, ReduceLr, TrainConfig, TrainingRecord, ValidationSplit};
use super::step::{InferenceSteps, TrainingSteps};
use super::CandleContext;
use pzbench_io::{Error, Result};

/// The learning rate for the epoch after those with validation losses `val_losses`, under
/// `cfg`'s schedule. A pure function of the history, so a resumed run continues the schedule.
pub(crate) fn scheduled_lr(cfg: &TrainConfig, val_losses: &[f64]) -> f64 {
    let Some(ReduceLr { patience, factor }) = cfg.reduce_lr else {
        return cfg.lr;
    };
    let (mut lr, mut best, mut waited) = (cfg.lr, f64::INFINITY, 0);
    for &loss in val_losses {
        if loss < best {
            best = loss;
            waited = 0;
        } else {
            waited += 1;
            if waited >= patience {
                lr *= factor;
                waited = 0;
            }
        }
    }
    lr
}

/// What a training run tells its caller, in order: [`TrainEvent::Started`] once, then per epoch
/// [`TrainEvent::EpochStarted`], one [`TrainEvent::Batch`] per optimiser step,
/// [`TrainEvent::EpochEnded`] (before the epoch's checkpoint is written) and
/// [`TrainEvent::EpochSaved`] (after it, when the run goes on). [`crate::train_run`] first sends
/// [`TrainEvent::DataRead`], and [`TrainEvent::WaitingForLock`] if another run holds the
/// checkpoint directory.
#[derive(Debug, Clone, Copy)]
pub enum TrainEvent<'a> {
    /// The training and validation files are read (their descriptions), before any check of the
    /// model or the checkpoint directory ([`crate::train_run`] only).
    DataRead { train: &'a crate::InputSummary, val: &'a crate::InputSummary },
    /// Another run holds the checkpoint directory's lock and this one has waited for it for a
    /// second; it waits on up to the request's `lock_timeout` ([`crate::train_run`] only).
    WaitingForLock { wait: pzbench_io::update::LockWait<'a> },
    /// Epochs `first_epoch..=epochs` (1-based) are about to run; not sent when a resumed run
    /// has nothing left to do.
    Started { first_epoch: usize, epochs: usize },
    /// Epoch `epoch` (1-based) of `epochs` starts: `batches` optimiser steps.
    EpochStarted { epoch: usize, epochs: usize, batches: usize },
    /// One optimiser step is done. Every few steps the running training loss is read from the
    /// device: then `running` holds it and the epoch's throughput so far.
    Batch { running: Option<RunningLoss> },
    /// The epoch is trained and validated; `best` if its validation loss is the lowest so far.
    EpochEnded { record: &'a EpochRecord, best: bool },
    /// The epoch's checkpoint is written (when the run has a checkpoint directory) and the run
    /// goes on: not sent when a stop was asked for.
    EpochSaved { record: &'a EpochRecord },
}

/// The running training loss of an epoch, as [`TrainEvent::Batch`] reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunningLoss {
    /// Mean loss of the epoch's galaxies so far.
    pub loss: f64,
    /// Training galaxies per second so far in the epoch.
    pub galaxies_per_s: f64,
}

/// What the caller hooks into a run; both are optional.
#[derive(Default)]
pub struct Callbacks<'a> {
    /// Asked before every optimiser step and after every saved epoch: `Some(reason)` (e.g.
    /// `"SIGTERM"`) ends the run with an error that names the reason and the epochs saved, the
    /// checkpoint being left consistent (an epoch is never cut off mid-write).
    pub should_stop: Option<&'a dyn Fn() -> Option<String>>,
    /// Told what happens ([`TrainEvent`]); an error it returns ends the run with that error.
    pub on_event: Option<&'a mut OnEvent<'a>>,
}

/// The type of [`Callbacks::on_event`].
pub type OnEvent<'a> = dyn FnMut(TrainEvent<'_>) -> Result<()> + 'a;

impl Callbacks<'_> {
    /// Sends `event` to `on_event`, if there is one.
    pub(crate) fn send(&mut self, event: TrainEvent<'_>) -> Result<()> {
        match self.on_event.as_mut() {
            Some(on_event) => on_event(event),
            None => Ok(()),
        }
    }

    /// The reason to stop, if `should_stop` gives one.
    fn stop_reason(&self) -> Option<String> {
        self.should_stop.and_then(|should_stop| should_stop())
    }
}

/// What the caller adds to a run: hashes of the data files (saved in the checkpoint and checked on
/// resume), how the validation set was drawn from the training file if it was (saved in the
/// record and checked on resume) and its [`Callbacks`].
#[derive(Default)]
pub struct RunOptions<'a> {
    /// E.g. `{"train": "sha256:…", "val": "sha256:…"}`.
    pub data_hashes: BTreeMap<String, String>,
    /// The split that made the training and validation sets ([`crate::RawData::split`]).
    pub validation_split: Option<ValidationSplit>,
    pub callbacks: Callbacks<'a>,
}

/// The error that ends a run stopped for `reason` with `saved` epochs done, said of the
/// checkpoint when there is one (`checkpointed`).
fn stopped(reason: &str, saved: usize, checkpointed: bool) -> Error {
    Error::other(if saved == 0 {
        format!("stopped by {reason} before the first epoch ended; nothing was saved")
    } else if checkpointed {
        format!("stopped by {reason}; the checkpoint holds epochs 1 to {saved} (pzbench train --resume goes on)")
    } else {
        format!("stopped by {reason} after epoch {saved}; there is no checkpoint directory, so nothing was saved")
    })
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
    check_head(model.architecture().head(), cfg)?;
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
        validation_split: options.validation_split,
        width_calibration: None,
    };
    let mut run = Run { model, adam, best, best_file: None, record };
    run.epochs(train, val, checkpoint_dir, options.callbacks)?;
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
        ("augmentation", saved.augment != cfg.augment, saved.augment.to_string(), cfg.augment.to_string()),
        (
            "Tanaka weight",
            saved.tanaka_weight != cfg.tanaka_weight,
            saved.tanaka_weight.to_string(),
            cfg.tanaka_weight.to_string(),
        ),
        (
            "Tanaka term's target",
            saved.tanaka_target != cfg.tanaka_target,
            format!("{:?}", saved.tanaka_target).to_lowercase(),
            format!("{:?}", cfg.tanaka_target).to_lowercase(),
        ),
        (
            "width calibration",
            saved.calibrate_widths != cfg.calibrate_widths,
            saved.calibrate_widths.to_string(),
            cfg.calibrate_widths.to_string(),
        ),
        (
            "learning-rate schedule",
            saved.reduce_lr != cfg.reduce_lr,
            format!("{:?}", saved.reduce_lr),
            format!("{:?}", cfg.reduce_lr),
        ),
    ];
    if let Some((what, _, was, now)) = mismatch.iter().find(|m| m.1) {
        return Err(Error::usage(format!(
            "the {what} differs from the interrupted run's ({now} instead of {was}); resume with the same settings or start a new run"
        )));
    }
    let drawn = |split: Option<ValidationSplit>| split.map(|s| (s.fraction, s.seed));
    if drawn(record.validation_split) != drawn(options.validation_split) {
        let said = |split: Option<ValidationSplit>| match split {
            Some(s) => format!("--val-fraction {} with split seed {}", s.fraction, s.seed),
            None => "a validation file (--val)".to_string(),
        };
        return Err(Error::usage(format!(
            "the run validated on {}, this one on {}; resume with the same validation data",
            said(record.validation_split),
            said(options.validation_split)
        )));
    }
    if !options.data_hashes.is_empty() && !model.data_hashes.is_empty() && options.data_hashes != model.data_hashes {
        return Err(Error::usage(format!(
            "the data differ from the interrupted run's (hashes {:?}, checkpoint has {:?}); resume on the same files",
            options.data_hashes, model.data_hashes
        )));
    }
    check_head(model.architecture().head(), cfg)?;
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
    adam.restore(&state.optimizer, state.adam_steps).map_err(|e| {
        Error::file(dir.join(super::checkpoint::OPTIMIZER_FILE), format!("corrupt optimizer state: {e}")).caused_by(e)
    })?;
    let mut run = Run { model, adam, best: state.best, best_file: None, record };
    run.epochs(train, val, Some(dir), options.callbacks)?;
    run.finish()
}

/// The width calibration of a mixture head's validation outputs `val_out` against the redshifts
/// `val_z` ([`fit_width_scale`]); none for the point head, which [`check_head`] keeps from asking.
fn calibrate(model: &Model, val_out: &[f32], val_z: &[f32]) -> Option<WidthCalibration> {
    match model.architecture().head() {
        Head::Mdn { components } => fit_width_scale(&GaussianMixtures::from_outputs(val_out, components), val_z),
        Head::Point => None,
    }
}

/// The settings must fit the model's head: the negative log-likelihood for the mixture head, and
/// only for it; width calibration only for the mixture head.
pub(crate) fn check_head(head: Head, cfg: &TrainConfig) -> Result<()> {
    if head.is_point() && cfg.calibrate_widths && cfg.loss != LossKind::Nll {
        return Err(Error::usage("width calibration rescales a mixture head's PDFs; use it with --head mdn"));
    }
    match (head, cfg.loss) {
        (Head::Mdn { .. }, LossKind::Nll) | (Head::Point, LossKind::Tanaka | LossKind::Mse) => Ok(()),
        (Head::Mdn { .. }, _) => Err(Error::usage(
            "the mixture-density head trains on the negative log-likelihood of its mixtures: use --loss nll (the default with --head mdn)",
        )),
        (Head::Point, LossKind::Nll) => Err(Error::usage(
            "--loss nll is the likelihood of a mixture-density head's PDFs: use it with --head mdn",
        )),
    }
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
    /// Checksum of the best weights as last written to the checkpoint (rewritten only when a
    /// better epoch comes).
    best_file: Option<String>,
    record: TrainingRecord,
}

impl Run {
    fn patience_exhausted(&self) -> bool {
        self.record.config.patience.is_some_and(|p| self.record.epochs_since_best >= p)
    }

    /// Runs epochs `history.len() + 1 ..= config.epochs` unless patience runs out or the
    /// callbacks ask to stop.
    fn epochs(
        &mut self,
        train: &Dataset,
        val: &Dataset,
        dir: Option<&Path>,
        mut callbacks: Callbacks<'_>,
    ) -> Result<()> {
        let cfg = self.record.config.clone();
        let start = self.record.history.len();
        self.record.stopped_early = start < cfg.epochs && self.patience_exhausted();
        if self.record.stopped_early {
            return Ok(());
        }
        let prep = self.model.preprocess();
        let objective = cfg.objective();
        let window = prep.images.then_some((cfg.chunk_rows, cfg.buffer_chunks));
        callbacks.send(TrainEvent::Started { first_epoch: start + 1, epochs: cfg.epochs })?;
        // One set of steps for the whole run: on CUDA each records its graph once (`step.rs`).
        let mut steps = TrainingSteps::new(&self.model, objective, cfg.batch_size)?;
        let mut val_steps = InferenceSteps::new(&self.model, cfg.batch_size.min(val.len()).max(1))?;
        for epoch in start..cfg.epochs {
            let started = Instant::now();
            let val_losses: Vec<f64> = self.record.history.iter().map(|r| r.val_loss).collect();
            let lr = scheduled_lr(&cfg, &val_losses);
            self.adam.set_lr(lr);
            let batches = epoch_batches(train.len(), cfg.batch_size, cfg.seed, epoch, window);
            let prep = prep.augmented(cfg.augment.then_some((cfg.seed, epoch)));
            callbacks.send(TrainEvent::EpochStarted {
                epoch: epoch + 1,
                epochs: cfg.epochs,
                batches: batches.len(),
            })?;
            let mut losses = LossSum::default();
            let adam = &mut self.adam;
            let saved_epochs = self.record.history.len();
            let diverged = |value: f64| {
                Error::other(format!(
                    "training diverged: the loss is {value} in epoch {} (try a lower learning rate)",
                    epoch + 1
                ))
            };
            prep.for_each_batch(train, &batches, |batch| {
                if let Some(reason) = callbacks.stop_reason() {
                    return Err(stopped(&reason, saved_epochs, dir.is_some()));
                }
                steps.load(&batch)?;
                let loss = steps.step(adam)?;
                let running = if losses.add(&loss, batch.n)? {
                    let mean = losses.mean();
                    if !mean.is_finite() {
                        return Err(diverged(mean));
                    }
                    let galaxies_per_s = losses.seen as f64 / started.elapsed().as_secs_f64();
                    Some(RunningLoss { loss: mean, galaxies_per_s })
                } else {
                    None
                };
                callbacks.send(TrainEvent::Batch { running })
            })?;
            losses.read()?;
            let (loss_sum, seen) = (losses.sum, losses.seen);
            if !loss_sum.is_finite() {
                return Err(diverged(loss_sum / seen as f64));
            }
            let train_seconds = started.elapsed().as_secs_f64();
            let val_out = val_steps.predict_all(val)?;
            let val_z = val.redshifts().ok_or_else(|| Error::usage("the validation set has no redshifts"))?;
            let val_loss = objective.value(&val_out, val_z);
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
                lr,
            };
            if self.record.best_val_loss.is_none_or(|best| val_loss < best) {
                if cfg.calibrate_widths {
                    self.record.width_calibration = calibrate(&self.model, &val_out, val_z);
                }
                self.best = self.model.weights()?;
                self.record.best_epoch = Some(epoch + 1);
                self.record.best_val_loss = Some(val_loss);
                self.record.epochs_since_best = 0;
            } else {
                self.record.epochs_since_best += 1;
            }
            callbacks.send(TrainEvent::EpochEnded { record: &record, best: self.record.epochs_since_best == 0 })?;
            self.record.history.push(record);
            self.record.stopped_early = epoch + 1 < cfg.epochs && self.patience_exhausted();
            if let Some(dir) = dir {
                let unchanged = self.best_file.take().filter(|_| self.record.epochs_since_best > 0);
                let best = match unchanged {
                    Some(hash) => BestWeights::Unchanged(hash),
                    None => BestWeights::New(&self.best),
                };
                self.best_file = Some(save_training_state(dir, &self.model, best, &self.adam, &self.record)?);
            }
            if let Some(reason) = callbacks.stop_reason() {
                return Err(stopped(&reason, self.record.history.len(), dir.is_some()));
            }
            if let Some(last) = self.record.history.last() {
                callbacks.send(TrainEvent::EpochSaved { record: last })?;
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
        model
            .set_weights(&self.best)
            .map_err(|e| Error::other(format!("restoring the best weights: {e}")).caused_by(e))?;
        model.training = Some(self.record);
        Ok(model)
    }
}

/// Batches whose losses are summed on the device between two reads: reading a value back waits
/// for the device, so reading every batch would keep the host from queueing the next one.
const LOSS_READ_INTERVAL: usize = 16;

/// The running sum of `loss · batch size` over an epoch, kept on the device and read every
/// [`LOSS_READ_INTERVAL`] batches.
#[derive(Default)]
struct LossSum {
    pending: Option<Tensor>,
    pending_batches: usize,
    pending_galaxies: usize,
    /// Sum read so far, and the galaxies it covers.
    sum: f64,
    seen: usize,
}

impl LossSum {
    /// Adds one batch's mean loss; returns whether the sum was read (every
    /// [`LOSS_READ_INTERVAL`] batches).
    fn add(&mut self, loss: &Tensor, n: usize) -> Result<bool> {
        let weighted = (loss * n as f64).context("summing the loss")?;
        self.pending = Some(match self.pending.take() {
            Some(pending) => (pending + weighted).context("summing the loss")?,
            None => weighted,
        });
        self.pending_batches += 1;
        self.pending_galaxies += n;
        if self.pending_batches < LOSS_READ_INTERVAL {
            return Ok(false);
        }
        self.read()?;
        Ok(true)
    }

    /// Reads the pending sum.
    fn read(&mut self) -> Result<()> {
        if let Some(pending) = self.pending.take() {
            let value = pending.to_dtype(candle_core::DType::F64).and_then(|t| t.to_scalar::<f64>());
            self.sum += value.context("reading the loss")?;
            self.seen += self.pending_galaxies;
        }
        self.pending_batches = 0;
        self.pending_galaxies = 0;
        Ok(())
    }

    fn mean(&self) -> f64 {
        self.sum / self.seen.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::synthetic;
    use crate::{load, predict, predict_mixtures, Architecture, CnnConfig, LossKind, NnConfig, SIGMA_FLOOR};

    fn nn_config(epochs: usize) -> TrainConfig {
        TrainConfig { epochs, batch_size: 32, lr: 5e-3, progress: false, seed: 5, ..TrainConfig::nn_paper() }
    }

    fn nn_model(train: &Dataset, seed: u64) -> Model {
        Model::new(Architecture::Nn(NnConfig::galaxiesml()), train, seed, &Device::Cpu).unwrap()
    }

    fn val_loss(model: &Model, val: &Dataset, loss: LossKind) -> f64 {
        loss.value(&predict(model, val, 64).unwrap(), val.redshifts().unwrap())
    }

    #[test]
    fn nn_loss_falls_on_a_smooth_problem() {
        let (train_set, val_set) = (synthetic(400, None, 1), synthetic(100, None, 2));
        let model = nn_model(&train_set, 3);
        let before = val_loss(&model, &val_set, LossKind::Tanaka);
        let mut epochs_seen = Vec::new();
        let mut log = |event: TrainEvent<'_>| {
            if let TrainEvent::EpochSaved { record } = event {
                epochs_seen.push(record.epoch);
            }
            Ok(())
        };
        let callbacks = Callbacks { on_event: Some(&mut log), ..Default::default() };
        let options = RunOptions { callbacks, ..Default::default() };
        let model = train(model, &train_set, &val_set, &nn_config(15), None, options).unwrap();
        let record = model.training().unwrap();
        assert_eq!(epochs_seen, (1..=record.history.len()).collect::<Vec<_>>());
        let first = &record.history[0];
        let best = record.best_val_loss.unwrap();
        assert!(best < 0.5 * before && best < first.val_loss, "val loss {before} -> {best}");
        assert!(record.history.last().unwrap().train_loss < first.train_loss);
        assert!(record.history.iter().all(|r| r.galaxies_per_s > 0.0 && r.seconds > 0.0));
        // The model returned holds the best epoch's weights.
        assert_eq!(val_loss(&model, &val_set, LossKind::Tanaka), best);
        let best_epoch = record.best_epoch.unwrap();
        assert_eq!(record.history[best_epoch - 1].val_loss, best);
    }

    fn mdn_model(train: &Dataset, seed: u64) -> Model {
        let arch = Architecture::Nn(NnConfig { head: Head::Mdn { components: 3 }, ..NnConfig::galaxiesml() });
        Model::new(arch, train, seed, &Device::Cpu).unwrap()
    }

    /// The NN with the mixture head learns the smooth problem (its validation NLL falls by
    /// nats), its mixtures are valid, and a resumed run (with a Tanaka term in the objective)
    /// equals an uninterrupted one bit for bit.
    #[test]
    fn mdn_nll_falls_and_resume_equals_an_uninterrupted_run() {
        let (train_set, val_set) = (synthetic(400, None, 1), synthetic(100, None, 2));
        let val_z = val_set.redshifts().unwrap();
        let cfg = TrainConfig { loss: LossKind::Nll, ..nn_config(8) };
        let model = mdn_model(&train_set, 3);
        let before = LossKind::Nll.value(&predict(&model, &val_set, 64).unwrap(), val_z);
        let trained = train(model, &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap();
        let best = trained.training().unwrap().best_val_loss.unwrap();
        assert!(best < before - 2.0, "validation NLL {before} -> {best}");
        // In the batches of the validation pass, whose matrix products sum in the same order.
        let mixtures = predict_mixtures(&trained, &val_set, cfg.batch_size).unwrap();
        assert_eq!((mixtures.k, mixtures.len()), (3, 100));
        assert_eq!(mixtures.nll(val_z), best, "the model kept is the best epoch's");
        assert!(mixtures.weights.chunks(3).all(|w| (w.iter().sum::<f64>() - 1.0).abs() < 1e-12));
        assert!(mixtures.sigmas.iter().all(|&s| s >= SIGMA_FLOOR));

        let cfg = TrainConfig { tanaka_weight: 0.5, ..TrainConfig { epochs: 4, ..cfg } };
        let whole = train(mdn_model(&train_set, 3), &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let half = TrainConfig { epochs: 2, ..cfg.clone() };
        train(mdn_model(&train_set, 3), &train_set, &val_set, &half, Some(dir.path()), RunOptions::default()).unwrap();
        let resumed = resume(dir.path(), &Device::Cpu, &train_set, &val_set, &cfg, RunOptions::default()).unwrap();
        assert_eq!(resumed.training().unwrap().history.len(), 4);
        let losses = |m: &Model| m.training().unwrap().history.iter().map(|r| r.val_loss).collect::<Vec<_>>();
        assert_eq!(losses(&resumed), losses(&whole));
        assert_eq!(predict(&resumed, &val_set, 16).unwrap(), predict(&whole, &val_set, 16).unwrap());
        // The Tanaka term is part of the run's settings.
        let other = TrainConfig { tanaka_weight: 0.25, epochs: 6, ..cfg };
        let err = resume(dir.path(), &Device::Cpu, &train_set, &val_set, &other, RunOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("the Tanaka weight differs from the interrupted run's (0.25 instead of 0.5)"),
            "{err}"
        );
    }

    /// With `calibrate_widths`, the record holds the width factor fitted on the best epoch's
    /// validation mixtures, prediction applies it, a resumed run records the same one, and the
    /// setting is part of the run's settings (and of the mixture head only).
    #[test]
    fn width_calibration_of_the_best_epoch_is_recorded_and_applied() {
        let (train_set, val_set) = (synthetic(400, None, 1), synthetic(100, None, 2));
        let val_z = val_set.redshifts().unwrap();
        let cfg = TrainConfig { loss: LossKind::Nll, calibrate_widths: true, ..nn_config(6) };
        let dir = tempfile::tempdir().unwrap();
        let whole =
            train(mdn_model(&train_set, 3), &train_set, &val_set, &cfg, Some(dir.path()), RunOptions::default())
                .unwrap();
        let fitted = whole.training().unwrap().width_calibration.unwrap();
        let raw = GaussianMixtures::from_outputs(&predict(&whole, &val_set, cfg.batch_size).unwrap(), 3);
        assert_eq!(Some(fitted), fit_width_scale(&raw, val_z), "fitted on the best epoch's validation outputs");
        assert!(fitted.val_pit_cvm_after <= fitted.val_pit_cvm_before, "{fitted:?}");
        let loaded = load(dir.path(), &Device::Cpu).unwrap();
        let calibrated = predict_mixtures(&loaded, &val_set, cfg.batch_size).unwrap();
        assert_ne!(fitted.scale, 1.0);
        for (s, raw_s) in calibrated.sigmas.iter().zip(&raw.sigmas) {
            assert_eq!(*s, raw_s * fitted.scale);
        }
        assert_eq!((calibrated.weights, calibrated.means), (raw.weights, raw.means));

        let resumed_dir = tempfile::tempdir().unwrap();
        let half = TrainConfig { epochs: 3, ..cfg.clone() };
        train(mdn_model(&train_set, 3), &train_set, &val_set, &half, Some(resumed_dir.path()), RunOptions::default())
            .unwrap();
        let resumed =
            resume(resumed_dir.path(), &Device::Cpu, &train_set, &val_set, &cfg, RunOptions::default()).unwrap();
        assert_eq!(resumed.training().unwrap().width_calibration, Some(fitted));
        let off = TrainConfig { calibrate_widths: false, epochs: 8, ..cfg.clone() };
        let err = resume(dir.path(), &Device::Cpu, &train_set, &val_set, &off, RunOptions::default()).unwrap_err();
        assert!(err.to_string().contains("the width calibration differs from the interrupted run's"), "{err}");
        let point = TrainConfig { calibrate_widths: true, ..nn_config(1) };
        let err =
            train(nn_model(&train_set, 1), &train_set, &val_set, &point, None, RunOptions::default()).unwrap_err();
        assert!(err.to_string().contains("width calibration rescales a mixture head's PDFs"), "{err}");
    }

    #[test]
    fn learning_rate_drops_after_patience_epochs_without_improvement() {
        let mut cfg = TrainConfig { lr: 1.0, ..TrainConfig::cnn_paper() };
        let losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86];
        assert_eq!(scheduled_lr(&cfg, &losses), 1.0, "no schedule: constant");
        cfg.reduce_lr = Some(ReduceLr { patience: 2, factor: 0.5 });
        let lrs: Vec<f64> = (0..=losses.len()).map(|k| scheduled_lr(&cfg, &losses[..k])).collect();
        // 0.95, 0.96 miss the best (0.9): halved for epoch 5; 0.97 misses once, 0.8 is a new best,
        // then 0.85, 0.86 miss twice: halved again for epoch 9.
        assert_eq!(lrs, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]);
        assert!(TrainConfig { reduce_lr: Some(ReduceLr { patience: 0, factor: 0.5 }), ..cfg.clone() }
            .validate()
            .is_err());
        assert!(TrainConfig { reduce_lr: Some(ReduceLr { patience: 3, factor: 1.5 }), ..cfg }.validate().is_err());
    }

    #[test]
    fn early_stopping_keeps_the_best_weights() {
        let (train_set, val_set) = (synthetic(200, None, 1), synthetic(50, None, 2));
        // A learning rate far too high makes the validation loss bounce, so patience runs out.
        let cfg = TrainConfig { lr: 0.3, patience: Some(2), loss: LossKind::Mse, ..nn_config(40) };
        let model = train(nn_model(&train_set, 3), &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap();
        let record = model.training().unwrap();
        assert!(record.stopped_early, "{:?}", record.history);
        assert!(record.history.len() < 40);
        assert_eq!(record.epochs_since_best, 2);
        assert_eq!(record.best_epoch, Some(record.history.len() - 2));
        assert_eq!(val_loss(&model, &val_set, LossKind::Mse), record.best_val_loss.unwrap());
    }

    #[test]
    fn same_seed_same_model_and_resume_equals_an_uninterrupted_run() {
        let (train_set, val_set) = (synthetic(150, None, 1), synthetic(40, None, 2));
        let cfg = nn_config(4);
        let run = |seed: u64| {
            let m = train(nn_model(&train_set, seed), &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap();
            let losses: Vec<f64> = m.training().unwrap().history.iter().map(|r| r.val_loss).collect();
            (predict(&m, &val_set, 16).unwrap(), losses)
        };
        let (a, b, c) = (run(3), run(3), run(4));
        assert_eq!(a, b, "same seed, same model");
        assert_ne!(a.0, c.0, "another seed, another model");

        // Two epochs, "interrupted", then resumed to four: the same as four in one go.
        let dir = tempfile::tempdir().unwrap();
        let hashes = BTreeMap::from([("train".to_string(), "sha256:abc".to_string())]);
        let half = TrainConfig { epochs: 2, ..cfg.clone() };
        let options = RunOptions { data_hashes: hashes.clone(), ..Default::default() };
        train(nn_model(&train_set, 3), &train_set, &val_set, &half, Some(dir.path()), options).unwrap();
        assert_eq!(load(dir.path(), &Device::Cpu).unwrap().training().unwrap().history.len(), 2);
        let options = RunOptions { data_hashes: hashes.clone(), ..Default::default() };
        let resumed = resume(dir.path(), &Device::Cpu, &train_set, &val_set, &cfg, options).unwrap();
        let losses: Vec<f64> = resumed.training().unwrap().history.iter().map(|r| r.val_loss).collect();
        assert_eq!((predict(&resumed, &val_set, 16).unwrap(), losses), a);
        assert_eq!(resumed.data_hashes(), &hashes);
        // ... and the checkpoint on disk now holds the four-epoch run.
        let loaded = load(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(predict(&loaded, &val_set, 16).unwrap(), a.0);

        // Resuming with other settings or other data is refused with a clear message.
        let lr = TrainConfig { lr: 1e-3, epochs: 6, ..cfg.clone() };
        let err = resume(dir.path(), &Device::Cpu, &train_set, &val_set, &lr, RunOptions::default()).unwrap_err();
        assert!(err.to_string().contains("learning rate differs"), "{err}");
        let other =
            RunOptions { data_hashes: BTreeMap::from([("train".into(), "sha256:def".into())]), ..Default::default() };
        let err = resume(dir.path(), &Device::Cpu, &train_set, &val_set, &cfg, other).unwrap_err();
        assert!(err.to_string().contains("the data differ"), "{err}");
    }

    #[test]
    fn cnn_loss_falls_in_two_tiny_epochs() {
        let (train_set, val_set) = (synthetic(64, Some(32), 1), synthetic(16, Some(32), 2));
        let model = Model::new(Architecture::Cnn(CnnConfig::galaxiesml(32)), &train_set, 3, &Device::Cpu).unwrap();
        let before = val_loss(&model, &val_set, LossKind::Tanaka);
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: 16,
            lr: 1e-3,
            progress: false,
            chunk_rows: 8,
            buffer_chunks: 2,
            ..TrainConfig::cnn_paper()
        };
        let model = train(model, &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap();
        let h = &model.training().unwrap().history;
        assert!(h[1].train_loss < h[0].train_loss, "{h:?}");
        assert!(h[1].val_loss < before, "val loss {before} -> {:?}", h);
    }

    #[test]
    fn refuses_bad_settings_and_data() {
        let (train_set, val_set) = (synthetic(20, None, 1), synthetic(5, None, 2));
        let cfg = nn_config(1);
        let bad =
            |c: TrainConfig| train(nn_model(&train_set, 1), &train_set, &val_set, &c, None, RunOptions::default());
        assert!(matches!(bad(TrainConfig { batch_size: 0, ..cfg.clone() }), Err(Error::Usage(_))));
        assert!(matches!(bad(TrainConfig { lr: f64::NAN, ..cfg.clone() }), Err(Error::Usage(_))));
        assert!(matches!(bad(TrainConfig { patience: Some(0), ..cfg.clone() }), Err(Error::Usage(_))));
        let unlabelled = Dataset::new(vec![1], vec![20.0; 5], 5).unwrap();
        let err =
            train(nn_model(&train_set, 1), &train_set, &unlabelled, &cfg, None, RunOptions::default()).unwrap_err();
        assert!(err.to_string().contains("validation set has no spectroscopic redshifts"), "{err}");
        // A CNN needs images.
        let err = Model::new(Architecture::Cnn(CnnConfig::galaxiesml(32)), &train_set, 1, &Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("needs images"), "{err}");
        // The loss must fit the head.
        let err = train(mdn_model(&train_set, 1), &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap_err();
        assert!(err.to_string().contains("use --loss nll (the default with --head mdn)"), "{err}");
        let nll = TrainConfig { loss: LossKind::Nll, ..cfg.clone() };
        let err = bad(nll).unwrap_err().to_string();
        assert!(err.contains("--loss nll is the likelihood of a mixture-density head's PDFs"), "{err}");
        let err = bad(TrainConfig { tanaka_weight: 1.0, ..cfg.clone() }).unwrap_err().to_string();
        assert!(err.contains("--tanaka-weight adds a term to the mixture head's likelihood"), "{err}");
        let negative = TrainConfig { loss: LossKind::Nll, tanaka_weight: -1.0, ..cfg.clone() };
        let err = train(mdn_model(&train_set, 1), &train_set, &val_set, &negative, None, RunOptions::default());
        assert!(err.unwrap_err().to_string().contains("--tanaka-weight must be a number >= 0, got -1"));
        // A trained model is resumed, not retrained.
        let trained = train(nn_model(&train_set, 1), &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap();
        assert!(matches!(
            train(trained, &train_set, &val_set, &cfg, None, RunOptions::default()),
            Err(Error::Usage(_))
        ));
    }

    /// The CNN with the mixture head: its NLL falls in two tiny epochs, its mixtures are valid.
    #[test]
    fn cnn_mdn_nll_falls_in_two_tiny_epochs() {
        let (train_set, val_set) = (synthetic(64, Some(32), 1), synthetic(16, Some(32), 2));
        let arch = Architecture::Cnn(CnnConfig { head: Head::Mdn { components: 2 }, ..CnnConfig::galaxiesml(32) });
        let model = Model::new(arch, &train_set, 3, &Device::Cpu).unwrap();
        let before = LossKind::Nll.value(&predict(&model, &val_set, 8).unwrap(), val_set.redshifts().unwrap());
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: 16,
            lr: 1e-3,
            progress: false,
            chunk_rows: 8,
            buffer_chunks: 2,
            loss: LossKind::Nll,
            ..TrainConfig::cnn_paper()
        };
        let model = train(model, &train_set, &val_set, &cfg, None, RunOptions::default()).unwrap();
        let h = &model.training().unwrap().history;
        assert!(h[1].val_loss < before, "val NLL {before} -> {:?}", h);
        let mixtures = predict_mixtures(&model, &val_set, 8).unwrap();
        assert_eq!((mixtures.k, mixtures.len()), (2, 16));
        assert!(mixtures.sigmas.iter().all(|&s| s >= SIGMA_FLOOR) && mixtures.means.iter().all(|m| m.is_finite()));
    }
}
