//! Exact selection of wanted ranks by multi-pass radix selection on keys (`key.rs`).
//!
//! A [`Selection`] keeps, for a set of values seen once per pass, the ranks it wants (0-based,
//! ascending, counting a value of weight `w` `w` times) and the key ranges ([`Target`]s) that
//! hold the ranks not yet found. The first pass histograms every key by its top 12 bits (sign
//! and exponent); each later pass looks only at the keys inside a target: it histograms them
//! again, into up to 2¹² buckets spanning the target's `[min, max]`, or — once the target holds
//! at most a limit of values ([`Limits`]) — collects them, and the rank is then read off the sorted keys.
//! A bucket whose smallest and largest key are equal gives its value at once (ties never need
//! refining).

use serde::{Deserialize, Serialize};

use super::histogram::{Bucket, Histogram, MAX_BUCKETS};
use super::key;
use crate::{Error, Result};

/// The first histogram's buckets are the keys' top 12 bits (sign and exponent).
const FIRST_SHIFT: u8 = 52;
/// Bytes that the open targets of one pass may take in memory, every stream and selector
/// together, when each selection has [`TYPICAL_TARGETS`] targets (the median's and the two
/// quartiles' buckets).
const STATE_BUDGET: u64 = 256 << 20;
const TYPICAL_TARGETS: u64 = 3;
/// A target is collected once it holds at most 2⁸ to 2¹⁶ values (weights counted)...
const MIN_COLLECT: u64 = 1 << 8;
const MAX_COLLECT: u64 = 1 << 16;
/// ...and a refining histogram has 2⁴ to 2¹² buckets (at most 96 KiB: adding stays in cache),
/// chosen so that a bucket would hold a sixteenth of the collecting limit if the values were
/// spread evenly.
const MIN_DIGIT_BITS: u32 = 4;
const MAX_DIGIT_BITS: u32 = MAX_BUCKETS.trailing_zeros();
const SPREAD_MARGIN_BITS: u32 = 4;

/// How large a target may grow: the same for every selection of a run, and smaller when a run
/// has many selections (bootstrap replicates × selectors), so that a pass's state stays within
/// [`STATE_BUDGET`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// Collect a target holding at most this many values.
    collect_max: u64,
    /// Refine with at most `2^max_digit_bits` buckets.
    max_digit_bits: u32,
}

impl Limits {
    /// The limits for a run with `selections` selections running side by side.
    pub fn new(selections: usize) -> Self {
        let per_target = STATE_BUDGET / (selections as u64 * TYPICAL_TARGETS).max(1);
        let key_bytes = std::mem::size_of::<u64>() as u64;
        let bucket_bytes = std::mem::size_of::<Bucket>() as u64;
        let buckets = (per_target / bucket_bytes).max(1);
        Limits {
            collect_max: (per_target / key_bytes).clamp(MIN_COLLECT, MAX_COLLECT),
            max_digit_bits: (u64::BITS - 1 - buckets.leading_zeros()).clamp(MIN_DIGIT_BITS, MAX_DIGIT_BITS),
        }
    }
}

/// A key range `[lo, hi]` examined in one pass, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Target {
    pub lo: u64,
    pub hi: u64,
    pub mode: Mode,
}

/// What a pass does with the keys in a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Mode {
    /// Count them in buckets of `2^shift` keys, bucket `(key - lo) >> shift`.
    Histogram { shift: u8 },
    /// Keep them all.
    Collect,
}

impl Target {
    /// Every key, histogrammed by sign and exponent.
    pub const FULL: Target = Target { lo: 0, hi: u64::MAX, mode: Mode::Histogram { shift: FIRST_SHIFT } };

