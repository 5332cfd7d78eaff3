//! The mixture-density head (Bishop 1994, "Mixture Density Networks", NCRG/94/004; for
//! photometric redshifts D'Isanto & Polsterer 2018, A&A 609, A111): instead of one redshift, the
//! last layer of the NN or the CNN emits the parameters of a Gaussian mixture of K components,
//!
//! ```text
//! p(z | x) = Σ_k w_k N(z; μ_k, σ_k²),   w = softmax(a),   μ_k = m_k,   σ_k = softplus(s_k) + σ_min
//! ```
//!
//! from the 3K outputs `(a_0..a_{K−1}, m_0..m_{K−1}, s_0..s_{K−1})` of the linear head
//! (Bishop 1994, eqs. 24–26, with softplus instead of the exponential for the widths, as
//! D'Isanto & Polsterer 2018 §3.2 do, so that a width grows linearly rather than exponentially
//! with its output). Training minimises the negative log-likelihood of the spectroscopic
//! redshifts (Bishop 1994, eq. 28),
//!
//! ```text
//! NLL = −(1/n) Σ_i ln Σ_k exp(ln w_ik − ln σ_ik − ½ u_ik² − ½ ln 2π),   u_ik = (z_i − μ_ik)/σ_ik,
//! ```
//!
//! written with the log-sum-exp identity `ln Σ exp(x_k) = M + ln Σ exp(x_k − M)`, M = max_k x_k,
//! and `ln w = a − LSE(a)`, so that no exponential overflows and a redshift far from every
//! component (u ≈ 10³) still gives a finite loss and gradient instead of ln 0. M is held
//! constant in the backward pass: the identity holds for any M, so the gradient is exact.
//!
//! The width floor σ_min bounds every component's density by 1/(σ_min √(2π)): without it the
//! likelihood of a mixture is unbounded (a component collapsing onto one training redshift,
//! Bishop 1994 §5), and early stopping on the validation NLL would have to catch the collapse.

use candle_core::{Result, Tensor, D};
use pzbench_metrics::pdf::{normal_cdf, Pdf, Pdfs, PointEstimate};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Mixture components of `--head mdn` unless `--components` says otherwise.
pub const DEFAULT_COMPONENTS: usize = 5;

/// The most components a head may have: far beyond any use (the photo-z MDNs of D'Isanto &
/// Polsterer 2018 use 5), small enough that a damaged `model.json` cannot ask for an absurd head.
pub const MAX_COMPONENTS: usize = 256;

/// σ_min, the floor of every component's width (in redshift): 10⁻³, twenty times below the
/// scatter of the best photo-z (σ_NMAD ≈ 0.02 on DC2, docs/models.md), so it never binds a
/// useful width, and it caps the density at 1/(σ_min √(2π)) ≈ 399.
pub const SIGMA_FLOOR: f64 = 1e-3;

/// ½ ln 2π, the normal density's normalisation in log form.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// What the last layer predicts: one redshift (the paper's) or a Gaussian mixture. Recorded in
/// `model.json` inside the architecture as `"head": {"type": "mdn", "components": 5}` (absent
/// for the point head, so the paper's checkpoints are unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Head {
    /// One redshift per galaxy (train_cnn.py, train_nn.py).
    #[default]
    Point,
    /// A Gaussian mixture of `components` components per galaxy.
    Mdn { components: usize },
}

impl Head {
    /// Whether this is the point head (the default, not written to `model.json`).
    pub fn is_point(&self) -> bool {
        *self == Head::Point
    }

    /// Outputs of the last layer: 1, or 3K for a mixture (weights, means, widths).
    pub fn outputs(&self) -> usize {
        match self {
            Head::Point => 1,
            Head::Mdn { components } => 3 * components,
        }
    }

