//! `pzbench train` and `pzbench predict` as library functions: [`train_run`] checks a training
//! request (flags, checkpoint directory, resume consistency), reads the data, fits the inputs and
//! trains; [`predict_file`] loads a checkpoint and predicts every galaxy of a file. The command
//! line maps its flags to a [`TrainRequest`] or [`PredictRequest`] and prints what these return;
//! `pzbench reproduce` and any Rust caller call them directly.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::checkpoint::{create_dir, load, META_FILE};
use super::cnn::CnnConfig;
use super::inputs::{check_val_fraction, galaxiesml_bands, read_data, InputSpec, InputSummary, INPUTS_FILE};
use super::model::{predict, Architecture, Model};
use super::nn::NnConfig;
use super::record::TrainConfig;
use super::train::{resume, train, Callbacks, RunOptions, TrainEvent};
use pzbench_io::table::ReadOptions;
use pzbench_io::update::{lock_folder, LockOptions, LockWait, DEFAULT_LOCK_TIMEOUT};
use pzbench_io::{Error, Result};

/// Which of the paper's two models to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Images + photometry: needs GalaxiesML HDF5 files with the `image` key.
    Cnn,
    /// Photometry only: GalaxiesML HDF5 or any catalogue the table reader reads.
    Nn,
}

/// Default epoch count of the CNN: the paper's 200 take days even on a GPU; 20 is a CPU-sized run.
const CNN_DEFAULT_EPOCHS: usize = 20;
/// Default epoch cap of the NN (the paper's 1000, cut for the CPU; early stopping usually ends it
/// long before).
const NN_DEFAULT_EPOCHS: usize = 200;

impl ModelKind {
    /// The settings `pzbench train` starts from: the paper's ([`TrainConfig::cnn_paper`],
    /// [`TrainConfig::nn_paper`]) except the epoch counts, cut for CPUs: 20 for the CNN, at most
    /// 200 for the NN.
    pub fn default_config(self) -> TrainConfig {
        match self {
            ModelKind::Cnn => TrainConfig { epochs: CNN_DEFAULT_EPOCHS, ..TrainConfig::cnn_paper() },
            ModelKind::Nn => TrainConfig { epochs: NN_DEFAULT_EPOCHS, ..TrainConfig::nn_paper() },
        }
    }
}

/// Where a run's validation set comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// A file of the training file's layout (`--val`).
    File(PathBuf),
    /// This share of the training file's galaxies, in (0, 1), drawn with the run's seed
    /// (`--val-fraction`, [`crate::RawData::split`]); the rest train.
    Fraction(f64),
}

/// Everything a training run needs (`pzbench train`'s flags).
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub model: ModelKind,
    /// Training data: a GalaxiesML HDF5 file, or for the NN a catalogue.
    pub train: PathBuf,
    /// Validation data: early stopping and the best epoch are decided on it.
    pub val: Validation,
    /// The checkpoint directory: created; must not hold a checkpoint unless `resume`.
    pub checkpoint_dir: PathBuf,
    /// Continue the run checkpointed in `checkpoint_dir` (same settings and data) up to
    /// `config.epochs`.
    pub resume: bool,
    /// The settings; `config.seed` also seeds the initial weights.
    pub config: TrainConfig,
    /// Compute device: `"cpu"`, `"cuda"` or `"cuda:N"` ([`crate::device`]).
    pub device: String,
    /// Magnitude columns (catalogue) or keys (HDF5), in the order the model reads them
    /// (`None`: the GalaxiesML magnitudes, [`galaxiesml_bands`]; a resumed run takes the
    /// checkpoint's).
    pub bands: Option<Vec<String>>,
    /// Magnitudes with an absolute value at least this large are non-detections ([`InputSpec`]).
    pub non_detection: f64,
    /// Also feed the colours of adjacent bands.
    pub colors: bool,
    /// CNN only: min-max scale its magnitudes (and colours) on the training set.
    pub scale_mags: bool,
    /// How catalogues are read (delimiter, invalid rows).
    pub read: ReadOptions,
    /// How long to wait for the checkpoint directory's lock, held by another run into it
    /// ([`train_run`]).
    pub lock_timeout: Duration,
}