    /// A target for the keys `[min, max]` (`min < max`), `count` values in all.
    fn refining(min: u64, max: u64, count: u64, limits: Limits) -> Target {
        if count <= limits.collect_max {
            return Target { lo: min, hi: max, mode: Mode::Collect };
        }
        let bit_length = |x: u64| u64::BITS - x.leading_zeros();
        let span_bits = bit_length(max - min);
        let per_bucket_bits = bit_length(limits.collect_max).saturating_sub(1 + SPREAD_MARGIN_BITS);
        let wanted_bits = bit_length(count - 1).saturating_sub(per_bucket_bits);
        let digit_bits = wanted_bits.clamp(MIN_DIGIT_BITS, limits.max_digit_bits).min(span_bits);
        Target { lo: min, hi: max, mode: Mode::Histogram { shift: (span_bits - digit_bits) as u8 } }
    }

    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        (self.lo..=self.hi).contains(&key)
    }

    /// An empty tally for one pass over this target.
    pub fn new_tally(&self) -> Tally {
        match self.mode {
            Mode::Histogram { shift } => {
                Tally::Histogram { lo: self.lo, shift, histogram: Histogram::new(self.n_buckets(shift)) }
            }
            Mode::Collect => Tally::Collect(Vec::new()),
        }
    }

    fn n_buckets(&self, shift: u8) -> usize {
        ((self.hi - self.lo) >> shift) as usize + 1
    }

    /// Whether a tally has this target's shape (so merging and reading it cannot go wrong).
    pub fn fits(&self, tally: &Tally) -> bool {
        match (self.mode, tally) {
            (Mode::Histogram { shift }, Tally::Histogram { lo, shift: s, histogram }) => {
                *lo == self.lo && *s == shift && histogram.n_buckets() == self.n_buckets(shift)
            }
            (Mode::Collect, Tally::Collect(_)) => true,
            _ => false,
        }
    }
}

/// What one partition found in a target in one pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum Tally {
    Histogram {
        lo: u64,
        shift: u8,
        histogram: Histogram,
    },
    /// The keys, each as often as its weight.
    Collect(#[serde(with = "sorted_gaps")] Vec<u64>),
}

/// Collected keys serialised sorted, as the first key and the gaps between neighbours: small
/// varints, since the keys of a target share their top bits.
mod sorted_gaps {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(keys: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        let mut previous = 0;
        let gaps: Vec<u64> = sorted
            .into_iter()
            .map(|key| {
                let gap = key - previous;
                previous = key;
                gap
            })
            .collect();
        gaps.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
        let mut key = 0u64;
        Vec::<u64>::deserialize(deserializer)?
            .into_iter()
            .map(|gap| {
                key = key.checked_add(gap).ok_or_else(|| serde::de::Error::custom("collected keys overflow"))?;
                Ok(key)
            })
            .collect()
    }
}

impl Tally {
    /// Count `key` (inside the target) with weight `weight`.
    #[inline]
    pub fn add(&mut self, key: u64, weight: u64) {
        match self {
            Tally::Histogram { lo, shift, histogram } => histogram.add(((key - *lo) >> *shift) as usize, key, weight),
            Tally::Collect(keys) => (0..weight).for_each(|_| keys.push(key)),
        }
    }

    /// Add another partition's tally of the same target (shapes checked by [`Target::fits`]).
    pub fn merge(&mut self, other: &Tally) {
        match (self, other) {
            (Tally::Histogram { histogram, .. }, Tally::Histogram { histogram: theirs, .. }) => histogram.merge(theirs),
            (Tally::Collect(keys), Tally::Collect(theirs)) => keys.extend_from_slice(theirs),
            _ => {}
        }
    }

    /// The total weight counted.
    fn total(&self) -> u64 {
        match self {
            Tally::Histogram { histogram, .. } => histogram.total(),
            Tally::Collect(keys) => keys.len() as u64,
        }
    }
}

impl PartialEq for Tally {
    /// Equal when they counted the same keys (collected keys in any order).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Tally::Histogram { lo, shift, histogram }, Tally::Histogram { lo: l, shift: s, histogram: h }) => {
                lo == l && shift == s && histogram == h
            }
            (Tally::Collect(a), Tally::Collect(b)) => {
                let (mut a, mut b) = (a.clone(), b.clone());
                a.sort_unstable();
                b.sort_unstable();
                a == b
            }
            _ => false,
        }
    }
}

/// A target still open: the values below it and inside it.
#[derive(Debug, Clone, PartialEq)]
struct Open {
    target: Target,
    below: u64,
    count: u64,
}

/// The ranks wanted of a set of values, those found, and the targets of the next pass.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Selection {
    wanted: Vec<(u64, Option<f64>)>,
    open: Vec<Open>,
    limits: Limits,
}

impl Selection {
    /// Find `ranks` among `count` values (every rank `< count`), starting from [`Target::FULL`].
    pub fn new(ranks: &[u64], count: u64, limits: Limits) -> Self {
        Selection {
            wanted: ranks.iter().map(|&r| (r, None)).collect(),
            open: vec![Open { target: Target::FULL, below: 0, count }],
            limits,
        }
    }

    /// The targets of the next pass (none once every rank is found).
    pub fn targets(&self) -> Vec<Target> {
        self.open.iter().map(|o| o.target).collect()
    }

    /// The values at the wanted ranks, in the order asked, once all are found.
    pub fn values(&self) -> Option<Vec<f64>> {
        self.wanted.iter().map(|(_, v)| *v).collect()
    }