    /// Why this head cannot be built, if it cannot: K outside 1..=[`MAX_COMPONENTS`].
    pub(crate) fn problem(&self) -> Option<String> {
        match self {
            Head::Mdn { components } if !(1..=MAX_COMPONENTS).contains(components) => Some(format!(
                "a mixture-density head needs between 1 and {MAX_COMPONENTS} components, got {components} (--components)"
            )),
            _ => None,
        }
    }
}

impl std::fmt::Display for Head {
    /// `point` or `mdn (K = 5)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Head::Point => write!(f, "point"),
            Head::Mdn { components } => write!(f, "mdn (K = {components})"),
        }
    }
}

/// `ln Σ_k exp(x_k)` along the last dimension, kept as a column: `M + ln Σ exp(x − M)` with M the
/// row maximum, held constant for the gradient (module docs).
fn log_sum_exp(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    x.broadcast_sub(&max)?.exp()?.sum_keepdim(D::Minus1)?.log()? + max
}

/// `softplus(x) = ln(1 + eˣ)`, computed as `max(x, 0) + ln(1 + e^(−|x|))` so that neither
/// exponential overflows.
fn softplus(x: &Tensor) -> Result<Tensor> {
    x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// The mixture of a batch of head outputs `raw` (n, 3K) as tensors `(ln w, μ, σ)`, each (n, K).
pub(crate) fn mixture_tensors(raw: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let k = components_of(raw.dim(1)?)?;
    let logits = raw.narrow(1, 0, k)?;
    let log_w = logits.broadcast_sub(&log_sum_exp(&logits)?)?;
    let mu = raw.narrow(1, k, k)?;
    let sigma = (softplus(&raw.narrow(1, 2 * k, k)?)? + SIGMA_FLOOR)?;
    Ok((log_w, mu, sigma))
}

/// K of a head with `outputs` outputs.
fn components_of(outputs: usize) -> Result<usize> {
    if outputs == 0 || !outputs.is_multiple_of(3) {
        candle_core::bail!("a mixture head has 3K outputs (weights, means, widths), got {outputs}")
    }
    Ok(outputs / 3)
}

/// The mean negative log-likelihood of the redshifts `z` (n, 1) under the mixtures of `raw`
/// (n, 3K), as a differentiable scalar (module docs).
pub(crate) fn nll_tensor(raw: &Tensor, z: &Tensor) -> Result<Tensor> {
    let (log_w, mu, sigma) = mixture_tensors(raw)?;
    let u = (z.broadcast_sub(&mu)? / &sigma)?;
    let log_terms = ((log_w - sigma.log()?)? - (u.sqr()? * 0.5)?)?;
    (log_sum_exp(&log_terms)? - HALF_LN_2PI)?.neg()?.mean_all()
}

/// The mixtures' means `Σ_k w_k μ_k`, (n, 1), for a batch of head outputs `raw` (n, 3K).
pub(crate) fn mean_tensor(raw: &Tensor) -> Result<Tensor> {
    let (log_w, mu, _) = mixture_tensors(raw)?;
    (log_w.exp()? * mu)?.sum_keepdim(1)
}

/// The Gaussian mixtures of n galaxies, in f64: K components each, weights (summing to 1),
/// means and widths row-major (n, K), i.e. the column layout `w_k, mu_k, sigma_k` of
/// `docs/PDF_METRICS.md` §1.3 and qp's `mixmod` parameterisation.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtures {
    /// Components per galaxy.
    pub k: usize,
    pub weights: Vec<f64>,
    pub means: Vec<f64>,
    pub sigmas: Vec<f64>,
}

