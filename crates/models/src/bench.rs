//! Throughput of the CNN's training step and of inference, on random inputs that already sit on
//! the device (as `benches/torch_cnn.py` measures PyTorch), and the device checks of the CUDA
//! fast path against the CPU.

use std::time::Instant;

use candle_core::Device;
#[cfg(feature = "cuda")]
use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::adam::Adam;
use super::data::HostBatch;
use super::loss::{Objective, TanakaTarget};
use super::step::{InferenceSteps, TrainingSteps};
use super::{Architecture, CandleContext, CnnConfig, LossKind, Model};
use pzbench_io::Result;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Image side (the paper: 127; GalaxiesML also ships 64).
    pub image_size: usize,
    pub batch_size: usize,
    /// Untimed steps first (cuDNN plans, memory pools, kernel loading).
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    pub lr: f64,
    pub seed: u64,
}

/// Measured throughput.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub parameters: usize,
    pub train_ms_per_step: f64,
    /// Host time to queue one training step (building candle's graph and launching its kernels,
    /// or launching the recorded CUDA graph), the median over steps queued on an idle device;
    /// when it nears `train_ms_per_step` the host, not the device, limits the step.
    pub host_ms_per_step: f64,
    pub train_galaxies_per_s: f64,
    pub infer_galaxies_per_s: f64,
    /// The last training loss (a finite value shows the step did real work).
    pub final_loss: f64,
}

/// A random batch like `benches/torch_cnn.py`'s: pixels U[0,1), magnitudes 20 + 5·U[0,1),
/// redshifts 2·U[0,1).
fn random_batch(cfg: &BenchConfig) -> HostBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (b, s) = (cfg.batch_size, cfg.image_size);
    let mut uniform =
        |n: usize, lo: f32, width: f32| -> Vec<f32> { (0..n).map(|_| lo + width * rng.random::<f32>()).collect() };
    let images = uniform(b * 5 * s * s, 0.0, 1.0);
    let mags = uniform(b * 5, 20.0, 5.0);
    let z = uniform(b, 0.0, 2.0);
    HostBatch { n: b, mags, images: Some(images), z: Some(z) }
}

/// Time `cfg.steps` training steps (forward, Tanaka loss, backward, Adam) and as many forward
/// passes of the paper's CNN on `device`, on one batch uploaded before the clock starts. The
/// steps are those of `pzbench train` and `predict` (`step.rs`): on CUDA, replays of CUDA graphs
/// unless they are switched off.
pub fn train_throughput(cfg: &BenchConfig, device: &Device) -> Result<BenchResult> {
    if cfg.steps == 0 || cfg.batch_size == 0 {
        return Err(pzbench_io::Error::usage("the benchmark needs at least one step and one galaxy per batch"));
    }
    let arch = Architecture::Cnn(CnnConfig::galaxiesml(cfg.image_size));
    let model = Model::build(arch, None, cfg.seed, device)?;
    model.init_weights(cfg.seed)?;
    let mut adam = Adam::new(model.named_vars()?, cfg.lr).context("creating the optimiser")?;
    let batch = random_batch(cfg);
    let objective = Objective { loss: LossKind::Tanaka, tanaka_weight: 0.0, tanaka_target: TanakaTarget::Mean };
    let mut training = TrainingSteps::new(&model, objective, cfg.batch_size)?;
    training.load(&batch)?;
    // Like the PyTorch reference, the loop reads no value back while it runs, so the host queues
    // work ahead of the device; the loss of the last step is read at the end.
    for _ in 0..cfg.warmup {
        training.step(&mut adam)?;
    }
    device.synchronize().context("synchronising")?;
    let started = Instant::now();
    let mut last_loss = None;
    for _ in 0..cfg.steps {
        last_loss = Some(training.step(&mut adam)?);
    }
    device.synchronize().context("synchronising")?;
    let train_seconds = started.elapsed().as_secs_f64();
    let final_loss = match last_loss {
        Some(loss) => f64::from(loss.flatten_all().and_then(|l| l.to_vec1::<f32>()).context("reading the loss")?[0]),
        None => f64::NAN,
    };
    // The host's own time to queue a step, each on an idle device: in the loop above a host that
    // runs ahead waits for room in the device's queue, which would count the device's time as the
    // host's.
    let mut queue_seconds = Vec::with_capacity(cfg.steps);
    for _ in 0..cfg.steps {
        device.synchronize().context("synchronising")?;
        let queued = Instant::now();
        training.step(&mut adam)?;
        queue_seconds.push(queued.elapsed().as_secs_f64());
    }
    queue_seconds.sort_by(f64::total_cmp);
    let host_seconds = queue_seconds[queue_seconds.len() / 2];

    let mut inference = InferenceSteps::new(&model, cfg.batch_size)?;
    inference.load(&batch)?;
    for _ in 0..cfg.warmup {
        inference.predict()?;
    }
    let started = Instant::now();
    for _ in 0..cfg.steps {
        inference.predict()?;
    }
    let infer_seconds = started.elapsed().as_secs_f64();
    let galaxies = (cfg.steps * cfg.batch_size) as f64;
    Ok(BenchResult {
        parameters: model.num_parameters(),
        train_ms_per_step: 1e3 * train_seconds / cfg.steps as f64,
        host_ms_per_step: 1e3 * host_seconds,
        train_galaxies_per_s: galaxies / train_seconds,
        infer_galaxies_per_s: galaxies / infer_seconds,
        final_loss,
    })
}

