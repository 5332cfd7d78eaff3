//! The GalaxiesML HDF5 layout: reading the released files and writing files of the same layout.
//!
//! What a real file holds is described in `docs/GALAXIESML.md` ("Keys"): every key is a top-level
//! HDF5 dataset with one row per galaxy, in the same order in all keys. `image` is float32
//! `(N, 5, H, W)` with the bands g, r, i, z, y on the second axis; every other key ("tabular") is
//! 1-D `(N,)`. The real training files are up to 66 GB, so images are only ever read as row
//! chunks ([`GalaxiesMlFile::read_images`], [`GalaxiesMlFile::image_chunks`]).
//!
//! Reading goes through the system HDF5 library (hdf5-metno). Writing avoids the two things that
//! would make files unreadable by older readers or non-reproducible: it keeps the default
//! "earliest" file-format version (Debian's HDF5 1.10 cannot read `libver="latest"`), and it
//! switches off object modification times (`H5Pset_obj_track_times`), so identical input gives
//! byte-identical files.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hdf5::dataset::{AllocTime, FillTime};
use hdf5::types::{FixedAscii, FixedUnicode, FloatSize, IntSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, H5Type};
use serde::Serialize;

use crate::{persist_temp, temp_path_for};
use crate::{Error, Result};

/// The name that marks generated data: a root attribute of a GalaxiesML-layout HDF5 file (its
/// value says what made it) or a column of a catalogue table (`True` in every row). `pzbench synth`
/// writes both ([`GalaxiesMlWriter::mark_synthetic`]); the reports read either as "synthetic data,
/// not the GalaxiesML release" (`docs/reports.md`).
pub const SYNTHETIC_MARKER: &str = "synthetic";

/// The image key: float32 `(N, 5, H, W)`.
pub const IMAGE_KEY: &str = "image";
/// The spectroscopic redshift key, the truth of the benchmark.
pub const REDSHIFT_KEY: &str = "specz_redshift";
/// The galaxy identifier key.
pub const OBJECT_ID_KEY: &str = "object_id";
/// The five HSC bands, in the order of the image's second axis.
pub const BANDS: [&str; 5] = ["g", "r", "i", "z", "y"];

/// The element type of a tabular column, as held in memory (one [`ColumnData`] variant each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F64,
    F32,
    I64,
    I32,
    Bool,
    Str,
}

impl Dtype {
    /// The numpy-style name (`float64`, `int32`, `bool`, `string`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "float64",
            Dtype::F32 => "float32",
            Dtype::I64 => "int64",
            Dtype::I32 => "int32",
            Dtype::Bool => "bool",
            Dtype::Str => "string",
        }
    }
}

/// One tabular key of the GalaxiesML layout and the dtype pzbench writes it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub name: &'static str,
    pub dtype: Dtype,
}

/// Expands to the list of tabular keys, with the per-band keys repeated for each band given.
macro_rules! galaxiesml_keys {
    ($($band:literal),*) => {
        &[
            KeySpec { name: "object_id", dtype: Dtype::I64 },
            KeySpec { name: "ra", dtype: Dtype::F64 },
            KeySpec { name: "dec", dtype: Dtype::F64 },
            KeySpec { name: "coord", dtype: Dtype::F64 },
            KeySpec { name: "skymap_id", dtype: Dtype::I64 },
            KeySpec { name: "specz_redshift", dtype: Dtype::F64 },
            KeySpec { name: "specz_redshift_err", dtype: Dtype::F64 },
            KeySpec { name: "specz_flag_homogeneous", dtype: Dtype::Bool },
            KeySpec { name: "specz_mag_i", dtype: Dtype::F64 },
            KeySpec { name: "specz_name", dtype: Dtype::Str },
            KeySpec { name: "specz_ra", dtype: Dtype::F64 },
            KeySpec { name: "specz_dec", dtype: Dtype::F64 },
            $(
                KeySpec { name: concat!($band, "_cmodel_mag"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_cmodel_magsigma"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_central_image_pop_5px_rad"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_central_image_pop_10px_rad"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_central_image_pop_15px_rad"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_ellipticity"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_half_light_radius"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_isophotal_area"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_major_axis"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_minor_axis"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_peak_surface_brightness"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_petro_rad"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_pos_angle"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_sersic_index"), dtype: Dtype::F64 },
                KeySpec { name: concat!($band, "_total_galaxies"), dtype: Dtype::F64 },
            )*
            KeySpec { name: "x_coord", dtype: Dtype::F64 },
            KeySpec { name: "y_coord", dtype: Dtype::F64 },
            KeySpec { name: "x_coord_x", dtype: Dtype::F64 },
            KeySpec { name: "x_coord_y", dtype: Dtype::F64 },
            KeySpec { name: "y_coord_x", dtype: Dtype::F64 },
            KeySpec { name: "y_coord_y", dtype: Dtype::F64 },
        ]
    };
}

/// The tabular keys of a GalaxiesML file (`docs/GALAXIESML.md`, "Keys"), 93 in all, with the
/// dtypes pzbench writes them with.
///
/// The real files' dtypes are not documented, so the choice follows the spec's "safe reading":
/// every measured quantity is float64 (including the morphology counts `*_isophotal_area`,
/// `*_total_galaxies`, `*_central_image_pop_*`, which come out of a float table), `object_id`
/// and `skymap_id` are int64, `specz_flag_homogeneous` is bool (HDF5 enum FALSE/TRUE on int8,
/// which is what h5py writes for numpy bool) and `specz_name` is a variable-length UTF-8 string
/// (h5py's `str` dtype). `coord` has no documented meaning; it is written as float64. The reader
/// accepts other numeric widths for all of these (see [`GalaxiesMlFile::read_f64`]).
pub const TABULAR_KEYS: &[KeySpec] = galaxiesml_keys!("g", "r", "i", "z", "y");

/// The values of one tabular column.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl ColumnData {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::F64(v) => v.len(),
            ColumnData::F32(v) => v.len(),
            ColumnData::I64(v) => v.len(),
            ColumnData::I32(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Str(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        match self {
            ColumnData::F64(_) => Dtype::F64,
            ColumnData::F32(_) => Dtype::F32,
            ColumnData::I64(_) => Dtype::I64,
            ColumnData::I32(_) => Dtype::I32,
            ColumnData::Bool(_) => Dtype::Bool,
            ColumnData::Str(_) => Dtype::Str,
        }
    }
}

/// A named tabular column (one HDF5 dataset of shape `(N,)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
}

/// What a file says about one of its keys, without reading its values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub shape: Vec<usize>,
    /// The HDF5 element type in numpy-like words (`float32`, `int64`, `bool`, `unicode (var len)`).
    pub dtype: String,
    /// The [`ColumnData`] variant [`GalaxiesMlFile::read_column`] gives for it; `None` when
    /// pzbench cannot read this element type.
    pub native: Option<Dtype>,
}

/// The row-chunk cache given to every chunked dataset of a file being read: big enough for the
/// chunks h5py picks automatically (≤ 1 MiB) and for several rows of a 127 px image, so that reading
/// consecutive row ranges never decompresses a chunk twice.
const CHUNK_CACHE_BYTES: usize = 64 << 20;
/// Slots of that cache (a prime, as HDF5 recommends).
const CHUNK_CACHE_SLOTS: usize = 12_421;