    /// Take the merged tallies of the pass over [`Selection::targets`] (same order): find the
    /// ranks they settle and open the targets of the next pass. Errors when a tally does not fit
    /// its target or counts other values than the previous pass (the rows changed).
    pub fn absorb(&mut self, tallies: &[Tally]) -> Result<()> {
        if tallies.len() != self.open.len() {
            return Err(Error::scale("a partial's selection does not match its request"));
        }
        let mut next: Vec<Open> = Vec::new();
        for (open, tally) in self.open.iter().zip(tallies) {
            if !open.target.fits(tally) || tally.total() != open.count {
                return Err(Error::scale(format!(
                    "the rows differ between passes: a key range held {} values in the previous pass and {} now; \
                     every pass must read the same rows",
                    open.count,
                    tally.total()
                )));
            }
            let inside = |rank: u64| (open.below..open.below + open.count).contains(&rank);
            match tally {
                Tally::Collect(keys) => {
                    let mut keys = keys.clone();
                    keys.sort_unstable();
                    if keys.first().is_some_and(|&k| k < open.target.lo)
                        || keys.last().is_some_and(|&k| k > open.target.hi)
                    {
                        return Err(Error::scale("a partial holds values outside its request's key range"));
                    }
                    for (rank, value) in self.wanted.iter_mut().filter(|(r, v)| v.is_none() && inside(*r)) {
                        *value = Some(key::value(keys[(*rank - open.below) as usize]));
                    }
                }
                Tally::Histogram { lo, shift, histogram } => {
                    let mut below = open.below;
                    for (index, bucket) in histogram.buckets() {
                        let start = lo + ((index as u64) << shift);
                        let end = start.saturating_add((1u64 << shift) - 1).min(open.target.hi);
                        if bucket.min < start || bucket.max > end {
                            return Err(Error::scale("a partial holds values outside its request's key range"));
                        }
                        let in_bucket = |rank: u64| (below..below + bucket.count).contains(&rank);
                        for (_, value) in self.wanted.iter_mut().filter(|(r, v)| v.is_none() && in_bucket(*r)) {
                            if bucket.min == bucket.max {
                                *value = Some(key::value(bucket.min));
                            } else if !next.iter().any(|o| o.target.lo == bucket.min) {
                                let target = Target::refining(bucket.min, bucket.max, bucket.count, self.limits);
                                next.push(Open { target, below, count: bucket.count });
                            }
                        }
                        below += bucket.count;
                    }
                }
            }
        }
        self.open = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::key::key;

    /// Run a selection to the end on `values`, one tally per pass; returns the values and passes.
    fn select(values: &[f64], ranks: &[u64]) -> (Vec<f64>, usize) {
        let mut selection = Selection::new(ranks, values.len() as u64, Limits::new(1));
        let mut passes = 0;
        while selection.values().is_none() {
            let targets = selection.targets();
            let mut tallies: Vec<Tally> = targets.iter().map(Target::new_tally).collect();
            for &x in values {
                let k = key(x);
                if let Some(t) = targets.iter().position(|t| t.contains(k)) {
                    tallies[t].add(k, 1);
                }
            }
            selection.absorb(&tallies).unwrap();
            passes += 1;
        }
        (selection.values().unwrap(), passes)
    }

    #[test]
    fn finds_ranks_among_ties_and_signed_zeros() {
        let values = [3.0, -0.0, 0.0, -2.0, 3.0, 3.0, 1e-300, -1e-300];
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let ranks: Vec<u64> = (0..values.len() as u64).collect();
        let (found, _) = select(&values, &ranks);
        let expected: Vec<f64> = sorted.iter().map(|x| x + 0.0).collect();
        assert_eq!(
            found.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            expected.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn many_values_take_several_passes() {
        // 300,000 values packed into one binade: histogram, refine, then collect.
        let values: Vec<f64> = (0..300_000u64).map(|i| 1.0 + ((i * 7919) % 300_007) as f64 * 1e-12).collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let ranks = [0, 1, 149_999, 150_000, 299_999];
        let (found, passes) = select(&values, &ranks);
        assert_eq!(found, ranks.iter().map(|&r| sorted[r as usize]).collect::<Vec<_>>());
        assert!(passes >= 3, "{passes} passes");
    }

    #[test]
    fn a_changed_row_count_is_an_error() {
        let mut selection = Selection::new(&[0], 2, Limits::new(1));
        let mut tally = Target::FULL.new_tally();
        tally.add(key(1.0), 1);
        assert!(selection.absorb(&[tally]).unwrap_err().to_string().contains("rows differ"));
    }
}
