//! The in-memory data interface the models read, and the batch pipeline built on it.
//!
//! A [`Dataset`] holds the tabular columns (ids, magnitudes, redshifts) in memory — 286,401
//! galaxies × 5 magnitudes is a few MB — while images come from an [`ImageSource`] (the I/O
//! crate's, e.g. [`pzbench_io::images::Hdf5Images`]) that reads rows on demand, so the 66 GB
//! 127×127 training file never has to fit in memory (`docs/GALAXIESML.md`, "Files").
//!
//! Shuffling with bounded memory and locality: when a model reads images, an epoch's order is
//! drawn chunk-wise — the rows are cut into chunks of `chunk_rows` consecutive rows, the chunk
//! order is shuffled, and the rows of each group of `buffer_chunks` consecutive (shuffled) chunks
//! are shuffled together (the usual "shuffle buffer"). Each batch's rows are then sorted, so an
//! `ImageSource` always receives ascending rows that lie within at most two buffers, i.e. a
//! window of `2 · buffer_chunks` HDF5-sized chunks that it may cache. Only one batch of images
//! is held by the pipeline at a time (plus one prefetched by a reader thread). Photometry-only
//! models shuffle all rows freely.

use std::sync::mpsc::sync_channel;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::cnn::IMAGE_SCALE;
use super::scaling::MinMaxScaler;
use pzbench_io::images::ImageSource;
use pzbench_io::{Error, Result};

/// One row per galaxy: id, magnitudes, optionally the spectroscopic redshift (needed to train)
/// and images (needed by the CNN).
pub struct Dataset {
    ids: Vec<i64>,
    mags: Vec<f32>,
    n_mags: usize,
    z: Option<Vec<f32>>,
    images: Option<Box<dyn ImageSource>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("rows", &self.len())
            .field("n_mags", &self.n_mags)
            .field("has_redshifts", &self.z.is_some())
            .field("image_shape", &self.image_shape())
            .finish()
    }
}

impl Dataset {
    /// A dataset of `ids.len()` galaxies with `mags` row-major `n × n_mags` (raw cmodel
    /// magnitudes, band order g, r, i, z, y). Every magnitude must be finite.
    pub fn new(ids: Vec<i64>, mags: Vec<f32>, n_mags: usize) -> Result<Self> {
        if n_mags == 0 || mags.len() != ids.len() * n_mags {
            return Err(Error::other(format!(
                "{} magnitudes for {} galaxies: expected {} per galaxy",
                mags.len(),
                ids.len(),
                n_mags
            )));
        }
        if let Some(k) = mags.iter().position(|m| !m.is_finite()) {
            let (row, band) = (k / n_mags, k % n_mags);
            return Err(Error::other(format!(
                "galaxy {} (row {row}) has a non-finite magnitude in band {band}: {}",
                ids[row], mags[k]
            )));
        }
        Ok(Dataset { ids, mags, n_mags, z: None, images: None })
    }

    /// Adds the spectroscopic redshifts, one per galaxy, finite and > -1.
    pub fn with_redshifts(mut self, z: Vec<f32>) -> Result<Self> {
        if z.len() != self.len() {
            return Err(Error::other(format!("{} redshifts for {} galaxies", z.len(), self.len())));
        }
        if let Some(row) = z.iter().position(|v| !v.is_finite() || *v <= -1.0) {
            return Err(Error::other(format!(
                "galaxy {} (row {row}) has an unusable redshift {} (must be finite and > -1)",
                self.ids[row], z[row]
            )));
        }
        self.z = Some(z);
        Ok(self)
    }

    /// Adds the images, one per galaxy, in the same row order.
    pub fn with_images(mut self, images: Box<dyn ImageSource>) -> Result<Self> {
        if images.n() != self.len() {
            return Err(Error::other(format!("{} images for {} galaxies", images.n(), self.len())));
        }
        self.images = Some(images);
        Ok(self)
    }

    /// Number of galaxies.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no galaxies.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The galaxy ids, in row order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// The magnitudes, row-major `len() × n_mags()`.
    pub fn mags(&self) -> &[f32] {
        &self.mags
    }

    /// Magnitudes per galaxy.
    pub fn n_mags(&self) -> usize {
        self.n_mags
    }

    /// The spectroscopic redshifts, if given.
    pub fn redshifts(&self) -> Option<&[f32]> {
        self.z.as_deref()
    }

