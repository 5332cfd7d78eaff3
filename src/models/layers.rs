//! The two building blocks of both models, one `Module` each: a dense layer and a 3×3 "same"
//! convolution, each followed by its activation (train_cnn.py, train_nn.py: Keras `Dense` and
//! `Conv2D(kernel_size=(3, 3), padding="same")`).
//!
//! Weights are created as zeros here and filled by [`glorot_init`] from a seeded ChaCha8 stream,
//! which reproduces Keras' defaults (Glorot-uniform kernels, zero biases) and makes a seed give
//! the same initial model on every machine and device.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Init, Linear, VarBuilder, VarMap};
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
        self.act.apply(&self.linear.forward(x)?)
    }
}

/// `act(conv3x3(x))` with stride 1 and one pixel of zero padding ("same" for a 3×3 kernel).
#[derive(Debug, Clone)]
pub(crate) struct Conv3x3 {
    conv: Conv2d,
    act: Act,
}

impl Conv3x3 {
    /// A convolution `in_channels → out_channels`, variables `weight` (out × in × 3 × 3), `bias`.
    pub(crate) fn new(in_channels: usize, out_channels: usize, act: Act, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((out_channels, in_channels, 3, 3), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(out_channels, "bias", Init::Const(0.0))?;
        let cfg = Conv2dConfig { padding: 1, ..Default::default() };
        Ok(Conv3x3 { conv: Conv2d::new(weight, Some(bias), cfg), act })
    }
}

impl Module for Conv3x3 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.act.apply(&self.conv.forward(x)?)
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
