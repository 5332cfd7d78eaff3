//! `pzbench.score_pdf` and `pzbench.pdf_values`: `pzbench score`'s PDF metrics
//! (`docs/PDF_METRICS.md`, `pzbench_report::score_pdfs`) on PDFs given as arrays — Gaussian
//! mixtures, grids, histograms, samples — or taken from a qp ensemble by the Python side
//! (`python/pzbench/_pdf.py`). The PDFs are checked as a file's are and refused with the command
//! line's messages, naming the array and the element instead of a file's row and column.

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pzbench_io::pdf::{describe_pdfs, pdfs_from_arrays, NamedArray, PdfData, PdfFile};
use pzbench_io::sample::ColumnsUsed;
use pzbench_metrics::pdf::{Dialect, PdfValues, PointEstimate};
use pzbench_report::{per_galaxy_columns, score_pdfs, PdfScoreOptions};

use crate::error::to_py_err;
use crate::input::{self, Column};
use crate::{convert, interrupt};

/// PDFs as `python/pzbench/_pdf.py` describes them (a dict): the true redshifts, the qp
/// parameterisation (`mixmod`, `norm`, `interp`, `hist`) or `samples`, its parameter arrays in
/// qp's order and the axis of grids and histograms, each as `(name, array)` with the name that
/// messages give it; the object ids; and for the report's `input` block, where the PDFs came
/// from (`source`, e.g. `arrays`) and the names of the z_spec and id columns.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct PdfArgs<'py> {
    z_spec: Bound<'py, PyAny>,
    parameterisation: String,
    parameters: Vec<(String, PyReadonlyArray2<'py, f64>)>,
    axis: Option<(String, PyReadonlyArray1<'py, f64>)>,
    ids: Option<PyReadonlyArray1<'py, i64>>,
    source: String,
    columns: (String, Option<String>),
}

/// [`PdfArgs`] with its arrays as slices (in place: the Python side passes contiguous arrays),
/// to be read with the GIL released.
struct PdfSlices<'a> {
    z_spec: &'a [f64],
    parameterisation: &'a str,
    parameters: Vec<NamedArray<'a>>,
    axis: Option<(&'a str, &'a [f64])>,
    ids: Option<&'a [i64]>,
    source: &'a str,
    /// The names of the z_spec and id columns.
    columns: (&'a str, Option<&'a str>),
}

impl PdfArgs<'_> {
    /// The arguments with every array borrowed; `z_spec` holds the values of `self.z_spec`.
    fn slices<'a>(&'a self, z_spec: &'a [f64]) -> PyResult<PdfSlices<'a>> {
        let parameters = self
            .parameters
            .iter()
            .map(|(name, array)| {
                let values = array.as_slice().map_err(|_| not_contiguous(name))?;
                let [rows, width] = [0, 1].map(|axis| array.shape()[axis]);
                Ok(NamedArray { name, values, rows, width })
            })
            .collect::<PyResult<_>>()?;
        let axis = match &self.axis {
            Some((name, array)) => Some((name.as_str(), array.as_slice().map_err(|_| not_contiguous(name))?)),
            None => None,
        };
        Ok(PdfSlices {
            z_spec,
            parameterisation: &self.parameterisation,
            parameters,
            axis,
            ids: self.ids.as_ref().map(|ids| input::as_slice("ids", ids)).transpose()?,
            source: &self.source,
            columns: (&self.columns.0, self.columns.1.as_deref()),
        })
    }
}

impl PdfSlices<'_> {
    /// The PDFs with their truths, ids and provenance, as a file's would be read: checked, and
    /// their parameters copied once.
    fn load(&self) -> PyResult<PdfFile> {
        let PdfSlices { z_spec, parameterisation, parameters, axis, ids, source, columns: (z_name, id_name) } = self;
        if let Some(first) = parameters.first().filter(|p| p.rows != z_spec.len()) {
            return Err(PyValueError::new_err(format!(
                "{z_name} has {} values but {} has {} rows; give one z_spec per PDF",
                z_spec.len(),
                first.name,
                first.rows
            )));
        }
        input::check_finite(z_name, z_spec)?;
        input::check_true_redshifts(z_name, z_spec)?;
        if let Some(ids) = ids {
            input::check_ids(ids, z_spec.len())?;
        }
        let pdfs = pdfs_from_arrays(parameterisation, parameters, *axis).map_err(to_py_err)?;
        let width = parameters.first().map_or(0, |p| p.width);
        let columns = ColumnsUsed { id: id_name.map(str::to_string), z_spec: Some(z_name.to_string()), z_phot: None };
        let mut input = convert::arrays_input(z_spec.len(), columns);
        input.predictions.format = format!("{source} ({})", describe_pdfs(&pdfs, width));
        Ok(PdfFile {
            pdfs: PdfData::Memory(pdfs),
            ids: ids.map(<[i64]>::to_vec),
            z_spec: z_spec.to_vec(),
            input,
            axis_file: None,
        })
    }
}