    /// `(bands, height, width)` of the images, if there are images.
    pub fn image_shape(&self) -> Option<(usize, usize, usize)> {
        self.images.as_ref().map(|i| i.image_shape())
    }
}

/// A batch on the host, preprocessed for the model.
pub(crate) struct HostBatch {
    /// Number of galaxies.
    pub n: usize,
    /// `n × n_mags`, scaled if the model scales.
    pub mags: Vec<f32>,
    /// `n × bands × H × W`, divided by [`IMAGE_SCALE`], if the model reads images.
    pub images: Option<Vec<f32>>,
    /// `n` redshifts, if the dataset has them.
    pub z: Option<Vec<f32>>,
}

/// How a model wants its inputs prepared.
#[derive(Debug, Clone)]
pub(crate) struct Preprocess {
    /// Min-max scaling of the magnitudes (the NN), or raw magnitudes (the CNN).
    pub scaler: Option<MinMaxScaler>,
    /// Whether images are read (the CNN).
    pub images: bool,
    /// `(seed, epoch)` of the random flips and rotations applied to the images, if any.
    pub augment: Option<(u64, usize)>,
}

impl Preprocess {
    /// The same preparation with the images of galaxy `row` turned by the symmetry drawn from
    /// `(seed, epoch, row)` (see [`dihedral_sources`]), or not turned (`None`).
    pub(crate) fn augmented(&self, augment: Option<(u64, usize)>) -> Preprocess {
        Preprocess { augment, ..self.clone() }
    }

    /// Gathers and preprocesses the galaxies at `rows` (ascending).
    fn gather(&self, data: &Dataset, rows: &[usize]) -> Result<HostBatch> {
        if let Some(bad) = rows.iter().find(|&&r| r >= data.len()) {
            return Err(Error::other(format!("row {bad} is out of range ({} galaxies)", data.len())));
        }
        let k = data.n_mags;
        let mut mags = Vec::with_capacity(rows.len() * k);
        for &r in rows {
            mags.extend_from_slice(&data.mags[r * k..(r + 1) * k]);
        }
        if let Some(scaler) = &self.scaler {
            scaler.transform(&mut mags);
        }
        let images = match (&data.images, self.images) {
            (Some(source), true) => {
                let mut pixels = Vec::new();
                source.read_rows(rows, &mut pixels)?;
                let (c, h, w) = source.image_shape();
                if pixels.len() != rows.len() * c * h * w {
                    return Err(Error::other(format!(
                        "the image reader returned {} values for {} images of {c}x{h}x{w}",
                        pixels.len(),
                        rows.len()
                    )));
                }
                use rayon::prelude::*;
                pixels.par_chunks_mut(1 << 16).for_each(|chunk| chunk.iter_mut().for_each(|p| *p /= IMAGE_SCALE));
                if let Some((seed, epoch)) = self.augment {
                    let tables: Vec<Vec<usize>> = (0..8).map(|t| dihedral_sources(h, w, t)).collect();
                    pixels.par_chunks_exact_mut(c * h * w).zip(rows).for_each_init(
                        Vec::new,
                        |scratch, (image, &row)| {
                            let t = transform_index(seed, epoch, row);
                            if t != 0 {
                                apply_dihedral(image, &tables[usize::from(t)], scratch);
                            }
                        },
                    );
                }
                Some(pixels)
            }
            (None, true) => return Err(Error::usage("this model needs images, but the data has none")),
            (_, false) => None,
        };
        let z = data.z.as_ref().map(|z| rows.iter().map(|&r| z[r]).collect());
        Ok(HostBatch { n: rows.len(), mags, images, z })
    }

    /// Calls `step` on each batch in order while a reader thread prepares the next one.
    /// Stops at the first error, from reading or from `step`.
    pub(crate) fn for_each_batch(
        &self,
        data: &Dataset,
        batches: &[Vec<usize>],
        mut step: impl FnMut(HostBatch) -> Result<()>,
    ) -> Result<()> {
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<Result<HostBatch>>(1);
            scope.spawn(move || {
                for rows in batches {
                    let batch = self.gather(data, rows);
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                }
            });
            // Returning early drops `rx`, which ends the reader thread at its next send.
            for batch in rx {
                step(batch?)?;
            }
            Ok(())
        })
    }
}

/// Which of the 8 symmetries of the square (4 rotations × optional mirror) galaxy `row` gets in
/// `epoch`: a SplitMix64 hash of `(seed, epoch, row)`, the same on every machine and run.
fn transform_index(seed: u64, epoch: usize, row: usize) -> u8 {
    let mut z =
        seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (row as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % 8) as u8
}

