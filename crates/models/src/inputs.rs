//! A model's inputs: reading the magnitudes, ids and redshifts (and, for the CNN, the images) of
//! a data file, and the [`InputSpec`] that turns them into what a model reads (non-detections
//! filled, colours, scaling).
//!
//! A data file is a GalaxiesML HDF5 file (`docs/GALAXIESML.md`: keys, images streamed by
//! [`Hdf5Images`]) or a catalogue read by the I/O crate's table reader
//! ([`pzbench_io::table::read_table`]): CSV, TSV, whitespace-separated text or Parquet, with the
//! same delimiter detection, `--delimiter`, `--drop-invalid` and messages as `pzbench score`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::Dataset;
use super::record::ValidationSplit;
use super::scaling::MinMaxScaler;
use pzbench_io::galaxiesml::{GalaxiesMlFile, OBJECT_ID_KEY, REDSHIFT_KEY};
use pzbench_io::images::{Hdf5Images, ImageSource};
use pzbench_io::table::{read_table, ColumnRequest, Delimiter, Layout, ReadOptions, Role};
use pzbench_io::write_atomic;
use pzbench_io::{Error, Result};

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
        if !mags.len().is_multiple_of(k) {
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
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::file(&path, format!("cannot serialise: {e}")).caused_by(e))?;
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
            .caused_by(e)
        })?;
        let spec: InputSpec = serde_json::from_str(&text).map_err(|e| {
            Error::file(&path, format!("corrupt input description: {e}; retrain with `pzbench train`")).caused_by(e)
        })?;
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
    /// `"GalaxiesML HDF5"`, `"CSV"`, `"TSV"`, `"Parquet"` or `"text (…-separated)"`.
    pub format: String,
    pub ids: Vec<i64>,
    pub mags: Vec<f64>,
    /// Spectroscopic redshifts, as stored (f64).
    pub z: Option<Vec<f64>>,
    pub images: Option<Box<dyn ImageSource>>,
    /// Non-detections per band (values with `|m| >=` the sentinel given to [`read_data`]).
    pub non_detections: Vec<usize>,
    /// Catalogue rows dropped for NaN, infinite or empty values (`ReadOptions::drop_invalid`).
    pub dropped_invalid: usize,
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

    /// Splits the galaxies into a training and a validation set ([`ValidationSplit`]): shuffled
    /// with `seed` (on a stream of its own, so the split does not repeat the initial weights' or
    /// an epoch's draws), the first `round(fraction · n)` of the shuffle validate, the others
    /// train; each part keeps the file's order. Images stay in the file, read through the rows
    /// of each part. `non_detection` is the sentinel the file was read with ([`read_data`]),
    /// to count each part's non-detections; rows dropped while reading are counted in the
    /// training part. Fails unless `fraction` is in (0, 1) and both parts hold a galaxy.
    pub fn split(self, fraction: f64, seed: u64, non_detection: f64) -> Result<(RawData, RawData, ValidationSplit)> {
        check_val_fraction(fraction)?;
        let n = self.len();
        let n_val = (fraction * n as f64).round() as usize;
        if n_val == 0 || n_val == n {
            return Err(Error::file(
                &self.path,
                format!(
                    "holds {n} galaxies: --val-fraction {fraction} leaves {} to train on and {n_val} to validate; give a fraction that keeps at least one in each",
                    n - n_val
                ),
            ));
        }
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(SPLIT_STREAM);
        order.shuffle(&mut rng);
        let (mut val_rows, mut train_rows) = (order[..n_val].to_vec(), order[n_val..].to_vec());
        val_rows.sort_unstable();
        train_rows.sort_unstable();
        let split = ValidationSplit { fraction, seed, train: train_rows.len(), val: val_rows.len() };
        let images: Option<Arc<dyn ImageSource>> = self.images.map(Arc::from);
        let k = self.non_detections.len();
        let part = |rows: Vec<usize>, dropped_invalid: usize| {
            let mags: Vec<f64> = rows.iter().flat_map(|&r| self.mags[r * k..(r + 1) * k].iter().copied()).collect();
            RawData {
                path: self.path.clone(),
                format: self.format.clone(),
                ids: rows.iter().map(|&r| self.ids[r]).collect(),
                non_detections: count_non_detections(&mags, k, non_detection),
                mags,
                z: self.z.as_ref().map(|z| rows.iter().map(|&r| z[r]).collect()),
                images: images.clone().map(|source| Box::new(RowSubset { source, rows }) as Box<dyn ImageSource>),
                dropped_invalid,
            }
        };
        let train = part(train_rows, self.dropped_invalid);
        let val = part(val_rows, 0);
        Ok((train, val, split))
    }

    /// What was read, and which non-detections `spec` fills (for a line per input file).
    pub fn summary(&self, spec: &InputSpec) -> InputSummary {
        let filled = spec
            .bands
            .iter()
            .zip(&self.non_detections)
            .zip(&spec.fill)
            .filter(|((_, count), _)| **count > 0)
            .map(|((band, &count), &fill)| FilledBand { band: band.clone(), count, fill })
            .collect();
        InputSummary {
            path: self.path.clone(),
            format: self.format.clone(),
            galaxies: self.len(),
            image_shape: self.images.as_ref().map(|images| images.image_shape()),
            filled,
            dropped_invalid: self.dropped_invalid,
        }
    }
}

