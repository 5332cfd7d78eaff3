//! Image rows for training and prediction: the [`ImageSource`] interface, images held in memory
//! ([`InMemoryImages`]), and the images of a GalaxiesML HDF5 file read batch by batch
//! ([`Hdf5Images`]).
//!
//! The 127×127 training file is about 66 GB (`docs/GALAXIESML.md`, "Files"): it never fits in
//! memory, so an [`ImageSource`] reads only the rows of one batch at a time.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::galaxiesml::{GalaxiesMlFile, ImageReadTiming, ImageRowBytes};
use crate::{Error, Result};

/// Streams image rows, e.g. for a model's batches; implemented by [`Hdf5Images`] for the real
/// files and by [`InMemoryImages`] for tests and small sets. Called from a background reader
/// thread, hence `Send + Sync`.
pub trait ImageSource: Send + Sync {
    /// Number of images (rows).
    fn n(&self) -> usize;
    /// `(bands, height, width)` of one image.
    fn image_shape(&self) -> (usize, usize, usize);
    /// Replaces the contents of `out` with the images at `rows`, concatenated in the order of
    /// `rows`, each `bands × height × width` values row-major (the HDF5 `image` layout,
    /// `(N, 5, H, W)`). pzbench always passes distinct rows in ascending order, all `< n()`.
    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<()>;
}

/// Images held in memory, `n × bands × height × width` values row-major.
#[derive(Debug, Clone)]
pub struct InMemoryImages {
    shape: (usize, usize, usize),
    data: Vec<f32>,
}

impl InMemoryImages {
    /// `data` must hold a whole number of `shape = (bands, height, width)` images.
    pub fn new(shape: (usize, usize, usize), data: Vec<f32>) -> Result<Self> {
        let per_image = shape.0 * shape.1 * shape.2;
        if per_image == 0 || !data.len().is_multiple_of(per_image) {
            return Err(Error::other(format!(
                "{} image values do not make whole images of {}x{}x{}",
                data.len(),
                shape.0,
                shape.1,
                shape.2
            )));
        }
        Ok(InMemoryImages { shape, data })
    }
}

impl ImageSource for InMemoryImages {
    fn n(&self) -> usize {
        self.data.len() / (self.shape.0 * self.shape.1 * self.shape.2)
    }

    fn image_shape(&self) -> (usize, usize, usize) {
        self.shape
    }

    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<()> {
        let per_image = self.shape.0 * self.shape.1 * self.shape.2;
        out.clear();
        out.reserve(rows.len() * per_image);
        for &row in rows {
            let image = self
                .data
                .get(row * per_image..(row + 1) * per_image)
                .ok_or_else(|| Error::other(format!("image row {row} is out of range (n = {})", self.n())))?;
            out.extend_from_slice(image);
        }
        Ok(())
    }
}

/// The images of a GalaxiesML HDF5 file, read on demand: each call reads only the rows asked for,
/// so memory stays bounded by one batch whatever the file size. A contiguous image cube (h5py's
/// default layout, and pzbench's) is read as plain bytes, several rows at a time in parallel
/// ([`GalaxiesMlFile::image_row_bytes`]); any other layout (chunked, compressed) through HDF5,
/// runs of nearby rows as one hyperslab.
pub struct Hdf5Images {
    file: GalaxiesMlFile,
    /// The rows as plain bytes, read in parallel, when the file stores them so.
    plain: Option<ImageRowBytes>,
    n: usize,
    /// `(bands, height, width)` of one image.
    shape: (usize, usize, usize),
}

impl std::fmt::Debug for Hdf5Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdf5Images").field("path", &self.file.path()).field("n", &self.n).finish()
    }
}

/// Rows apart that [`Hdf5Images`] still reads as one hyperslab (the rows between are discarded):
/// one read of a few extra rows is cheaper than many small reads.
const MAX_GAP_ROWS: usize = 4;

impl Hdf5Images {
    /// The `image` key of `file`.
    pub fn new(file: GalaxiesMlFile) -> Result<Self> {
        let (n, c, h, w) = file.image_shape()?;
        let plain = file.image_row_bytes()?;
        Ok(Hdf5Images { file, plain, n, shape: (c, h, w) })
    }
}

impl ImageSource for Hdf5Images {
    fn n(&self) -> usize {
        self.n
    }

    fn image_shape(&self) -> (usize, usize, usize) {
        self.shape
    }

    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<()> {
        if let Some(bad) = rows.iter().find(|&&r| r >= self.n) {
            return Err(Error::other(format!("image row {bad} is out of range ({} rows)", self.n)));
        }
        if let Some(plain) = &self.plain {
            return plain.read_rows(rows, out);
        }
        let per_image = self.shape.0 * self.shape.1 * self.shape.2;
        out.clear();
        out.reserve(rows.len() * per_image);
        let mut i = 0;
        while i < rows.len() {
            // A run rows[i..j] of ascending rows with small gaps, read as one hyperslab.
            let mut j = i + 1;
            while j < rows.len() && rows[j] > rows[j - 1] && rows[j] - rows[j - 1] <= MAX_GAP_ROWS {
                j += 1;
            }
            let start = rows[i];
            let pixels = self.file.read_images(start, rows[j - 1] + 1 - start)?;
            for &row in &rows[i..j] {
                let offset = (row - start) * per_image;
                out.extend_from_slice(&pixels[offset..offset + per_image]);
            }
            i = j;
        }
        Ok(())
    }
}

