//! The fuzz targets: one per reader, each with its valid seed files and a `run` that hands a
//! mutated input to the reader exactly as pzbench does (written to a file when the reader takes a
//! path) and checks what comes back: a result that keeps the reader's promises (counts agree,
//! values finite, ids unique, a round trip gives the same board, ...) or a pzbench error.

use std::path::{Path, PathBuf};

use pzbench_io::table::{read_table, ColumnRequest, ReadOptions, Role, Table};
use pzbench_io::Error;

use crate::mutate::{Input, Seed};

/// What one input came to.
#[derive(Debug)]
pub enum Outcome {
    /// A result that passed the target's checks.
    Ok,
    /// A pzbench error (the driver checks that it is one line).
    Error(Error),
    /// A result that breaks a promise of the reader: what is wrong.
    Wrong(String),
}

impl From<Error> for Outcome {
    fn from(error: Error) -> Self {
        Outcome::Error(error)
    }
}

/// A reader under test.
pub trait Harness {
    /// The valid files the inputs are mutated from.
    fn seeds(&self) -> &[Seed];
    /// Hand `input` to the reader.
    fn run(&mut self, input: &Input) -> Outcome;
}

/// A target: its name, what it reads, and how to set it up in a work directory.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    /// Build the harness (its seeds and fixed files) in the given empty directory.
    pub build: fn(&Path) -> Result<Box<dyn Harness>, String>,
    /// Whether `all` includes it (the self-test target is only run on purpose).
    pub in_all: bool,
}

/// Every target, in the order `all` runs them.
pub const TARGETS: &[Target] = &[
    Target { name: "text", about: "CSV/TSV/whitespace tables (table::read_table)", build: text::build, in_all: true },
    Target { name: "parquet", about: "Parquet tables (table::read_table)", build: parquet::build, in_all: true },
    Target {
        name: "hdf5",
        about: "GalaxiesML HDF5: open, inspect summary, score --truth, image rows",
        build: galaxiesml::build,
        in_all: true,
    },
    Target {
        name: "safetensors",
        about: "checkpoint weights, checksum fixed up 3 times in 4 (predict)",
        build: checkpoint::build_safetensors,
        in_all: true,
    },
    Target {
        name: "model-json",
        about: "checkpoint model.json (predict)",
        build: checkpoint::build_model_json,
        in_all: true,
    },
    Target {
        name: "inputs-json",
        about: "checkpoint inputs.json (predict)",
        build: checkpoint::build_inputs_json,
        in_all: true,
    },
    Target {
        name: "leaderboard",
        about: "leaderboard JSON: load, render, add, write back",
        build: boards::build,
        in_all: true,
    },
    Target {
        name: "policy",
        about: "gate policy TOML: load, then a gate under it",
        build: gate::build_policy,
        in_all: true,
    },
    Target {
        name: "baseline",
        about: "gate baseline and score JSON: load, align, gate",
        build: gate::build_baseline,
        in_all: true,
    },
    Target { name: "nz", about: "synth --nz tables", build: nz::build, in_all: true },
    Target {
        name: "selftest",
        about: "the harness's own check: panics, blow-ups, hangs and crashes on purpose",
        build: selftest::build,
        in_all: false,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| Error::file(path, format!("fuzz harness cannot write: {e}")))
}

/// Write `bytes` to `path` and read them back with `load`; a failure of either is the outcome.
fn load_input<T>(path: &Path, bytes: &[u8], load: impl FnOnce(&Path) -> Result<T, Error>) -> Result<T, Outcome> {
    write(path, bytes).and_then(|()| load(path)).map_err(Outcome::from)
}

/// Setup failures as a message saying what was being set up.
trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// The promises of every table read: columns as long as `rows`, the required ones present, ids
/// unique, values finite, z_spec > -1.
fn check_table(table: &Table, requests: &[ColumnRequest]) -> Result<(), String> {
    let n = table.rows;
    let lens = [
        table.id.as_ref().map(|c| c.values.len()),
        table.z_spec.as_ref().map(|c| c.values.len()),
        table.z_phot.as_ref().map(|c| c.values.len()),
    ];
    if lens.iter().flatten().any(|&l| l != n) {
        return Err(format!("column lengths {lens:?} differ from the {n} rows"));
    }
    if table.magnitudes.iter().any(|c| c.values.len() != n) {
        return Err(format!("a magnitude column does not have the {n} rows"));
    }
    for request in requests.iter().filter(|r| r.required) {
        let present = match request.role {
            Role::Id => table.id.is_some(),
            Role::ZSpec => table.z_spec.is_some(),
            Role::ZPhot => table.z_phot.is_some(),
            Role::Magnitude => true,
        };
        if !present {
            return Err(format!("required {} column missing from an Ok result", request.role.name()));
        }
    }
    let n_mags = requests.iter().filter(|r| r.role == Role::Magnitude).count();
    if table.magnitudes.len() != n_mags {
        return Err(format!("{} magnitude columns for {n_mags} asked", table.magnitudes.len()));
    }
    if let Some(ids) = &table.id {
        let mut sorted = ids.values.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("duplicate id {} accepted", w[0]));
        }
    }
    let floats = table.z_spec.iter().chain(&table.z_phot).chain(&table.magnitudes);
    for column in floats {
        if let Some(v) = column.values.iter().find(|v| !v.is_finite()) {
            return Err(format!("column '{}' holds {v}", column.name));
        }
    }
    if let Some(v) = table.z_spec.as_ref().and_then(|c| c.values.iter().find(|v| **v <= -1.0)) {
        return Err(format!("z_spec {v} <= -1 accepted"));
    }
    if table.rows == 0 {
        return Err("a table with no rows accepted".into());
    }
    Ok(())
}