/// How many times the bytes stored for `image` its shape may claim (deflate's best ratio is about
/// 1032:1): [`GalaxiesMlFile::stored_image_shape`].
const MAX_STORED_RATIO: u64 = 1100;
/// An image cube of at most this many bytes is read whatever is stored for it (unallocated
/// chunks read as the fill value).
const SMALL_IMAGE_BYTES: u64 = 64 << 20;

/// An open GalaxiesML HDF5 file.
///
/// Opening only checks that the file is HDF5 and lists its keys; each accessor then checks what
/// it needs (image shape, row counts, dtypes) and names the key at fault in its error.
pub struct GalaxiesMlFile {
    path: PathBuf,
    file: hdf5::File,
    keys: Vec<KeyInfo>,
    /// What is wrong with the `image` key's storage, once checked ([`Self::stored_image_shape`]).
    image_storage: std::sync::OnceLock<Option<String>>,
}

impl std::fmt::Debug for GalaxiesMlFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GalaxiesMlFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl GalaxiesMlFile {
    /// Open `path` read-only and list its top-level datasets.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| Error::file(path, format!("cannot open: {e}")).caused_by(e))?;
        if !meta.is_file() {
            return Err(Error::file(path, "not a file: give the path of a GalaxiesML .hdf5 file"));
        }
        let file = hdf5::File::with_options()
            .with_fapl(|p| p.chunk_cache(CHUNK_CACHE_SLOTS, CHUNK_CACHE_BYTES, 1.0))
            .open(path)
            .map_err(|e| {
                Error::file(
                    path,
                    format!("not an HDF5 file (or truncated): {}; check the download or regenerate it", one_line(&e)),
                )
                .caused_by(e)
            })?;
        let names = file.member_names().map_err(|e| {
            Error::file(path, format!("cannot list the keys: {}; the file may be damaged", one_line(&e))).caused_by(e)
        })?;
        let mut keys = Vec::with_capacity(names.len());
        for name in names {
            // Groups and other non-dataset members are not part of the layout: leave them out.
            let Ok(ds) = file.dataset(&name) else {
                continue;
            };
            let (dtype, native) = match ds.dtype().and_then(|t| Ok((t.to_descriptor()?, t))) {
                // A damaged key is listed, and refused when read (its `native` is `None`).
                Ok((td, t)) => match damage(&ds, &t) {
                    None => (td.to_string(), native_dtype(&td)),
                    Some(damage) => (format!("{td}, damaged: {damage}"), None),
                },
                Err(e) => (format!("unsupported ({})", one_line(&e)), None),
            };
            keys.push(KeyInfo { name, shape: ds.shape(), dtype, native });
        }
        Ok(GalaxiesMlFile { path: path.to_path_buf(), file, keys, image_storage: std::sync::OnceLock::new() })
    }

    /// The path this file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every top-level dataset: name, shape and dtype, in HDF5's (alphabetical) order.
    pub fn keys(&self) -> &[KeyInfo] {
        &self.keys
    }

    /// The key called `name`, if the file has it.
    pub fn key(&self, name: &str) -> Option<&KeyInfo> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The number of galaxies N: the first dimension of `image`, checked to be the first
    /// dimension of every other key too.
    pub fn n_galaxies(&self) -> Result<usize> {
        let (n, ..) = self.image_shape()?;
        for key in &self.keys {
            let rows = key.shape.first().copied().unwrap_or(0);
            if rows != n {
                return Err(self.key_error(
                    &key.name,
                    format!(
                        "has {rows} rows but image has {n}; every key must have one row per galaxy — \
                         the file is damaged or not a GalaxiesML file"
                    ),
                ));
            }
        }
        Ok(n)
    }

    /// The image shape `(N, 5, H, W)`; fails unless `image` is 4-D with 5 bands.
    pub fn image_shape(&self) -> Result<(usize, usize, usize, usize)> {
        let key = self.require_key(IMAGE_KEY)?;
        match key.shape[..] {
            // An image of no pixels is no image (and would make image rows of no values).
            [n, 5, h, w] if h > 0 && w > 0 => Ok((n, 5, h, w)),
            _ => Err(self.key_error(
                IMAGE_KEY,
                format!(
                    "has shape {:?}, expected (N, 5, H, W) with H, W >= 1 and the bands g, r, i, z, y on the \
                     second axis; this is not a GalaxiesML image cube",
                    key.shape
                ),
            )),
        }
    }

    /// Read a tabular key in its own element type (float32 stays `F32`, int16 widens to `I32`,
    /// uint32 to `I64`, any string kind becomes `Str`).
    pub fn read_column(&self, key: &str) -> Result<Column> {
        let (ds, native) = self.tabular(key)?;
        let data = match native {
            Dtype::F64 => ColumnData::F64(self.read_raw(&ds, key)?),
            Dtype::F32 => ColumnData::F32(self.read_raw(&ds, key)?),
            Dtype::I64 => ColumnData::I64(self.read_i64(key)?),
            Dtype::I32 => ColumnData::I32(self.read_raw(&ds, key)?),
            Dtype::Bool => ColumnData::Bool(self.read_raw(&ds, key)?),
            Dtype::Str => ColumnData::Str(self.read_strings(&ds, key)?),
        };
        Ok(Column { name: key.to_owned(), data })
    }

    /// Read a numeric tabular key as float64. Float32/64 and integer keys are converted by HDF5
    /// (int64 beyond 2^53 loses precision: read ids with [`Self::read_i64`]); bool gives 0 or 1.
    pub fn read_f64(&self, key: &str) -> Result<Vec<f64>> {
        let (ds, native) = self.tabular(key)?;
        self.read_numbers(&ds, native, key)
    }

    /// Read a numeric key with several values per galaxy, shape `(N, k, ...)` (the spec calls
    /// `x_coord_x` and its kin "2-valued"), as float64 in row-major order, with the number of
    /// values per row. A 1-D key gives one value per row. Not for `image`: use
    /// [`Self::read_images`].
    pub fn read_f64_rows(&self, key: &str) -> Result<(Vec<f64>, usize)> {
        if key == IMAGE_KEY {
            return Err(Error::usage("read the image key by row chunks (read_images)"));
        }
        let n = self.n_galaxies()?;
        let info = self.require_key(key)?;
        let native = self.native(info)?;
        let ds = self.file.dataset(key).map_err(|e| self.hdf5_error(key, e))?;
        let per_row = info.shape.iter().skip(1).product::<usize>();
        // `len` checked the first dimension; a scalar key has none.
        if info.shape.is_empty() || (n > 0 && per_row == 0) {
            return Err(self.key_error(key, format!("has shape {:?}, expected ({n}, ...)", info.shape)));
        }
        Ok((self.read_numbers(&ds, native, key)?, per_row))
    }

    /// Read an integer tabular key (any signed width, or unsigned values that fit int64) as int64.
    pub fn read_i64(&self, key: &str) -> Result<Vec<i64>> {
        let (ds, native) = self.tabular(key)?;
        if native != Dtype::I64 && native != Dtype::I32 {
            return Err(self.key_error(
                key,
                format!(
                    "holds {}, expected integers (int32 or int64); identifiers must not be stored \
                     as floats or strings",
                    self.dtype_of(key)
                ),
            ));
        }
        if self.dtype_of(key) != "uint64" {
            return self.read_raw(&ds, key);
        }
        let values: Vec<u64> = self.read_raw(&ds, key)?;
        values
            .into_iter()
            .enumerate()
            .map(|(row, v)| {
                i64::try_from(v)
                    .map_err(|_| self.key_error(key, format!("row {row} holds {v}, which does not fit int64")))
            })
            .collect()
    }

    /// Read the images of rows `start..start + count` as float32, row-major `(count, 5, H, W)`.
    /// Only that hyperslab is read, so memory stays bounded by `count` rows.
    pub fn read_images(&self, start: usize, count: usize) -> Result<Vec<f32>> {
        let (n, ..) = self.stored_image_shape()?;
        let rows = row_range(start, count, n).ok_or_else(|| {
            self.key_error(
                IMAGE_KEY,
                format!("rows {start}..{} requested but the file has {n}", start.saturating_add(count)),
            )
        })?;
        self.read_image_rows(&self.open_image()?, rows)
    }

    /// Iterate over all images in chunks of `rows_per_chunk` rows (the last chunk may be shorter).
    pub fn image_chunks(&self, rows_per_chunk: usize) -> Result<ImageChunks<'_>> {
        if rows_per_chunk == 0 {
            return Err(Error::usage("image chunks need at least 1 row per chunk"));
        }
        let n = self.n_galaxies()?;
        self.stored_image_shape()?;
        Ok(ImageChunks { file: self, dataset: self.open_image()?, next: 0, n, rows_per_chunk })
    }

    /// Read every image once, in chunks of `rows_per_chunk` rows, and time it: the benchmark of
    /// the image path (`pzbench inspect --time-images ROWS FILE`).
    pub fn time_image_read(&self, rows_per_chunk: usize) -> Result<ImageReadTiming> {
        let started = Instant::now();
        let mut timing = ImageReadTiming { rows: 0, bytes: 0, seconds: 0.0 };
        for chunk in self.image_chunks(rows_per_chunk)? {
            let chunk = chunk?;
            timing.rows += chunk.rows;
            timing.bytes += std::mem::size_of_val(chunk.pixels.as_slice()) as u64;
        }
        timing.seconds = started.elapsed().as_secs_f64();
        Ok(timing)
    }

    /// The image shape, checked (once) against the bytes the file stores for `image`: a damaged
    /// header claiming far more pixels than are stored is refused before any pixel buffer is
    /// sized or any hyperslab built (hdf5-metno counts a selection's elements one by one, so a
    /// side of 2^40 pixels would hang it; found by pzbench-fuzz). Deflate compresses at most
    /// about 1032:1, so up to [`MAX_STORED_RATIO`] times the stored bytes are accepted, and any
    /// image of up to [`SMALL_IMAGE_BYTES`].
    fn stored_image_shape(&self) -> Result<(usize, usize, usize, usize)> {
        let shape = self.image_shape()?;
        // Pixels are numbers of a standard width: an element type pzbench does not know (e.g. a
        // damaged datatype message claiming 4-GB floats) would have HDF5 allocate a conversion
        // buffer of that width per pixel.
        if let Some(key) =
            self.key(IMAGE_KEY).filter(|k| !matches!(k.native, Some(Dtype::F32 | Dtype::F64 | Dtype::I32 | Dtype::I64)))
        {
            return Err(self.key_error(
                IMAGE_KEY,
                format!("cannot be read as pixels ({}); GalaxiesML images are float32", key.dtype),
            ));
        }
        let problem = self.image_storage.get_or_init(|| {
            let (n, c, h, w) = shape;
            // A dataset that does not open is reported by the read that needs it. What is stored
            // lies within the file (a damaged layout message may claim more).
            let file_len = std::fs::metadata(&self.path).map_or(u64::MAX, |m| m.len());
            let stored = self.open_image().ok()?.storage_size().min(file_len);
            let bytes = [n, c, h, w].iter().try_fold(4u64, |acc, &d| acc.checked_mul(d as u64));
            match bytes {
                Some(bytes) if bytes <= stored.saturating_mul(MAX_STORED_RATIO).max(SMALL_IMAGE_BYTES) => None,
                _ => Some(format!(
                    "has shape [{n}, {c}, {h}, {w}] ({} of pixels) but the file stores {stored} bytes of it; the file is damaged or truncated: check the download or regenerate it",
                    bytes.map_or("more than 2^64 bytes".to_string(), |b| format!("{b} bytes"))
                )),
            }
        });
        match problem {
            None => Ok(shape),
            Some(message) => Err(self.key_error(IMAGE_KEY, message)),
        }
    }

    fn open_image(&self) -> Result<Dataset> {
        self.file.dataset(IMAGE_KEY).map_err(|e| self.hdf5_error(IMAGE_KEY, e))
    }

    fn read_image_rows(&self, ds: &Dataset, rows: Range<usize>) -> Result<Vec<f32>> {
        let array: ndarray::Array4<f32> =
            ds.read_slice((rows, .., .., ..)).map_err(|e| self.hdf5_error(IMAGE_KEY, e))?;
        // `read_slice` returns a fresh array in standard layout, so the offset is 0.
        let (pixels, _offset) = array.into_raw_vec_and_offset();
        Ok(pixels)
    }

    /// The dataset of a 1-D key with N rows and the in-memory type it reads as.
    fn tabular(&self, key: &str) -> Result<(Dataset, Dtype)> {
        let info = self.require_key(key)?;
        let n = self.n_galaxies()?;
        if info.shape.len() != 1 {
            return Err(
                self.key_error(key, format!("has shape {:?}, expected ({n},): one value per galaxy", info.shape))
            );
        }
        let native = self.native(info)?;
        let ds = self.file.dataset(key).map_err(|e| self.hdf5_error(key, e))?;
        Ok((ds, native))
    }

    fn native(&self, info: &KeyInfo) -> Result<Dtype> {
        info.native.ok_or_else(|| {
            self.key_error(&info.name, format!("cannot be read ({}): pzbench reads numbers and strings", info.dtype))
        })
    }

    /// All values of a numeric dataset as float64, in row-major order.
    fn read_numbers(&self, ds: &Dataset, native: Dtype, key: &str) -> Result<Vec<f64>> {
        match native {
            Dtype::F64 | Dtype::F32 | Dtype::I64 | Dtype::I32 => self.read_raw(ds, key),
            Dtype::Bool => Ok(self.read_raw::<bool>(ds, key)?.into_iter().map(|b| if b { 1.0 } else { 0.0 }).collect()),
            Dtype::Str => {
                Err(self.key_error(key, format!("holds {}, not numbers; use a numeric key", self.dtype_of(key))))
            }
        }
    }

    fn read_raw<T: H5Type>(&self, ds: &Dataset, key: &str) -> Result<Vec<T>> {
        ds.read_raw::<T>().map_err(|e| self.hdf5_error(key, e))
    }

    /// Strings of any HDF5 kind. Bytes that are not UTF-8 are replaced, never trusted.
    fn read_strings(&self, ds: &Dataset, key: &str) -> Result<Vec<String>> {
        let td = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| self.hdf5_error(key, e))?;
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let strings = match td {
            TypeDescriptor::VarLenUnicode => {
                ds.read_raw::<VarLenUnicode>().map(|v| v.iter().map(|s| lossy(s.as_bytes())).collect())
            }
            TypeDescriptor::VarLenAscii => {
                ds.read_raw::<VarLenAscii>().map(|v| v.iter().map(|s| lossy(s.as_bytes())).collect())
            }
            // Fixed-length strings are read into a fixed buffer at least as wide; HDF5 converts
            // the padding.
            TypeDescriptor::FixedAscii(w) if w <= 64 => read_fixed_ascii::<64>(ds),
            TypeDescriptor::FixedAscii(w) if w <= 1024 => read_fixed_ascii::<1024>(ds),
            TypeDescriptor::FixedUnicode(w) if w <= 64 => read_fixed_unicode::<64>(ds),
            TypeDescriptor::FixedUnicode(w) if w <= 1024 => read_fixed_unicode::<1024>(ds),
            other => {
                return Err(self.key_error(key, format!("holds {other}; pzbench reads strings of at most 1024 bytes")));
            }
        };
        strings.map_err(|e| self.hdf5_error(key, e))
    }

    fn require_key(&self, key: &str) -> Result<&KeyInfo> {
        self.key(key).ok_or_else(|| {
            Error::file(
                &self.path,
                format!(
                    "missing key `{key}`: a GalaxiesML file has it (docs/GALAXIESML.md); \
                     run `pzbench inspect` on the file to see the {} keys it has",
                    self.keys.len()
                ),
            )
        })
    }

    fn dtype_of(&self, key: &str) -> &str {
        self.key(key).map_or("?", |k| k.dtype.as_str())
    }

    /// A reader of the image rows as plain bytes, if the file stores them so: a contiguous,
    /// uncompressed, little-endian float32 `image` key (h5py's default layout, and
    /// [`GalaxiesMlWriter`]'s). HDF5 runs its calls one at a time (hdf5-metno holds a global
    /// lock), so a shuffled batch read through it is read row after row; these rows can be read
    /// from the file in parallel. `None` for any other layout (chunked, compressed, big-endian,
    /// float64), which is read through HDF5.
    pub fn image_row_bytes(&self) -> Result<Option<ImageRowBytes>> {
        use hdf5::types::{FloatSize, TypeDescriptor};
        if cfg!(target_endian = "big") {
            return Ok(None);
        }
        let ds = self.open_image()?;
        let (_, c, h, w) = self.stored_image_shape()?;
        let dtype = ds.dtype().map_err(|e| self.hdf5_error(IMAGE_KEY, e))?;
        let is_f32 = matches!(dtype.to_descriptor(), Ok(TypeDescriptor::Float(FloatSize::U4)));
        let little_endian = dtype.byte_order() == hdf5::datatype::ByteOrder::LittleEndian;
        // `offset` is defined only for contiguous, allocated datasets (no filters apply to those).
        let (true, true, Some(start)) = (is_f32, little_endian, ds.offset()) else {
            return Ok(None);
        };
        let file = std::fs::File::open(&self.path)
            .map_err(|e| Error::file(&self.path, format!("cannot open: {e}")).caused_by(e))?;
        Ok(Some(ImageRowBytes { path: self.path.clone(), file, start, row_floats: c * h * w }))
    }

    fn key_error(&self, key: &str, message: impl std::fmt::Display) -> Error {
        Error::file(&self.path, format!("key `{key}` {message}"))
    }

    fn hdf5_error(&self, key: &str, e: hdf5::Error) -> Error {
        self.key_error(key, format!("cannot be read: {}; the file may be damaged or truncated", one_line(&e)))
            .caused_by(e)
    }
}

