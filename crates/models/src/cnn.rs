//! The CNN of the paper (images + photometry), exactly as `docs/MODELS.md` describes train_cnn.py:
//!
//! ```text
//! image (5, S, S) / 255 ─ Conv32 tanh ─ Pool ─ Conv64 tanh ─ Pool ─ Conv128 tanh ─ Pool
//!        ─ Conv256 tanh ─ Pool ─ Conv256 tanh ─ Pool ─ Conv512 relu ─ Conv512 relu
//!        ─ Flatten (512·s·s, s = S halved and floored 5 times) ─ Dense512 tanh ─ Dense128 tanh
//!        ─ Dense32 tanh ───────────────┐
//! 5 raw magnitudes ─ 6 × Dense200 relu ┴─ concatenate (32 + 200) ─ Dense1 (linear)
//! ```
//! Convolutions are 3×3, stride 1, "same" padding; pools are 2×2 floor mode (127 → 63 → 31 → 15 →
//! 7 → 3) and use `pool::max_pool2x2`, whose gradient is correct where candle's is not (on CUDA
//! with `cudnn`, each convolution, its activation and its pool run as one fused block).
//! No dropout, no batch norm. 7,151,073 parameters at 127×127 and 5,840,353 at 64×64. With the
//! mixture-density head ([`Head::Mdn`]) the last layer is Dense(3K) instead of Dense(1), its
//! outputs the mixture's parameters (`mdn.rs`); everything before it, and so the CUDA fast path,
//! is unchanged.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::layers::{Act, Conv3x3, Dense};
use super::mdn::Head;

/// Images are divided by this constant before entering the network (`docs/GALAXIESML.md`: the authors'
/// loaders divide the float pixel values by 255.0).
pub const IMAGE_SCALE: f32 = 255.0;

/// Output channels, activation and whether a 2×2 pool follows, for the seven convolutions.
const CONVS: [(usize, Act, bool); 7] = [
    (32, Act::Tanh, true),
    (64, Act::Tanh, true),
    (128, Act::Tanh, true),
    (256, Act::Tanh, true),
    (256, Act::Tanh, true),
    (512, Act::Relu, false),
    (512, Act::Relu, false),
];
/// Widths of the dense layers after the flatten (all tanh).
const IMAGE_DENSE: [usize; 3] = [512, 128, 32];
/// The photometry branch: this many Dense(200, relu) layers.
const PHOT_LAYERS: usize = 6;
const PHOT_WIDTH: usize = 200;
/// Number of 2×2 pools: the image side must be at least 2⁵ = 32 pixels.
const N_POOLS: u32 = 5;

/// Shape of the CNN's inputs; the layer widths are fixed by the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CnnConfig {
    /// Side of the square cutouts in pixels (127 or 64 for GalaxiesML; at least 32).
    pub image_size: usize,
    /// Number of image bands (5: g, r, i, z, y).
    pub n_bands: usize,
    /// Number of magnitudes fed to the photometry branch (5 cmodel magnitudes).
    pub n_mags: usize,
    /// What the last layer predicts (the paper's: one redshift).
    #[serde(default, skip_serializing_if = "Head::is_point")]
    pub head: Head,
}

impl CnnConfig {
    /// The GalaxiesML configuration for `image_size`-pixel cutouts: 5 bands, 5 magnitudes, the
    /// point head.
    pub fn galaxiesml(image_size: usize) -> Self {
        CnnConfig { image_size, n_bands: 5, n_mags: 5, head: Head::Point }
    }

    /// Side of the feature map after the five floor-mode pools.
    pub(crate) fn final_side(&self) -> usize {
        self.image_size >> N_POOLS
    }

    /// Length of the flattened image features (512 · side²; 4608 at 127 px, 2048 at 64 px).
    pub(crate) fn flat_features(&self) -> usize {
        CONVS[CONVS.len() - 1].0 * self.final_side() * self.final_side()
    }

    /// Trainable scalars of the CNN of this configuration (7,151,073 at 5×127×127), counted
    /// without building it; `None` if the count overflows (an absurd configuration, e.g. from a
    /// damaged `model.json`).
    pub fn parameter_count(&self) -> Option<usize> {
        let dense = |inputs: usize, outputs: usize| inputs.checked_mul(outputs)?.checked_add(outputs);
        let mut total = 0usize;
        let mut channels = self.n_bands;
        for &(out, _, _) in &CONVS {
            total = total.checked_add(dense(channels.checked_mul(9)?, out)?)?;
            channels = out;
        }
        let side = self.final_side();
        let mut width = CONVS[CONVS.len() - 1].0.checked_mul(side)?.checked_mul(side)?;
        for &out in &IMAGE_DENSE {
            total = total.checked_add(dense(width, out)?)?;
            width = out;
        }
        let mut phot_width = self.n_mags;
        for _ in 0..PHOT_LAYERS {
            total = total.checked_add(dense(phot_width, PHOT_WIDTH)?)?;
            phot_width = PHOT_WIDTH;
        }
        total.checked_add(dense(width.checked_add(phot_width)?, self.head.outputs())?)
    }

