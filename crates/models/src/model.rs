//! A model ready to train or predict: architecture, weights, input scaling, device and the record
//! of how it was trained.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::cnn::{Cnn, CnnConfig};
use super::data::{Dataset, Preprocess};
use super::layers::{glorot_init, parameter_count};
use super::mdn::{GaussianMixtures, Head};
use super::nn::{Nn, NnConfig};
use super::record::TrainingRecord;
use super::scaling::MinMaxScaler;
use super::step::InferenceSteps;
use super::CandleContext;
use pzbench_io::{Error, Result};

/// Which of the paper's two models, with its input shape. Serialised as
/// `{"kind": "cnn", "image_size": 127, "n_bands": 5, "n_mags": 5}` or `{"kind": "nn", "n_mags": 5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Architecture {
    /// Images + photometry (train_cnn.py).
    Cnn(CnnConfig),
    /// Photometry only (train_nn.py).
    Nn(NnConfig),
}

impl Architecture {
    /// Magnitudes per galaxy the model reads.
    pub fn n_mags(&self) -> usize {
        match self {
            Architecture::Cnn(c) => c.n_mags,
            Architecture::Nn(c) => c.n_mags,
        }
    }

    /// `(bands, height, width)` of the images the model reads, or `None` for the NN.
    pub fn image_shape(&self) -> Option<(usize, usize, usize)> {
        match self {
            Architecture::Cnn(c) => Some((c.n_bands, c.image_size, c.image_size)),
            Architecture::Nn(_) => None,
        }
    }

    /// Trainable scalars of the model, counted without building it; `None` if the count
    /// overflows ([`CnnConfig::parameter_count`], [`NnConfig::parameter_count`]).
    pub fn parameter_count(&self) -> Option<usize> {
        match self {
            Architecture::Cnn(c) => c.parameter_count(),
            Architecture::Nn(c) => c.parameter_count(),
        }
    }

    /// What the last layer predicts: one redshift, or a Gaussian mixture.
    pub fn head(&self) -> Head {
        match self {
            Architecture::Cnn(c) => c.head,
            Architecture::Nn(c) => c.head,
        }
    }

    /// "CNN" or "NN".
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Cnn(_) => "CNN",
            Architecture::Nn(_) => "NN",
        }
    }
}

#[derive(Debug, Clone)]
enum Net {
    Cnn(Cnn),
    Nn(Nn),
}

/// One of the reference models with its weights (f32) on a device.
pub struct Model {
    arch: Architecture,
    net: Net,
    varmap: VarMap,
    scaler: Option<MinMaxScaler>,
    device: Device,
    seed: u64,
    pub(crate) training: Option<TrainingRecord>,
    pub(crate) data_hashes: BTreeMap<String, String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("architecture", &self.arch)
            .field("parameters", &self.num_parameters())
            .field("device", &self.device)
            .field("trained_epochs", &self.training.as_ref().map(|t| t.history.len()))
            .finish()
    }
}

impl Model {
    /// A fresh, untrained model: weights initialised as Keras does (Glorot-uniform kernels, zero
    /// biases) from a ChaCha8 stream seeded with `seed`, identical on every machine. For the NN,
    /// the per-band min-max scaler is fitted here on `train`'s magnitudes (train_nn.py fits it on
    /// the training set); for the CNN, `train` is only checked against the architecture.
    pub fn new(arch: Architecture, train: &Dataset, seed: u64, device: &Device) -> Result<Model> {
        let scaler = match arch {
            Architecture::Nn(cfg) => {
                check_mags(cfg.n_mags, train)?;
                Some(MinMaxScaler::fit(train.mags(), cfg.n_mags)?)
            }
            Architecture::Cnn(_) => None,
        };
        let model = Model::build(arch, scaler, seed, device)?;
        model.check_data(train)?;
        model.init_weights(seed)?;
        Ok(model)
    }