/// The image rows of a GalaxiesML file read as plain bytes ([`GalaxiesMlFile::image_row_bytes`]).
pub struct ImageRowBytes {
    path: PathBuf,
    file: std::fs::File,
    /// File offset of the image cube.
    start: u64,
    /// Values per image row (5 · H · W).
    row_floats: usize,
}

impl ImageRowBytes {
    /// Reads `rows` (each below N, which the caller checks) into `out`, one image after another,
    /// several rows at a time in parallel.
    pub fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<()> {
        use rayon::prelude::*;
        use std::os::unix::fs::FileExt;
        let row_bytes = (self.row_floats * std::mem::size_of::<f32>()) as u64;
        out.clear();
        // Sized in parallel too: at 127 px a batch of 256 is 82 MB.
        out.par_extend(rayon::iter::repeat_n(0.0f32, rows.len() * self.row_floats));
        out.par_chunks_mut(self.row_floats).zip(rows).try_for_each(|(image, &row)| {
            let offset = self.start + row as u64 * row_bytes;
            self.file.read_exact_at(bytemuck::cast_slice_mut(image), offset).map_err(|e| {
                Error::file(
                    &self.path,
                    format!("cannot read image row {row} at byte {offset}: {e}; the file may be truncated"),
                )
                .caused_by(e)
            })
        })
    }
}

