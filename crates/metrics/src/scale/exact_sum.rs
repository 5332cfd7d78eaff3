//! An exact, mergeable, serialisable sum of `f64` values with one correct rounding at the end.
//!
//! The method is Neal's small superaccumulator (R. M. Neal 2015, "Fast exact summation using
//! small and large superaccumulators", arXiv:1505.05571, §3): every finite double is an integer
//! multiple of 2⁻¹⁰⁷⁴, so the exact sum is a (long) integer held in base-2³² digits, each stored
//! in an `i64` chunk with room for carries. A term's 53-bit mantissa, shifted to its position,
//! lands in two chunks (a low 32-bit part and a high part of up to 52 bits), so 2047 terms fit
//! before carries must be propagated (2047 · 2⁵² + 2³² < 2⁶³).
//!
//! In front of it sits a window of Neal's large superaccumulator (§4): for 64 consecutive
//! exponents (placed by the first term, mostly below it), one `i64` per exponent sums the terms'
//! signed 52-bit fractions and one `i32` counts their signed implicit bits; a term in the window
//! costs two integer additions. The window is flushed into the digits every 2047 terms and
//! before the sum is read, merged or written; terms outside it (and subnormals, zeros, infinities
//! and NaNs) take the digits' path directly.
//!
//! Why not a crate: `xsum` 0.1.6 neither merges two accumulators nor exposes their state, and
//! `accurate` 0.4.1's `OnlineExactSum` merges but keeps its state private, so neither can be
//! shipped between processes. The tests check the result against `accurate`.

use serde::{Deserialize, Serialize};

/// Bits per digit.
const DIGIT_BITS: u32 = 32;
/// The low `DIGIT_BITS` bits of a chunk.
const DIGIT_MASK: i64 = (1 << DIGIT_BITS) - 1;
/// Chunks: positions 0..=2097 (2⁻¹⁰⁷⁴ up to the top bit of `f64::MAX`) take 66 digits; one more
/// holds the carries of huge sums.
const CHUNKS: usize = 67;
/// Terms between carry propagations (see the module doc).
const TERMS_BETWEEN_CARRIES: u32 = 2047;
/// Mantissa bits of an `f64`, without the implicit bit.
const FRACTION_BITS: u32 = 52;
/// The biased exponent of infinities and NaNs.
const SPECIAL_EXPONENT: u64 = 0x7FF;
/// `f64::INFINITY.to_bits()`: bit patterns from here up round to infinity.
const INFINITY_BITS: u64 = 0x7FF0_0000_0000_0000;
/// Exponents in the window.
const WINDOW: usize = 64;
/// The first term's exponent is this many places above the window's lowest.
const WINDOW_BELOW_FIRST: u64 = 48;
/// `base` before the first term: no exponent lies in the window.
const NO_BASE: u64 = u64::MAX / 2;

/// An exact sum of `f64` values. [`ExactSum::value`] is the exact sum rounded once, to nearest
/// with ties to even (subnormals exact, overflow to ±infinity); an exact zero is `+0.0`.
/// Infinities and NaNs follow IEEE 754: NaN if any term is NaN or both infinities occur, else
/// the infinity that occurred. Merging ([`ExactSum::merge`]) is exact, so the value does not
/// depend on the order of the terms or on how they were split.
#[derive(Debug, Clone)]
pub struct ExactSum {
    chunks: [i64; CHUNKS],
    until_carry: u32,
    specials: Specials,
    /// The biased exponent of `fractions[0]` (or [`NO_BASE`]).
    base: u64,
    /// Per exponent of the window: the signed sum of the terms' fractions and the signed count
    /// of their implicit bits.
    fractions: [i64; WINDOW],
    implicit: [i32; WINDOW],
    until_flush: u32,
}

/// Which non-finite terms were seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Specials {
    nan: bool,
    positive_infinity: bool,
    negative_infinity: bool,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum {
            chunks: [0; CHUNKS],
            until_carry: TERMS_BETWEEN_CARRIES,
            specials: Specials::default(),
            base: NO_BASE,
            fractions: [0; WINDOW],
            implicit: [0; WINDOW],
            until_flush: TERMS_BETWEEN_CARRIES,
        }
    }
}