/// For symmetry `t` of an `h × w` image, the source pixel of every output pixel: a mirror
/// (left-right) if `t >= 4`, then `t % 4` quarter turns. A galaxy's redshift does not depend on
/// its orientation on the sky, so these are free extra training images (the paper does not
/// augment; `pzbench train --augment` offers it against over-fitting). Quarter turns need square
/// images; other shapes get only the mirror.
pub(crate) fn dihedral_sources(h: usize, w: usize, t: u8) -> Vec<usize> {
    let turns = if h == w { t % 4 } else { 0 };
    let mut sources = Vec::with_capacity(h * w);
    for y in 0..h {
        for x in 0..w {
            let (mut sy, mut sx) = (y, x);
            for _ in 0..turns {
                (sy, sx) = (sx, w - 1 - sy);
            }
            if t >= 4 {
                sx = w - 1 - sx;
            }
            sources.push(sy * w + sx);
        }
    }
    sources
}

/// Rearrange each `h × w` band of `image` by `sources` (from [`dihedral_sources`]), in place.
pub(crate) fn apply_dihedral(image: &mut [f32], sources: &[usize], scratch: &mut Vec<f32>) {
    for band in image.chunks_exact_mut(sources.len()) {
        scratch.clear();
        scratch.extend_from_slice(band);
        for (out, &from) in band.iter_mut().zip(sources) {
            *out = scratch[from];
        }
    }
}