    /// The model with all-zero weights (to be initialised or loaded).
    pub(crate) fn build(arch: Architecture, scaler: Option<MinMaxScaler>, seed: u64, device: &Device) -> Result<Model> {
        if let Architecture::Cnn(cfg) = &arch {
            if let Some(problem) = cfg.problem() {
                return Err(Error::usage(problem));
            }
        }
        if let Some(problem) = arch.head().problem() {
            return Err(Error::usage(problem));
        }
        if let (Architecture::Nn(cfg), Some(s)) = (&arch, &scaler) {
            if s.n_bands() != cfg.n_mags || s.max.len() != cfg.n_mags {
                return Err(Error::other(format!(
                    "the magnitude scaler has {} bands but the NN reads {} magnitudes",
                    s.n_bands(),
                    cfg.n_mags
                )));
            }
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let net = match &arch {
            Architecture::Cnn(cfg) => Net::Cnn(Cnn::new(cfg, vb).context("building the CNN")?),
            Architecture::Nn(cfg) => Net::Nn(Nn::new(cfg, vb).context("building the NN")?),
        };
        Ok(Model {
            arch,
            net,
            varmap,
            scaler,
            device: device.clone(),
            seed,
            training: None,
            data_hashes: BTreeMap::new(),
        })
    }

    /// The architecture and input shape.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// Number of trainable scalars (7,151,073 for the CNN at 127×127).
    pub fn num_parameters(&self) -> usize {
        parameter_count(&self.varmap)
    }

    /// The NN's magnitude scaler (`None` for the CNN, which reads raw magnitudes).
    pub fn scaler(&self) -> Option<&MinMaxScaler> {
        self.scaler.as_ref()
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The seed the weights were initialised from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How the model was trained (configuration, per-epoch history, best epoch), if it was.
    pub fn training(&self) -> Option<&TrainingRecord> {
        self.training.as_ref()
    }

    /// Hashes of the data files the model was trained on, as the caller passed them to training.
    pub fn data_hashes(&self) -> &BTreeMap<String, String> {
        &self.data_hashes
    }

    /// Checks that `data` has the magnitudes and images this model reads.
    pub(crate) fn check_data(&self, data: &Dataset) -> Result<()> {
        check_mags(self.arch.n_mags(), data)?;
        if let Some(expected) = self.arch.image_shape() {
            match data.image_shape() {
                None => {
                    return Err(Error::usage(
                        "the CNN needs images, but the data has none (give the HDF5 file with the `image` key)",
                    ))
                }
                Some(found) if found != expected => {
                    return Err(Error::usage(format!(
                        "the model expects {}x{}x{} images (its configuration), but the data has {}x{}x{} images",
                        expected.0, expected.1, expected.2, found.0, found.1, found.2
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// How the model's inputs are prepared on the host.
    pub(crate) fn preprocess(&self) -> Preprocess {
        Preprocess { scaler: self.scaler.clone(), images: self.arch.image_shape().is_some(), augment: None }
    }

    /// The outputs, `(n, 1)` redshifts or `(n, 3K)` mixture parameters, for inputs already on the
    /// device (images for the CNN).
    /// With `--precision bf16` on CUDA the inputs are cast to bf16 and the outputs back to f32
    /// (the layers cast their f32 weights, `layers.rs`).
    pub(crate) fn forward_tensors(&self, images: Option<&Tensor>, mags: &Tensor) -> candle_core::Result<Tensor> {
        #[cfg(feature = "cuda")]
        let dtype = super::gpu::activation_dtype(&self.device);
        #[cfg(not(feature = "cuda"))]
        let dtype = DType::F32;
        let mags = mags.to_dtype(dtype)?;
        let out = match (&self.net, images) {
            (Net::Cnn(cnn), Some(images)) => cnn.forward(&images.to_dtype(dtype)?, &mags)?,
            (Net::Nn(nn), _) => nn.forward(&mags)?,
            (Net::Cnn(_), None) => candle_core::bail!("the CNN was given a batch without images"),
        };
        out.to_dtype(DType::F32)
    }

    /// Initialise the weights as Keras does, from a ChaCha8 stream seeded with `seed`.
    pub(crate) fn init_weights(&self, seed: u64) -> Result<()> {
        glorot_init(&self.varmap, seed).context("initialising the weights")
    }

    /// The variables, sorted by name.
    pub(crate) fn named_vars(&self) -> Result<Vec<(String, Var)>> {
        let data = self.varmap.data().lock().map_err(|_| Error::other("the model's variables are poisoned"))?;
        let mut vars: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(vars)
    }

    /// A copy of the current weights, by variable name.
    pub(crate) fn weights(&self) -> Result<HashMap<String, Tensor>> {
        self.named_vars()?
            .into_iter()
            .map(|(name, var)| Ok((name, var.as_tensor().copy().context("copying the weights")?)))
            .collect()
    }

    /// Replaces every weight with the tensor of the same name in `weights`, which must hold
    /// exactly the model's variables with their shapes. The error names the first mismatch.
    pub(crate) fn set_weights(&self, weights: &HashMap<String, Tensor>) -> std::result::Result<(), WeightsError> {
        let vars = self.named_vars()?;
        for (name, var) in &vars {
            let t = weights.get(name).ok_or_else(|| WeightsError::Missing(name.clone()))?;
            if t.shape() != var.shape() {
                return Err(WeightsError::Shape {
                    name: name.clone(),
                    found: t.dims().to_vec(),
                    model: self.arch.name(),
                    needed: var.dims().to_vec(),
                    hint: match self.arch {
                        Architecture::Cnn(c) if name.starts_with("dense1") => format!(
                            " for {0}x{0} images: the weights were trained for another image size",
                            c.image_size
                        ),
                        _ => String::new(),
                    },
                });
            }
            let t = t.to_dtype(DType::F32).and_then(|t| t.to_device(&self.device)).map_err(WeightsError::Convert)?;
            var.set(&t).map_err(|source| WeightsError::Set { name: name.clone(), source })?;
        }
        if let Some(extra) = weights.keys().find(|k| !vars.iter().any(|(name, _)| name == *k)) {
            return Err(WeightsError::Unexpected { name: extra.clone(), model: self.arch.name() });
        }
        Ok(())
    }
}

/// Why a set of weights cannot replace a model's ([`Model::set_weights`]); the message names the
/// first tensor at fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WeightsError {
    /// The model's variables could not be listed.
    #[error(transparent)]
    Variables(#[from] Error),
    /// The model has a variable that the weights lack.
    #[error("tensor {0} is missing")]
    Missing(String),
    /// A tensor's shape is not its variable's.
    #[error("tensor {name} has shape {found:?} but this {model} needs {needed:?}{hint}")]
    Shape { name: String, found: Vec<usize>, model: &'static str, needed: Vec<usize>, hint: String },
    /// A tensor the model has no variable for.
    #[error("unexpected tensor {name} (not part of this {model})")]
    Unexpected { name: String, model: &'static str },
    /// A tensor could not be converted to f32 on the model's device.
    #[error(transparent)]
    Convert(candle_core::Error),
    /// A variable could not be set.
    #[error("cannot set {name}: {source}")]
    Set { name: String, source: candle_core::Error },
}

fn check_mags(n_mags: usize, data: &Dataset) -> Result<()> {
    if data.n_mags() != n_mags {
        return Err(Error::usage(format!(
            "the model reads {n_mags} magnitudes per galaxy, but the data has {}",
            data.n_mags()
        )));
    }
    Ok(())
}

/// The model's outputs for every row of `data`, in row order, row-major, computed `batch_size`
/// rows at a time (the CNN's images are streamed from the dataset's [`super::ImageSource`]): one
/// redshift per row for the point head, the 3K raw mixture parameters per row for the mixture
/// head ([`predict_mixtures`] turns them into mixtures).
pub fn predict(model: &Model, data: &Dataset, batch_size: usize) -> Result<Vec<f32>> {
    if batch_size == 0 {
        return Err(Error::usage("the batch size must be at least 1"));
    }
    InferenceSteps::new(model, batch_size.min(data.len()).max(1))?.predict_all(data)
}

/// The mixture-density model's Gaussian mixture for every row of `data`, in row order
/// ([`predict`], then [`GaussianMixtures`]'s transform of the outputs, with the widths scaled by
/// the training record's [`crate::WidthCalibration`] when it has one); a usage error for a model
/// with the point head.
pub fn predict_mixtures(model: &Model, data: &Dataset, batch_size: usize) -> Result<GaussianMixtures> {
    let Head::Mdn { components } = model.architecture().head() else {
        return Err(Error::usage(
            "this model predicts one redshift per galaxy, not PDFs; train it with --head mdn to predict PDFs",
        ));
    };
    let mut mixtures = GaussianMixtures::from_outputs(&predict(model, data, batch_size)?, components);
    if let Some(calibration) = model.training.as_ref().and_then(|t| t.width_calibration) {
        mixtures.scale_widths(calibration.scale);
    }
    Ok(mixtures)
}
