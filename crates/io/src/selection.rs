//! What a GalaxiesML HDF5 file holds, and how many of its rows break the paper's selection cuts
//! (section 3.2; `docs/GALAXIESML.md`, "Selection already applied"): the [`Summary`] that
//! `pzbench inspect` prints. Only the tabular keys are read, never the images.

use std::collections::HashSet;

use serde::Serialize;

use crate::galaxiesml::{Dtype, GalaxiesMlFile, KeyInfo, BANDS, IMAGE_KEY, OBJECT_ID_KEY, REDSHIFT_KEY};
use crate::Result;

/// Width of an n(z) bin.
pub const Z_BIN: f64 = 0.2;
/// The n(z) histogram covers `0 <= z <` this.
pub const Z_MAX: f64 = 4.0;

/// Everything `pzbench inspect` reports about a file (its JSON output is this, serialised).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub pzbench_version: &'static str,
    /// The file, as given.
    pub file: String,
    /// Galaxies N.
    pub n_rows: usize,
    /// `[N, 5, H, W]`.
    pub image_shape: [usize; 4],
    /// Every top-level key with its dtype and shape.
    pub keys: Vec<KeyInfo>,
    /// The range of `specz_redshift`.
    pub redshift: Range,
    /// n(z) of `specz_redshift`.
    pub histogram: Histogram,
    /// The cmodel magnitude range of each band, in the order g, r, i, z, y.
    pub magnitudes: Vec<BandMagnitudes>,
    /// The selection cuts, in the paper's order, and how many rows break each.
    pub checks: Vec<Check>,
}

/// Minimum and maximum of the finite values, and how many values were not finite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub non_finite: usize,
}

impl Range {
    /// The range of `values`.
    pub fn of(values: &[f64]) -> Self {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        Range {
            min: finite.clone().reduce(f64::min),
            max: finite.reduce(f64::max),
            non_finite: values.iter().filter(|v| !v.is_finite()).count(),
        }
    }
}

/// n(z) in bins of [`Z_BIN`] from 0 to [`Z_MAX`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    pub bin_width: f64,
    /// `counts[i]` counts `i * bin_width <= z < (i + 1) * bin_width`.
    pub counts: Vec<usize>,
    /// Finite redshifts below 0 or at/above [`Z_MAX`].
    pub outside: usize,
}

impl Histogram {
    /// The histogram of the finite values of `z`.
    pub fn of(z: &[f64]) -> Self {
        let bins = (Z_MAX / Z_BIN).round() as usize;
        let mut counts = vec![0; bins];
        let mut outside = 0;
        for &v in z.iter().filter(|v| v.is_finite()) {
            let bin = (v / Z_BIN).floor();
            if (0.0..bins as f64).contains(&bin) {
                counts[bin as usize] += 1;
            } else {
                outside += 1;
            }
        }
        Histogram { bin_width: Z_BIN, counts, outside }
    }
}

/// The cmodel magnitude range of one band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandMagnitudes {
    pub band: &'static str,
    pub key: String,
    /// `None` when the file lacks the key.
    pub range: Option<Range>,
    /// Rows outside 0 < mag < 50 (NaN included).
    pub outside_0_50: Option<usize>,
}

/// One selection cut and how many rows break it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub cut: &'static str,
    /// `None` when the check was skipped (see `note`).
    pub violations: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Check {
    fn counted(cut: &'static str, violations: usize) -> Self {
        Check { cut, violations: Some(violations), note: None }
    }

    fn skipped(cut: &'static str, missing: &str) -> Self {
        Check { cut, violations: None, note: Some(format!("skipped: no key `{missing}`")) }
    }
}