/// The column requests of the commands that read tables, chosen by `variant`.
fn requests_for(variant: u64) -> (Vec<ColumnRequest>, ReadOptions) {
    let r = |role, required| ColumnRequest { role, name: None, required };
    let requests = match variant % 4 {
        // score (z_spec and z_phot in one file)
        0 => vec![r(Role::Id, false), r(Role::ZSpec, true), r(Role::ZPhot, true)],
        // score --truth: the predictions, then the truth file
        1 => vec![r(Role::Id, true), r(Role::ZPhot, true)],
        2 => vec![r(Role::Id, true), r(Role::ZSpec, true)],
        // train/predict: magnitudes by name
        _ => vec![
            ColumnRequest::magnitude("r"),
            ColumnRequest::magnitude("g"),
            r(Role::Id, false),
            r(Role::ZSpec, false),
        ],
    };
    let options = ReadOptions { delimiter: None, drop_invalid: (variant >> 8).is_multiple_of(4) };
    (requests, options)
}

/// `(id, z_spec, z_phot, g, r)` rows of the seed tables.
const ROWS: [(i64, f64, f64, f64, f64); 6] = [
    (1, 0.1, 0.12, 21.5, 22.0),
    (2, 0.5, 0.45, 23.25, 22.5),
    (7, 1.9, 2.1, 24.0, 99.0),
    (3, 0.0312, 0.03, 20.125, 20.5),
    (10, 3.1, 2.95, 25.5, 24.75),
    (4, 0.75, 0.8, 22.0, 21.0),
];

mod text {
    use super::*;
    use pzbench_io::table::Delimiter;

    pub(super) struct TextTable {
        path: PathBuf,
        seeds: Vec<Seed>,
    }

    fn table(header: &[&str], sep: &str, ending: &str, quote_every: usize) -> String {
        let mut s = header.join(sep) + ending;
        for (k, (id, zs, zp, g, r)) in ROWS.iter().enumerate() {
            let cells = [id.to_string(), zs.to_string(), zp.to_string(), g.to_string(), r.to_string()];
            let cells: Vec<String> = cells
                .iter()
                .enumerate()
                .map(
                    |(j, c)| if quote_every > 0 && (k + j) % quote_every == 0 { format!("\"{c}\"") } else { c.clone() },
                )
                .collect();
            s += &(cells.join(sep) + ending);
        }
        s
    }

    pub(super) fn seeds() -> Vec<Seed> {
        let names = ["object_id", "z_spec", "z_phot", "g", "r"];
        let aliases = ["id", "specz_redshift", "z_pred", "g", "r"];
        vec![
            Seed::text("csv", table(&names, ",", "\n", 0)),
            Seed::text("tsv", table(&names, "\t", "\n", 0)),
            Seed::text("whitespace", table(&names, "   ", "\n", 0).replace("   0.", " \t0.")),
            Seed::text("csv, CRLF", table(&names, ",", "\r\n", 0)),
            Seed::text("csv, BOM", format!("\u{feff}{}", table(&names, ",", "\n", 0))),
            Seed::text("tsv, BOM, CRLF", format!("\u{feff}{}", table(&names, "\t", "\r\n", 0))),
            Seed::text("csv, quoted cells", table(&names, ",", "\n", 3)),
            Seed::text("commented whitespace header", format!("# {}", table(&aliases, " ", "\n", 0))),
            Seed::text("semicolons, blank lines", table(&aliases, ";", "\n", 0).replace("\n7;", "\n\n  \n7;")),
        ]
    }

    pub(super) fn build(dir: &Path) -> Result<Box<dyn Harness>, String> {
        Ok(Box::new(TextTable { path: dir.join("table.csv"), seeds: seeds() }))
    }

