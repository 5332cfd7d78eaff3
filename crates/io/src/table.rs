//! Reading predictions and truth catalogues: CSV, TSV, whitespace-separated text and Parquet.
//!
//! Text files are read by a reader thread (which also hashes them) in blocks of whole lines of
//! about [`BLOCK_BYTES`]; each block is parsed in parallel by a plain-number parser, or by polars
//! when it holds quotes or bad cells, so peak memory is a few blocks plus the columns kept,
//! whatever the file size. Only the columns asked for are kept (an id, z_spec, z_phot, named
//! magnitudes). Every failure names the file, the line (text) or row (Parquet), the column and
//! what to do. `score`, `train`, `predict` and every other command that reads a table read it
//! here, so they accept the same formats and say the same things about bad input.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::hex;
use crate::{encoding, Error, Result};

/// Size of the text blocks handed to polars.
pub const BLOCK_BYTES: usize = 8 << 20;

/// What a column holds, and so how it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Integer galaxy identifiers.
    Id,
    /// Spectroscopic (true) redshift: must be finite and > -1.
    ZSpec,
    /// Photometric (predicted) redshift: must be finite.
    ZPhot,
    /// A magnitude column named by the caller (`train --bands`): must be finite; a non-detection
    /// is a finite sentinel such as 99.
    Magnitude,
}

impl Role {
    /// The name used in messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Role::Id => "object_id",
            Role::ZSpec => "z_spec",
            Role::ZPhot => "z_phot",
            Role::Magnitude => "magnitude",
        }
    }

    /// The flag that names this column explicitly.
    pub fn flag(self) -> &'static str {
        match self {
            Role::Id => "--id-col",
            Role::ZSpec => "--zspec-col",
            Role::ZPhot => "--zphot-col",
            Role::Magnitude => "--bands",
        }
    }

    /// Column names recognised without a flag (case-insensitive).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Role::Id => &["object_id", "id"],
            Role::ZSpec => &["z_spec", "zspec", "specz_redshift", "spect_z_test", "redshift"],
            Role::ZPhot => &["z_phot", "zphot", "photoz", "photo_z_test", "z_pred"],
            Role::Magnitude => &[],
        }
    }
}

/// One column to read.
#[derive(Debug, Clone)]
pub struct ColumnRequest {
    pub role: Role,
    /// The name given by the user's flag, if any.
    pub name: Option<String>,
    /// Whether a missing column is an error (otherwise it is simply absent from the result).
    pub required: bool,
}

impl ColumnRequest {
    /// The magnitude column called `name` (required; [`Table::magnitudes`] holds the values in
    /// the order of the requests).
    pub fn magnitude(name: impl Into<String>) -> Self {
        ColumnRequest { role: Role::Magnitude, name: Some(name.into()), required: true }
    }
}

/// How to split text lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// A single byte: `,`, tab, `;`, `|`.
    Byte(u8),
    /// Runs of spaces and tabs (e.g. `photo_z_test spect_z_test …` catalogues).
    Whitespace,
}

impl Delimiter {
    /// Parse `--delimiter`: `,` `;` `|` `tab` (or `\t`) `whitespace` (or `space`).
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "," | ";" | "|" => Ok(Delimiter::Byte(text.as_bytes()[0])),
            "tab" | "\\t" | "\t" => Ok(Delimiter::Byte(b'\t')),
            "whitespace" | "space" | " " => Ok(Delimiter::Whitespace),
            other => {
                Err(Error::usage(format!("--delimiter '{other}' is not supported; use one of , ; | tab whitespace")))
            }
        }
    }

    /// Guess from the header line: tab, then comma, then semicolon, then whitespace.
    pub fn detect(header: &str) -> Self {
        if header.contains('\t') {
            Delimiter::Byte(b'\t')
        } else if header.contains(',') {
            Delimiter::Byte(b',')
        } else if header.contains(';') {
            Delimiter::Byte(b';')
        } else if header.trim().contains(' ') {
            Delimiter::Whitespace
        } else {
            Delimiter::Byte(b',')
        }
    }

    /// How messages and reports name text split this way: `"','-separated"`, `"tab-separated"`,
    /// `"whitespace-separated"`.
    pub fn describe(self) -> String {
        match self {
            Delimiter::Byte(b'\t') => "tab-separated".into(),
            Delimiter::Byte(b) => format!("'{}'-separated", b as char),
            Delimiter::Whitespace => "whitespace-separated".into(),
        }
    }

    fn split<'a>(self, line: &'a str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        match self {
            Delimiter::Byte(b) => Box::new(line.split(b as char)),
            Delimiter::Whitespace => Box::new(line.split_whitespace()),
        }
    }
}

/// Options for [`read_table`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Force a delimiter instead of detecting it (text files only).
    pub delimiter: Option<Delimiter>,
    /// Drop rows with NaN, infinite or empty values instead of failing (the count is reported).
    pub drop_invalid: bool,
}

/// A column as read: its name in the file and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedColumn<T> {
    pub name: String,
    pub values: Vec<T>,
}

/// How a table's file was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Text split by this delimiter (given or detected).
    Text(Delimiter),
    /// Apache Parquet.
    Parquet,
    /// A GalaxiesML HDF5 file (a truth catalogue: [`crate::sample`]).
    GalaxiesMlHdf5,
}

impl Layout {
    /// How reports name it ([`Table::format`]): `"parquet"`, `"GalaxiesML HDF5"`, or the text
    /// delimiter's [`Delimiter::describe`].
    pub fn describe(self) -> String {
        match self {
            Layout::Text(delimiter) => delimiter.describe(),
            Layout::Parquet => "parquet".into(),
            Layout::GalaxiesMlHdf5 => "GalaxiesML HDF5".into(),
        }
    }
}

/// The requested columns of one file.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    /// [`Layout::describe`] of `layout`: `"parquet"` or a description of the text layout, e.g.
    /// `"','-separated"`.
    pub format: String,
    pub layout: Layout,
    pub id: Option<NamedColumn<i64>>,
    pub z_spec: Option<NamedColumn<f64>>,
    pub z_phot: Option<NamedColumn<f64>>,
    /// The [`Role::Magnitude`] columns, in the order they were requested.
    pub magnitudes: Vec<NamedColumn<f64>>,
    /// Rows kept.
    pub rows: usize,
    /// Rows dropped by `--drop-invalid`.
    pub dropped_invalid: usize,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// What the caller's named ([`Role::Magnitude`]) columns hold, which decides what a message about
/// a missing or non-finite value in one of them says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamedColumns {
    /// Magnitudes (`train --bands`): a non-detection is a sentinel such as 99, never empty.
    #[default]
    Magnitudes,
    /// PDF parameters (`docs/PDF_METRICS.md` §1.3: `w_k`, `mu_k`, `sigma_k`, `pdf_k`, `s_k`) and
    /// grid nodes: a bad value is named like a bad redshift.
    PdfParameters,
}

/// Text blocks of PDF tables: they have hundreds of columns, so a block's parsed numbers take
/// more room than its text (a grid's `0.0` cells are 4 bytes of text, 8 of number), and each
/// block read ahead holds both; 4 MB blocks halve that (a 301-node grid CSV of 100,000 galaxies,
/// 145 MiB: peak 301 MiB with 8 MB blocks, 277 MiB with 4 MB, 261 MiB with 2 MB but 16 % slower).
pub const PDF_BLOCK_BYTES: usize = 4 << 20;

impl NamedColumns {
    /// Bytes of text read and parsed at a time.
    fn block_bytes(self) -> usize {
        match self {
            NamedColumns::Magnitudes => BLOCK_BYTES,
            NamedColumns::PdfParameters => PDF_BLOCK_BYTES,
        }
    }
}

/// Read the requested columns of a CSV/TSV/text or Parquet file: Parquet by its magic bytes or
/// the extension `.parquet`/`.pq`, anything else as text split by `options.delimiter` or the
/// delimiter detected from the header line.
pub fn read_table(path: &Path, requests: &[ColumnRequest], options: &ReadOptions) -> Result<Table> {
    read_table_with(path, requests, options, NamedColumns::Magnitudes)
}