/// One comparison of [`check_fast_path`] between the fast CUDA path and the CPU: in f32 the
/// largest difference relative to the largest CPU magnitude; in bf16 the root-mean-square
/// difference relative to the CPU's root mean square (rounding moves a few window maxima and ReLU
/// signs, whose gradients then differ by their whole size: the largest difference would count
/// only those).
#[derive(Debug, Clone)]
pub struct Check {
    pub what: String,
    /// `"max relative difference"` or `"relative RMS difference"`.
    pub measure: &'static str,
    pub difference: f64,
    pub tolerance: f64,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.difference <= self.tolerance
    }
}

/// Values and gradients of the pooling kernels and (with the `cudnn` feature) the cuDNN
/// convolutions on `device`, against the CPU path, on random inputs with odd sizes.
/// `conv_tolerance` allows for TF32 convolutions (relative error ~1e-3); pooling must match
/// exactly.
#[cfg(feature = "cuda")]
pub fn check_fast_path(device: &Device, conv_tolerance: f64) -> Result<Vec<Check>> {
    use super::layers::{Act, Conv3x3, Dense};
    use candle_core::{DType, Module, Var};

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut random = |dims: &[usize]| -> Result<Tensor> {
        let n = dims.iter().product();
        Tensor::from_vec((0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect::<Vec<f32>>(), dims, &Device::Cpu)
            .context("making test data")
    };
    let compare = |what: &str, cpu: &Tensor, gpu: &Tensor, tolerance: f64| -> Result<Check> {
        let gpu = gpu.to_device(&Device::Cpu).context("copying back")?;
        let diff = (cpu - &gpu).context("comparing")?;
        let largest = |t: &Tensor| t.abs().and_then(|t| t.max_all()).and_then(|t| t.to_scalar::<f32>());
        let rms = |t: &Tensor| t.sqr().and_then(|t| t.mean_all()).and_then(|t| t.to_scalar::<f32>()).map(f32::sqrt);
        let (measure, diff, scale) = if what.contains("BF16") {
            ("relative RMS difference", rms(&diff), rms(cpu))
        } else {
            ("max relative difference", largest(&diff), largest(cpu))
        };
        let (diff, scale) = (f64::from(diff.context("comparing")?), f64::from(scale.context("comparing")?));
        Ok(Check { what: what.to_string(), measure, difference: diff / scale.max(f64::MIN_POSITIVE), tolerance })
    };
    let mut checks = Vec::new();

    // Pooling: forward values and the input gradient of Σ y·r (r random), odd sizes.
    let x = random(&[3, 9, 7, 5])?;
    let r = random(&[3, 4, 3, 5])?;
    let pool = |x: &Tensor, r: &Tensor| -> Result<(Tensor, Tensor)> {
        let var = Var::from_tensor(x).context("pooling check")?;
        let y = super::pool::max_pool2x2(var.as_tensor()).context("pooling check")?;
        let grads = (&y * r).and_then(|p| p.sum_all()).and_then(|s| s.backward()).context("pooling check")?;
        let dx = grads.get(var.as_tensor()).cloned().context_missing("pooling gradient")?;
        Ok((y, dx))
    };
    let (y_cpu, dx_cpu) = pool(&x, &r)?;
    let (y_gpu, dx_gpu) = pool(&x.to_device(device).context("upload")?, &r.to_device(device).context("upload")?)?;
    checks.push(compare("max pool 2x2 forward (3x9x7x5)", &y_cpu, &y_gpu, 0.0)?);
    checks.push(compare("max pool 2x2 input gradient", &dx_cpu, &dx_gpu, 0.0)?);

    // Convolution + bias + activation (+ pool): forward values and the gradients of Σ y·r for
    // the input, kernel and bias, at odd sizes (cropped pool rows and columns), for channel
    // counts the fused bias-gradient kernel takes and one it leaves to candle.
    for (c_in, c_out, act, pooled) in
        [(5, 32, Act::Tanh, true), (32, 64, Act::Relu, false), (32, 64, Act::Relu, true), (5, 6, Act::Linear, true)]
    {
        let x = random(&[2, 11, 9, c_in])?;
        let kernel = random(&[c_out, c_in, 3, 3])?;
        let bias = random(&[c_out])?;
        let r = if pooled { random(&[2, 5, 4, c_out])? } else { random(&[2, 11, 9, c_out])? };
        let inputs = LayerInputs { x: &x, weight: &kernel, bias: &bias, r: &r };
        let conv = |dev: &Device, dtype: DType| {
            inputs.values_and_gradients(
                dev,
                dtype,
                |vb| Conv3x3::new(c_in, c_out, act, vb),
                |layer, x| layer.forward_pooled(x, pooled),
            )
        };
        let cpu = conv(&Device::Cpu, DType::F32)?;
        let path = if cfg!(feature = "cudnn") { "cuDNN" } else { "im2col" };
        for dtype in gpu_dtypes() {
            let gpu = conv(device, dtype)?;
            let names = ["forward", "input gradient", "kernel gradient", "bias gradient"];
            for ((name, c), g) in names.iter().zip(&cpu).zip(&gpu) {
                let pool = if pooled { " + pool" } else { "" };
                let what =
                    format!("conv 3x3 ({path}, {dtype:?}) + bias + {act:?}{pool} {name} (2x11x9x{c_in} -> {c_out})");
                let routed = pooled || act == Act::Relu;
                checks.push(compare(&what, c, g, tolerance(dtype, conv_tolerance, routed, name))?);
            }
        }
    }
    // Dense layer + bias + activation: forward values and the gradients of Σ y·r for the input,
    // weight and bias (widths the fused bias-gradient kernel takes, and the head's single output).
    for (n_in, n_out, act) in [(13, 32, Act::Tanh), (13, 200, Act::Relu), (29, 1, Act::Linear)] {
        let x = random(&[7, n_in])?;
        let weight = random(&[n_out, n_in])?;
        let bias = random(&[n_out])?;
        let r = random(&[7, n_out])?;
        let inputs = LayerInputs { x: &x, weight: &weight, bias: &bias, r: &r };
        let dense = |dev: &Device, dtype: DType| {
            inputs.values_and_gradients(dev, dtype, |vb| Dense::new(n_in, n_out, act, vb), |layer, x| layer.forward(x))
        };
        let cpu = dense(&Device::Cpu, DType::F32)?;
        for dtype in gpu_dtypes() {
            let gpu = dense(device, dtype)?;
            let names = ["forward", "input gradient", "weight gradient", "bias gradient"];
            for ((name, c), g) in names.iter().zip(&cpu).zip(&gpu) {
                let what = format!("dense ({dtype:?}) + bias + {act:?} {name} (7x{n_in} -> {n_out})");
                checks.push(compare(&what, c, g, tolerance(dtype, 1e-5, act == Act::Relu, name))?);
            }
        }
    }
    // Adam: three steps from the same weights on the gradients of Σ (w·r)², fused on CUDA.
    let w0 = random(&[37, 11])?;
    let r = random(&[37, 11])?;
    let adam_steps = |dev: &Device| -> Result<Tensor> {
        let var = Var::from_tensor(&w0.to_device(dev).context("upload")?).context("adam check")?;
        let r = r.to_device(dev).context("upload")?;
        let mut adam = super::adam::Adam::new(vec![("w".into(), var.clone())], 1e-2).context("adam check")?;
        for _ in 0..3 {
            let grads = (var.as_tensor() * &r)
                .and_then(|p| p.sqr())
                .and_then(|p| p.sum_all())
                .and_then(|s| s.backward())
                .context("adam check")?;
            adam.step(&grads).context("adam check")?;
        }
        Ok(var.as_tensor().clone())
    };
    let (cpu, gpu) = (adam_steps(&Device::Cpu)?, adam_steps(device)?);
    checks.push(compare("adam, 3 steps (37x11 weights)", &cpu, &gpu, 1e-6)?);
    Ok(checks)
}

/// Largest relative RMS difference allowed for a fused block in bf16 (`--precision bf16`) against
/// the CPU in f32: bf16 keeps 8 significant bits (relative rounding 2⁻⁹ ≈ 2e-3), and inputs,
/// weights, outputs and gradients are each rounded once.
#[cfg(feature = "cuda")]
const BF16_TOLERANCE: f64 = 3e-2;

/// The same for the gradients of a layer whose gradient is routed by a
/// comparison (a 2×2 window's maximum, a ReLU's sign): rounding to bf16 reorders near-ties, and
/// each reordered one sends its whole gradient elsewhere. On random inputs about 1 % of windows
/// do (relative RMS differences 0.05–0.15 measured on an H200), as in PyTorch's bf16 autocast; the
/// short bf16 training of `benches/gpu_bench.sh` checks the effect on learning.
#[cfg(feature = "cuda")]
const BF16_ROUTED_TOLERANCE: f64 = 2e-1;

/// The element types the layer checks run in on the device: f32, and bf16 with the `cudnn`
/// feature.
#[cfg(feature = "cuda")]
fn gpu_dtypes() -> Vec<candle_core::DType> {
    let mut dtypes = vec![candle_core::DType::F32];
    if cfg!(feature = "cudnn") {
        dtypes.push(candle_core::DType::BF16);
    }
    dtypes
}

/// The tolerance of check `name` (`"forward"`, `"… gradient"`) of a layer in `dtype`: `f32` in
/// f32; in bf16 [`BF16_ROUTED_TOLERANCE`] for the gradients of a `routed` layer,
/// [`BF16_TOLERANCE`] otherwise.
#[cfg(feature = "cuda")]
fn tolerance(dtype: candle_core::DType, f32: f64, routed: bool, name: &str) -> f64 {
    match dtype {
        candle_core::DType::F32 => f32,
        _ if routed && name != "forward" => BF16_ROUTED_TOLERANCE,
        _ => BF16_TOLERANCE,
    }
}

/// A layer's check: its input, the values of its `weight` and `bias` variables, and the random
/// weights `r` of the objective Σ y·r.
#[cfg(feature = "cuda")]
struct LayerInputs<'a> {
    x: &'a Tensor,
    weight: &'a Tensor,
    bias: &'a Tensor,
    r: &'a Tensor,
}