    /// Why this configuration cannot be built, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.image_size < 1 << N_POOLS {
            Some(format!(
                "the CNN needs images of at least 32x32 pixels (five 2x2 poolings), got {0}x{0}",
                self.image_size
            ))
        } else if self.n_bands == 0 || self.n_mags == 0 {
            Some("the CNN needs at least one image band and one magnitude".into())
        } else if let Some(problem) = self.head.problem() {
            Some(problem)
        } else if self.parameter_count().is_none() {
            Some(format!(
                "a CNN for {0}x{0} images of {1} bands and {2} magnitudes has too many weights to build",
                self.image_size, self.n_bands, self.n_mags
            ))
        } else {
            None
        }
    }
}

/// The CNN; build it with [`Cnn::new`] from a `VarBuilder` (variables under `conv{1..7}`,
/// `dense{1..3}`, `phot{1..6}`, `head`).
#[derive(Debug, Clone)]
pub(crate) struct Cnn {
    convs: Vec<(Conv3x3, bool)>,
    image_dense: Vec<Dense>,
    phot: Vec<Dense>,
    head: Dense,
}

impl Cnn {
    pub(crate) fn new(cfg: &CnnConfig, vb: VarBuilder) -> Result<Self> {
        if let Some(problem) = cfg.problem() {
            candle_core::bail!("{problem}")
        }
        let mut convs = Vec::with_capacity(CONVS.len());
        let mut channels = cfg.n_bands;
        for (i, &(out, act, pool)) in CONVS.iter().enumerate() {
            convs.push((Conv3x3::new(channels, out, act, vb.pp(format!("conv{}", i + 1)))?, pool));
            channels = out;
        }
        let mut image_dense = Vec::with_capacity(IMAGE_DENSE.len());
        let mut width = cfg.flat_features();
        for (i, &out) in IMAGE_DENSE.iter().enumerate() {
            image_dense.push(Dense::new(width, out, Act::Tanh, vb.pp(format!("dense{}", i + 1)))?);
            width = out;
        }
        let mut phot = Vec::with_capacity(PHOT_LAYERS);
        let mut phot_width = cfg.n_mags;
        for i in 0..PHOT_LAYERS {
            phot.push(Dense::new(phot_width, PHOT_WIDTH, Act::Relu, vb.pp(format!("phot{}", i + 1)))?);
            phot_width = PHOT_WIDTH;
        }
        let head = Dense::new(width + phot_width, cfg.head.outputs(), Act::Linear, vb.pp("head"))?;
        Ok(Cnn { convs, image_dense, phot, head })
    }