impl GaussianMixtures {
    /// The mixtures of head outputs `raw` (n × 3K, row-major), transformed as on the device
    /// ([`mixture_tensors`]) but in f64: softmax weights (exponentials of `a − max a`), the means
    /// as they are, widths `softplus(s) + σ_min`.
    pub(crate) fn from_outputs(raw: &[f32], k: usize) -> Self {
        let n = raw.len() / (3 * k).max(1);
        let mut mixtures = GaussianMixtures {
            k,
            weights: Vec::with_capacity(n * k),
            means: Vec::with_capacity(n * k),
            sigmas: Vec::with_capacity(n * k),
        };
        for row in raw.chunks_exact(3 * k) {
            let (logits, rest) = row.split_at(k);
            let (means, widths) = rest.split_at(k);
            let max = logits.iter().fold(f64::NEG_INFINITY, |m, &a| m.max(f64::from(a)));
            let exps: Vec<f64> = logits.iter().map(|&a| (f64::from(a) - max).exp()).collect();
            let total: f64 = exps.iter().sum();
            mixtures.weights.extend(exps.iter().map(|e| e / total));
            mixtures.means.extend(means.iter().map(|&m| f64::from(m)));
            mixtures.sigmas.extend(widths.iter().map(|&s| softplus_f64(f64::from(s)) + SIGMA_FLOOR));
        }
        mixtures
    }

    /// Number of galaxies.
    pub fn len(&self) -> usize {
        self.weights.len() / self.k.max(1)
    }

    /// Whether there are no galaxies.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `ln p(z)` of galaxy `i`'s mixture, by log-sum-exp over its components (module docs).
    pub fn log_density(&self, i: usize, z: f64) -> f64 {
        let range = i * self.k..(i + 1) * self.k;
        let terms: Vec<f64> = self.weights[range.clone()]
            .iter()
            .zip(&self.means[range.clone()])
            .zip(&self.sigmas[range])
            .map(|((&w, &mu), &sigma)| {
                let u = (z - mu) / sigma;
                w.ln() - sigma.ln() - 0.5 * u * u - HALF_LN_2PI
            })
            .collect();
        let max = terms.iter().fold(f64::NEG_INFINITY, |m, &t| m.max(t));
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }

    /// The CDF of galaxy `i`'s mixture with every width multiplied by `width_scale`,
    /// `Σ_k w_k Φ((z − μ_k)/(s σ_k))` (Φ as `pzbench score` computes it).
    pub fn cdf(&self, i: usize, z: f64, width_scale: f64) -> f64 {
        let range = i * self.k..(i + 1) * self.k;
        self.weights[range.clone()]
            .iter()
            .zip(&self.means[range.clone()])
            .zip(&self.sigmas[range])
            .map(|((&w, &mu), &sigma)| w * normal_cdf((z - mu) / (width_scale * sigma)))
            .sum()
    }

    /// Multiplies every component's width by `width_scale` (a [`crate::WidthCalibration`]).
    pub fn scale_widths(&mut self, width_scale: f64) {
        self.sigmas.iter_mut().for_each(|sigma| *sigma *= width_scale);
    }

    /// The mean of galaxy `i`'s mixture, `Σ_k w_k μ_k`.
    pub fn mean(&self, i: usize) -> f64 {
        let range = i * self.k..(i + 1) * self.k;
        self.weights[range.clone()].iter().zip(&self.means[range]).map(|(w, mu)| w * mu).sum()
    }

    /// Each galaxy's `point` estimate — the mode, mean or median of its mixture, computed as
    /// `pzbench score` computes them (`docs/PDF_METRICS.md` §2.4, the metrics crate's
    /// [`pzbench_metrics::pdf::Mixture`]), so that scoring the written PDFs with the same
    /// `--point` bins galaxies on these very values.
    pub fn point_estimates(&self, point: PointEstimate) -> pzbench_io::Result<Vec<f64>> {
        let pdfs = Pdfs::mixture(self.k, self.weights.clone(), self.means.clone(), self.sigmas.clone())?;
        let estimate = |pdf: Pdf<'_>| match point {
            PointEstimate::Mode => pdf.mode(),
            PointEstimate::Mean => Some(pdf.mean()),
            PointEstimate::Median => Some(pdf.median()),
        };
        (0..pdfs.len())
            .into_par_iter()
            .map(|i| estimate(pdfs.galaxy(i)))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| pzbench_io::Error::other("a Gaussian mixture without a mode"))
    }

    /// The mean negative log-likelihood of the redshifts `z` (one per galaxy).
    pub fn nll(&self, z: &[f32]) -> f64 {
        let total: f64 = z.iter().enumerate().map(|(i, &z)| -self.log_density(i, f64::from(z))).sum();
        total / z.len().max(1) as f64
    }
}