/// Fails unless `fraction`, the share of a training file held out for validation
/// ([`RawData::split`]), is in (0, 1).
pub(crate) fn check_val_fraction(fraction: f64) -> Result<()> {
    if fraction > 0.0 && fraction < 1.0 {
        return Ok(());
    }
    Err(Error::usage(format!(
        "--val-fraction {fraction}: give the share of the training file to hold out for validation, between 0 and 1 (e.g. 0.2)"
    )))
}

/// The ChaCha stream of a run's seed that [`RawData::split`] shuffles with: streams 0 and
/// `1 + epoch` draw the initial weights and the epoch orders (`data::epoch_batches`).
const SPLIT_STREAM: u64 = u64::MAX;

/// The images of some rows of another source: row `i` here is row `rows[i]` there. `rows`
/// ascend, so ascending rows asked for stay ascending ([`ImageSource::read_rows`]).
struct RowSubset {
    source: Arc<dyn ImageSource>,
    rows: Vec<usize>,
}

impl ImageSource for RowSubset {
    fn n(&self) -> usize {
        self.rows.len()
    }

    fn image_shape(&self) -> (usize, usize, usize) {
        self.source.image_shape()
    }

    fn read_rows(&self, rows: &[usize], out: &mut Vec<f32>) -> Result<()> {
        let mapped =
            rows.iter()
                .map(|&r| {
                    self.rows.get(r).copied().ok_or_else(|| {
                        Error::other(format!("image row {r} is out of range ({} rows)", self.rows.len()))
                    })
                })
                .collect::<Result<Vec<usize>>>()?;
        self.source.read_rows(&mapped, out)
    }
}

/// What a data file held ([`RawData::summary`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InputSummary {
    pub path: PathBuf,
    /// As [`RawData::format`].
    pub format: String,
    pub galaxies: usize,
    /// `(bands, height, width)` of the images, when they are read.
    pub image_shape: Option<(usize, usize, usize)>,
    /// The bands with non-detections, in the order of the bands.
    pub filled: Vec<FilledBand>,
    /// As [`RawData::dropped_invalid`].
    pub dropped_invalid: usize,
}

/// The non-detections of one band and the value that replaces them.
#[derive(Debug, Clone, PartialEq)]
pub struct FilledBand {
    pub band: String,
    pub count: usize,
    pub fill: f64,
}

