//! Data sets of many table files, read as one table in blocks (issue 19, out-of-core scoring): a
//! directory (walked recursively, so hive-partitioned layouts `key=value/part-0.parquet` too), a
//! glob pattern (`data/*.parquet`), or one file. The files are sorted by path and must all be
//! Parquet or all text, and pick the same columns; each is streamed by
//! [`stream_table`](crate::table::stream_table), so the columns, checks and messages are those of
//! [`read_table`](crate::table::read_table) and memory does not grow with the rows.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::pdf::{detect_pdf_file, PdfReadOptions};
use crate::sample::{point_requests, ColumnsUsed, FileInfo, InputInfo, SampleOptions};
use crate::table::{dropped_every_row, pick_columns, stream_table, Batch, ColumnRequest, Layout, ReadOptions, Role};
use crate::{Error, Result};

/// Names skipped in a data set: those starting with `.` (hidden files, `.crc` checksums) or `_`
/// (`_SUCCESS`, `_metadata`, `_common_metadata`, Spark's `_temporary`) — pyarrow's default.
const SKIPPED_PREFIXES: [char; 2] = ['.', '_'];

/// The characters that make a path that does not exist a glob pattern.
const GLOB_CHARACTERS: [char; 3] = ['*', '?', '['];

/// Whether `pzbench score` reads `path` as a data set: a directory, or a glob pattern (it holds
/// `*`, `?` or `[` and no such file exists).
pub fn is_dataset_path(path: &Path) -> bool {
    path.is_dir() || is_glob(path)
}

fn is_glob(path: &Path) -> bool {
    !path.exists() && path.to_string_lossy().contains(GLOB_CHARACTERS)
}

fn is_skipped(name: &OsStr) -> bool {
    name.to_string_lossy().starts_with(SKIPPED_PREFIXES)
}

/// The files of a data set, sorted by path: every file under a directory (recursively), every
/// file a glob pattern matches (and every file under a directory it matches), or `path` itself;
/// names starting with `.` or `_` are skipped. An error when there is none.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    let mut files = if path.is_dir() {
        walk(path)?
    } else if is_glob(path) {
        glob_files(path)?
    } else {
        return Ok(vec![path.to_path_buf()]);
    };
    if files.is_empty() {
        let what =
            if path.is_dir() { "no files in this directory or below it" } else { "no file matches this pattern" };
        return Err(Error::file(path, format!("{what} (names starting with '.' or '_' are skipped); check the path")));
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every file under `dir`, following links, skipping [`is_skipped`] names below it.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = WalkDir::new(dir).follow_links(true).into_iter();
    for entry in entries.filter_entry(|e| e.depth() == 0 || !is_skipped(e.file_name())) {
        let entry = entry.map_err(|e| {
            let at = e.path().unwrap_or(dir).to_path_buf();
            Error::file(at, format!("cannot read: {e}")).caused_by(e)
        })?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// The files `pattern` matches (a leading `.` only by a literal one), and those under the
/// directories it matches; [`is_skipped`] names left out.
fn glob_files(pattern: &Path) -> Result<Vec<PathBuf>> {
    let text = pattern.to_string_lossy();
    let options = glob::MatchOptions { require_literal_leading_dot: true, ..glob::MatchOptions::new() };
    let matches = glob::glob_with(&text[..], options)
        .map_err(|e| Error::file(pattern, format!("not a valid glob pattern: {e}")).caused_by(e))?;
    let mut files = Vec::new();
    for found in matches {
        let found = found.map_err(|e| {
            let message = format!("cannot read: {}", e.error());
            Error::file(e.path(), message).caused_by(e)
        })?;
        if found.file_name().is_some_and(is_skipped) {
            continue;
        }
        if found.is_dir() {
            files.extend(walk(&found)?);
        } else {
            files.push(found);
        }
    }
    Ok(files)
}

/// A data set of predictions files with their own z_spec, checked to be readable as one table:
/// its files ([`list_files`]) are all Parquet or all text, and pick the same columns.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The path as given: a directory, a glob pattern or one file.
    pub path: PathBuf,
    /// The files, sorted by path.
    pub files: Vec<PathBuf>,
    /// The columns read from every file, as `(role, name)`: the id if any, z_spec, z_phot.
    pub columns: Vec<(Role, String)>,
    /// How the files are laid out: [`Layout::describe`] when all share one layout, else "text"
    /// (text files split differently).
    layout: String,
    requests: [ColumnRequest; 3],
    read: ReadOptions,
    /// Rows kept and dropped in each file by the first [`Dataset::scan`]; later scans must agree.
    counts: Vec<Option<Scanned>>,
}

/// A file's layout and the columns picked in it ([`pick_columns`]).
type Picked = (Layout, Vec<(Role, String)>);

/// Rows kept and dropped by `--drop-invalid` in a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scanned {
    pub rows: usize,
    pub dropped_invalid: usize,
}

