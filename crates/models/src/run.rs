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

use super::checkpoint::{create_dir, load, saved_architecture, META_FILE};
use super::cnn::CnnConfig;
use super::ensemble::{is_ensemble, mix, read_ensemble};
use super::inputs::{check_val_fraction, galaxiesml_bands, read_data, InputSpec, InputSummary, INPUTS_FILE};
use super::mdn::{GaussianMixtures, Head};
use super::model::{predict, predict_mixtures, Architecture, Model};
use super::nn::NnConfig;
use super::record::TrainConfig;
use super::train::{check_head, resume, train, Callbacks, RunOptions, TrainEvent};
use pzbench_io::pdf_write::MixtureTable;
use pzbench_io::table::ReadOptions;
use pzbench_io::update::{lock_folder, LockOptions, LockWait, DEFAULT_LOCK_TIMEOUT};
use pzbench_io::{Error, Result};
use pzbench_metrics::pdf::PointEstimate;

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
    /// This share of the training file's galaxies, in (0, 1), drawn with `seed` (`--val-fraction`
    /// and `--split-seed`, by default the run's seed; [`crate::RawData::split`]); the rest train.
    /// Runs that share the fraction and the seed validate on the same galaxies, as the members of
    /// an ensemble must ([`crate::build_ensemble`]).
    Fraction { fraction: f64, seed: u64 },
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
    /// What the last layer predicts: one redshift (the paper's) or a Gaussian mixture, whose
    /// loss (`config.loss`) is then [`crate::LossKind::Nll`]. A resumed run must give its
    /// checkpoint's.
    pub head: Head,
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
    /// the CPU, with `pzbench train`'s defaults: the point head, [`ModelKind::default_config`], the GalaxiesML
    /// magnitudes, [`DEFAULT_NON_DETECTION`], no colours, no magnitude scaling, catalogues read
    /// as `score` reads them, the checkpoint's lock waited for up to [`DEFAULT_LOCK_TIMEOUT`].
    pub fn new(model: ModelKind, train: PathBuf, val: PathBuf, checkpoint_dir: PathBuf) -> Self {
        TrainRequest {
            model,
            train,
            val: Validation::File(val),
            checkpoint_dir,
            resume: false,
            head: Head::Point,
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
    if let Validation::Fraction { fraction, .. } = request.val {
        check_val_fraction(fraction)?;
    }
    if let Some(problem) = request.head.problem() {
        return Err(Error::usage(problem));
    }
    request.config.validate()?;
    check_head(request.head, &request.config)?;
    if request.resume {
        let saved = saved_architecture(dir)?.head();
        if saved != request.head {
            return Err(Error::usage(format!(
                "the head differs from the interrupted run's ({} instead of {saved}); resume with the same --head and --components",
                request.head
            )));
        }
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
        Validation::Fraction { fraction, seed } => {
            let (train, val, split) = raw_train.split(*fraction, *seed, non_detection)?;
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
        Validation::Fraction { .. } => train_hash.clone(),
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
                Architecture::Cnn(CnnConfig {
                    image_size: h,
                    n_bands: bands_img,
                    n_mags: spec.n_inputs(),
                    head: request.head,
                })
            }
            (ModelKind::Cnn, None) => {
                return Err(Error::file(&request.train, "has no images; the CNN needs the `image` key"))
            }
            (ModelKind::Nn, _) => Architecture::Nn(NnConfig { n_mags: spec.n_inputs(), head: request.head }),
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
    /// A mixture-density model's point estimate of each PDF (`None`: the mode); refused for a
    /// model with the point head.
    pub point: Option<PointEstimate>,
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
            point: None,
        }
    }
}

