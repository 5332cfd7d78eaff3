//! [`Bins::locate`] in a few nanoseconds: a table over `[first edge, last edge]` gives, for the
//! cell a value falls in, bounds on the number of edges below it, and only the edges between
//! the bounds (usually none or one) are compared. The result is always `Bins::locate`'s: the
//! table's cells overlap by one on each side, which absorbs the rounding of the cell index.

use crate::Bins;

/// Table cells per bin (more for bins narrower than the average).
const CELLS_PER_BIN: usize = 4;
/// Table cells at least.
const MIN_CELLS: usize = 64;
/// 2⁵²: the doubles in `[2⁵², 2⁵³)` are the integers, held in the fraction bits.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;
const FRACTION_MASK: u64 = (1 << 52) - 1;

/// Finds a value's bin as [`Bins::locate`] does.
#[derive(Debug, Clone)]
pub(super) struct Locator {
    edges: Vec<f64>,
    lo: f64,
    /// Cells per unit of redshift.
    scale: f64,
    /// `below[c]`: the number of edges below `lo + (c - 1) / scale` (`cells + 3` entries, the
    /// last counting every edge).
    below: Vec<u32>,
}

impl Locator {
    pub fn new(bins: &Bins) -> Self {
        let edges = bins.edges.clone();
        let (lo, hi) = (edges[0], edges[edges.len() - 1]);
        let cells = (bins.len() * CELLS_PER_BIN).max(MIN_CELLS);
        let scale = cells as f64 / (hi - lo);
        let mut below: Vec<u32> = (0..=cells + 2)
            .map(|c| {
                let at = lo + (c as f64 - 1.0) / scale;
                edges.partition_point(|&e| e < at) as u32
            })
            .collect();
        // The last bound counts every edge, whatever the rounding of `at`.
        below[cells + 2] = edges.len() as u32;
        Locator { edges, lo, scale, below }
    }

    /// The bin of `z`, or `n_bins` (the "outside" cell) when no bin holds it.
    #[inline]
    pub fn cell(&self, z: f64) -> usize {
        let last = (self.below.len() - 4) as f64;
        // The cell: NaN and values below `lo` go to cell 0, values above `hi` to the last. Adding
        // 2⁵² rounds a value in [0, 2⁵¹] to an integer held in the low bits (cheaper than a
        // saturating cast). A value in cell `c` lies between `lo + (c - 1) / scale` and
        // `lo + (c + 2) / scale`, whatever the rounding of `c`.
        let x = ((z - self.lo) * self.scale).max(0.0).min(last);
        let c = ((x + TWO_POW_52).to_bits() & FRACTION_MASK) as usize;
        let (mut above, to) = (self.below[c] as usize, self.below[c + 3] as usize);
        while above < to && self.edges[above] < z {
            above += 1;
        }
        let n_bins = self.edges.len() - 1;
        if (1..=n_bins).contains(&above) {
            above - 1
        } else {
            n_bins
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BinOn;
    use proptest::prelude::*;

    fn check(bins: &Bins, z: f64) {
        assert_eq!(Locator::new(bins).cell(z), bins.locate(z).unwrap_or(bins.len()), "{z} in {:?}", bins.edges);
    }

    #[test]
    fn edges_and_extremes() {
        let uneven = Bins::new(BinOn::ZSpec, vec![-1.0, 0.0, 0.001, 0.3, 0.30000000000000004, 2.0, 1e6]).unwrap();
        for bins in [Bins::galaxiesml_default(), uneven] {
            for &e in &bins.edges {
                for z in [e, e.next_down(), e.next_up()] {
                    check(&bins, z);
                }
            }
            for z in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, 1e300, -1e300, f64::MIN_POSITIVE] {
                check(&bins, z);
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_bins_locate(edges in prop::collection::btree_set(-1000i32..1000, 2..40), z in -12.0f64..12.0) {
            let edges: Vec<f64> = edges.into_iter().map(|e| f64::from(e) * 0.01).collect();
            let bins = Bins::new(BinOn::ZPhot, edges.clone()).unwrap();
            check(&bins, z);
            for e in edges {
                check(&bins, e);
                check(&bins, e.next_up());
            }
        }
    }
}