/// [`read_table`], saying what the named columns hold (`named`) in the messages about bad values.
pub fn read_table_with(
    path: &Path,
    requests: &[ColumnRequest],
    options: &ReadOptions,
    named: NamedColumns,
) -> Result<Table> {
    let builder = read_rows(path, requests, options, named, &mut Rows::Keep)?;
    builder.check_duplicate_ids(path)?;
    if builder.rows() == 0 {
        // Only --drop-invalid can leave nothing (a file without rows is refused while read).
        let names: Vec<&str> = builder.columns.iter().map(|c| c.name.as_str()).collect();
        return Err(dropped_every_row(path, builder.dropped_invalid, &names));
    }
    Ok(builder.finish(path))
}

/// The error when `--drop-invalid` dropped all `dropped` rows of `path`, read in the columns `names`.
pub(crate) fn dropped_every_row(path: &Path, dropped: usize, names: &[&str]) -> Error {
    let used: Vec<String> = names.iter().map(|name| format!("'{name}'")).collect();
    Error::file(
        path,
        format!(
            "--drop-invalid dropped every row ({dropped}): each has a NaN, infinite or empty value in {}; check that these are the right columns",
            used.join(", ")
        ),
    )
}

/// [`read_table`] without keeping the rows: each block of valid rows (about [`BLOCK_BYTES`] of
/// text, or [`PARQUET_SLICE_ROWS`] Parquet rows) goes to `consume` and is dropped, so memory does
/// not grow with the file (issue 19's out-of-core scoring). The same columns, checks and messages
/// as [`read_table`], but for three things that need the whole file: ids are not checked for
/// duplicates, the file is not hashed (`sha256` is empty), and a file without rows is no error (an
/// empty partition of a data set). The [`Table`] returned holds the columns' names and the counts
/// of rows kept and dropped, and no values.
pub fn stream_table(
    path: &Path,
    requests: &[ColumnRequest],
    options: &ReadOptions,
    consume: &mut dyn FnMut(Batch<'_>) -> Result<()>,
) -> Result<Table> {
    let builder = read_rows(path, requests, options, NamedColumns::Magnitudes, &mut Rows::Stream(consume))?;
    Ok(builder.finish(path))
}

/// One block of valid rows handed to [`stream_table`]'s consumer.
#[derive(Debug)]
pub struct Batch<'a> {
    ids: Option<&'a [i64]>,
    /// Every column but the id, by role.
    floats: Vec<(Role, &'a [f64])>,
}

impl<'a> Batch<'a> {
    /// The id column's values, when an id column is read.
    pub fn ids(&self) -> Option<&'a [i64]> {
        self.ids
    }

    /// The values of the (first) column read for `role`, if any.
    pub fn column(&self, role: Role) -> Option<&'a [f64]> {
        self.floats.iter().find(|(r, _)| *r == role).map(|(_, values)| *values)
    }

    /// Rows in the block.
    pub fn rows(&self) -> usize {
        self.floats.first().map_or_else(|| self.ids.map_or(0, <[i64]>::len), |(_, values)| values.len())
    }
}

/// Where a reader puts the rows it validated.
enum Rows<'a> {
    /// In the [`Builder`], for a [`Table`] ([`read_table`]).
    Keep,
    /// Handed to the consumer block by block, then dropped ([`stream_table`]).
    Stream(&'a mut dyn FnMut(Batch<'_>) -> Result<()>),
}

impl Rows<'_> {
    fn keep(&self) -> bool {
        matches!(self, Rows::Keep)
    }
}

/// Read the requested columns of a table file into a [`Builder`] (Parquet or text, as
/// [`read_table`] decides), its rows going where `rows` says.
fn read_rows(
    path: &Path,
    requests: &[ColumnRequest],
    options: &ReadOptions,
    named: NamedColumns,
    rows: &mut Rows<'_>,
) -> Result<Builder> {
    if is_parquet(path)? {
        read_parquet(path, requests, options, named, rows)
    } else {
        read_text(path, open(path)?, requests, options, named, rows)
    }
}

/// The columns `requests` pick in a table file, as `(role, name)` in the order of the requests,
/// and its layout, from the header line (text) or the schema (Parquet) alone: no row is read. The
/// errors are [`read_table`]'s about columns.
pub fn pick_columns(
    path: &Path,
    requests: &[ColumnRequest],
    options: &ReadOptions,
) -> Result<(Layout, Vec<(Role, String)>)> {
    let (layout, header) = header_of(path, options)?;
    let resolved = resolve_columns(path, &header, requests)?;
    Ok((layout, resolved.into_iter().map(|c| (c.role, c.name)).collect()))
}

/// The column names of a table file, as [`read_table`] sees them, from the header line (text) or
/// the schema (Parquet) alone: no row is read.
pub fn column_names(path: &Path, options: &ReadOptions) -> Result<Vec<String>> {
    Ok(header_of(path, options)?.1)
}

/// A table file's layout and column names ([`column_names`]).
fn header_of(path: &Path, options: &ReadOptions) -> Result<(Layout, Vec<String>)> {
    if is_parquet(path)? {
        let corrupt = |e: PolarsError| {
            Error::file(path, format!("not a readable Parquet file (truncated or corrupt?): {e}")).caused_by(e)
        };
        let mut reader = ParquetReader::new(open(path)?);
        let schema = decoding(|| reader.schema()).map_err(corrupt)?;
        return Ok((Layout::Parquet, schema.iter_names().map(|n| n.to_string()).collect()));
    }
    let mut head = Vec::new();
    let read = open(path)?.take(HEADER_LIMIT as u64).read_to_end(&mut head);
    read.map_err(|e| Error::file(path, format!("cannot read: {e}")).caused_by(e))?;
    if head.is_empty() {
        return Err(Error::file(path, "the file is empty; expected a header line and one row per galaxy"));
    }
    if head.len() == HEADER_LIMIT && !head.contains(&b'\n') {
        return Err(Error::file(
            path,
            format!("line 1 (the header) is longer than {HEADER_LIMIT} bytes; is this a table?"),
        ));
    }
    let header = parse_header(path, &head, options)?;
    Ok((Layout::Text(header.delimiter), header.names))
}

/// The most bytes [`column_names`] reads looking for the end of the header line.
const HEADER_LIMIT: usize = 16 << 20;

/// Whether `path` is read as Parquet: by its magic bytes `PAR1` or the extension `.parquet`/`.pq`.
/// An empty file is refused.
fn is_parquet(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 4];
    let n_magic = read_up_to(&mut open(path)?, &mut magic)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")).caused_by(e))?;
    if n_magic == 0 {
        return Err(Error::file(path, "the file is empty; expected a header line and one row per galaxy"));
    }
    Ok(&magic[..n_magic] == b"PAR1"
        || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq")))
}

/// The header line of a text file: the column names, the delimiter and where the line ends.
struct Header {
    names: Vec<String>,
    delimiter: Delimiter,
    /// Offset of the header's line end (or of the end of `block`) in the block it was read from.
    end: usize,
}

/// Parse the header, the first line of `block` (the start of the file). A leading '#' (commented
/// header) is allowed, and so is a UTF-8 byte-order mark before it (Excel's "CSV UTF-8",
/// Notepad), which is not part of the first column's name. UTF-16/UTF-32 text is named, with the
/// fix.
fn parse_header(path: &Path, block: &[u8], options: &ReadOptions) -> Result<Header> {
    encoding::check_not_wide(path, block)?;
    let bom = if block.starts_with(encoding::UTF8_BOM) { encoding::UTF8_BOM.len() } else { 0 };
    let end = memchr::memchr(b'\n', &block[bom..]).map_or(block.len(), |p| bom + p);
    let line = std::str::from_utf8(&block[bom..end])
        .map_err(|_| {
            Error::file(
                path,
                "line 1 (the header) is not UTF-8 text; save the file as UTF-8 (or, if it is Parquet, name it .parquet)",
            )
        })?
        .trim_end_matches('\r')
        .trim_start_matches('#')
        .trim();
    if line.is_empty() {
        return Err(Error::file(path, "line 1 is empty; expected a header naming the columns"));
    }
    let delimiter = options.delimiter.unwrap_or_else(|| Delimiter::detect(line));
    let names = delimiter.split(line).map(|h| h.trim().trim_matches('"').to_string()).collect();
    Ok(Header { names, delimiter, end })
}