/// A model's predictions for every galaxy of a file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The model that predicted (an ensemble's first member).
    pub architecture: Architecture,
    /// How many models predicted: 1, or an ensemble's members.
    pub members: usize,
    /// What the data file held.
    pub input: InputSummary,
    pub ids: Vec<i64>,
    /// The file's spectroscopic redshifts, when it has them.
    pub z_spec: Option<Vec<f64>>,
    /// One redshift, or one PDF and its point estimate, per galaxy.
    pub estimates: Estimates,
    /// When the data file began to be read: the time since covers reading and predicting.
    pub started: Instant,
}

/// What a model predicts for each galaxy.
#[derive(Debug, Clone, PartialEq)]
pub enum Estimates {
    /// One redshift per galaxy (the point head).
    Points(Vec<f32>),
    /// A Gaussian mixture per galaxy (the mixture head) and its `point` estimate, `z_phot`.
    Mixtures { pdfs: GaussianMixtures, point: PointEstimate, z_phot: Vec<f64> },
}

/// RAIL's name of a point estimate among a qp file's `ancil` datasets.
fn rail_point_name(point: PointEstimate) -> &'static str {
    match point {
        PointEstimate::Mode => "zmode",
        PointEstimate::Mean => "zmean",
        PointEstimate::Median => "zmedian",
    }
}

impl Predictions {
    /// Number of predictions: redshifts, or PDFs (one per galaxy, as [`Self::ids`]).
    pub fn len(&self) -> usize {
        match &self.estimates {
            Estimates::Points(z_phot) => z_phot.len(),
            Estimates::Mixtures { pdfs, .. } => pdfs.len(),
        }
    }

    /// Whether there are no predictions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A mixture-density model's PDFs as the I/O crate writes them.
    fn mixture_table<'a>(
        &'a self,
        pdfs: &'a GaussianMixtures,
        point: PointEstimate,
        z_phot: &'a [f64],
    ) -> MixtureTable<'a> {
        MixtureTable {
            ids: &self.ids,
            z_spec: self.z_spec.as_deref(),
            z_phot: Some((z_phot, rail_point_name(point))),
            k: pdfs.k,
            weights: &pdfs.weights,
            means: &pdfs.means,
            sigmas: &pdfs.sigmas,
        }
    }

    /// The predictions as `pzbench score` reads them, one row per galaxy: `object_id,z_spec,z_phot`
    /// (or `object_id,z_phot` without spectroscopic redshifts), followed for a mixture-density
    /// model by its PDFs' columns `w_0..w_{K−1},mu_0..,sigma_0..` (`docs/PDF_METRICS.md` §1.3),
    /// `z_phot` then being the PDF's point estimate.
    pub fn to_csv(&self) -> String {
        let z_phot = match &self.estimates {
            Estimates::Points(z_phot) => z_phot,
            Estimates::Mixtures { pdfs, point, z_phot } => return self.mixture_table(pdfs, *point, z_phot).to_csv(),
        };
        let mut csv = String::with_capacity(self.ids.len() * 40);
        csv.push_str(if self.z_spec.is_some() { "object_id,z_spec,z_phot\n" } else { "object_id,z_phot\n" });
        for (row, (id, zp)) in self.ids.iter().zip(z_phot).enumerate() {
            // Writing into a String cannot fail.
            let _ = match &self.z_spec {
                Some(z) => writeln!(csv, "{id},{},{zp}", z[row]),
                None => writeln!(csv, "{id},{zp}"),
            };
        }
        csv
    }

    /// Writes [`Self::to_csv`] to `path`, atomically (a mixture-density model's PDFs checked
    /// first, [`MixtureTable::write_csv`]).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        match &self.estimates {
            Estimates::Points(_) => pzbench_io::write_atomic(path, self.to_csv().as_bytes()),
            Estimates::Mixtures { pdfs, point, z_phot } => self.mixture_table(pdfs, *point, z_phot).write_csv(path),
        }
    }

    /// Writes a mixture-density model's PDFs to `path` as a qp HDF5 file of the `mixmod`
    /// parameterisation, ids, spectroscopic redshifts and the point estimate (under RAIL's name,
    /// e.g. `zmode`) in `ancil`, atomically ([`MixtureTable::write_qp`]); a usage error for a
    /// model with the point head.
    pub fn write_qp(&self, path: &Path) -> Result<()> {
        match &self.estimates {
            Estimates::Points(_) => Err(Error::usage(
                "--qp writes PDFs, but this model predicts one redshift per galaxy; train it with --head mdn",
            )),
            Estimates::Mixtures { pdfs, point, z_phot } => self.mixture_table(pdfs, *point, z_phot).write_qp(path),
        }
    }
}