    impl Harness for TextTable {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let (requests, options) = requests_for(input.variant);
            let table = match load_input(&self.path, &input.bytes, |path| read_table(path, &requests, &options)) {
                Ok(table) => table,
                Err(outcome) => return outcome,
            };
            if let Err(wrong) = check_table(&table, &requests) {
                return Outcome::Wrong(wrong);
            }
            if options.drop_invalid {
                return Outcome::Ok;
            }
            match reference(&input.bytes, &requests) {
                Some(expected) => match compare(&table, &expected) {
                    Ok(()) => Outcome::Ok,
                    Err(wrong) => Outcome::Wrong(wrong),
                },
                None => Outcome::Ok,
            }
        }
    }

    /// What a plain reader makes of a simple file: the requested columns by the same rules
    /// (aliases, delimiter detection, a byte-order mark and a `#` before the header), or `None`
    /// when the file is not simple (quotes, NUL, lone CR, cells that are not plain numbers, a
    /// field count that differs from the header's, duplicate ids, no rows) and so is not judged.
    struct Expected {
        columns: Vec<(Role, String, Vec<f64>)>,
        ids: Option<(String, Vec<i64>)>,
        rows: usize,
    }

    fn reference(bytes: &[u8], requests: &[ColumnRequest]) -> Option<Expected> {
        let text = std::str::from_utf8(bytes).ok()?;
        let b = text.as_bytes();
        if text.contains(['"', '\0']) || b.iter().enumerate().any(|(i, &c)| c == b'\r' && b.get(i + 1) != Some(&b'\n'))
        {
            return None;
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split('\n');
        let header = lines.next()?.trim_end_matches('\r').trim_start_matches('#').trim();
        if header.is_empty() {
            return None;
        }
        let delimiter = Delimiter::detect(header);
        let names: Vec<String> = match delimiter {
            Delimiter::Byte(d) => header.split(d as char).map(|h| h.trim().to_string()).collect(),
            Delimiter::Whitespace => header.split_whitespace().map(str::to_string).collect(),
        };
        // Resolve the requests as pzbench does.
        let mut resolved: Vec<(usize, Role, usize)> = Vec::new(); // (request, role, column)
        for (k, request) in requests.iter().enumerate() {
            let found = match &request.name {
                Some(name) => Some(names.iter().position(|h| h == name)?),
                None => {
                    let matches: Vec<usize> = (0..names.len())
                        .filter(|&i| request.role.aliases().iter().any(|a| names[i].eq_ignore_ascii_case(a)))
                        .collect();
                    match matches[..] {
                        [] => None,
                        [one] => Some(one),
                        _ => return None,
                    }
                }
            };
            let taken = |i: &usize| resolved.iter().any(|r| r.2 == *i);
            match found.filter(|i| request.name.is_some() || request.required || !taken(i)) {
                Some(i) if taken(&i) => return None,
                Some(i) => resolved.push((k, request.role, i)),
                None if request.required => return None,
                None => {}
            }
        }
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); resolved.len()];
        let mut ids = Vec::new();
        let mut rows = 0;
        for line in lines {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.bytes().all(|c| c.is_ascii_whitespace()) {
                continue;
            }
            let fields: Vec<&str> = match delimiter {
                Delimiter::Byte(d) => line.split(d as char).collect(),
                Delimiter::Whitespace => line.split([' ', '\t']).filter(|f| !f.is_empty()).collect(),
            };
            if fields.len() != names.len() {
                return None;
            }
            rows += 1;
            for (slot, &(_, role, column)) in resolved.iter().enumerate() {
                let cell = fields[column];
                if role == Role::Id {
                    ids.push(plain_int(cell)?);
                    continue;
                }
                let v = plain_float(cell)?;
                if !v.is_finite() || (role == Role::ZSpec && v <= -1.0) {
                    return None;
                }
                columns[slot].push(v);
            }
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if rows == 0 || sorted.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        let id = resolved.iter().find(|r| r.1 == Role::Id).map(|r| (names[r.2].clone(), ids));
        let mut floats: Vec<(usize, Role, String, Vec<f64>)> = resolved
            .iter()
            .zip(columns)
            .filter(|(r, _)| r.1 != Role::Id)
            .map(|(r, values)| (r.0, r.1, names[r.2].clone(), values))
            .collect();
        floats.sort_by_key(|f| f.0);
        Some(Expected {
            columns: floats.into_iter().map(|(_, role, name, values)| (role, name, values)).collect(),
            ids: id,
            rows,
        })
    }

    /// `-?[0-9]{1,18}`.
    fn plain_int(cell: &str) -> Option<i64> {
        let digits = cell.strip_prefix('-').unwrap_or(cell);
        (!digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| cell.parse().ok())
            .flatten()
    }

    /// `-?(D+(.D*)?|.D+)([eE][+-]?D{1,3})?`.
    fn plain_float(cell: &str) -> Option<f64> {
        let body = cell.strip_prefix('-').unwrap_or(cell);
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], Some(&body[at + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
        let exponent_ok = exponent.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            (1..=3).contains(&e.len()) && digits(e)
        });
        (mantissa_ok && exponent_ok).then(|| cell.parse().ok()).flatten()
    }

    fn compare(table: &Table, expected: &Expected) -> Result<(), String> {
        if table.rows != expected.rows {
            return Err(format!("{} rows read, a plain reader finds {}", table.rows, expected.rows));
        }
        let got_ids = table.id.as_ref().map(|c| (c.name.clone(), c.values.clone()));
        if got_ids != expected.ids {
            let name = |c: &Option<(String, Vec<i64>)>| c.as_ref().map(|c| c.0.clone());
            return Err(format!(
                "ids differ from a plain reader's (column {:?} vs {:?})",
                name(&got_ids),
                name(&expected.ids)
            ));
        }
        let mut got: Vec<(Role, &str, &[f64])> = Vec::new();
        for (role, column) in [(Role::ZSpec, &table.z_spec), (Role::ZPhot, &table.z_phot)] {
            if let Some(c) = column {
                got.push((role, &c.name, &c.values));
            }
        }
        got.extend(table.magnitudes.iter().map(|c| (Role::Magnitude, c.name.as_str(), c.values.as_slice())));
        for (role, name, values) in &expected.columns {
            let Some((_, _, read)) = got.iter().find(|g| g.0 == *role && g.1 == name) else {
                return Err(format!("column '{name}' ({}) not read, a plain reader finds it", role.name()));
            };
            if let Some(row) = read.iter().zip(values).position(|(a, b)| a.to_bits() != b.to_bits()) {
                return Err(format!("column '{name}' row {}: {} read, {} expected", row + 1, read[row], values[row]));
            }
        }
        if got.len() != expected.columns.len() {
            return Err(format!("{} value columns read, a plain reader finds {}", got.len(), expected.columns.len()));
        }
        Ok(())
    }
}

mod parquet {
    use super::*;
    use polars::prelude::*;

    pub(super) struct ParquetTable {
        path: PathBuf,
        seeds: Vec<Seed>,
    }

