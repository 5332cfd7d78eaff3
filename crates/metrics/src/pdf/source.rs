//! PDFs read block by block: the metrics that need the PDFs themselves (the per-galaxy values,
//! the n(z) KS distances) read them in passes over consecutive blocks of galaxies, so that a file
//! too large to hold twice is held a block at a time (issue 15: "memory bounded by a chunk plus
//! O(n) per-galaxy scalars").

use super::representation::{Pdfs, Representation};

/// What [`PdfSource::for_each_block`] calls with each block: its first row and its PDFs.
pub type BlockVisit<'a, E> = dyn FnMut(usize, &Pdfs) -> Result<(), E> + 'a;

/// A set of PDFs that can be visited in blocks of consecutive galaxies, in row order, as often as
/// needed (every visit yields the same PDFs).
pub trait PdfSource {
    /// What a failed read is; metrics errors convert into it.
    type Error: From<crate::Error>;

    /// Number of galaxies.
    fn len(&self) -> usize;

    /// Whether there are no galaxies.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The representation of every block.
    fn representation(&self) -> Representation;

    /// Call `visit(first_row, block)` for consecutive blocks covering every galaxy in order.
    fn for_each_block(&self, visit: &mut BlockVisit<'_, Self::Error>) -> Result<(), Self::Error>;
}

/// PDFs held in memory are one block.
impl PdfSource for Pdfs {
    type Error = crate::Error;

    fn len(&self) -> usize {
        Pdfs::len(self)
    }

    fn representation(&self) -> Representation {
        Pdfs::representation(self)
    }

    fn for_each_block(&self, visit: &mut BlockVisit<'_, crate::Error>) -> crate::Result<()> {
        visit(0, self)
    }
}