/// Open `path` for reading; the error names the file and keeps the cause.
fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")).caused_by(e))
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Append `pieces` to `column` in order, copying them in parallel.
fn extend_parallel<T: Copy + Send + Sync>(column: &mut Vec<T>, pieces: Vec<&[T]>) {
    use rayon::prelude::*;
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    column.reserve(total);
    let mut rest = &mut column.spare_capacity_mut()[..total];
    let mut slots = Vec::with_capacity(pieces.len());
    for piece in &pieces {
        let (slot, tail) = std::mem::take(&mut rest).split_at_mut(piece.len());
        slots.push(slot);
        rest = tail;
    }
    slots.into_par_iter().zip(pieces).for_each(|(slot, piece)| {
        for (to, &from) in slot.iter_mut().zip(piece) {
            to.write(from);
        }
    });
    let len = column.len() + total;
    // SAFETY: the `total` values after the old length were all written just above.
    unsafe { column.set_len(len) };
}

/// Reserve room for `additional` more values and touch one value per page of it, in parallel, so
/// that the page faults of a large column (80 MB for 10 million values) are taken on all cores
/// now rather than one by one while the blocks are appended.
fn reserve_mapped<T: Copy + Default + Send>(column: &mut Vec<T>, additional: usize) {
    use rayon::prelude::*;
    column.reserve(additional);
    let per_page = (4096 / std::mem::size_of::<T>()).max(1);
    column.spare_capacity_mut().par_chunks_mut(per_page * 256).for_each(|chunk| {
        chunk.iter_mut().step_by(per_page).for_each(|value| {
            value.write(T::default());
        });
    });
}

/// Which file column serves each request.
#[derive(Debug, Clone)]
struct Resolved {
    role: Role,
    /// Position of the column in the file.
    index: usize,
    name: String,
    /// Position of the request in the caller's list.
    request: usize,
}

/// The file column of every request (absent optional ones left out). All the magnitude columns
/// that the header lacks are named in one message.
fn resolve_columns(path: &Path, header: &[String], requests: &[ColumnRequest]) -> Result<Vec<Resolved>> {
    let listing = || header.join(", ");
    let missing: Vec<String> = requests
        .iter()
        .filter(|r| r.role == Role::Magnitude)
        .filter_map(|r| r.name.as_ref().filter(|name| !header.contains(name)))
        .map(|name| format!("'{name}'"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::file(
            path,
            format!(
                "no column {} (named by {}); the columns are: {}",
                missing.join(", "),
                Role::Magnitude.flag(),
                listing()
            ),
        ));
    }
    let mut resolved: Vec<Resolved> = Vec::new();
    for (position, request) in requests.iter().enumerate() {
        let role = request.role;
        let found = match &request.name {
            Some(name) => match header.iter().position(|h| h == name) {
                Some(index) => Some(index),
                None => {
                    return Err(Error::file(
                        path,
                        format!("no column '{name}' ({}); the columns are: {}", role.flag(), listing()),
                    ))
                }
            },
            None => {
                let matches: Vec<usize> = (0..header.len())
                    .filter(|&i| role.aliases().iter().any(|a| header[i].eq_ignore_ascii_case(a)))
                    .collect();
                match matches.as_slice() {
                    [] => None,
                    [one] => Some(*one),
                    [a, b, ..] => {
                        return Err(Error::file(
                            path,
                            format!(
                                "ambiguous {} column: both '{}' and '{}' match; choose one with {}",
                                role.name(),
                                header[*a],
                                header[*b],
                                role.flag()
                            ),
                        ))
                    }
                }
            }
        };
        // An optional column found by its usual names but taken already (e.g. a magnitude named
        // `redshift`) is absent rather than read twice.
        let taken = |index: &usize| resolved.iter().any(|r| r.index == *index);
        let found = found.filter(|index| request.name.is_some() || request.required || !taken(index));
        match found {
            Some(index) => {
                if let Some(other) = resolved.iter().find(|r| r.index == index) {
                    return Err(Error::file(
                        path,
                        format!(
                            "column '{}' cannot be both the {} and the {} column; name another one with {}",
                            header[index],
                            other.role.name(),
                            role.name(),
                            role.flag()
                        ),
                    ));
                }
                resolved.push(Resolved { role, index, name: header[index].clone(), request: position })
            }
            None if request.required => {
                return Err(Error::file(
                    path,
                    format!(
                        "no {} column (looked for {}); name it with {} (the columns are: {})",
                        role.name(),
                        role.aliases().join(", "),
                        role.flag(),
                        listing()
                    ),
                ))
            }
            None => {}
        }
    }
    Ok(resolved)
}

/// Columns accumulated block by block.
struct Builder {
    /// The columns read, in file order.
    columns: Vec<Resolved>,
    layout: Layout,
    ids: Vec<i64>,
    /// The values of every column but the id, in the order of `columns`.
    floats: Vec<Vec<f64>>,
    dropped_invalid: usize,
    /// Rows kept and handed over already ([`Builder::hand_over`]).
    handed_over: usize,
    /// SHA-256 of the file, once read.
    sha256: Option<String>,
    /// `line_of(row)` for error messages: how a row index maps to a line/row label.
    row_labels: RowLabels,
    /// What the [`Role::Magnitude`] columns hold, for the messages about bad values.
    named: NamedColumns,
}

/// How rows are named in messages: text files by line number, Parquet by row number.
#[derive(Debug, Clone, Copy)]
enum RowLabels {
    Lines,
    Rows,
}

impl Builder {
    fn new(columns: Vec<Resolved>, layout: Layout, row_labels: RowLabels, named: NamedColumns) -> Self {
        let floats = vec![Vec::new(); columns.iter().filter(|c| c.role != Role::Id).count()];
        Builder {
            columns,
            layout,
            ids: Vec::new(),
            floats,
            dropped_invalid: 0,
            handed_over: 0,
            sha256: None,
            row_labels,
            named,
        }
    }

    /// When `rows` streams: hand the rows held to its consumer, and drop them.
    fn hand_over(&mut self, rows: &mut Rows<'_>) -> Result<()> {
        let Rows::Stream(consume) = rows else {
            return Ok(());
        };
        let held = self.held();
        if held > 0 {
            let has_ids = self.columns.iter().any(|c| c.role == Role::Id);
            let floats = self.float_columns().map(|c| c.role).zip(self.floats.iter().map(|v| &v[..])).collect();
            consume(Batch { ids: has_ids.then_some(&self.ids[..]), floats })?;
        }
        self.handed_over += held;
        self.ids.clear();
        self.floats.iter_mut().for_each(Vec::clear);
        Ok(())
    }

    /// The columns held in `floats`, in order.
    fn float_columns(&self) -> impl Iterator<Item = &Resolved> {
        self.columns.iter().filter(|c| c.role != Role::Id)
    }

    fn label(&self, n: usize) -> String {
        match self.row_labels {
            RowLabels::Lines => format!("line {n}"),
            RowLabels::Rows => format!("row {n}"),
        }
    }

    /// Append one block parsed by polars. `label_of` maps a row index within the block to its
    /// line/row number (used on error paths only).
    fn append(
        &mut self,
        path: &Path,
        frame: &DataFrame,
        label_of: &dyn Fn(usize) -> usize,
        drop_invalid: bool,
    ) -> Result<()> {
        // polars does not check that a damaged Parquet file's column chunks hold as many values as
        // their row group's rows: columns of different lengths would pair ids with the wrong
        // redshifts (found by pzbench-fuzz).
        let lengths: Vec<usize> = frame.columns().iter().map(|c| c.len()).collect();
        if lengths.len() != self.columns.len() || lengths.iter().any(|&n| n != lengths[0]) {
            let names: Vec<String> =
                self.columns.iter().zip(&lengths).map(|(c, n)| format!("'{}' {n}", c.name)).collect();
            return Err(Error::file(
                path,
                format!(
                    "from {}, the columns read have different lengths ({}): the file is damaged; re-export it",
                    self.label(label_of(0)),
                    names.join(", ")
                ),
            ));
        }
        let mut ids: Option<(Vec<i64>, Option<Vec<bool>>)> = None;
        let mut floats: Vec<(Role, Vec<f64>, Option<Vec<bool>>)> = Vec::new();
        for (position, column) in self.columns.iter().enumerate() {
            let series = frame.columns()[position].as_materialized_series();
            let validity = (series.null_count() > 0)
                .then(|| series.is_not_null().downcast_iter().flat_map(|a| a.values().iter()).collect());
            match column.role {
                Role::Id => {
                    let casted = series.strict_cast(&DataType::Int64).map_err(|_| {
                        Error::file(path, format!("column '{}' ({}) must hold integers", column.name, Role::Id.name()))
                    })?;
                    let chunked = casted
                        .i64()
                        .map_err(|e| Error::file(path, format!("column '{}': {e}", column.name)).caused_by(e))?;
                    let values = chunked.downcast_iter().flat_map(|a| a.values().iter().copied()).collect();
                    ids = Some((values, validity));
                }
                role => {
                    let casted = series.cast(&DataType::Float64).map_err(|e| {
                        Error::file(path, format!("column '{}' is not numeric: {e}", column.name)).caused_by(e)
                    })?;
                    let chunked = casted
                        .f64()
                        .map_err(|e| Error::file(path, format!("column '{}': {e}", column.name)).caused_by(e))?;
                    let values = chunked.downcast_iter().flat_map(|a| a.values().iter().copied()).collect();
                    floats.push((role, values, validity));
                }
            }
        }
        let ids = ids.as_ref().map(|(values, validity)| (&values[..], validity.as_deref()));
        let floats: Vec<BlockColumn<'_>> =
            floats.iter().map(|(role, values, validity)| (*role, &values[..], validity.as_deref())).collect();
        self.append_columns(path, ids, &floats, label_of, drop_invalid)
    }