/// [`softplus`] in f64.
fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The inverse of [`softplus_f64`] (for tests that need a given width).
#[cfg(test)]
pub(crate) fn inverse_softplus(y: f64) -> f64 {
    y + (-(-y).exp_m1()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    /// The head outputs (one galaxy) of a mixture with these weights, means and widths.
    fn outputs(weights: &[f64], means: &[f64], sigmas: &[f64]) -> Vec<f64> {
        let mut raw: Vec<f64> = weights.iter().map(|w| w.ln()).collect();
        raw.extend(means);
        raw.extend(sigmas.iter().map(|s| inverse_softplus(s - SIGMA_FLOOR)));
        raw
    }

    fn as_f32(v: &[f64]) -> Vec<f32> {
        v.iter().map(|&x| x as f32).collect()
    }

    /// `ln N(z; μ, σ²)` in closed form.
    fn log_normal(z: f64, mu: f64, sigma: f64) -> f64 {
        -0.5 * ((z - mu) / sigma).powi(2) - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    }

    #[test]
    fn constants_and_head() {
        assert!((HALF_LN_2PI - 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() <= f64::EPSILON);
        assert_eq!(Head::Point.outputs(), 1);
        assert_eq!(Head::Mdn { components: 5 }.outputs(), 15);
        assert!(Head::Mdn { components: 0 }.problem().unwrap().contains("between 1 and 256"));
        assert!(Head::Mdn { components: MAX_COMPONENTS + 1 }.problem().is_some());
        assert_eq!(Head::Mdn { components: MAX_COMPONENTS }.problem(), None);
        assert_eq!(serde_json::to_string(&Head::Mdn { components: 3 }).unwrap(), r#"{"type":"mdn","components":3}"#);
        assert_eq!(serde_json::from_str::<Head>(r#"{"type":"point"}"#).unwrap(), Head::Point);
        assert_eq!(Head::Mdn { components: 4 }.to_string(), "mdn (K = 4)");
        for x in [-30.0, -1.5, 0.0, 0.7, 40.0] {
            assert!((softplus_f64(x) - (1.0 + f64::exp(x)).ln()).abs() < 1e-15 * (1.0 + x.abs()), "{x}");
        }
        for y in [1e-6, 0.02, 1.0, 5.0] {
            assert!((softplus_f64(inverse_softplus(y)) - y).abs() < 1e-12 * (1.0 + y), "{y}");
        }
    }

    /// One Gaussian: NLL = ln σ + ½ ln 2π + (z − μ)² / (2σ²); two: the closed-form mixture. On
    /// the device (f32) and on the host (f64).
    #[test]
    fn nll_against_closed_forms() {
        let dev = Device::Cpu;
        let one = outputs(&[1.0], &[0.8], &[0.05]);
        let two = outputs(&[0.3, 0.7], &[0.4, 1.1], &[0.02, 0.2]);
        let cases: [(&[f64], f64, f64); 2] = [
            (&one, 0.9, -log_normal(0.9, 0.8, 0.05)),
            (&two, 0.45, -(0.3 * log_normal(0.45, 0.4, 0.02).exp() + 0.7 * log_normal(0.45, 1.1, 0.2).exp()).ln()),
        ];
        for (raw, z, expected) in cases {
            let k = raw.len() / 3;
            let host = GaussianMixtures::from_outputs(&as_f32(raw), k);
            // The f32 outputs round the parameters: compare within f32 resolution.
            assert!((host.nll(&[z as f32]) - expected).abs() < 2e-5 * (1.0 + expected.abs()), "{expected}");
            let device = nll_tensor(
                &Tensor::from_vec(as_f32(raw), (1, 3 * k), &dev).unwrap(),
                &Tensor::new(&[[z as f32]], &dev).unwrap(),
            )
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
            assert!((f64::from(device) - expected).abs() < 2e-5 * (1.0 + expected.abs()), "{device} vs {expected}");
            // In f64 on the device, the same to rounding.
            let exact = nll_tensor(
                &Tensor::from_vec(raw.to_vec(), (1, 3 * k), &dev).unwrap(),
                &Tensor::new(&[[z]], &dev).unwrap(),
            )
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
            assert!((exact - expected).abs() < 1e-12 * (1.0 + expected.abs()), "{exact} vs {expected}");
        }
        assert_eq!(host_weights_sum(&two), 1.0);
    }

    fn host_weights_sum(raw: &[f64]) -> f64 {
        GaussianMixtures::from_outputs(&as_f32(raw), raw.len() / 3).weights.iter().sum::<f64>()
    }

    /// A redshift a thousand widths from every component: a naive ln Σ w N underflows to ln 0 =
    /// −∞; log-sum-exp gives the closed form, finite, on the device in f32 too.
    #[test]
    fn nll_is_stable_far_from_every_component() {
        let dev = Device::Cpu;
        let raw = outputs(&[0.5, 0.5], &[0.1, 0.2], &[0.001 + SIGMA_FLOOR, 0.002]);
        let z = 2.1;
        // The nearer component (by standardised distance) dominates: u = 950 for the second.
        let expected = -(0.5f64.ln() + log_normal(z, 0.2, 0.002));
        let naive = -(0.5 * log_normal(z, 0.1, 0.002).exp() + 0.5 * log_normal(z, 0.2, 0.002).exp()).ln();
        assert!(naive.is_infinite(), "the naive sum underflows: {naive}");
        let host = GaussianMixtures::from_outputs(&as_f32(&raw), 2).nll(&[z as f32]);
        assert!((host - expected).abs() < 1e-4 * expected, "{host} vs {expected}");
        let raw32 = Tensor::from_vec(as_f32(&raw), (1, 6), &dev).unwrap();
        let z32 = Tensor::new(&[[z as f32]], &dev).unwrap();
        let device = nll_tensor(&raw32, &z32).unwrap().to_scalar::<f32>().unwrap();
        assert!((f64::from(device) - expected).abs() < 1e-4 * expected, "{device} vs {expected}");
        let var = Var::from_tensor(&raw32).unwrap();
        let grads = nll_tensor(var.as_tensor(), &z32).unwrap().backward().unwrap();
        let g = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
    }

    /// The gradient of the NLL (and of the mixture mean) with respect to the head outputs:
    /// autograd against central finite differences, in f64, for a batch of three galaxies.
    #[test]
    fn gradients_match_finite_differences() {
        let dev = Device::Cpu;
        let raw: Vec<f64> = [
            outputs(&[0.2, 0.5, 0.3], &[0.3, 0.9, 1.4], &[0.05, 0.1, 0.3]),
            outputs(&[0.9, 0.05, 0.05], &[2.0, 0.1, 0.5], &[0.01, 0.4, 0.02]),
            outputs(&[0.3, 0.3, 0.4], &[0.7, 0.7, 0.71], &[0.2, 0.03, 0.04]),
        ]
        .concat();
        let z = Tensor::new(&[[0.85f64], [1.9], [0.705]], &dev).unwrap();
        for objective in
            [nll_tensor as fn(&Tensor, &Tensor) -> Result<Tensor>, |raw, z| (mean_tensor(raw)? * z)?.sum_all()]
        {
            let value = |values: &[f64]| {
                let t = Tensor::from_vec(values.to_vec(), (3, 9), &dev).unwrap();
                objective(&t, &z).unwrap().to_scalar::<f64>().unwrap()
            };
            let var = Var::from_tensor(&Tensor::from_vec(raw.clone(), (3, 9), &dev).unwrap()).unwrap();
            let grads = objective(var.as_tensor(), &z).unwrap().backward().unwrap();
            let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            for (j, g) in analytic.iter().enumerate() {
                let eps = 1e-6;
                let mut plus = raw.clone();
                plus[j] += eps;
                let mut minus = raw.clone();
                minus[j] -= eps;
                let fd = (value(&plus) - value(&minus)) / (2.0 * eps);
                assert!((fd - g).abs() < 1e-6 * (1.0 + fd.abs()), "output {j}: autograd {g} vs finite difference {fd}");
            }
        }
    }

    /// Point estimates as `pzbench score` computes them: one component gives μ for all three; two
    /// far-apart components (20 σ) give the taller one's mean as the mode, Σ w μ as the mean and
    /// the root of F = ½ as the median.
    #[test]
    fn point_estimates_of_known_mixtures() {
        let one = GaussianMixtures::from_outputs(&as_f32(&outputs(&[1.0], &[0.75], &[0.1])), 1);
        for point in [PointEstimate::Mode, PointEstimate::Mean, PointEstimate::Median] {
            assert_eq!(one.point_estimates(point).unwrap(), [one.means[0]], "{point:?}");
        }
        let two = GaussianMixtures::from_outputs(&as_f32(&outputs(&[0.3, 0.7], &[0.5, 1.5], &[0.05, 0.05])), 2);
        let mode = two.point_estimates(PointEstimate::Mode).unwrap()[0];
        assert!((mode - two.means[1]).abs() < 1e-9, "{mode}");
        assert!((two.point_estimates(PointEstimate::Mean).unwrap()[0] - two.mean(0)).abs() < 1e-15);
        let median = two.point_estimates(PointEstimate::Median).unwrap()[0];
        let cdf: f64 = (0..2).map(|j| two.weights[j] * normal_cdf((median - two.means[j]) / two.sigmas[j])).sum();
        assert!((cdf - 0.5).abs() < 1e-12 && median > 1.4 && median < 1.5, "{median}: F = {cdf}");
    }

    /// The device's mixture (f32) and the host's (f64) agree, and the mean is Σ w μ.
    #[test]
    fn device_and_host_mixtures_agree() {
        let dev = Device::Cpu;
        let raw: Vec<f32> = vec![0.3, -1.2, 2.0, 0.5, 1.5, 0.9, -3.0, 0.0, 4.0];
        let host = GaussianMixtures::from_outputs(&raw, 3);
        let t = Tensor::from_vec(raw.clone(), (1, 9), &dev).unwrap();
        let (log_w, mu, sigma) = mixture_tensors(&t).unwrap();
        let w: Vec<f32> = log_w.exp().unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let mu: Vec<f32> = mu.flatten_all().unwrap().to_vec1().unwrap();
        let sigma: Vec<f32> = sigma.flatten_all().unwrap().to_vec1().unwrap();
        for j in 0..3 {
            assert!((f64::from(w[j]) - host.weights[j]).abs() < 1e-6);
            assert_eq!(f64::from(mu[j]), host.means[j]);
            assert!((f64::from(sigma[j]) - host.sigmas[j]).abs() < 1e-6 * host.sigmas[j]);
        }
        assert!((host.sigmas[1] - 2f64.ln() - SIGMA_FLOOR).abs() < 1e-15, "softplus(0) = ln 2");
        let mean = mean_tensor(&t).unwrap().to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>();
        let expected: f64 = (0..3).map(|j| host.weights[j] * host.means[j]).sum();
        assert!((mean.unwrap()[0] - expected).abs() < 1e-6);
        assert_eq!(host.mean(0), expected);
        assert_eq!((host.len(), host.is_empty()), (1, false));
        assert!(nll_tensor(
            &Tensor::zeros((1, 4), DType::F32, &dev).unwrap(),
            &Tensor::zeros((1, 1), DType::F32, &dev).unwrap()
        )
        .is_err());
    }
}
