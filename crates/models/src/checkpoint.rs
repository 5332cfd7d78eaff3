//! Checkpoints: a directory holding
//! - `model.safetensors`: the weights to predict with (the best epoch's, during and after training);
//! - `model.json`: architecture, magnitude scaler, seed, training record (configuration, loss,
//!   per-epoch history, best epoch), the caller's data-file hashes, the pzbench version, and the
//!   SHA-256 of every weight file, checked on load;
//! - while a run can still be resumed: `last.safetensors` (the latest weights) and
//!   `optimizer.safetensors` (Adam's moments; the step count is in `model.json`).
//!
//! Writing is a small transaction whose commit point is `model.json`: each new weight file is
//! first written (to a temporary name, flushed to disk) as `.NAME.pending`; then `model.json`,
//! which lists every weight file's SHA-256, is replaced atomically; then the pending files are
//! moved to their names. A reader takes each weight file whose checksum `model.json` lists: the
//! file itself, or its pending copy when a run stopped between the two last steps. So a crash
//! (or SIGKILL) at any moment leaves the previous epoch's checkpoint or the new one, never a
//! mixture; resuming moves pending copies into place first. The best weights are rewritten only
//! when a better epoch comes, and a run that its caller asks to stop (`pzbench train` does on
//! SIGINT/SIGTERM) stops only after the epoch's files are written. Checksums that match neither
//! copy (a file edited or damaged) are reported by [`load`] instead of loading a mixture.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::adam::Adam;
use super::model::{Architecture, Model, WeightsError};
use super::record::TrainingRecord;
use super::scaling::MinMaxScaler;
use pzbench_io::{persist_temp, temp_path_for, write_atomic};
use pzbench_io::{Error, Result};

/// The weights used for prediction.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The metadata.
pub(crate) const META_FILE: &str = "model.json";
/// The latest weights of an unfinished run.
pub(crate) const LAST_FILE: &str = "last.safetensors";
/// Adam's moments of an unfinished run.
pub(crate) const OPTIMIZER_FILE: &str = "optimizer.safetensors";

const FORMAT: &str = "pzbench-model";
/// The newest checkpoint format, which this pzbench reads along with every older one: 2 added
/// the mixture-density head (`architecture.head`).
const FORMAT_VERSION: u32 = 2;
/// The format of checkpoints with the point head, unchanged since format 1, so that the pzbench
/// versions before the mixture head read them; a mixture head's checkpoint is format 2, which
/// those versions refuse with "upgrade" instead of failing on the head's weights.
const POINT_FORMAT_VERSION: u32 = 1;

/// The contents of `model.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: String,
    format_version: u32,
    pzbench_version: String,
    architecture: Architecture,
    parameters: usize,
    seed: u64,
    /// The NN's min-max scaler (train_nn.py); `null` for the CNN.
    scaler: Option<MinMaxScaler>,
    /// What the CNN divides its images by (`docs/GALAXIESML.md`, "How the authors' models read
    /// them"); `null` for the NN.
    image_scale: Option<f32>,
    training: Option<TrainingRecord>,
    /// Data-file hashes as given by the caller when training.
    data: BTreeMap<String, String>,
    /// File name → "sha256:HEX" of each weight file.
    files: BTreeMap<String, String>,
    /// Adam's step count, while the run can be resumed.
    adam_steps: Option<u64>,
}

impl Model {
    /// Writes the model (its current weights and metadata, no resume state) into `dir`, created
    /// if needed; [`load`] reads it back.
    pub fn save(&self, dir: &Path) -> Result<()> {
        create_dir(dir)?;
        let mut files = BTreeMap::new();
        files.insert(WEIGHTS_FILE.to_string(), stage_tensors(dir, WEIGHTS_FILE, &self.weights()?)?);
        write_meta(dir, self, self.training.clone(), files, None)?;
        install(dir, &[WEIGHTS_FILE])
    }
}

/// The best weights for [`save_training_state`]: new ones to write, or the checksum of those
/// already in the checkpoint (left as they are).
pub(crate) enum BestWeights<'a> {
    New(&'a HashMap<String, Tensor>),
    Unchanged(String),
}

