//! The paper's two reference photo-z models, in candle: the CNN (images + photometry) and the NN
//! (photometry only), with training, checkpoints and prediction.
//!
//! The architectures follow `docs/MODELS.md`, i.e. the authors' Keras scripts
//! (astrodatalab/galaxiesml_examples, `redshift_estimation/train_cnn.py` and `train_nn.py`).
//!
//! # Entry points
//! - [`train_run`]: `pzbench train` as a function. A [`TrainRequest`] names the model kind
//!   ([`ModelKind::default_config`] gives the command's default settings), the training and
//!   validation files, the checkpoint directory, whether to resume, the device and how the
//!   inputs are read; the [`Callbacks`] receive [`TrainEvent`]s (data read, epoch started, batch
//!   done, epoch ended and saved) and may ask the run to stop once the current epoch is saved.
//!   Returns a [`TrainOutcome`] (the trained [`Model`], what each file held).
//! - [`predict_file`]: `pzbench predict` as a function. A [`PredictRequest`] names the checkpoint
//!   directory, the data file, the device and the batch size; returns [`Predictions`] (one
//!   redshift per galaxy, in file order, or for a mixture-density model one PDF and its point
//!   estimate), which [`Predictions::write_csv`] writes as `pzbench score` reads them and
//!   [`Predictions::write_qp`] as a qp HDF5 file.
//!
//! Either model ends in the paper's point head or in a mixture-density head ([`Head::Mdn`],
//! `mdn.rs`: K Gaussian components per galaxy, trained on their negative log-likelihood).
//! - [`build_ensemble`]: `pzbench ensemble` as a function: models trained with different seeds
//!   written as one directory that [`predict_file`] reads as one model (the mixture of their PDFs,
//!   `ensemble.rs`).
//! - [`resolve_model_dir`]: `reference:NAME` for one of the [`REFERENCE_MODELS`] shipped in the
//!   repository's `baselines/models/`, trained once on a GPU.
//!
//! Both read data files through [`read_data`]: GalaxiesML HDF5 files (images streamed by the I/O
//! crate's [`pzbench_io::images::Hdf5Images`]), or catalogues through the I/O crate's table
//! reader, so they accept what `pzbench score` accepts (CSV, TSV, whitespace-separated text,
//! Parquet). The library never draws on the terminal nor installs signal handlers: that is the
//! caller's, through the callbacks.
//!
//! # The pieces underneath
//! 1. build in-memory [`Dataset`]s (magnitudes, redshifts, ids, and for the CNN an
//!    [`ImageSource`] that streams image rows), usually with an [`InputSpec`] from
//!    [`read_data`]'s [`RawData`];
//! 2. [`Model::new`] with an [`Architecture`] (the NN's min-max scaler is fitted there, on the
//!    training set), then [`train`] with a [`TrainConfig`] (or [`resume`] an interrupted run);
//! 3. [`load`] a checkpoint directory and [`predict`] one redshift per row (or
//!    [`predict_mixtures`] one Gaussian mixture per row).
//!
//! Modules depend one way: `mdn` (the mixture head) ← `loss`, `calibration` (its widths fitted on
//! the validation set) ← `record` (settings and history) ← `model` ← `checkpoint` ← `train` ← `run`.
//!
//! Devices come from [`device`]: "cpu" always; "cuda" needs the `cuda` cargo feature.

mod adam;
mod bench;
mod calibration;
mod checkpoint;
mod cnn;
mod data;
mod ensemble;
#[cfg(feature = "cuda")]
pub mod gpu;
#[cfg(feature = "cuda")]
mod graph;
mod inputs;
mod layers;
mod loss;
mod mdn;
mod model;
mod nn;
mod pool;
mod record;
mod reference;
mod run;
mod scaling;
mod step;
mod train;

#[cfg(feature = "cuda")]
pub use bench::check_fast_path;
pub use bench::{train_throughput, BenchConfig, BenchResult, Check};
pub use calibration::{fit_width_scale, WidthCalibration, SCALE_RANGE};
pub use candle_core::Device;
pub use checkpoint::{load, WEIGHTS_FILE};
pub use cnn::{CnnConfig, IMAGE_SCALE};
pub use data::Dataset;
pub use ensemble::{
    build_ensemble, is_ensemble, mix, read_ensemble, EnsembleRecord, EnsembleRequest, MemberRecord, ENSEMBLE_FILE,
};
pub use inputs::{galaxiesml_bands, read_data, FilledBand, InputSpec, InputSummary, RawData, INPUTS_FILE};
pub use loss::{LossKind, TanakaTarget, TANAKA_GAMMA};
pub use mdn::{GaussianMixtures, Head, DEFAULT_COMPONENTS, MAX_COMPONENTS, SIGMA_FLOOR};
pub use model::{predict, predict_mixtures, Architecture, Model};
pub use nn::NnConfig;
pub use pzbench_io::images::{ImageSource, InMemoryImages};
pub use pzbench_metrics::pdf::PointEstimate;
pub use record::{EpochRecord, ReduceLr, TrainConfig, TrainingRecord, ValidationSplit};
pub use reference::{
    resolve_model_dir, ReferenceModel, REFERENCE_MODELS, REFERENCE_MODELS_VAR, REFERENCE_PREFIX, TRAINING_DATA_SEED,
};
pub use run::{
    predict_file, train_run, Estimates, ModelKind, PredictRequest, Predictions, TrainOutcome, TrainRequest, Validation,
    DEFAULT_NON_DETECTION, DEFAULT_PREDICT_BATCH,
};
pub use scaling::MinMaxScaler;
pub use train::{resume, train, Callbacks, OnEvent, RunOptions, RunningLoss, TrainEvent};

