//! `pzbench bench`: training and inference throughput of the paper's CNN on a device, and the
//! device checks of the CUDA fast path.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use pzbench_io::{Error, Result};
use pzbench_models::{self, BenchConfig};

/// Which CUDA implementation runs the CNN's convolutions and pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GpuKernels {
    /// cuDNN convolutions (forward and both backward passes; builds with --features cudnn) and
    /// pzbench's pooling kernels.
    Fast,
    /// candle's stock operations: im2col convolutions through cuBLAS, tensor-op pooling.
    Stock,
}

impl GpuKernels {
    /// Make this the implementation used from now on (no effect on the CPU).
    pub fn select(self) {
        pzbench_models::use_stock_gpu_kernels(self == GpuKernels::Stock);
    }
}

/// `--no-cuda-graphs`, declared once for every command that runs the models' steps.
#[derive(Debug, Clone, Args)]
pub struct CudaGraphArgs {
    /// Run every CUDA step directly instead of recording the training and inference steps of
    /// full batches as CUDA graphs and replaying them (the default with the fast kernels; results
    /// agree within the GPU's run-to-run rounding).
    #[arg(long)]
    pub no_cuda_graphs: bool,
}

impl CudaGraphArgs {
    /// Make this the setting used from now on (no effect on the CPU).
    pub fn select(&self) {
        pzbench_models::use_cuda_graphs(!self.no_cuda_graphs);
    }
}

/// The arithmetic of the models' steps on CUDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    /// f32 throughout (cuDNN's convolutions may use TF32 tensor cores, as in PyTorch).
    F32,
    /// bf16 mixed precision, as PyTorch's bf16 autocast: bf16 activations, convolutions and
    /// products (f32 accumulation), f32 weights, loss and Adam. CUDA with the fast kernels only.
    Bf16,
}

impl Precision {
    /// Make this the precision used from now on on `device` (a device name) with `kernels`; bf16
    /// is refused where it would not apply.
    pub fn select(self, device: &str, kernels: GpuKernels) -> Result<()> {
        if self == Precision::Bf16 {
            if !device.starts_with("cuda") {
                return Err(Error::usage("--precision bf16 is a CUDA option: use it with --device cuda"));
            }
            if !pzbench_models::BF16_AVAILABLE {
                return Err(Error::usage(
                    "--precision bf16 needs a build with --features cudnn (README, GPU); this one has none",
                ));
            }
            if kernels == GpuKernels::Stock {
                return Err(Error::usage("--precision bf16 runs on the fast kernels: drop --gpu-kernels stock"));
            }
        }
        pzbench_models::use_bf16(self == Precision::Bf16);
        Ok(())
    }
}

/// Measure the paper's CNN: training and inference galaxies per second on a device.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    Train(BenchTrainArgs),
    Check(BenchCheckArgs),
}

/// Time training steps (forward, Tanaka loss, backward, Adam) and forward passes of the CNN on
/// random inputs already on the device, like `benches/torch_cnn.py` does for PyTorch. The steps
/// are those `pzbench train` and `predict` run: on CUDA with the fast kernels, full batches are
/// replayed from recorded CUDA graphs.
///
/// Prints milliseconds per step, galaxies/s for training and inference, and the peak memory:
/// device memory in use (CUDA) or the process' peak resident memory (CPU).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench bench train --device cuda\n  pzbench bench train --device cuda --size 64 --no-cuda-graphs\n  pzbench bench train --device cuda --size 64 --gpu-kernels stock\n  pzbench bench train --device cpu --size 64 --batch-size 16 --steps 2 --warmup 1"
)]
pub struct BenchTrainArgs {
    /// Compute device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cuda")]
    pub device: String,
    /// Image side in pixels (the paper's CNN reads 127; GalaxiesML also ships 64).
    #[arg(long, default_value_t = 127)]
    pub size: usize,
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// CUDA implementation of the convolutions and pooling.
    #[arg(long, value_enum, default_value_t = GpuKernels::Fast)]
    pub gpu_kernels: GpuKernels,
    #[command(flatten)]
    pub graphs: CudaGraphArgs,
    /// Arithmetic on CUDA: f32, or bf16 mixed precision (as `pzbench train --precision`).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Check the CUDA fast path against the CPU on random inputs: values and gradients of the pooling
/// kernels and of the cuDNN convolutions with the fused bias + activation, and three steps of the
/// fused Adam. Exits 1 if any differs beyond its tolerance.
///
/// The check runs in strict f32 (it sets NVIDIA_TF32_OVERRIDE=0 for itself), where the
/// convolutions agree with the CPU to ~1e-6. With --tf32 cuDNN may use TF32 tensor cores as in
/// training: values then differ by ~1e-3, and ReLU gradients by more where a value near zero
/// changes sign, so pass a looser --conv-tolerance.
#[derive(Debug, Args)]
pub struct BenchCheckArgs {
    /// CUDA device: cuda or cuda:N.
    #[arg(long, default_value = "cuda")]
    pub device: String,
    /// Largest relative difference allowed for the convolutions. Pooling must match exactly.
    #[arg(long, default_value_t = 1e-5)]
    pub conv_tolerance: f64,
    /// Let cuDNN use TF32 tensor cores (its default math) instead of strict f32.
    #[arg(long)]
    pub tf32: bool,
}

/// Run `pzbench bench`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    match args.command {
        BenchCommand::Train(args) => run_train(args),
        BenchCommand::Check(args) => run_check(args),
    }
}