    fn frame(rows: usize, with_null: bool) -> PolarsResult<DataFrame> {
        let pick = |k: usize| ROWS[k % ROWS.len()];
        let ids: Vec<i64> = (0..rows).map(|k| pick(k).0 + 100 * (k / ROWS.len()) as i64).collect();
        let zs: Vec<f64> = (0..rows).map(|k| pick(k).1).collect();
        let zp: Vec<f64> = (0..rows).map(|k| pick(k).2).collect();
        let g: Vec<Option<f64>> = (0..rows).map(|k| (!(with_null && k == 2)).then_some(pick(k).3)).collect();
        let r: Vec<f64> = (0..rows).map(|k| pick(k).4).collect();
        df!("object_id" => ids, "z_spec" => zs, "z_phot" => zp, "g" => g, "r" => r)
    }

    fn bytes(mut frame: DataFrame, compression: ParquetCompression, row_group: Option<usize>) -> PolarsResult<Vec<u8>> {
        let mut out = Vec::new();
        ParquetWriter::new(&mut out).with_compression(compression).with_row_group_size(row_group).finish(&mut frame)?;
        Ok(out)
    }

    /// The footer (Thrift metadata, its length and the magic) of a Parquet file.
    fn footer(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
        let n = bytes.len();
        let len = u32::from_le_bytes(bytes.get(n.checked_sub(8)?..n - 4)?.try_into().ok()?) as usize;
        Some(n.checked_sub(8 + len)?..n)
    }

    pub(super) fn build(dir: &Path) -> Result<Box<dyn Harness>, String> {
        let mut seeds = Vec::new();
        for (name, frame, compression, row_group) in [
            ("uncompressed", frame(6, false), ParquetCompression::Uncompressed, None),
            ("default compression, a null", frame(6, true), ParquetCompression::default(), None),
            ("3 row groups", frame(30, false), ParquetCompression::Uncompressed, Some(10)),
        ] {
            let bytes = bytes(frame.ctx("writing the Parquet seeds")?, compression, row_group)
                .ctx("writing the Parquet seeds")?;
            let hot = footer(&bytes);
            seeds.push(Seed::binary(name, bytes, hot));
        }
        Ok(Box::new(ParquetTable { path: dir.join("table.parquet"), seeds }))
    }

    impl Harness for ParquetTable {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let (requests, options) = requests_for(input.variant);
            match load_input(&self.path, &input.bytes, |path| read_table(path, &requests, &options)) {
                Ok(table) => match check_table(&table, &requests) {
                    Ok(()) => Outcome::Ok,
                    Err(wrong) => Outcome::Wrong(wrong),
                },
                Err(outcome) => outcome,
            }
        }
    }
}

mod galaxiesml {
    use super::*;
    use pzbench_io::galaxiesml::{read_truth, Column, ColumnData, Dtype, GalaxiesMlFile, GalaxiesMlWriter, BANDS};
    use pzbench_io::images::{Hdf5Images, ImageSource};
    use pzbench_io::selection::Summary;

    pub(super) struct Hdf5Target {
        path: PathBuf,
        seeds: Vec<Seed>,
    }

    const N: usize = 3;
    const S: usize = 2;

    fn columns() -> Vec<Column> {
        let col = |name: &str, data| Column { name: name.to_string(), data };
        let mut columns = vec![
            col("object_id", ColumnData::I64(vec![11, 12, 13])),
            col("specz_redshift", ColumnData::F64(vec![0.1, 0.5, 1.9])),
            col("specz_redshift_err", ColumnData::F64(vec![0.001, 0.002, 0.01])),
            col("specz_name", ColumnData::Str(vec!["DEIMS-1".into(), "VVDS".into(), "é".into()])),
            col("specz_flag_homogeneous", ColumnData::Bool(vec![true, false, true])),
        ];
        for (b, band) in BANDS.iter().enumerate() {
            let mags = (0..N).map(|k| 20.0 + b as f64 + k as f64 * 0.5).collect();
            columns.push(col(&format!("{band}_cmodel_mag"), ColumnData::F64(mags)));
        }
        columns
    }

    fn pixels() -> Vec<f32> {
        (0..N * 5 * S * S).map(|k| k as f32 * 0.25).collect()
    }

    /// A file as pzbench writes it: contiguous, early-allocated image.
    fn written(dir: &Path) -> pzbench_io::Result<Vec<u8>> {
        let path = dir.join("seed-written.hdf5");
        let mut writer = GalaxiesMlWriter::create(&path, N, S)?;
        for column in columns() {
            writer.write_column(&column)?;
        }
        writer.write_images(0, &pixels())?;
        writer.finish()?;
        std::fs::read(&path).map_err(|e| Error::file(&path, e.to_string()))
    }

    /// A file as h5py may write it: chunked, shuffled and deflated keys, int32 ids, float32 z.
    fn chunked(dir: &Path) -> ::hdf5::Result<Vec<u8>> {
        let path = dir.join("seed-chunked.hdf5");
        let file = ::hdf5::File::create(&path)?;
        let image = ndarray::Array4::from_shape_vec((N, 5, S, S), pixels()).map_err(|e| e.to_string())?;
        let deflate = ::hdf5::filters::deflate_available();
        let mut b = file.new_dataset_builder().with_data(&image).chunk((1, 5, S, S));
        if deflate {
            b = b.shuffle().deflate(4);
        }
        b.create("image")?;
        file.new_dataset_builder().with_data(&[11i32, 12, 13]).chunk(2).create("object_id")?;
        let mut b = file.new_dataset_builder().with_data(&[0.1f32, 0.5, 1.9]).chunk(2);
        if deflate {
            b = b.deflate(6);
        }
        b.create("specz_redshift")?;
        for band in BANDS {
            file.new_dataset_builder()
                .with_data(&[21.0f64, 22.0, 23.5])
                .create(format!("{band}_cmodel_mag").as_str())?;
        }
        file.close()?;
        std::fs::read(&path).map_err(|e| e.to_string().into())
    }

