//! One galaxy's Gaussian mixture (`docs/PDF_METRICS.md` §1.1 "Gaussian mixture", §2.4).
//!
//! f(z) = Σ_k w_k φ((z − μ_k)/σ_k)/σ_k and F(z) = Σ_k w_k Φ((z − μ_k)/σ_k), weights divided by
//! their sum, F clamped to [0, 1]. The mode is the global maximiser of f found among the local
//! maxima reached uphill from every component mean; the median is the root of F − ½, both by
//! safeguarded Newton iterations inside a sign-change bracket.

use super::normal::{normal_cdf, normal_pdf};
use crate::stats::pairwise_sum;

/// One component: normalised weight, mean and sigma.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    pub weight: f64,
    pub mean: f64,
    pub sigma: f64,
}

/// One galaxy's mixture, weights normalised (§1.1: "divide each row by its sum"), components of
/// weight 0 dropped ("a component with w = 0 contributes nothing").
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    components: Vec<Component>,
}

/// Newton iterations stop after this many steps (bisection alone needs < 1100 steps to exhaust a
/// double-precision bracket; Newton converges in a handful).
const MAX_ITERATIONS: usize = 1200;

impl Mixture {
    /// The mixture of validated parameters (weights ≥ 0 summing to > 0, sigmas > 0): each weight
    /// divided by the row's sum (numpy's pairwise sum, as qp normalises).
    pub(crate) fn new(weights: &[f64], means: &[f64], sigmas: &[f64]) -> Self {
        let total = pairwise_sum(weights);
        let components = weights
            .iter()
            .zip(means)
            .zip(sigmas)
            .filter(|((&w, _), _)| w > 0.0)
            .map(|((&w, &mean), &sigma)| Component { weight: w / total, mean, sigma })
            .collect();
        Mixture { components }
    }

    /// The components of positive weight.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// f(z) = Σ w φ((z − μ)/σ)/σ (§1.1).
    pub fn density(&self, z: f64) -> f64 {
        self.components.iter().map(|c| c.weight * normal_pdf((z - c.mean) / c.sigma) / c.sigma).sum()
    }

    /// F(z) = Σ w Φ((z − μ)/σ), clamped to [0, 1] (§1.1).
    pub fn cdf(&self, z: f64) -> f64 {
        self.unclamped_cdf(z).clamp(0.0, 1.0)
    }

    fn unclamped_cdf(&self, z: f64) -> f64 {
        self.components.iter().map(|c| c.weight * normal_cdf((z - c.mean) / c.sigma)).sum()
    }

    /// The mean Σ w μ (§2.4).
    pub fn mean(&self) -> f64 {
        self.components.iter().map(|c| c.weight * c.mean).sum()
    }

    /// The variance Σ w σ² + Σ w (μ − mean)² (§2.5, each term non-negative).
    pub fn variance(&self) -> f64 {
        self.variance_about(self.mean())
    }

    /// [`Mixture::variance`] given the mean.
    pub(crate) fn variance_about(&self, mean: f64) -> f64 {
        self.components.iter().map(|c| c.weight * (c.sigma * c.sigma + (c.mean - mean) * (c.mean - mean))).sum()
    }

