//! The in-memory data interface the CLI feeds, and the batch pipeline built on it.
//!
//! A [`Dataset`] holds the tabular columns (ids, magnitudes, redshifts) in memory — 286,401
//! galaxies × 5 magnitudes is a few MB — while images come from an [`ImageSource`] that reads rows
//! on demand, so the 66 GB 127×127 training file never has to fit in memory (GALAXIESML.md).
//!
//! Shuffling with bounded memory and locality: when a model reads images, an epoch's order is
//! drawn chunk-wise — the rows are cut into chunks of `chunk_rows` consecutive rows, the chunk
//! order is shuffled, and the rows of each group of `buffer_chunks` consecutive (shuffled) chunks
//! are shuffled together (the usual "shuffle buffer"). Each batch's rows are then sorted, so an
//! `ImageSource` always receives ascending rows that lie within at most two buffers, i.e. a
//! window of `2 · buffer_chunks` HDF5-sized chunks that it may cache. Only one batch of images
//! is held by the pipeline at a time (plus one prefetched by a reader thread). Photometry-only
//! models shuffle all rows freely.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use polars::prelude::{DataType, ParquetReader, PolarsError, SerReader, Series};
use serde::{Deserialize, Serialize};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::cnn::IMAGE_SCALE;
use super::scaling::MinMaxScaler;
use pzbench_io::galaxiesml::{GalaxiesMlFile, ImageRowBytes, OBJECT_ID_KEY, REDSHIFT_KEY};
use pzbench_io::write_atomic;
use pzbench_io::{Error, Result};