/// One chunk of consecutive image rows.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageChunk {
    /// The first row of the chunk.
    pub start: usize,
    /// How many rows it holds.
    pub rows: usize,
    /// Pixels in row-major `(rows, 5, H, W)` order.
    pub pixels: Vec<f32>,
}

/// Iterator over the images of a file in row chunks ([`GalaxiesMlFile::image_chunks`]).
pub struct ImageChunks<'a> {
    file: &'a GalaxiesMlFile,
    dataset: Dataset,
    next: usize,
    n: usize,
    rows_per_chunk: usize,
}

impl Iterator for ImageChunks<'_> {
    type Item = Result<ImageChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.n {
            return None;
        }
        let start = self.next;
        let end = self.n.min(start.saturating_add(self.rows_per_chunk));
        self.next = end;
        let chunk = self.file.read_image_rows(&self.dataset, start..end);
        if chunk.is_err() {
            // Stop after an error rather than yielding one per remaining chunk.
            self.next = self.n;
        }
        Some(chunk.map(|pixels| ImageChunk { start, rows: end - start, pixels }))
    }
}

/// What [`GalaxiesMlFile::time_image_read`] measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ImageReadTiming {
    pub rows: usize,
    pub bytes: u64,
    pub seconds: f64,
}

impl ImageReadTiming {
    /// Throughput in MB/s (10^6 bytes per second).
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.max(f64::MIN_POSITIVE)
    }
}

/// Whether `path` names an HDF5 file: by its extension (`.hdf5`, `.h5`, `.he5`) or by the HDF5
/// signature in its first bytes.
pub fn is_hdf5(path: &Path) -> bool {
    const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let by_extension =
        path.extension().is_some_and(|e| ["hdf5", "h5", "he5"].iter().any(|x| e.eq_ignore_ascii_case(x)));
    let mut head = [0u8; 8];
    let by_signature = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| &head == SIGNATURE);
    by_extension || by_signature
}