/// Writes the state of a run after an epoch: best weights (only when they changed), latest
/// weights, optimizer, record. Returns the checksum of the best weights' file.
pub(crate) fn save_training_state(
    dir: &Path,
    model: &Model,
    best: BestWeights<'_>,
    adam: &Adam,
    record: &TrainingRecord,
) -> Result<String> {
    create_dir(dir)?;
    let mut staged = Vec::with_capacity(3);
    let best_hash = match best {
        BestWeights::New(weights) => {
            staged.push(WEIGHTS_FILE);
            stage_tensors(dir, WEIGHTS_FILE, weights)?
        }
        BestWeights::Unchanged(hash) => hash,
    };
    let mut files = BTreeMap::new();
    files.insert(WEIGHTS_FILE.to_string(), best_hash.clone());
    files.insert(LAST_FILE.to_string(), stage_tensors(dir, LAST_FILE, &model.weights()?)?);
    files.insert(OPTIMIZER_FILE.to_string(), stage_tensors(dir, OPTIMIZER_FILE, &adam.state())?);
    staged.extend([LAST_FILE, OPTIMIZER_FILE]);
    write_meta(dir, model, Some(record.clone()), files, Some(adam.steps()))?;
    install(dir, &staged)?;
    Ok(best_hash)
}

/// Loads the model saved in `dir` (by [`Model::save`] or by training) onto `device`, with the
/// weights to predict with (the best epoch's). Errors name the file at fault: a missing or
/// unreadable checkpoint, corrupt metadata or weights, a checksum mismatch, or weights whose
/// shapes do not fit the configuration (e.g. trained for another image size).
pub fn load(dir: &Path, device: &Device) -> Result<Model> {
    let (meta, mut model) = read_meta(dir, device)?;
    let weights = read_tensors(dir, WEIGHTS_FILE, &meta, device)?;
    model.set_weights(&weights).map_err(|e| weights_error(dir, WEIGHTS_FILE, e))?;
    model.training = meta.training;
    model.data_hashes = meta.data;
    Ok(model)
}

/// What [`crate::resume`] needs from a checkpoint.
pub(crate) struct ResumeState {
    /// With the latest weights, the training record and the data hashes.
    pub model: Model,
    pub best: HashMap<String, Tensor>,
    pub optimizer: HashMap<String, Tensor>,
    pub adam_steps: u64,
}

/// Reads the state of the run checkpointed in `dir`, first moving into place the weight files
/// that a stopped run left pending (and removing pending files that `model.json` does not list).
/// The caller holds the checkpoint's lock ([`crate::train_run`] does).
pub(crate) fn load_for_resume(dir: &Path, device: &Device) -> Result<ResumeState> {
    let (meta, mut model) = read_meta(dir, device)?;
    let adam_steps = meta.adam_steps.ok_or_else(|| {
        Error::file(dir.join(META_FILE), "this checkpoint cannot be resumed: it holds no optimizer state")
    })?;
    let mut pending = Vec::new();
    let mut read = |name: &'static str| {
        let (tensors, from_pending) = read_tensors_checked(dir, name, &meta, device)?;
        if from_pending {
            pending.push(name);
        }
        Ok::<_, Error>(tensors)
    };
    let best = read(WEIGHTS_FILE)?;
    let last = read(LAST_FILE)?;
    let optimizer = read(OPTIMIZER_FILE)?;
    install(dir, &pending)?;
    for name in [WEIGHTS_FILE, LAST_FILE, OPTIMIZER_FILE] {
        match std::fs::remove_file(pending_path(dir, name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::file(pending_path(dir, name), format!("cannot remove: {e}")).caused_by(e))
            }
            _ => {}
        }
    }
    model.set_weights(&last).map_err(|e| weights_error(dir, LAST_FILE, e))?;
    // Checks the best weights' names and shapes too.
    model.set_weights(&best).map_err(|e| weights_error(dir, WEIGHTS_FILE, e))?;
    model.set_weights(&last).map_err(|e| weights_error(dir, LAST_FILE, e))?;
    model.training = meta.training;
    model.data_hashes = meta.data;
    Ok(ResumeState { model, best, optimizer, adam_steps })
}

/// The weight file `name` of `dir` does not fit the model.
fn weights_error(dir: &Path, name: &str, e: WeightsError) -> Error {
    Error::file(dir.join(name), e.to_string()).caused_by(e)
}

/// Creates the checkpoint directory `dir` (and its parents) if needed.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::file(dir, format!("cannot create the checkpoint directory: {e}")).caused_by(e))
}