    /// Append the parts the fast parser read (already checked: finite, z_spec > -1), copying
    /// them in parallel.
    fn append_plain(&mut self, parts: &[PlainColumns]) {
        if parts.iter().all(|p| p.ids.is_some()) {
            extend_parallel(&mut self.ids, parts.iter().filter_map(|p| p.ids.as_deref()).collect());
        }
        for (k, target) in self.floats.iter_mut().enumerate() {
            extend_parallel(target, parts.iter().map(|p| &p.floats[k].1[..]).collect());
        }
    }

    /// Validate and append one block's columns (`floats` in the order of `self.columns`).
    fn append_columns(
        &mut self,
        path: &Path,
        ids: Option<(&[i64], Option<&[bool]>)>,
        floats: &[BlockColumn<'_>],
        label_of: &dyn Fn(usize) -> usize,
        drop_invalid: bool,
    ) -> Result<()> {
        let keep = self.validate(path, ids, floats, label_of, drop_invalid)?;
        let kept = |row: &usize| keep.as_ref().is_none_or(|k| k[*row]);
        if let Some(keep) = &keep {
            self.dropped_invalid += keep.iter().filter(|k| !**k).count();
        }
        if let Some((values, _)) = ids {
            match &keep {
                None => self.ids.extend_from_slice(values),
                Some(_) => self.ids.extend(values.iter().enumerate().filter(|(r, _)| kept(r)).map(|(_, v)| *v)),
            }
        }
        for (&(_, values, _), target) in floats.iter().zip(&mut self.floats) {
            match &keep {
                None => target.extend_from_slice(values),
                Some(_) => target.extend(values.iter().enumerate().filter(|(r, _)| kept(r)).map(|(_, v)| *v)),
            }
        }
        Ok(())
    }

    /// Check a block's values: empty cells, NaN/inf, z_spec <= -1. Returns `None` when every row
    /// is valid (the fast path), or the rows to keep under `--drop-invalid`; fails on the first
    /// bad row otherwise.
    fn validate(
        &self,
        path: &Path,
        ids: Option<(&[i64], Option<&[bool]>)>,
        floats: &[BlockColumn<'_>],
        label_of: &dyn Fn(usize) -> usize,
        drop_invalid: bool,
    ) -> Result<Option<Vec<bool>>> {
        let all_valid = floats.iter().all(|(role, values, validity)| {
            validity.is_none() && values.iter().all(|v| v.is_finite() && (*role != Role::ZSpec || *v > -1.0))
        }) && ids.as_ref().is_none_or(|(_, validity)| validity.is_none());
        if all_valid {
            return Ok(None);
        }
        let height = floats.first().map_or_else(|| ids.as_ref().map_or(0, |(v, _)| v.len()), |f| f.1.len());
        let mut keep = vec![true; height];
        for ((role, values, validity), column) in floats.iter().zip(self.float_columns()) {
            let name = &column.name;
            for (row, v) in values.iter().enumerate() {
                let empty = validity.as_ref().is_some_and(|m| !m[row]);
                let magnitude = *role == Role::Magnitude && self.named == NamedColumns::Magnitudes;
                let problem = if magnitude && (empty || !v.is_finite()) {
                    // A magnitude is never missing: an undetected band has a sentinel value.
                    let what = match (empty, self.row_labels) {
                        (true, RowLabels::Lines) => ": '' is not a number".to_string(),
                        (true, RowLabels::Rows) => " is empty (null)".to_string(),
                        (false, _) => format!(" is {v}"),
                    };
                    if !drop_invalid {
                        return Err(Error::file(
                            path,
                            format!(
                                "{}, column '{name}'{what}; magnitudes must be numbers (mark a non-detection with a sentinel such as 99, fix the row, or pass --drop-invalid to drop such rows)",
                                self.label(label_of(row))
                            ),
                        ));
                    }
                    keep[row] = false;
                    continue;
                } else if empty {
                    "is empty".to_string()
                } else if !v.is_finite() {
                    format!("is {v}")
                } else if *role == Role::ZSpec && *v <= -1.0 {
                    return Err(Error::file(
                        path,
                        format!(
                            "{}, column '{name}': z_spec = {v} is <= -1, so 1 + z_spec <= 0; check that this column is the spectroscopic redshift",
                            self.label(label_of(row))
                        ),
                    ));
                } else {
                    continue;
                };
                if !drop_invalid {
                    return Err(Error::file(
                        path,
                        format!(
                            "{}, column '{name}' {problem}; fix the row, or pass --drop-invalid to drop such rows",
                            self.label(label_of(row))
                        ),
                    ));
                }
                keep[row] = false;
            }
        }
        if let Some((_, Some(validity))) = ids {
            for (row, valid) in validity.iter().enumerate() {
                if !valid {
                    if !drop_invalid {
                        return Err(Error::file(
                            path,
                            format!(
                                "{}, column '{}' is empty; every galaxy needs an id (or pass --drop-invalid)",
                                self.label(label_of(row)),
                                self.column_name(Role::Id)
                            ),
                        ));
                    }
                    keep[row] = false;
                }
            }
        }
        Ok(Some(keep))
    }

    /// Reserve room for about `rows` more rows in every kept column (avoids the doubling
    /// growth that would otherwise almost double peak memory on large files).
    fn reserve(&mut self, rows: usize) {
        if self.columns.iter().any(|c| c.role == Role::Id) {
            reserve_mapped(&mut self.ids, rows);
        }
        for column in &mut self.floats {
            reserve_mapped(column, rows);
        }
    }

    fn column_name(&self, role: Role) -> String {
        self.columns.iter().find(|c| c.role == role).map(|c| c.name.clone()).unwrap_or_default()
    }

    /// Rows kept so far, handed over or held.
    fn rows(&self) -> usize {
        self.handed_over + self.held()
    }

    /// Rows held (every column holds as many).
    fn held(&self) -> usize {
        self.floats.first().map_or(self.ids.len(), Vec::len)
    }

    /// Fail on the first repeated id, naming both of its rows.
    fn check_duplicate_ids(&self, path: &Path) -> Result<()> {
        if self.ids.windows(2).all(|w| w[0] < w[1]) {
            return Ok(());
        }
        let mut sorted = self.ids.clone();
        sorted.sort_unstable();
        let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) else {
            return Ok(());
        };
        let id = pair[0];
        let rows: Vec<usize> =
            self.ids.iter().enumerate().filter(|(_, v)| **v == id).map(|(i, _)| i + 1).take(2).collect();
        Err(Error::file(
            path,
            format!(
                "duplicate {} {id} (data rows {} and {}); each galaxy must appear once",
                self.column_name(Role::Id),
                rows[0],
                rows.get(1).copied().unwrap_or(rows[0])
            ),
        ))
    }

    fn finish(self, path: &Path) -> Table {
        let rows = self.rows();
        let id = self
            .columns
            .iter()
            .find(|c| c.role == Role::Id)
            .map(|c| NamedColumn { name: c.name.clone(), values: self.ids });
        let mut floats: Vec<(Resolved, Vec<f64>)> =
            self.columns.into_iter().filter(|c| c.role != Role::Id).zip(self.floats).collect();
        floats.sort_by_key(|(c, _)| c.request);
        let mut table = Table {
            path: path.to_path_buf(),
            format: self.layout.describe(),
            layout: self.layout,
            id,
            z_spec: None,
            z_phot: None,
            magnitudes: Vec::new(),
            rows,
            dropped_invalid: self.dropped_invalid,
            sha256: self.sha256.unwrap_or_default(),
        };
        for (column, values) in floats {
            let named = NamedColumn { name: column.name, values };
            match column.role {
                Role::ZSpec => table.z_spec = Some(named),
                Role::ZPhot => table.z_phot = Some(named),
                Role::Magnitude => table.magnitudes.push(named),
                Role::Id => {}
            }
        }
        table
    }
}

/// Blocks of whole lines coming from the reader thread.
type BlockChannel = std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>;

/// Bytes per `read` call: small enough that each piece is hashed while it is still in cache.
const READ_BYTES: usize = 1 << 20;

/// Read `file` on a separate thread into blocks of about `block_bytes` that end at a line end
/// (the last block may lack its newline), hashing each piece as it arrives when `hash`, so reading
/// and SHA-256 overlap with parsing. Spent blocks come back through `recycle` and are refilled (no
/// fresh pages per block). The thread's result is the hex SHA-256 of the file, when `hash`.
fn spawn_line_reader(
    mut file: File,
    recycle: std::sync::mpsc::Receiver<Vec<u8>>,
    block_bytes: usize,
    hash: bool,
) -> (BlockChannel, std::thread::JoinHandle<Option<String>>) {
    let (sender, receiver) = std::sync::mpsc::sync_channel(2);
    let handle = std::thread::spawn(move || {
        let mut hasher = hash.then(Sha256::new);
        // The partial last line of the previous block, which starts the next one.
        let mut carry: Vec<u8> = Vec::new();
        let mut eof = false;
        while !eof {
            let mut block = recycle.try_recv().unwrap_or_default();
            block.clear();
            block.reserve(block_bytes + READ_BYTES);
            block.extend_from_slice(&carry);
            carry.clear();
            let mut complete = false;
            while !complete {
                let start = block.len();
                block.reserve(READ_BYTES);
                match (&mut file).take(READ_BYTES as u64).read_to_end(&mut block) {
                    Ok(0) => eof = true,
                    Ok(_) => hasher.iter_mut().for_each(|h| h.update(&block[start..])),
                    Err(e) => {
                        let _ = sender.send(Err(e));
                        return None;
                    }
                }
                // A block is complete at end of file, or once it is full and holds a line end.
                complete = eof
                    || (block.len() >= block_bytes
                        && memchr::memrchr(b'\n', &block).is_some_and(|end| {
                            carry.extend_from_slice(&block[end + 1..]);
                            block.truncate(end + 1);
                            true
                        }));
            }
            if !block.is_empty() && sender.send(Ok(block)).is_err() {
                break;
            }
        }
        hasher.map(|h| hex(&h.finalize()))
    });
    (receiver, handle)
}

fn read_text(
    path: &Path,
    file: File,
    requests: &[ColumnRequest],
    options: &ReadOptions,
    named: NamedColumns,
    rows: &mut Rows<'_>,
) -> Result<Builder> {
    let io_error = |e: std::io::Error| Error::file(path, format!("cannot read: {e}")).caused_by(e);
    let file_len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let (recycle, recycled) = std::sync::mpsc::channel();
    let (blocks, reader) = spawn_line_reader(file, recycled, named.block_bytes(), rows.keep());
    let next_block = || -> Result<Option<Vec<u8>>> {
        match blocks.recv() {
            Ok(Ok(block)) => Ok(Some(block)),
            Ok(Err(e)) => Err(io_error(e)),
            Err(_) => Ok(None),
        }
    };
    let Some(mut block) = next_block()? else {
        return Err(Error::file(path, "the file is empty; expected a header line and one row per galaxy"));
    };

    let Header { names: header, delimiter, end: header_end } = parse_header(path, &block, options)?;
    let mut columns = resolve_columns(path, &header, requests)?;
    columns.sort_by_key(|c| c.index);

    // polars parses the kept columns only; all others are declared as strings and skipped.
    let schema: Schema = header
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let dtype = match columns.iter().find(|c| c.index == i).map(|c| c.role) {
                Some(Role::Id) => DataType::Int64,
                Some(_) => DataType::Float64,
                None => DataType::String,
            };
            Field::new(format!("c{i}").into(), dtype)
        })
        .collect();
    let schema = Arc::new(schema);
    let projection = Arc::new(columns.iter().map(|c| c.index).collect::<Vec<_>>());
    let separator = match delimiter {
        Delimiter::Byte(b) => b,
        Delimiter::Whitespace => b' ',
    };
    let mut builder = Builder::new(columns.clone(), Layout::Text(delimiter), RowLabels::Lines, named);
    let mut first_line = 2usize;
    let mut any_row = false;
    // Where the data start in the current block (after the header in the first one).
    let mut start = (header_end + 1).min(block.len());
    let mut first_block = true;
    // The fast parser's output buffers, one per part of a block, reused from block to block.
    let mut parts: Vec<PlainColumns> = Vec::new();

    loop {
        let data: std::borrow::Cow<[u8]> = match delimiter {
            Delimiter::Whitespace => collapse_whitespace(&block[start..]).into(),
            Delimiter::Byte(_) => (&block[start..]).into(),
        };
        // Size the columns once, from the first block's row density, when more blocks follow and
        // the rows are kept.
        let reserve_for = |n_rows: usize| {
            (first_block && file_len > block.len() && rows.keep())
                .then(|| (n_rows as f64 / data.len().max(1) as f64 * file_len as f64 * 1.01) as usize + 1024)
        };
        let mut line_ends = None;
        if data.iter().any(|b| !b.is_ascii_whitespace()) {
            any_row = true;
            let label_of = |row: usize| first_line + line_offset_of_row(&data, row);
            if let Some(n_parts) = parse_plain_block(&data, separator, header.len(), &columns, &mut parts) {
                let parts = &parts[..n_parts];
                if let Some(n_rows) = reserve_for(parts.iter().map(PlainColumns::rows).sum()) {
                    builder.reserve(n_rows);
                }
                builder.append_plain(parts);
                line_ends = Some(parts.iter().map(|p| p.line_ends).sum());
            } else {
                let reader = CsvReadOptions::default()
                    .with_has_header(false)
                    .with_schema(Some(schema.clone()))
                    .with_projection(Some(projection.clone()))
                    .map_parse_options(|o| o.with_separator(separator))
                    .into_reader_with_file_handle(Cursor::new(&data[..]));
                let frame = decoding(|| reader.finish())
                    .map_err(|e| locate_parse_error(path, &data, first_line, delimiter, &header, &columns, e))?;
                if let Some(n_rows) = reserve_for(frame.height()) {
                    builder.reserve(n_rows);
                }
                builder.append(path, &frame, &label_of, options.drop_invalid)?;
            }
            builder.hand_over(rows)?;
        }
        first_line += line_ends.unwrap_or_else(|| memchr::memchr_iter(b'\n', &data).count());
        drop(data);
        let _ = recycle.send(block);
        match next_block()? {
            Some(next) => block = next,
            None => break,
        }
        start = 0;
        first_block = false;
    }
    if !any_row && rows.keep() {
        return Err(Error::file(path, "the file has a header but no data rows"));
    }
    drop(blocks);
    builder.sha256 = reader.join().map_err(|_| Error::file(path, "the reader thread failed"))?;
    Ok(builder)
}

