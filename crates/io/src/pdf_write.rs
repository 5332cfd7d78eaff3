//! Writing Gaussian-mixture PDFs in the two layouts that [`crate::pdf`] reads
//! (`docs/PDF_METRICS.md` §1.2, §1.3), so that `pzbench score` — and qp and RAIL — read what
//! `pzbench predict` writes:
//!
//! - a qp HDF5 file of the `mixmod` parameterisation, as qp 1.1.4's `Ensemble.write_to` lays it
//!   out: `meta/pdf_name` = `[b"mixmod"]` (`|S6`), `meta/pdf_version` = `[0]`, `data/weights`,
//!   `data/means`, `data/stds` (n, K) f64, and `ancil/object_id` (i64), `ancil/z_spec` and the
//!   point estimate under RAIL's name (`ancil/zmode`, `zmean` or `zmedian`), f64;
//! - a table `object_id[,z_spec][,z_phot],w_0..w_{K−1},mu_0..,sigma_0..` (CSV, shortest
//!   round-trip floats), whose `z_phot` column is the point estimate, for the point metrics.
//!
//! Both are written atomically ([`crate::write_atomic`], [`crate::persist_temp`]): a failed or
//! killed write leaves the previous file or none, never a partial one.

use std::fmt::Write as _;
use std::path::Path;

use hdf5::types::FixedAscii;
use ndarray::ArrayView2;
use pzbench_metrics::pdf::Pdfs;

use crate::pdf::{MIXMOD, MIXMOD_DATASETS, QP_PDF_NAME};
use crate::{persist_temp, temp_path_for, write_atomic, Error, Result};

/// Gaussian-mixture PDFs of n galaxies, K components each, with their ids, their true
/// redshifts when known, and a point estimate per galaxy.
#[derive(Debug, Clone, Copy)]
pub struct MixtureTable<'a> {
    pub ids: &'a [i64],
    pub z_spec: Option<&'a [f64]>,
    /// The point estimate (`z_phot` in the table) and its `ancil` name in the qp file (RAIL's
    /// `zmode`, `zmean` or `zmedian`).
    pub z_phot: Option<(&'a [f64], &'a str)>,
    /// Components per galaxy.
    pub k: usize,
    /// (n, K) row-major each: relative weights, means, widths.
    pub weights: &'a [f64],
    pub means: &'a [f64],
    pub sigmas: &'a [f64],
}

