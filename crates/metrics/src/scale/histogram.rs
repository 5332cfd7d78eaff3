//! Count histograms of keys with each bucket's smallest and largest key, stored in pages of
//! [`PAGE`] buckets that are allocated on first use: adding a key is an index computation, and
//! memory follows the occupied part of the key range. Serialised sparsely (occupied buckets
//! only).

use serde::{Deserialize, Serialize};

/// Buckets per page.
const PAGE: usize = 64;

/// One bucket: the weight of its keys and their range (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bucket {
    pub count: u64,
    pub min: u64,
    pub max: u64,
}

const EMPTY: Bucket = Bucket { count: 0, min: u64::MAX, max: 0 };

impl Bucket {
    fn merge(&mut self, other: &Bucket) {
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

type Page = Box<[Bucket; PAGE]>;

/// A histogram of `n_buckets` buckets.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Histogram {
    n_buckets: usize,
    pages: Vec<Option<Page>>,
}

impl Histogram {
    pub fn new(n_buckets: usize) -> Self {
        Histogram { n_buckets, pages: vec![None; n_buckets.div_ceil(PAGE)] }
    }

    pub fn n_buckets(&self) -> usize {
        self.n_buckets
    }

    /// Add `key` with weight `weight` to bucket `bucket` (< `n_buckets`).
    #[inline]
    pub fn add(&mut self, bucket: usize, key: u64, weight: u64) {
        let page = self.pages[bucket / PAGE].get_or_insert_with(|| Box::new([EMPTY; PAGE]));
        let slot = &mut page[bucket % PAGE];
        slot.count += weight;
        slot.min = slot.min.min(key);
        slot.max = slot.max.max(key);
    }

    /// Add `other`'s counts (same number of buckets).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.pages.iter_mut().zip(&other.pages) {
            match (mine, theirs) {
                (_, None) => {}
                (mine @ None, Some(theirs)) => *mine = Some(theirs.clone()),
                (Some(mine), Some(theirs)) => mine.iter_mut().zip(theirs.iter()).for_each(|(a, b)| a.merge(b)),
            }
        }
    }

    /// The occupied buckets in increasing order, with their indices.
    pub fn buckets(&self) -> impl Iterator<Item = (usize, Bucket)> + '_ {
        self.pages.iter().enumerate().flat_map(|(p, page)| {
            page.iter().flat_map(move |page| {
                page.iter().enumerate().filter(|(_, b)| b.count > 0).map(move |(i, b)| (p * PAGE + i, *b))
            })
        })
    }

    /// The total weight.
    pub fn total(&self) -> u64 {
        self.buckets().map(|(_, b)| b.count).sum()
    }
}

/// The serialised form: the occupied buckets as `(index gap, count, min, max - min)`, which
/// postcard writes as varints.
#[derive(Serialize, Deserialize)]
struct Wire {
    n_buckets: u32,
    buckets: Vec<(u32, u64, u64, u64)>,
}

/// The most buckets a histogram may have: 2¹², the first pass's sign-and-exponent buckets and
/// the most a refining pass uses (96 KiB, so that adding stays in cache).
pub(super) const MAX_BUCKETS: usize = 1 << 12;

impl Serialize for Histogram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut previous = 0;
        let buckets = self
            .buckets()
            .map(|(i, b)| {
                let gap = (i - previous) as u32;
                previous = i;
                (gap, b.count, b.min, b.max - b.min)
            })
            .collect();
        Wire { n_buckets: self.n_buckets as u32, buckets }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Histogram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let wire = Wire::deserialize(deserializer)?;
        let n_buckets = wire.n_buckets as usize;
        if n_buckets > MAX_BUCKETS {
            return Err(D::Error::custom("histogram: too many buckets"));
        }
        let mut histogram = Histogram::new(n_buckets);
        let mut index = 0usize;
        let bad = || D::Error::custom("histogram: a bucket is out of order or out of range");
        for (k, (gap, count, min, span)) in wire.buckets.into_iter().enumerate() {
            index += gap as usize;
            let max = min.checked_add(span).ok_or_else(bad)?;
            if (k > 0 && gap == 0) || index >= n_buckets || count == 0 {
                return Err(bad());
            }
            histogram.add(index, min, count);
            histogram.add(index, max, 0);
        }
        Ok(histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_merges_and_round_trips() {
        let mut a = Histogram::new(200);
        a.add(3, 30, 1);
        a.add(3, 31, 2);
        a.add(150, 1500, 1);
        let mut b = Histogram::new(200);
        b.add(3, 29, 1);
        b.add(199, 1999, 4);
        a.merge(&b);
        let buckets: Vec<(usize, Bucket)> = a.buckets().collect();
        assert_eq!(
            buckets,
            vec![
                (3, Bucket { count: 4, min: 29, max: 31 }),
                (150, Bucket { count: 1, min: 1500, max: 1500 }),
                (199, Bucket { count: 4, min: 1999, max: 1999 })
            ]
        );
        assert_eq!(a.total(), 9);
        let back: Histogram = postcard::from_bytes(&postcard::to_stdvec(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        let bad = Wire { n_buckets: 10, buckets: vec![(12, 1, 0, 0)] };
        assert!(postcard::from_bytes::<Histogram>(&postcard::to_stdvec(&bad).unwrap()).is_err());
        let empty = Wire { n_buckets: 10, buckets: vec![(1, 0, 0, 0)] };
        assert!(postcard::from_bytes::<Histogram>(&postcard::to_stdvec(&empty).unwrap()).is_err());
    }
}
