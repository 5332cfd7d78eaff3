//! `pzbench score` out of core (issue 19): a directory, a glob pattern or `--out-of-core` gives the
//! JSON of the in-memory path on the files concatenated, bit for bit but for the `input` block; and
//! the errors of data sets (one line, exit code 2, no partial output).

use std::path::Path;

use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tempfile::TempDir;

use pzbench_io::table::{BLOCK_BYTES, PARQUET_SLICE_ROWS};

use super::util::{assert_one_error_line, pzbench};

/// Galaxies with ids, z_spec and z_phot: redshifts on a coarse grid (ties, and values on bin
/// edges), some outside the default bins (z_spec = 0 or above 4), outliers, and z_phot = -0.0.
struct Galaxies {
    ids: Vec<i64>,
    z_spec: Vec<f64>,
    z_phot: Vec<f64>,
}

impl Galaxies {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut galaxies = Galaxies { ids: Vec::new(), z_spec: Vec::new(), z_phot: Vec::new() };
        for i in 0..n {
            let z_spec = f64::from(rng.random_range(0..=4500u32)) / 1000.0;
            let z_phot = match rng.random_range(0..50) {
                0 => -0.0,
                1 => f64::from(rng.random_range(0..=3000u32)) / 1000.0,
                _ => (z_spec + rng.random_range(-0.08..0.08) * (1.0 + z_spec)).max(0.0),
            };
            galaxies.ids.push(i as i64 * 3 + 7);
            galaxies.z_spec.push(z_spec);
            galaxies.z_phot.push(z_phot);
        }
        galaxies
    }

    /// Rows `range` (start..end), as their own galaxies.
    fn slice(&self, start: usize, end: usize) -> Galaxies {
        Galaxies {
            ids: self.ids[start..end].to_vec(),
            z_spec: self.z_spec[start..end].to_vec(),
            z_phot: self.z_phot[start..end].to_vec(),
        }
    }

    fn write_parquet(&self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut frame = df!("object_id" => &self.ids, "z_spec" => &self.z_spec, "z_phot" => &self.z_phot).unwrap();
        ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut frame).unwrap();
    }

    /// CSV without ids (Rust's shortest round-trip text, so the values read back exactly).
    fn csv(&self) -> String {
        let mut text = String::from("z_spec,z_phot\n");
        for (z_spec, z_phot) in self.z_spec.iter().zip(&self.z_phot) {
            text.push_str(&format!("{z_spec},{z_phot}\n"));
        }
        text
    }

    /// [`Galaxies::csv`] with a column `note` that is not read, so that the rows fill more than
    /// one block of text ([`BLOCK_BYTES`]).
    fn padded_csv(&self) -> String {
        let mut text = String::from("z_spec,note,z_phot\n");
        for (z_spec, z_phot) in self.z_spec.iter().zip(&self.z_phot) {
            text.push_str(&format!("{z_spec},not read by pzbench,{z_phot}\n"));
        }
        text
    }
}

/// Split `n` rows into parts of these uneven sizes (the last takes the rest).
fn uneven_parts(n: usize) -> Vec<(usize, usize)> {
    let sizes = [1, 0, 2_345, 17, 0, 6_000, 3];
    let mut parts = Vec::new();
    let mut start = 0;
    for size in sizes {
        parts.push((start, start + size));
        start += size;
    }
    parts.push((start, n));
    parts
}