/// Streams image rows for a [`Dataset`]; implemented by the HDF5 reader for the real files and
/// by [`InMemoryImages`] for tests and small sets. Called from a background reader thread, hence
/// `Send + Sync`.
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
        if per_image == 0 || data.len() % per_image != 0 {
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

/// `(bands, height, width)` of one image of a GalaxiesML file, which reads `(N, 5, H, W)`.
type ImageShape = (usize, usize, usize);

/// The images of a GalaxiesML HDF5 file, read on demand: each call reads only the rows asked for
/// (runs of nearby rows as one hyperslab), so memory stays bounded by one batch whatever the file
/// size.
pub struct Hdf5Images {
    file: GalaxiesMlFile,
    /// The rows as plain bytes, read in parallel, when the file stores them so.
    plain: Option<ImageRowBytes>,
    n: usize,
    shape: ImageShape,
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

/// The GalaxiesML magnitude keys, in the image's band order: `{g,r,i,z,y}_cmodel_mag`.
pub fn galaxiesml_bands() -> Vec<String> {
    pzbench_io::galaxiesml::BANDS.iter().map(|b| format!("{b}_cmodel_mag")).collect()
}

/// How a model's magnitudes are read and cleaned: the columns (catalogue) or keys (HDF5), and the
/// value every non-detection is replaced with. Fitted on the training file, saved beside the
/// checkpoint ([`INPUTS_FILE`]) and reused for every file the model predicts on.
///
/// Non-detections: catalogues mark an undetected band with a sentinel magnitude (99 in DC2 and
/// HSC-style catalogues, sometimes -99). A magnitude whose absolute value is at least
/// `non_detection` is one; it is replaced by the band's **99th percentile of the detected
/// training magnitudes**, i.e. "fainter than almost every detection": the network sees a faint,
/// in-range value (a sentinel of 99 would squash the band's min-max scale to nothing) and can
/// still tell a drop-out band from a bright one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Magnitude columns or keys, in the order the model reads them.
    pub bands: Vec<String>,
    /// A magnitude with `|m| >= non_detection` is a non-detection.
    pub non_detection: f64,
    /// Per band, what a non-detection is replaced with.
    pub fill: Vec<f64>,
    /// Whether the model also reads the colours of adjacent bands (`bands[i] - bands[i + 1]`,
    /// after the fill), appended after the magnitudes: `2k - 1` inputs for `k` bands. The paper's
    /// models read magnitudes only (`false`).
    #[serde(default)]
    pub colors: bool,
    /// Min-max scaling of those inputs, fitted on the training file, applied before the model sees
    /// them (`--scale-mags`, for the CNN, which reads raw magnitudes in the paper; the NN scales
    /// inside the model).
    #[serde(default)]
    pub scale: Option<MinMaxScaler>,
}

/// The file, beside `model.json`, that holds the checkpoint's [`InputSpec`].
pub const INPUTS_FILE: &str = "inputs.json";

/// Percentile of the detected training magnitudes that replaces a non-detection.
const FILL_PERCENTILE: f64 = 0.99;

impl InputSpec {
    /// Fits the fill values on the training file's magnitudes. Fails if a band has no detection.
    pub fn fit(train: &RawData, bands: Vec<String>, non_detection: f64, colors: bool) -> Result<Self> {
        if !(non_detection.is_finite() && non_detection > 0.0) {
            return Err(Error::usage(format!(
                "--non-detection {non_detection}: give the positive sentinel magnitude of undetected bands, e.g. 99"
            )));
        }
        let k = bands.len();
        let mut fill = Vec::with_capacity(k);
        for (b, band) in bands.iter().enumerate() {
            let mut detected: Vec<f64> =
                train.mags.iter().skip(b).step_by(k).copied().filter(|m| m.abs() < non_detection).collect();
            if detected.is_empty() {
                return Err(Error::file(
                    &train.path,
                    format!("column '{band}' has no detection (every value is >= {non_detection} in absolute value); drop it from --bands"),
                ));
            }
            detected.sort_by(f64::total_cmp);
            let at = ((detected.len() - 1) as f64 * FILL_PERCENTILE).round() as usize;
            fill.push(detected[at.min(detected.len() - 1)]);
        }
        Ok(InputSpec { bands, non_detection, fill, colors, scale: None })
    }

    /// Number of values per galaxy the model reads: the magnitudes, then the colours if asked for.
    pub fn n_inputs(&self) -> usize {
        if self.colors {
            2 * self.bands.len() - 1
        } else {
            self.bands.len()
        }
    }

    /// Also min-max scales the inputs, with the per-input range of `train` (read with [`Self::bands`]).
    pub fn with_scaling(mut self, train: &RawData) -> Result<Self> {
        self.scale = None;
        let values = self.inputs(&train.mags)?;
        self.scale =
            Some(MinMaxScaler::fit(&values, self.n_inputs()).map_err(|e| Error::file(&train.path, e.to_string()))?);
        Ok(self)
    }

    /// The model's inputs for row-major magnitudes `mags`: non-detections filled, colours
    /// appended if asked for, scaled if asked for.
    fn inputs(&self, mags: &[f64]) -> Result<Vec<f32>> {
        let k = self.bands.len();
        if mags.len() % k != 0 {
            return Err(Error::other(format!("{} magnitudes do not make rows of {k} bands", mags.len())));
        }
        let mut values = Vec::with_capacity(mags.len() / k * self.n_inputs());
        let mut row = vec![0.0; k];
        for raw in mags.chunks_exact(k) {
            for ((m, &r), fill) in row.iter_mut().zip(raw).zip(&self.fill) {
                *m = if r.abs() >= self.non_detection { *fill } else { r };
            }
            values.extend(row.iter().map(|&m| m as f32));
            if self.colors {
                values.extend(row.windows(2).map(|pair| (pair[0] - pair[1]) as f32));
            }
        }
        if let Some(scale) = &self.scale {
            scale.transform(&mut values);
        }
        Ok(values)
    }

    /// Writes `inputs.json` into the checkpoint directory `dir` (atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(INPUTS_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::file(&path, format!("cannot serialise: {e}")))?;
        write_atomic(&path, &json)
    }

    /// Reads `inputs.json` from the checkpoint directory `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(INPUTS_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::file(
                &path,
                format!("cannot read ({e}): the checkpoint lacks its input description; retrain with `pzbench train`"),
            )
        })?;
        let spec: InputSpec = serde_json::from_str(&text)
            .map_err(|e| Error::file(&path, format!("corrupt input description: {e}; retrain with `pzbench train`")))?;
        if spec.bands.is_empty()
            || spec.fill.len() != spec.bands.len()
            || spec.scale.as_ref().is_some_and(|m| m.n_bands() != spec.n_inputs() || m.max.len() != spec.n_inputs())
        {
            return Err(Error::file(&path, "corrupt input description: bands and fill values do not match; retrain"));
        }
        Ok(spec)
    }

    /// The dataset of `raw`, non-detections replaced by the fill values. `raw` must have been
    /// read with [`Self::bands`].
    pub fn dataset(&self, raw: RawData) -> Result<Dataset> {
        let RawData { path, ids, mags, z, images, .. } = raw;
        if mags.len() != ids.len() * self.bands.len() {
            return Err(Error::other(format!(
                "{}: read {} magnitudes for {} galaxies",
                path.display(),
                mags.len(),
                ids.len()
            )));
        }
        let values = self.inputs(&mags)?;
        let inputs = self.n_inputs();
        let mut data = Dataset::new(ids, values, inputs).map_err(|e| Error::file(&path, e.to_string()))?;
        if let Some(z) = z {
            data = data
                .with_redshifts(z.iter().map(|&v| v as f32).collect())
                .map_err(|e| Error::file(&path, e.to_string()))?;
        }
        if let Some(images) = images {
            data = data.with_images(images).map_err(|e| Error::file(&path, e.to_string()))?;
        }
        Ok(data)
    }
}