impl Dataset {
    /// The data set at `path` ([`list_files`]), its columns picked in every file from the header
    /// or schema (no row is read) as [`crate::sample::load_sample`] picks them. Errors: `--truth`
    /// (the files must hold z_spec), a file of PDFs, files of both kinds, or a file whose columns
    /// differ from the first file's.
    pub fn open(path: &Path, options: &SampleOptions) -> Result<Dataset> {
        if options.truth.is_some() {
            return Err(Error::usage(
                "--truth does not apply to a data set or --out-of-core: out-of-core scoring reads z_spec from the files; join first",
            ));
        }
        let files = list_files(path)?;
        let requests = point_requests(options);
        let mut first: Option<(&Path, Picked)> = None;
        let mut layouts_agree = true;
        let pdf_options = PdfReadOptions::from_sample(options);
        for file in &files {
            if detect_pdf_file(file, &pdf_options)?.is_some() {
                return Err(Error::file(
                    file,
                    "a file of redshift PDFs in a data set; out-of-core scoring reads point predictions (z_spec and z_phot columns), so score PDF files one at a time",
                ));
            }
            let (layout, columns) = pick_columns(file, &requests, &options.read)?;
            let Some((first_file, (first_layout, first_columns))) = &first else {
                first = Some((file, (layout, columns)));
                continue;
            };
            check_kind(file, layout, first_file, *first_layout)?;
            check_columns(file, &columns, first_file, first_columns)?;
            layouts_agree &= layout == *first_layout;
        }
        let Some((_, (layout, columns))) = first else {
            return Err(Error::file(path, "no files"));
        };
        Ok(Dataset {
            path: path.to_path_buf(),
            layout: if layouts_agree { layout.describe() } else { "text".into() },
            counts: vec![None; files.len()],
            files,
            columns,
            requests,
            read: options.read.clone(),
        })
    }

    /// How reports name the data set's format: e.g. `"parquet dataset (12 files)"`.
    pub fn format(&self) -> String {
        let n = self.files.len();
        format!("{} dataset ({n} file{})", self.layout, if n == 1 { "" } else { "s" })
    }

