//! The report of galaxies given as arrays: `pzbench score`'s `input` block for galaxies that come
//! from no file.

use pzbench_io::sample::{ColumnsUsed, FileInfo, InputInfo};

/// The `path` of arrays in a report's `input` block.
pub const ARRAYS_PATH: &str = "<arrays>";
/// The `format` of arrays in a report's `input` block.
pub const ARRAYS_FORMAT: &str = "arrays";

/// The `input` block of `rows` galaxies given as arrays: `path` [`ARRAYS_PATH`], `format`
/// [`ARRAYS_FORMAT`], no dropped rows, `columns` naming the Python arguments the values came
/// from (e.g. `z_spec`, `z_phot`, `ids`; `None` for a column not given), and no `sha256` (which
/// identifies a file's bytes).
pub fn arrays_input(rows: usize, columns: ColumnsUsed) -> InputInfo {
    let predictions = FileInfo {
        path: ARRAYS_PATH.to_string(),
        format: ARRAYS_FORMAT.to_string(),
        rows,
        dropped_invalid: 0,
        columns,
        sha256: String::new(),
    };
    InputInfo { predictions, truth: None }
}