/// Read the truth of a GalaxiesML file: `object_id` (int64) and `specz_redshift` (float64), for
/// `pzbench score --truth FILE.hdf5`. Images are not read.
pub fn read_truth(path: impl AsRef<Path>) -> Result<(Vec<i64>, Vec<f64>)> {
    let file = GalaxiesMlFile::open(path)?;
    let z = file.read_f64(REDSHIFT_KEY)?;
    let ids = file.read_i64(OBJECT_ID_KEY)?;
    Ok((ids, z))
}

/// Writes a file in the GalaxiesML layout, atomically and reproducibly.
///
/// The file is written to a temporary path beside the target ([`temp_path_for`]) and moved into
/// place, flushed to disk, by [`Self::finish`] ([`persist_temp`]); dropping the writer without
/// finishing removes it. `image` is float32 `(N, 5, S, S)` stored contiguously, uncompressed,
/// allocated at creation (so the bytes do not depend on the order rows are written in, and
/// training can read rows as plain bytes in parallel: [`GalaxiesMlFile::image_row_bytes`]);
/// tabular keys are contiguous.
/// No object time stamps are stored and the default (earliest) file-format version is kept, so
/// the same calls give byte-identical files that HDF5 1.10 and h5py read.
pub struct GalaxiesMlWriter {
    path: PathBuf,
    tmp: PathBuf,
    /// `None` once finished (or after `finish` failed and cleaned up).
    file: Option<hdf5::File>,
    n_rows: usize,
    image_size: usize,
    rows_written: Vec<bool>,
    columns: Vec<String>,
}

impl std::fmt::Debug for GalaxiesMlWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GalaxiesMlWriter")
            .field("path", &self.path)
            .field("n_rows", &self.n_rows)
            .field("image_size", &self.image_size)
            .finish_non_exhaustive()
    }
}

impl GalaxiesMlWriter {
    /// Start writing `path` with `n_rows` galaxies of `image_size`×`image_size` pixels.
    pub fn create(path: impl AsRef<Path>, n_rows: usize, image_size: usize) -> Result<Self> {
        let path = path.as_ref();
        if n_rows == 0 || image_size == 0 {
            return Err(Error::usage(format!(
                "a GalaxiesML file needs at least one row and one pixel (got {n_rows} rows of \
                 {image_size}×{image_size} pixels)"
            )));
        }
        let tmp = temp_path_for(path);
        let create_error =
            |e: hdf5::Error| Error::file(path, format!("cannot create output: {}", one_line(&e))).caused_by(e);
        let file =
            hdf5::File::with_options().with_fcpl(|p| p.obj_track_times(false)).create(&tmp).map_err(create_error)?;
        let writer = GalaxiesMlWriter {
            path: path.to_path_buf(),
            tmp,
            file: Some(file),
            n_rows,
            image_size,
            rows_written: vec![false; n_rows],
            columns: Vec::new(),
        };
        writer
            .file()?
            .new_dataset::<f32>()
            .alloc_time(Some(AllocTime::Early))
            .fill_time(FillTime::Never)
            .obj_track_times(false)
            .shape((n_rows, BANDS.len(), image_size, image_size))
            .create(IMAGE_KEY)
            .map_err(create_error)?;
        Ok(writer)
    }