/// Magnitudes with an absolute value at least this large are non-detections: GalaxiesML and
/// HSC catalogues write 99 (or −99) for them ([`InputSpec`]).
pub const DEFAULT_NON_DETECTION: f64 = 99.0;

impl TrainRequest {
    /// A fresh run of `model` on `train`, validated on the file `val`, into `checkpoint_dir`, on
    /// the CPU, with `pzbench train`'s defaults: [`ModelKind::default_config`], the GalaxiesML
    /// magnitudes, [`DEFAULT_NON_DETECTION`], no colours, no magnitude scaling, catalogues read
    /// as `score` reads them, the checkpoint's lock waited for up to [`DEFAULT_LOCK_TIMEOUT`].
    pub fn new(model: ModelKind, train: PathBuf, val: PathBuf, checkpoint_dir: PathBuf) -> Self {
        TrainRequest {
            model,
            train,
            val: Validation::File(val),
            checkpoint_dir,
            resume: false,
            config: model.default_config(),
            device: "cpu".into(),
            bands: None,
            non_detection: DEFAULT_NON_DETECTION,
            colors: false,
            scale_mags: false,
            read: ReadOptions::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// A finished training run.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The model with its best epoch's weights and its training record ([`Model::training`]);
    /// its checkpoint is in the request's `checkpoint_dir`.
    pub model: Model,
    /// What the training file held.
    pub train: InputSummary,
    /// What the validation file held.
    pub val: InputSummary,
    /// When the data files began to be read: the time since covers reading and training.
    pub started: Instant,
}

/// Runs `request` as `pzbench train` does: checks the flags and the checkpoint directory (a
/// fresh run needs one without a checkpoint, `resume` one with it and the same bands and
/// colours), reads both files ([`read_data`]) or splits the validation set off the training
/// file ([`Validation::Fraction`], [`crate::RawData::split`]; the split is recorded in the
/// training record), fits the inputs on the training set (or takes the checkpoint's, when
/// resuming), tells `callbacks` what was read ([`TrainEvent::DataRead`]), then trains a new
/// model ([`train`]) or resumes the run ([`resume`]) with a checkpoint written after every
/// epoch. The SHA-256 of both files (the training file's twice, for a split) is saved in the
/// checkpoint and checked on resume.
///
/// From the moment the data are read until it returns, the run holds the checkpoint directory's
/// lock (`DIR/.lock`, [`lock_folder`]), so that two runs into one directory never interleave: a
/// second run waits for the first (telling `callbacks` [`TrainEvent::WaitingForLock`] after a
/// second) up to `lock_timeout`, then checks the directory again (a fresh run fails if the
/// first left a checkpoint there; a resumed run continues from the first's last epoch).
pub fn train_run(request: &TrainRequest, mut callbacks: Callbacks<'_>) -> Result<TrainOutcome> {
    let images = request.model == ModelKind::Cnn;
    if request.config.augment && !images {
        return Err(Error::usage("--augment turns training images; the NN reads none (use it with --model cnn)"));
    }
    let device = crate::device(&request.device)?;
    let dir = &request.checkpoint_dir;
    let has_checkpoint = dir.join(META_FILE).is_file();
    if has_checkpoint && !request.resume {
        return Err(Error::file(
            dir,
            "already holds a checkpoint; pass --resume to continue that run, or choose another --out",
        ));
    }
    if request.resume && !has_checkpoint {
        return Err(Error::file(dir, "holds no checkpoint to resume (model.json is missing); drop --resume"));
    }
    if request.scale_mags && !images {
        return Err(Error::usage("--scale-mags is for the CNN: the NN always min-max scales its magnitudes"));
    }
    if let Validation::Fraction(fraction) = request.val {
        check_val_fraction(fraction)?;
    }
    let saved = if request.resume { Some(InputSpec::load(dir)?) } else { None };
    let bands = match (&saved, &request.bands) {
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
    if saved.as_ref().is_some_and(|s| request.colors && !s.colors) {
        return Err(Error::usage("--colors differs from the interrupted run's (magnitudes only); resume without it"));
    }
    let non_detection = saved.as_ref().map_or(request.non_detection, |s| s.non_detection);
    let started = Instant::now();
    let raw_train = read_data(&request.train, &bands, images, non_detection, &request.read)?;
    let (raw_train, raw_val, validation_split) = match &request.val {
        Validation::File(val) => (raw_train, read_data(val, &bands, images, non_detection, &request.read)?, None),
        Validation::Fraction(fraction) => {
            let (train, val, split) = raw_train.split(*fraction, request.config.seed, non_detection)?;
            (train, val, Some(split))
        }
    };
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
        None if request.scale_mags => {
            InputSpec::fit(&raw_train, bands, non_detection, request.colors)?.with_scaling(&raw_train)?
        }
        None => InputSpec::fit(&raw_train, bands, non_detection, request.colors)?,
    };
    let (train_summary, val_summary) = (raw_train.summary(&spec), raw_val.summary(&spec));
    callbacks.send(TrainEvent::DataRead { train: &train_summary, val: &val_summary })?;
    let train_hash = format!("sha256:{}", pzbench_io::sha256_file(&request.train)?);
    let val_hash = match &request.val {
        Validation::File(val) => format!("sha256:{}", pzbench_io::sha256_file(val)?),
        Validation::Fraction(_) => train_hash.clone(),
    };
    let hashes = BTreeMap::from([("train".to_string(), train_hash), ("val".to_string(), val_hash)]);
    let train_set = spec.dataset(raw_train)?;
    let val_set = spec.dataset(raw_val)?;
    let cfg = &request.config;
    let fresh = if request.resume {
        None
    } else {
        let arch = match (request.model, train_set.image_shape()) {
            (ModelKind::Cnn, Some((bands_img, h, w))) => {
                if h != w {
                    return Err(Error::file(
                        &request.train,
                        format!("images are {h}x{w}; the CNN needs square cutouts"),
                    ));
                }
                Architecture::Cnn(CnnConfig { image_size: h, n_bands: bands_img, n_mags: spec.n_inputs() })
            }
            (ModelKind::Cnn, None) => {
                return Err(Error::file(&request.train, "has no images; the CNN needs the `image` key"))
            }
            (ModelKind::Nn, _) => Architecture::Nn(NnConfig { n_mags: spec.n_inputs() }),
        };
        Some(Model::new(arch, &train_set, cfg.seed, &device).map_err(|e| on_file(e, &request.train))?)
    };
    create_dir(dir)?;
    let lock = {
        let callbacks = RefCell::new(&mut callbacks);
        let on_wait = |wait: &LockWait<'_>| {
            // A display failure does not stop the wait.
            let _ = callbacks.borrow_mut().send(TrainEvent::WaitingForLock { wait: *wait });
        };
        lock_folder(dir, &LockOptions { timeout: request.lock_timeout, on_wait: Some(&on_wait) })?
    };
    if fresh.is_some() && dir.join(META_FILE).is_file() {
        return Err(Error::file(
            dir,
            "already holds a checkpoint, written by another run while this one waited for it; pass --resume to continue that run, or choose another --out",
        ));
    }
    let options = RunOptions { data_hashes: hashes, validation_split, callbacks };
    let model = match fresh {
        None => resume(dir, &device, &train_set, &val_set, cfg, options)?,
        Some(model) => {
            spec.save(dir)?;
            train(model, &train_set, &val_set, cfg, Some(dir), options)?
        }
    };
    drop(lock);
    Ok(TrainOutcome { model, train: train_summary, val: val_summary, started })
}

/// A usage error about the data, said of the file it came from.
fn on_file(error: Error, path: &Path) -> Error {
    match error {
        Error::Usage(message) => Error::file(path, message),
        other => other,
    }
}

/// What [`predict_file`] needs (`pzbench predict`'s flags).
#[derive(Debug, Clone)]
pub struct PredictRequest {
    /// A checkpoint directory written by [`train_run`].
    pub model_dir: PathBuf,
    /// The data: a GalaxiesML HDF5 file, or for an NN a catalogue with the model's magnitude
    /// columns.
    pub data: PathBuf,
    /// Compute device: `"cpu"`, `"cuda"` or `"cuda:N"` ([`crate::device`]).
    pub device: String,
    /// Galaxies per forward pass (memory, not results: predictions do not depend on it beyond
    /// float rounding).
    pub batch_size: usize,
    /// How catalogues are read (delimiter, invalid rows).
    pub read: ReadOptions,
}

/// Galaxies per forward pass of `pzbench predict` by default.
pub const DEFAULT_PREDICT_BATCH: usize = 256;

impl PredictRequest {
    /// Predict every galaxy of `data` with the checkpoint in `model_dir`, on the CPU,
    /// [`DEFAULT_PREDICT_BATCH`] galaxies at a time, catalogues read as `score` reads them.
    pub fn new(model_dir: PathBuf, data: PathBuf) -> Self {
        PredictRequest {
            model_dir,
            data,
            device: "cpu".into(),
            batch_size: DEFAULT_PREDICT_BATCH,
            read: ReadOptions::default(),
        }
    }
}

/// A model's redshift for every galaxy of a file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The model that predicted.
    pub architecture: Architecture,
    /// What the data file held.
    pub input: InputSummary,
    pub ids: Vec<i64>,
    /// The file's spectroscopic redshifts, when it has them.
    pub z_spec: Option<Vec<f64>>,
    pub z_phot: Vec<f32>,
    /// When the data file began to be read: the time since covers reading and predicting.
    pub started: Instant,
}

