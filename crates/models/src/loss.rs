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
//! negative log-likelihood of its mixtures (`mdn.rs`), optionally plus a multiple of a Tanaka
//! term: the Tanaka loss of the mixtures' means, or its expectation over their components
//! ([`TanakaTarget`], [`Objective`]).

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

use super::mdn::{mean_tensor, mixture_tensors, nll_tensor, GaussianMixtures};

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

/// What the mixture head's Tanaka term (`--tanaka-weight`) scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TanakaTarget {
    /// The Tanaka loss of each mixture's mean `Σ_k w_k μ_k`: pulls the mean towards the truth.
    #[default]
    Mean,
    /// Its expectation over the components, `Σ_k w_k L(μ_k)`: the Tanaka loss of a component mean
    /// drawn with the mixture's weights. It moves weight to the components whose means are within
    /// the loss's window of the truth, whatever their widths, so that a narrow component on a
    /// wrong redshift does not outweigh a broad one on the right redshift — the mode's failure
    /// that the outlier fraction counts (docs/mdn.md). A differentiable stand-in for the Tanaka
    /// loss of the mode, which has no useful gradient.
    Components,
}

impl TanakaTarget {
    /// Whether this is [`TanakaTarget::Mean`] (serde's `skip_serializing_if`).
    pub(crate) fn is_mean(&self) -> bool {
        *self == TanakaTarget::Mean
    }
}

/// What training minimises and early stopping watches: the loss, plus, for the mixture head,
/// `tanaka_weight` times the Tanaka term of `tanaka_target` (0 by default), a term that pulls the
/// mixtures towards good point estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Objective {
    pub loss: LossKind,
    pub tanaka_weight: f64,
    pub tanaka_target: TanakaTarget,
}

impl Objective {
    /// The objective as a differentiable scalar ([`LossKind::tensor`]).
    pub(crate) fn tensor(&self, out: &Tensor, z: &Tensor) -> Result<Tensor> {
        let loss = self.loss.tensor(out, z)?;
        if self.tanaka_weight == 0.0 {
            return Ok(loss);
        }
        let term = match self.tanaka_target {
            TanakaTarget::Mean => LossKind::Tanaka.tensor(&mean_tensor(out)?, z)?,
            TanakaTarget::Components => {
                let (log_w, mu, _) = mixture_tensors(out)?;
                let dz = (mu.broadcast_sub(z)?.broadcast_div(&(z + 1.0)?)? / TANAKA_GAMMA)?;
                let per_component = (1.0 - (dz.sqr()? + 1.0)?.recip()?)?;
                (log_w.exp()? * per_component)?.sum(1)?.mean_all()?
            }
        };
        loss + (term * self.tanaka_weight)?
    }

    /// The objective in f64 on the host ([`LossKind::value`]).
    pub(crate) fn value(&self, out: &[f32], z: &[f32]) -> f64 {
        let loss = self.loss.value(out, z);
        if self.tanaka_weight == 0.0 {
            return loss;
        }
        let mixtures = mixtures_of(out, z.len());
        let term = |i: usize, s: f64| match self.tanaka_target {
            TanakaTarget::Mean => tanaka(mixtures.mean(i), s),
            TanakaTarget::Components => {
                let range = i * mixtures.k..(i + 1) * mixtures.k;
                mixtures.weights[range.clone()]
                    .iter()
                    .zip(&mixtures.means[range])
                    .map(|(w, &mu)| w * tanaka(mu, s))
                    .sum()
            }
        };
        let terms = z.iter().enumerate().map(|(i, &s)| term(i, f64::from(s)));
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
        let objective = Objective { loss: LossKind::Nll, tanaka_weight: 0.5, tanaka_target: TanakaTarget::Mean };
        let tanaka_of_means = (tanaka(mixtures.mean(0), 0.6f32.into()) + tanaka(mixtures.mean(1), 2.0)) / 2.0;
        assert!(tanaka_of_means > 0.01, "a term that matters: {tanaka_of_means}");
        let expected = nll + 0.5 * tanaka_of_means;
        assert!((objective.value(&out, &z) - expected).abs() < 1e-15);
        let device = objective.tensor(&out_t, &z_t).unwrap().to_scalar::<f32>().unwrap();
        assert!((f64::from(device) - expected).abs() < 1e-5 * (1.0 + expected.abs()), "{device} vs {expected}");
        let plain = Objective { loss: LossKind::Nll, tanaka_weight: 0.0, tanaka_target: TanakaTarget::Mean };
        assert_eq!(plain.value(&out, &z), nll);

        // Over the components: w × Σ_k w_ik L(μ_ik), by hand from the mixtures, host and device.
        let components = Objective { tanaka_target: TanakaTarget::Components, ..objective };
        let by_hand = |i: usize, s: f64| -> f64 {
            (0..2).map(|k| mixtures.weights[2 * i + k] * tanaka(mixtures.means[2 * i + k], s)).sum()
        };
        let expected_components = (by_hand(0, 0.6f32.into()) + by_hand(1, 2.0)) / 2.0;
        assert!((expected_components - tanaka_of_means).abs() > 0.01, "another term: {expected_components}");
        let expected = nll + 0.5 * expected_components;
        assert!((components.value(&out, &z) - expected).abs() < 1e-15);
        let device = components.tensor(&out_t, &z_t).unwrap().to_scalar::<f32>().unwrap();
        assert!((f64::from(device) - expected).abs() < 1e-5 * (1.0 + expected.abs()), "{device} vs {expected}");
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&TanakaTarget::Components).unwrap(), "\"components\"");
        assert_eq!(serde_json::to_string(&LossKind::Tanaka).unwrap(), "\"tanaka\"");
        assert_eq!(serde_json::from_str::<LossKind>("\"mse\"").unwrap(), LossKind::Mse);
        assert_eq!(serde_json::to_string(&LossKind::Nll).unwrap(), "\"nll\"");
    }
}
