//! The CUDA fast path of the CNN (built with the `cuda` feature; the convolution blocks also need
//! the `cudnn` feature):
//! - 2×2 max pooling forward and backward as two kernels (`kernels.cu`, compiled to PTX by
//!   `build.rs`) with exactly the CPU op's rules (`pool.rs`), instead of candle tensor ops;
//! - each convolution block (3×3 "same" convolution through cuDNN on channels-last tensors, bias,
//!   activation and the 2×2 pool after it) as one autograd node (`block::conv_block`);
//! - Adam's update in one in-place kernel per weight.
//!
//! cuDNN's default math applies: on Ampere and newer it may use TF32 tensor cores for f32, as
//! PyTorch's cuDNN convolutions do by default (`NVIDIA_TF32_OVERRIDE=0` turns that off).
//! [`set_stock_kernels`] switches back to candle's stock operations, for comparisons.
//! `pzbench bench check --device cuda` checks every op here against the CPU path (values and
//! gradients).

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::{CudaStorage, WrapErr};
use candle_core::{bail, CpuStorage, DType, Layout, Result, Shape, Tensor};

static STOCK: AtomicBool = AtomicBool::new(false);

/// Use candle's stock CUDA operations (im2col convolutions, tensor-op pooling) instead of the
/// fast path.
pub fn set_stock_kernels(stock: bool) {
    STOCK.store(stock, Ordering::Relaxed);
}

/// Whether the fast path is on (the default).
pub fn fast_kernels() -> bool {
    !STOCK.load(Ordering::Relaxed)
}

static BF16: AtomicBool = AtomicBool::new(false);

/// Run the fused blocks in bf16 (`--precision bf16`): activations, convolutions and products in
/// bf16 with f32 accumulation, weights kept in f32 and cast for each step, the loss and Adam in
/// f32 — as PyTorch's bf16 autocast does. Takes effect with the `cudnn` feature and the fast path.
pub fn set_bf16(on: bool) {
    BF16.store(on, Ordering::Relaxed);
}

/// The element type of the model's activations on `device`: bf16 when [`set_bf16`] is on and the
/// fused blocks run (CUDA, `cudnn` feature, fast path), f32 otherwise.
pub(crate) fn activation_dtype(device: &candle_core::Device) -> DType {
    let fused = cfg!(feature = "cudnn") && device.is_cuda() && fast_kernels();
    if fused && BF16.load(Ordering::Relaxed) {
        DType::BF16
    } else {
        DType::F32
    }
}

static NO_GRAPHS: AtomicBool = AtomicBool::new(false);

/// Run every step directly instead of replaying CUDA graphs of full batches (`graph.rs`).
pub fn set_cuda_graphs(on: bool) {
    NO_GRAPHS.store(!on, Ordering::Relaxed);
}

/// Whether full batches on `device` run from CUDA graphs: on CUDA, with the fast path (whose
/// fused Adam updates in place, as a replay needs), unless switched off.
pub(crate) fn graphs_apply(device: &candle_core::Device) -> bool {
    device.is_cuda() && fast_kernels() && !NO_GRAPHS.load(Ordering::Relaxed)
}

const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/kernels.ptx"));

/// `(b, h, w, c)` and the start offset of a contiguous channels-last input.
fn nhwc(layout: &Layout) -> Result<((usize, usize, usize, usize), usize)> {
    let dims = layout.shape().dims4()?;
    match layout.contiguous_offsets() {
        Some((start, _)) => Ok((dims, start)),
        None => bail!("max_pool2x2 (cuda) needs a contiguous input"),
    }
}

fn launch_config(n: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.div_ceil(256).clamp(1, 65_535 * 8) as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Forward 2×2 max pooling of a contiguous channels-last f32 tensor.
pub(crate) fn max_pool_forward(storage: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, Shape)> {
    let ((b, h, w, c), start) = nhwc(layout)?;
    let dev = &storage.device;
    let x = storage.as_cuda_slice::<f32>()?.slice(start..);
    let n = b * (h / 2) * (w / 2) * c;
    // SAFETY: every element is written by the kernel.
    let mut y = unsafe { dev.alloc::<f32>(n) }?;
    let func = dev.get_or_load_custom_func("max_pool2x2_nhwc_f32", "pzbench_kernels", PTX)?;
    let dims = [b as i32, h as i32, w as i32, c as i32];
    let mut args = func.builder();
    args.arg(&x).arg(&mut y).arg(&dims[0]).arg(&dims[1]).arg(&dims[2]).arg(&dims[3]);
    // SAFETY: argument types and count match the kernel's signature.
    unsafe { args.launch(launch_config(n)) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(y, dev.clone()), Shape::from((b, h / 2, w / 2, c))))
}

/// Backward 2×2 max pooling: `(input, output gradient) → input gradient`.
pub(crate) fn max_pool_backward(
    x_storage: &CudaStorage,
    x_layout: &Layout,
    grad_storage: &CudaStorage,
    grad_layout: &Layout,
) -> Result<(CudaStorage, Shape)> {
    let ((b, h, w, c), start) = nhwc(x_layout)?;
    let grad_start = match grad_layout.contiguous_offsets() {
        Some((s, _)) if grad_layout.shape().dims() == [b, h / 2, w / 2, c] => s,
        _ => bail!("max_pool2x2 backward: the gradient does not match the pooled shape"),
    };
    let dev = &x_storage.device;
    let x = x_storage.as_cuda_slice::<f32>()?.slice(start..);
    let dy = grad_storage.as_cuda_slice::<f32>()?.slice(grad_start..);
    let mut dx = dev.alloc_zeros::<f32>(b * h * w * c)?;
    let func = dev.get_or_load_custom_func("max_pool2x2_nhwc_f32_backward", "pzbench_kernels", PTX)?;
    let dims = [b as i32, h as i32, w as i32, c as i32];
    let mut args = func.builder();
    args.arg(&x).arg(&dy).arg(&mut dx).arg(&dims[0]).arg(&dims[1]).arg(&dims[2]).arg(&dims[3]);
    // SAFETY: argument types and count match the kernel's signature.
    unsafe { args.launch(launch_config(b * (h / 2) * (w / 2) * c)) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(dx, dev.clone()), x_layout.shape().clone()))
}