impl ExactSum {
    /// An empty sum (value `+0.0`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one term exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let biased = (bits >> FRACTION_BITS) & SPECIAL_EXPONENT;
        let slot = biased.wrapping_sub(self.base) as usize;
        if slot < WINDOW {
            if self.until_flush == 0 {
                self.flush_window();
            }
            self.until_flush -= 1;
            let sign = (bits as i64) >> 63;
            let fraction = (bits & ((1 << FRACTION_BITS) - 1)) as i64;
            self.fractions[slot] += (fraction ^ sign) - sign;
            self.implicit[slot] += (sign as i32) | 1;
            return;
        }
        self.add_to_digits(x, bits, biased);
    }

    /// A term outside the window: the first normal one places the window; the others go to the
    /// digits.
    fn add_to_digits(&mut self, x: f64, bits: u64, biased: u64) {
        if self.base == NO_BASE && biased != 0 && biased != SPECIAL_EXPONENT {
            // The window must hold neither subnormals (exponent 0) nor infinities (0x7FF).
            self.base = biased.saturating_sub(WINDOW_BELOW_FIRST).clamp(1, SPECIAL_EXPONENT - WINDOW as u64);
            self.add(x);
            return;
        }
        if biased == SPECIAL_EXPONENT {
            self.add_special(x);
            return;
        }
        if self.until_carry == 0 {
            self.propagate_carries();
        }
        self.until_carry -= 1;
        let fraction = bits & ((1 << FRACTION_BITS) - 1);
        // Subnormals (biased exponent 0) have no implicit bit and the position of exponent 1.
        let (mantissa, position) =
            if biased == 0 { (fraction, 0) } else { (fraction | 1 << FRACTION_BITS, (biased - 1) as u32) };
        let index = (position / DIGIT_BITS) as usize;
        let shift = position % DIGIT_BITS;
        let low = ((mantissa << shift) as i64) & DIGIT_MASK;
        let high = (mantissa >> (DIGIT_BITS - shift)) as i64;
        // Negate without a branch: with s = -1, (v ^ s) - s = -v; with s = 0, v.
        let sign = (bits as i64) >> 63;
        self.chunks[index] += (low ^ sign) - sign;
        self.chunks[index + 1] += (high ^ sign) - sign;
    }

    fn add_special(&mut self, x: f64) {
        if x.is_nan() {
            self.specials.nan = true;
        } else if x > 0.0 {
            self.specials.positive_infinity = true;
        } else {
            self.specials.negative_infinity = true;
        }
    }

    /// Move the window's sums into the digits: exponent `base + i` holds
    /// `(fractions[i] + implicit[i] 2⁵²) 2^(base + i - 1075)`.
    fn flush_window(&mut self) {
        self.propagate_carries();
        for slot in 0..WINDOW {
            let (fractions, implicit) = (self.fractions[slot], self.implicit[slot]);
            if fractions == 0 && implicit == 0 {
                continue;
            }
            let integer = i128::from(fractions) + (i128::from(implicit) << FRACTION_BITS);
            // Bit position of the integer's unit, counted from 2⁻¹⁰⁷⁴ (as in `add`).
            let position = (self.base + slot as u64 - 1) as u32;
            let shifted = integer.unsigned_abs() << (position % DIGIT_BITS);
            let index = (position / DIGIT_BITS) as usize;
            for (k, chunk) in self.chunks[index..index + 3].iter_mut().enumerate() {
                let digit = ((shifted >> (DIGIT_BITS as usize * k)) as i64) & DIGIT_MASK;
                *chunk += if integer < 0 { -digit } else { digit };
            }
        }
        self.fractions = [0; WINDOW];
        self.implicit = [0; WINDOW];
        self.until_flush = TERMS_BETWEEN_CARRIES;
        self.propagate_carries();
    }

    /// A copy with the window flushed and the digits normalised.
    fn settled(&self) -> ExactSum {
        let mut settled = self.clone();
        settled.flush_window();
        settled
    }

    /// Add `other`'s terms (exact).
    pub fn merge(&mut self, other: &ExactSum) {
        let other = other.settled();
        self.flush_window();
        for (a, b) in self.chunks.iter_mut().zip(other.chunks) {
            *a += b;
        }
        self.propagate_carries();
        self.specials.nan |= other.specials.nan;
        self.specials.positive_infinity |= other.specials.positive_infinity;
        self.specials.negative_infinity |= other.specials.negative_infinity;
    }

    /// Normalise every chunk but the last to a digit in `[0, 2³²)`, moving carries up.
    fn propagate_carries(&mut self) {
        normalise(&mut self.chunks);
        self.until_carry = TERMS_BETWEEN_CARRIES;
    }

    /// The sum, rounded once (see the type's doc).
    pub fn value(&self) -> f64 {
        let s = self.specials;
        if s.nan || (s.positive_infinity && s.negative_infinity) {
            return f64::NAN;
        }
        if s.positive_infinity {
            return f64::INFINITY;
        }
        if s.negative_infinity {
            return f64::NEG_INFINITY;
        }
        let (negative, magnitude) = self.sign_and_magnitude();
        let value = round_to_f64(&magnitude);
        if negative {
            -value
        } else {
            value
        }
    }

    /// The sign and the normalised digits of the magnitude of the finite part.
    fn sign_and_magnitude(&self) -> (bool, [i64; CHUNKS]) {
        let mut digits = self.settled().chunks;
        let negative = digits[CHUNKS - 1] < 0;
        if negative {
            digits.iter_mut().for_each(|d| *d = -*d);
            normalise(&mut digits);
        }
        (negative, digits)
    }

    /// The canonical serialised form: the sign and the magnitude's digits from the lowest
    /// non-zero one to the highest.
    fn to_wire(&self) -> Wire {
        let (negative, digits) = self.sign_and_magnitude();
        let first = digits.iter().position(|&d| d != 0).unwrap_or(0);
        let end = digits.iter().rposition(|&d| d != 0).map_or(0, |last| last + 1);
        let digits = digits[first..end.max(first)].iter().map(|&d| d as u64).collect();
        Wire { specials: self.specials, negative, first: first as u8, digits }
    }
}