    pub(super) fn build(dir: &Path) -> Result<Box<dyn Harness>, String> {
        let a = written(dir).ctx("writing the HDF5 seed")?;
        let b = chunked(dir).ctx("writing the chunked HDF5 seed")?;
        let seeds = vec![
            Seed::binary("as pzbench writes", a, Some(0..2048)),
            Seed::binary("chunked, deflate", b, Some(0..2048)),
        ];
        Ok(Box::new(Hdf5Target { path: dir.join("data.hdf5"), seeds }))
    }

    impl Harness for Hdf5Target {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let file = match load_input(&self.path, &input.bytes, |path| GalaxiesMlFile::open(path)) {
                Ok(file) => file,
                Err(outcome) => return outcome,
            };
            // Each step as a command would run it; the first error is the outcome.
            let mut first_error = None;
            let mut keep = |r: pzbench_io::Result<()>| {
                if let Err(e) = r {
                    first_error.get_or_insert(e);
                }
            };
            // pzbench inspect
            keep(Summary::of(&file).map(drop));
            // every numeric key, as training reads magnitudes and ids (no command reads the
            // string keys' values: inspect lists them only)
            let numeric: Vec<String> = file
                .keys()
                .iter()
                .filter(|k| k.name != "image" && k.native.is_some_and(|d| d != Dtype::Str))
                .map(|k| k.name.clone())
                .collect();
            for key in numeric {
                keep(file.read_f64(&key).map(drop));
            }
            // score --truth FILE.hdf5
            match read_truth(&self.path) {
                Ok((ids, z)) if ids.len() != z.len() => {
                    return Outcome::Wrong(format!("{} ids for {} redshifts", ids.len(), z.len()))
                }
                r => keep(r.map(drop)),
            }
            // the first image rows, through HDF5 and as training reads them
            if let Ok((n, c, h, w)) = file.image_shape() {
                if n > 0 {
                    match file.read_images(0, 1) {
                        Ok(pixels) if pixels.len() != c * h * w => {
                            return Outcome::Wrong(format!("{} pixels read for a {c}x{h}x{w} image", pixels.len()))
                        }
                        r => keep(r.map(drop)),
                    }
                    let rows: Vec<usize> = (0..n.min(3)).collect();
                    match GalaxiesMlFile::open(&self.path).and_then(Hdf5Images::new) {
                        Ok(images) => {
                            let mut out = Vec::new();
                            match images.read_rows(&rows, &mut out) {
                                Ok(()) if out.len() != rows.len() * c * h * w => {
                                    return Outcome::Wrong(format!("{} pixels for {} rows", out.len(), rows.len()))
                                }
                                r => keep(r),
                            }
                        }
                        Err(e) => keep(Err(e)),
                    }
                }
            }
            match first_error {
                Some(e) => e.into(),
                None => Outcome::Ok,
            }
        }
    }
}

mod checkpoint {
    use super::*;
    use pzbench_models::{predict_file, Architecture, Dataset, Device, InputSpec, Model, NnConfig, PredictRequest};
    use sha2::{Digest, Sha256};

    const BANDS: [&str; 5] = ["g", "r", "i", "z", "y"];

    /// Which of the checkpoint's files the inputs replace.
    #[derive(Clone, Copy, PartialEq)]
    enum Mutated {
        Weights,
        ModelJson,
        InputsJson,
    }

    pub(super) struct Checkpoint {
        dir: PathBuf,
        data: PathBuf,
        mutated: Mutated,
        model_json: serde_json::Value,
        seeds: Vec<Seed>,
    }