    /// The smallest and largest component mean.
    fn mean_range(&self) -> (f64, f64) {
        self.components.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| (lo.min(c.mean), hi.max(c.mean)))
    }

    /// The median F⁻¹(½) (§2.4): μ itself when every component shares one mean, else the root of
    /// F − ½ inside [min μ, max μ], where F(min μ) ≤ ½ ≤ F(max μ).
    pub fn median(&self) -> f64 {
        let (lo, hi) = self.mean_range();
        if lo == hi {
            return lo;
        }
        self.quantile(0.5)
    }

    /// The quantile inf{z : F(z) ≥ p}: −∞ for p ≤ 0 and +∞ for p ≥ 1 (the support is
    /// unbounded); otherwise a bracket [lo, hi] with F(lo) < p ≤ F(hi), grown from the means by
    /// the largest sigma, then narrowed by safeguarded Newton steps (F′ = f).
    pub fn quantile(&self, p: f64) -> f64 {
        if p <= 0.0 {
            return f64::NEG_INFINITY;
        }
        if p >= 1.0 {
            return f64::INFINITY;
        }
        let (mut lo, mut hi) = self.mean_range();
        let widest = self.components.iter().fold(0.0f64, |s, c| s.max(c.sigma));
        let mut reach = widest;
        while self.unclamped_cdf(lo) >= p {
            lo -= reach;
            reach *= 2.0;
        }
        reach = widest;
        while self.unclamped_cdf(hi) < p {
            hi += reach;
            reach *= 2.0;
        }
        let cdf_minus_p = |x: f64| (self.unclamped_cdf(x) - p, self.density(x));
        let guess = self.mean().clamp(lo, hi);
        safeguarded_newton(lo, hi, guess, cdf_minus_p(guess), cdf_minus_p)
    }

    /// f, f′ and f″ at x.
    fn derivatives(&self, x: f64) -> (f64, f64, f64) {
        self.components.iter().fold((0.0, 0.0, 0.0), |(f, d1, d2), c| {
            let z = (x - c.mean) / c.sigma;
            let g = c.weight * normal_pdf(z) / c.sigma;
            (f + g, d1 - g * z / c.sigma, d2 + g * (z * z - 1.0) / (c.sigma * c.sigma))
        })
    }

    /// The mode (§2.4): K = 1 (or one shared mean) gives μ; otherwise the highest of the local
    /// maxima reached uphill from each distinct component mean (every mode lies in
    /// [min μ, max μ]), the first (smallest z) on exact ties.
    pub fn mode(&self) -> f64 {
        let (lo, hi) = self.mean_range();
        if lo == hi {
            return lo;
        }
        let mut starts: Vec<Component> = self.components.clone();
        starts.sort_by(|a, b| a.mean.total_cmp(&b.mean).then(a.sigma.total_cmp(&b.sigma)));
        starts.dedup_by(|b, a| a.mean == b.mean);
        let mut maxima: Vec<f64> = starts.iter().map(|c| self.climb(c.mean, c.sigma, lo, hi)).collect();
        maxima.sort_by(f64::total_cmp);
        maxima.dedup();
        let mut best = (maxima[0], self.density(maxima[0]));
        for &x in &maxima[1..] {
            let f = self.density(x);
            if f > best.1 {
                best = (x, f);
            }
        }
        best.0
    }

    /// The local maximum uphill from `start`: Newton steps on f′ where f is concave (capped at
    /// 2 `scale`), steps of `scale`/4 doubling where it is not, until f′ changes sign (at the
    /// latest at the end of [lo, hi] = [min μ, max μ], where f′ ≤ 0 at hi and ≥ 0 at lo) or the
    /// steps vanish; then the root of f′ in that bracket, from the last Newton point.
    fn climb(&self, start: f64, scale: f64, lo: f64, hi: f64) -> f64 {
        let (_, mut d1, mut d2) = self.derivatives(start);
        if d1 == 0.0 {
            return start;
        }
        let uphill = d1.signum();
        let (mut a, mut walk) = (start, scale / 4.0);
        for _ in 0..MAX_ITERATIONS {
            let step = if d2 < 0.0 { (d1 / d2).abs().min(2.0 * scale) } else { walk };
            let b = (a + uphill * step).clamp(lo, hi);
            let (_, d1_b, d2_b) = self.derivatives(b);
            if d1_b == 0.0 || (b - a).abs() <= 2.0 * f64::EPSILON * b.abs() {
                return b;
            }
            if d1_b.signum() != uphill {
                let (left, right) = if uphill > 0.0 { (a, b) } else { (b, a) };
                return safeguarded_newton(left, right, b, (-d1_b, -d2_b), |x| {
                    let (_, d1, d2) = self.derivatives(x);
                    (-d1, -d2)
                });
            }
            (a, d1, d2) = (b, d1_b, d2_b);
            walk *= 2.0;
        }
        a
    }
}

