//! 2×2 max pooling with a correct gradient, on any device.
//!
//! candle 0.11.1's `max_pool2d` has a wrong backward pass (`docs/MODELS.md`, "Known trap"): it scales the
//! gradient by the share of maxima instead of routing it, and at odd sizes it sends it to the wrong
//! elements and drops windows. The authors' Keras `MaxPooling2D((2, 2))` (train_cnn.py) has
//! `padding="valid"`, i.e. floor mode: a trailing odd row or column is ignored (127 → 63).
//!
//! Both implementations here work on channels-last `(B, H, W, C)` tensors, the layout of the
//! CNN's convolutions (see `layers.rs`), send the whole gradient of each window to its FIRST
//! maximum in row-major scan order (0,0), (0,1), (1,0), (1,1) — the argmax routing of PyTorch,
//! whose tie rule this is — and nothing to a cropped odd row or column:
//! - on the CPU, a [`CustomOp1`] whose forward pass picks each window's first maximum and whose
//!   backward pass ([`CustomOp2`], recomputing the same argmax) scatters the gradient there;
//! - on CUDA (f32), the same custom ops run two CUDA kernels (`gpu.rs`, `kernels.cu`) with the
//!   same rules;
//! - otherwise (or with the stock CUDA path), differentiable tensor ops, so candle's autograd gives the
//!   gradient: lay each window out as 4 values; on a detached copy mark the values equal to the
//!   window maximum and keep the first of them (a running count of maxima, from a product with an
//!   upper-triangular 4×4 matrix of ones, equal to 1); the output is `Σ window · first_max_mask`.
//!   About 20× slower than the custom op on a CPU, which is why the CPU has its own path.
//!
//! Both paths are tested on the CPU against a naive loop (odd sizes, ties) and finite differences.
//! NaN propagates through both. The tensor-op path expects finite inputs otherwise (a window
//! holding −∞ that is not its maximum would give NaN, since −∞ · 0 is NaN); the CNN pools tanh
//! activations, which always are finite.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

/// Max pooling over non-overlapping 2×2 windows of a channels-last `(batch, height, width,
/// channels)` tensor, stride 2, floor mode: the result is `(batch, height / 2, width / 2, channels)`.
pub(crate) fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    pooled_dims(x)?;
    if x.device().is_cpu() || cuda_kernel_applies(x) {
        x.contiguous()?.apply_op1(MaxPool2x2)
    } else {
        max_pool2x2_tensor_ops(x)
    }
}

/// Whether the CUDA kernels of `gpu.rs` pool `x` (f32 on a CUDA device, fast path on).
#[cfg(feature = "cuda")]
fn cuda_kernel_applies(x: &Tensor) -> bool {
    x.device().is_cuda() && x.dtype() == candle_core::DType::F32 && super::gpu::fast_kernels()
}

#[cfg(not(feature = "cuda"))]
fn cuda_kernel_applies(_: &Tensor) -> bool {
    false
}

/// The output side lengths, or an error for inputs too small to pool.
fn pooled_dims(x: &Tensor) -> Result<(usize, usize, usize, usize, usize, usize)> {
    let (b, h, w, c) = x.dims4()?;
    if h < 2 || w < 2 {
        bail!("2x2 max pooling needs at least 2x2 pixels, got {h}x{w}")
    }
    Ok((b, h, w, c, h / 2, w / 2))
}

/// The device-independent path (module docs).
fn max_pool2x2_tensor_ops(x: &Tensor) -> Result<Tensor> {
    let (b, _, _, c, ho, wo) = pooled_dims(x)?;
    // (B, 2Ho, 2Wo, C) -> (B, Ho, 2, Wo, 2, C) -> (B, Ho, Wo, C, 2, 2) -> (B·Ho·Wo·C, 4).
    let windows = x
        .narrow(1, 0, 2 * ho)?
        .narrow(2, 0, 2 * wo)?
        .reshape((b, ho, 2, wo, 2, c))?
        .permute((0, 1, 3, 5, 2, 4))?
        .reshape((b * ho * wo * c, 4))?;
    let values = windows.detach();
    let max = values.max_keepdim(1)?;
    let is_max = values.broadcast_eq(&max)?.to_dtype(x.dtype())?;
    // running[k] = number of maxima among window positions 0..=k.
    let upper = Tensor::triu2(4, x.dtype(), x.device())?;
    let running = is_max.matmul(&upper)?;
    let first_max = (is_max * running.eq(1.0)?.to_dtype(x.dtype())?)?;
    let ones = Tensor::ones((4, 1), x.dtype(), x.device())?;
    (windows * first_max)?.matmul(&ones)?.reshape((b, ho, wo, c))
}

/// Geometry of a contiguous `(b, h, w, c)` input and its pooled output.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    b: usize,
    h: usize,
    w: usize,
    c: usize,
}

impl Geometry {
    fn of(layout: &Layout) -> Result<(Self, usize)> {
        let (b, h, w, c) = layout.shape().dims4()?;
        match layout.contiguous_offsets() {
            Some((start, _)) => Ok((Geometry { b, h, w, c }, start)),
            None => bail!("max_pool2x2 needs a contiguous input"),
        }
    }