    /// Stream every file in order: `consume(batch, first_row)` gets each block of valid rows and
    /// the index of its first row among all the rows kept so far (files in order). Errors: any
    /// file's ([`stream_table`]: the file and row, or line, at fault), a file whose rows changed
    /// since the first scan, and a data set with no rows left.
    pub fn scan(&mut self, consume: &mut dyn FnMut(&Batch<'_>, usize) -> Result<()>) -> Result<Scanned> {
        let mut total = Scanned::default();
        for (file, count) in self.files.iter().zip(&mut self.counts) {
            let mut next_row = total.rows;
            let table = stream_table(file, &self.requests, &self.read, &mut |batch| {
                consume(&batch, next_row)?;
                next_row += batch.rows();
                Ok(())
            })?;
            let scanned = Scanned { rows: table.rows, dropped_invalid: table.dropped_invalid };
            check_unchanged(file, *count.get_or_insert(scanned), scanned)?;
            total.rows += scanned.rows;
            total.dropped_invalid += scanned.dropped_invalid;
        }
        if total.rows == 0 {
            if total.dropped_invalid > 0 {
                let names: Vec<&str> = self.columns.iter().map(|(_, name)| name.as_str()).collect();
                return Err(dropped_every_row(&self.path, total.dropped_invalid, &names));
            }
            return Err(Error::file(&self.path, "every file of the data set is empty; expected rows of galaxies"));
        }
        Ok(total)
    }

    /// The `input` block of a report on the rows `scanned`: the path as given, the format
    /// ([`Dataset::format`]), the counts and the columns; no SHA-256.
    pub fn input_info(&self, scanned: Scanned) -> InputInfo {
        let column = |role| self.columns.iter().find(|(r, _)| *r == role).map(|(_, name)| name.clone());
        InputInfo {
            predictions: FileInfo {
                path: self.path.display().to_string(),
                format: self.format(),
                rows: scanned.rows,
                dropped_invalid: scanned.dropped_invalid,
                columns: ColumnsUsed { id: column(Role::Id), z_spec: column(Role::ZSpec), z_phot: column(Role::ZPhot) },
                sha256: String::new(),
            },
            truth: None,
        }
    }
}

/// How messages name a layout's kind of file.
fn kind(layout: Layout) -> &'static str {
    match layout {
        Layout::Parquet => "Parquet",
        Layout::Text(_) => "text",
        Layout::GalaxiesMlHdf5 => "HDF5",
    }
}

/// `file` (laid out as `layout`) must be of the kind of the data set's first file.
fn check_kind(file: &Path, layout: Layout, first: &Path, first_layout: Layout) -> Result<()> {
    if kind(layout) == kind(first_layout) {
        return Ok(());
    }
    Err(Error::file(
        file,
        format!(
            "a {} file in a data set whose first file {} is {}; keep one kind of file (Parquet or text) per data set",
            kind(layout),
            first.display(),
            kind(first_layout)
        ),
    ))
}

/// `file` must pick the columns the data set's first file picks.
fn check_columns(
    file: &Path,
    columns: &[(Role, String)],
    first: &Path,
    first_columns: &[(Role, String)],
) -> Result<()> {
    let name_of = |columns: &[(Role, String)], role| columns.iter().find(|(r, _)| *r == role).map(|(_, n)| n.clone());
    for role in [Role::Id, Role::ZSpec, Role::ZPhot] {
        let (here, there) = (name_of(columns, role), name_of(first_columns, role));
        if here == there {
            continue;
        }
        let quoted = |name: Option<String>| name.map_or_else(|| "none".to_string(), |n| format!("'{n}'"));
        return Err(Error::file(
            file,
            format!(
                "its {} column is {} but that of the first file {} is {}; every file of a data set needs the same columns (name them with {})",
                role.name(),
                quoted(here),
                first.display(),
                quoted(there),
                role.flag()
            ),
        ));
    }
    Ok(())
}