#[cfg(feature = "cuda")]
impl LayerInputs<'_> {
    /// On `dev`, the layer run on its input cast to `dtype` (its f32 weights cast as in
    /// training): the output and the gradients of Σ y·r for its input, weight and bias, in f32.
    fn values_and_gradients<L>(
        &self,
        dev: &Device,
        dtype: candle_core::DType,
        build: impl Fn(candle_nn::VarBuilder) -> candle_core::Result<L>,
        forward: impl Fn(&L, &Tensor) -> candle_core::Result<Tensor>,
    ) -> Result<Vec<Tensor>> {
        use candle_core::{DType, Var};
        let varmap = candle_nn::VarMap::new();
        let layer = build(candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, dev)).context("layer check")?;
        for (name, value) in [("weight", self.weight), ("bias", self.bias)] {
            varmap.data().lock().map_err(|_| pzbench_io::Error::other("poisoned"))?[name]
                .set(&value.to_device(dev).context("upload")?)
                .context("layer check")?;
        }
        let input = Var::from_tensor(&self.x.to_device(dev).context("upload")?).context("layer check")?;
        let y = input
            .as_tensor()
            .to_dtype(dtype)
            .and_then(|x| forward(&layer, &x))
            .and_then(|y| y.to_dtype(DType::F32))
            .context("layer check")?;
        let grads = (&y * &self.r.to_device(dev).context("upload")?)
            .and_then(|p| p.sum_all())
            .and_then(|s| s.backward())
            .context("layer check")?;
        let data = varmap.data().lock().map_err(|_| pzbench_io::Error::other("poisoned"))?;
        let grad = |t: &Tensor, what: &str| grads.get(t).cloned().context_missing(what);
        Ok(vec![
            y.clone(),
            grad(input.as_tensor(), "input gradient")?,
            grad(data["weight"].as_tensor(), "weight gradient")?,
            grad(data["bias"].as_tensor(), "bias gradient")?,
        ])
    }
}

/// `Option` → pzbench error naming what is missing.
#[cfg(feature = "cuda")]
trait MissingContext<T> {
    fn context_missing(self, what: &str) -> Result<T>;
}

#[cfg(feature = "cuda")]
impl<T> MissingContext<T> for Option<T> {
    fn context_missing(self, what: &str) -> Result<T> {
        self.ok_or_else(|| pzbench_io::Error::other(format!("no {what} was computed")))
    }
}