fn write_meta(
    dir: &Path,
    model: &Model,
    training: Option<TrainingRecord>,
    files: BTreeMap<String, String>,
    adam_steps: Option<u64>,
) -> Result<()> {
    let meta = Meta {
        format: FORMAT.into(),
        format_version: if model.architecture().head().is_point() { POINT_FORMAT_VERSION } else { FORMAT_VERSION },
        pzbench_version: pzbench_io::VERSION.into(),
        architecture: *model.architecture(),
        parameters: model.num_parameters(),
        seed: model.seed(),
        scaler: model.scaler().cloned(),
        image_scale: model.architecture().image_shape().map(|_| super::cnn::IMAGE_SCALE),
        training,
        data: model.data_hashes().clone(),
        files,
        adam_steps,
    };
    let path = dir.join(META_FILE);
    let json = serde_json::to_vec_pretty(&meta)
        .map_err(|e| Error::file(&path, format!("cannot serialise: {e}")).caused_by(e))?;
    write_atomic(&path, &json)
}

/// Where the weight file `name` of `dir` waits, written, until the `model.json` that lists it is
/// in place: `.NAME.pending`.
fn pending_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.pending"))
}

/// Writes `tensors` (moved to the CPU) as safetensors into the pending copy of the weight file
/// `name` of `dir` (via a temporary file, flushed to disk); returns the file's hash.
/// [`install`] moves it into place once `model.json` lists it.
fn stage_tensors(dir: &Path, name: &str, tensors: &HashMap<String, Tensor>) -> Result<String> {
    fn fail<E: std::error::Error + Send + Sync + 'static>(path: &Path) -> impl Fn(E) -> Error + '_ {
        move |e| Error::file(path, format!("cannot write weights: {e}")).caused_by(e)
    }
    let path = &dir.join(name);
    let on_cpu = tensors
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.to_device(&Device::Cpu).map_err(fail(path))?)))
        .collect::<Result<HashMap<String, Tensor>>>()?;
    // A temporary folder of pzbench's name: the safetensors writer puts a temporary file of its
    // own beside the file it writes, which a kill could otherwise leave in the checkpoint.
    let staging = temp_path_for(path);
    let tmp = staging.join(name);
    // Only a dead process of the same pid can have left a folder of that name.
    let _ = std::fs::remove_dir_all(&staging);
    let written = std::fs::create_dir(&staging)
        .map_err(fail(path))
        .and_then(|()| candle_core::safetensors::save(&on_cpu, &tmp).map_err(fail(path)))
        .and_then(|()| std::fs::read(&tmp).map_err(fail(path)))
        .and_then(|bytes| persist_temp(&tmp, &pending_path(dir, name)).map(|()| hash(&bytes)).map_err(fail(path)));
    let _ = std::fs::remove_dir_all(&staging);
    written
}

/// Moves the pending copies of the weight files `names` of `dir` into place (after `model.json`
/// that lists them was written).
fn install(dir: &Path, names: &[&str]) -> Result<()> {
    for name in names {
        let path = dir.join(name);
        persist_temp(&pending_path(dir, name), &path)
            .map_err(|e| Error::file(&path, format!("cannot write weights: {e}")).caused_by(e))?;
    }
    Ok(())
}

/// `"sha256:HEX"` of `bytes`.
fn hash(bytes: &[u8]) -> String {
    format!("sha256:{}", pzbench_io::hex(&Sha256::digest(bytes)))
}

/// The architecture of the checkpoint in `dir` (from its `model.json`, checked as [`load`]
/// checks it, no weights read): what a resumed run must ask for.
pub(crate) fn saved_architecture(dir: &Path) -> Result<Architecture> {
    Ok(read_meta_file(dir)?.architecture)
}

/// Reads and checks `model.json` and builds the (zero-weight) model it describes.
fn read_meta(dir: &Path, device: &Device) -> Result<(Meta, Model)> {
    let meta = read_meta_file(dir)?;
    let path = dir.join(META_FILE);
    check_size(dir, &path, &meta)?;
    let model = Model::build(meta.architecture, meta.scaler.clone(), meta.seed, device)
        .map_err(|e| Error::file(&path, format!("unusable model description: {e}")).caused_by(e))?;
    Ok((meta, model))
}

/// Reads `model.json` and checks its format.
fn read_meta_file(dir: &Path) -> Result<Meta> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && !dir.is_dir() {
            Error::file(dir, "no such checkpoint directory")
        } else if e.kind() == std::io::ErrorKind::NotFound {
            Error::file(&path, "missing: this directory is not a pzbench model checkpoint")
        } else {
            Error::file(&path, format!("cannot read: {e}")).caused_by(e)
        }
    })?;
    let meta: Meta = serde_json::from_str(&text)
        .map_err(|e| Error::file(&path, format!("corrupt checkpoint metadata: {e}")).caused_by(e))?;
    if meta.format != FORMAT {
        return Err(Error::file(&path, format!("not a pzbench model (format {:?})", meta.format)));
    }
    if meta.format_version > FORMAT_VERSION {
        return Err(Error::file(
            &path,
            format!(
                "checkpoint format {} was written by a newer pzbench ({}); upgrade to read it",
                meta.format_version, meta.pzbench_version
            ),
        ));
    }
    Ok(meta)
}