impl MixtureTable<'_> {
    /// Number of galaxies.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no galaxies.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Checks that the columns have one value (or K) per galaxy and that the mixtures are valid
    /// PDFs ([`Pdfs::mixture`]: finite, weights ≥ 0 not all 0, widths > 0), before anything is
    /// written; `path` is the file the error names.
    fn check(&self, path: &Path) -> Result<()> {
        let n = self.len();
        let per_galaxy = [self.z_spec.map(<[f64]>::len), self.z_phot.map(|(z, _)| z.len())];
        if per_galaxy.iter().flatten().any(|&len| len != n)
            || [self.weights, self.means, self.sigmas].iter().any(|c| Some(c.len()) != n.checked_mul(self.k))
        {
            return Err(Error::other(format!(
                "cannot write {}: the PDF columns do not have one row per galaxy ({n} ids, K = {})",
                path.display(),
                self.k
            )));
        }
        Pdfs::mixture(self.k, self.weights.to_vec(), self.means.to_vec(), self.sigmas.to_vec())
            .map(|_| ())
            .map_err(|e| Error::other(format!("cannot write {}: {e}", path.display())))
    }

    /// The table `object_id[,z_spec][,z_phot],w_0..,mu_0..,sigma_0..`, one row per galaxy, floats
    /// in their shortest round-trip form (Rust's `{:?}`: exponent notation below 1e-4 and from 1e16).
    pub fn to_csv(&self) -> String {
        let mut csv = String::with_capacity(self.len() * (24 + 3 * 20 * self.k));
        csv.push_str("object_id");
        if self.z_spec.is_some() {
            csv.push_str(",z_spec");
        }
        if self.z_phot.is_some() {
            csv.push_str(",z_phot");
        }
        for prefix in ["w", "mu", "sigma"] {
            for k in 0..self.k {
                // Writing into a String cannot fail.
                let _ = write!(csv, ",{prefix}_{k}");
            }
        }
        csv.push('\n');
        for (row, id) in self.ids.iter().enumerate() {
            let _ = write!(csv, "{id}");
            let point = self.z_phot.map(|(z, _)| z);
            for column in [self.z_spec, point].into_iter().flatten() {
                let _ = write!(csv, ",{:?}", column[row]);
            }
            let components = row * self.k..(row + 1) * self.k;
            for column in [self.weights, self.means, self.sigmas] {
                for value in &column[components.clone()] {
                    let _ = write!(csv, ",{value:?}");
                }
            }
            csv.push('\n');
        }
        csv
    }

    /// Writes [`Self::to_csv`] to `path`, atomically, after [checking](Self::check) the columns.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        self.check(path)?;
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// Writes the qp `mixmod` HDF5 file (module docs) to `path`, atomically, after
    /// [checking](Self::check) the columns.
    pub fn write_qp(&self, path: &Path) -> Result<()> {
        self.check(path)?;
        let tmp = temp_path_for(path);
        let written = self.write_hdf5(&tmp).map_err(|e| {
            let message = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            Error::file(path, format!("cannot write output: {message}")).caused_by(e)
        });
        let persisted = written.and_then(|()| {
            persist_temp(&tmp, path).map_err(|e| Error::file(path, format!("cannot write output: {e}")).caused_by(e))
        });
        if persisted.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        persisted
    }

    /// The HDF5 file's groups and datasets, without modification times (same PDFs, same bytes).
    fn write_hdf5(&self, path: &Path) -> hdf5::Result<()> {
        let file = hdf5::File::with_options().with_fcpl(|p| p.obj_track_times(false)).create(path)?;
        let meta = file.create_group("meta")?;
        let name = FixedAscii::<6>::from_ascii(MIXMOD.as_bytes()).map_err(|e| e.to_string())?;
        file.new_dataset_builder().with_data(&[name]).obj_track_times(false).create(QP_PDF_NAME)?;
        meta.new_dataset_builder().with_data(&[0i64]).obj_track_times(false).create("pdf_version")?;
        file.create_group("data")?;
        let shape = (self.len(), self.k);
        for (name, values) in MIXMOD_DATASETS.into_iter().zip([self.weights, self.means, self.sigmas]) {
            let array = ArrayView2::from_shape(shape, values).map_err(|e| e.to_string())?;
            file.new_dataset_builder().with_data(array).obj_track_times(false).create(name)?;
        }
        let ancil = file.create_group("ancil")?;
        ancil.new_dataset_builder().with_data(self.ids).obj_track_times(false).create("object_id")?;
        if let Some(z_spec) = self.z_spec {
            ancil.new_dataset_builder().with_data(z_spec).obj_track_times(false).create("z_spec")?;
        }
        if let Some((z_phot, name)) = self.z_phot {
            ancil.new_dataset_builder().with_data(z_phot).obj_track_times(false).create(name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::{read_pdf_file, PdfReadOptions};
    use pzbench_metrics::pdf::Pdf;

    fn table<'a>(ids: &'a [i64], z: &'a [f64], point: &'a [f64], params: &'a [Vec<f64>; 3]) -> MixtureTable<'a> {
        MixtureTable {
            ids,
            z_spec: Some(z),
            z_phot: Some((point, "zmode")),
            k: 2,
            weights: &params[0],
            means: &params[1],
            sigmas: &params[2],
        }
    }

    /// Both files read back, through the reader `pzbench score` uses, as the same PDFs, with the
    /// ids and true redshifts; the CSV holds the point estimate too.
    #[test]
    fn qp_and_csv_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let ids = [7i64, 3, 11];
        let z = [0.5, 1.25, 0.03];
        let point = [0.49, 1.3, 1e-7];
        let params = [
            vec![0.25, 0.75, 1.0, 0.0, 1e-30, 1.0 - 1e-30],
            vec![0.4, 0.6, 1.3, 2.0, 0.0, 0.05],
            vec![0.1, 0.05, 0.2, 0.3, 1e-3, 0.0125],
        ];
        let mixtures = table(&ids, &z, &point, &params);
        let (qp, csv) = (dir.path().join("p.hdf5"), dir.path().join("p.csv"));
        mixtures.write_qp(&qp).unwrap();
        mixtures.write_csv(&csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        assert_eq!(
            text.lines().take(2).collect::<Vec<_>>(),
            ["object_id,z_spec,z_phot,w_0,w_1,mu_0,mu_1,sigma_0,sigma_1", "7,0.5,0.49,0.25,0.75,0.4,0.6,0.1,0.05"]
        );
        assert!(text.ends_with("11,0.03,1e-7,1e-30,1.0,0.0,0.05,0.001,0.0125\n"), "{text}");
        let mut read = Vec::new();
        for path in [&qp, &csv] {
            let file = read_pdf_file(path, &PdfReadOptions::default()).unwrap();
            assert_eq!(file.ids.as_deref(), Some(&ids[..]));
            assert_eq!(file.z_spec, z);
            let pdfs = file.pdfs.into_memory().unwrap();
            assert_eq!(pdfs.len(), 3);
            read.push(pdfs);
        }
        let expected = Pdfs::mixture(2, params[0].clone(), params[1].clone(), params[2].clone()).unwrap();
        assert!(read[0] == expected && read[1] == expected);
        let Pdf::Mixture(second) = read[0].galaxy(1) else { panic!("not a mixture") };
        assert_eq!(second.components().len(), 1, "a zero weight contributes nothing");
        // qp's layout, dataset by dataset.
        let file = hdf5::File::open(&qp).unwrap();
        let name: Vec<FixedAscii<6>> = file.dataset("meta/pdf_name").unwrap().read_raw().unwrap();
        assert_eq!(name[0].as_str(), "mixmod");
        assert_eq!(file.dataset("meta/pdf_version").unwrap().read_raw::<i64>().unwrap(), [0]);
        assert_eq!(file.dataset("data/stds").unwrap().shape(), [3, 2]);
        assert_eq!(file.dataset("ancil/zmode").unwrap().read_raw::<f64>().unwrap(), point);
    }

    #[test]
    fn refuses_inconsistent_or_invalid_mixtures_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.hdf5");
        let ids = [1i64, 2];
        let (z, point) = ([0.1, 0.2], [0.1, 0.2]);
        let short = [vec![1.0, 1.0, 1.0], vec![0.1, 0.2, 0.3], vec![0.1, 0.1, 0.1]];
        let err = table(&ids, &z, &point, &short).write_qp(&path).unwrap_err().to_string();
        assert!(err.contains("do not have one row per galaxy (2 ids, K = 2)"), "{err}");
        let negative = [vec![1.0, 0.0, 1.0, 1.0], vec![0.1, 0.2, 0.3, 0.4], vec![0.1, 0.1, -0.1, 0.1]];
        let err = table(&ids, &z, &point, &negative).write_csv(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("cannot write {}: ", path.display())) && err.contains("sigma_0"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
        // A folder that does not exist: one line naming the file, no temporary left.
        let missing = dir.path().join("no").join("p.hdf5");
        let fine = [vec![1.0, 0.0, 1.0, 1.0], vec![0.1, 0.2, 0.3, 0.4], vec![0.1, 0.1, 0.1, 0.1]];
        let err = table(&ids, &z, &point, &fine).write_qp(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: cannot write output: ", missing.display())) && !err.contains('\n'),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