/// Reads every image of `file` once in batches of `rows` rows drawn from a shuffle seeded with
/// 0, each batch sorted, as training reads them ([`Hdf5Images`]), and times it: the benchmark
/// of `pzbench inspect --time-batches ROWS FILE`.
pub fn time_shuffled_batches(file: GalaxiesMlFile, rows: usize) -> Result<ImageReadTiming> {
    if rows == 0 {
        return Err(Error::usage("--time-batches needs at least 1 row per batch"));
    }
    let images = Hdf5Images::new(file)?;
    let mut order: Vec<usize> = (0..images.n()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
    let started = std::time::Instant::now();
    let mut timing = ImageReadTiming { rows: 0, bytes: 0, seconds: 0.0 };
    let mut pixels = Vec::new();
    for batch in order.chunks(rows) {
        let mut batch = batch.to_vec();
        batch.sort_unstable();
        images.read_rows(&batch, &mut pixels)?;
        timing.rows += batch.len();
        timing.bytes += std::mem::size_of_val(pixels.as_slice()) as u64;
    }
    timing.seconds = started.elapsed().as_secs_f64();
    Ok(timing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::galaxiesml::{Column, ColumnData, GalaxiesMlWriter};

    #[test]
    fn hdf5_images_return_the_rows_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img.hdf5");
        let (n, s) = (12, 2);
        let mut w = GalaxiesMlWriter::create(&path, n, s).unwrap();
        // Every value of image r is r.
        let pixels: Vec<f32> = (0..n).flat_map(|r| vec![r as f32; 5 * s * s]).collect();
        w.write_images(0, &pixels).unwrap();
        w.write_column(&Column { name: "object_id".into(), data: ColumnData::I64((0..n as i64).collect()) }).unwrap();
        w.write_column(&Column { name: "specz_redshift".into(), data: ColumnData::F64(vec![0.5; n]) }).unwrap();
        w.finish().unwrap();
        let images = Hdf5Images::new(GalaxiesMlFile::open(&path).unwrap()).unwrap();
        assert_eq!((images.n(), images.image_shape()), (12, (5, 2, 2)));
        let mut out = Vec::new();
        let rows = [0, 2, 3, 9, 11];
        images.read_rows(&rows, &mut out).unwrap();
        let firsts: Vec<f32> = out.chunks(20).map(|img| img[0]).collect();
        assert_eq!(firsts, vec![0.0, 2.0, 3.0, 9.0, 11.0]);
        assert!(out.chunks(20).zip(rows).all(|(img, r)| img.iter().all(|&v| v == r as f32)));
        assert!(images.read_rows(&[12], &mut out).is_err());
        // pzbench's files store the images contiguously: read as plain bytes, in parallel, bit for
        // bit what HDF5 reads.
        assert!(images.plain.is_some());
        let through_hdf5 = Hdf5Images { plain: None, ..Hdf5Images::new(GalaxiesMlFile::open(&path).unwrap()).unwrap() };
        let rows = [1, 4, 5, 6, 10, 11];
        let (mut plain, mut hdf5) = (Vec::new(), Vec::new());
        images.read_rows(&rows, &mut plain).unwrap();
        through_hdf5.read_rows(&rows, &mut hdf5).unwrap();
        assert_eq!(plain.len(), 6 * 20);
        assert_eq!(plain, hdf5);
        let timing = time_shuffled_batches(GalaxiesMlFile::open(&path).unwrap(), 5).unwrap();
        assert_eq!((timing.rows, timing.bytes), (12, 12 * 20 * 4));
        assert!(time_shuffled_batches(GalaxiesMlFile::open(&path).unwrap(), 0).is_err());
    }

    #[test]
    fn in_memory_images_check_their_shape_and_rows() {
        assert!(InMemoryImages::new((1, 2, 2), vec![0.0; 7]).is_err());
        let images = InMemoryImages::new((1, 1, 2), (0..6).map(|v| v as f32).collect()).unwrap();
        assert_eq!((images.n(), images.image_shape()), (3, (1, 1, 2)));
        let mut out = Vec::new();
        images.read_rows(&[0, 2], &mut out).unwrap();
        assert_eq!(out, vec![0.0, 1.0, 4.0, 5.0]);
        let err = images.read_rows(&[1, 3], &mut out).unwrap_err().to_string();
        assert!(err.contains("image row 3 is out of range (n = 3)"), "{err}");
    }
}