/// The weights `meta`'s architecture needs must fit in the weight file (2 bytes each at least),
/// or a damaged or edited `model.json` (e.g. `"image_size": 65536`, a 439-byte file) would have
/// pzbench allocate terabytes of zeros before reading a single weight (found by pzbench-fuzz).
fn check_size(dir: &Path, path: &Path, meta: &Meta) -> Result<()> {
    let weights = dir.join(WEIGHTS_FILE);
    let size = |p: &Path| std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len());
    let Some(bytes) = size(&weights).max(size(&pending_path(dir, WEIGHTS_FILE))) else {
        return Err(Error::file(&weights, "missing: the checkpoint is incomplete"));
    };
    let arch = serde_json::to_string(&meta.architecture).unwrap_or_default();
    match meta.architecture.parameter_count() {
        Some(n) if (n as u64).saturating_mul(2) <= bytes => Ok(()),
        Some(n) => Err(Error::file(
            path,
            format!(
                "the architecture {arch} has {n} weights, more than {WEIGHTS_FILE} ({bytes} bytes) can hold; model.json was edited or is damaged: restore it, or retrain"
            ),
        )),
        None => Err(Error::file(
            path,
            format!("the architecture {arch} is too large to build; model.json was edited or is damaged: restore it, or retrain"),
        )),
    }
}

/// Reads the weight file `name` of `dir`, checking it against the hash recorded in `meta`.
fn read_tensors(dir: &Path, name: &str, meta: &Meta, device: &Device) -> Result<HashMap<String, Tensor>> {
    read_tensors_checked(dir, name, meta, device).map(|(tensors, _)| tensors)
}