/// Reads the magnitude columns `bands`, the ids and the spectroscopic redshifts (if present) of
/// `path`: a GalaxiesML HDF5 file (keys; ids from `object_id`, redshifts from `specz_redshift`,
/// images from `image` when `images` is set) or a catalogue that
/// [`pzbench_io::table::read_table`] reads with `read` (CSV, TSV, whitespace-separated text or
/// Parquet; ids from `object_id` or `id`, else the row number (of the rows kept) from 0;
/// redshifts from the z_spec
/// column's names, e.g. `z_spec`, `specz_redshift` or `redshift`). Every magnitude must be a
/// number: NaN, infinite or empty values fail, naming the row and column (or, in a catalogue
/// read with `read.drop_invalid`, drop the row). Counts values with `|m| >= non_detection`.
pub fn read_data(
    path: &Path,
    bands: &[String],
    images: bool,
    non_detection: f64,
    read: &ReadOptions,
) -> Result<RawData> {
    if bands.is_empty() {
        return Err(Error::usage(
            "--bands names no column; give the magnitude columns, e.g. --bands mag_g,mag_r,mag_i",
        ));
    }
    if let Some(dup) = bands.iter().enumerate().find(|(i, b)| bands[..*i].contains(b)) {
        return Err(Error::usage(format!("--bands names '{}' twice", dup.1)));
    }
    let mut raw = if pzbench_io::galaxiesml::is_hdf5(path) {
        read_hdf5(path, bands, images)?
    } else if images {
        std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")).caused_by(e))?;
        return Err(Error::file(
            path,
            "the CNN needs images, and this is a catalogue (CSV/Parquet); give a GalaxiesML HDF5 file with an `image` key, or use --model nn",
        ));
    } else {
        read_catalogue(path, bands, read)?
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
    raw.non_detections = count_non_detections(&raw.mags, k, non_detection);
    Ok(raw)
}

/// Per band, the values of row-major magnitudes `mags` (`k` bands) with `|m| >= non_detection`.
fn count_non_detections(mags: &[f64], k: usize, non_detection: f64) -> Vec<usize> {
    (0..k).map(|b| mags.iter().skip(b).step_by(k).filter(|m| m.abs() >= non_detection).count()).collect()
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
        format: "GalaxiesML HDF5".into(),
        ids,
        mags,
        z,
        images,
        non_detections: Vec::new(),
        dropped_invalid: 0,
    })
}

/// Reads a catalogue through the I/O crate's table reader: the `bands` (all required), the id
/// and z_spec columns if the file has them. A column that one of `bands` names is not also taken
/// as the id or the redshift.
fn read_catalogue(path: &Path, bands: &[String], read: &ReadOptions) -> Result<RawData> {
    let mut requests: Vec<ColumnRequest> = bands.iter().map(ColumnRequest::magnitude).collect();
    requests.push(ColumnRequest { role: Role::Id, name: None, required: false });
    requests.push(ColumnRequest { role: Role::ZSpec, name: None, required: false });
    let table = read_table(path, &requests, read)?;
    let n = table.rows;
    let ids = table.id.map_or_else(|| (0..n as i64).collect(), |column| column.values);
    let columns = &table.magnitudes;
    let mags = (0..n).flat_map(|row| columns.iter().map(move |c| c.values[row])).collect();
    Ok(RawData {
        path: path.to_path_buf(),
        format: format_name(table.layout),
        ids,
        mags,
        z: table.z_spec.map(|column| column.values),
        images: None,
        non_detections: Vec::new(),
        dropped_invalid: table.dropped_invalid,
    })
}