/// A data file as read, before non-detections are filled: ids, magnitudes (row-major, f64),
/// redshifts if the file has them, images if asked for.
pub struct RawData {
    /// The file.
    pub path: PathBuf,
    /// `"GalaxiesML HDF5"`, `"CSV"` or `"Parquet"`.
    pub format: &'static str,
    pub ids: Vec<i64>,
    pub mags: Vec<f64>,
    /// Spectroscopic redshifts, as stored (f64).
    pub z: Option<Vec<f64>>,
    pub images: Option<Box<dyn ImageSource>>,
    /// Non-detections per band (values with `|m| >=` the sentinel given to [`read_data`]).
    pub non_detections: Vec<usize>,
}

impl RawData {
    /// Number of galaxies.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the file has no galaxies.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Reads the magnitude columns `bands`, the ids and the spectroscopic redshifts (if present) of
/// `path`: a GalaxiesML HDF5 file (keys; ids from `object_id`, redshifts from `specz_redshift`,
/// images from `image` when `images` is set) or a CSV/TSV/Parquet catalogue (columns; ids from
/// `object_id` or `id`, else the row number from 0; redshifts from `z_spec`, `zspec`,
/// `specz_redshift` or `redshift`). Every magnitude must be a number: NaN, infinite or empty
/// values fail, naming the row and column. Counts values with `|m| >= non_detection`.
pub fn read_data(path: &Path, bands: &[String], images: bool, non_detection: f64) -> Result<RawData> {
    if bands.is_empty() {
        return Err(Error::usage(
            "--bands names no column; give the magnitude columns, e.g. --bands mag_g,mag_r,mag_i",
        ));
    }
    if let Some(dup) = bands.iter().enumerate().find(|(i, b)| bands[..*i].contains(b)) {
        return Err(Error::usage(format!("--bands names '{}' twice", dup.1)));
    }
    let mut raw = if is_hdf5(path)? {
        read_hdf5(path, bands, images)?
    } else if images {
        return Err(Error::file(
            path,
            "the CNN needs images, and this is a catalogue (CSV/Parquet); give a GalaxiesML HDF5 file with an `image` key, or use --model nn",
        ));
    } else {
        read_catalogue(path, bands)?
    };
    let k = bands.len();
    for (i, m) in raw.mags.iter().enumerate() {
        if !m.is_finite() {
            let row = i / k;
            return Err(Error::file(
                path,
                format!(
                    "row {row} (id {}), column '{}' is {m}; magnitudes must be numbers (mark a non-detection with {non_detection}, or drop the row)",
                    raw.ids[row],
                    bands[i % k]
                ),
            ));
        }
    }
    raw.non_detections =
        (0..k).map(|b| raw.mags.iter().skip(b).step_by(k).filter(|m| m.abs() >= non_detection).count()).collect();
    Ok(raw)
}

const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

fn is_hdf5(path: &Path) -> Result<bool> {
    let mut file = File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut magic = [0u8; 8];
    let n = file.read(&mut magic).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    Ok(&magic[..n] == HDF5_MAGIC
        || path.extension().is_some_and(|e| ["hdf5", "h5", "he5"].iter().any(|x| e.eq_ignore_ascii_case(x))))
}

fn read_hdf5(path: &Path, bands: &[String], images: bool) -> Result<RawData> {
    let file = GalaxiesMlFile::open(path)?;
    let ids = file.read_i64(OBJECT_ID_KEY)?;
    let n = ids.len();
    let mut columns = Vec::with_capacity(bands.len());
    for band in bands {
        if file.key(band).is_none() {
            return Err(Error::file(
                path,
                format!(
                    "no key '{band}' (a magnitude of --bands); the GalaxiesML magnitudes are {}",
                    galaxiesml_bands().join(",")
                ),
            ));
        }
        columns.push(file.read_f64(band)?);
    }
    if let Some((band, c)) = bands.iter().zip(&columns).find(|(_, c)| c.len() != n) {
        return Err(Error::file(path, format!("key '{band}' has {} rows but {OBJECT_ID_KEY} has {n}", c.len())));
    }
    let z = match file.key(REDSHIFT_KEY) {
        Some(_) => Some(file.read_f64(REDSHIFT_KEY)?),
        None => None,
    };
    let mags = (0..n).flat_map(|row| columns.iter().map(move |c| c[row])).collect();
    let images: Option<Box<dyn ImageSource>> = if images { Some(Box::new(Hdf5Images::new(file)?)) } else { None };
    Ok(RawData {
        path: path.to_path_buf(),
        format: "GalaxiesML HDF5",
        ids,
        mags,
        z,
        images,
        non_detections: Vec::new(),
    })
}

/// Catalogue columns that hold the galaxy id, in order of preference (case-insensitive).
const ID_COLUMNS: [&str; 2] = ["object_id", "id"];

/// The columns of a catalogue that pzbench reads: `(format, ids, float columns in the order asked)`.
type Columns = (&'static str, Option<Vec<i64>>, Vec<Vec<f64>>);

fn read_catalogue(path: &Path, bands: &[String]) -> Result<RawData> {
    let parquet = is_parquet(path)?;
    let header = if parquet { parquet_header(path)? } else { text_header(path)?.1 };
    let missing: Vec<String> = bands.iter().filter(|b| !header.contains(b)).map(|m| format!("'{m}'")).collect();
    if !missing.is_empty() {
        return Err(Error::file(
            path,
            format!("no column {} (named by --bands); the columns are: {}", missing.join(", "), header.join(", ")),
        ));
    }
    let find = |aliases: &[&str]| aliases.iter().find_map(|a| header.iter().position(|h| h.eq_ignore_ascii_case(a)));
    let id_col = find(&ID_COLUMNS);
    let z_col = find(pzbench_io::table::Role::ZSpec.aliases());
    let mut floats: Vec<usize> = bands.iter().filter_map(|b| header.iter().position(|h| h == b)).collect();
    floats.extend(z_col);
    let (format, ids, mut columns) = if parquet {
        read_parquet_columns(path, &header, id_col, &floats)?
    } else {
        read_text_columns(path, id_col, &floats)?
    };
    let z = z_col.and_then(|_| columns.pop());
    let n = columns.first().map_or(0, Vec::len);
    if n == 0 {
        return Err(Error::file(path, "the catalogue has a header but no rows"));
    }
    let ids = ids.unwrap_or_else(|| (0..n as i64).collect());
    let mags = (0..n).flat_map(|row| columns.iter().map(move |c| c[row])).collect();
    Ok(RawData { path: path.to_path_buf(), format, ids, mags, z, images: None, non_detections: Vec::new() })
}

fn is_parquet(path: &Path) -> Result<bool> {
    let mut file = File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    if n == 0 {
        return Err(Error::file(path, "the file is empty; expected a header line and one row per galaxy"));
    }
    Ok(&magic[..n] == b"PAR1" || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")))
}

/// The separator of a text catalogue, from its header line: tab, comma, semicolon or whitespace.
fn split_fields(line: &str, separator: Option<char>) -> Vec<&str> {
    match separator {
        Some(c) => line.split(c).map(|f| f.trim().trim_matches('"')).collect(),
        None => line.split_whitespace().collect(),
    }
}

fn text_header(path: &Path) -> Result<(Option<char>, Vec<String>)> {
    let file = File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut line = String::new();
    BufReader::new(file).read_line(&mut line).map_err(|e| {
        Error::file(path, format!("line 1 cannot be read as text ({e}); give a CSV, TSV or Parquet catalogue"))
    })?;
    let line = line.trim_end_matches(['\r', '\n']).trim_start_matches('#').trim();
    let separator = ['\t', ',', ';'].into_iter().find(|c| line.contains(*c));
    let header: Vec<String> = split_fields(line, separator).into_iter().map(str::to_string).collect();
    if header.iter().all(String::is_empty) {
        return Err(Error::file(path, "line 1 is empty; expected a header naming the columns"));
    }
    Ok((separator, header))
}

fn read_text_columns(path: &Path, id_col: Option<usize>, floats: &[usize]) -> Result<Columns> {
    let (separator, header) = text_header(path)?;
    let file = File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut ids = id_col.map(|_| Vec::new());
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); floats.len()];
    for (index, line) in BufReader::new(file).lines().enumerate().skip(1) {
        let line_no = index + 1;
        let line = line.map_err(|e| Error::file(path, format!("line {line_no} cannot be read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(&line, separator);
        if fields.len() != header.len() {
            return Err(Error::file(
                path,
                format!("line {line_no} has {} fields but the header has {}; fix the row", fields.len(), header.len()),
            ));
        }
        let bad = |col: usize, what: &str| {
            Error::file(
                path,
                format!(
                    "line {line_no}, column '{}': '{}' is not {what}; fix or remove the row",
                    header[col], fields[col]
                ),
            )
        };
        if let (Some(ids), Some(col)) = (ids.as_mut(), id_col) {
            ids.push(fields[col].parse::<i64>().map_err(|_| bad(col, "an integer id"))?);
        }
        for (values, &col) in columns.iter_mut().zip(floats) {
            values.push(fields[col].parse::<f64>().map_err(|_| bad(col, "a number"))?);
        }
    }
    let format = match separator {
        Some(',') => "CSV",
        Some('\t') => "TSV",
        Some(_) => "text (;-separated)",
        None => "text (whitespace-separated)",
    };
    Ok((format, ids, columns))
}

fn parquet_header(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let schema = ParquetReader::new(file).schema().map_err(|e| corrupt_parquet(path, &e))?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

fn corrupt_parquet(path: &Path, e: &PolarsError) -> Error {
    Error::file(path, format!("not a readable Parquet file (truncated or corrupt?): {e}"))
}

fn read_parquet_columns(path: &Path, header: &[String], id_col: Option<usize>, floats: &[usize]) -> Result<Columns> {
    let file = File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut projection: Vec<usize> = floats.iter().copied().chain(id_col).collect();
    projection.sort_unstable();
    projection.dedup();
    let frame =
        ParquetReader::new(file).with_projection(Some(projection)).finish().map_err(|e| corrupt_parquet(path, &e))?;
    let column = |col: usize, dtype: &DataType| -> Result<Series> {
        let name = &header[col];
        let series = frame
            .column(name)
            .map_err(|e| corrupt_parquet(path, &e))?
            .as_materialized_series()
            .strict_cast(dtype)
            .map_err(|_| Error::file(path, format!("column '{name}' is not numeric ({dtype} needed)")))?;
        if series.null_count() > 0 {
            let row =
                series.is_null().downcast_iter().flat_map(|a| a.values().iter()).position(|null| null).unwrap_or(0);
            return Err(Error::file(
                path,
                format!("row {row}, column '{name}' is empty (null); fix or remove the row"),
            ));
        }
        Ok(series)
    };
    let ids = match id_col {
        Some(col) => {
            let series = column(col, &DataType::Int64)?;
            let values = series.i64().map_err(|e| corrupt_parquet(path, &e))?;
            Some(values.downcast_iter().flat_map(|a| a.values().iter().copied()).collect())
        }
        None => None,
    };
    let mut columns = Vec::with_capacity(floats.len());
    for &col in floats {
        let series = column(col, &DataType::Float64)?;
        let values = series.f64().map_err(|e| corrupt_parquet(path, &e))?;
        columns.push(values.downcast_iter().flat_map(|a| a.values().iter().copied()).collect());
    }
    Ok(("Parquet", ids, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn raw(mags: Vec<f64>) -> RawData {
        let n = mags.len() / 2;
        RawData {
            path: PathBuf::from("cat.csv"),
            format: "CSV",
            ids: (0..n as i64).collect(),
            mags,
            z: Some(vec![0.5; n]),
            images: None,
            non_detections: Vec::new(),
        }
    }

    #[test]
    fn non_detections_are_filled_with_the_faint_percentile() {
        // Band 0: 20..=119 detected plus two 99s; band 1: all detected except one -99.
        let mut mags = Vec::new();
        for i in 0..100 {
            mags.extend([20.0 + f64::from(i) * 0.05, 22.0]);
        }
        mags.extend([99.0, 23.0, 99.5, -99.0]);
        let spec = InputSpec::fit(&raw(mags.clone()), vec!["a".into(), "b".into()], 99.0, false).unwrap();
        assert_eq!(spec.fill[0], 20.0 + 98.0 * 0.05, "99th percentile of the 100 detections");
        assert_eq!(spec.fill[1], 22.0);
        let data = spec.dataset(raw(mags)).unwrap();
        let m = data.mags();
        assert_eq!(&m[200..204], &[spec.fill[0] as f32, 23.0, spec.fill[0] as f32, 22.0]);
        let none = InputSpec::fit(&raw(vec![99.0, 20.0, 99.0, 21.0]), vec!["u".into(), "g".into()], 99.0, false);
        assert!(none.unwrap_err().to_string().contains("column 'u' has no detection"));
        assert!(InputSpec::fit(&raw(vec![20.0, 20.0]), vec!["u".into(), "g".into()], -1.0, false).is_err());
        let with_colors = InputSpec { colors: true, ..spec };
        assert_eq!(with_colors.n_inputs(), 3);
        let data = with_colors.dataset(raw(vec![21.0, 20.5, 99.0, 22.0])).unwrap();
        let fill = with_colors.fill[0];
        assert_eq!(data.mags(), &[21.0, 20.5, 0.5, fill as f32, 22.0, (fill - 22.0) as f32]);
        let train = raw(vec![21.0, 20.5, 99.0, 22.0]);
        let scaled = with_colors.with_scaling(&train).unwrap();
        let data = scaled.dataset(raw(vec![21.0, 20.5, 99.0, 22.0])).unwrap();
        assert!(data.mags().iter().all(|v| (0.0..=1.0).contains(v)), "{:?}", data.mags());
        assert_eq!(data.mags()[0], 0.0);
    }

    #[test]
    fn catalogues_read_from_csv_and_parquet_alike() {
        use polars::prelude::{df, ParquetWriter};
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("cat.csv");
        std::fs::write(&csv, "object_id,redshift,m1,m2,other\n7,0.1,20.5,99,x\n9,0.2,21.5,22.5,y\n").unwrap();
        let bands = ["m2".to_string(), "m1".to_string()];
        let from_csv = read_data(&csv, &bands, false, 99.0).unwrap();
        assert_eq!(from_csv.format, "CSV");
        assert_eq!(from_csv.ids, vec![7, 9]);
        assert_eq!(from_csv.mags, vec![99.0, 20.5, 22.5, 21.5]);
        assert_eq!(from_csv.z, Some(vec![0.1, 0.2]));
        assert_eq!(from_csv.non_detections, vec![1, 0]);
        let parquet = dir.path().join("cat.parquet");
        let mut frame =
            df!("object_id" => [7i64, 9], "redshift" => [0.1, 0.2], "m1" => [20.5, 21.5], "m2" => [99.0, 22.5])
                .unwrap();
        ParquetWriter::new(File::create(&parquet).unwrap()).finish(&mut frame).unwrap();
        let from_parquet = read_data(&parquet, &bands, false, 99.0).unwrap();
        assert_eq!(from_parquet.format, "Parquet");
        assert_eq!((from_parquet.ids, from_parquet.mags, from_parquet.z), (from_csv.ids, from_csv.mags, from_csv.z));
        let err = read_data(&csv, &["m3".to_string()], false, 99.0).err().unwrap().to_string();
        assert!(err.contains("no column 'm3' (named by --bands)"), "{err}");
        let err = read_data(&csv, &["m1".to_string()], true, 99.0).err().unwrap().to_string();
        assert!(err.contains("the CNN needs images"), "{err}");
    }

    #[test]
    fn hdf5_images_return_the_rows_asked_for() {
        use pzbench_io::galaxiesml::{Column, ColumnData, GalaxiesMlWriter};
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