/// `pzbench score ARGS --format json --quiet`, parsed.
fn score_json(args: &[&str]) -> Value {
    let output = pzbench().arg("score").args(args).args(["--format", "json", "--quiet"]).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The report's JSON text without its `input` block (which describes what was read).
fn without_input(mut report: Value) -> String {
    report.as_object_mut().unwrap().remove("input").expect("an input block");
    serde_json::to_string(&report).unwrap()
}

/// `pzbench score` of `data_set` and of `whole` (the files concatenated) with `extra` flags: the
/// same JSON but for `input`, bit for bit; returns the data set's report.
fn assert_same_as_in_memory(data_set: &Path, whole: &Path, extra: &[&str]) -> Value {
    let arg = |path: &Path| path.to_str().unwrap().to_string();
    let in_memory = score_json(&[[arg(whole).as_str()].as_slice(), extra].concat());
    let out_of_core = score_json(&[[arg(data_set).as_str()].as_slice(), extra].concat());
    assert_eq!(without_input(out_of_core.clone()), without_input(in_memory), "{extra:?}");
    out_of_core
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_hive_partitioned_parquet_directory_scores_as_the_concatenated_file() {
    let dir = TempDir::new().unwrap();
    let galaxies = Galaxies::new(20_000, 1);
    let data_set = dir.path().join("catalogue");
    for (k, (start, end)) in uneven_parts(20_000).into_iter().enumerate() {
        let partition = data_set.join(format!("tract={}", k % 3)).join(format!("part-{k}.parquet"));
        galaxies.slice(start, end).write_parquet(&partition);
    }
    std::fs::write(data_set.join("_SUCCESS"), "").unwrap();
    let whole = dir.path().join("whole.parquet");
    galaxies.write_parquet(&whole);
    let report = assert_same_as_in_memory(&data_set, &whole, &[]);
    let input = &report["input"];
    assert_eq!(input["path"], text(&data_set));
    assert_eq!(input["format"], "parquet dataset (8 files)");
    assert_eq!((input["rows"].as_u64(), input["dropped_invalid"].as_u64()), (Some(20_000), Some(0)));
    assert_eq!(input["columns"]["id"], "object_id");
    assert!(input.get("sha256").is_none(), "{input}");
    assert!(report["n_outside_bins"].as_u64().unwrap() > 0);
    assert_same_as_in_memory(&data_set, &whole, &["--bins", "0:2:0.25", "--bin-on", "zphot"]);
}

#[test]
fn a_glob_of_csv_files_scores_as_the_concatenated_file() {
    let dir = TempDir::new().unwrap();
    let galaxies = Galaxies::new(12_000, 2);
    for (k, (start, end)) in uneven_parts(12_000).into_iter().enumerate() {
        std::fs::write(dir.path().join(format!("preds_{k}.csv")), galaxies.slice(start, end).csv()).unwrap();
    }
    let whole = dir.path().join("all.csv");
    std::fs::write(&whole, galaxies.csv()).unwrap();
    let pattern = dir.path().join("preds_*.csv");
    let report = assert_same_as_in_memory(&pattern, &whole, &["--edges", "0,0.5,1,2,4"]);
    assert_eq!(report["input"]["format"], "','-separated dataset (8 files)");
    assert_eq!(report["input"]["columns"]["id"], Value::Null);
    // A file of more than one block of text, whose rows are handed over block by block.
    let big = dir.path().join("big.csv");
    std::fs::write(&big, Galaxies::new(400_000, 3).padded_csv()).unwrap();
    assert!(std::fs::metadata(&big).unwrap().len() > BLOCK_BYTES as u64);
    let report = score_json(&[text(&big), "--out-of-core"]);
    assert_eq!(without_input(report.clone()), without_input(score_json(&[text(&big)])));
    assert_eq!(report["input"]["format"], "','-separated dataset (1 file)");
}

#[test]
fn out_of_core_on_one_file_matches_the_in_memory_path_with_bins_and_dropped_rows() {
    let dir = TempDir::new().unwrap();
    let galaxies = Galaxies::new(5_000, 4);
    let mut csv = galaxies.csv();
    csv.push_str("0.5,nan\n,0.3\n1.5,inf\n");
    let path = dir.path().join("preds.csv");
    std::fs::write(&path, csv).unwrap();
    let run = |extra: &[&str]| {
        let args = [&[text(&path), "--drop-invalid"], extra].concat();
        let in_memory = score_json(&args);
        let out_of_core = score_json(&[args.as_slice(), &["--out-of-core"]].concat());
        assert_eq!(without_input(out_of_core.clone()), without_input(in_memory.clone()), "{extra:?}");
        assert_eq!(out_of_core["input"]["dropped_invalid"], in_memory["input"]["dropped_invalid"]);
        assert_eq!(out_of_core["input"]["dropped_invalid"], 3);
    };
    run(&[]);
    run(&["--bins", "0.5:3:0.5"]);
    run(&["--bins", "0:1:0.1", "--bin-on", "zphot"]);
}

#[test]
fn a_bad_row_is_named_by_its_file_and_line_as_in_memory_and_no_report_is_written() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("preds_0.csv"), Galaxies::new(50, 5).padded_csv()).unwrap();
    // The NaN lies in the second block of text of the second file.
    let mut bad = Galaxies::new(400_000, 6).padded_csv();
    assert!(bad.len() > BLOCK_BYTES);
    bad.push_str("0.5,,nan\n0.6,,0.7\n");
    let bad_path = dir.path().join("preds_1.csv");
    std::fs::write(&bad_path, bad).unwrap();
    let in_memory = pzbench().arg("score").arg(&bad_path).output().unwrap();
    let in_memory = String::from_utf8(in_memory.stderr).unwrap();
    assert!(in_memory.contains("preds_1.csv: line 400002, column 'z_phot' is NaN; fix the row"), "{in_memory}");
    let out = dir.path().join("report.json");
    for data_set in [dir.path().join("preds_*.csv"), dir.path().to_path_buf()] {
        let output = pzbench().arg("score").arg(&data_set).arg("--output").arg(&out).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_one_error_line(&stderr, &[]);
        assert_eq!(stderr.lines().last(), in_memory.lines().last(), "{stderr}");
        assert!(!out.exists(), "partial output left behind");
    }
}