/// Carry every chunk's excess above its 32-bit digit into the next chunk (the last keeps all).
fn normalise(chunks: &mut [i64; CHUNKS]) {
    for i in 0..CHUNKS - 1 {
        let carry = chunks[i] >> DIGIT_BITS;
        chunks[i] &= DIGIT_MASK;
        chunks[i + 1] += carry;
    }
}

/// The integer `Σ digits[i] 2^(32 i)` times 2⁻¹⁰⁷⁴, rounded to nearest, ties to even
/// (IEEE 754 §4.3.1); `digits` are normalised and non-negative.
fn round_to_f64(digits: &[i64; CHUNKS]) -> f64 {
    let Some(top) = digits.iter().rposition(|&d| d != 0) else {
        return 0.0;
    };
    let highest_bit = top as u32 * DIGIT_BITS + 63 - (digits[top] as u64).leading_zeros();
    // 2^(highest_bit - 1074) >= 2^1024: beyond every finite double.
    if highest_bit >= 1024 + 1074 {
        return f64::INFINITY;
    }
    let bit_field = |lo: u32, len: u32| -> u64 {
        let i = (lo / DIGIT_BITS) as usize;
        let wide = (0..3).filter(|j| i + j < CHUNKS).fold(0u128, |acc, j| acc | (digits[i + j] as u128) << (32 * j));
        ((wide >> (lo % DIGIT_BITS)) as u64) & (u64::MAX >> (64 - len))
    };
    if highest_bit <= FRACTION_BITS {
        // At most 53 significant bits: a subnormal or the smallest binade, exactly; its bit
        // pattern is the integer itself.
        return f64::from_bits(bit_field(0, highest_bit + 1));
    }
    // Keep 53 bits from the top; `drop` bits fall below the last place.
    let drop = highest_bit - FRACTION_BITS;
    let mut mantissa = bit_field(drop, FRACTION_BITS + 1);
    let round_bit = bit_field(drop - 1, 1) == 1;
    let sticky = {
        let below = drop - 1;
        let i = (below / DIGIT_BITS) as usize;
        digits[..i].iter().any(|&d| d != 0) || digits[i] & ((1 << (below % DIGIT_BITS)) - 1) != 0
    };
    if round_bit && (sticky || mantissa & 1 == 1) {
        mantissa += 1;
    }
    // Biased exponent drop + 1 with the implicit bit removed: (drop + 1) << 52 + mantissa - 2^52;
    // a mantissa rounded up to 2^53 carries into the exponent, as it should.
    let bits = (u64::from(drop) << FRACTION_BITS) + mantissa;
    f64::from_bits(bits.min(INFINITY_BITS))
}

impl PartialEq for ExactSum {
    /// Equal when the sums are the same number (and saw the same non-finite terms).
    fn eq(&self, other: &Self) -> bool {
        self.to_wire() == other.to_wire()
    }
}

/// The serialised form of an [`ExactSum`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wire {
    specials: Specials,
    negative: bool,
    /// Index of the first digit.
    first: u8,
    /// Digits of the magnitude, lowest first.
    digits: Vec<u64>,
}

