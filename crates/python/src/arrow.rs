//! Arrow arrays from Python (pyarrow `Array` and `ChunkedArray`, polars `Series`, nanoarrow, …:
//! anything with the Arrow PyCapsule interface, `__arrow_c_array__` or `__arrow_c_stream__`),
//! imported through the Arrow C data interface by pyo3-arrow: the buffers stay where the producer
//! put them.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{ArrowError, DataType};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;

/// The chunks of one imported Arrow column (one chunk for an array, any number for a stream).
pub struct ArrowColumn {
    chunks: Vec<ArrayRef>,
}

/// Whether `object` offers the Arrow PyCapsule interface (`__arrow_c_array__` or
/// `__arrow_c_stream__`).
pub fn exports_arrow(object: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = object.py();
    Ok(object.hasattr(intern!(py, "__arrow_c_array__"))? || object.hasattr(intern!(py, "__arrow_c_stream__"))?)
}

impl ArrowColumn {
    /// Import the column `object` (the Python argument `name`) through its Arrow PyCapsule
    /// interface, reading a stream's chunks; the values are not copied.
    pub fn import(name: &str, object: &Bound<'_, PyAny>) -> PyResult<Self> {
        let chunks = object
            .extract::<AnyArray>()?
            .into_reader()?
            .collect::<Result<Vec<ArrayRef>, ArrowError>>()
            .map_err(|error| PyValueError::new_err(format!("{name}: could not read the Arrow array ({error})")))?;
        Ok(ArrowColumn { chunks })
    }

    /// The values as float64: in place for a single float64 chunk without nulls; otherwise
    /// converted once (any numeric type and any number of chunks), a null becoming NaN (which
    /// the checks on the columns refuse, as a missing value). Fails on a column that does not hold
    /// numbers, naming `name` and the Arrow type.
    pub fn values(&self, name: &str) -> PyResult<Cow<'_, [f64]>> {
        if let [chunk] = self.chunks.as_slice() {
            if chunk.data_type() == &DataType::Float64 && chunk.null_count() == 0 {
                return Ok(Cow::Borrowed(chunk.as_primitive::<Float64Type>().values()));
            }
        }
        let mut values = Vec::with_capacity(self.chunks.iter().map(|chunk| chunk.len()).sum());
        for chunk in &self.chunks {
            append_as_float64(name, chunk, &mut values)?;
        }
        Ok(Cow::Owned(values))
    }
}

/// Append `chunk`'s values to `values` as float64, a null as NaN; `chunk` must hold numbers
/// (integers, floats or decimals).
fn append_as_float64(name: &str, chunk: &ArrayRef, values: &mut Vec<f64>) -> PyResult<()> {
    if !chunk.data_type().is_numeric() {
        return Err(PyValueError::new_err(format!(
            "{name}: expected numbers, got an Arrow array of type {}",
            chunk.data_type()
        )));
    }
    let converted = arrow_cast::cast(chunk, &DataType::Float64).map_err(|error| {
        PyValueError::new_err(format!("{name}: could not convert the Arrow array to float64 ({error})"))
    })?;
    let start = values.len();
    values.extend_from_slice(converted.as_primitive::<Float64Type>().values());
    if let Some(nulls) = converted.logical_nulls() {
        for row in nulls.iter().enumerate().filter_map(|(row, valid)| (!valid).then_some(row)) {
            values[start + row] = f64::NAN;
        }
    }
    Ok(())
}