    /// `images`: `(batch, n_bands, S, S)`, already divided by [`IMAGE_SCALE`]; `mags`:
    /// `(batch, n_mags)`, raw. Returns `(batch, 1)` redshifts, or `(batch, 3K)` mixture parameters
    /// for the mixture head.
    pub(crate) fn forward(&self, images: &Tensor, mags: &Tensor) -> Result<Tensor> {
        // The convolutions and pools work channels-last (see `layers.rs`); the flatten is
        // channels-first, (C, H, W) order, like Keras' `channels_first` and PyTorch.
        let mut x = images.permute((0, 2, 3, 1))?;
        for (conv, pool) in &self.convs {
            x = conv.forward_pooled(&x, *pool)?;
        }
        let mut x = x.permute((0, 3, 1, 2))?.flatten_from(1)?;
        for layer in &self.image_dense {
            x = layer.forward(&x)?;
        }
        let mut p = mags.clone();
        for layer in &self.phot {
            p = layer.forward(&p)?;
        }
        self.head.forward(&Tensor::cat(&[&x, &p], 1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{glorot_init, parameter_count};
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn count(image_size: usize) -> usize {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        Cnn::new(&CnnConfig::galaxiesml(image_size), vb).unwrap();
        parameter_count(&varmap)
    }

    #[test]
    fn parameter_counts() {
        // docs/MODELS.md: 7,151,073 at 5×127×127.
        assert_eq!(count(127), 7_151_073);
        // At 64×64 only the first dense layer changes. Pools: 64 → 32 → 16 → 8 → 4 → 2, so the
        // flatten has 512·2·2 = 2048 features instead of 512·3·3 = 4608:
        //   convs  5·32·9+32 + 32·64·9+64 + 64·128·9+128 + 128·256·9+256 + 256·256·9+256
        //          + 256·512·9+512 + 512·512·9+512                    = 4,519,040
        //   dense1 2048·512+512 = 1,049,088 (4608·512+512 = 2,359,808 at 127 px)
        //   dense2 512·128+128 = 65,664; dense3 128·32+32 = 4,128
        //   phot   5·200+200 + 5·(200·200+200)                         = 202,200
        //   head   232+1                                               = 233
        //   total  4,519,040 + 1,049,088 + 65,664 + 4,128 + 202,200 + 233 = 5,840,353
        assert_eq!(count(64), 5_840_353);
        assert_eq!(count(127) - count(64), 2_359_808 - 1_049_088);
        // Counted without building, as checkpoints are checked before anything is allocated.
        for size in [32, 64, 127] {
            assert_eq!(CnnConfig::galaxiesml(size).parameter_count(), Some(count(size)));
        }
        let odd = CnnConfig { image_size: 40, n_bands: 3, n_mags: 7, head: Head::Mdn { components: 4 } };
        let varmap = VarMap::new();
        Cnn::new(&odd, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).unwrap();
        assert_eq!(odd.parameter_count(), Some(parameter_count(&varmap)));
        // The mixture head of K = 4 adds 11 outputs of 233 weights each to the 64-px CNN.
        let mdn = CnnConfig { head: Head::Mdn { components: 4 }, ..CnnConfig::galaxiesml(64) };
        assert_eq!(mdn.parameter_count(), Some(5_840_353 + 11 * 233));
        // A damaged model.json's size overflows the count: refused, not a panic.
        let absurd = CnnConfig::galaxiesml(usize::MAX / 2);
        assert_eq!(absurd.parameter_count(), None);
        assert!(absurd.problem().unwrap().contains("too many weights"));
    }

    #[test]
    fn rejects_images_smaller_than_32_pixels() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let err = Cnn::new(&CnnConfig::galaxiesml(31), vb).unwrap_err().to_string();
        assert!(err.contains("at least 32x32"), "{err}");
    }

    /// The whole network's autograd gradient against central finite differences, in f64, on a
    /// 32×32 input (the smallest the five pools allow), for parameters in every kind of layer
    /// and for input pixels (which checks the gradient through every pooling step).
    #[test]
    fn whole_cnn_gradient_matches_finite_differences() {
        let dev = Device::Cpu;
        let cfg = CnnConfig::galaxiesml(32);
        let varmap = VarMap::new();
        let cnn = Cnn::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F64, &dev)).unwrap();
        glorot_init(&varmap, 3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let b = 2;
        let pixels: Vec<f64> = (0..b * 5 * 32 * 32).map(|_| rng.random::<f64>()).collect();
        let image = Var::from_tensor(&Tensor::from_vec(pixels, (b, 5, 32, 32), &dev).unwrap()).unwrap();
        let mags: Vec<f64> = (0..b * 5).map(|_| 0.5 + rng.random::<f64>()).collect();
        let mags = Tensor::from_vec(mags, (b, 5), &dev).unwrap();
        let weights = Tensor::new(&[[0.7f64], [-1.3]], &dev).unwrap();
        let objective = || -> f64 {
            let out = cnn.forward(image.as_tensor(), &mags).unwrap();
            (out * &weights).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
        };
        let out = cnn.forward(image.as_tensor(), &mags).unwrap();
        let grads = (out * &weights).unwrap().sum_all().unwrap().backward().unwrap();

        let vars = varmap.data().lock().unwrap().clone();
        let mut checked = 0;
        let mut probe = |var: &Var, flat: usize| {
            let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap()[flat];
            let original = var.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let eps = 1e-5;
            let shifted = |delta: f64| {
                let mut v = original.clone();
                v[flat] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &dev).unwrap()).unwrap();
                objective()
            };
            let fd = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            var.set(&Tensor::from_vec(original, var.shape(), &dev).unwrap()).unwrap();
            let tol = 1e-6 * (1.0 + fd.abs());
            assert!((fd - analytic).abs() < tol, "element {flat}: autograd {analytic} vs finite difference {fd}");
            checked += 1;
        };
        for name in [
            "conv1.weight",
            "conv3.weight",
            "conv5.bias",
            "conv7.weight",
            "dense1.weight",
            "phot1.weight",
            "head.weight",
        ] {
            let var = &vars[name];
            for k in 0..3 {
                probe(var, (k * 7919 + 13) % var.elem_count());
            }
        }
        // Input pixels: their gradient flows back through all seven convolutions and five pools.
        for k in [0, 1, 33, 1023, 4000, 9000] {
            probe(&image, k);
        }
        assert_eq!(checked, 27);
    }
}