use pzbench_io::{Error, Result};

/// The compute device named `name`: `"cpu"`, `"cuda"` (the first GPU) or `"cuda:N"`.
///
/// Without the `cuda` cargo feature, a CUDA name is a usage error that says how to rebuild.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda_device(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(ordinal)) => cuda_device(ordinal),
            _ => Err(Error::usage(format!(
                "unknown device {other:?}: use \"cpu\", \"cuda\" or \"cuda:N\" (N = GPU number)"
            ))),
        },
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(ordinal: usize) -> Result<Device> {
    // candle appends a backtrace to the message when RUST_BACKTRACE is set: keep the first line.
    // A stream of its own (not the per-thread default stream of `Device::new_cuda`): all work
    // goes to one stream whatever thread queues it, and it can be captured (`graph.rs`).
    let device = candle_core::CudaDevice::new_with_stream(ordinal).map(Device::Cuda).map_err(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or_default();
        Error::other(format!(
            "cannot open CUDA device {ordinal}: {first}; check the driver and LD_LIBRARY_PATH (README, GPU)"
        ))
        .caused_by(e)
    })?;
    if let Device::Cuda(cuda) = &device {
        // cudarc records and waits on two CUDA events per buffer for every kernel argument, to
        // order work across streams. pzbench runs everything on the device's one stream
        // (candle's kernels, cuDNN via `gpu.rs`, copies), where stream order already suffices;
        // the events cost several microseconds per launch, and the CNN's step has hundreds.
        // SAFETY: no buffer is used on a second stream (see above).
        unsafe { cuda.disable_event_tracking() };
    }
    Ok(device)
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_ordinal: usize) -> Result<Device> {
    Err(Error::usage("this pzbench was built without CUDA; rebuild with --features cuda (see README, GPU)"))
}

/// Use candle's stock CUDA operations for the CNN (`true`) or the fast path of `gpu.rs` (`false`,
/// the default). No effect on the CPU or in a build without the `cuda` feature.
pub fn use_stock_gpu_kernels(stock: bool) {
    #[cfg(feature = "cuda")]
    gpu::set_stock_kernels(stock);
    #[cfg(not(feature = "cuda"))]
    let _ = stock;
}

/// Whether [`use_bf16`] can take effect: a build with the `cudnn` feature (the fused blocks).
pub const BF16_AVAILABLE: bool = cfg!(feature = "cudnn");

/// Train and predict on CUDA in bf16 mixed precision (`true`) or f32 (`false`, the default): bf16
/// activations, convolutions and products with f32 accumulation, f32 weights, loss and Adam. Takes
/// effect on CUDA with the fast kernels in a build with the `cudnn` feature ([`BF16_AVAILABLE`]).
pub fn use_bf16(on: bool) {
    #[cfg(feature = "cuda")]
    gpu::set_bf16(on);
    #[cfg(not(feature = "cuda"))]
    let _ = on;
}

/// Run full batches on CUDA from recorded CUDA graphs (`true`, the default) or every step
/// directly. No effect on the CPU or in a build without the `cuda` feature.
pub fn use_cuda_graphs(on: bool) {
    #[cfg(feature = "cuda")]
    gpu::set_cuda_graphs(on);
    #[cfg(not(feature = "cuda"))]
    let _ = on;
}

/// Peak memory of a run on `device`: the device memory in use (CUDA, including the context and
/// candle's memory pool) or the process' peak resident set size (CPU, Linux).
pub fn peak_memory_bytes(device: &Device) -> Option<u64> {
    #[cfg(feature = "cuda")]
    if device.is_cuda() {
        let (free, total) = candle_core::cuda_backend::cudarc::driver::result::mem_get_info().ok()?;
        return Some((total - free) as u64);
    }
    let _ = device;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Turns a candle error into a pzbench [`Error::Other`] that says what was being done.
trait CandleContext<T> {
    fn context(self, what: &str) -> Result<T>;
}

impl<T> CandleContext<T> for candle_core::Result<T> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| Error::other(format!("{what}: {e}")).caused_by(e))
    }
}

/// Synthetic data for the tests: magnitudes uniform in [18, 26], a redshift that is a smooth
/// function of them, and (optionally) random images.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Dataset, InMemoryImages};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    pub(crate) fn synthetic(n: usize, image_size: Option<usize>, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mags: Vec<f32> = (0..n * 5).map(|_| 18.0 + 8.0 * rng.random::<f32>()).collect();
        let z = mags.chunks(5).map(|m| 0.34 + 0.1 * (m[1] - 18.0) + 0.03 * (m[3] - m[0])).collect();
        let ids = (0..n as i64).map(|i| 1000 + i).collect();
        let data = Dataset::new(ids, mags, 5).unwrap().with_redshifts(z).unwrap();
        match image_size {
            None => data,
            Some(s) => {
                let pixels = (0..n * 5 * s * s).map(|_| 255.0 * rng.random::<f32>()).collect();
                data.with_images(Box::new(InMemoryImages::new((5, s, s), pixels).unwrap())).unwrap()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        assert!(matches!(device("cpu"), Ok(Device::Cpu)));
        let unknown = device("tpu").unwrap_err().to_string();
        assert!(unknown.contains("unknown device \"tpu\""), "{unknown}");
        assert!(device("cuda:x").is_err());
        #[cfg(not(feature = "cuda"))]
        {
            let msg = device("cuda").unwrap_err().to_string();
            assert_eq!(msg, "this pzbench was built without CUDA; rebuild with --features cuda (see README, GPU)");
            assert!(matches!(device("cuda:1"), Err(Error::Usage(_))));
        }
    }
}
