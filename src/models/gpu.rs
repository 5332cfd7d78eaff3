//! The CUDA fast path of the CNN (built with the `cuda` feature; the convolutions also need the
//! `cudnn` feature):
//! - 2×2 max pooling forward and backward as two kernels (`kernels.cu`, compiled to PTX by
//!   `build.rs`) with exactly the CPU op's rules (`pool.rs`), instead of candle tensor ops;
//! - bias + activation fused in one kernel, and its backward pass in two;
//! - Adam's update in three in-place kernels per weight;
//! - 3×3 "same" convolutions on channels-last tensors through cuDNN for the forward pass and
//!   both backward passes (data and filter), instead of im2col + cuBLAS. cuDNN's default math
//!   applies: on Ampere and newer it may use TF32 tensor cores for f32, as PyTorch's cuDNN
//!   convolutions do by default (`NVIDIA_TF32_OVERRIDE=0` turns that off).
//!
//! [`set_stock_kernels`] switches back to candle's stock operations, for comparisons.
//! `pzbench bench check --device cuda` checks every op here against the CPU path (values and
//! gradients).

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::cuda_backend::cudarc::driver::{CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::{CudaStorage, WrapErr};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor, D};

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

/// `act(x + bias)` for a contiguous channels-last f32 `x` (`bias` over the last dimension), in
/// one kernel; its backward pass is one kernel for the input gradient and one (deterministic,
/// per-block partial sums) for the bias gradient, instead of candle's chain of element-wise ops
/// and a strided reduction. `act`: 0 tanh, 1 relu, 2 linear. Fused when the channel count
/// divides 256 or is a multiple of it up to 1024 (the CNN's 32…512 are).
/// Other channel counts (and non-f32 tensors) take candle's operations.
pub(crate) fn bias_act(x: &Tensor, bias: &Tensor, act: i32) -> Result<Tensor> {
    let c = bias.dim(0)?;
    if x.dim(D::Minus1)? != c {
        bail!("bias_act: a bias of {c} channels does not fit a tensor of shape {:?}", x.dims());
    }
    if column_block(c).is_some() && x.dtype() == DType::F32 && bias.dtype() == DType::F32 {
        return x.contiguous()?.apply_op2(&bias.contiguous()?, BiasAct(act));
    }
    let out = x.broadcast_add(bias)?;
    match act {
        0 => out.tanh(),
        1 => out.relu(),
        _ => Ok(out),
    }
}

/// Threads per block for column sums over `c` columns: a multiple of `c`.
fn column_block(c: usize) -> Option<usize> {
    let block = c.max(256);
    (c > 0 && block % c == 0 && block <= 1024).then_some(block)
}

fn contiguous_f32<'a>(storage: &'a CudaStorage, layout: &Layout, what: &str) -> Result<CudaView<'a, f32>> {
    match layout.contiguous_offsets() {
        Some((start, _)) => Ok(storage.as_cuda_slice::<f32>()?.slice(start..)),
        None => bail!("{what}: operands must be contiguous"),
    }
}

struct BiasAct(i32);

impl CustomOp2 for BiasAct {
    fn name(&self) -> &'static str {
        "bias-act"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("bias_act runs on CUDA devices only")
    }

    fn cuda_fwd(&self, sx: &CudaStorage, lx: &Layout, sb: &CudaStorage, lb: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = &sx.device;
        let (x, bias) = (contiguous_f32(sx, lx, "bias_act")?, contiguous_f32(sb, lb, "bias_act")?);
        let n = lx.shape().elem_count();
        let c = lb.shape().elem_count() as i32;
        // SAFETY: every element is written by the kernel.
        let mut y = unsafe { dev.alloc::<f32>(n) }?;
        let func = dev.get_or_load_custom_func("bias_act_f32", "pzbench_kernels", PTX)?;
        let n_i64 = n as i64;
        let mut args = func.builder();
        args.arg(&x).arg(&bias).arg(&mut y).arg(&n_i64).arg(&c).arg(&self.0);
        // SAFETY: argument types and count match the kernel's signature.
        unsafe { args.launch(launch_config(n)) }.w()?;
        Ok((CudaStorage::wrap_cuda_slice(y, dev.clone()), lx.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, bias: &Tensor, y: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = y.apply_op2_no_bwd(&dy.contiguous()?, &ActivationGrad(self.0))?;
        let c = bias.dim(0)?;
        let db = g.apply_op1_no_bwd(&ColumnPartialSums(c))?.sum(0)?;
        Ok((Some(g), Some(db)))
    }
}

/// `(y, dy) → dy · act'(y)`.
struct ActivationGrad(i32);

impl CustomOp2 for ActivationGrad {
    fn name(&self) -> &'static str {
        "activation-grad"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("bias_act runs on CUDA devices only")
    }

    fn cuda_fwd(&self, sy: &CudaStorage, ly: &Layout, sd: &CudaStorage, ld: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = &sy.device;
        let (y, dy) = (contiguous_f32(sy, ly, "bias_act backward")?, contiguous_f32(sd, ld, "bias_act backward")?);
        let n = ly.shape().elem_count();
        // SAFETY: every element is written by the kernel.
        let mut g = unsafe { dev.alloc::<f32>(n) }?;
        let func = dev.get_or_load_custom_func("bias_act_grad_f32", "pzbench_kernels", PTX)?;
        let n_i64 = n as i64;
        let mut args = func.builder();
        args.arg(&y).arg(&dy).arg(&mut g).arg(&n_i64).arg(&self.0);
        // SAFETY: argument types and count match the kernel's signature.
        unsafe { args.launch(launch_config(n)) }.w()?;
        Ok((CudaStorage::wrap_cuda_slice(g, dev.clone()), ly.shape().clone()))
    }
}

