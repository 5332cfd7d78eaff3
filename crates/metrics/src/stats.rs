//! Order statistics and sums that reproduce numpy's results.
//!
//! - [`pairwise_sum`] is numpy's `pairwise_sum` (`numpy/_core/src/umath/loops_utils.h.src`), so
//!   `np.sum` / `np.mean` of the same array give the same bits (the PDF metrics use it; the point
//!   metrics sum exactly with `scale::ExactSum`).
//! - [`median`] is `np.median` (mean of the two middle values for even counts), found by selection
//!   in O(n) instead of a full sort.
//! - [`percentile`] is `np.percentile(..., method="linear")` including numpy's `_lerp`.

/// numpy's block size below which pairwise summation uses an 8-way unrolled loop.
const PAIRWISE_BLOCK: usize = 128;

/// From this many values on, the two halves of a pairwise sum (and the two quartile selections)
/// run in parallel. The split points are numpy's, so the result is the same bits.
pub(crate) const PARALLEL_MIN: usize = 1 << 18;

/// Sum of `f(0), …, f(n-1)` in numpy's pairwise order (`pairwise_sum_DOUBLE`).
///
/// Taking a closure lets callers sum a derived quantity (e.g. `dz²`) without materialising it.
pub fn pairwise_sum_by(n: usize, f: &(impl Fn(usize) -> f64 + Sync)) -> f64 {
    pairwise_sums(n, &|i| [f(i)])[0]
}

/// `K` sums in one pass: lane `k` is the pairwise sum of `f(i)[k]`, bit-identical to summing that
/// lane alone (every lane follows the same pairwise order).
pub fn pairwise_sums<const K: usize>(n: usize, f: &(impl Fn(usize) -> [f64; K] + Sync)) -> [f64; K] {
    pairwise_range(0, n, f)
}

/// Sum of a slice in numpy's pairwise order.
pub fn pairwise_sum(values: &[f64]) -> f64 {
    pairwise_sum_by(values.len(), &|i| values[i])
}

/// `np.mean` of `f(0), …, f(n-1)`: the pairwise sum divided by `n`.
pub fn mean_by(n: usize, f: &(impl Fn(usize) -> f64 + Sync)) -> f64 {
    pairwise_sum_by(n, f) / n as f64
}

fn add<const K: usize>(a: [f64; K], b: [f64; K]) -> [f64; K] {
    std::array::from_fn(|k| a[k] + b[k])
}

fn pairwise_range<const K: usize>(start: usize, n: usize, f: &(impl Fn(usize) -> [f64; K] + Sync)) -> [f64; K] {
    if n < 8 {
        let mut res = [0.0; K];
        for i in start..start + n {
            res = add(res, f(i));
        }
        res
    } else if n <= PAIRWISE_BLOCK {
        let mut r: [[f64; K]; 8] = std::array::from_fn(|j| f(start + j));
        let unrolled_end = n - n % 8;
        let mut i = 8;
        while i < unrolled_end {
            for (j, slot) in r.iter_mut().enumerate() {
                *slot = add(*slot, f(start + i + j));
            }
            i += 8;
        }
        let mut res = add(add(add(r[0], r[1]), add(r[2], r[3])), add(add(r[4], r[5]), add(r[6], r[7])));
        while i < n {
            res = add(res, f(start + i));
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        if n >= PARALLEL_MIN {
            let (a, b) = rayon::join(|| pairwise_range(start, n2, f), || pairwise_range(start + n2, n - n2, f));
            add(a, b)
        } else {
            add(pairwise_range(start, n2, f), pairwise_range(start + n2, n - n2, f))
        }
    }
}

/// The order of selection: numpy's for numbers (`-0.0 == 0.0`), with NaN placed as
/// `f64::total_cmp` places it (after +inf, or before -inf for a negative NaN), so the order stays
/// consistent whatever the input. Cheaper than `total_cmp` on every comparison.
fn order(a: &f64, b: &f64) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or_else(|| a.total_cmp(b))
}

/// `np.median` of `values`, which are reordered (partially sorted) in place.
///
/// Returns `None` for an empty slice. Runs in O(n) by selection.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let k = n / 2;
    let (left, kth, _) = values.select_nth_unstable_by(k, order);
    let upper = *kth;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(median_of(n as u64, lower, upper))
}