impl Summary {
    /// Summarises `file` and counts the rows that break each selection cut of the paper's
    /// section 3.2: 0.01 < z < 4; 0 < z_err < 1; z_err < 0.005 (1 + z); 0 < mag < 50 in every
    /// band; no NaN in any tabular column; no duplicate object_id. A cut whose key is missing
    /// is reported as skipped.
    pub fn of(file: &GalaxiesMlFile) -> Result<Self> {
        let n_rows = file.n_galaxies()?;
        let (_, bands, h, w) = file.image_shape()?;
        let z = file.read_f64(REDSHIFT_KEY)?;
        let has = |key: &str| file.key(key).is_some();

        let mut checks = vec![Check::counted("0.01 < z < 4", z.iter().filter(|&&v| !(0.01 < v && v < 4.0)).count())];
        let err_key = "specz_redshift_err";
        if has(err_key) {
            let err = file.read_f64(err_key)?;
            checks.push(Check::counted("0 < z_err < 1", err.iter().filter(|&&e| !(0.0 < e && e < 1.0)).count()));
            checks.push(Check::counted(
                "z_err < 0.005 (1 + z)",
                err.iter()
                    .zip(&z)
                    .filter(|&(&e, &v)| e.partial_cmp(&(0.005 * (1.0 + v))) != Some(std::cmp::Ordering::Less))
                    .count(),
            ));
        } else {
            checks.push(Check::skipped("0 < z_err < 1", err_key));
            checks.push(Check::skipped("z_err < 0.005 (1 + z)", err_key));
        }

        let mut magnitudes = Vec::with_capacity(BANDS.len());
        let mut bad_mag_rows = vec![false; n_rows];
        let mut missing_mag = None;
        for band in BANDS {
            let key = format!("{band}_cmodel_mag");
            if !has(&key) {
                magnitudes.push(BandMagnitudes { band, key: key.clone(), range: None, outside_0_50: None });
                missing_mag.get_or_insert(key);
                continue;
            }
            let mag = file.read_f64(&key)?;
            let mut outside = 0;
            for (bad, &m) in bad_mag_rows.iter_mut().zip(&mag) {
                if !(0.0 < m && m < 50.0) {
                    *bad = true;
                    outside += 1;
                }
            }
            magnitudes.push(BandMagnitudes { band, key, range: Some(Range::of(&mag)), outside_0_50: Some(outside) });
        }
        checks.push(match missing_mag {
            Some(key) => Check::skipped("0 < mag < 50 in every band", &key),
            None => Check::counted("0 < mag < 50 in every band", bad_mag_rows.iter().filter(|&&b| b).count()),
        });

        // NaN can only be stored in float keys; the image is not tabular.
        let mut nan_rows = vec![false; n_rows];
        for key in file.keys() {
            if matches!(key.native, Some(Dtype::F64 | Dtype::F32)) && key.name != IMAGE_KEY {
                let (values, per_row) = file.read_f64_rows(&key.name)?;
                for (nan, row) in nan_rows.iter_mut().zip(values.chunks(per_row.max(1))) {
                    *nan |= row.iter().any(|v| v.is_nan());
                }
            }
        }
        checks.push(Check::counted("no NaN in any tabular column", nan_rows.iter().filter(|&&b| b).count()));

        checks.push(if has(OBJECT_ID_KEY) {
            let ids = file.read_i64(OBJECT_ID_KEY)?;
            let mut seen = HashSet::with_capacity(ids.len());
            Check::counted("no duplicate object_id", ids.iter().filter(|id| !seen.insert(*id)).count())
        } else {
            Check::skipped("no duplicate object_id", OBJECT_ID_KEY)
        });

        Ok(Summary {
            pzbench_version: crate::VERSION,
            file: file.path().display().to_string(),
            n_rows,
            image_shape: [n_rows, bands, h, w],
            keys: file.keys().to_vec(),
            redshift: Range::of(&z),
            histogram: Histogram::of(&z),
            magnitudes,
            checks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::galaxiesml::{Column, ColumnData, GalaxiesMlWriter};

    #[test]
    fn cuts_histogram_and_ranges_of_a_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cuts.hdf5");
        let mut w = GalaxiesMlWriter::create(&path, 4, 2).unwrap();
        w.write_images(0, &[0.0; 4 * 5 * 2 * 2]).unwrap();
        let column = |name: &str, data| Column { name: name.into(), data };
        w.write_column(&column("object_id", ColumnData::I64(vec![1, 2, 2, 3]))).unwrap();
        w.write_column(&column("specz_redshift", ColumnData::F64(vec![0.005, 0.3, 0.5, 4.2]))).unwrap();
        w.write_column(&column("g_cmodel_mag", ColumnData::F64(vec![22.0, f64::NAN, 60.0, 21.0]))).unwrap();
        w.finish().unwrap();
        let summary = Summary::of(&GalaxiesMlFile::open(&path).unwrap()).unwrap();
        assert_eq!((summary.n_rows, summary.image_shape), (4, [4, 5, 2, 2]));
        assert_eq!(summary.redshift, Range { min: Some(0.005), max: Some(4.2), non_finite: 0 });
        assert_eq!(summary.histogram.counts[..3], [1, 1, 1]);
        assert_eq!(summary.histogram.outside, 1);
        assert_eq!(summary.magnitudes[0].range, Some(Range { min: Some(21.0), max: Some(60.0), non_finite: 1 }));
        assert_eq!(summary.magnitudes[0].outside_0_50, Some(2));
        assert_eq!(summary.magnitudes[1].range, None, "no r_cmodel_mag key");
        let counts: Vec<(&str, Option<usize>)> = summary.checks.iter().map(|c| (c.cut, c.violations)).collect();
        assert_eq!(
            counts,
            [
                ("0.01 < z < 4", Some(2)),
                ("0 < z_err < 1", None),
                ("z_err < 0.005 (1 + z)", None),
                ("0 < mag < 50 in every band", None),
                ("no NaN in any tabular column", Some(1)),
                ("no duplicate object_id", Some(1)),
            ]
        );
        assert_eq!(summary.checks[1].note.as_deref(), Some("skipped: no key `specz_redshift_err`"));
        assert_eq!(summary.checks[3].note.as_deref(), Some("skipped: no key `r_cmodel_mag`"));
    }
}