/// `(…, c) → (blocks, c)` partial column sums; summing them over the first dimension gives the
/// column sums, in a fixed order.
struct ColumnPartialSums(usize);

impl CustomOp1 for ColumnPartialSums {
    fn name(&self) -> &'static str {
        "column-partial-sums"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("bias_act runs on CUDA devices only")
    }

    fn cuda_fwd(&self, sg: &CudaStorage, lg: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = &sg.device;
        let g = contiguous_f32(sg, lg, "bias_act backward")?;
        let c = self.0;
        let Some(block) = column_block(c) else { bail!("column sums: unsupported channel count {c}") };
        let rows = lg.shape().elem_count() / c;
        let rows_per_block = rows.div_ceil(1024).max(1);
        let blocks = rows.div_ceil(rows_per_block).max(1);
        let mut partial = dev.alloc_zeros::<f32>(blocks * c)?;
        let func = dev.get_or_load_custom_func("column_partial_sums_f32", "pzbench_kernels", PTX)?;
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
}

/// One Adam step on a contiguous f32 weight `w` on CUDA, in place, in three kernels (first
/// moment, second moment, weights) instead of candle's eleven element-wise operations and their
/// allocations: `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²`, `w ← w - α m / (√v + ε)`.
pub(crate) fn adam_step(w: &Tensor, m: &Tensor, v: &Tensor, g: &Tensor, alpha: f64, betas: (f64, f64), epsilon: f64) -> Result<()> {
    let g = g.contiguous()?;
    m.inplace_op2(&g, &AdamKernel { name: "adam_first_moment_f32", scalars: [betas.0 as f32, 0.0] })?;
    v.inplace_op2(&g, &AdamKernel { name: "adam_second_moment_f32", scalars: [betas.1 as f32, 0.0] })?;
    w.inplace_op3(m, v, &AdamKernel { name: "adam_update_f32", scalars: [alpha as f32, epsilon as f32] })
}

/// Whether [`adam_step`] can update `w`: f32, contiguous, on CUDA, fast path on.
pub(crate) fn adam_applies(w: &Tensor) -> bool {
    w.device().is_cuda() && w.dtype() == DType::F32 && w.is_contiguous() && fast_kernels()
}

/// One of the in-place Adam kernels, with its scalar arguments (the first moment's and second
/// moment's kernels take one, the update two).
struct AdamKernel {
    name: &'static str,
    scalars: [f32; 2],
}

impl AdamKernel {
    fn launch(&self, target: &mut CudaStorage, lt: &Layout, sources: &[(&CudaStorage, &Layout)]) -> Result<()> {
        let dev = target.device.clone();
        let n = lt.shape().elem_count();
        let start = match lt.contiguous_offsets() {
            Some((start, _)) => start,
            None => bail!("adam: the weights must be contiguous"),
        };
        let views = sources.iter().map(|(s, l)| contiguous_f32(s, l, "adam")).collect::<Result<Vec<_>>>()?;
        let mut target = target.as_cuda_slice_mut::<f32>()?.slice_mut(start..);
        let func = dev.get_or_load_custom_func(self.name, "pzbench_kernels", PTX)?;
        let n_i64 = n as i64;
        let mut args = func.builder();
        args.arg(&mut target);
        for view in &views {
            args.arg(view);
        }
        args.arg(&n_i64).arg(&self.scalars[0]);
        if sources.len() == 2 {
            args.arg(&self.scalars[1]);
        }
        // SAFETY: argument types and count match the kernel's signature.
        unsafe { args.launch(launch_config(n)) }.w()?;
        Ok(())
    }
}