impl Predictions {
    /// The predictions as `pzbench score` reads them: `object_id,z_spec,z_phot` (or
    /// `object_id,z_phot` without spectroscopic redshifts), one row per galaxy.
    pub fn to_csv(&self) -> String {
        let mut csv = String::with_capacity(self.ids.len() * 40);
        csv.push_str(if self.z_spec.is_some() { "object_id,z_spec,z_phot\n" } else { "object_id,z_phot\n" });
        for (row, (id, zp)) in self.ids.iter().zip(&self.z_phot).enumerate() {
            // Writing into a String cannot fail.
            let _ = match &self.z_spec {
                Some(z) => writeln!(csv, "{id},{},{zp}", z[row]),
                None => writeln!(csv, "{id},{zp}"),
            };
        }
        csv
    }

    /// Writes [`Self::to_csv`] to `path`, atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        pzbench_io::write_atomic(path, self.to_csv().as_bytes())
    }
}

/// Runs `request` as `pzbench predict` does: loads the checkpoint ([`load`]) and its input
/// description (`inputs.json`), reads the data file the way the model was trained (same
/// magnitude columns, same non-detection fill; images streamed from the HDF5 file for the CNN),
/// tells `on_read` what was read, and predicts every galaxy, `batch_size` at a time. On the CPU
/// the same model and data give the same predictions, bit for bit.
pub fn predict_file(request: &PredictRequest, on_read: &mut dyn FnMut(&InputSummary)) -> Result<Predictions> {
    if request.batch_size == 0 {
        return Err(Error::usage("--batch-size must be at least 1"));
    }
    let device = crate::device(&request.device)?;
    let model = load(&request.model_dir, &device)?;
    let spec = InputSpec::load(&request.model_dir)?;
    if spec.n_inputs() != model.architecture().n_mags() {
        return Err(Error::file(
            request.model_dir.join(INPUTS_FILE),
            format!(
                "describes {} inputs but the model reads {}; the checkpoint is inconsistent, retrain",
                spec.n_inputs(),
                model.architecture().n_mags()
            ),
        ));
    }
    let started = Instant::now();
    let images = model.architecture().image_shape().is_some();
    let raw = read_data(&request.data, &spec.bands, images, spec.non_detection, &request.read)?;
    let input = raw.summary(&spec);
    on_read(&input);
    let z_spec = raw.z.clone();
    let data = spec.dataset(raw)?;
    let z_phot = predict(&model, &data, request.batch_size).map_err(|e| on_file(e, &request.data))?;
    Ok(Predictions { architecture: *model.architecture(), input, ids: data.ids().to_vec(), z_spec, z_phot, started })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrainingRecord;

    /// A catalogue of `n` galaxies: 5 magnitudes and a redshift that is a smooth function of them.
    fn catalogue(path: &Path, n: usize, seed: u64) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut text = String::from("id,redshift,g,r,i,z,y\n");
        for id in 0..n {
            let m: Vec<f64> = (0..5).map(|_| 18.0 + 8.0 * rng.random::<f64>()).collect();
            let z = 0.34 + 0.1 * (m[1] - 18.0) + 0.03 * (m[3] - m[0]);
            let _ = writeln!(text, "{},{z},{},{},{},{},{}", 100 + id, m[0], m[1], m[2], m[3], m[4]);
        }
        std::fs::write(path, text).unwrap();
    }

    fn request(dir: &Path, epochs: usize) -> TrainRequest {
        TrainRequest {
            model: ModelKind::Nn,
            train: dir.join("train.csv"),
            val: Validation::File(dir.join("val.csv")),
            checkpoint_dir: dir.join("nn"),
            resume: false,
            config: TrainConfig { epochs, batch_size: 20, seed: 3, ..ModelKind::Nn.default_config() },
            device: "cpu".into(),
            bands: Some(["g", "r", "i", "z", "y"].map(String::from).to_vec()),
            non_detection: 99.0,
            colors: false,
            scale_mags: false,
            read: ReadOptions::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    #[test]
    fn train_run_checks_reports_stops_resumes_and_predicts() {
        let dir = tempfile::tempdir().unwrap();
        catalogue(&dir.path().join("train.csv"), 120, 1);
        catalogue(&dir.path().join("val.csv"), 30, 2);
        let mut events = Vec::new();
        let mut on_event = |event: TrainEvent<'_>| {
            events.push(match event {
                TrainEvent::DataRead { train, val } => format!("read {} + {}", train.galaxies, val.galaxies),
                TrainEvent::Started { first_epoch, epochs } => format!("start {first_epoch}/{epochs}"),
                TrainEvent::EpochStarted { epoch, batches, .. } => format!("epoch {epoch}: {batches} batches"),
                TrainEvent::Batch { .. } => "batch".into(),
                TrainEvent::EpochEnded { record, .. } => format!("ended {}", record.epoch),
                TrainEvent::EpochSaved { record } => format!("saved {}", record.epoch),
                TrainEvent::WaitingForLock { wait } => wait.to_string(),
            });
            Ok(())
        };
        // Stop once the second epoch is saved, as SIGTERM does through `pzbench train`.
        let saved_epochs = || {
            let meta = std::fs::read_to_string(dir.path().join("nn").join(META_FILE)).ok()?;
            let meta: serde_json::Value = serde_json::from_str(&meta).ok()?;
            Some(meta["training"]["history"].as_array()?.len())
        };
        let should_stop = || (saved_epochs() == Some(2)).then(|| "SIGTERM".to_string());
        let callbacks = Callbacks { should_stop: Some(&should_stop), on_event: Some(&mut on_event) };
        let err = train_run(&request(dir.path(), 5), callbacks).unwrap_err().to_string();
        assert_eq!(err, "stopped by SIGTERM; the checkpoint holds epochs 1 to 2 (pzbench train --resume goes on)");
        let batches = vec!["batch"; 6];
        let mut expected = vec!["read 120 + 30", "start 1/5", "epoch 1: 6 batches"];
        expected.extend(&batches);
        expected.extend(["ended 1", "saved 1", "epoch 2: 6 batches"]);
        expected.extend(&batches);
        expected.push("ended 2");
        assert_eq!(events, expected);

        // The same request again needs `resume`; resumed, it runs epochs 3 to 5 and predicts.
        let err = train_run(&request(dir.path(), 5), Callbacks::default()).unwrap_err().to_string();
        assert!(err.contains("already holds a checkpoint; pass --resume"), "{err}");
        let resumed =
            train_run(&TrainRequest { resume: true, ..request(dir.path(), 5) }, Callbacks::default()).unwrap();
        let record: &TrainingRecord = resumed.model.training().unwrap();
        assert_eq!(record.history.len(), 5);
        assert_eq!((resumed.train.galaxies, resumed.val.format.as_str()), (120, "CSV"));
        let predict_request = PredictRequest {
            model_dir: dir.path().join("nn"),
            data: dir.path().join("val.csv"),
            device: "cpu".into(),
            batch_size: 7,
            read: ReadOptions::default(),
        };
        let mut read = Vec::new();
        let predictions = predict_file(&predict_request, &mut |input| read.push(input.galaxies)).unwrap();
        assert_eq!(read, [30]);
        assert_eq!((predictions.ids[0], predictions.z_phot.len()), (100, 30));
        let csv = predictions.to_csv();
        assert!(csv.starts_with("object_id,z_spec,z_phot\n100,"), "{csv}");
        assert_eq!(csv.lines().count(), 31);
        let err = predict_file(&PredictRequest { batch_size: 0, ..predict_request }, &mut |_| {}).unwrap_err();
        assert_eq!(err.to_string(), "--batch-size must be at least 1");

        // Another run holds the directory: this one waits, says so once, and gives up at its timeout.
        let held = lock_folder(&dir.path().join("nn"), &LockOptions::default()).unwrap();
        let mut waits = Vec::new();
        let mut on_event = |event: TrainEvent<'_>| {
            if let TrainEvent::WaitingForLock { wait } = event {
                waits.push(wait.to_string());
            }
            Ok(())
        };
        let callbacks = Callbacks { on_event: Some(&mut on_event), ..Default::default() };
        let waiting =
            TrainRequest { resume: true, lock_timeout: Duration::from_millis(1100), ..request(dir.path(), 6) };
        let err = train_run(&waiting, callbacks).unwrap_err().to_string();
        assert!(err.contains("gave up after 1.1 s waiting for the lock") && err.contains("nn/.lock"), "{err}");
        assert_eq!(waits.len(), 1, "{waits:?}");
        assert!(waits[0].starts_with("waiting for the lock on") && waits[0].contains("nn/.lock"), "{waits:?}");
        drop(held);
        let meta = std::fs::read_to_string(dir.path().join("nn").join(META_FILE)).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&meta).unwrap()["training"]["history"].as_array().unwrap().len(),
            5
        );
    }

    #[test]
    fn train_run_refuses_inconsistent_requests() {
        let dir = tempfile::tempdir().unwrap();
        catalogue(&dir.path().join("train.csv"), 20, 1);
        catalogue(&dir.path().join("val.csv"), 10, 2);
        let fails = |request: TrainRequest| train_run(&request, Callbacks::default()).unwrap_err().to_string();
        let augment = TrainConfig { augment: true, ..request(dir.path(), 1).config };
        assert!(fails(TrainRequest { config: augment, ..request(dir.path(), 1) })
            .contains("--augment turns training images"));
        assert!(
            fails(TrainRequest { resume: true, ..request(dir.path(), 1) }).contains("holds no checkpoint to resume")
        );
        assert!(
            fails(TrainRequest { scale_mags: true, ..request(dir.path(), 1) }).contains("--scale-mags is for the CNN")
        );
        let cnn = fails(TrainRequest { model: ModelKind::Cnn, ..request(dir.path(), 1) });
        assert!(cnn.contains("the CNN needs images, and this is a catalogue"), "{cnn}");
        assert!(!dir.path().join("nn").exists(), "no checkpoint directory made by a failure");
    }
}