/// The ranks (0-based, ascending) of the two middle values of `n > 0` values: equal for odd `n`.
pub(crate) fn median_ranks(n: u64) -> (u64, u64) {
    (n.saturating_sub(1) / 2, n / 2)
}

/// `np.median` of `n` values from the values at [`median_ranks`]: the middle value for odd `n`,
/// else `np.mean` of the two middle values, `(a + b) / 2`.
pub(crate) fn median_of(n: u64, lower: f64, upper: f64) -> f64 {
    if n % 2 == 1 {
        upper
    } else {
        (lower + upper) / 2.0
    }
}

/// `(np.median(v), np.percentile(v, 25), np.percentile(v, 75))` (linear method), reordering
/// `values` in place. One selection for the median, then the quartiles are selected within the
/// lower and upper halves only: about 2n element visits in all. `None` for an empty slice.
pub fn median_and_quartiles(values: &mut [f64]) -> Option<(f64, f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let k = n / 2;
    values.select_nth_unstable_by(k, order);
    let median = if n % 2 == 1 {
        values[k]
    } else {
        let lower = values[..k].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        median_of(n as u64, lower, values[k])
    };
    let (i25, g25) = virtual_index(n, QUARTILES[0]);
    let (i75, g75) = virtual_index(n, QUARTILES[1]);
    if n >= PARALLEL_MIN {
        // Large inputs: the quartiles lie strictly inside the two halves; select them in parallel.
        let kth = values[k];
        let (lower, rest) = values.split_at_mut(k);
        let ((a25, b25), (a75, b75)) = rayon::join(
            || {
                let (a, b) = adjacent_order_stats(lower, i25);
                (a, if i25 + 1 < k { b } else { kth })
            },
            || adjacent_order_stats(&mut rest[1..], i75 - k - 1),
        );
        return Some((median, lerp(a25, b25, g25), lerp(a75, b75, g75)));
    }
    let (a25, b25) = adjacent_order_stats_around(values, i25, k);
    let (a75, b75) = adjacent_order_stats_around(values, i75, k);
    Some((median, lerp(a25, b25, g25), lerp(a75, b75, g75)))
}

/// Like [`adjacent_order_stats`] for a slice already partitioned around position `k`
/// (`values[..k] <= values[k] <= values[k+1..]`): selects only within the side holding `index`,
/// and keeps that partition intact.
fn adjacent_order_stats_around(values: &mut [f64], index: usize, k: usize) -> (f64, f64) {
    let min_of = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
    if index < k {
        let lower = &mut values[..k];
        lower.select_nth_unstable_by(index, order);
        let a = lower[index];
        let b = if index + 1 < k { min_of(&lower[index + 1..]) } else { values[k] };
        (a, b)
    } else if index == k {
        let a = values[k];
        let b = if k + 1 < values.len() { min_of(&values[k + 1..]) } else { a };
        (a, b)
    } else {
        adjacent_order_stats(&mut values[k + 1..], index - k - 1)
    }
}

/// `np.percentile(values, q * 100, method="linear")`, reordering `values` in place.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let (index, gamma) = virtual_index(values.len(), q);
    let (a, b) = adjacent_order_stats(values, index);
    Some(lerp(a, b, gamma))
}

/// The quantiles of `sigma_iqr`: `P25` and `P75`.
pub(crate) const QUARTILES: [f64; 2] = [0.25, 0.75];

/// numpy's linear-method virtual index `(n - 1) q`, split into its floor and fraction.
pub(crate) fn virtual_index(n: usize, q: f64) -> (usize, f64) {
    let virtual_index = (n as f64 - 1.0) * q;
    let floor = virtual_index.floor();
    let index = (floor as usize).min(n - 1);
    (index, virtual_index - floor)
}

/// The `index`-th and `(index + 1)`-th smallest values (the second clipped to the last element),
/// leaving `values[..=index]` holding the `index + 1` smallest values.
fn adjacent_order_stats(values: &mut [f64], index: usize) -> (f64, f64) {
    let (_, kth, right) = values.select_nth_unstable_by(index, order);
    let a = *kth;
    let b = if right.is_empty() { a } else { right.iter().copied().fold(f64::INFINITY, f64::min) };
    (a, b)
}