/// How a line per input file names a table's layout: `"CSV"`, `"TSV"`, `"Parquet"`,
/// `"text (whitespace-separated)"`, `"text (;-separated)"`, ...
fn format_name(layout: Layout) -> String {
    match layout {
        Layout::Text(Delimiter::Byte(b',')) => "CSV".into(),
        Layout::Text(Delimiter::Byte(b'\t')) => "TSV".into(),
        Layout::Text(Delimiter::Byte(b)) => format!("text ({}-separated)", b as char),
        Layout::Text(Delimiter::Whitespace) => "text (whitespace-separated)".into(),
        Layout::Parquet => "Parquet".into(),
        Layout::GalaxiesMlHdf5 => "GalaxiesML HDF5".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(mags: Vec<f64>) -> RawData {
        let n = mags.len() / 2;
        RawData {
            path: PathBuf::from("cat.csv"),
            format: "CSV".into(),
            ids: (0..n as i64).collect(),
            mags,
            z: Some(vec![0.5; n]),
            images: None,
            non_detections: Vec::new(),
            dropped_invalid: 0,
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
        let read = ReadOptions::default();
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("cat.csv");
        std::fs::write(&csv, "object_id,redshift,m1,m2,other\n7,0.1,20.5,99,x\n9,0.2,21.5,22.5,y\n").unwrap();
        let bands = ["m2".to_string(), "m1".to_string()];
        let from_csv = read_data(&csv, &bands, false, 99.0, &read).unwrap();
        assert_eq!(from_csv.format, "CSV");
        assert_eq!(from_csv.ids, vec![7, 9]);
        assert_eq!(from_csv.mags, vec![99.0, 20.5, 22.5, 21.5]);
        assert_eq!(from_csv.z, Some(vec![0.1, 0.2]));
        assert_eq!(from_csv.non_detections, vec![1, 0]);
        let parquet = dir.path().join("cat.parquet");
        let mut frame =
            df!("object_id" => [7i64, 9], "redshift" => [0.1, 0.2], "m1" => [20.5, 21.5], "m2" => [99.0, 22.5])
                .unwrap();
        ParquetWriter::new(std::fs::File::create(&parquet).unwrap()).finish(&mut frame).unwrap();
        let pq = dir.path().join("cat.pq");
        std::fs::copy(&parquet, &pq).unwrap();
        let tsv = dir.path().join("cat.tsv");
        std::fs::write(&tsv, "object_id\tredshift\tm1\tm2\n7\t0.1\t20.5\t99\n9\t0.2\t21.5\t22.5\n").unwrap();
        let text = dir.path().join("cat.txt");
        std::fs::write(&text, "# object_id redshift m1 m2\n7  0.1 20.5   99\n9 0.2 21.5 22.5\n").unwrap();
        for (path, format) in
            [(&parquet, "Parquet"), (&pq, "Parquet"), (&tsv, "TSV"), (&text, "text (whitespace-separated)")]
        {
            let other = read_data(path, &bands, false, 99.0, &read).unwrap();
            assert_eq!(other.format, format);
            assert_eq!((&other.ids, &other.mags, &other.z), (&from_csv.ids, &from_csv.mags, &from_csv.z), "{format}");
        }
        let err = read_data(&csv, &["m3".to_string()], false, 99.0, &read).err().unwrap().to_string();
        assert!(err.contains("no column 'm3' (named by --bands)"), "{err}");
        let err = read_data(&csv, &["m1".to_string()], true, 99.0, &read).err().unwrap().to_string();
        assert!(err.contains("the CNN needs images"), "{err}");
    }

    #[test]
    fn catalogue_ids_default_to_the_row_number_and_bad_magnitudes_are_named() {
        let read = ReadOptions::default();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cat.csv");
        std::fs::write(&path, "m1;m2;redshift\n20;21;0.5\n22;99;0.6\n").unwrap();
        let bands = ["m1".to_string(), "m2".to_string()];
        let raw = read_data(&path, &bands, false, 99.0, &read).unwrap();
        assert_eq!((raw.ids, raw.format.as_str(), raw.non_detections), (vec![0, 1], "text (;-separated)", vec![0, 1]));
        std::fs::write(&path, "m1,m2\n20,21\n22,nan\n23,\n").unwrap();
        let err = read_data(&path, &bands, false, 99.0, &read).err().unwrap().to_string();
        assert!(err.contains("line 3, column 'm2' is NaN; magnitudes must be numbers"), "{err}");
        let dropped =
            read_data(&path, &bands, false, 99.0, &ReadOptions { drop_invalid: true, ..read.clone() }).unwrap();
        assert_eq!((dropped.mags, dropped.dropped_invalid), (vec![20.0, 21.0], 2));
        let err = read_data(&path, &["m1".to_string(), "m1".to_string()], false, 99.0, &read).err().unwrap();
        assert_eq!(err.to_string(), "--bands names 'm1' twice");
        // A band column is not also taken as the redshift.
        std::fs::write(&path, "id,redshift\n1,0.5\n").unwrap();
        let raw = read_data(&path, &["redshift".to_string()], false, 99.0, &read).unwrap();
        assert_eq!((raw.mags, raw.z), (vec![0.5], None));
        let err = read_data(&dir.path().join("absent.csv"), &bands, true, 99.0, &read).err().unwrap().to_string();
        assert!(err.contains("absent.csv: cannot open"), "{err}");
    }

    /// `n` galaxies of 2 bands: id `10 + r`, magnitudes `[r, 99 if r is a multiple of 4]`,
    /// redshift `r / 100`, and a 1×1×2 image `[r, -r]`.
    fn numbered(n: usize) -> RawData {
        let mags = (0..n).flat_map(|r| [r as f64, if r % 4 == 0 { 99.0 } else { 20.0 }]).collect();
        let pixels = (0..n).flat_map(|r| [r as f32, -(r as f32)]).collect();
        RawData {
            ids: (0..n as i64).map(|r| 10 + r).collect(),
            mags,
            z: Some((0..n).map(|r| r as f64 / 100.0).collect()),
            images: Some(Box::new(pzbench_io::images::InMemoryImages::new((1, 1, 2), pixels).unwrap())),
            non_detections: vec![0, n.div_ceil(4)],
            dropped_invalid: 3,
            ..raw(Vec::new())
        }
    }

    #[test]
    fn a_validation_split_is_seeded_disjoint_complete_and_keeps_rows_together() {
        let (train, val, split) = numbered(50).split(0.2, 7, 99.0).unwrap();
        assert_eq!(split, ValidationSplit { fraction: 0.2, seed: 7, train: 40, val: 10 });
        assert_eq!((train.len(), val.len()), (40, 10));
        let mut all: Vec<i64> = train.ids.iter().chain(&val.ids).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (10..60).collect::<Vec<i64>>(), "disjoint, and every galaxy in one part");
        assert!(train.ids.windows(2).all(|w| w[0] < w[1]) && val.ids.windows(2).all(|w| w[0] < w[1]), "file order");
        assert!(val.ids != (10..20).collect::<Vec<i64>>(), "drawn at random, not the first rows");
        // Every galaxy's magnitudes, redshift and image travel with its id.
        for part in [&train, &val] {
            let mut pixels = Vec::new();
            let rows: Vec<usize> = (0..part.len()).collect();
            part.images.as_ref().unwrap().read_rows(&rows, &mut pixels).unwrap();
            for (i, &id) in part.ids.iter().enumerate() {
                let r = (id - 10) as f64;
                assert_eq!(part.mags[2 * i], r);
                assert_eq!(part.z.as_ref().unwrap()[i], r / 100.0);
                assert_eq!(&pixels[2 * i..2 * i + 2], &[r as f32, -r as f32]);
            }
            let sentinels = part.mags.iter().skip(1).step_by(2).filter(|&&m| m == 99.0).count();
            assert_eq!(part.non_detections, vec![0, sentinels]);
        }
        assert_eq!((train.dropped_invalid, val.dropped_invalid), (3, 0), "the file's drops, counted once");
        assert!(val.images.as_ref().unwrap().read_rows(&[10], &mut Vec::new()).is_err());
        // The same seed draws the same split; another seed another one.
        let (_, again, _) = numbered(50).split(0.2, 7, 99.0).unwrap();
        assert_eq!(again.ids, val.ids);
        let (_, other, _) = numbered(50).split(0.2, 8, 99.0).unwrap();
        assert_ne!(other.ids, val.ids);
        // round(fraction * n) validate.
        assert_eq!(
            numbered(7).split(0.5, 0, 99.0).unwrap().2,
            ValidationSplit { fraction: 0.5, seed: 0, train: 3, val: 4 }
        );
    }

    #[test]
    fn a_validation_split_needs_a_fraction_in_0_1_and_a_galaxy_in_each_part() {
        for fraction in [0.0, 1.0, -0.2, 1.5, f64::NAN, f64::INFINITY] {
            let err = numbered(10).split(fraction, 0, 99.0).err().unwrap();
            assert!(matches!(err, Error::Usage(_)), "{err}");
            assert!(err.to_string().contains("between 0 and 1 (e.g. 0.2)"), "{err}");
        }
        let err = numbered(10).split(0.01, 0, 99.0).err().unwrap().to_string();
        assert!(
            err.starts_with("cat.csv: holds 10 galaxies: --val-fraction 0.01 leaves 10 to train on and 0"),
            "{err}"
        );
        let err = numbered(10).split(0.99, 0, 99.0).err().unwrap().to_string();
        assert!(err.contains("leaves 0 to train on and 10 to validate"), "{err}");
    }
}
