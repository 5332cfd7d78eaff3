//! Training losses.
//!
//! The default is the loss of Tanaka et al. (2018) that the paper trains and evaluates with
//! (`docs/MODELS.md`; `docs/METRICS.md`, key `loss`): `mean(1 - 1 / (1 + (dz / γ)²))`,
//! γ = 0.15, `dz = (zphot - zspec) / (1 + zspec)`. This is the evaluation definition (normalised
//! by `1 + zspec`); the authors' Keras training losses differ slightly (`docs/METRICS.md`, "Where
//! paper prose and code differ": un-normalised in train_cnn.py, normalised by `1 + zphot` in
//! train_nn.py) — pzbench trains both models on the evaluation definition so that the validation
//! loss it early-stops on is the benchmark's own `loss`. Mean squared error of raw redshifts is
//! offered as an alternative.

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

/// γ of the Tanaka et al. (2018) loss (`docs/METRICS.md`).
pub const TANAKA_GAMMA: f64 = 0.15;

/// Which loss training minimises (and early stopping watches on the validation set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// `mean(1 - 1 / (1 + (dz / 0.15)²))`, `dz = (zphot - zspec) / (1 + zspec)`.
    #[default]
    Tanaka,
    /// `mean((zphot - zspec)²)`.
    Mse,
}

impl LossKind {
    /// The loss as a differentiable scalar; `pred` and `z` have the same shape.
    pub(crate) fn tensor(self, pred: &Tensor, z: &Tensor) -> Result<Tensor> {
        let diff = (pred - z)?;
        match self {
            LossKind::Tanaka => {
                let dz = (diff / (z + 1.0)?)?;
                let ratio2 = (dz / TANAKA_GAMMA)?.sqr()?;
                let per_galaxy = (1.0 - (ratio2 + 1.0)?.recip()?)?;
                per_galaxy.mean_all()
            }
            LossKind::Mse => diff.sqr()?.mean_all(),
        }
    }

    /// The same loss computed in f64 on the host, for validation sets of any size.
    pub(crate) fn value(self, pred: &[f32], z: &[f32]) -> f64 {
        let per_galaxy = pred.iter().zip(z).map(|(&p, &s)| {
            let (p, s) = (f64::from(p), f64::from(s));
            match self {
                LossKind::Tanaka => {
                    let ratio = (p - s) / (1.0 + s) / TANAKA_GAMMA;
                    1.0 - 1.0 / (1.0 + ratio * ratio)
                }
                LossKind::Mse => (p - s) * (p - s),
            }
        });
        per_galaxy.sum::<f64>() / pred.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn tanaka_against_hand_values() {
        // dz = (1.15 - 1.0) / 2 = 0.075 -> (dz/0.15)^2 = 0.25 -> 1 - 1/1.25 = 0.2.
        // dz = (0.0 - 0.5) / 1.5 = -1/3 -> (dz/0.15)^2 = 400/81 -> 1 - 81/481 = 400/481.
        // dz = 0 -> 0.
        let pred = [1.15f32, 0.0, 2.0];
        let z = [1.0f32, 0.5, 2.0];
        let expected = (0.2 + 400.0 / 481.0 + 0.0) / 3.0;
        assert!((LossKind::Tanaka.value(&pred, &z) - expected).abs() < 1e-7);
        let dev = Device::Cpu;
        let p = Tensor::new(&pred, &dev).unwrap();
        let s = Tensor::new(&z, &dev).unwrap();
        let t = LossKind::Tanaka.tensor(&p, &s).unwrap().to_scalar::<f32>().unwrap();
        assert!((f64::from(t) - expected).abs() < 1e-6, "{t} vs {expected}");
    }

    #[test]
    fn mse_against_hand_values() {
        let pred = [1.0f32, 0.0, 2.5];
        let z = [0.5f32, 0.5, 2.5];
        assert!((LossKind::Mse.value(&pred, &z) - 0.5 / 3.0).abs() < 1e-12);
        let dev = Device::Cpu;
        let p = Tensor::new(&pred, &dev).unwrap();
        let s = Tensor::new(&z, &dev).unwrap();
        let t = LossKind::Mse.tensor(&p, &s).unwrap().to_scalar::<f32>().unwrap();
        assert!((f64::from(t) - 0.5 / 3.0).abs() < 1e-7);
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&LossKind::Tanaka).unwrap(), "\"tanaka\"");
        assert_eq!(serde_json::from_str::<LossKind>("\"mse\"").unwrap(), LossKind::Mse);
    }
}
