//! 2×2 max pooling with a correct gradient, on any device.
//!
//! candle 0.11.1's `max_pool2d` has a wrong backward pass (MODELS.md, "Known trap"): it scales the
//! gradient by the share of maxima instead of routing it, and at odd sizes it sends it to the wrong
//! elements and drops windows. The authors' Keras `MaxPooling2D((2, 2))` (train_cnn.py) has
//! `padding="valid"`, i.e. floor mode: a trailing odd row or column is ignored (127 → 63).
//!
//! Here the pooling is written with differentiable tensor ops, so candle's autograd gives the
//! gradient and the same code runs on CPU and CUDA. It works on channels-last `(B, H, W, C)`
//! tensors, the layout of the CNN's convolutions (see `layers.rs`):
//! 1. crop to even height and width (floor mode) and lay each 2×2 window out as 4 values in
//!    row-major window order: (0,0), (0,1), (1,0), (1,1);
//! 2. on a detached copy, mark the values equal to the window maximum and keep only the FIRST of
//!    them (a running count of maxima equal to 1, computed by a product with an upper-triangular
//!    4×4 matrix of ones) — ties go to the first maximum in scan order, like PyTorch;
//! 3. the output is `sum(window * first_max_mask)`: its gradient is the incoming gradient placed on
//!    the first maximum of each window and zero elsewhere — exactly the argmax routing of Keras and
//!    PyTorch, with nothing on the cropped border.
//!
//! Inputs are expected to be finite (a window holding −∞ that is not its maximum would give NaN,
//! since −∞ · 0 is NaN); the CNN pools tanh activations, which always are.

use candle_core::{bail, Result, Tensor};

/// Max pooling over non-overlapping 2×2 windows of a channels-last `(batch, height, width,
/// channels)` tensor, stride 2, floor mode: the result is `(batch, height / 2, width / 2, channels)`.
pub(crate) fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    let (b, h, w, c) = x.dims4()?;
    let (ho, wo) = (h / 2, w / 2);
    if ho == 0 || wo == 0 {
        bail!("2x2 max pooling needs at least 2x2 pixels, got {h}x{w}")
    }
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
    (windows * first_max)?.sum(1)?.reshape((b, ho, wo, c))
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

    /// Forward values and the gradient of `sum(pool(x) * weights)` against the naive loop.
    fn check_against_naive(x: Vec<f64>, h: usize, w: usize) {
        let dev = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (vals, idx) = naive(&x, h, w);
        let weights: Vec<f64> = (0..vals.len()).map(|_| rng.random::<f64>() + 0.5).collect();
        let xv = Var::from_tensor(&Tensor::from_vec(x, (1, h, w, 1), &dev).unwrap()).unwrap();
        let y = max_pool2x2(xv.as_tensor()).unwrap();
        assert_eq!(y.dims4().unwrap(), (1, h / 2, w / 2, 1));
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f64>().unwrap(), vals);
        let wt = Tensor::from_vec(weights.clone(), (1, h / 2, w / 2, 1), &dev).unwrap();
        let grads = (y * wt).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(xv.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let mut expected = vec![0.0; h * w];
        for (k, wk) in idx.iter().zip(&weights) {
            expected[*k] = *wk;
        }
        assert_eq!(g, expected);
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
        let f = |x: &Tensor| -> f64 {
            let y = max_pool2x2(x).unwrap();
            (y * &wt).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
        };
        let xv = Var::from_tensor(&Tensor::from_vec(x0.clone(), (b, h, w, c), &dev).unwrap()).unwrap();
        let y = max_pool2x2(xv.as_tensor()).unwrap();
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
            assert!((fd - g[k]).abs() < 1e-8, "element {k}: autograd {} vs finite difference {fd}", g[k]);
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
        assert!(max_pool2x2(&Tensor::zeros((1, 1, 4, 1), DType::F32, &Device::Cpu).unwrap()).is_err());
    }
}