/// One column of a block for [`Builder::append_columns`]: role, values and, where some cells are
/// empty, which are present.
type BlockColumn<'a> = (Role, &'a [f64], Option<&'a [bool]>);

/// The columns [`parse_plain_part`] parsed from one part of a block: the ids, and each float
/// column by role.
#[derive(Debug, Default)]
struct PlainColumns {
    ids: Option<Vec<i64>>,
    floats: Vec<(Role, Vec<f64>)>,
    /// Line ends in the part (blank lines included), for the line numbers of later blocks.
    line_ends: usize,
}

impl PlainColumns {
    fn rows(&self) -> usize {
        self.floats.first().map_or_else(|| self.ids.as_ref().map_or(0, Vec::len), |f| f.1.len())
    }
}

/// Fast path for plain numeric text, in parallel over parts of the block, into `buffers` (kept
/// between blocks, so their pages stay mapped and warm): every non-empty line has exactly
/// `n_fields` fields split by `separator`, and every kept cell is a plain, valid number (not
/// quoted, not empty, finite, z_spec > -1). Numbers are parsed with the same routines polars uses
/// (`fast-float2`, `atoi_simd`), so the values are identical. Returns how many buffers hold the
/// block's parts, in order, or `None` if any line is not that simple; the caller then hands the
/// block to polars, which handles quoting and names errors.
fn parse_plain_block(
    block: &[u8],
    separator: u8,
    n_fields: usize,
    columns: &[Resolved],
    buffers: &mut Vec<PlainColumns>,
) -> Option<usize> {
    use rayon::prelude::*;
    let parts = split_at_lines(block, rayon::current_num_threads() * 4);
    if buffers.len() < parts.len() {
        buffers.resize_with(parts.len(), PlainColumns::default);
    }
    parts
        .par_iter()
        .zip(buffers.par_iter_mut())
        .all(|(part, out)| parse_plain_part(part, separator, n_fields, columns, out))
        .then_some(parts.len())
}

