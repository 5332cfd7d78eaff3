//! Order-preserving `u64` keys of `f64` values: `a < b` exactly when `key(a) < key(b)` (for
//! non-NaN values), with `-0.0` and `+0.0` sharing the key of `+0.0`. Radix selection
//! (`select.rs`) works on these keys, so it selects in numpy's order.

/// The sign bit of an `f64`.
const SIGN: u64 = 1 << 63;

/// The key of `x`: positive values get their bit pattern with the sign bit set, negative values
/// the complement of theirs (larger magnitude, smaller key). `-0.0` is taken as `+0.0` first.
#[inline]
pub(super) fn key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits & SIGN == 0 {
        bits | SIGN
    } else {
        !bits
    }
}

/// The value whose key is `key` (the inverse of [`key`]; `+0.0` for the key of zero).
#[inline]
pub(super) fn value(key: u64) -> f64 {
    f64::from_bits(if key & SIGN != 0 { key & !SIGN } else { !key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_like_numbers_and_invert() {
        let values = [
            f64::NEG_INFINITY,
            -f64::MAX,
            -1.5,
            -f64::from_bits(1),
            0.0,
            f64::from_bits(1),
            1e-300,
            2.0,
            f64::INFINITY,
        ];
        for pair in values.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{pair:?}");
        }
        for x in values {
            assert_eq!(value(key(x)).to_bits(), x.to_bits());
        }
        assert_eq!(key(-0.0), key(0.0));
        assert_eq!(value(key(-0.0)).to_bits(), 0.0f64.to_bits());
    }
}