#[test]
fn a_parquet_file_of_several_slices_streams_as_it_is_read_in_memory() {
    let dir = TempDir::new().unwrap();
    let n = PARQUET_SLICE_ROWS + 50_000;
    let mut galaxies = Galaxies::new(n, 9);
    // A NaN in the second slice.
    galaxies.z_phot[PARQUET_SLICE_ROWS + 1_000] = f64::NAN;
    let path = dir.path().join("big.parquet");
    galaxies.write_parquet(&path);
    let error = |extra: &[&str]| {
        let output = pzbench().arg("score").arg(&path).args(extra).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        String::from_utf8(output.stderr).unwrap()
    };
    let in_memory = error(&[]);
    let expected = format!("big.parquet: row {}, column 'z_phot' is NaN", PARQUET_SLICE_ROWS + 1_001);
    assert!(in_memory.contains(&expected), "{in_memory}");
    assert_eq!(error(&["--out-of-core"]), in_memory);
    let in_memory = score_json(&[text(&path), "--drop-invalid"]);
    let out_of_core = score_json(&[text(&path), "--drop-invalid", "--out-of-core"]);
    assert_eq!(without_input(out_of_core.clone()), without_input(in_memory));
    assert_eq!(
        (out_of_core["input"]["rows"].as_u64(), out_of_core["input"]["dropped_invalid"].as_u64()),
        (Some(n as u64 - 1), Some(1))
    );
}

/// `pzbench score PATH EXTRA` must exit 2 with one error line holding every needle.
fn expect_error(path: &Path, extra: &[&str], needles: &[&str]) {
    let output = pzbench().arg("score").arg(path).args(extra).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_one_error_line(&stderr, needles);
}

#[test]
fn data_sets_that_cannot_be_scored_are_refused_in_one_line() {
    let dir = TempDir::new().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("year=2020")).unwrap();
    std::fs::write(empty.join("_SUCCESS"), "").unwrap();
    expect_error(&empty, &[], &[text(&empty), "no files in this directory or below it"]);
    let pattern = dir.path().join("nothing_*.parquet");
    expect_error(&pattern, &[], &[text(&pattern), "no file matches this pattern"]);

    let csvs = dir.path().join("csvs");
    std::fs::create_dir(&csvs).unwrap();
    std::fs::write(csvs.join("a.csv"), "z_spec,z_phot\n0.1,0.2\n").unwrap();
    std::fs::write(csvs.join("b.csv"), "z_spec,z_pred_typo\n0.1,0.2\n").unwrap();
    expect_error(&csvs, &[], &["b.csv: no z_phot column (looked for", "name it with --zphot-col"]);
    std::fs::write(csvs.join("b.csv"), "z_spec,z_phot\n0.1,0.2\n").unwrap();
    Galaxies::new(3, 7).write_parquet(&csvs.join("c.parquet"));
    expect_error(&csvs, &[], &["c.parquet: a Parquet file in a data set whose first file", "a.csv is text"]);
    std::fs::remove_file(csvs.join("c.parquet")).unwrap();
    std::fs::write(csvs.join("c.csv"), "object_id,z_spec,w_0,mu_0,sigma_0\n1,0.5,1,0.5,0.1\n").unwrap();
    expect_error(&csvs, &[], &["c.csv: a file of redshift PDFs in a data set"]);
    std::fs::remove_file(csvs.join("c.csv")).unwrap();

    let truth = csvs.join("a.csv");
    expect_error(&csvs, &["--truth", text(&truth)], &["out-of-core scoring reads z_spec from the files; join first"]);
    expect_error(&truth, &["--out-of-core", "--truth", text(&truth)], &["join first"]);
    expect_error(&csvs, &["--pit-out", "pit.csv"], &["--pit-out applies to PDF files", "drop --pit-out"]);
}

#[test]
fn the_poisson_bootstrap_runs_out_of_core_and_does_not_depend_on_the_partitioning() {
    let dir = TempDir::new().unwrap();
    let galaxies = Galaxies::new(20_000, 8);
    let data_set = dir.path().join("parts");
    for (k, (start, end)) in uneven_parts(20_000).into_iter().enumerate() {
        galaxies.slice(start, end).write_parquet(&data_set.join(format!("part-{k}.parquet")));
    }
    let whole = dir.path().join("whole.parquet");
    galaxies.write_parquet(&whole);
    let bootstrap = ["--bootstrap", "200", "--seed", "3"];
    let report = score_json(&[&[text(&data_set)], bootstrap.as_slice()].concat());
    let one_file = score_json(&[&[text(&whole), "--out-of-core"], bootstrap.as_slice()].concat());
    assert_eq!(without_input(report.clone()), without_input(one_file));
    let intervals = &report["intervals"];
    assert_eq!(intervals["resamples"], 200);
    let overall = intervals["overall"].as_object().unwrap();
    assert!(!overall.is_empty());
    for (metric, interval) in overall {
        let value = report["overall"][metric].as_f64().unwrap();
        let (lo, hi) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
        assert!(lo <= value && value <= hi, "{metric}: {value} outside [{lo}, {hi}]");
    }
}
