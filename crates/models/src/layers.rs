//! The two building blocks of both models, one `Module` each: a dense layer and a 3×3 "same"
//! convolution, each followed by its activation (train_cnn.py, train_nn.py: Keras `Dense` and
//! `Conv2D(kernel_size=(3, 3), padding="same")`).
//!
//! Weights are created as zeros here and filled by [`glorot_init`] from a seeded ChaCha8 stream,
//! which reproduces Keras' defaults (Glorot-uniform kernels, zero biases) and makes a seed give
//! the same initial model on every machine and device.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, Linear, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The activations the architectures use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Tanh,
    Relu,
    Linear,
}

impl Act {
    /// The activation's code in the CUDA kernels (`kernels.cu`).
    #[cfg(feature = "cudnn")]
    fn kernel_code(self) -> i32 {
        match self {
            Act::Tanh => 0,
            Act::Relu => 1,
            Act::Linear => 2,
        }
    }

    fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Act::Tanh => x.tanh(),
            Act::Relu => x.relu(),
            Act::Linear => Ok(x.clone()),
        }
    }
}

/// `act(x · Wᵀ + b)`.
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    linear: Linear,
    act: Act,
}

impl Dense {
    /// A dense layer `in_dim → out_dim` with variables `weight` (out × in) and `bias` under `vb`.
    pub(crate) fn new(in_dim: usize, out_dim: usize, act: Act, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((out_dim, in_dim), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(out_dim, "bias", Init::Const(0.0))?;
        Ok(Dense { linear: Linear::new(weight, Some(bias)), act })
    }
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        #[cfg(feature = "cudnn")]
        if super::gpu::block_applies(x) && x.rank() == 2 {
            if let Some(bias) = self.linear.bias() {
                // f32 weights, cast for a bf16 input (differentiable: the gradients come back f32).
                let (weight, bias) = (self.linear.weight().to_dtype(x.dtype())?, bias.to_dtype(x.dtype())?);
                return super::gpu::dense_block(x, &weight, &bias, self.act.kernel_code());
            }
        }
        self.act.apply(&self.linear.forward(x)?)
    }
}

/// `act(conv3x3(x) + b)` with stride 1 and one pixel of zero padding ("same" for a 3×3 kernel),
/// on channels-last `(B, H, W, C)` tensors.
///
/// On CUDA with the `cudnn` feature the convolution, bias, activation and the pool that follows
/// run as one fused block (cuDNN + `kernels.cu`, see `gpu.rs`). Otherwise the convolution is
/// computed as im2col + one matrix product, with tensor ops only: the padded
/// input's nine shifted views are stacked into a `(B·H·W, 9·C)` matrix and multiplied by the
/// kernel laid out as `(C_out, 9·C)`. Forward values equal candle's `conv2d`; the point is the
/// backward pass: autograd then uses two matrix products, where candle 0.11.1's `conv2d` backward
/// on the CPU runs a direct-loop `conv_transpose2d` and a convolution with an image-sized kernel,
/// about 3× slower (with the CPU pooling op of `pool.rs`, a CNN training step at 64 px, batch 32,
/// went from ~6 s to ~1.2 s on the 2-core development machine). The price is memory: each layer
/// keeps its `9·C`-wide column matrix and the nine shifted copies it was built from (at 127 px,
/// batch 256, about 6 GB over the network; the authors report 20 GB for Keras). The kernel is
/// stored as candle and PyTorch store it, `(C_out, C_in, 3, 3)`.
#[derive(Debug, Clone)]
pub(crate) struct Conv3x3 {
    weight: Tensor,
    bias: Tensor,
    act: Act,
}