impl candle_core::InplaceOp2 for AdamKernel {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, _: &mut CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<()> {
        bail!("the fused Adam runs on CUDA devices only")
    }

    fn cuda_fwd(&self, s1: &mut CudaStorage, l1: &Layout, s2: &CudaStorage, l2: &Layout) -> Result<()> {
        self.launch(s1, l1, &[(s2, l2)])
    }
}

impl candle_core::InplaceOp3 for AdamKernel {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, _: &mut CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<()> {
        bail!("the fused Adam runs on CUDA devices only")
    }

    fn cuda_fwd(
        &self,
        s1: &mut CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
    ) -> Result<()> {
        self.launch(s1, l1, &[(s2, l2), (s3, l3)])
    }
}

#[cfg(feature = "cudnn")]
pub(crate) use conv::conv3x3_nhwc;

/// 3×3 "same" convolutions through cuDNN (after `shared/gpu/probe/src/cudnn_conv.rs`, here on
/// channels-last tensors with the kernel laid out `(C_out, 3, 3, C_in)`).
#[cfg(feature = "cudnn")]
mod conv {
    use std::cell::RefCell;
    use std::sync::Arc;

    use candle_core::cuda_backend::cudarc::cudnn::sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION;
    use candle_core::cuda_backend::cudarc::cudnn::sys::cudnnTensorFormat_t::CUDNN_TENSOR_NHWC;
    use candle_core::cuda_backend::cudarc::cudnn::{ConvBackwardData, ConvBackwardFilter, ConvForward, Cudnn};
    use candle_core::cuda_backend::cudarc::driver::CudaSlice;
    use candle_core::cuda_backend::{CudaDevice, CudaStorage};
    use super::contiguous_f32;
    use candle_core::backend::BackendDevice;
    use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

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
            let handle = Cudnn::new(dev.cuda_stream()).map_err(|e| candle_core::Error::Msg(format!("cuDNN: {e:?}")))?;
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

    use candle_core::cuda_backend::cudarc::cudnn::sys::{
        cudnnConvolutionBwdDataAlgo_t as BwdData, cudnnConvolutionBwdFilterAlgo_t as BwdFilter,
        cudnnConvolutionFwdAlgo_t as Fwd,
    };

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

    /// (pass, [n, h, w, c_in, c_out]) → index of the fastest algorithm measured for that shape.
    type AlgoKey = (u8, [usize; 5]);

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

    /// Which pass: its two operands and result (all channels-last, kernels `(K, 3, 3, C)`).
    #[derive(Clone, Copy)]
    enum Pass {
        /// `(x, w) → y`
        Forward,
        /// `(dy, w) → dx`
        BackwardData,
        /// `(x, dy) → dw`
        BackwardFilter,
    }

    struct Conv3x3(Pass);

    impl CustomOp2 for Conv3x3 {
        fn name(&self) -> &'static str {
            "cudnn-conv3x3-nhwc"
        }

        fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
            bail!("the cuDNN convolution runs on CUDA devices only")
        }

        fn cuda_fwd(&self, sa: &CudaStorage, la: &Layout, sb: &CudaStorage, lb: &Layout) -> Result<(CudaStorage, Shape)> {
            let dev = &sa.device;
            let cudnn = handle(dev)?;
            let conv = cudnn.create_conv2d::<f32>([1, 1], [1, 1], [1, 1], CUDNN_CROSS_CORRELATION).map_err(cudnn_err)?;
            let (a, b) = (contiguous_f32(sa, la, "cudnn conv")?, contiguous_f32(sb, lb, "cudnn conv")?);
            let i = |v: usize| v as i32;
            let tensor = |n, c, h, w| cudnn.create_4d_tensor::<f32>(CUDNN_TENSOR_NHWC, [i(n), i(c), i(h), i(w)]).map_err(cudnn_err);
            let filter = |k, c| cudnn.create_4d_filter::<f32>(CUDNN_TENSOR_NHWC, [i(k), i(c), 3, 3]).map_err(cudnn_err);
            match self.0 {
                Pass::Forward => {
                    let (n, h, w, c) = la.shape().dims4()?;
                    let k = lb.shape().dims4()?.0;
                    let (xd, wd, yd) = (tensor(n, c, h, w)?, filter(k, c)?, tensor(n, k, h, w)?);
                    let op = ConvForward { conv: &conv, x: &xd, w: &wd, y: &yd };
                    // SAFETY: written in full by cuDNN (beta = 0).
                    let mut y = unsafe { dev.alloc::<f32>(n * h * w * k) }?;
                    run_fastest(dev, (0, [n, h, w, c, k]), &FWD_ALGOS, || op.pick_algorithm(), |algo| {
                        let mut ws = workspace(dev, op.get_workspace_size(algo).map_err(cudnn_err)?)?;
                        // SAFETY: descriptors match the buffers' sizes and layouts.
                        unsafe { op.launch(algo, ws.as_mut(), (1.0, 0.0), &a, &b, &mut y) }.map_err(cudnn_err)
                    })?;
                    Ok((CudaStorage::wrap_cuda_slice(y, dev.clone()), Shape::from((n, h, w, k))))
                }
                Pass::BackwardData => {
                    let (n, h, w, k) = la.shape().dims4()?;
                    let c = lb.shape().dims4()?.3;
                    let (dyd, wd, dxd) = (tensor(n, k, h, w)?, filter(k, c)?, tensor(n, c, h, w)?);
                    let op = ConvBackwardData { conv: &conv, dx: &dxd, w: &wd, dy: &dyd };
                    // SAFETY: written in full by cuDNN (beta = 0).
                    let mut dx = unsafe { dev.alloc::<f32>(n * h * w * c) }?;
                    run_fastest(dev, (1, [n, h, w, c, k]), &BWD_DATA_ALGOS, || op.pick_algorithm(), |algo| {
                        let mut ws = workspace(dev, op.get_workspace_size(algo).map_err(cudnn_err)?)?;
                        // SAFETY: descriptors match the buffers' sizes and layouts.
                        unsafe { op.launch(algo, ws.as_mut(), (1.0, 0.0), &mut dx, &b, &a) }.map_err(cudnn_err)
                    })?;
                    Ok((CudaStorage::wrap_cuda_slice(dx, dev.clone()), Shape::from((n, h, w, c))))
                }
                Pass::BackwardFilter => {
                    let (n, h, w, c) = la.shape().dims4()?;
                    let k = lb.shape().dims4()?.3;
                    let (xd, dyd, dwd) = (tensor(n, c, h, w)?, tensor(n, k, h, w)?, filter(k, c)?);
                    let op = ConvBackwardFilter { conv: &conv, x: &xd, dw: &dwd, dy: &dyd };
                    // SAFETY: written in full by cuDNN (beta = 0).
                    let mut dw = unsafe { dev.alloc::<f32>(k * 9 * c) }?;
                    run_fastest(dev, (2, [n, h, w, c, k]), &BWD_FILTER_ALGOS, || op.pick_algorithm(), |algo| {
                        let mut ws = workspace(dev, op.get_workspace_size(algo).map_err(cudnn_err)?)?;
                        // SAFETY: descriptors match the buffers' sizes and layouts.
                        unsafe { op.launch(algo, ws.as_mut(), (1.0, 0.0), &a, &mut dw, &b) }.map_err(cudnn_err)
                    })?;
                    Ok((CudaStorage::wrap_cuda_slice(dw, dev.clone()), Shape::from((k, 3, 3, c))))
                }
            }
        }

        fn bwd(&self, x: &Tensor, w: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
            let dy = dy.contiguous()?;
            // The images entering the first layer need no gradient: skip that backward pass.
            let dx = if x.track_op() { Some(dy.apply_op2_no_bwd(w, &Conv3x3(Pass::BackwardData))?) } else { None };
            let dw = x.apply_op2_no_bwd(&dy, &Conv3x3(Pass::BackwardFilter))?;
            Ok((dx, Some(dw)))
        }
    }

    /// `conv3x3(x)` with stride 1 and one pixel of zero padding, no bias: `x` is `(B, H, W, C)`,
    /// `kernel` is `(C_out, C_in, 3, 3)`; returns `(B, H, W, C_out)`. Differentiable in both.
    pub(crate) fn conv3x3_nhwc(x: &Tensor, kernel: &Tensor) -> Result<Tensor> {
        let krsc = kernel.permute((0, 2, 3, 1))?.contiguous()?;
        x.contiguous()?.apply_op2(&krsc, Conv3x3(Pass::Forward))
    }
}