    fn build(dir: &Path, mutated: Mutated) -> Result<Box<dyn Harness>, String> {
        let n = 40;
        let mags: Vec<f32> = (0..n * 5).map(|k| 20.0 + ((k * 7919) % 600) as f32 / 100.0).collect();
        let z: Vec<f32> = (0..n).map(|k| 0.05 + k as f32 * 0.05).collect();
        let data = Dataset::new((0..n as i64).collect(), mags, 5)
            .and_then(|d| d.with_redshifts(z))
            .ctx("building the NN checkpoint seed")?;
        let model = Model::new(Architecture::Nn(NnConfig::galaxiesml()), &data, 1, &Device::Cpu)
            .ctx("building the NN checkpoint seed")?;
        let ckpt = dir.join("ckpt");
        model.save(&ckpt).ctx("building the NN checkpoint seed")?;
        let spec = InputSpec {
            bands: BANDS.iter().map(|b| b.to_string()).collect(),
            non_detection: 99.0,
            fill: vec![26.0, 26.0, 25.5, 25.0, 24.5],
            colors: false,
            scale: None,
        };
        spec.save(&ckpt).ctx("building the NN checkpoint seed")?;
        let data_path = dir.join("catalogue.csv");
        std::fs::write(&data_path, "id,redshift,g,r,i,z,y\n1,0.5,22,21.5,21,20.8,20.5\n2,1.1,24,23.5,99,22.8,22.5\n3,0.2,20,19.5,19,18.9,18.8\n")
            .ctx("building the NN checkpoint seed")?;
        let read = |name: &str| std::fs::read(ckpt.join(name)).ctx("building the NN checkpoint seed");
        let model_json_bytes = read("model.json")?;
        let model_json: serde_json::Value =
            serde_json::from_slice(&model_json_bytes).ctx("building the NN checkpoint seed")?;
        let seeds = match mutated {
            Mutated::Weights => {
                let weights = read("model.safetensors")?;
                let header =
                    8 + u64::from_le_bytes(weights[..8].try_into().ctx("building the NN checkpoint seed")?) as usize;
                vec![Seed::binary("NN weights", weights, Some(0..header))]
            }
            Mutated::ModelJson => {
                // The NN's model.json, and the same turned into a CNN's (whose weights the NN's
                // file then lacks).
                let mut cnn = model_json.clone();
                cnn["architecture"] = serde_json::json!({"kind": "cnn", "image_size": 32, "n_bands": 5, "n_mags": 5});
                cnn["scaler"] = serde_json::Value::Null;
                cnn["image_scale"] = serde_json::json!(255.0);
                let cnn = serde_json::to_vec_pretty(&cnn).ctx("building the NN checkpoint seed")?;
                vec![Seed::text("NN model.json", model_json_bytes.clone()), Seed::text("CNN model.json", cnn)]
            }
            Mutated::InputsJson => {
                let mut colors = spec.clone();
                colors.colors = true;
                colors.scale = Some(pzbench_models::MinMaxScaler { min: vec![18.0; 9], max: vec![27.0; 9] });
                let colors = serde_json::to_vec_pretty(&colors).ctx("building the NN checkpoint seed")?;
                vec![
                    Seed::text("inputs.json", read("inputs.json")?),
                    Seed::text("inputs.json, colours, scaled", colors),
                ]
            }
        };
        Ok(Box::new(Checkpoint { dir: ckpt, data: data_path, mutated, model_json, seeds }))
    }

    pub(super) fn build_safetensors(dir: &Path) -> Result<Box<dyn Harness>, String> {
        build(dir, Mutated::Weights)
    }

    pub(super) fn build_model_json(dir: &Path) -> Result<Box<dyn Harness>, String> {
        build(dir, Mutated::ModelJson)
    }

    pub(super) fn build_inputs_json(dir: &Path) -> Result<Box<dyn Harness>, String> {
        build(dir, Mutated::InputsJson)
    }

    impl Checkpoint {
        fn file(&self) -> &'static str {
            match self.mutated {
                Mutated::Weights => "model.safetensors",
                Mutated::ModelJson => "model.json",
                Mutated::InputsJson => "inputs.json",
            }
        }
    }

    impl Harness for Checkpoint {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let path = self.dir.join(self.file());
            if let Err(e) = write(&path, &input.bytes) {
                return e.into();
            }
            // Most weight inputs come with their checksum fixed up in model.json, so that they
            // reach the safetensors parser rather than stop at the checksum. (model.json is
            // rewritten for every weight input, so an earlier input never leaves it changed.)
            if self.mutated == Mutated::Weights {
                let mut meta = self.model_json.clone();
                if !input.variant.is_multiple_of(4) {
                    meta["files"]["model.safetensors"] =
                        format!("sha256:{}", pzbench_io::hex(&Sha256::digest(&input.bytes))).into();
                }
                let text = serde_json::to_vec_pretty(&meta).unwrap_or_default();
                if let Err(e) = write(&self.dir.join("model.json"), &text) {
                    return e.into();
                }
            }
            let request = PredictRequest::new(self.dir.clone(), self.data.clone());
            match predict_file(&request, &mut |_| {}) {
                // (The ids are the catalogue's, or row numbers when inputs.json names the id column
                // as a band: noticed, left alone.)
                Ok(predictions) if predictions.len() != 3 || predictions.ids.len() != 3 => {
                    Outcome::Wrong(format!("{} predictions for 3 galaxies", predictions.len()))
                }
                Ok(_) => Outcome::Ok,
                Err(e) => e.into(),
            }
        }
    }
}

mod boards {
    use super::*;
    use pzbench_metrics::Metric;
    use pzbench_report::leaderboard::Board;

    const BOARD: &str = include_str!("../../../leaderboards/synthetic_64px_seed1.json");

    pub(super) struct Boards {
        path: PathBuf,
        seeds: Vec<Seed>,
    }

    pub(super) fn build(dir: &Path) -> Result<Box<dyn Harness>, String> {
        let full = Board::parse(Path::new("synthetic_64px_seed1.json"), BOARD).ctx("building the leaderboard seeds")?;
        let mut two = full.clone();
        two.entries.truncate(2);
        let mut one = full.clone();
        one.entries.truncate(1);
        one.entries[0].intervals = None;
        one.title = Some("Photo-z <leaderboard> & \"friends\"".into());
        let seeds = vec![
            Seed::text("two entries", two.to_json().ctx("building the leaderboard seeds")?),
            Seed::text("one entry, a title, no intervals", one.to_json().ctx("building the leaderboard seeds")?),
            Seed::text("empty", Board::new().to_json().ctx("building the leaderboard seeds")?),
        ];
        Ok(Box::new(Boards { path: dir.join("board.json"), seeds }))
    }