/// A file must give the same rows in every pass over it.
fn check_unchanged(file: &Path, first: Scanned, now: Scanned) -> Result<()> {
    if first == now {
        return Ok(());
    }
    Err(Error::file(
        file,
        format!(
            "the file changed while it was scored ({} rows kept and {} dropped in the first pass, {} and {} now); score files that are not being written",
            first.rows, first.dropped_invalid, now.rows, now.dropped_invalid
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn write_parquet(path: &Path, ids: &[i64], z_spec: &[f64], z_phot: &[f64]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut frame = df!("object_id" => ids, "z_spec" => z_spec, "z_phot" => z_phot).unwrap();
        ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut frame).unwrap();
    }

    /// One batch of a scan: (first row, ids, z_spec, z_phot).
    type Rows = (usize, Vec<i64>, Vec<f64>, Vec<f64>);

    /// Every batch of a scan.
    fn scan_all(dataset: &mut Dataset) -> Result<(Scanned, Vec<Rows>)> {
        let mut batches = Vec::new();
        let scanned = dataset.scan(&mut |batch, first| {
            batches.push((
                first,
                batch.ids().map(<[i64]>::to_vec).unwrap_or_default(),
                batch.column(Role::ZSpec).unwrap().to_vec(),
                batch.column(Role::ZPhot).unwrap().to_vec(),
            ));
            Ok(())
        })?;
        Ok((scanned, batches))
    }

    #[test]
    fn a_hive_directory_is_walked_in_path_order_skipping_hidden_and_metadata_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_parquet(&root.join("year=2021/part-0.parquet"), &[5], &[0.5], &[0.6]);
        write_parquet(&root.join("year=2020/part-1.parquet"), &[3, 4], &[0.3, 0.4], &[0.35, 0.45]);
        write_parquet(&root.join("year=2020/part-0.parquet"), &[1, 2], &[0.1, 0.2], &[0.15, 0.25]);
        for skipped in ["_SUCCESS", "_metadata", "_common_metadata", ".part-0.parquet.crc", "year=2020/_SUCCESS"] {
            std::fs::write(root.join(skipped), "not a table").unwrap();
        }
        std::fs::create_dir_all(root.join("_temporary/0")).unwrap();
        std::fs::write(root.join("_temporary/0/part-9.parquet"), "half written").unwrap();
        let files = list_files(root).unwrap();
        let relative: Vec<PathBuf> = files.iter().map(|f| f.strip_prefix(root).unwrap().to_path_buf()).collect();
        assert_eq!(
            relative,
            ["year=2020/part-0.parquet", "year=2020/part-1.parquet", "year=2021/part-0.parquet"].map(PathBuf::from)
        );
        let mut dataset = Dataset::open(root, &SampleOptions::default()).unwrap();
        assert_eq!(dataset.format(), "parquet dataset (3 files)");
        let (scanned, batches) = scan_all(&mut dataset).unwrap();
        assert_eq!(scanned, Scanned { rows: 5, dropped_invalid: 0 });
        let firsts: Vec<usize> = batches.iter().map(|b| b.0).collect();
        assert_eq!(firsts, [0, 2, 4]);
        let ids: Vec<i64> = batches.iter().flat_map(|b| b.1.clone()).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        let info = dataset.input_info(scanned);
        assert_eq!(info.predictions.columns.id.as_deref(), Some("object_id"));
        assert_eq!((info.predictions.rows, info.predictions.sha256.as_str()), (5, ""));
    }

    #[test]
    fn a_glob_reads_matching_files_and_names_rows_within_each_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("preds_b.csv"), "z_spec,z_phot\n0.3,0.31\n0.4,nan\n").unwrap();
        std::fs::write(dir.path().join("preds_a.csv"), "z_spec,z_phot\n0.1,0.11\n\n0.2,0.21\n").unwrap();
        std::fs::write(dir.path().join("other.csv"), "z_spec,z_phot\n9,9\n").unwrap();
        let pattern = dir.path().join("preds_*.csv");
        assert!(is_dataset_path(&pattern) && is_dataset_path(dir.path()));
        assert!(!is_dataset_path(&dir.path().join("other.csv")));
        let mut dataset = Dataset::open(&pattern, &SampleOptions::default()).unwrap();
        assert_eq!(dataset.format(), "','-separated dataset (2 files)");
        let err = scan_all(&mut dataset).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "preds_b.csv: line 3, column 'z_phot' is NaN; fix the row, or pass --drop-invalid to drop such rows"
            ),
            "{err}"
        );
        let options = SampleOptions {
            read: ReadOptions { drop_invalid: true, ..ReadOptions::default() },
            ..SampleOptions::default()
        };
        let mut dataset = Dataset::open(&pattern, &options).unwrap();
        let (scanned, batches) = scan_all(&mut dataset).unwrap();
        assert_eq!(scanned, Scanned { rows: 3, dropped_invalid: 1 });
        let z_phot: Vec<f64> = batches.iter().flat_map(|b| b.3.clone()).collect();
        assert_eq!(z_phot, [0.11, 0.21, 0.31]);
        // A second scan must see the same rows.
        std::fs::write(dir.path().join("preds_b.csv"), "z_spec,z_phot\n0.3,0.31\n0.4,0.41\n").unwrap();
        let err = scan_all(&mut dataset).unwrap_err().to_string();
        assert!(err.contains("preds_b.csv: the file changed while it was scored (1 rows kept and 1 dropped in the first pass, 2 and 0 now)"), "{err}");
    }

    #[test]
    fn empty_files_are_empty_partitions_but_a_data_set_needs_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "z_spec,z_phot\n").unwrap();
        std::fs::write(dir.path().join("b.csv"), "z_spec,z_phot\n0.1,0.2\n").unwrap();
        let mut dataset = Dataset::open(dir.path(), &SampleOptions::default()).unwrap();
        assert_eq!(scan_all(&mut dataset).unwrap().0.rows, 1);
        std::fs::write(dir.path().join("b.csv"), "z_spec,z_phot\n0.1,inf\n").unwrap();
        let options = SampleOptions {
            read: ReadOptions { drop_invalid: true, ..ReadOptions::default() },
            ..SampleOptions::default()
        };
        let mut dataset = Dataset::open(dir.path(), &options).unwrap();
        let err = scan_all(&mut dataset).unwrap_err().to_string();
        assert!(
            err.contains(
                "--drop-invalid dropped every row (1): each has a NaN, infinite or empty value in 'z_spec', 'z_phot'"
            ),
            "{err}"
        );
        std::fs::write(dir.path().join("b.csv"), "z_spec,z_phot\n").unwrap();
        let mut dataset = Dataset::open(dir.path(), &options).unwrap();
        let err = scan_all(&mut dataset).unwrap_err().to_string();
        assert!(err.contains("every file of the data set is empty"), "{err}");
    }

    #[test]
    fn files_of_two_kinds_or_with_other_columns_are_refused_before_reading_rows() {
        let dir = tempfile::tempdir().unwrap();
        let options = SampleOptions::default();
        write_parquet(&dir.path().join("a.parquet"), &[1], &[0.1], &[0.2]);
        std::fs::write(dir.path().join("b.csv"), "object_id,z_spec,z_phot\n2,0.1,0.2\n").unwrap();
        let err = Dataset::open(dir.path(), &options).unwrap_err().to_string();
        assert!(
            err.contains("b.csv: a text file in a data set whose first file") && err.contains("a.parquet is Parquet"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("a.parquet")).unwrap();
        std::fs::write(dir.path().join("c.csv"), "object_id,z_spec,photoz\n3,0.1,0.2\n").unwrap();
        std::fs::write(dir.path().join("d.csv"), "object_id,z_spec\n4,0.1\n").unwrap();
        let err = Dataset::open(dir.path(), &options).unwrap_err().to_string();
        assert!(
            err.contains("c.csv: its z_phot column is 'photoz' but that of the first file")
                && err.contains(
                    "b.csv is 'z_phot'; every file of a data set needs the same columns (name them with --zphot-col)"
                ),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("c.csv")).unwrap();
        let err = Dataset::open(dir.path(), &options).unwrap_err().to_string();
        assert!(err.contains("d.csv: no z_phot column (looked for"), "{err}");
        std::fs::write(dir.path().join("d.csv"), "z_spec,z_phot\n0.1,0.3\n").unwrap();
        let err = Dataset::open(dir.path(), &options).unwrap_err().to_string();
        assert!(err.contains("d.csv: its object_id column is none but that of the first file"), "{err}");
        let truth = SampleOptions { truth: Some(dir.path().join("b.csv")), ..SampleOptions::default() };
        let err = Dataset::open(dir.path(), &truth).unwrap_err().to_string();
        assert!(err.contains("out-of-core scoring reads z_spec from the files; join first"), "{err}");
    }

    #[test]
    fn no_files_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("_SUCCESS"), "").unwrap();
        let err = list_files(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "no files in this directory or below it (names starting with '.' or '_' are skipped); check the path"
            ),
            "{err}"
        );
        let pattern = dir.path().join("*.parquet");
        let err = list_files(&pattern).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: no file matches this pattern", pattern.display())), "{err}");
    }
}