/// Split `block` into about `n` parts that end at line ends.
fn split_at_lines(block: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    let step = block.len() / n.max(1) + 1;
    while start < block.len() {
        let end = memchr::memchr(b'\n', &block[(start + step).min(block.len())..])
            .map_or(block.len(), |p| (start + step).min(block.len()) + p + 1);
        parts.push(&block[start..end]);
        start = end;
    }
    parts
}

/// Parse one part into `out` (cleared first); `false` at the first line that is not plain.
fn parse_plain_part(part: &[u8], separator: u8, n_fields: usize, columns: &[Resolved], out: &mut PlainColumns) -> bool {
    parse_plain_part_into(part, separator, n_fields, columns, out).is_some()
}

fn parse_plain_part_into(
    part: &[u8],
    separator: u8,
    n_fields: usize,
    columns: &[Resolved],
    out: &mut PlainColumns,
) -> Option<()> {
    /// Where a field's value goes.
    #[derive(Clone, Copy)]
    enum Slot {
        Skip,
        Id,
        Float(usize),
    }
    let mut slots = vec![Slot::Skip; n_fields];
    let mut n_floats = 0;
    for column in columns {
        slots[column.index] = if column.role == Role::Id {
            Slot::Id
        } else {
            n_floats += 1;
            Slot::Float(n_floats - 1)
        };
    }
    let rows_guess = memchr::memchr_iter(b'\n', part).count() + 1;
    let has_ids = columns.iter().any(|c| c.role == Role::Id);
    out.ids = has_ids.then(|| std::mem::take(&mut out.ids).unwrap_or_default());
    if let Some(ids) = &mut out.ids {
        ids.clear();
        ids.reserve(rows_guess);
    }
    let roles: Vec<Role> = columns.iter().filter(|c| c.role != Role::Id).map(|c| c.role).collect();
    out.floats.resize_with(roles.len(), || (Role::ZPhot, Vec::new()));
    for ((role, values), wanted) in out.floats.iter_mut().zip(&roles) {
        *role = *wanted;
        values.clear();
        values.reserve(rows_guess);
    }
    // One pass: each wanted number is parsed where it starts and must end at a separator or a
    // line end; unwanted fields are skipped to the next separator.
    out.line_ends = 0;
    let mut pos = 0;
    while pos < part.len() {
        if part[pos].is_ascii_whitespace() {
            let end = memchr::memchr(b'\n', &part[pos..]).map_or(part.len(), |p| pos + p);
            if part[pos..end].iter().all(u8::is_ascii_whitespace) {
                out.line_ends += usize::from(end < part.len());
                pos = end + 1; // a blank line
                continue;
            }
        }
        let mut field = 0;
        loop {
            match slots.get(field)? {
                Slot::Skip => pos = memchr::memchr2(separator, b'\n', &part[pos..]).map_or(part.len(), |p| pos + p),
                Slot::Id => {
                    let (value, len) = atoi_simd::parse_prefix::<i64, false, false>(&part[pos..]).ok()?;
                    out.ids.as_mut()?.push(value);
                    pos += len;
                }
                Slot::Float(k) => {
                    let (value, len) = fast_float2::parse_partial::<f64, _>(&part[pos..]).ok()?;
                    let (role, values) = &mut out.floats[*k];
                    // NaN, inf and z_spec <= -1 go to the full path, which names the row.
                    if !(value.is_finite() && (*role != Role::ZSpec || value > -1.0)) {
                        return None;
                    }
                    values.push(value);
                    pos += len;
                }
            }
            match part.get(pos) {
                Some(&b) if b == separator => {
                    field += 1;
                    pos += 1;
                }
                Some(b'\r') if matches!(part.get(pos + 1), Some(b'\n') | None) => {
                    out.line_ends += usize::from(pos + 1 < part.len());
                    pos += 2;
                    break;
                }
                Some(b'\n') => {
                    out.line_ends += 1;
                    pos += 1;
                    break;
                }
                None => break,
                Some(_) => return None,
            }
        }
        if field + 1 != n_fields {
            return None;
        }
    }
    Some(())
}

/// Collapse runs of spaces/tabs into one space and trim each line, for whitespace-separated text.
fn collapse_whitespace(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut pending_space = false;
    let mut at_line_start = true;
    for &b in bytes {
        match b {
            b' ' | b'\t' | b'\r' => pending_space = !at_line_start,
            b'\n' => {
                out.push(b'\n');
                pending_space = false;
                at_line_start = true;
            }
            _ => {
                if pending_space {
                    out.push(b' ');
                }
                out.push(b);
                pending_space = false;
                at_line_start = false;
            }
        }
    }
    out
}

/// Line offset (0-based, within `block`) of the `row`-th non-empty line.
fn line_offset_of_row(block: &[u8], row: usize) -> usize {
    let mut seen = 0;
    for (offset, line) in block.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if seen == row {
            return offset;
        }
        seen += 1;
    }
    row
}

/// polars failed on a block: find the first offending line ourselves so the message names it.
fn locate_parse_error(
    path: &Path,
    block: &[u8],
    first_line: usize,
    delimiter: Delimiter,
    header: &[String],
    columns: &[Resolved],
    polars_error: PolarsError,
) -> Error {
    let text = String::from_utf8_lossy(block);
    for (offset, line) in text.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let line_no = first_line + offset;
        let fields: Vec<&str> = delimiter.split(line).collect();
        if fields.len() != header.len() {
            return Error::file(
                path,
                format!(
                    "line {line_no} has {} fields but the header has {}; fix the row (or the delimiter, --delimiter)",
                    fields.len(),
                    header.len()
                ),
            );
        }
        for column in columns {
            let cell = fields[column.index].trim().trim_matches('"');
            let parses = match column.role {
                Role::Id => cell.is_empty() || cell.parse::<i64>().is_ok(),
                _ => cell.is_empty() || cell.parse::<f64>().is_ok(),
            };
            if !parses {
                let expected = if column.role == Role::Id { "an integer" } else { "a number" };
                return Error::file(
                    path,
                    format!(
                        "line {line_no}, column '{}': '{cell}' is not {expected}; fix or remove the row",
                        column.name
                    ),
                );
            }
            // polars reads " 0.5" but not "0.5 " (a space after the number, e.g. `1 , 0.5`).
            let raw = fields[column.index];
            if !cell.is_empty() && raw.trim_start().len() != raw.trim().len() {
                return Error::file(
                    path,
                    format!(
                        "line {line_no}, column '{}': '{raw}' has a space after the number; remove the spaces before the delimiters",
                        column.name
                    ),
                );
            }
        }
    }
    // Every line splits into numbers, so the quoting is at fault (e.g. a quote opened and never
    // closed): say what polars says in its first line, with the column's name for its `cN`.
    // (Its first paragraph: a quoted cell it cites may span lines; the hints that follow are
    // about polars' Python options.)
    let said = polars_error.to_string();
    let mut said = said.split("\n\n").next().unwrap_or_default().trim().to_string();
    for (i, name) in header.iter().enumerate().rev() {
        said = said.replace(&format!("'c{i}'"), &format!("'{name}'"));
    }
    Error::file(
        path,
        format!("cannot parse the lines from line {first_line} on: {said}; check the quoting (a quote opened and never closed?) and fix or remove the row"),
    )
    .caused_by(polars_error)
}