    impl Harness for Boards {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let board = match load_input(&self.path, &input.bytes, Board::load) {
                Ok(board) => board,
                Err(outcome) => return outcome,
            };
            let by = Metric::VALUES[(input.variant % Metric::VALUES.len() as u64) as usize];
            let _ = (board.to_terminal(by), board.to_markdown(by), board.to_html(by), board.ranked(by));
            // A board pzbench loaded, it can write back, and reads back the same.
            let text = match board.to_json() {
                Ok(text) => text,
                Err(e) => return Outcome::Wrong(format!("a loaded board cannot be written back: {e}")),
            };
            match Board::parse(&self.path, &text) {
                Ok(again) if again == board => {}
                Ok(_) => return Outcome::Wrong("the board written back reads differently".into()),
                Err(e) => return Outcome::Wrong(format!("the board written back does not load: {e}")),
            }
            // leaderboard add of a copy of an entry under a new name (and under its own).
            if let Some(first) = board.entries.first().cloned() {
                let mut copy = board.clone();
                let mut entry = first.clone();
                entry.name = format!("{}-copy", first.name);
                if let Err(e) = copy.add(&self.path, entry, false, false) {
                    return e.into();
                }
                if copy.entries.len() != board.entries.len() + 1
                    && !board.entries.iter().any(|e| e.name.ends_with("-copy"))
                {
                    return Outcome::Wrong("add did not add the entry".into());
                }
                if copy.add(&self.path, first, false, false).is_ok() {
                    return Outcome::Wrong("add accepted a name already on the board".into());
                }
                if let Err(e) = copy.to_json() {
                    return Outcome::Wrong(format!("a board with an added entry cannot be written: {e}"));
                }
            }
            Outcome::Ok
        }
    }
}

mod gate {
    use super::*;
    use pzbench_gate::baseline::{align, check_score_matches, load_baseline, Baseline};
    use pzbench_gate::policy::Policy;
    use pzbench_gate::{compare, BaselineSide};
    use pzbench_io::sample::SampleOptions;
    use pzbench_metrics::{Bins, Grouped};

    const NN_BASELINE: &str = include_str!("../../../baselines/fixture_nn.baseline.json");

    /// A small sample to gate: z_spec and two sets of z_phot.
    fn sample() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let z: Vec<f64> = (0..40).map(|k| 0.05 + k as f64 * 0.07).collect();
        let a = z.iter().enumerate().map(|(k, z)| z + 0.02 * ((k % 5) as f64 - 2.0)).collect();
        let b = z.iter().enumerate().map(|(k, z)| z * 1.01 + 0.03 * ((k % 3) as f64 - 1.0)).collect();
        (z, a, b)
    }

    pub(super) struct PolicyTarget {
        path: PathBuf,
        seeds: Vec<Seed>,
    }

    pub(super) fn build_policy(dir: &Path) -> Result<Box<dyn Harness>, String> {
        let seeds = vec![
            Seed::text(
                "every key",
                "# the gate's policy\nconfidence = 0.95\ncorrection = \"bonferroni\"\nresamples = 200\nseed = 42\nbins = true\nmin_galaxies_per_bin = 5\n\n[metrics]\nloss = { relative = 0.05 }\nbias = { absolute = 0.002 }\nscatter = { relative = 0.05, absolute = 0.0 }\noutlier_frac = { absolute = 0.005 }\nmse = { relative = 0.10 }\n",
            ),
            Seed::text("minimal", "resamples = 100\n[metrics]\nloss = { relative = 0.1 }\n"),
            Seed::text(
                "tables, CRLF, BOM",
                "\u{feff}correction = 'none'\r\nresamples = 150\r\n\r\n[metrics.sigma_iqr]\r\nrelative = 0.2\r\n\r\n[metrics.bias_bw]\r\nabsolute = 1e-3\r\n",
            ),
        ];
        Ok(Box::new(PolicyTarget { path: dir.join("policy.toml"), seeds }))
    }

    impl Harness for PolicyTarget {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let policy = match load_input(&self.path, &input.bytes, Policy::load) {
                Ok(policy) => policy,
                Err(outcome) => return outcome,
            };
            if let Err(e) = policy.validate() {
                return Outcome::Wrong(format!("a loaded policy does not validate: {e}"));
            }
            // The gate under it, when it is quick (bootstrap cost grows with `resamples`).
            if policy.resamples <= 2000 {
                let bins = Bins::galaxiesml_default();
                let (z, a, b) = sample();
                let base = Grouped::new(z.clone(), a, &bins);
                let cand = Grouped::new(z, b, &bins);
                let report = compare(BaselineSide::Paired(&base), &cand, &bins, &policy);
                if report.comparisons.iter().any(|c| {
                    c.interval
                        .is_some_and(|i| matches!(i.lo.partial_cmp(&i.hi), None | Some(std::cmp::Ordering::Greater)))
                }) {
                    return Outcome::Wrong("an interval with lo > hi".into());
                }
            }
            Outcome::Ok
        }
    }

    pub(super) struct BaselineTarget {
        path: PathBuf,
        seeds: Vec<Seed>,
    }

    pub(super) fn build_baseline(dir: &Path) -> Result<Box<dyn Harness>, String> {
        let value: serde_json::Value = serde_json::from_str(NN_BASELINE).ctx("building the baseline seeds")?;
        let score = serde_json::to_vec_pretty(&value["score"]).ctx("building the baseline seeds")?;
        let seeds = vec![Seed::text("baseline save", NN_BASELINE), Seed::text("score --format json", score)];
        Ok(Box::new(BaselineTarget { path: dir.join("baseline.json"), seeds }))
    }

    impl Harness for BaselineTarget {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let baseline =
                match load_input(&self.path, &input.bytes, |path| load_baseline(path, &SampleOptions::default())) {
                    Ok(baseline) => baseline,
                    Err(outcome) => return outcome,
                };
            let bins = Bins::galaxiesml_default();
            let policy = Policy { resamples: 100, ..Policy::default() };
            match baseline {
                Baseline::Predictions(sample) => {
                    let n = sample.z_spec.len();
                    if sample.z_phot.len() != n || sample.ids.as_ref().is_some_and(|ids| ids.len() != n) {
                        return Outcome::Wrong("galaxies of different lengths accepted".into());
                    }
                    if let Some(v) = sample.z_spec.iter().chain(&sample.z_phot).find(|v| !v.is_finite()) {
                        return Outcome::Wrong(format!("a redshift of {v} accepted"));
                    }
                    if let Some(v) = sample.z_spec.iter().find(|v| **v <= -1.0) {
                        return Outcome::Wrong(format!("z_spec {v} <= -1 accepted (the table reader refuses it)"));
                    }
                    if let Some(ids) = &sample.ids {
                        let mut sorted = ids.clone();
                        sorted.sort_unstable();
                        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                            return Outcome::Wrong(format!(
                                "duplicate object_id {} accepted (the table reader refuses it)",
                                w[0]
                            ));
                        }
                    }
                    // pzbench gate with the baseline as its own candidate.
                    let aligned = match align(&sample, &sample, &self.path) {
                        Ok(aligned) => aligned,
                        Err(e) => return Outcome::Wrong(format!("a baseline does not align with itself: {e}")),
                    };
                    let base = Grouped::new(aligned.z_spec.clone(), aligned.baseline, &bins);
                    let cand = Grouped::new(aligned.z_spec, aligned.candidate, &bins);
                    let report = compare(BaselineSide::Paired(&base), &cand, &bins, &policy);
                    if report.regressions > 0 {
                        return Outcome::Wrong("a baseline regresses against itself".into());
                    }
                }
                Baseline::Score { evaluation, edges, count } => {
                    if let Err(e) = check_score_matches(&self.path, &edges, count, &bins, count) {
                        return e.into();
                    }
                    let (z, a, _) = sample();
                    let cand = Grouped::new(z, a, &bins);
                    let _ = compare(BaselineSide::Fixed(&evaluation), &cand, &bins, &policy);
                }
            }
            Outcome::Ok
        }
    }
}