/// The root of an increasing function g in [lo, hi] with g(lo) < 0 ≤ g(hi), from `guess` (where
/// g and g′ are `at_guess`): Newton steps (`g_and_slope` gives g and g′) when they stay inside
/// the bracket and at least halve the step before, bisection otherwise (after Numerical Recipes'
/// `rtsafe`). Stops when a Newton step or the bracket falls below the resolution of doubles at
/// the root.
fn safeguarded_newton(
    mut lo: f64,
    mut hi: f64,
    guess: f64,
    at_guess: (f64, f64),
    g_and_slope: impl Fn(f64) -> (f64, f64),
) -> f64 {
    let (mut x, mut at_x) = (guess, at_guess);
    let mut step_before = hi - lo;
    for _ in 0..MAX_ITERATIONS {
        let (g, slope) = at_x;
        if g < 0.0 {
            lo = x;
        } else if g > 0.0 {
            hi = x;
        } else {
            return x;
        }
        let resolution = 2.0 * f64::EPSILON * x.abs().max(f64::MIN_POSITIVE);
        let newton_step = -g / slope;
        if slope > 0.0 && newton_step.abs() <= resolution {
            return x + newton_step;
        }
        let newton = x + newton_step;
        let fast = slope > 0.0 && newton > lo && newton < hi && newton_step.abs() <= 0.5 * step_before.abs();
        let next = if fast { newton } else { lo + 0.5 * (hi - lo) };
        if hi - lo <= resolution {
            return next;
        }
        step_before = next - x;
        x = next;
        at_x = g_and_slope(x);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixture(w: &[f64], mu: &[f64], sigma: &[f64]) -> Mixture {
        Mixture::new(w, mu, sigma)
    }

    #[test]
    fn single_component_moments() {
        let m = mixture(&[2.0], &[0.7], &[0.1]);
        assert_eq!(m.mode(), 0.7);
        assert_eq!(m.median(), 0.7);
        assert_eq!(m.mean(), 0.7);
        assert!((m.variance() - 0.01).abs() < 1e-17);
        assert_eq!(m.cdf(0.7), 0.5);
    }

    #[test]
    fn narrow_spike_beside_a_wide_component_is_the_mode() {
        // The spike at 0.9 is far higher than the wide bumps; walking with the wide components'
        // steps would jump over it, but its own start finds it.
        let m = mixture(&[0.4, 0.2, 0.4], &[0.0, 0.9, 2.0], &[0.5, 0.001, 0.5]);
        let mode = m.mode();
        assert!((mode - 0.9).abs() < 1e-3, "{mode}");
        let (_, d1, d2) = m.derivatives(mode);
        assert!(d1.abs() <= 1e-9 * m.density(mode) / 0.001 && d2 < 0.0);
    }

    #[test]
    fn modes_are_the_global_maxima_of_dense_grids() {
        // Heteroscedastic mixtures with K = 2..6 from a fixed xorshift stream: no point of a grid
        // of step σ_min/200 over [min μ, max μ] may be higher than the mode.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..300 {
            let k = 2 + (uniform() * 5.0) as usize;
            let w: Vec<f64> = (0..k).map(|_| uniform() + 0.05).collect();
            let mu: Vec<f64> = (0..k).map(|_| uniform() * 2.0).collect();
            let sigma: Vec<f64> = (0..k).map(|_| 0.005 + uniform().powi(3) * 0.5).collect();
            let m = mixture(&w, &mu, &sigma);
            let mode = m.mode();
            let (lo, hi) = m.mean_range();
            let step = sigma.iter().fold(f64::INFINITY, |a, &b| a.min(b)) / 200.0;
            let dense = (0..=((hi - lo) / step) as usize).map(|i| m.density(lo + i as f64 * step)).fold(0.0, f64::max);
            assert!(m.density(mode) >= dense * (1.0 - 1e-12), "{w:?} {mu:?} {sigma:?}: mode {mode}");
        }
    }

    #[test]
    fn quantiles_invert_the_cdf() {
        let m = mixture(&[0.3, 0.7], &[0.5, 1.2], &[0.1, 0.3]);
        for p in [0.01, 0.2, 0.5, 0.77, 0.999] {
            let z = m.quantile(p);
            assert!((m.cdf(z) - p).abs() < 1e-14, "p = {p}: F({z}) = {}", m.cdf(z));
        }
    }
}