    fn output_shape(&self) -> Shape {
        Shape::from((self.b, self.h / 2, self.w / 2, self.c))
    }

    /// Calls `f(output_index, input_index_of_first_max)` for every output element.
    fn for_each_window<T: PartialOrd + Copy>(&self, x: &[T], mut f: impl FnMut(usize, usize)) {
        let Geometry { b, h, w, c } = *self;
        let (ho, wo) = (h / 2, w / 2);
        let mut out = 0;
        for n in 0..b {
            for i in 0..ho {
                for j in 0..wo {
                    let top = ((n * h + 2 * i) * w + 2 * j) * c;
                    let candidates = [top, top + c, top + w * c, top + w * c + c];
                    for ch in 0..c {
                        let mut best = candidates[0] + ch;
                        for &k in &candidates[1..] {
                            let (v, m) = (x[k + ch], x[best]);
                            // Strictly greater: ties keep the first; the first NaN wins.
                            if v > m || (is_nan(v) && !is_nan(m)) {
                                best = k + ch;
                            }
                        }
                        f(out, best);
                        out += 1;
                    }
                }
            }
        }
    }
}

fn is_nan<T: PartialOrd>(v: T) -> bool {
    v.partial_cmp(&v).is_none()
}

/// The CPU forward pass: each window's first maximum.
struct MaxPool2x2;

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "max-pool-2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (g, start) = Geometry::of(layout)?;
        let shape = g.output_shape();
        fn pool<T: PartialOrd + Copy + Default>(g: Geometry, x: &[T], n: usize) -> Vec<T> {
            let mut out = vec![T::default(); n];
            g.for_each_window(x, |o, i| out[o] = x[i]);
            out
        }
        let n = shape.elem_count();
        let out = match storage {
            CpuStorage::F32(x) => CpuStorage::F32(pool(g, &x[start..], n)),
            CpuStorage::F64(x) => CpuStorage::F64(pool(g, &x[start..], n)),
            _ => bail!("max_pool2x2 supports f32 and f64 tensors only"),
        };
        Ok((out, shape))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::gpu::max_pool_forward(storage, layout)
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(&grad_res.contiguous()?, &MaxPool2x2Backward)?))
    }
}

/// The CPU backward pass: `(input, output gradient) → input gradient`, the output gradient of
/// each window added at the input position of the window's first maximum, zero elsewhere.
struct MaxPool2x2Backward;