    /// Write one tabular key. It must have `n_rows` values, a name not written before, and for
    /// the keys of [`TABULAR_KEYS`] the dtype listed there.
    pub fn write_column(&mut self, column: &Column) -> Result<()> {
        let name = column.name.as_str();
        if name.is_empty() || name.contains('/') || name == IMAGE_KEY {
            return Err(Error::usage(format!(
                "cannot write a column named `{name}`: names must be non-empty, without `/`, \
                 and not `{IMAGE_KEY}`"
            )));
        }
        if self.columns.iter().any(|c| c == name) {
            return Err(Error::usage(format!("column `{name}` is written twice")));
        }
        if column.data.len() != self.n_rows {
            return Err(Error::usage(format!(
                "column `{name}` has {} rows but the file has {}",
                column.data.len(),
                self.n_rows
            )));
        }
        if let Some(spec) = TABULAR_KEYS.iter().find(|k| k.name == name) {
            if spec.dtype != column.data.dtype() {
                return Err(Error::usage(format!(
                    "column `{name}` must be {} in the GalaxiesML layout, got {}",
                    spec.dtype.name(),
                    column.data.dtype().name()
                )));
            }
        }
        let created = match &column.data {
            ColumnData::F64(v) => self.create_column(name, v.as_slice()),
            ColumnData::F32(v) => self.create_column(name, v.as_slice()),
            ColumnData::I64(v) => self.create_column(name, v.as_slice()),
            ColumnData::I32(v) => self.create_column(name, v.as_slice()),
            ColumnData::Bool(v) => self.create_column(name, v.as_slice()),
            ColumnData::Str(v) => {
                let strings = v
                    .iter()
                    .enumerate()
                    .map(|(row, s)| {
                        s.parse::<VarLenUnicode>().map_err(|_| {
                            Error::usage(format!("column `{name}` row {row}: strings cannot contain NUL characters"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.create_column(name, strings.as_slice())
            }
        };
        created.map_err(|e| {
            Error::file(&self.path, format!("cannot write key `{name}`: {}", one_line(&e))).caused_by(e)
        })?;
        self.columns.push(name.to_owned());
        Ok(())
    }

    /// Write the images of rows `start_row..start_row + k`, where `pixels` holds `k` whole rows in
    /// row-major `(k, 5, S, S)` order. Rows may come in any order and any number of calls.
    pub fn write_images(&mut self, start_row: usize, pixels: &[f32]) -> Result<()> {
        let row_len = BANDS.len() * self.image_size * self.image_size;
        if !pixels.len().is_multiple_of(row_len) {
            return Err(Error::usage(format!(
                "image data of {} values is not a whole number of rows of 5×{s}×{s} = {row_len}",
                pixels.len(),
                s = self.image_size
            )));
        }
        let count = pixels.len() / row_len;
        let rows = row_range(start_row, count, self.n_rows).ok_or_else(|| {
            Error::usage(format!(
                "image rows {start_row}..{} are out of range: the file has {} rows",
                start_row.saturating_add(count),
                self.n_rows
            ))
        })?;
        let shape = (count, BANDS.len(), self.image_size, self.image_size);
        let view = ndarray::ArrayView4::from_shape(shape, pixels)
            .map_err(|e| Error::other(format!("image rows {start_row}..: {e}")).caused_by(e))?;
        self.file()?
            .dataset(IMAGE_KEY)
            .and_then(|ds| ds.write_slice(view, (rows.clone(), .., .., ..)))
            .map_err(|e| Error::file(&self.path, format!("cannot write key `image`: {}", one_line(&e))).caused_by(e))?;
        self.rows_written[rows].fill(true);
        Ok(())
    }

    /// Mark the file as generated data: a root attribute [`SYNTHETIC_MARKER`] whose value,
    /// `description`, says what made it (e.g. the `pzbench synth` command).
    pub fn mark_synthetic(&mut self, description: &str) -> Result<()> {
        let fail =
            |why: String| Error::file(&self.path, format!("cannot write the `{SYNTHETIC_MARKER}` attribute: {why}"));
        let value = description.parse::<VarLenUnicode>().map_err(|_| fail("it contains a NUL character".into()))?;
        self.file()?
            .new_attr::<VarLenUnicode>()
            .create(SYNTHETIC_MARKER)
            .and_then(|attr| attr.write_scalar(&value))
            .map_err(|e| fail(one_line(&e)).caused_by(e))
    }

    /// Check the file is complete (every image row, `object_id` and `specz_redshift` written),
    /// close it and move it to its final path. On error no file is left at either path.
    pub fn finish(mut self) -> Result<()> {
        if let Some(row) = self.rows_written.iter().position(|&w| !w) {
            return Err(Error::usage(format!(
                "{}: image row {row} was never written; write all {} rows before finishing",
                self.path.display(),
                self.n_rows
            )));
        }
        for required in [OBJECT_ID_KEY, REDSHIFT_KEY] {
            if !self.columns.iter().any(|c| c == required) {
                return Err(Error::usage(format!(
                    "{}: column `{required}` was never written; a GalaxiesML file needs it",
                    self.path.display()
                )));
            }
        }
        let file = self.file.take().ok_or_else(|| Error::file(&self.path, "the writer was already finished"))?;
        let result = file
            .close()
            .map_err(|e| Error::file(&self.path, format!("cannot write output: {}", one_line(&e))).caused_by(e))
            .and_then(|()| {
                persist_temp(&self.tmp, &self.path)
                    .map_err(|e| Error::file(&self.path, format!("cannot write output: {e}")).caused_by(e))
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result
    }

    fn file(&self) -> Result<&hdf5::File> {
        self.file.as_ref().ok_or_else(|| Error::file(&self.path, "the writer was already finished"))
    }

    fn create_column<T: H5Type>(&self, name: &str, values: &[T]) -> hdf5::Result<()> {
        let file = self.file.as_ref().ok_or("the writer was already finished")?;
        file.new_dataset_builder().with_data(values).obj_track_times(false).create(name)?;
        Ok(())
    }
}

impl Drop for GalaxiesMlWriter {
    /// An unfinished writer leaves nothing behind.
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            drop(file);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `start..start + count` if it lies within `0..n`.
fn row_range(start: usize, count: usize, n: usize) -> Option<Range<usize>> {
    start.checked_add(count).filter(|&end| end <= n).map(|end| start..end)
}

/// What is wrong with a dataset that HDF5 1.10 would read out of bounds (and crash on: found by
/// pzbench-fuzz), if anything: a number type whose bit fields (precision, offset, a float's sign,
/// exponent and mantissa) do not lie within its bytes, or contiguous storage smaller than its
/// values. Other damage HDF5 reports itself.
pub(crate) fn damage(ds: &Dataset, dtype: &hdf5::Datatype) -> Option<String> {
    use hdf5_sys::h5t::{
        H5T_class_t, H5Tclose, H5Tget_class, H5Tget_fields, H5Tget_offset, H5Tget_precision, H5Tget_size, H5Tget_super,
    };
    // SAFETY: queries of a valid datatype id (and of its base type, closed after), under the
    // library's lock, as hdf5-metno makes every call.
    let bits_problem = hdf5::sync::sync(|| unsafe {
        let mut id = dtype.id();
        let mut opened = None;
        if H5Tget_class(id) == H5T_class_t::H5T_ENUM {
            // bool: an enum on an integer
            id = H5Tget_super(id);
            if id < 0 {
                return Some("an enum without a base type".to_string());
            }
            opened = Some(id);
        }
        let bits = H5Tget_size(id).saturating_mul(8);
        let class = H5Tget_class(id);
        let mut problem = None;
        if matches!(class, H5T_class_t::H5T_INTEGER | H5T_class_t::H5T_FLOAT) {
            let (precision, offset) = (H5Tget_precision(id), H5Tget_offset(id));
            if precision == 0 || offset < 0 || (offset as usize).saturating_add(precision) > bits {
                problem = Some(format!("{precision} bits at offset {offset} in a {bits}-bit number"));
            }
        }
        if class == H5T_class_t::H5T_FLOAT && problem.is_none() {
            let (mut spos, mut epos, mut esize, mut mpos, mut msize) = (0, 0, 0, 0, 0);
            let fields = H5Tget_fields(id, &mut spos, &mut epos, &mut esize, &mut mpos, &mut msize);
            if fields < 0
                || spos >= bits
                || esize == 0
                || msize == 0
                || epos.saturating_add(esize) > bits
                || mpos.saturating_add(msize) > bits
            {
                problem = Some(format!("float fields (sign {spos}, exponent {epos}+{esize}, mantissa {mpos}+{msize}) outside its {bits} bits"));
            }
        }
        if let Some(id) = opened {
            H5Tclose(id);
        }
        problem
    });
    if bits_problem.is_some() {
        return bits_problem;
    }
    // Compact and allocated contiguous storage hold every value (N values of `size` bytes):
    // HDF5 1.10 copies from a null buffer when a compact key stores none. (Unallocated
    // contiguous storage reads as the fill value.)
    let needed = (ds.size() as u64).saturating_mul(dtype.size() as u64);
    let holds_all = match ds.layout() {
        hdf5::dataset::Layout::Compact => ds.storage_size() >= needed,
        hdf5::dataset::Layout::Contiguous => ds.offset().is_none() || ds.storage_size() >= needed,
        _ => true,
    };
    (!holds_all)
        .then(|| format!("{} bytes stored for {} values of {} bytes", ds.storage_size(), ds.size(), dtype.size()))
}

/// The [`ColumnData`] variant an HDF5 element type reads into, if any.
fn native_dtype(td: &TypeDescriptor) -> Option<Dtype> {
    match td {
        TypeDescriptor::Float(FloatSize::U8) => Some(Dtype::F64),
        TypeDescriptor::Float(_) => Some(Dtype::F32),
        TypeDescriptor::Integer(IntSize::U8) => Some(Dtype::I64),
        TypeDescriptor::Integer(_) => Some(Dtype::I32),
        TypeDescriptor::Unsigned(IntSize::U1 | IntSize::U2) => Some(Dtype::I32),
        TypeDescriptor::Unsigned(_) => Some(Dtype::I64),
        TypeDescriptor::Boolean => Some(Dtype::Bool),
        TypeDescriptor::FixedAscii(_)
        | TypeDescriptor::FixedUnicode(_)
        | TypeDescriptor::VarLenAscii
        | TypeDescriptor::VarLenUnicode => Some(Dtype::Str),
        _ => None,
    }
}

fn read_fixed_ascii<const W: usize>(ds: &Dataset) -> hdf5::Result<Vec<String>> {
    let v = ds.read_raw::<FixedAscii<W>>()?;
    Ok(v.iter().map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned()).collect())
}

fn read_fixed_unicode<const W: usize>(ds: &Dataset) -> hdf5::Result<Vec<String>> {
    let v = ds.read_raw::<FixedUnicode<W>>()?;
    Ok(v.iter().map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned()).collect())
}

/// An HDF5 error as one line (messages from the library can span several).
fn one_line(e: &hdf5::Error) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 7;
    const S: usize = 3;

    /// A pixel value that identifies its row, band and position.
    fn pixel(row: usize, band: usize, y: usize, x: usize) -> f32 {
        (row * 1000 + band * 100 + y * 10 + x) as f32 + 0.5
    }

    fn image_rows(rows: Range<usize>) -> Vec<f32> {
        let mut v = Vec::new();
        for row in rows {
            for band in 0..5 {
                for y in 0..S {
                    for x in 0..S {
                        v.push(pixel(row, band, y, x));
                    }
                }
            }
        }
        v
    }

    fn col(name: &str, data: ColumnData) -> Column {
        Column { name: name.to_owned(), data }
    }

    /// One column of every dtype, including the keys a finished file needs.
    fn columns() -> Vec<Column> {
        vec![
            col("object_id", ColumnData::I64((0..N as i64).map(|i| (1 << 60) + i).collect())),
            col("specz_redshift", ColumnData::F64((0..N).map(|i| 0.1 + i as f64 * 0.5).collect())),
            col("specz_flag_homogeneous", ColumnData::Bool((0..N).map(|i| i % 2 == 0).collect())),
            col("specz_name", ColumnData::Str((0..N).map(|i| format!("DEIMS-{i}-é")).collect())),
            col("extra_f32", ColumnData::F32((0..N).map(|i| i as f32 * 0.25).collect())),
            col("extra_i32", ColumnData::I32((0..N as i32).map(|i| -i).collect())),
        ]
    }

    /// Write the test file, image rows in the order given.
    fn write_file(path: &Path, row_order: &[Range<usize>]) {
        let mut w = GalaxiesMlWriter::create(path, N, S).unwrap();
        for c in columns() {
            w.write_column(&c).unwrap();
        }
        for rows in row_order {
            w.write_images(rows.start, &image_rows(rows.clone())).unwrap();
        }
        w.finish().unwrap();
    }

    fn good_file(dir: &tempfile::TempDir) -> PathBuf {
        let path = dir.path().join("good.hdf5");
        write_file(&path, &[0..3, 3..N]);
        path
    }

    /// A file built directly with hdf5-metno, for layouts the writer refuses to make.
    fn raw_file(dir: &tempfile::TempDir, build: impl FnOnce(&hdf5::File)) -> PathBuf {
        let path = dir.path().join("raw.hdf5");
        let file = hdf5::File::create(&path).unwrap();
        build(&file);
        file.close().unwrap();
        path
    }

    fn raw_dataset<T: H5Type>(file: &hdf5::File, name: &str, shape: &[usize]) {
        file.new_dataset::<T>().shape(shape.to_vec()).create(name).unwrap();
    }

    fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
        let msg = r.unwrap_err().to_string();
        assert!(!msg.contains('\n'), "error is not one line: {msg}");
        msg
    }

    #[test]
    fn key_list_matches_the_spec() {
        assert_eq!(TABULAR_KEYS.len(), 12 + 5 * 15 + 6);
        let mut names: Vec<_> = TABULAR_KEYS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABULAR_KEYS.len(), "duplicate key names");
        assert!(names.contains(&"y_central_image_pop_15px_rad"));
        assert!(names.contains(&"g_cmodel_magsigma"));
    }

    #[test]
    fn every_dtype_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = good_file(&dir);
        let f = GalaxiesMlFile::open(&path).unwrap();
        assert_eq!(f.n_galaxies().unwrap(), N);
        assert_eq!(f.image_shape().unwrap(), (N, 5, S, S));
        for c in columns() {
            assert_eq!(f.read_column(&c.name).unwrap(), c);
            assert_eq!(f.key(&c.name).unwrap().native, Some(c.data.dtype()));
            assert_eq!(f.key(&c.name).unwrap().shape, vec![N]);
        }
        let dtypes: Vec<_> = f.keys().iter().map(|k| (k.name.as_str(), k.dtype.as_str())).collect();
        assert!(dtypes.contains(&("image", "float32")));
        assert!(dtypes.contains(&("object_id", "int64")));
        assert!(dtypes.contains(&("specz_flag_homogeneous", "bool")));
        assert!(dtypes.contains(&("specz_name", "unicode (var len)")));
        // Numeric conversions.
        assert_eq!(f.read_f64("extra_i32").unwrap()[3], -3.0);
        assert_eq!(f.read_f64("extra_f32").unwrap()[2], 0.5);
        assert_eq!(f.read_f64("specz_flag_homogeneous").unwrap()[..2], [1.0, 0.0]);
        assert_eq!(f.read_i64("extra_i32").unwrap()[6], -6);
        let (ids, z) = read_truth(&path).unwrap();
        assert_eq!(ids[1], (1 << 60) + 1, "int64 ids must not pass through float64");
        assert_eq!(z[2], 1.1);
    }

    #[test]
    fn wrong_dtypes_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = GalaxiesMlFile::open(good_file(&dir)).unwrap();
        let msg = err_text(f.read_i64("specz_redshift"));
        assert!(msg.contains("key `specz_redshift` holds float64, expected integers"), "{msg}");
        let msg = err_text(f.read_f64("specz_name"));
        assert!(msg.contains("key `specz_name` holds unicode (var len), not numbers"), "{msg}");
        let msg = err_text(f.read_f64("image"));
        assert!(msg.contains("key `image` has shape [7, 5, 3, 3], expected (7,)"), "{msg}");
        let msg = err_text(f.read_f64_rows("specz_name"));
        assert!(msg.contains("key `specz_name` holds unicode (var len), not numbers"), "{msg}");
        assert!(f.read_f64_rows("image").is_err());
        let msg = err_text(f.read_f64("z_best"));
        assert!(msg.contains("missing key `z_best`"), "{msg}");
    }

    #[test]
    fn images_are_read_by_row_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let f = GalaxiesMlFile::open(good_file(&dir)).unwrap();
        assert_eq!(f.read_images(2, 3).unwrap(), image_rows(2..5));
        assert_eq!(f.read_images(N, 0).unwrap(), Vec::<f32>::new());
        let chunks: Vec<_> = f.image_chunks(3).unwrap().map(|c| c.unwrap()).collect();
        assert_eq!(chunks.iter().map(|c| (c.start, c.rows)).collect::<Vec<_>>(), [(0, 3), (3, 3), (6, 1)]);
        let all: Vec<f32> = chunks.into_iter().flat_map(|c| c.pixels).collect();
        assert_eq!(all, image_rows(0..N));
        let msg = err_text(f.read_images(5, 3));
        assert!(msg.contains("key `image` rows 5..8 requested but the file has 7"), "{msg}");
        assert!(f.image_chunks(0).is_err());
        let t = f.time_image_read(4).unwrap();
        assert_eq!((t.rows, t.bytes), (N, (N * 5 * S * S * 4) as u64));
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // a list of row ranges written in turn, here one
    fn identical_input_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a.h5"), dir.path().join("b.h5"), dir.path().join("c.h5"));
        write_file(&a, &[0..N]);
        std::thread::sleep(std::time::Duration::from_millis(1100)); // a time stamp would differ
        write_file(&b, &[0..N]);
        write_file(&c, &[4..N, 0..2, 2..4]);
        let bytes = |p: &Path| std::fs::read(p).unwrap();
        assert!(bytes(&a) == bytes(&b), "two writes of the same data differ");
        assert!(bytes(&a) == bytes(&c), "the order rows are written in changes the file");
    }

    #[test]
    fn multi_valued_keys_are_read_by_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = raw_file(&dir, |f| {
            raw_dataset::<f32>(f, "image", &[3, 5, 1, 1]);
            let xy = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, f32::NAN]]);
            f.new_dataset_builder().with_data(&xy).create("x_coord_x").unwrap();
        });
        let f = GalaxiesMlFile::open(&path).unwrap();
        let (values, per_row) = f.read_f64_rows("x_coord_x").unwrap();
        assert_eq!((values[..5].to_vec(), per_row), (vec![1.0, 2.0, 3.0, 4.0, 5.0], 2));
        assert!(values[5].is_nan());
        let msg = err_text(f.read_f64("x_coord_x"));
        assert!(msg.contains("key `x_coord_x` has shape [3, 2], expected (3,)"), "{msg}");
    }

    #[test]
    fn fixed_length_strings_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = raw_file(&dir, |f| {
            raw_dataset::<f32>(f, "image", &[2, 5, 1, 1]);
            let names: Vec<FixedAscii<8>> =
                ["VVDS", "SDSS-DR16"[..8].as_ref()].iter().map(|s| FixedAscii::from_ascii(s).unwrap()).collect();
            f.new_dataset_builder().with_data(&names).create("specz_name").unwrap();
        });
        let f = GalaxiesMlFile::open(&path).unwrap();
        assert_eq!(f.key("specz_name").unwrap().dtype, "string (len 8)");
        assert_eq!(f.read_column("specz_name").unwrap().data, ColumnData::Str(vec!["VVDS".into(), "SDSS-DR1".into()]));
    }

    #[test]
    fn not_hdf5_and_truncated_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("preds.csv");
        std::fs::write(&text, "object_id,z\n1,0.5\n").unwrap();
        let msg = err_text(GalaxiesMlFile::open(&text));
        assert!(msg.contains("preds.csv: not an HDF5 file (or truncated)"), "{msg}");

        let path = good_file(&dir);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let msg = err_text(GalaxiesMlFile::open(&path));
        assert!(msg.contains("good.hdf5: not an HDF5 file (or truncated)"), "{msg}");

        let msg = err_text(GalaxiesMlFile::open(dir.path().join("absent.hdf5")));
        assert!(msg.contains("absent.hdf5: cannot open"), "{msg}");
    }

    #[test]
    fn missing_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = raw_file(&dir, |f| {
            raw_dataset::<f64>(f, "specz_redshift", &[4]);
            raw_dataset::<i64>(f, "object_id", &[4]);
        });
        let f = GalaxiesMlFile::open(&path).unwrap();
        let msg = err_text(f.image_shape());
        assert!(msg.contains("raw.hdf5: missing key `image`"), "{msg}");
        let msg = err_text(read_truth(&path));
        assert!(msg.contains("missing key `image`"), "{msg}");

        let dir = tempfile::tempdir().unwrap();
        let path = raw_file(&dir, |f| {
            raw_dataset::<f32>(f, "image", &[4, 5, 2, 2]);
            raw_dataset::<i64>(f, "object_id", &[4]);
        });
        let msg = err_text(read_truth(&path));
        assert!(msg.contains("raw.hdf5: missing key `specz_redshift`"), "{msg}");
    }

    #[test]
    fn bad_shapes_are_named() {
        for (shape, what) in
            [(&[4, 5, 2][..], "[4, 5, 2]"), (&[4, 3, 2, 2][..], "[4, 3, 2, 2]"), (&[4, 5, 0, 2][..], "[4, 5, 0, 2]")]
        {
            let dir = tempfile::tempdir().unwrap();
            let path = raw_file(&dir, |f| raw_dataset::<f32>(f, "image", shape));
            let msg = err_text(GalaxiesMlFile::open(&path).unwrap().image_shape());
            assert!(msg.contains(&format!("key `image` has shape {what}, expected (N, 5, H, W)")), "{msg}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = raw_file(&dir, |f| {
            raw_dataset::<f32>(f, "image", &[4, 5, 2, 2]);
            raw_dataset::<f64>(f, "specz_redshift", &[3]);
        });
        let f = GalaxiesMlFile::open(&path).unwrap();
        let msg = err_text(f.n_galaxies());
        assert!(msg.contains("key `specz_redshift` has 3 rows but image has 4"), "{msg}");
        assert!(err_text(f.read_f64("specz_redshift")).contains("has 3 rows but image has 4"));
    }

    #[test]
    fn an_image_shape_beyond_what_is_stored_is_refused_before_reading() {
        // A damaged header claiming 2^20 x 2^20 pixels per band, none of them stored: hdf5-metno
        // would count the hyperslab element by element (a hang) and size a buffer of terabytes.
        let dir = tempfile::tempdir().unwrap();
        let path = raw_file(&dir, |f| {
            f.new_dataset::<f32>().chunk((1, 5, 1, 1)).shape((2, 5, 1 << 20, 1 << 20)).create("image").unwrap();
            raw_dataset::<i64>(f, "object_id", &[2]);
            raw_dataset::<f64>(f, "specz_redshift", &[2]);
        });
        let f = GalaxiesMlFile::open(&path).unwrap();
        let msg = err_text(f.read_images(0, 1));
        assert!(msg.contains("key `image` has shape [2, 5, 1048576, 1048576]"), "{msg}");
        assert!(msg.contains("but the file stores 0 bytes of it; the file is damaged or truncated"), "{msg}");
        assert!(f.image_chunks(1).is_err() && f.image_row_bytes().is_err());
        assert!(crate::images::Hdf5Images::new(GalaxiesMlFile::open(&path).unwrap()).is_err());
        // The tabular keys are still read (inspect, score --truth).
        assert_eq!(read_truth(&path).unwrap().0.len(), 2);
    }

    #[test]
    fn writer_refuses_bad_input_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.hdf5");
        let mut w = GalaxiesMlWriter::create(&path, N, S).unwrap();
        let msg = err_text(w.write_column(&col("specz_redshift", ColumnData::F64(vec![0.5; N - 1]))));
        assert!(msg.contains("column `specz_redshift` has 6 rows but the file has 7"), "{msg}");
        let msg = err_text(w.write_column(&col("object_id", ColumnData::F64(vec![1.0; N]))));
        assert!(msg.contains("column `object_id` must be int64"), "{msg}");
        let msg = err_text(w.write_images(N - 1, &image_rows(0..2)));
        assert!(msg.contains("image rows 6..8 are out of range"), "{msg}");
        assert!(w.write_images(0, &[1.0; 5]).is_err());
        for c in columns() {
            w.write_column(&c).unwrap();
        }
        assert!(err_text(w.write_column(&columns()[0])).contains("written twice"));
        w.write_images(0, &image_rows(0..N - 1)).unwrap();
        let msg = err_text(w.finish());
        assert!(msg.contains("image row 6 was never written"), "{msg}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a file was left behind");

        let w = GalaxiesMlWriter::create(&path, N, S).unwrap();
        assert!(w.tmp.exists() && w.tmp.to_string_lossy().ends_with(".pzbench-tmp"));
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a file was left behind");
        assert!(GalaxiesMlWriter::create(&path, 0, S).is_err());
    }
}