fn contiguous<'a, T: candle_core::cuda_backend::CudaDType>(
    storage: &'a CudaStorage,
    layout: &Layout,
    what: &str,
) -> Result<CudaView<'a, T>> {
    match layout.contiguous_offsets() {
        Some((start, _)) => Ok(storage.as_cuda_slice::<T>()?.slice(start..)),
        None => bail!("{what}: operands must be contiguous"),
    }
}

/// One Adam step on a contiguous f32 weight `w` on CUDA, in place, in ONE kernel instead of
/// candle's eleven element-wise operations and their allocations: `m ← β₁m + (1-β₁)g`,
/// `v ← β₂v + (1-β₂)g²`, `w ← w - α m / (√v + ε)` (the same expressions, in the same order, as
/// the CPU path of `adam.rs`), with the step size `α` of `clock`'s current step.
pub(crate) fn adam_step(
    w: &Tensor,
    m: &Tensor,
    v: &Tensor,
    g: &Tensor,
    clock: &AdamClock,
    betas: (f64, f64),
    epsilon: f64,
) -> Result<()> {
    let scalars = [betas.0 as f32, betas.1 as f32, epsilon as f32];
    w.inplace_op3(m, v, &AdamStep { gradient: g.contiguous()?, step_size: &clock.step_size, scalars })
}

/// Whether [`adam_step`] can update `w`: f32, contiguous, on CUDA, fast path on.
pub(crate) fn adam_applies(w: &Tensor) -> bool {
    w.device().is_cuda() && w.dtype() == DType::F32 && w.is_contiguous() && fast_kernels()
}

/// Adam's step counter and learning rate in device memory, and the step size computed from
/// them there ([`AdamClock::advance`], the `adam_advance` kernel): queued with the update, it
/// advances on every replay of a recorded training step (`graph.rs`), and the host never has to
/// write a per-step value (a copy from pageable host memory waits for the device).
pub(crate) struct AdamClock {
    /// `[steps taken, learning rate]`.
    clock: CudaSlice<f64>,
    step_size: CudaSlice<f32>,
    device: candle_core::cuda_backend::CudaDevice,
}

impl AdamClock {
    /// A clock on `device` (set it before the first step).
    pub(crate) fn new(device: &candle_core::Device) -> Result<Self> {
        let device = device.as_cuda_device()?.clone();
        let clock = device.alloc_zeros::<f64>(2)?;
        let step_size = device.alloc_zeros::<f32>(1)?;
        Ok(AdamClock { clock, step_size, device })
    }

    /// Sets the steps taken and the learning rate, in stream order. The copy waits for the
    /// device: do it when they change other than by a step (the first step, a new learning
    /// rate, a restored state). It goes through cudarc, not candle, whose copies are cached by
    /// content while a graph is being recorded.
    pub(crate) fn set(&mut self, steps: u64, lr: f64) -> Result<()> {
        self.device.cuda_stream().memcpy_htod(&[steps as f64, lr], &mut self.clock).w()
    }

    /// Queues the next step: the counter + 1 and its step size.
    pub(crate) fn advance(&mut self, betas: (f64, f64)) -> Result<()> {
        let func = self.device.get_or_load_custom_func("adam_advance", "pzbench_kernels", PTX)?;
        let mut args = func.builder();
        args.arg(&mut self.clock).arg(&mut self.step_size).arg(&betas.0).arg(&betas.1);
        // SAFETY: argument types and count match the kernel's signature.
        unsafe { args.launch(LaunchConfig::for_num_elems(1)) }.w()?;
        Ok(())
    }
}

/// The in-place Adam kernel on `(w; m, v)` with the gradient, the step size and `[β₁, β₂, ε]`.
struct AdamStep<'a> {
    gradient: Tensor,
    step_size: &'a CudaSlice<f32>,
    scalars: [f32; 3],
}

impl candle_core::InplaceOp3 for AdamStep<'_> {
    fn name(&self) -> &'static str {
        "adam-step"
    }

    fn cpu_fwd(
        &self,
        _: &mut CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<()> {
        bail!("the fused Adam runs on CUDA devices only")
    }

    fn cuda_fwd(
        &self,
        sw: &mut CudaStorage,
        lw: &Layout,
        sm: &CudaStorage,
        lm: &Layout,
        sv: &CudaStorage,
        lv: &Layout,
    ) -> Result<()> {
        use candle_core::cuda_backend::cudarc::driver::DevicePtr;
        let dev = sw.device.clone();
        let n = lw.shape().elem_count();
        let (g_storage, lg) = self.gradient.storage_and_layout();
        let candle_core::Storage::Cuda(sg) = &*g_storage else { bail!("adam: the gradient is not on the CUDA device") };
        if [lm, lv, lg].iter().any(|l| l.shape().elem_count() != n) {
            bail!("adam: weights, moments and gradient differ in size")
        }
        let (m, v, g) = (
            contiguous::<f32>(sm, lm, "adam")?,
            contiguous::<f32>(sv, lv, "adam")?,
            contiguous::<f32>(sg, lg, "adam")?,
        );
        let start = match lw.contiguous_offsets() {
            Some((start, _)) => start,
            None => bail!("adam: the weights must be contiguous"),
        };
        let mut w = sw.as_cuda_slice_mut::<f32>()?.slice_mut(start..);
        // The kernel also writes the moments, which candle lends as read-only views (an in-place
        // op has one mutable operand): they go as raw device pointers. The moments belong to
        // the optimiser alone and everything runs on one stream (event tracking is off).
        let stream = dev.cuda_stream();
        let (m_ptr, _m_sync) = m.device_ptr(&stream);
        let (v_ptr, _v_sync) = v.device_ptr(&stream);
        let func = dev.get_or_load_custom_func("adam_step_f32", "pzbench_kernels", PTX)?;
        let n_i64 = n as i64;
        let mut args = func.builder();
        let (step_size, _step_size_sync) = self.step_size.device_ptr(&stream);
        args.arg(&mut w).arg(&m_ptr).arg(&v_ptr).arg(&g).arg(&n_i64).arg(&step_size);
        for scalar in &self.scalars {
            args.arg(scalar);
        }
        // SAFETY: argument types and count match the kernel's signature; m and v hold n floats.
        unsafe { args.launch(launch_config(n)) }.w()?;
        Ok(())
    }
}