impl Serialize for ExactSum {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ExactSum {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let wire = Wire::deserialize(deserializer)?;
        let first = usize::from(wire.first);
        if first + wire.digits.len() > CHUNKS {
            return Err(D::Error::custom("exact sum: too many digits"));
        }
        let mut sum = ExactSum { specials: wire.specials, ..ExactSum::default() };
        for (i, &digit) in wire.digits.iter().enumerate() {
            let position = first + i;
            // Only the top chunk may exceed a digit; it holds at most a 46-bit carry count.
            let limit = if position == CHUNKS - 1 { 1 << 46 } else { 1 << DIGIT_BITS };
            if digit >= limit {
                return Err(D::Error::custom("exact sum: a digit is out of range"));
            }
            sum.chunks[position] = if wire.negative { -(digit as i64) } else { digit as i64 };
        }
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accurate::sum::OnlineExactSum;
    use accurate::traits::*;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn exact(values: &[f64]) -> f64 {
        let mut sum = ExactSum::new();
        values.iter().for_each(|&x| sum.add(x));
        sum.value()
    }

    fn reference(values: &[f64]) -> f64 {
        OnlineExactSum::zero().absorb(values.iter().copied()).sum()
    }

    #[test]
    fn cancellation_is_exact() {
        assert_eq!(exact(&[1e308, 1.0, -1e308]), 1.0);
        assert_eq!(exact(&[1e308, 1e308, -1e308, -1e308, 1e-300]), 1e-300);
        assert_eq!(exact(&[0.1, 0.2, -0.3]), reference(&[0.1, 0.2, -0.3]));
        assert_eq!(exact(&[0.1, 0.2, -0.3]), 2.7755575615628914e-17);
        assert_eq!(exact(&[]).to_bits(), 0.0f64.to_bits());
        assert_eq!(exact(&[-0.0, -0.0]).to_bits(), 0.0f64.to_bits());
        assert_eq!(exact(&[-2.5]), -2.5);
    }

    #[test]
    fn subnormals_are_exact() {
        let tiny = f64::from_bits(1);
        assert_eq!(exact(&[tiny, tiny, tiny]), f64::from_bits(3));
        assert_eq!(exact(&[f64::MIN_POSITIVE, -tiny]), f64::from_bits(f64::MIN_POSITIVE.to_bits() - 1));
        assert_eq!(exact(&[f64::MIN_POSITIVE / 2.0, f64::MIN_POSITIVE / 2.0]), f64::MIN_POSITIVE);
        assert_eq!(exact(&[-tiny]), -tiny);
    }

    #[test]
    fn ties_round_to_even() {
        let ulp_half = 2f64.powi(-53);
        // 1 + 2^-53 is halfway between 1 and its successor: ties to the even 1.
        assert_eq!(exact(&[1.0, ulp_half]), 1.0);
        // (1 + 2^-52) + 2^-53: halfway, the even neighbour is 1 + 2^-51.
        assert_eq!(exact(&[1.0 + 2.0 * ulp_half, ulp_half]), 1.0 + 4.0 * ulp_half);
        // A tiny extra term breaks the tie upwards.
        assert_eq!(exact(&[1.0, ulp_half, 1e-300]), 1.0 + 2.0 * ulp_half);
        assert_eq!(exact(&[-1.0, -ulp_half, -1e-300]), -1.0 - 2.0 * ulp_half);
    }