/// Runs `request` as `pzbench predict` does: loads the checkpoint ([`load`]) and its input
/// description (`inputs.json`), reads the data file the way the model was trained (same
/// magnitude columns, same non-detection fill; images streamed from the HDF5 file for the CNN),
/// tells `on_read` what was read, and predicts every galaxy, `batch_size` at a time. On the CPU
/// the same model and data give the same predictions, bit for bit.
///
/// An ensemble directory ([`crate::build_ensemble`]) predicts with each member in turn, each
/// reading the file its own way (`on_read` hears of the first), and combines them: the mixture
/// of the members' PDFs, its widths scaled by the ensemble's factor, or the mean of their
/// redshifts.
pub fn predict_file(request: &PredictRequest, on_read: &mut dyn FnMut(&InputSummary)) -> Result<Predictions> {
    if request.batch_size == 0 {
        return Err(Error::usage("--batch-size must be at least 1"));
    }
    let device = crate::device(&request.device)?;
    let (dirs, ensemble_scale) = if is_ensemble(&request.model_dir) {
        let record = read_ensemble(&request.model_dir)?;
        (record.member_dirs(&request.model_dir), record.width_calibration.map(|c| c.scale))
    } else {
        (vec![request.model_dir.clone()], None)
    };
    let mut started = None;
    let mut first: Option<FirstModel> = None;
    let mut outputs = Vec::with_capacity(dirs.len());
    for dir in &dirs {
        let model = load(dir, &device)?;
        let head = model.architecture().head();
        if request.point.is_some() && head.is_point() {
            return Err(Error::usage(
                "--point picks the point estimate of a mixture-density model's PDFs, but this model predicts one redshift per galaxy; drop --point",
            ));
        }
        if let Some(first) = first.as_ref().filter(|f| f.architecture.head().is_point() != head.is_point()) {
            return Err(Error::file(
                dir,
                format!(
                    "has the {head} head, the ensemble's first member the {}; rebuild the ensemble",
                    first.architecture.head()
                ),
            ));
        }
        let spec = InputSpec::load(dir)?;
        if spec.n_inputs() != model.architecture().n_mags() {
            return Err(Error::file(
                dir.join(INPUTS_FILE),
                format!(
                    "describes {} inputs but the model reads {}; the checkpoint is inconsistent, retrain",
                    spec.n_inputs(),
                    model.architecture().n_mags()
                ),
            ));
        }
        started.get_or_insert_with(Instant::now);
        let images = model.architecture().image_shape().is_some();
        let raw = read_data(&request.data, &spec.bands, images, spec.non_detection, &request.read)?;
        let read_first = first.is_none().then(|| (raw.summary(&spec), raw.z.clone()));
        if let Some((input, _)) = &read_first {
            on_read(input);
        }
        let data = spec.dataset(raw)?;
        match (read_first, &first) {
            (Some((input, z_spec)), _) => {
                first = Some(FirstModel { architecture: *model.architecture(), input, ids: data.ids().to_vec(), z_spec })
            }
            (None, Some(FirstModel { input, ids, .. })) if ids != data.ids() => {
                return Err(Error::file(
                    &request.data,
                    format!(
                        "gives the ensemble's members different galaxies ({} and {}: other magnitude columns or dropped rows); they must read the same ones",
                        input.galaxies,
                        data.len()
                    ),
                ))
            }
            (None, _) => {}
        }
        outputs.push(match head {
            Head::Point => {
                MemberOutput::Points(predict(&model, &data, request.batch_size).map_err(|e| on_file(e, &request.data))?)
            }
            Head::Mdn { .. } => MemberOutput::Mixtures(
                predict_mixtures(&model, &data, request.batch_size).map_err(|e| on_file(e, &request.data))?,
            ),
        });
    }
    let n_members = outputs.len();
    let FirstModel { architecture, input, ids, z_spec } =
        first.ok_or_else(|| Error::file(&request.model_dir, "holds no model"))?;
    let estimates = match combine(outputs)? {
        MemberOutput::Points(z_phot) => Estimates::Points(z_phot),
        MemberOutput::Mixtures(mut pdfs) => {
            if let Some(scale) = ensemble_scale {
                pdfs.scale_widths(scale);
            }
            let point = request.point.unwrap_or_default();
            let z_phot = pdfs.point_estimates(point)?;
            Estimates::Mixtures { pdfs, point, z_phot }
        }
    };
    let started = started.unwrap_or_else(Instant::now);
    Ok(Predictions { architecture, members: n_members, input, ids, z_spec, estimates, started })
}

