//! Poisson(1) bootstrap weights from a counter-based hash: galaxy `id`'s weight in replicate `r`
//! depends only on `(seed, id, r)`, so every partition draws the same weight for a galaxy
//! wherever it lies, and no random state crosses partitions (Hanley & MacGibbon 2006, "Creating
//! non-parametric bootstrap samples using Poisson frequencies").

/// `e⁻¹`, the probability of a weight of 0.
const EXP_MINUS_ONE: f64 = 0.367_879_441_171_442_33;
/// Weights above this are never drawn (`P(X > 20) < 10⁻¹⁹`, far below the table's rounding).
const MAX_WEIGHT: usize = 20;

/// `THRESHOLDS[k]` = `P(X ≤ k)` of Poisson(1), scaled to `2⁶⁴`: a uniform 64-bit `u` draws the
/// weight `k` when `THRESHOLDS[k-1] <= u < THRESHOLDS[k]` (inversion of the CDF).
const THRESHOLDS: [u64; MAX_WEIGHT] = {
    let mut thresholds = [0u64; MAX_WEIGHT];
    let (mut probability, mut cumulative) = (EXP_MINUS_ONE, 0.0);
    let mut k = 0;
    while k < MAX_WEIGHT {
        cumulative += probability;
        // 2⁶⁴ · P(X ≤ k), saturating at u64::MAX.
        thresholds[k] = (cumulative * 18_446_744_073_709_551_616.0) as u64;
        probability /= (k + 1) as f64;
        k += 1;
    }
    thresholds
};

/// splitmix64's output function (Steele, Lea & Flood 2014): a bijection of `u64` whose outputs
/// look independent for consecutive inputs.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The weight of galaxy `id` in replicate `replicate`: a Poisson(1) draw.
#[inline]
pub(super) fn weight(seed: u64, id: i64, replicate: u32) -> u64 {
    let u = splitmix64(splitmix64(splitmix64(seed) ^ id as u64) ^ u64::from(replicate));
    THRESHOLDS.iter().take_while(|&&t| t <= u).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_poisson_one() {
        let n = 200_000;
        let mut counts = [0usize; 8];
        let mut total = 0;
        for id in 0..n {
            let w = weight(42, id, 3) as usize;
            counts[w.min(7)] += 1;
            total += w;
        }
        // P(0) = P(1) = e⁻¹, P(2) = e⁻¹/2, P(3) = e⁻¹/6; mean 1. Five standard errors.
        let p = [EXP_MINUS_ONE, EXP_MINUS_ONE, EXP_MINUS_ONE / 2.0, EXP_MINUS_ONE / 6.0];
        for (k, p) in p.iter().enumerate() {
            let expected = p * n as f64;
            assert!((counts[k] as f64 - expected).abs() < 5.0 * expected.sqrt(), "P({k}): {} vs {expected}", counts[k]);
        }
        assert!((total as f64 / n as f64 - 1.0).abs() < 5.0 / (n as f64).sqrt());
    }

    #[test]
    fn weights_depend_on_seed_id_and_replicate() {
        let draws = |seed, r| (0..64).map(|id| weight(seed, id, r)).collect::<Vec<_>>();
        assert_eq!(draws(1, 0), draws(1, 0));
        assert_ne!(draws(1, 0), draws(1, 1));
        assert_ne!(draws(1, 0), draws(2, 0));
        assert!(THRESHOLDS.windows(2).all(|t| t[0] <= t[1]));
        assert!(THRESHOLDS[MAX_WEIGHT - 1] >= u64::MAX - (1 << 12));
    }
}