/// [`read_tensors`], and whether the weights came from the file's pending copy (a run stopped
/// after writing `model.json`, before moving its weights into place).
fn read_tensors_checked(
    dir: &Path,
    name: &str,
    meta: &Meta,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, bool)> {
    let path = dir.join(name);
    let expected = meta.files.get(name).ok_or_else(|| {
        Error::file(dir.join(META_FILE), format!("corrupt checkpoint metadata: no checksum for {name}"))
    })?;
    let load = |bytes: &[u8], path: &Path| {
        candle_core::safetensors::load_buffer(bytes, device)
            .map_err(|e| Error::file(path, format!("corrupt weights: {e}")).caused_by(e))
    };
    if let Ok(bytes) = std::fs::read(&path) {
        if hash(&bytes) == *expected {
            return Ok((load(&bytes, &path)?, false));
        }
    }
    let pending = pending_path(dir, name);
    if let Ok(bytes) = std::fs::read(&pending) {
        if hash(&bytes) == *expected {
            return Ok((load(&bytes, &pending)?, true));
        }
    }
    // Read again: a writer may have just moved the pending copy into place.
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::file(&path, "missing: the checkpoint is incomplete")
        } else {
            Error::file(&path, format!("cannot read: {e}")).caused_by(e)
        }
    })?;
    if hash(&bytes) != *expected {
        return Err(Error::file(
            &path,
            "checksum differs from model.json: the file is corrupt, from another run, or was being written when the run stopped",
        ));
    }
    Ok((load(&bytes, &path)?, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::synthetic;
    use crate::{predict, train, CnnConfig, NnConfig, RunOptions, TrainConfig};

    fn cnn32(data: &crate::Dataset) -> Model {
        Model::new(Architecture::Cnn(CnnConfig::galaxiesml(32)), data, 7, &Device::Cpu).unwrap()
    }

    fn err_of(r: Result<Model>) -> String {
        r.map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn cnn_save_load_predicts_identically_in_any_batch_size() {
        let data = synthetic(11, Some(32), 1);
        let model = cnn32(&data);
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let loaded = load(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(loaded.architecture(), model.architecture());
        assert_eq!(loaded.num_parameters(), model.num_parameters());
        assert_eq!(loaded.seed(), 7);
        let expected = predict(&model, &data, 4).unwrap();
        assert_eq!(expected.len(), 11);
        assert_eq!(predict(&loaded, &data, 4).unwrap(), expected);
        // Row order and values do not depend on the batch size (up to summation order).
        for (a, b) in predict(&loaded, &data, 11).unwrap().iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(META_FILE)).unwrap()).unwrap();
        assert_eq!(meta["architecture"]["kind"], "cnn");
        assert_eq!(meta["architecture"]["image_size"], 32);
        assert_eq!(meta["image_scale"], 255.0);
        assert_eq!(meta["pzbench_version"], pzbench_io::VERSION);
    }

    #[test]
    fn trained_nn_checkpoint_round_trip() {
        let (train_set, val_set) = (synthetic(120, None, 1), synthetic(30, None, 2));
        let model = Model::new(Architecture::Nn(NnConfig::galaxiesml()), &train_set, 3, &Device::Cpu).unwrap();
        let cfg = TrainConfig { epochs: 2, batch_size: 40, progress: false, ..TrainConfig::nn_paper() };
        let dir = tempfile::tempdir().unwrap();
        let hashes = BTreeMap::from([("train".to_string(), "sha256:0123".to_string())]);
        let options = RunOptions { data_hashes: hashes.clone(), ..Default::default() };
        let trained = train(model, &train_set, &val_set, &cfg, Some(dir.path()), options).unwrap();
        let loaded = load(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(predict(&loaded, &val_set, 8).unwrap(), predict(&trained, &val_set, 8).unwrap());
        assert_eq!(loaded.scaler(), trained.scaler());
        assert!(loaded.scaler().is_some());
        assert_eq!(loaded.training(), trained.training());
        assert_eq!(loaded.data_hashes(), &hashes);
        for file in [WEIGHTS_FILE, LAST_FILE, OPTIMIZER_FILE] {
            assert!(dir.path().join(file).is_file(), "{file}");
        }
        // A model saved on its own (no optimizer state) loads but cannot be resumed.
        let plain = tempfile::tempdir().unwrap();
        trained.save(plain.path()).unwrap();
        assert_eq!(load(plain.path(), &Device::Cpu).unwrap().training(), trained.training());
        let err = crate::resume(plain.path(), &Device::Cpu, &train_set, &val_set, &cfg, RunOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be resumed"), "{err}");
    }

    /// A mixture head is recorded in the architecture and makes the checkpoint format 2 (which
    /// older pzbench versions refuse with "upgrade"); the point head's checkpoints stay format 1
    /// without a `head` key, as before the mixture head.
    #[test]
    fn the_head_is_recorded_and_sets_the_format_version() {
        let data = synthetic(20, None, 1);
        let mdn = Architecture::Nn(NnConfig { head: crate::Head::Mdn { components: 4 }, ..NnConfig::galaxiesml() });
        let root = tempfile::tempdir().unwrap();
        for (arch, version) in [(Architecture::Nn(NnConfig::galaxiesml()), 1), (mdn, 2)] {
            let dir = root.path().join(version.to_string());
            let model = Model::new(arch, &data, 3, &Device::Cpu).unwrap();
            model.save(&dir).unwrap();
            let meta: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(META_FILE)).unwrap()).unwrap();
            assert_eq!(meta["format_version"], version);
            let loaded = load(&dir, &Device::Cpu).unwrap();
            assert_eq!(loaded.architecture(), &arch);
            assert_eq!(saved_architecture(&dir).unwrap(), arch);
            assert_eq!(predict(&loaded, &data, 7).unwrap(), predict(&model, &data, 7).unwrap());
            if version == 1 {
                assert_eq!(meta["architecture"], serde_json::json!({"kind": "nn", "n_mags": 5}));
                continue;
            }
            assert_eq!(meta["architecture"]["head"], serde_json::json!({"type": "mdn", "components": 4}));
            assert_eq!(predict(&loaded, &data, 7).unwrap().len(), 20 * 12);
            // An edited head is refused with one line naming model.json.
            let text = std::fs::read_to_string(dir.join(META_FILE)).unwrap();
            std::fs::write(dir.join(META_FILE), text.replace("\"components\": 4", "\"components\": 0")).unwrap();
            let err = err_of(load(&dir, &Device::Cpu));
            assert!(
                err.contains("model.json: unusable model description: a mixture-density head needs between 1 and 256"),
                "{err}"
            );
        }
    }

    #[test]
    fn weights_left_pending_by_a_stopped_run_are_read_and_moved_into_place_on_resume() {
        let (train_set, val_set) = (synthetic(60, None, 1), synthetic(20, None, 2));
        let model = Model::new(Architecture::Nn(NnConfig::galaxiesml()), &train_set, 3, &Device::Cpu).unwrap();
        let cfg = TrainConfig { epochs: 2, batch_size: 20, progress: false, ..TrainConfig::nn_paper() };
        let dir = tempfile::tempdir().unwrap();
        train(model, &train_set, &val_set, &cfg, Some(dir.path()), RunOptions::default()).unwrap();
        let expected = predict(&load(dir.path(), &Device::Cpu).unwrap(), &val_set, 8).unwrap();
        let files = [WEIGHTS_FILE, LAST_FILE, OPTIMIZER_FILE];
        let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(dir.path().join(f)).unwrap()).collect();
        // As a kill after model.json was written leaves it: the new weights still pending, the
        // previous epoch's (here: other bytes) at the files' names.
        for name in files {
            std::fs::rename(dir.path().join(name), pending_path(dir.path(), name)).unwrap();
            std::fs::write(dir.path().join(name), b"the previous epoch's weights").unwrap();
        }
        assert_eq!(predict(&load(dir.path(), &Device::Cpu).unwrap(), &val_set, 8).unwrap(), expected);
        load_for_resume(dir.path(), &Device::Cpu).unwrap();
        for (name, bytes) in files.iter().zip(&bytes) {
            assert_eq!(&std::fs::read(dir.path().join(name)).unwrap(), bytes, "{name}");
            assert!(!pending_path(dir.path(), name).exists(), "{name}");
        }
        // A pending file that model.json does not list (a run stopped before writing model.json)
        // is ignored, and removed on resume.
        std::fs::write(pending_path(dir.path(), LAST_FILE), b"weights of an epoch never committed").unwrap();
        assert_eq!(predict(&load(dir.path(), &Device::Cpu).unwrap(), &val_set, 8).unwrap(), expected);
        load_for_resume(dir.path(), &Device::Cpu).unwrap();
        assert!(!pending_path(dir.path(), LAST_FILE).exists());
        assert_eq!(std::fs::read(dir.path().join(LAST_FILE)).unwrap(), bytes[1]);
    }

    #[test]
    fn clear_errors_for_broken_checkpoints() {
        let data = synthetic(3, Some(32), 1);
        let model = cnn32(&data);
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ckpt");
        let err = err_of(load(&dir, &Device::Cpu));
        assert!(err.contains("no such checkpoint directory"), "{err}");
        std::fs::create_dir(&dir).unwrap();
        let err = err_of(load(&dir, &Device::Cpu));
        assert!(err.contains("model.json: missing"), "{err}");

        model.save(&dir).unwrap();
        let weights = dir.join(WEIGHTS_FILE);
        let mut bytes = std::fs::read(&weights).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&weights, &bytes).unwrap();
        let err = err_of(load(&dir, &Device::Cpu));
        assert!(err.contains("model.safetensors: checksum differs"), "{err}");
        std::fs::remove_file(&weights).unwrap();
        let err = err_of(load(&dir, &Device::Cpu));
        assert!(err.contains("model.safetensors: missing"), "{err}");

        model.save(&dir).unwrap();
        let meta_path = dir.join(META_FILE);
        let meta = std::fs::read_to_string(&meta_path).unwrap();
        std::fs::write(&meta_path, &meta[..meta.len() / 2]).unwrap();
        let err = err_of(load(&dir, &Device::Cpu));
        assert!(err.contains("corrupt checkpoint metadata"), "{err}");

        // model.json saying 64 px over weights trained at 32 px.
        let edited = meta.replace("\"image_size\": 32", "\"image_size\": 64");
        assert_ne!(edited, meta);
        std::fs::write(&meta_path, edited).unwrap();
        let err = err_of(load(&dir, &Device::Cpu));
        assert!(err.contains("dense1.weight") && err.contains("trained for another image size"), "{err}");

        // Data with another image size than the checkpoint's configuration.
        std::fs::write(&meta_path, &meta).unwrap();
        let loaded = load(&dir, &Device::Cpu).unwrap();
        let err = predict(&loaded, &synthetic(2, Some(64), 1), 8).unwrap_err().to_string();
        assert!(err.contains("expects 5x32x32 images") && err.contains("has 5x64x64"), "{err}");
        let err = predict(&loaded, &synthetic(2, None, 1), 8).unwrap_err().to_string();
        assert!(err.contains("needs images"), "{err}");
    }
}