mod nz {
    use super::*;
    use pzbench_synth::generate::NzSource;
    use rand::SeedableRng;

    const HSC: &str = include_str!("../../../fixtures/data/nz_hsc_specz.csv");

    pub(super) struct Nz {
        path: PathBuf,
        seeds: Vec<Seed>,
    }

    pub(super) fn build(dir: &Path) -> Result<Box<dyn Harness>, String> {
        let short: String = HSC.lines().take(40).map(|l| format!("{l}\n")).collect();
        let seeds = vec![
            Seed::text("HSC spec-z n(z), first lines", short),
            Seed::text("small, no header", "0.1,1\n0.5,2\n1.0,0.5\n2.0,0\n"),
            Seed::text("BOM, CRLF, comments", "\u{feff}# n(z)\r\nz,weight\r\n0.01,0\r\n0.8,3\r\n\r\n3.9,0.1\r\n"),
        ];
        Ok(Box::new(Nz { path: dir.join("nz.csv"), seeds }))
    }

    impl Harness for Nz {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            let table = match load_input(&self.path, &input.bytes, |path| NzSource::File(path.to_path_buf()).table()) {
                Ok(table) => table,
                Err(outcome) => return outcome,
            };
            let (lo, hi) = table.range();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(input.variant);
            for _ in 0..16 {
                let z = table.sample(&mut rng);
                if !(lo..=hi).contains(&z) {
                    return Outcome::Wrong(format!("drew z = {z} outside the table's {lo}–{hi}"));
                }
            }
            if !table.pdf(table.mode()).is_finite() {
                return Outcome::Wrong("the density at the mode is not finite".into());
            }
            Outcome::Ok
        }
    }
}

mod selftest {
    use super::*;

    /// Misbehaves on purpose, by its input's variant: panics, asks for 64 GiB (infallibly, then
    /// fallibly), hangs, crashes, returns an empty error message or a wrong result; or is fine.
    pub(super) struct SelfTest {
        seeds: Vec<Seed>,
    }

    pub(super) fn build(_dir: &Path) -> Result<Box<dyn Harness>, String> {
        Ok(Box::new(SelfTest { seeds: vec![Seed::text("anything", "abcdefgh")] }))
    }

    impl Harness for SelfTest {
        fn seeds(&self) -> &[Seed] {
            &self.seeds
        }

        fn run(&mut self, input: &Input) -> Outcome {
            match input.variant % 8 {
                0 => panic!("a panic on purpose"),
                1 => {
                    let v: Vec<u8> = Vec::with_capacity(64 << 30);
                    Outcome::Wrong(format!("allocated {} bytes", v.capacity()))
                }
                2 => {
                    let mut v: Vec<u8> = Vec::new();
                    match v.try_reserve(32 << 30) {
                        Ok(()) => Outcome::Wrong("reserved 32 GiB".into()),
                        Err(_) => Outcome::Error(Error::other("out of memory, handled")),
                    }
                }
                3 => {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                    Outcome::Ok
                }
                4 => std::process::abort(),
                5 => Outcome::Error(Error::other("")),
                6 => Outcome::Wrong("wrong on purpose".into()),
                _ => Outcome::Ok,
            }
        }
    }
}