/// numpy's `_lerp`: `a + (b - a) t`, computed from the `b` end when `t >= 0.5` for accuracy.
pub(crate) fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_matches_plain_sum_on_exact_values() {
        let values: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(pairwise_sum(&values), 499_500.0);
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.5, 2.5, 3.0]), 7.0);
    }

    #[test]
    fn fused_lanes_equal_separate_sums() {
        let values: Vec<f64> = (0..1013).map(|i| (i as f64 * 0.37).sin()).collect();
        let [a, b] = pairwise_sums(values.len(), &|i| [values[i], values[i] * values[i]]);
        assert_eq!(a.to_bits(), pairwise_sum(&values).to_bits());
        assert_eq!(b.to_bits(), pairwise_sum_by(values.len(), &|i| values[i] * values[i]).to_bits());
    }

    #[test]
    fn pairwise_is_more_accurate_than_naive_summation() {
        // 0.1 is inexact; pairwise accumulates far less error than a running sum.
        let values = vec![0.1f64; 1_000_000];
        let naive: f64 = values.iter().sum();
        let pairwise = pairwise_sum(&values);
        assert!((pairwise - 100_000.0).abs() < (naive - 100_000.0).abs());
        assert!((pairwise - 100_000.0).abs() < 1e-8);
    }

    #[test]
    fn quartiles_agree_with_full_sort_on_many_sizes() {
        // Deterministic pseudo-random values with ties; compare with a sorted-array computation.
        for n in 1..60usize {
            let mut values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 * 0.5).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let at = |q: f64| {
                let h = (n as f64 - 1.0) * q;
                let lo = h.floor() as usize;
                let hi = (lo + 1).min(n - 1);
                lerp(sorted[lo], sorted[hi], h - h.floor())
            };
            let expected = (at(0.5), at(0.25), at(0.75));
            assert_eq!(median_and_quartiles(&mut values), Some(expected), "n = {n}");
        }
    }

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut [7.0]), Some(7.0));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn percentiles_follow_numpy_linear() {
        // np.percentile([1, 2, 3, 4], [25, 75]) == [1.75, 3.25]
        assert_eq!(median_and_quartiles(&mut [4.0, 1.0, 3.0, 2.0]), Some((2.5, 1.75, 3.25)));
        // np.percentile([10, 0, 5], 50) == 5; 100th percentile is the maximum.
        assert_eq!(percentile(&mut [10.0, 0.0, 5.0], 0.5), Some(5.0));
        assert_eq!(percentile(&mut [10.0, 0.0, 5.0], 1.0), Some(10.0));
        assert_eq!(percentile(&mut [10.0, 0.0, 5.0], 0.0), Some(0.0));
        assert_eq!(median_and_quartiles(&mut [2.0]), Some((2.0, 2.0, 2.0)));
        assert_eq!(median_and_quartiles(&mut [5.0, 1.0]), Some((3.0, 2.0, 4.0)));
        assert_eq!(median_and_quartiles(&mut []), None);
    }

    #[test]
    fn parallel_paths_give_the_serial_results() {
        // Inputs large enough for the parallel branches, compared with a full sort and with
        // numpy's pairwise recursion written out serially here.
        let n = PARALLEL_MIN * 2 + 13;
        let values: Vec<f64> =
            (0..n).map(|i| ((i as f64 * 0.618_033_988_7).fract() - 0.4) * (1.0 + (i % 7) as f64)).collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let h = (n as f64 - 1.0) * q;
            let lo = h.floor() as usize;
            lerp(sorted[lo], sorted[(lo + 1).min(n - 1)], h - h.floor())
        };
        let mut work = values.clone();
        assert_eq!(median_and_quartiles(&mut work), Some((at(0.5), at(0.25), at(0.75))));

        fn serial(v: &[f64]) -> f64 {
            let n = v.len();
            if n < 8 {
                v.iter().fold(0.0, |a, b| a + b)
            } else if n <= PAIRWISE_BLOCK {
                let mut r: [f64; 8] = std::array::from_fn(|j| v[j]);
                let mut i = 8;
                while i < n - n % 8 {
                    for j in 0..8 {
                        r[j] += v[i + j];
                    }
                    i += 8;
                }
                let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
                while i < n {
                    res += v[i];
                    i += 1;
                }
                res
            } else {
                let n2 = n / 2 - (n / 2) % 8;
                serial(&v[..n2]) + serial(&v[n2..])
            }
        }
        assert_eq!(pairwise_sum(&values).to_bits(), serial(&values).to_bits());
    }
}