/// The batches of one training epoch: a permutation of `0..n` drawn from `(seed, epoch)` alone (so
/// a resumed run repeats it), cut into batches of `batch_size` (the last may be smaller), each
/// sorted ascending. `window = Some((chunk_rows, buffer_chunks))` shuffles chunk-wise (module docs).
pub(crate) fn epoch_batches(
    n: usize,
    batch_size: usize,
    seed: u64,
    epoch: usize,
    window: Option<(usize, usize)>,
) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Stream 0 initialises the weights; epoch e shuffles with stream e + 1.
    rng.set_stream(epoch as u64 + 1);
    let order: Vec<usize> = match window {
        None => {
            let mut all: Vec<usize> = (0..n).collect();
            all.shuffle(&mut rng);
            all
        }
        Some((chunk_rows, buffer_chunks)) => {
            let chunk_rows = chunk_rows.max(1);
            let mut chunks: Vec<usize> = (0..n.div_ceil(chunk_rows)).collect();
            chunks.shuffle(&mut rng);
            let mut order = Vec::with_capacity(n);
            for group in chunks.chunks(buffer_chunks.max(1)) {
                let mut buffer: Vec<usize> =
                    group.iter().flat_map(|&c| c * chunk_rows..((c + 1) * chunk_rows).min(n)).collect();
                buffer.shuffle(&mut rng);
                order.extend(buffer);
            }
            order
        }
    };
    order
        .chunks(batch_size.max(1))
        .map(|rows| {
            let mut rows = rows.to_vec();
            rows.sort_unstable();
            rows
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pzbench_io::images::InMemoryImages;

    fn sorted_concat(batches: &[Vec<usize>]) -> Vec<usize> {
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        all
    }

    #[test]
    fn epochs_are_permutations_in_sorted_batches() {
        for window in [None, Some((10, 3))] {
            let b = epoch_batches(95, 8, 1, 0, window);
            assert_eq!(b.len(), 12);
            assert_eq!(b[11].len(), 95 - 88);
            assert_eq!(sorted_concat(&b), (0..95).collect::<Vec<_>>());
            assert!(b.iter().all(|rows| rows.windows(2).all(|w| w[0] < w[1])));
            assert_eq!(b, epoch_batches(95, 8, 1, 0, window), "same seed and epoch, same order");
            assert_ne!(b, epoch_batches(95, 8, 1, 1, window), "another epoch, another order");
            assert_ne!(b, epoch_batches(95, 8, 2, 0, window), "another seed, another order");
        }
    }

    #[test]
    fn chunked_shuffle_keeps_batches_within_two_buffers() {
        // 1000 rows, chunks of 10, buffers of 4 chunks = 40 rows: a batch of 16 spans at most
        // 2 buffers, i.e. at most 8 distinct chunks.
        for epoch in 0..5 {
            for rows in epoch_batches(1000, 16, 3, epoch, Some((10, 4))) {
                let mut chunks: Vec<usize> = rows.iter().map(|r| r / 10).collect();
                chunks.dedup();
                assert!(chunks.len() <= 8, "{chunks:?}");
            }
        }
    }

    #[test]
    fn dataset_validation() {
        assert!(Dataset::new(vec![1, 2], vec![20.0; 10], 5).is_ok());
        assert!(Dataset::new(vec![1, 2], vec![20.0; 9], 5).is_err());
        let err = Dataset::new(vec![7, 8], vec![20.0, 21.0, f32::NAN, 22.0], 2).unwrap_err().to_string();
        assert!(err.contains("galaxy 8 (row 1)") && err.contains("band 0"), "{err}");
        let d = Dataset::new(vec![1, 2], vec![20.0; 4], 2).unwrap();
        assert!(d.with_redshifts(vec![0.5]).is_err());
        let d = Dataset::new(vec![1, 2], vec![20.0; 4], 2).unwrap();
        let img = InMemoryImages::new((1, 2, 2), vec![0.0; 12]).unwrap();
        assert!(d.with_images(Box::new(img)).is_err(), "3 images for 2 galaxies");
        assert!(InMemoryImages::new((1, 2, 2), vec![0.0; 7]).is_err());
    }

    #[test]
    fn pipeline_gathers_scales_and_propagates_errors() {
        let images = InMemoryImages::new((1, 1, 2), (0..6).map(|v| v as f32 * 255.0).collect()).unwrap();
        let data = Dataset::new(vec![10, 11, 12], vec![1.0, 2.0, 3.0], 1)
            .unwrap()
            .with_redshifts(vec![0.1, 0.2, 0.3])
            .unwrap()
            .with_images(Box::new(images))
            .unwrap();
        let prep =
            Preprocess { scaler: Some(MinMaxScaler { min: vec![1.0], max: vec![3.0] }), images: true, augment: None };
        let mut seen = Vec::new();
        prep.for_each_batch(&data, &[vec![0, 2], vec![1]], |b| {
            seen.push((b.n, b.mags, b.images, b.z));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen[0], (2, vec![0.0, 1.0], Some(vec![0.0, 1.0, 4.0, 5.0]), Some(vec![0.1, 0.3])));
        assert_eq!(seen[1], (1, vec![0.5], Some(vec![2.0, 3.0]), Some(vec![0.2])));
        let err = prep.for_each_batch(&data, &[vec![0], vec![7]], |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("row 7 is out of range (3 galaxies)"), "{err}");
        let mut out = Vec::new();
        let images = InMemoryImages::new((1, 1, 2), vec![0.0; 6]).unwrap();
        let err = images.read_rows(&[1, 3], &mut out).unwrap_err().to_string();
        assert!(err.contains("image row 3 is out of range (n = 3)"), "{err}");
        let stop = prep.for_each_batch(&data, &[vec![0], vec![1], vec![2]], |_| Err(Error::other("stop")));
        assert_eq!(stop.unwrap_err().to_string(), "stop");
    }

    #[test]
    fn dihedral_transforms_are_the_eight_symmetries_of_the_square() {
        let image: Vec<f32> = (0..18).map(|v| v as f32).collect(); // 2 bands of 3x3
        let mut seen = Vec::new();
        for t in 0..8u8 {
            let mut turned = image.clone();
            apply_dihedral(&mut turned, &dihedral_sources(3, 3, t), &mut Vec::new());
            // A permutation within each band, the same for both bands.
            for band in 0..2 {
                let mut values = turned[band * 9..(band + 1) * 9].to_vec();
                values.sort_by(f32::total_cmp);
                assert_eq!(values, image[band * 9..(band + 1) * 9].to_vec());
                let offsets: Vec<f32> =
                    turned[band * 9..(band + 1) * 9].iter().map(|v| v - 9.0 * band as f32).collect();
                assert_eq!(offsets, turned[..9].to_vec());
            }
            assert_eq!(turned[4], 4.0, "the centre stays");
            seen.push(turned);
        }
        assert_eq!(seen[0], image, "t = 0 is the identity");
        for a in 0..8 {
            for b in a + 1..8 {
                assert_ne!(seen[a], seen[b], "transforms {a} and {b} coincide");
            }
        }
        // Same (seed, epoch, row): same transform; it varies over rows.
        assert_eq!(transform_index(3, 1, 10), transform_index(3, 1, 10));
        assert!((0..64).map(|row| transform_index(3, 1, row)).collect::<std::collections::BTreeSet<_>>().len() == 8);
    }
}
