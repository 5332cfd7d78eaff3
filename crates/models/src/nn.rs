//! The photometry-only NN of the paper, exactly as `docs/MODELS.md` describes train_nn.py:
//!
//! ```text
//! 5 min-max-scaled magnitudes ─ 4 × Dense200 relu ─┐
//!            └────────────── concatenate [input, hidden] (5 + 200) ─ Dense1 (linear)
//! ```
//! 122,006 parameters for 5 magnitudes. The scaler lives in the [`super::Model`] (it is fitted on
//! the training set and saved in the checkpoint); this module sees already-scaled inputs. With
//! the mixture-density head ([`Head::Mdn`]) the last layer is Dense(3K) instead of Dense(1), its
//! outputs the mixture's parameters (`mdn.rs`).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::layers::{Act, Dense};
use super::mdn::Head;

const HIDDEN_LAYERS: usize = 4;
const HIDDEN_WIDTH: usize = 200;

/// Shape of the NN's input; the layer widths are fixed by the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NnConfig {
    /// Number of magnitudes (5 cmodel magnitudes g, r, i, z, y for GalaxiesML).
    pub n_mags: usize,
    /// What the last layer predicts (the paper's: one redshift).
    #[serde(default, skip_serializing_if = "Head::is_point")]
    pub head: Head,
}

impl NnConfig {
    /// The GalaxiesML configuration: 5 magnitudes, the point head.
    pub fn galaxiesml() -> Self {
        NnConfig { n_mags: 5, head: Head::Point }
    }

    /// Trainable scalars of the NN of this configuration (122,006 for 5 magnitudes and the point
    /// head), counted without building it; `None` if the count overflows.
    pub fn parameter_count(&self) -> Option<usize> {
        let first = self.n_mags.checked_mul(HIDDEN_WIDTH)?.checked_add(HIDDEN_WIDTH)?;
        let hidden = (HIDDEN_LAYERS - 1) * (HIDDEN_WIDTH * HIDDEN_WIDTH + HIDDEN_WIDTH);
        let outputs = self.head.outputs();
        let head = self.n_mags.checked_add(HIDDEN_WIDTH)?.checked_add(1)?.checked_mul(outputs)?;
        first.checked_add(hidden)?.checked_add(head)
    }
}

/// The NN; variables under `hidden{1..4}` and `head`.
#[derive(Debug, Clone)]
pub(crate) struct Nn {
    hidden: Vec<Dense>,
    head: Dense,
}

impl Nn {
    pub(crate) fn new(cfg: &NnConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.n_mags == 0 {
            candle_core::bail!("the NN needs at least one magnitude")
        }
        if let Some(problem) = cfg.head.problem() {
            candle_core::bail!("{problem}")
        }
        let mut hidden = Vec::with_capacity(HIDDEN_LAYERS);
        let mut width = cfg.n_mags;
        for i in 0..HIDDEN_LAYERS {
            hidden.push(Dense::new(width, HIDDEN_WIDTH, Act::Relu, vb.pp(format!("hidden{}", i + 1)))?);
            width = HIDDEN_WIDTH;
        }
        let head = Dense::new(cfg.n_mags + width, cfg.head.outputs(), Act::Linear, vb.pp("head"))?;
        Ok(Nn { hidden, head })
    }

    /// `mags`: `(batch, n_mags)`, min-max scaled. Returns `(batch, 1)` redshifts, or
    /// `(batch, 3K)` mixture parameters for the mixture head.
    pub(crate) fn forward(&self, mags: &Tensor) -> Result<Tensor> {
        let mut h = mags.clone();
        for layer in &self.hidden {
            h = layer.forward(&h)?;
        }
        self.head.forward(&Tensor::cat(&[mags, &h], 1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::parameter_count;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn parameter_count_and_shape() {
        let varmap = VarMap::new();
        let nn = Nn::new(&NnConfig::galaxiesml(), VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).unwrap();
        // 5·200+200 + 3·(200·200+200) + (5+200)+1 = 1,200 + 120,600 + 206.
        assert_eq!(parameter_count(&varmap), 122_006);
        assert_eq!(NnConfig::galaxiesml().parameter_count(), Some(122_006));
        assert_eq!(NnConfig { n_mags: 9, head: Head::Point }.parameter_count(), Some(122_006 + 4 * 200 + 4));
        assert_eq!(NnConfig { n_mags: usize::MAX / 100, head: Head::Point }.parameter_count(), None);
        let out = nn.forward(&Tensor::zeros((3, 5), DType::F32, &Device::Cpu).unwrap()).unwrap();
        assert_eq!(out.dims2().unwrap(), (3, 1));
        // The mixture head: Dense(205 -> 3K) instead of Dense(205 -> 1), 14 * 206 more for K = 5.
        let mdn = NnConfig { head: Head::Mdn { components: 5 }, ..NnConfig::galaxiesml() };
        let varmap = VarMap::new();
        let nn = Nn::new(&mdn, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).unwrap();
        assert_eq!(parameter_count(&varmap), 122_006 + 14 * 206);
        assert_eq!(mdn.parameter_count(), Some(parameter_count(&varmap)));
        let out = nn.forward(&Tensor::zeros((3, 5), DType::F32, &Device::Cpu).unwrap()).unwrap();
        assert_eq!(out.dims2().unwrap(), (3, 15));
        let none = NnConfig { head: Head::Mdn { components: 0 }, ..NnConfig::galaxiesml() };
        let err = Nn::new(&none, VarBuilder::from_varmap(&VarMap::new(), DType::F32, &Device::Cpu)).unwrap_err();
        assert!(err.to_string().contains("between 1 and 256 components"), "{err}");
    }
}