/// The first model of a prediction (an ensemble's first member, or the model itself) and what it
/// read: the predictions' architecture, input, ids and redshifts.
struct FirstModel {
    architecture: Architecture,
    input: InputSummary,
    ids: Vec<i64>,
    z_spec: Option<Vec<f64>>,
}

/// One model's outputs: redshifts or mixtures.
enum MemberOutput {
    Points(Vec<f32>),
    Mixtures(GaussianMixtures),
}

/// The ensemble of the members' outputs (of the same galaxies and head, checked by the caller):
/// the mean redshift, in f64 then rounded to f32, or the equal-weight mixture ([`mix`]); one
/// member's outputs as they are.
fn combine(mut outputs: Vec<MemberOutput>) -> Result<MemberOutput> {
    if outputs.len() == 1 {
        return outputs.pop().ok_or_else(|| Error::other("no model predicted"));
    }
    let mut points = Vec::new();
    let mut mixtures = Vec::new();
    for output in outputs {
        match output {
            MemberOutput::Points(z) => points.push(z),
            MemberOutput::Mixtures(m) => mixtures.push(m),
        }
    }
    if !mixtures.is_empty() {
        return mix(&mixtures)
            .map(MemberOutput::Mixtures)
            .ok_or_else(|| Error::other("the members predicted different numbers of galaxies"));
    }
    let n = points.first().map_or(0, Vec::len);
    let share = 1.0 / points.len() as f64;
    let mean = (0..n).map(|i| (points.iter().map(|z| f64::from(z[i])).sum::<f64>() * share) as f32).collect();
    Ok(MemberOutput::Points(mean))
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
            head: Head::Point,
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
            point: None,
        };
        let mut read = Vec::new();
        let predictions = predict_file(&predict_request, &mut |input| read.push(input.galaxies)).unwrap();
        assert_eq!(read, [30]);
        assert_eq!((predictions.ids[0], predictions.len()), (100, 30));
        let csv = predictions.to_csv();
        assert!(csv.starts_with("object_id,z_spec,z_phot\n100,"), "{csv}");
        assert_eq!(csv.lines().count(), 31);
        let err = predict_file(&PredictRequest { batch_size: 0, ..predict_request.clone() }, &mut |_| {}).unwrap_err();
        assert_eq!(err.to_string(), "--batch-size must be at least 1");
        // A point model has no PDFs to write nor a point estimate to pick.
        let qp = dir.path().join("p.hdf5");
        let err = predictions.write_qp(&qp).unwrap_err().to_string();
        assert!(err.contains("--qp writes PDFs, but this model predicts one redshift per galaxy"), "{err}");
        assert!(!qp.exists());
        let mean = PredictRequest { point: Some(PointEstimate::Mean), ..predict_request };
        let err = predict_file(&mean, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("--point picks the point estimate of a mixture-density model's PDFs"), "{err}");

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

    /// The mixture head through `train_run` and `predict_file`: PDFs with their point estimate
    /// as z_phot (the mode unless asked otherwise), written as the score reader reads them; a
    /// resumed run must keep its head.
    #[test]
    fn mdn_train_run_predicts_pdfs_and_keeps_its_head() {
        let dir = tempfile::tempdir().unwrap();
        catalogue(&dir.path().join("train.csv"), 120, 1);
        catalogue(&dir.path().join("val.csv"), 30, 2);
        let mdn = Head::Mdn { components: 3 };
        let nll = TrainConfig { loss: crate::LossKind::Nll, ..request(dir.path(), 2).config };
        let mdn_request = TrainRequest { head: mdn, config: nll, ..request(dir.path(), 2) };
        let outcome = train_run(&mdn_request, Callbacks::default()).unwrap();
        assert_eq!(outcome.model.architecture().head(), mdn);
        let err = train_run(
            &TrainRequest { resume: true, head: Head::Point, ..request(dir.path(), 3) },
            Callbacks::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("the head differs from the interrupted run's (point instead of mdn (K = 3)); resume with the same --head"),
            "{err}"
        );
        let resumed = TrainRequest {
            resume: true,
            config: TrainConfig { epochs: 3, ..mdn_request.config.clone() },
            ..mdn_request
        };
        assert_eq!(train_run(&resumed, Callbacks::default()).unwrap().model.training().unwrap().history.len(), 3);

        let predict_request = PredictRequest::new(dir.path().join("nn"), dir.path().join("val.csv"));
        let predictions = predict_file(&predict_request, &mut |_| {}).unwrap();
        let Estimates::Mixtures { pdfs, point, z_phot } = &predictions.estimates else { panic!("no PDFs") };
        assert_eq!((pdfs.k, pdfs.len(), *point), (3, 30, PointEstimate::Mode));
        assert_eq!(z_phot, &pdfs.point_estimates(PointEstimate::Mode).unwrap());
        let csv = predictions.to_csv();
        assert!(
            csv.starts_with("object_id,z_spec,z_phot,w_0,w_1,w_2,mu_0,mu_1,mu_2,sigma_0,sigma_1,sigma_2\n100,"),
            "{csv}"
        );
        let mean = predict_file(&PredictRequest { point: Some(PointEstimate::Mean), ..predict_request }, &mut |_| {});
        let Estimates::Mixtures { pdfs, z_phot, .. } = mean.unwrap().estimates else { panic!("no PDFs") };
        assert!((0..30).all(|i| (z_phot[i] - pdfs.mean(i)).abs() < 1e-12), "--point mean gives the mixture means");
        let (csv_path, qp_path) = (dir.path().join("p.csv"), dir.path().join("p.hdf5"));
        predictions.write_csv(&csv_path).unwrap();
        predictions.write_qp(&qp_path).unwrap();
        for path in [&csv_path, &qp_path] {
            let file = pzbench_io::pdf::read_pdf_file(path, &Default::default()).unwrap();
            assert_eq!(file.ids.as_deref(), Some(&predictions.ids[..]));
            assert_eq!(Some(&file.z_spec), predictions.z_spec.as_ref());
        }
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
        let mdn = fails(TrainRequest { head: Head::Mdn { components: 2 }, ..request(dir.path(), 1) });
        assert!(mdn.contains("use --loss nll (the default with --head mdn)"), "{mdn}");
        let cnn = fails(TrainRequest { model: ModelKind::Cnn, ..request(dir.path(), 1) });
        assert!(cnn.contains("the CNN needs images, and this is a catalogue"), "{cnn}");
        assert!(!dir.path().join("nn").exists(), "no checkpoint directory made by a failure");
    }
}