#[cfg(feature = "cudnn")]
pub(crate) use block::{applies as block_applies, conv_block, dense_block};

/// The CNN's convolution blocks, `act(conv3x3(x) + b)` then (optionally) a 2×2 max pool, as ONE
/// autograd node: the convolution runs in cuDNN on channels-last tensors (forward, backward-data,
/// backward-filter: for each pass, cuDNN's tensor, filter and convolution descriptors on NHWC
/// data with the kernel laid out `(C_out, 3, 3, C_in)`, the fastest algorithm timed once per
/// shape, and its workspace), and bias, activation and pooling in one kernel each way
/// (`kernels.cu`). One node instead of three (convolution, bias + activation, pool) means
/// candle's autograd neither keeps the activation nor zero-fills and adds a gradient buffer for
/// each intermediate: with a pool, the forward pass keeps only the convolution's output `z`, and
/// the backward pass rebuilds `act(z + b)` and its window maxima while writing the gradient.
#[cfg(feature = "cudnn")]
mod block {
    use std::cell::RefCell;
    use std::sync::{Arc, Mutex};

    use candle_core::backend::{BackendDevice, BackendStorage};
    use candle_core::cuda_backend::cudarc::cudnn::sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION;
    use candle_core::cuda_backend::cudarc::cudnn::sys::cudnnTensorFormat_t::CUDNN_TENSOR_NHWC;
    use candle_core::cuda_backend::cudarc::cudnn::sys::{
        cudnnConvolutionBwdDataAlgo_t as BwdData, cudnnConvolutionBwdFilterAlgo_t as BwdFilter,
        cudnnConvolutionFwdAlgo_t as Fwd, cudnnMathType_t,
    };
    use candle_core::cuda_backend::cudarc::cudnn::CudnnDataType;
    use candle_core::cuda_backend::cudarc::cudnn::{ConvBackwardData, ConvBackwardFilter, ConvForward, Cudnn};
    use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, DeviceRepr, LaunchConfig, PushKernelArg};
    use candle_core::cuda_backend::{CudaDType, CudaDevice, CudaStorage, WrapErr};
    use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};

    use super::{contiguous, launch_config, PTX};

    /// The element types of the fused blocks: f32, and bf16 for `--precision bf16` (each kernel
    /// computes in f32 and rounds once when it stores; cuDNN accumulates in f32).
    trait Element: CudaDType + DeviceRepr + CudnnDataType<Scalar = f32> + Copy + 'static {
        /// The suffix of this type's kernels in `kernels.cu` (its INSTANTIATE).
        const SUFFIX: &'static str;
        /// cuDNN's `(alpha, beta)` for writing a result (`y = 1·result + 0·y`).
        const WRITE: (Self, Self);
        /// cuDNN's math for convolutions on `Self`, as PyTorch sets it: the default for f32
        /// (which lets cuDNN use TF32 tensor cores), tensor-core math for bf16.
        const MATH: cudnnMathType_t;
    }

    impl Element for f32 {
        const SUFFIX: &'static str = "f32";
        const WRITE: (Self, Self) = (1.0, 0.0);
        const MATH: cudnnMathType_t = cudnnMathType_t::CUDNN_DEFAULT_MATH;
    }

    impl Element for half::bf16 {
        const SUFFIX: &'static str = "bf16";
        const WRITE: (Self, Self) = (half::bf16::ONE, half::bf16::ZERO);
        const MATH: cudnnMathType_t = cudnnMathType_t::CUDNN_TENSOR_OP_MATH;
    }

    /// `$run::<T>($args)` for the element type `T` of `$dtype`.
    macro_rules! by_element {
        ($dtype:expr, $run:ident ( $($arg:expr),* )) => {
            match $dtype {
                DType::F32 => $run::<f32>($($arg),*),
                DType::BF16 => $run::<half::bf16>($($arg),*),
                other => bail!("the fused CUDA blocks take f32 or bf16 tensors, not {other:?}"),
            }
        };
    }

    /// Loads the kernel `$name` of `kernels.cu` for the element type `$t` on `$dev`.
    macro_rules! kernel {
        ($t:ty, $dev:expr, $name:literal) => {
            $dev.get_or_load_custom_func(&format!("{}_{}", $name, <$t>::SUFFIX), "pzbench_kernels", PTX)
        };
    }

    thread_local! {
        static HANDLE: RefCell<Option<(candle_core::cuda_backend::DeviceId, Arc<Cudnn>)>> = const { RefCell::new(None) };
    }

    /// The cuDNN handle of this thread for `dev`, on candle's stream (so cuDNN's work is
    /// ordered with candle's kernels).
    fn handle(dev: &CudaDevice) -> Result<Arc<Cudnn>> {
        HANDLE.with(|cell| {
            if let Some((id, handle)) = cell.borrow().as_ref() {
                if *id == dev.id() {
                    return Ok(handle.clone());
                }
            }
            let handle = Cudnn::new(dev.cuda_stream()).map_err(cudnn_err)?;
            *cell.borrow_mut() = Some((dev.id(), handle.clone()));
            Ok(handle)
        })
    }

    fn cudnn_err<E: std::fmt::Debug>(e: E) -> candle_core::Error {
        candle_core::Error::Msg(format!("cuDNN: {e:?}"))
    }

    fn workspace(dev: &CudaDevice, bytes: usize) -> Result<Option<CudaSlice<u8>>> {
        // SAFETY: cuDNN's workspace needs no initialisation.
        Ok(if bytes == 0 { None } else { Some(unsafe { dev.alloc::<u8>(bytes) }?) })
    }

    const FWD_ALGOS: [Fwd; 8] = [
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_DIRECT,
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_FFT,
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD,
        Fwd::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED,
    ];
    const BWD_DATA_ALGOS: [BwdData; 6] = [
        BwdData::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
        BwdData::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
        BwdData::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,
        BwdData::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
        BwdData::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
        BwdData::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED,
    ];
    const BWD_FILTER_ALGOS: [BwdFilter; 7] = [
        BwdFilter::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
        BwdFilter::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
        BwdFilter::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT,
        BwdFilter::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3,
        BwdFilter::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD,
        BwdFilter::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED,
        BwdFilter::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
    ];

    /// (pass, element type, [n, h, w, c_in, c_out]) → index of the fastest algorithm measured
    /// for that shape.
    type AlgoKey = (u8, &'static str, [usize; 5]);

    thread_local! {
        static FASTEST: RefCell<std::collections::HashMap<AlgoKey, usize>> = RefCell::new(std::collections::HashMap::new());
    }

    /// Run a convolution pass with the algorithm measured fastest for its shape, as PyTorch's
    /// `cudnn.benchmark` does: the first time a shape comes, every algorithm of `candidates` runs
    /// twice and the second run is timed (those cuDNN refuses are skipped); the winner is
    /// remembered for this thread and used from then on. If none runs, cuDNN's heuristic choice
    /// (`heuristic`) is used. `run(algo)` launches the pass into its output buffer.
    fn run_fastest<A: Copy, E: std::fmt::Debug>(
        dev: &CudaDevice,
        key: AlgoKey,
        candidates: &[A],
        heuristic: impl Fn() -> std::result::Result<A, E>,
        mut run: impl FnMut(A) -> Result<()>,
    ) -> Result<()> {
        if let Some(index) = FASTEST.with(|f| f.borrow().get(&key).copied()) {
            return run(candidates[index]);
        }
        let mut best: Option<(usize, std::time::Duration)> = None;
        for (index, &algo) in candidates.iter().enumerate() {
            let mut timed = || -> Result<std::time::Duration> {
                run(algo)?;
                dev.synchronize()?;
                let started = std::time::Instant::now();
                run(algo)?;
                dev.synchronize()?;
                Ok(started.elapsed())
            };
            if let Ok(elapsed) = timed() {
                if best.is_none_or(|(_, fastest)| elapsed < fastest) {
                    best = Some((index, elapsed));
                }
            }
        }
        match best {
            Some((index, _)) => {
                FASTEST.with(|f| f.borrow_mut().insert(key, index));
                run(candidates[index])
            }
            None => run(heuristic().map_err(cudnn_err)?),
        }
    }

    /// A 3×3 "same" cross-correlation accumulating in f32, with tensor-core math for `T`.
    fn conv_descriptor<T: Element>(
        cudnn: &Arc<Cudnn>,
    ) -> Result<candle_core::cuda_backend::cudarc::cudnn::ConvDescriptor<f32>> {
        let mut conv =
            cudnn.create_conv2d::<f32>([1, 1], [1, 1], [1, 1], CUDNN_CROSS_CORRELATION).map_err(cudnn_err)?;
        conv.set_math_type(T::MATH).map_err(cudnn_err)?;
        Ok(conv)
    }

    /// The cuDNN descriptors of one 3×3 "same" convolution over `(n, h, w)` pixels, `c` input and
    /// `k` output channels, channels-last.
    struct ConvShape {
        n: usize,
        h: usize,
        w: usize,
        c: usize,
        k: usize,
    }

    impl ConvShape {
        fn key<T: Element>(&self, pass: u8) -> AlgoKey {
            (pass, T::SUFFIX, [self.n, self.h, self.w, self.c, self.k])
        }

        /// `x (n, h, w, c)`, `kernel (k, 3, 3, c)` → `z (n, h, w, k)`.
        fn forward<T: Element>(&self, dev: &CudaDevice, x: &CudaView<T>, kernel: &CudaView<T>) -> Result<CudaSlice<T>> {
            let cudnn = handle(dev)?;
            let conv = conv_descriptor::<T>(&cudnn)?;
            let (xd, wd, yd) =
                (self.tensor::<T>(&cudnn, self.c)?, self.filter::<T>(&cudnn)?, self.tensor::<T>(&cudnn, self.k)?);
            let op = ConvForward { conv: &conv, x: &xd, w: &wd, y: &yd };
            // SAFETY: written in full by cuDNN (beta = 0).
            let mut z = unsafe { dev.alloc::<T>(self.n * self.h * self.w * self.k) }?;
            run_fastest(
                dev,
                self.key::<T>(0),
                &FWD_ALGOS,
                || op.pick_algorithm(),
                |algo| {
                    let mut ws = workspace(dev, op.get_workspace_size(algo).map_err(cudnn_err)?)?;
                    // SAFETY: descriptors match the buffers' sizes and layouts.
                    unsafe { op.launch(algo, ws.as_mut(), T::WRITE, x, kernel, &mut z) }.map_err(cudnn_err)
                },
            )?;
            Ok(z)
        }

        /// `dz (n, h, w, k)`, `kernel (k, 3, 3, c)` → `dx (n, h, w, c)`.
        fn backward_data<T: Element>(
            &self,
            dev: &CudaDevice,
            dz: &CudaView<T>,
            kernel: &CudaView<T>,
        ) -> Result<CudaSlice<T>> {
            let cudnn = handle(dev)?;
            let conv = conv_descriptor::<T>(&cudnn)?;
            let (dzd, wd, dxd) =
                (self.tensor::<T>(&cudnn, self.k)?, self.filter::<T>(&cudnn)?, self.tensor::<T>(&cudnn, self.c)?);
            let op = ConvBackwardData { conv: &conv, dx: &dxd, w: &wd, dy: &dzd };
            // SAFETY: written in full by cuDNN (beta = 0).
            let mut dx = unsafe { dev.alloc::<T>(self.n * self.h * self.w * self.c) }?;
            run_fastest(
                dev,
                self.key::<T>(1),
                &BWD_DATA_ALGOS,
                || op.pick_algorithm(),
                |algo| {
                    let mut ws = workspace(dev, op.get_workspace_size(algo).map_err(cudnn_err)?)?;
                    // SAFETY: descriptors match the buffers' sizes and layouts.
                    unsafe { op.launch(algo, ws.as_mut(), T::WRITE, &mut dx, kernel, dz) }.map_err(cudnn_err)
                },
            )?;
            Ok(dx)
        }

        /// `x (n, h, w, c)`, `dz (n, h, w, k)` → `dkernel (k, 3, 3, c)`.
        fn backward_filter<T: Element>(
            &self,
            dev: &CudaDevice,
            x: &CudaView<T>,
            dz: &CudaView<T>,
        ) -> Result<CudaSlice<T>> {
            let cudnn = handle(dev)?;
            let conv = conv_descriptor::<T>(&cudnn)?;
            let (xd, dzd, dwd) =
                (self.tensor::<T>(&cudnn, self.c)?, self.tensor::<T>(&cudnn, self.k)?, self.filter::<T>(&cudnn)?);
            let op = ConvBackwardFilter { conv: &conv, x: &xd, dw: &dwd, dy: &dzd };
            // SAFETY: written in full by cuDNN (beta = 0).
            let mut dw = unsafe { dev.alloc::<T>(self.k * 9 * self.c) }?;
            run_fastest(
                dev,
                self.key::<T>(2),
                &BWD_FILTER_ALGOS,
                || op.pick_algorithm(),
                |algo| {
                    let mut ws = workspace(dev, op.get_workspace_size(algo).map_err(cudnn_err)?)?;
                    // SAFETY: descriptors match the buffers' sizes and layouts.
                    unsafe { op.launch(algo, ws.as_mut(), T::WRITE, x, &mut dw, dz) }.map_err(cudnn_err)
                },
            )?;
            Ok(dw)
        }

        fn tensor<T: Element>(
            &self,
            cudnn: &Arc<Cudnn>,
            channels: usize,
        ) -> Result<candle_core::cuda_backend::cudarc::cudnn::TensorDescriptor<T>> {
            let dims = [self.n, channels, self.h, self.w].map(|v| v as i32);
            cudnn.create_4d_tensor::<T>(CUDNN_TENSOR_NHWC, dims).map_err(cudnn_err)
        }

        fn filter<T: Element>(
            &self,
            cudnn: &Arc<Cudnn>,
        ) -> Result<candle_core::cuda_backend::cudarc::cudnn::FilterDescriptor<T>> {
            cudnn.create_4d_filter::<T>(CUDNN_TENSOR_NHWC, [self.k as i32, self.c as i32, 3, 3]).map_err(cudnn_err)
        }
    }

    /// `act(conv3x3(x) + bias)`, 2×2 max-pooled if `pool`: `x` is `(B, H, W, C)` channels-last,
    /// `kernel` `(C_out, C_in, 3, 3)` (as candle and PyTorch store it), `bias` `(C_out)`; returns
    /// `(B, H, W, C_out)`, or `(B, H/2, W/2, C_out)` pooled (floor mode, the rules of `pool.rs`).
    /// `act`: 0 tanh, 1 relu, 2 linear. Differentiable in all three inputs; no gradient is
    /// computed for an `x` that does not need one (the images).
    pub(crate) fn conv_block(x: &Tensor, kernel: &Tensor, bias: &Tensor, act: i32, pool: bool) -> Result<Tensor> {
        let krsc = kernel.permute((0, 2, 3, 1))?.contiguous()?;
        let op = ConvBlock { act, pool, pre_activation: Mutex::new(None) };
        x.contiguous()?.apply_op3(&krsc, &bias.contiguous()?, op)
    }

    /// See [`conv_block`]. With a pool, the convolution's output (before the bias) is kept here
    /// between the forward and the backward pass.
    struct ConvBlock {
        act: i32,
        pool: bool,
        pre_activation: Mutex<Option<CudaStorage>>,
    }

    /// [`ConvBlock`]'s forward pass on elements `T`.
    fn conv_block_forward<T: Element>(
        op: &ConvBlock,
        sx: &CudaStorage,
        lx: &Layout,
        sk: &CudaStorage,
        lk: &Layout,
        sb: &CudaStorage,
        lb: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &sx.device;
        let shape = shape_of(lx, lk, lb, op.pool)?;
        let bias = contiguous::<T>(sb, lb, "conv block")?;
        let z = shape.forward(dev, &contiguous::<T>(sx, lx, "conv block")?, &contiguous::<T>(sk, lk, "conv block")?)?;
        let ConvShape { n, h, w, k, .. } = shape;
        let dims = [n as i32, h as i32, w as i32, k as i32];
        if op.pool {
            let outputs = n * (h / 2) * (w / 2) * k;
            // SAFETY: every element is written by the kernel.
            let mut y = unsafe { dev.alloc::<T>(outputs) }?;
            let func = kernel!(T, dev, "bias_act_pool")?;
            let mut args = func.builder();
            args.arg(&z).arg(&bias).arg(&mut y).arg(&dims[0]).arg(&dims[1]).arg(&dims[2]).arg(&dims[3]).arg(&op.act);
            // SAFETY: argument types and count match the kernel's signature.
            unsafe { args.launch(launch_config(outputs)) }.w()?;
            *op.pre_activation.lock().map_err(|_| candle_core::Error::Msg("conv block state poisoned".into()))? =
                Some(T::wrap_cuda_slice(z, dev.clone()));
            Ok((T::wrap_cuda_slice(y, dev.clone()), Shape::from((n, h / 2, w / 2, k))))
        } else {
            let y = bias_activation::<T>(dev, &z, &bias, k, op.act)?;
            Ok((T::wrap_cuda_slice(y, dev.clone()), Shape::from((n, h, w, k))))
        }
    }

    fn shape_of(lx: &Layout, lk: &Layout, lb: &Layout, pool: bool) -> Result<ConvShape> {
        let (n, h, w, c) = lx.shape().dims4()?;
        let (k, kh, kw, kc) = lk.shape().dims4()?;
        if (kh, kw, kc) != (3, 3, c) || lb.shape().dims() != [k] {
            bail!(
                "conv block: kernel {:?} and bias {:?} do not fit an input of shape {:?}",
                lk.dims(),
                lb.dims(),
                lx.dims()
            )
        }
        if pool && (h < 2 || w < 2) {
            bail!("2x2 max pooling needs at least 2x2 pixels, got {h}x{w}")
        }
        Ok(ConvShape { n, h, w, c, k })
    }

    impl CustomOp3 for ConvBlock {
        fn name(&self) -> &'static str {
            "cudnn-conv3x3-bias-act-pool"
        }

        fn cpu_fwd(
            &self,
            _: &CpuStorage,
            _: &Layout,
            _: &CpuStorage,
            _: &Layout,
            _: &CpuStorage,
            _: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            bail!("the cuDNN convolution block runs on CUDA devices only")
        }

        fn cuda_fwd(
            &self,
            sx: &CudaStorage,
            lx: &Layout,
            sk: &CudaStorage,
            lk: &Layout,
            sb: &CudaStorage,
            lb: &Layout,
        ) -> Result<(CudaStorage, Shape)> {
            by_element!(sx.dtype(), conv_block_forward(self, sx, lx, sk, lk, sb, lb))
        }

        fn bwd(
            &self,
            x: &Tensor,
            kernel: &Tensor,
            bias: &Tensor,
            y: &Tensor,
            dy: &Tensor,
        ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
            let dy = dy.contiguous()?;
            // The gradient before the activation, every element written.
            let g = if self.pool {
                let taken = self
                    .pre_activation
                    .lock()
                    .map_err(|_| candle_core::Error::Msg("conv block state poisoned".into()))?
                    .take();
                let Some(z) = taken else { bail!("conv block: the backward pass ran twice or without a forward pass") };
                let (n, h, w, _) = x.dims4()?;
                bias.apply_op2_no_bwd(&dy, &PoolActivationGrad { z, act: self.act, dims: [n, h, w] })?
            } else {
                y.apply_op2_no_bwd(&dy, &ActivationGrad(self.act))?
            };
            let db = column_sums(&g, bias.dim(0)?)?;
            // The images entering the first layer need no gradient: skip that backward pass.
            let dx = if x.track_op() { Some(g.apply_op2_no_bwd(kernel, &ConvBackward::Data)?) } else { None };
            let dkernel = x.apply_op2_no_bwd(&g, &ConvBackward::Filter)?;
            Ok((dx, Some(dkernel), Some(db)))
        }
    }

    /// `act(x · weightᵀ + bias)` for `x (B, in)`, `weight (out, in)` (as candle's `Linear`
    /// stores it), `bias (out)`, as ONE autograd node: cuBLAS for the product (candle's), one
    /// kernel for bias + activation; the backward pass is one kernel for the activation's
    /// gradient, a deterministic column sum for the bias and two products. candle's own `Linear`
    /// + activation is five nodes, each with its gradient buffer zero-filled and added to.
    pub(crate) fn dense_block(x: &Tensor, weight: &Tensor, bias: &Tensor, act: i32) -> Result<Tensor> {
        x.contiguous()?.apply_op3(&weight.contiguous()?, &bias.contiguous()?, DenseBlock(act))
    }

    struct DenseBlock(i32);

    impl CustomOp3 for DenseBlock {
        fn name(&self) -> &'static str {
            "dense-bias-act"
        }

        fn cpu_fwd(
            &self,
            _: &CpuStorage,
            _: &Layout,
            _: &CpuStorage,
            _: &Layout,
            _: &CpuStorage,
            _: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            bail!("the fused dense layer runs on CUDA devices only")
        }

        fn cuda_fwd(
            &self,
            sx: &CudaStorage,
            lx: &Layout,
            sw: &CudaStorage,
            lw: &Layout,
            sb: &CudaStorage,
            lb: &Layout,
        ) -> Result<(CudaStorage, Shape)> {
            by_element!(sx.dtype(), dense_block_forward(self.0, sx, lx, sw, lw, sb, lb))
        }

        fn bwd(
            &self,
            x: &Tensor,
            weight: &Tensor,
            bias: &Tensor,
            y: &Tensor,
            dy: &Tensor,
        ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
            let g = y.apply_op2_no_bwd(&dy.contiguous()?, &ActivationGrad(self.0))?;
            let db = column_sums(&g, bias.dim(0)?)?;
            let dx = if x.track_op() { Some(g.matmul(&weight.detach())?) } else { None };
            let dweight = g.t()?.matmul(&x.detach())?;
            Ok((dx, Some(dweight), Some(db)))
        }
    }

    /// [`DenseBlock`]'s forward pass on elements `T`, with activation `act`.
    fn dense_block_forward<T: Element>(
        act: i32,
        sx: &CudaStorage,
        lx: &Layout,
        sw: &CudaStorage,
        lw: &Layout,
        sb: &CudaStorage,
        lb: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &sx.device;
        let (m, k) = lx.shape().dims2()?;
        let (n, k_w) = lw.shape().dims2()?;
        if k_w != k || lb.shape().dims() != [n] {
            bail!(
                "dense layer: weight {:?} and bias {:?} do not fit an input of shape {:?}",
                lw.dims(),
                lb.dims(),
                lx.dims()
            )
        }
        let z = sx.matmul(sw, (1, m, n, k), lx, &lw.transpose(0, 1)?)?;
        let bias = contiguous::<T>(sb, lb, "dense layer")?;
        let y = bias_activation::<T>(dev, z.as_cuda_slice::<T>()?, &bias, n, act)?;
        Ok((T::wrap_cuda_slice(y, dev.clone()), Shape::from((m, n))))
    }

    /// Sums of the `c` columns of the contiguous `g` (`(…, c)`), in a fixed order, in f32 (the
    /// partial sums of the fused kernel are f32 whatever `g`'s type), returned in `g`'s type.
    fn column_sums(g: &Tensor, c: usize) -> Result<Tensor> {
        match column_block(c) {
            Some(_) => g.apply_op1_no_bwd(&ColumnPartialSums(c))?.sum(0)?.to_dtype(g.dtype()),
            None => g.flatten_to(g.rank().saturating_sub(2))?.sum(0),
        }
    }

    /// `act(z + bias)` for a contiguous `z` whose last dimension has `channels` entries (the
    /// `bias_act` kernel).
    fn bias_activation<T: Element>(
        dev: &CudaDevice,
        z: &CudaSlice<T>,
        bias: &CudaView<T>,
        channels: usize,
        act: i32,
    ) -> Result<CudaSlice<T>> {
        let elements = z.len();
        // SAFETY: every element is written by the kernel.
        let mut y = unsafe { dev.alloc::<T>(elements) }?;
        let func = kernel!(T, dev, "bias_act")?;
        let (elements_i64, channels_i32) = (elements as i64, channels as i32);
        let mut args = func.builder();
        args.arg(z).arg(bias).arg(&mut y).arg(&elements_i64).arg(&channels_i32).arg(&act);
        // SAFETY: argument types and count match the kernel's signature.
        unsafe { args.launch(launch_config(elements)) }.w()?;
        Ok(y)
    }

    /// The convolution's two backward passes as tensor ops (no autograd of their own).
    enum ConvBackward {
        /// `(dz, kernel (K, 3, 3, C)) → dx`
        Data,
        /// `(x, dz) → dkernel (K, 3, 3, C)`
        Filter,
    }

    impl CustomOp2 for ConvBackward {
        fn name(&self) -> &'static str {
            "cudnn-conv3x3-backward"
        }

        fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
            bail!("the cuDNN convolution runs on CUDA devices only")
        }

        fn cuda_fwd(
            &self,
            sa: &CudaStorage,
            la: &Layout,
            sb: &CudaStorage,
            lb: &Layout,
        ) -> Result<(CudaStorage, Shape)> {
            by_element!(sa.dtype(), conv_backward(self, sa, la, sb, lb))
        }
    }

    /// [`ConvBackward`] on elements `T`.
    fn conv_backward<T: Element>(
        pass: &ConvBackward,
        sa: &CudaStorage,
        la: &Layout,
        sb: &CudaStorage,
        lb: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &sa.device;
        let (a, b) = (contiguous::<T>(sa, la, "conv backward")?, contiguous::<T>(sb, lb, "conv backward")?);
        match pass {
            ConvBackward::Data => {
                let (n, h, w, k) = la.shape().dims4()?;
                let c = lb.shape().dims4()?.3;
                let dx = ConvShape { n, h, w, c, k }.backward_data(dev, &a, &b)?;
                Ok((T::wrap_cuda_slice(dx, dev.clone()), Shape::from((n, h, w, c))))
            }
            ConvBackward::Filter => {
                let (n, h, w, c) = la.shape().dims4()?;
                let k = lb.shape().dims4()?.3;
                let dw = ConvShape { n, h, w, c, k }.backward_filter(dev, &a, &b)?;
                Ok((T::wrap_cuda_slice(dw, dev.clone()), Shape::from((k, 3, 3, c))))
            }
        }
    }

    /// `(bias, pooled output gradient) → gradient before the activation`, from the kept
    /// convolution output `z` of shape `(dims, C)`.
    struct PoolActivationGrad {
        z: CudaStorage,
        act: i32,
        dims: [usize; 3],
    }

    impl CustomOp2 for PoolActivationGrad {
        fn name(&self) -> &'static str {
            "bias-act-pool-grad"
        }

        fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
            bail!("the cuDNN convolution block runs on CUDA devices only")
        }

        fn cuda_fwd(
            &self,
            sb: &CudaStorage,
            lb: &Layout,
            sd: &CudaStorage,
            ld: &Layout,
        ) -> Result<(CudaStorage, Shape)> {
            by_element!(sb.dtype(), pool_activation_grad(self, sb, lb, sd, ld))
        }
    }

    /// [`PoolActivationGrad`] on elements `T`.
    fn pool_activation_grad<T: Element>(
        op: &PoolActivationGrad,
        sb: &CudaStorage,
        lb: &Layout,
        sd: &CudaStorage,
        ld: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &sb.device;
        let [n, h, w] = op.dims;
        let k = lb.shape().elem_count();
        if ld.shape().dims() != [n, h / 2, w / 2, k] {
            bail!("conv block backward: the gradient {:?} does not match the pooled shape", ld.dims())
        }
        let (bias, dy) =
            (contiguous::<T>(sb, lb, "conv block backward")?, contiguous::<T>(sd, ld, "conv block backward")?);
        let z = op.z.as_cuda_slice::<T>()?;
        // SAFETY: every element is written by the kernel (cropped rows and columns too).
        let mut g = unsafe { dev.alloc::<T>(n * h * w * k) }?;
        let func = kernel!(T, dev, "bias_act_pool_grad")?;
        let dims = [n as i32, h as i32, w as i32, k as i32];
        let mut args = func.builder();
        args.arg(z)
            .arg(&bias)
            .arg(&dy)
            .arg(&mut g)
            .arg(&dims[0])
            .arg(&dims[1])
            .arg(&dims[2])
            .arg(&dims[3])
            .arg(&op.act);
        // SAFETY: argument types and count match the kernel's signature.
        unsafe { args.launch(launch_config(n * (h / 2) * (w / 2) * k)) }.w()?;
        Ok((T::wrap_cuda_slice(g, dev.clone()), Shape::from((n, h, w, k))))
    }

    /// `(y, dy) → dy · act'(y)`.
    struct ActivationGrad(i32);

    impl CustomOp2 for ActivationGrad {
        fn name(&self) -> &'static str {
            "activation-grad"
        }

        fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
            bail!("the fused activation gradient runs on CUDA devices only")
        }

        fn cuda_fwd(
            &self,
            sy: &CudaStorage,
            ly: &Layout,
            sd: &CudaStorage,
            ld: &Layout,
        ) -> Result<(CudaStorage, Shape)> {
            by_element!(sy.dtype(), activation_grad(self.0, sy, ly, sd, ld))
        }
    }

    /// [`ActivationGrad`] on elements `T`, for activation `act`.
    fn activation_grad<T: Element>(
        act: i32,
        sy: &CudaStorage,
        ly: &Layout,
        sd: &CudaStorage,
        ld: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &sy.device;
        let (y, dy) =
            (contiguous::<T>(sy, ly, "activation gradient")?, contiguous::<T>(sd, ld, "activation gradient")?);
        let n = ly.shape().elem_count();
        // SAFETY: every element is written by the kernel.
        let mut g = unsafe { dev.alloc::<T>(n) }?;
        let func = kernel!(T, dev, "bias_act_grad")?;
        let n_i64 = n as i64;
        let mut args = func.builder();
        args.arg(&y).arg(&dy).arg(&mut g).arg(&n_i64).arg(&act);
        // SAFETY: argument types and count match the kernel's signature.
        unsafe { args.launch(launch_config(n)) }.w()?;
        Ok((T::wrap_cuda_slice(g, dev.clone()), ly.shape().clone()))
    }

    /// Threads per block for column sums over `c` columns: a multiple of `c`.
    fn column_block(c: usize) -> Option<usize> {
        let block = c.max(256);
        (c > 0 && block.is_multiple_of(c) && block <= 1024).then_some(block)
    }

    /// `(…, c) → (blocks, c)` partial column sums; summing them over the first dimension gives
    /// the column sums, in a fixed order (deterministic, unlike atomics). For channel counts
    /// that divide 256 or are multiples of it up to 1024 (the CNN's 32…512 are); others are
    /// summed by candle.
    struct ColumnPartialSums(usize);

    impl CustomOp1 for ColumnPartialSums {
        fn name(&self) -> &'static str {
            "column-partial-sums"
        }

        fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
            bail!("the cuDNN convolution block runs on CUDA devices only")
        }

        fn cuda_fwd(&self, sg: &CudaStorage, lg: &Layout) -> Result<(CudaStorage, Shape)> {
            by_element!(sg.dtype(), column_partial_sums(self.0, sg, lg))
        }
    }

    /// [`ColumnPartialSums`] of `c` columns on elements `T`; the sums are f32.
    fn column_partial_sums<T: Element>(c: usize, sg: &CudaStorage, lg: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = &sg.device;
        let g = contiguous::<T>(sg, lg, "column sums")?;
        let Some(block) = column_block(c) else { bail!("column sums: unsupported channel count {c}") };
        let rows = lg.shape().elem_count() / c;
        let rows_per_block = rows.div_ceil(1024).max(1);
        let blocks = rows.div_ceil(rows_per_block).max(1);
        // SAFETY: every block writes its c partial sums.
        let mut partial = unsafe { dev.alloc::<f32>(blocks * c) }?;
        let func = kernel!(T, dev, "column_partial_sums")?;
        let (rows_i64, c_i32, per_block) = (rows as i64, c as i32, rows_per_block as i64);
        let mut args = func.builder();
        args.arg(&g).arg(&mut partial).arg(&rows_i64).arg(&c_i32).arg(&per_block);
        let cfg = LaunchConfig {
            grid_dim: (blocks as u32, 1, 1),
            block_dim: (block as u32, 1, 1),
            shared_mem_bytes: (block * std::mem::size_of::<f32>()) as u32,
        };
        // SAFETY: argument types and count match the kernel's signature; shared memory as sized.
        unsafe { args.launch(cfg) }.w()?;
        Ok((CudaStorage::wrap_cuda_slice(partial, dev.clone()), Shape::from((blocks, c))))
    }

    /// Whether [`conv_block`] and [`dense_block`] take these tensors: f32 or bf16 on a CUDA
    /// device, fast path on.
    pub(crate) fn applies(x: &Tensor) -> bool {
        x.device().is_cuda() && matches!(x.dtype(), DType::F32 | DType::BF16) && super::fast_kernels()
    }
}