impl CustomOp2 for MaxPool2x2Backward {
    fn name(&self) -> &'static str {
        "max-pool-2x2-backward"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (g, start) = Geometry::of(l1)?;
        let grad_start = match l2.contiguous_offsets() {
            Some((start, _)) if l2.shape() == &g.output_shape() => start,
            _ => bail!("max_pool2x2 backward: the gradient does not match the pooled shape"),
        };
        fn scatter<T: PartialOrd + Copy + Default + std::ops::AddAssign>(g: Geometry, x: &[T], grad: &[T]) -> Vec<T> {
            let mut out = vec![T::default(); g.b * g.h * g.w * g.c];
            g.for_each_window(x, |o, i| out[i] += grad[o]);
            out
        }
        let out = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(d)) => CpuStorage::F32(scatter(g, &x[start..], &d[grad_start..])),
            (CpuStorage::F64(x), CpuStorage::F64(d)) => CpuStorage::F64(scatter(g, &x[start..], &d[grad_start..])),
            _ => bail!("max_pool2x2 backward supports f32 and f64 inputs and gradients of the same type"),
        };
        Ok((out, l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::gpu::max_pool_backward(s1, l1, s2, l2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The textbook loop: value and flat index of the first maximum of each 2×2 window.
    fn naive(x: &[f64], h: usize, w: usize) -> (Vec<f64>, Vec<usize>) {
        let (ho, wo) = (h / 2, w / 2);
        let (mut vals, mut idx) = (Vec::new(), Vec::new());
        for i in 0..ho {
            for j in 0..wo {
                let mut best = (f64::NEG_INFINITY, 0);
                for (di, dj) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let k = (2 * i + di) * w + 2 * j + dj;
                    if x[k] > best.0 {
                        best = (x[k], k);
                    }
                }
                vals.push(best.0);
                idx.push(best.1);
            }
        }
        (vals, idx)
    }

    type Pool = fn(&Tensor) -> Result<Tensor>;
    /// The CPU custom op (what `max_pool2x2` runs here) and the tensor-op path (CUDA's).
    const BOTH: [(&str, Pool); 2] = [("custom op", max_pool2x2), ("tensor ops", max_pool2x2_tensor_ops)];

    /// Forward values and the gradient of `sum(pool(x) * weights)` against the naive loop.
    fn check_against_naive(x: Vec<f64>, h: usize, w: usize) {
        for (name, pool) in BOTH {
            check_one(pool, name, x.clone(), h, w);
        }
    }

    fn check_one(pool: Pool, name: &str, x: Vec<f64>, h: usize, w: usize) {
        let dev = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (vals, idx) = naive(&x, h, w);
        let weights: Vec<f64> = (0..vals.len()).map(|_| rng.random::<f64>() + 0.5).collect();
        let xv = Var::from_tensor(&Tensor::from_vec(x, (1, h, w, 1), &dev).unwrap()).unwrap();
        let y = pool(xv.as_tensor()).unwrap();
        assert_eq!(y.dims4().unwrap(), (1, h / 2, w / 2, 1));
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f64>().unwrap(), vals, "{name}");
        let wt = Tensor::from_vec(weights.clone(), (1, h / 2, w / 2, 1), &dev).unwrap();
        let grads = (y * wt).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(xv.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let mut expected = vec![0.0; h * w];
        for (k, wk) in idx.iter().zip(&weights) {
            expected[*k] = *wk;
        }
        assert_eq!(g, expected, "{name}");
    }

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect()
    }

    #[test]
    fn matches_naive_on_odd_and_even_sizes() {
        check_against_naive(random(49, 1), 7, 7);
        check_against_naive(random(64, 2), 8, 8);
        check_against_naive(random(35, 3), 5, 7);
        check_against_naive(random(127 * 127, 4), 127, 127);
    }

    #[test]
    fn ties_go_to_the_first_maximum_in_scan_order() {
        // Values from {0, 1, 2}: most 2×2 windows hold ties, including all-equal windows.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x: Vec<f64> = (0..49).map(|_| f64::from(rng.random_range(0..3u8))).collect();
        check_against_naive(x, 7, 7);
        check_against_naive(vec![1.0; 16], 4, 4);
        let x: Vec<f64> = (0..127 * 127).map(|_| f64::from(rng.random_range(0..2u8))).collect();
        check_against_naive(x, 127, 127);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let dev = Device::Cpu;
        let (b, h, w, c) = (2, 7, 7, 3);
        let x0 = random(b * c * h * w, 9);
        let wt = Tensor::from_vec(random(b * c * 9, 10), (b, 3, 3, c), &dev).unwrap();
        for (name, pool) in BOTH {
            let f = |x: &Tensor| -> f64 {
                let y = pool(x).unwrap();
                (y * &wt).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
            };
            let xv = Var::from_tensor(&Tensor::from_vec(x0.clone(), (b, h, w, c), &dev).unwrap()).unwrap();
            let y = pool(xv.as_tensor()).unwrap();
            let grads = (y * &wt).unwrap().sum_all().unwrap().backward().unwrap();
            let g = grads.get(xv.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let eps = 1e-6;
            for k in 0..x0.len() {
                let mut plus = x0.clone();
                plus[k] += eps;
                let mut minus = x0.clone();
                minus[k] -= eps;
                let fd = (f(&Tensor::from_vec(plus, (b, h, w, c), &dev).unwrap())
                    - f(&Tensor::from_vec(minus, (b, h, w, c), &dev).unwrap()))
                    / (2.0 * eps);
                assert!((fd - g[k]).abs() < 1e-8, "{name}, element {k}: autograd {} vs finite difference {fd}", g[k]);
            }
        }
    }

    #[test]
    fn both_paths_agree_on_multichannel_batches_and_propagate_nan() {
        let dev = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        // Few distinct values, so that many windows tie.
        let x: Vec<f32> = (0..3 * 9 * 11 * 4).map(|_| f32::from(rng.random_range(0..4u8)) - 1.5).collect();
        let x = Var::from_tensor(&Tensor::from_vec(x, (3, 9, 11, 4), &dev).unwrap()).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (3, 4, 5, 4), &dev).unwrap();
        let run = |pool: Pool| {
            let y = pool(x.as_tensor()).unwrap();
            let g = (&y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let g = g.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), g)
        };
        assert_eq!(run(BOTH[0].1), run(BOTH[1].1));
        let with_nan = Tensor::new(&[1.0f32, f32::NAN, 3.0, 2.0], &dev).unwrap().reshape((1, 2, 2, 1)).unwrap();
        for (name, pool) in BOTH {
            let y = pool(&with_nan).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(y[0].is_nan(), "{name}: {y:?}");
        }
    }

    #[test]
    fn channels_are_pooled_separately_in_f32() {
        // Two channels: increasing values (max bottom-right) and decreasing (max top-left).
        let up: Vec<f32> = (0..25).map(|v| v as f32).collect();
        let interleaved: Vec<f32> = up.iter().flat_map(|&v| [v, -v]).collect();
        let x = Tensor::from_vec(interleaved, (1, 5, 5, 2), &Device::Cpu).unwrap();
        let y = max_pool2x2(&x).unwrap();
        assert_eq!(y.dtype(), DType::F32);
        assert_eq!(y.dims4().unwrap(), (1, 2, 2, 2));
        let y = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(y, [6.0, 0.0, 8.0, -2.0, 16.0, -10.0, 18.0, -12.0]);
        for (_, pool) in BOTH {
            assert!(pool(&Tensor::zeros((1, 1, 4, 1), DType::F32, &Device::Cpu).unwrap()).is_err());
        }
    }
}