fn run_train(args: BenchTrainArgs) -> Result<ExitCode> {
    if args.batch_size == 0 || args.steps == 0 {
        return Err(Error::usage("--batch-size and --steps must be at least 1"));
    }
    args.precision.select(&args.device, args.gpu_kernels)?;
    let device = pzbench_models::device(&args.device)?;
    args.gpu_kernels.select();
    args.graphs.select();
    let cfg = BenchConfig {
        image_size: args.size,
        batch_size: args.batch_size,
        warmup: args.warmup,
        steps: args.steps,
        lr: 1e-4,
        seed: 0,
    };
    let result = pzbench_models::train_throughput(&cfg, &device)?;
    let memory = pzbench_models::peak_memory_bytes(&device);
    let kernels = match (device.is_cuda(), args.gpu_kernels, args.graphs.no_cuda_graphs) {
        (false, _, _) => "cpu",
        (true, GpuKernels::Fast, false) => "fast, CUDA graphs",
        (true, GpuKernels::Fast, true) => "fast",
        (true, GpuKernels::Stock, _) => "stock",
    };
    let precision = match args.precision {
        Precision::F32 => "f32",
        Precision::Bf16 => "bf16",
    };
    if args.json {
        let value = serde_json::json!({
            "model": "cnn", "image_size": args.size, "batch_size": args.batch_size, "device": args.device,
            "kernels": kernels, "precision": precision, "steps": args.steps, "warmup": args.warmup, "result": result,
            "peak_memory_bytes": memory, "pzbench_version": pzbench_io::VERSION,
        });
        super::print(&format!("{value}\n"))?;
    } else {
        super::print(&format!(
            "pzbench bench train: CNN 5x{s}x{s} ({} parameters), batch {}, {} ({kernels} kernels, {precision}): {:.1} ms/step \
             ({:.1} ms queueing on the host), {:.0} galaxies/s training, {:.0} galaxies/s inference, peak memory {}, final loss {:.4}\n",
            result.parameters,
            args.batch_size,
            args.device,
            result.train_ms_per_step,
            result.host_ms_per_step,
            result.train_galaxies_per_s,
            result.infer_galaxies_per_s,
            memory.map_or("unknown".to_string(), |b| format!("{:.2} GB", b as f64 / 1e9)),
            result.final_loss,
            s = args.size,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "cuda")]
fn run_check(args: BenchCheckArgs) -> Result<ExitCode> {
    if !args.tf32 {
        // Read by cuBLAS and cuDNN when they start, which is after this.
        std::env::set_var("NVIDIA_TF32_OVERRIDE", "0");
    }
    let device = pzbench_models::device(&args.device)?;
    if !device.is_cuda() {
        return Err(Error::usage("pzbench bench check compares a CUDA device with the CPU: use --device cuda"));
    }
    GpuKernels::Fast.select();
    let checks = pzbench_models::check_fast_path(&device, args.conv_tolerance)?;
    let mut failed = 0;
    for check in &checks {
        let verdict = if check.passed() { "ok" } else { "FAILED" };
        failed += usize::from(!check.passed());
        super::print(&format!(
            "{verdict:>6}  {}: {} {:.3e} (tolerance {:.0e})\n",
            check.what, check.measure, check.difference, check.tolerance
        ))?;
    }
    super::print(&format!("pzbench bench check: {} of {} checks passed\n", checks.len() - failed, checks.len()))?;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(not(feature = "cuda"))]
fn run_check(_: BenchCheckArgs) -> Result<ExitCode> {
    Err(Error::usage("this pzbench was built without CUDA; rebuild with --features cuda (see README, GPU)"))
}
