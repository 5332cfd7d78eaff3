//! Normal deviates from a uniform generator (every galaxy draws from its own ChaCha8 stream).

use rand::Rng;

/// A standard normal deviate (Box & Muller 1958), two uniform deviates per call.
pub fn std_normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