    #[test]
    fn overflow_and_specials_follow_ieee() {
        assert_eq!(exact(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(exact(&[f64::MAX, f64::MAX, -f64::MAX]), f64::MAX);
        assert_eq!(exact(&[-f64::MAX, -f64::MAX]), f64::NEG_INFINITY);
        // Half an ulp above MAX rounds to infinity (the even neighbour); just below stays MAX.
        let half_ulp = 2f64.powi(970);
        assert_eq!(exact(&[f64::MAX, half_ulp]), f64::INFINITY);
        assert_eq!(exact(&[f64::MAX, half_ulp, -f64::from_bits(1)]), f64::MAX);
        assert_eq!(exact(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert_eq!(exact(&[1.0, f64::NEG_INFINITY]), f64::NEG_INFINITY);
        assert!(exact(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(exact(&[1.0, f64::NAN]).is_nan());
    }

    /// Values over the whole range of magnitudes, signs mixed, some exactly cancelling.
    fn wild_values(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
        let mut values: Vec<f64> = (0..n)
            .map(|_| {
                let exponent = rng.random_range(-1074..1000);
                let x = rng.random_range(1.0..2.0) * 2f64.powi(exponent);
                if rng.random_bool(0.5) {
                    -x
                } else {
                    x
                }
            })
            .collect();
        let copies: Vec<f64> = values.iter().take(n / 4).map(|x| -x).collect();
        values.extend(copies);
        values
    }

    #[test]
    fn agrees_with_accurate_on_random_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in [1usize, 2, 3, 10, 100, 5000] {
            for _ in 0..20 {
                let values = wild_values(&mut rng, n);
                assert_eq!(exact(&values).to_bits(), reference(&values).to_bits(), "n = {n}");
                // Narrow ranges: heavy cancellation and rounding in the last places.
                let narrow: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                assert_eq!(exact(&narrow).to_bits(), reference(&narrow).to_bits(), "n = {n}");
            }
        }
    }

    #[test]
    fn a_million_values_give_the_same_bits_in_any_order_and_split() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut values: Vec<f64> = (0..1_000_000).map(|_| rng.random_range(-1.0..1.0) * 1e3).collect();
        values.extend(wild_values(&mut rng, 1000));
        let whole = exact(&values);
        assert_eq!(whole.to_bits(), reference(&values).to_bits());
        for _ in 0..3 {
            values.shuffle(&mut rng);
            let mut cuts: Vec<usize> = (0..63).map(|_| rng.random_range(0..values.len())).collect();
            cuts.extend([0, values.len()]);
            cuts.sort_unstable();
            let mut parts: Vec<ExactSum> = cuts
                .windows(2)
                .map(|w| {
                    let mut part = ExactSum::new();
                    values[w[0]..w[1]].iter().for_each(|&x| part.add(x));
                    part
                })
                .collect();
            parts.shuffle(&mut rng);
            // Merge in a random tree: repeatedly fold a random part into another.
            while parts.len() > 1 {
                let i = rng.random_range(0..parts.len());
                let part = parts.swap_remove(i);
                let j = rng.random_range(0..parts.len());
                parts[j].merge(&part);
            }
            assert_eq!(parts[0].value().to_bits(), whole.to_bits());
        }
    }

    #[test]
    fn the_window_agrees_at_its_edges() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        // First terms that place the window low, in the middle and at the top of the range.
        // (2¹⁰¹⁰ places the window against its upper limit; terms stay below 2¹⁰⁰⁶ so that the
        // reference does not overflow.)
        for first in [f64::MIN_POSITIVE, 1.0, -3.0, 2f64.powi(1010)] {
            let exponent = first.abs().log2().floor() as i32;
            let mut values = vec![first];
            // 5000 terms (flushes) with exponents just inside and outside both window edges,
            // subnormals and zeros among them.
            for _ in 0..5000 {
                let offset = [-50, -49, -48, -47, 0, 14, 15, 16, 17][rng.random_range(0..9)];
                let e = (exponent + offset).clamp(-1074, 1005);
                let x = rng.random_range(1.0..2.0) * 2f64.powi(e);
                values.push(if rng.random_bool(0.5) { -x } else { x });
            }
            values.extend([f64::from_bits(3), -f64::from_bits(7), 0.0, -0.0]);
            assert_eq!(exact(&values).to_bits(), reference(&values).to_bits(), "first term {first}");
            // Reading does not disturb: the same sum after more terms.
            let mut sum = ExactSum::new();
            values.iter().for_each(|&x| sum.add(x));
            let before = sum.value();
            sum.add(1.5);
            sum.add(-1.5);
            assert_eq!(sum.value().to_bits(), before.to_bits());
        }
    }

    #[test]
    fn round_trips_through_bytes() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [0usize, 1, 3, 1000] {
            let values = wild_values(&mut rng, n);
            let mut sum = ExactSum::new();
            values.iter().for_each(|&x| sum.add(x));
            let bytes = postcard::to_stdvec(&sum).unwrap();
            let back: ExactSum = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, sum);
            assert_eq!(back.value().to_bits(), sum.value().to_bits());
        }
        let huge = Wire { specials: Specials::default(), negative: false, first: 0, digits: vec![1 << 40] };
        assert!(postcard::from_bytes::<ExactSum>(&postcard::to_stdvec(&huge).unwrap()).is_err());
        let long = Wire { specials: Specials::default(), negative: false, first: 60, digits: vec![1; 8] };
        assert!(postcard::from_bytes::<ExactSum>(&postcard::to_stdvec(&long).unwrap()).is_err());
    }
}