impl Conv3x3 {
    /// A convolution `in_channels → out_channels`, variables `weight` (out × in × 3 × 3), `bias`.
    pub(crate) fn new(in_channels: usize, out_channels: usize, act: Act, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((out_channels, in_channels, 3, 3), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(out_channels, "bias", Init::Const(0.0))?;
        Ok(Conv3x3 { weight, bias, act })
    }

    /// The layer followed by a 2×2 max pool (`pool::max_pool2x2`) if `pool`. On CUDA with the
    /// `cudnn` feature both run as one fused block (`gpu::conv_block`).
    pub(crate) fn forward_pooled(&self, x: &Tensor, pool: bool) -> Result<Tensor> {
        #[cfg(feature = "cudnn")]
        if super::gpu::block_applies(x) {
            // f32 weights, cast for a bf16 input (differentiable: the gradients come back f32).
            let (weight, bias) = (self.weight.to_dtype(x.dtype())?, self.bias.to_dtype(x.dtype())?);
            return super::gpu::conv_block(x, &weight, &bias, self.act.kernel_code(), pool);
        }
        let y = self.im2col_forward(x)?;
        if pool {
            super::pool::max_pool2x2(&y)
        } else {
            Ok(y)
        }
    }

    fn im2col_forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        let c_out = self.weight.dim(0)?;
        let padded = x.pad_with_zeros(1, 1, 1)?.pad_with_zeros(2, 1, 1)?;
        let mut shifted = Vec::with_capacity(9);
        for dy in 0..3 {
            for dx in 0..3 {
                // Contiguous copies (fast block copies), so that the stack below is a plain
                // concatenation: stacking strided views goes through candle's slow
                // element-by-element copy, twice.
                shifted.push(padded.narrow(1, dy, h)?.narrow(2, dx, w)?.contiguous()?);
            }
        }
        // columns[(b, y, x), (dy·3 + dx)·C + c] = padded[b, y + dy, x + dx, c]
        let columns = Tensor::stack(&shifted, 3)?.reshape((b * h * w, 9 * c))?;
        let kernel = self.weight.permute((0, 2, 3, 1))?.reshape((c_out, 9 * c))?;
        let out = columns.matmul(&kernel.t()?)?.broadcast_add(&self.bias)?;
        self.act.apply(&out.reshape((b, h, w, c_out))?)
    }
}

impl Module for Conv3x3 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_pooled(x, false)
    }
}

/// Fills every variable of `varmap`, in name order, from a ChaCha8 stream seeded with `seed`:
/// tensors of rank ≥ 2 (kernels) Glorot-uniform, `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`
/// (Keras' default; for a convolution the fans include the kernel area), rank-1 tensors (biases)
/// zero (Keras' default).
pub(crate) fn glorot_init(varmap: &VarMap, seed: u64) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = varmap.data().lock().map_err(|_| candle_core::Error::Msg("variable map poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        if dims.len() < 2 {
            var.set(&var.zeros_like()?)?;
            continue;
        }
        let receptive: usize = dims[2..].iter().product();
        let (fan_in, fan_out) = (dims[1] * receptive, dims[0] * receptive);
        let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
        let values: Vec<f64> = (0..var.elem_count()).map(|_| limit * (2.0 * rng.random::<f64>() - 1.0)).collect();
        let t = Tensor::from_vec(values, dims, &candle_core::Device::Cpu)?;
        var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
    }
    Ok(())
}

/// Total number of scalar parameters in `varmap`.
pub(crate) fn parameter_count(varmap: &VarMap) -> usize {
    varmap.all_vars().iter().map(|v| v.elem_count()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    /// The im2col convolution against candle's `conv2d` (NCHW), values and gradients, in f64.
    #[test]
    fn conv_matches_candle_conv2d() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let conv = Conv3x3::new(3, 4, Act::Linear, VarBuilder::from_varmap(&varmap, DType::F64, &dev)).unwrap();
        glorot_init(&varmap, 1).unwrap();
        let bias = Tensor::new(&[0.1f64, -0.2, 0.3, 0.0], &dev).unwrap();
        varmap.data().lock().unwrap()["bias"].set(&bias).unwrap();
        let x = Var::from_tensor(&Tensor::randn(0f64, 1.0, (2, 3, 7, 5), &dev).unwrap()).unwrap();
        let probe = Tensor::randn(0f64, 1.0, (2, 4, 7, 5), &dev).unwrap();

        let ours = conv.forward(&x.permute((0, 2, 3, 1)).unwrap()).unwrap().permute((0, 3, 1, 2)).unwrap();
        let theirs = x
            .conv2d(&conv.weight, 1, 1, 1, 1)
            .unwrap()
            .broadcast_add(&conv.bias.reshape((1, 4, 1, 1)).unwrap())
            .unwrap();
        let max_diff = |a: &Tensor, b: &Tensor| -> f64 {
            (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
        };
        assert!(max_diff(&ours, &theirs) < 1e-12);
        let g_ours = (&ours * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        let g_theirs = (&theirs * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        for t in [x.as_tensor(), &conv.weight, &conv.bias] {
            assert!(max_diff(g_ours.get(t).unwrap(), g_theirs.get(t).unwrap()) < 1e-12);
        }
    }
}