/// The error for an array that is not contiguous (the Python side makes every array so).
fn not_contiguous(name: &str) -> PyErr {
    PyValueError::new_err(format!("{name}: expected a contiguous float64 array"))
}

/// The dialect `dialect` names, as `pzbench score --dialect`.
fn parse_dialect(dialect: &str) -> PyResult<Dialect> {
    match dialect {
        "pzbench" => Ok(Dialect::Pzbench),
        "rail" => Ok(Dialect::Rail),
        other => Err(PyValueError::new_err(format!("dialect = '{other}': expected 'pzbench' or 'rail'"))),
    }
}

/// The point estimate `point` names, as `pzbench score --point`.
fn parse_point(point: &str) -> PyResult<PointEstimate> {
    match point {
        "mode" => Ok(PointEstimate::Mode),
        "mean" => Ok(PointEstimate::Mean),
        "median" => Ok(PointEstimate::Median),
        other => Err(PyValueError::new_err(format!("point = '{other}': expected 'mode', 'mean' or 'median'"))),
    }
}

/// Score the PDFs `pdfs` ([`PdfArgs`]) as `pzbench score` scores a PDF file with `--point`,
/// `--dialect`, `--bins`/`--edges`, `--bin-on`, `--nz-edges` and `--bootstrap`: returns the report
/// as `pzbench score --format json` writes it, its `input` block describing the arrays. Computes
/// with the GIL released.
#[pyfunction]
#[pyo3(signature = (pdfs, *, point=None, dialect="pzbench", edges=None, bin_on="zspec", nz_edges=None, bootstrap=0, confidence=0.95, seed=42))]
#[allow(clippy::too_many_arguments)]
fn score_pdf(
    py: Python<'_>,
    pdfs: PdfArgs<'_>,
    point: Option<&str>,
    dialect: &str,
    edges: Option<Vec<f64>>,
    bin_on: &str,
    nz_edges: Option<Vec<f64>>,
    bootstrap: usize,
    confidence: f64,
    seed: u64,
) -> PyResult<String> {
    let options = PdfScoreOptions {
        read: Default::default(),
        dialect: parse_dialect(dialect)?,
        nz_edges,
        point: point.map(parse_point).transpose()?,
    };
    let bins = input::bins(edges, bin_on)?;
    let config = input::bootstrap_config(bootstrap, confidence, seed)?;
    let z_spec = Column::new(&pdfs.columns.0, &pdfs.z_spec)?;
    let z_spec = z_spec.values(&pdfs.columns.0)?;
    let slices = pdfs.slices(&z_spec)?;
    interrupt::run(py, |_| {
        let file = slices.load()?;
        Ok(score_pdfs(file, &options, &bins, config).map_err(to_py_err)?.report.to_json())
    })
}

/// Every galaxy's values of the PDFs `pdfs` ([`PdfArgs`]) in `dialect`, as `pzbench score
/// --pit-out` writes them: a dict of numpy arrays, `object_id` (int64, when there are ids) and
/// then float64 columns (`pzbench_report::per_galaxy_columns`; NaN where a representation has no
/// value). Computes with the GIL released.
#[pyfunction]
#[pyo3(signature = (pdfs, *, dialect="pzbench"))]
fn pdf_values<'py>(py: Python<'py>, pdfs: PdfArgs<'py>, dialect: &str) -> PyResult<Bound<'py, PyDict>> {
    let dialect = parse_dialect(dialect)?;
    let z_spec = Column::new(&pdfs.columns.0, &pdfs.z_spec)?;
    let z_spec = z_spec.values(&pdfs.columns.0)?;
    let slices = pdfs.slices(&z_spec)?;
    let (ids, columns) = interrupt::run(py, |_| {
        let file = slices.load()?;
        let values = PdfValues::compute(&file.pdfs, &file.z_spec, dialect).map_err(to_py_err)?;
        let columns: Vec<(&str, Vec<f64>)> = per_galaxy_columns(&values)
            .into_iter()
            .map(|(name, values)| (name, values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect()))
            .collect();
        Ok((file.ids, columns))
    })?;
    let dict = PyDict::new(py);
    if let Some(ids) = ids {
        dict.set_item("object_id", PyArray1::from_vec(py, ids))?;
    }
    for (name, values) in columns {
        dict.set_item(name, PyArray1::from_vec(py, values))?;
    }
    Ok(dict)
}

/// Add `score_pdf` and `pdf_values` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(score_pdf, m)?)?;
    m.add_function(wrap_pyfunction!(pdf_values, m)?)?;
    Ok(())
}
