//! Training losses.
//!
//! The default is the loss of Tanaka et al. (2018) that the paper trains and evaluates with
//! (`docs/MODELS.md`; `docs/METRICS.md`, key `loss`): `mean(1 - 1 / (1 + (dz / γ)²))`,
//! γ = 0.15, `dz = (zphot - zspec) / (1 + zspec)`. This is the evaluation definition (normalised
//! by `1 + zspec`); the authors' Keras training losses differ slightly (`docs/METRICS.md`, "Where
//! paper prose and code differ": un-normalised in train_cnn.py, normalised by `1 + zphot` in
//! train_nn.py) — pzbench trains both models on the evaluation definition so that the validation
//! loss it early-stops on is the benchmark's own `loss`. Mean squared error of raw redshifts is
//! offered as an alternative. A mixture-density head ([`crate::Head::Mdn`]) trains on the
//! negative log-likelihood of its mixtures (`mdn.rs`), optionally plus a multiple of the Tanaka
//! loss of the mixtures' means ([`Objective`]).

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

use super::mdn::{mean_tensor, nll_tensor, GaussianMixtures};

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
    /// The mean negative log-likelihood of z_spec under the predicted Gaussian mixtures (`mdn.rs`);
    /// the loss of the mixture-density head, and only of it.
    Nll,
}

impl LossKind {
    /// The loss as a differentiable scalar of the model's outputs `out` and the redshifts `z`
    /// (n, 1): `out` is (n, 1) redshifts for Tanaka and MSE, (n, 3K) mixture parameters for NLL.
    pub(crate) fn tensor(self, out: &Tensor, z: &Tensor) -> Result<Tensor> {
        match self {
            LossKind::Tanaka => {
                let dz = ((out - z)? / (z + 1.0)?)?;
                let ratio2 = (dz / TANAKA_GAMMA)?.sqr()?;
                let per_galaxy = (1.0 - (ratio2 + 1.0)?.recip()?)?;
                per_galaxy.mean_all()
            }
            LossKind::Mse => (out - z)?.sqr()?.mean_all(),
            LossKind::Nll => nll_tensor(out, z),
        }
    }

    /// The same loss computed in f64 on the host, for validation sets of any size: `out` holds
    /// the outputs row-major, one redshift per galaxy, or 3K mixture parameters for NLL.
    pub(crate) fn value(self, out: &[f32], z: &[f32]) -> f64 {
        let mean_of = |term: fn(f64, f64) -> f64| {
            out.iter().zip(z).map(|(&p, &s)| term(f64::from(p), f64::from(s))).sum::<f64>() / z.len() as f64
        };
        match self {
            LossKind::Tanaka => mean_of(tanaka),
            LossKind::Mse => mean_of(|p, s| (p - s) * (p - s)),
            LossKind::Nll => mixtures_of(out, z.len()).nll(z),
        }
    }
}

/// The mixtures of `n` galaxies' outputs `out` (n × 3K).
fn mixtures_of(out: &[f32], n: usize) -> GaussianMixtures {
    GaussianMixtures::from_outputs(out, out.len() / (3 * n).max(1))
}

/// One galaxy's term of the Tanaka et al. (2018) loss: `1 − 1 / (1 + (dz / γ)²)`,
/// `dz = (zphot − zspec) / (1 + zspec)`.
pub(crate) fn tanaka(z_phot: f64, z_spec: f64) -> f64 {
    let ratio = (z_phot - z_spec) / (1.0 + z_spec) / TANAKA_GAMMA;
    1.0 - 1.0 / (1.0 + ratio * ratio)
}

/// What training minimises and early stopping watches: the loss, plus, for the mixture head,
/// `tanaka_weight` times the Tanaka loss of the mixtures' means `Σ_k w_k μ_k` (0 by default), a
/// term that pulls the mixtures towards good point estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Objective {
    pub loss: LossKind,
    pub tanaka_weight: f64,
}

impl Objective {
    /// The objective as a differentiable scalar ([`LossKind::tensor`]).
    pub(crate) fn tensor(&self, out: &Tensor, z: &Tensor) -> Result<Tensor> {
        let loss = self.loss.tensor(out, z)?;
        if self.tanaka_weight == 0.0 {
            return Ok(loss);
        }
        loss + (LossKind::Tanaka.tensor(&mean_tensor(out)?, z)? * self.tanaka_weight)?
    }

    /// The objective in f64 on the host ([`LossKind::value`]).
    pub(crate) fn value(&self, out: &[f32], z: &[f32]) -> f64 {
        let loss = self.loss.value(out, z);
        if self.tanaka_weight == 0.0 {
            return loss;
        }
        let mixtures = mixtures_of(out, z.len());
        let terms = z.iter().enumerate().map(|(i, &s)| tanaka(mixtures.mean(i), f64::from(s)));
        loss + self.tanaka_weight * terms.sum::<f64>() / z.len() as f64
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

    /// The NLL and the objective with a Tanaka term, on the device and on the host: the host's
    /// objective is the NLL plus w × the Tanaka loss of Σ w_k μ_k.
    #[test]
    fn nll_and_objective_on_device_and_host() {
        let dev = Device::Cpu;
        // Two galaxies, K = 2: logits, means, width outputs.
        let out = [0.2f32, -0.4, 0.5, 0.9, -2.0, -1.0, 1.0, 0.0, 1.8, 2.1, -3.0, -2.5];
        let z = [0.6f32, 2.0];
        let out_t = Tensor::from_slice(&out, (2, 6), &dev).unwrap();
        let z_t = Tensor::from_slice(&z, (2, 1), &dev).unwrap();
        let mixtures = GaussianMixtures::from_outputs(&out, 2);
        let nll = LossKind::Nll.value(&out, &z);
        assert_eq!(nll, mixtures.nll(&z));
        let device = LossKind::Nll.tensor(&out_t, &z_t).unwrap().to_scalar::<f32>().unwrap();
        assert!((f64::from(device) - nll).abs() < 1e-5 * (1.0 + nll.abs()), "{device} vs {nll}");
        let objective = Objective { loss: LossKind::Nll, tanaka_weight: 0.5 };
        let tanaka_of_means = (tanaka(mixtures.mean(0), 0.6f32.into()) + tanaka(mixtures.mean(1), 2.0)) / 2.0;
        assert!(tanaka_of_means > 0.01, "a term that matters: {tanaka_of_means}");
        let expected = nll + 0.5 * tanaka_of_means;
        assert!((objective.value(&out, &z) - expected).abs() < 1e-15);
        let device = objective.tensor(&out_t, &z_t).unwrap().to_scalar::<f32>().unwrap();
        assert!((f64::from(device) - expected).abs() < 1e-5 * (1.0 + expected.abs()), "{device} vs {expected}");
        let plain = Objective { loss: LossKind::Nll, tanaka_weight: 0.0 };
        assert_eq!(plain.value(&out, &z), nll);
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&LossKind::Tanaka).unwrap(), "\"tanaka\"");
        assert_eq!(serde_json::from_str::<LossKind>("\"mse\"").unwrap(), LossKind::Mse);
        assert_eq!(serde_json::to_string(&LossKind::Nll).unwrap(), "\"nll\"");
    }
}