/// Rows decoded per Parquet slice: bounds memory to a slice plus the columns kept.
pub const PARQUET_SLICE_ROWS: usize = 1 << 20;

/// Panics that [`decoding`] turns into errors are not printed while this is above zero.
static QUIET_PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Run a polars decoder call, turning a panic into an error: polars asserts rather than fails on
/// some corrupt files (a Parquet footer whose Thrift fields do not decode, a validity bitmap
/// shorter than its column: found by `pzbench-fuzz`). The panic message is not printed (the
/// process-wide panic hook is wrapped, once, to stay quiet while a decoder runs), so the user
/// sees pzbench's one-line error.
fn decoding<T>(decode: impl FnOnce() -> PolarsResult<T>) -> PolarsResult<T> {
    use std::sync::atomic::Ordering;
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET_PANICS.load(Ordering::SeqCst) == 0 {
                previous(info);
            }
        }));
    });
    QUIET_PANICS.fetch_add(1, Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    QUIET_PANICS.fetch_sub(1, Ordering::SeqCst);
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(PolarsError::ComputeError(format!("the decoder failed ({what})").into()))
    })
}

fn read_parquet(
    path: &Path,
    requests: &[ColumnRequest],
    options: &ReadOptions,
    named: NamedColumns,
    kept: &mut Rows<'_>,
) -> Result<Builder> {
    let corrupt = |e: PolarsError| {
        Error::file(path, format!("not a readable Parquet file (truncated or corrupt?): {e}")).caused_by(e)
    };
    let mut reader = ParquetReader::new(open(path)?);
    let schema = decoding(|| reader.schema()).map_err(corrupt)?;
    let rows = decoding(|| reader.num_rows()).map_err(corrupt)?;
    // The footer, decoded once for every slice (a large file has thousands of row groups).
    let metadata = decoding(|| reader.get_metadata().cloned()).map_err(corrupt)?;
    if rows == 0 && kept.keep() {
        return Err(Error::file(path, "the Parquet file has no rows"));
    }
    let header: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let mut columns = resolve_columns(path, &header, requests)?;
    columns.sort_by_key(|c| c.index);
    let projection: Vec<usize> = columns.iter().map(|c| c.index).collect();
    let mut builder = Builder::new(columns, Layout::Parquet, RowLabels::Rows, named);
    // Kept rows: size the columns, and hash the file on another thread while the slices are decoded.
    let hashing = kept.keep().then(|| {
        builder.reserve(rows);
        let owned_path = path.to_path_buf();
        std::thread::spawn(move || super::sha256_file(&owned_path))
    });
    for offset in (0..rows).step_by(PARQUET_SLICE_ROWS) {
        let mut reader = ParquetReader::new(open(path)?)
            .with_projection(Some(projection.clone()))
            .with_slice(Some((offset, PARQUET_SLICE_ROWS.min(rows - offset))));
        reader.set_metadata(metadata.clone());
        let frame = decoding(|| reader.finish()).map_err(corrupt)?;
        builder.append(path, &frame, &|row| offset + row + 1, options.drop_invalid)?;
        builder.hand_over(kept)?;
    }
    if builder.rows() + builder.dropped_invalid != rows {
        return Err(Error::file(
            path,
            format!(
                "the footer says {rows} rows but {} were read: the file is damaged or truncated; re-export it",
                builder.rows() + builder.dropped_invalid
            ),
        ));
    }
    if let Some(hashing) = hashing {
        builder.sha256 = Some(hashing.join().map_err(|_| Error::file(path, "the hashing thread failed"))??);
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Numbers written the ways CSV writers do, and what Rust's correctly rounded parser makes of them.
    fn random_cells(rng: &mut ChaCha8Rng, n: usize) -> Vec<(String, f64)> {
        (0..n)
            .map(|_| {
                let x: f64 =
                    rng.random::<f64>() * 10f64.powi(rng.random_range(-8..6)) * if rng.random() { -1.0 } else { 1.0 };
                let text = match rng.random_range(0..6) {
                    0 => format!("{x}"),
                    1 => format!("{x:.17}"),
                    2 => format!("{x:e}"),
                    3 => format!("{:E}", x),
                    4 => format!("{}", x.round()),
                    _ => format!("{x:.3}"),
                };
                let value = text.parse::<f64>().unwrap();
                (text, value)
            })
            .collect()
    }

    fn columns() -> Vec<Resolved> {
        vec![
            Resolved { role: Role::Id, index: 0, name: "object_id".into(), request: 0 },
            Resolved { role: Role::ZSpec, index: 2, name: "z_spec".into(), request: 1 },
            Resolved { role: Role::ZPhot, index: 3, name: "z_phot".into(), request: 2 },
        ]
    }

    #[test]
    fn fast_parser_reads_every_number_format_exactly() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let cells = random_cells(&mut rng, 3000);
        let mut text = String::new();
        let mut expected: (Vec<i64>, Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new(), Vec::new());
        // z_spec (the first of each pair) must be > -1 for the fast path: keep it positive.
        let cells: Vec<(String, f64)> = cells
            .chunks_exact(2)
            .flat_map(|pair| [(pair[0].0.trim_start_matches('-').to_string(), pair[0].1.abs()), pair[1].clone()])
            .collect();
        for (row, pair) in cells.chunks_exact(2).enumerate() {
            let id = row as i64 * 7 - 50;
            let ending = if row % 3 == 0 { "\r\n" } else { "\n" };
            text.push_str(&format!("{id},skipped {row},{},{}{ending}", pair[0].0, pair[1].0));
            if row % 10 == 0 {
                text.push_str("  \n"); // blank lines are skipped
            }
            expected.0.push(id);
            expected.1.push(pair[0].1);
            expected.2.push(pair[1].1);
        }
        let mut buffers = Vec::new();
        let n_parts = parse_plain_block(text.as_bytes(), b',', 4, &columns(), &mut buffers).expect("plain text");
        let mut got: (Vec<i64>, Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new(), Vec::new());
        for part in &buffers[..n_parts] {
            got.0.extend(part.ids.as_ref().unwrap());
            got.1.extend(&part.floats[0].1);
            got.2.extend(&part.floats[1].1);
        }
        assert_eq!(got.0, expected.0);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.1), bits(&expected.1));
        assert_eq!(bits(&got.2), bits(&expected.2));
    }

    fn score_requests() -> [ColumnRequest; 3] {
        [
            ColumnRequest { role: Role::Id, name: None, required: false },
            ColumnRequest { role: Role::ZSpec, name: None, required: true },
            ColumnRequest { role: Role::ZPhot, name: None, required: true },
        ]
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_header_and_utf16_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let options = ReadOptions::default();
        for text in [
            "\u{feff}object_id,z_spec,z_phot\r\n1,0.1,0.2\r\n2,0.3,0.4\r\n",
            "\u{feff}object_id,z_spec,z_phot\r\n1,0.1,\"0.2\"\r\n2,0.3,0.4\r\n",
            "\u{feff}object_id\tz_spec\tz_phot\n1\t0.1\t0.2\n2\t0.3\t0.4\n",
            "\u{feff}# object_id  z_spec z_phot\n 1 0.1\t0.2\r\n2 0.3 0.4\n",
        ] {
            std::fs::write(&path, text).unwrap();
            let table = read_table(&path, &score_requests(), &options).unwrap();
            let id = table.id.unwrap_or_else(|| panic!("no id column read from {text:?}"));
            assert_eq!((id.name.as_str(), id.values), ("object_id", vec![1, 2]), "{text:?}");
            assert_eq!(table.z_phot.unwrap().values, vec![0.2, 0.4]);
        }
        // The duplicate-id check sees the id column too.
        std::fs::write(&path, "\u{feff}object_id,z_spec,z_phot\n5,0.1,0.2\n5,0.3,0.4\n").unwrap();
        let err = read_table(&path, &score_requests(), &options).unwrap_err().to_string();
        assert!(err.ends_with("duplicate object_id 5 (data rows 1 and 2); each galaxy must appear once"), "{err}");
        // UTF-16, with or without its byte-order mark, and Latin-1.
        let utf16 = |big: bool, bom: bool| -> Vec<u8> {
            let text = if bom {
                "\u{feff}object_id,z_spec,z_phot\n1,0.1,0.2\n"
            } else {
                "object_id,z_spec,z_phot\n1,0.1,0.2\n"
            };
            text.encode_utf16().flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
        };
        for (big, bom, name) in [(false, true, "LE"), (false, false, "LE"), (true, true, "BE"), (true, false, "BE")] {
            std::fs::write(&path, utf16(big, bom)).unwrap();
            let err = read_table(&path, &score_requests(), &options).unwrap_err().to_string();
            assert!(
                err.contains(&format!("t.csv: the file is UTF-16 {name} text")) && err.contains("save it as UTF-8"),
                "{err}"
            );
        }
        std::fs::write(&path, b"object_id,z_spec,z_phot,caf\xe9\n1,0.1,0.2,1\n").unwrap();
        let err = read_table(&path, &score_requests(), &options).unwrap_err().to_string();
        assert!(err.ends_with("line 1 (the header) is not UTF-8 text; save the file as UTF-8 (or, if it is Parquet, name it .parquet)"), "{err}");
    }

    #[test]
    fn drop_invalid_that_drops_every_row_is_an_error() {
        // It scored nothing and exited 0 (found by pzbench-fuzz).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "object_id,z_spec,z_phot\n1,0.1,\n2,0.5,nan\n").unwrap();
        let options = ReadOptions { drop_invalid: true, ..ReadOptions::default() };
        let err = read_table(&path, &score_requests(), &options).unwrap_err().to_string();
        assert!(
            err.ends_with("--drop-invalid dropped every row (2): each has a NaN, infinite or empty value in 'object_id', 'z_spec', 'z_phot'; check that these are the right columns"),
            "{err}"
        );
        std::fs::write(&path, "object_id,z_spec,z_phot\n1,0.1,\n2,0.5,0.6\n").unwrap();
        let table = read_table(&path, &score_requests(), &options).unwrap();
        assert_eq!((table.rows, table.dropped_invalid), (1, 1));
    }

    #[test]
    fn damaged_files_that_broke_polars_give_one_line_errors() {
        // Inputs found by pzbench-fuzz (fixtures/fuzz/README.md): Parquet files on which polars
        // panics, and text whose quoting polars refuses with a message of many lines.
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/fuzz");
        // A damaged footer whose row group claims more values for one column than another: the
        // ids came out 30, the redshifts 20, and were paired silently.
        let requests = [
            ColumnRequest::magnitude("r"),
            ColumnRequest::magnitude("g"),
            ColumnRequest { role: Role::Id, name: None, required: false },
            ColumnRequest { role: Role::ZSpec, name: None, required: false },
        ];
        let err =
            read_table(&fixtures.join("parquet-column-lengths-differ.parquet"), &requests, &ReadOptions::default())
                .unwrap_err()
                .to_string();
        // (A release build of polars reads the columns; a debug build stops at a debug assertion.)
        assert!(
            err.contains("from row 1, the columns read have different lengths ('object_id' 30, 'z_spec' 20")
                || err.contains("not a readable Parquet file (truncated or corrupt?): the decoder failed"),
            "{err}"
        );
        for name in ["parquet-thrift-bool-panic.parquet", "parquet-bitmap-panic.parquet"] {
            let err = read_table(&fixtures.join(name), &score_requests(), &ReadOptions::default()).unwrap_err();
            let err = err.to_string();
            assert!(
                err.contains(&format!(
                    "{name}: not a readable Parquet file (truncated or corrupt?): the decoder failed ("
                )),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "object_id,z_spec,z_phot\n1,0.1,0.2\n2 ,0.3,0.4\n").unwrap();
        let err = read_table(&path, &score_requests(), &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.ends_with("line 3, column 'object_id': '2 ' has a space after the number; remove the spaces before the delimiters"), "{err}");
        std::fs::write(&path, "object_id,z_spec,z_phot\n1,0.1,\"0.2\n2,0.3,0.4\n").unwrap();
        let err = read_table(&path, &score_requests(), &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("t.csv: cannot parse the lines from line 2 on: "), "{err}");
        assert!(
            err.contains("check the quoting") && !err.contains('\n') && !err.contains("infer_schema_length"),
            "{err}"
        );
    }

    #[test]
    fn fast_parser_leaves_anything_unusual_to_polars() {
        let cols = columns();
        let plain = |text: &str| parse_plain_block(text.as_bytes(), b',', 4, &cols, &mut Vec::new()).is_some();
        assert!(plain("1,a,0.5,0.6\n2,b,0.7,0.8"));
        for unusual in [
            "1,a,\"0.5\",0.6\n",          // quoted
            "1,a,0.5,0.6,\n",             // an extra field
            "1,a,0.5\n",                  // a missing field
            "1,a, 0.5,0.6\n",             // a space before a number
            "1,a,0.5 ,0.6\n",             // a space after it
            "1,a,0.5x,0.6\n",             // junk after it
            "1.5,a,0.5,0.6\n",            // a fractional id
            "1,a,,0.6\n",                 // an empty cell
            "1,a,0.5,0.6\r2,b,0.7,0.8\n", // a lone carriage return
            "1,a,NaN,0.6\n",              // not finite: the full path names the row
            "1,a,0.5,inf\n",
            "1,a,-1,0.6\n", // z_spec <= -1
        ] {
            assert!(!plain(unusual), "{unusual:?} should go to polars");
        }
    }

    #[test]
    fn magnitude_columns_are_read_in_the_order_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cat.csv");
        std::fs::write(&path, "id,redshift,g,r,note\n7,0.1,21.5,99,a\n9,0.2,\"22.5\",20.5,b\n").unwrap();
        let requests = [
            ColumnRequest::magnitude("r"),
            ColumnRequest::magnitude("g"),
            ColumnRequest { role: Role::Id, name: None, required: false },
            ColumnRequest { role: Role::ZSpec, name: None, required: false },
        ];
        let options = ReadOptions::default();
        let table = read_table(&path, &requests, &options).unwrap();
        let names: Vec<&str> = table.magnitudes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["r", "g"]);
        assert_eq!(
            (table.magnitudes[0].values.clone(), table.magnitudes[1].values.clone()),
            (vec![99.0, 20.5], vec![21.5, 22.5])
        );
        assert_eq!((table.id.unwrap().values, table.z_spec.unwrap().values), (vec![7, 9], vec![0.1, 0.2]));
        assert_eq!((table.layout, table.format.as_str()), (Layout::Text(Delimiter::Byte(b',')), "','-separated"));

        // Every missing magnitude is named at once.
        let missing = [ColumnRequest::magnitude("u"), ColumnRequest::magnitude("g"), ColumnRequest::magnitude("y")];
        let err = read_table(&path, &missing, &options).unwrap_err().to_string();
        assert!(
            err.ends_with("no column 'u', 'y' (named by --bands); the columns are: id, redshift, g, r, note"),
            "{err}"
        );
        // A magnitude column is not also the optional redshift; a required one is refused.
        let z_as_mag =
            [ColumnRequest::magnitude("redshift"), ColumnRequest { role: Role::ZSpec, name: None, required: false }];
        let table = read_table(&path, &z_as_mag, &options).unwrap();
        assert!(table.z_spec.is_none());
        let required =
            [ColumnRequest::magnitude("redshift"), ColumnRequest { role: Role::ZSpec, name: None, required: true }];
        let err = read_table(&path, &required, &options).unwrap_err().to_string();
        assert!(err.contains("column 'redshift' cannot be both the magnitude and the z_spec column"), "{err}");

        // NaN and empty magnitudes are named, or dropped.
        std::fs::write(&path, "g,r\n20,21\n22,nan\n23,\n24,25\n").unwrap();
        let both = [ColumnRequest::magnitude("g"), ColumnRequest::magnitude("r")];
        let err = read_table(&path, &both, &options).unwrap_err().to_string();
        assert!(err.contains("line 3, column 'r' is NaN; magnitudes must be numbers"), "{err}");
        std::fs::write(&path, "g,r\n20,21\n23,\n").unwrap();
        let err = read_table(&path, &both, &options).unwrap_err().to_string();
        assert!(err.contains("line 3, column 'r': '' is not a number"), "{err}");
        std::fs::write(&path, "g,r\n20,21\n22,nan\n23,\n24,25\n").unwrap();
        let table = read_table(&path, &both, &ReadOptions { drop_invalid: true, ..options }).unwrap();
        assert_eq!((table.rows, table.dropped_invalid, table.magnitudes[1].values.clone()), (2, 2, vec![21.0, 25.0]));
    }
}
