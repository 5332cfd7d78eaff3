//! `pzbench score` end to end: formats, column detection, joins, and every bad input the issue
//! lists (one clear line, exit code 2, no partial output file).

use std::path::{Path, PathBuf};

use polars::prelude::*;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

use super::util::{assert_one_error_line, pzbench};

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn write_parquet(dir: &TempDir, name: &str, ids: &[i64], z_spec: &[f64], z_phot: &[f64]) -> PathBuf {
    let path = dir.path().join(name);
    let mut frame = df!("object_id" => ids, "z_spec" => z_spec, "z_phot" => z_phot).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    ParquetWriter::new(file).finish(&mut frame).unwrap();
    path
}

fn score_json(args: &[&str], path: &Path) -> Value {
    let output = pzbench().arg("score").arg(path).args(["--format", "json", "--quiet"]).args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Run `score` on `path` expecting exit 2 with a one-line message containing every `needles`,
/// and check that `--output` left no file behind.
fn expect_error(path: &Path, extra: &[&str], needles: &[&str]) {
    let out_dir = TempDir::new().unwrap();
    let out = out_dir.path().join("report.json");
    let assert =
        pzbench().arg("score").arg(path).args(extra).args(["--format", "json", "--output"]).arg(&out).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_one_error_line(&stderr, needles);
    assert!(std::fs::read_dir(out_dir.path()).unwrap().next().is_none(), "partial output left behind");
}

const GOOD: &str = "object_id,z_spec,z_phot\n1,0.1,0.12\n2,0.5,0.45\n3,0.9,1.4\n";

#[test]
fn csv_tsv_whitespace_and_parquet_give_the_same_metrics() {
    let dir = TempDir::new().unwrap();
    let csv = score_json(&[], &write(&dir, "a.csv", GOOD));
    let tsv = score_json(&[], &write(&dir, "a.tsv", &GOOD.replace(',', "\t")));
    let ws = score_json(&[], &write(&dir, "a.txt", &GOOD.replace(',', "   ")));
    let pq = score_json(&[], &write_parquet(&dir, "a.parquet", &[1, 2, 3], &[0.1, 0.5, 0.9], &[0.12, 0.45, 1.4]));
    for other in [&tsv, &ws, &pq] {
        assert_eq!(csv["overall"], other["overall"]);
        assert_eq!(csv["per_bin"], other["per_bin"]);
    }
    // Quoted cells leave the fast numeric scanner for polars' full CSV parser: same values.
    let quoted = score_json(
        &[],
        &write(
            &dir,
            "q.csv",
            "\"object_id\",\"z_spec\",\"z_phot\"\n\"1\",\"0.1\",\"0.12\"\n2,0.5,0.45\n3,0.9,\"1.4\"\n",
        ),
    );
    assert_eq!(csv["overall"], quoted["overall"]);
    assert_eq!(pq["input"]["format"], "parquet");
    assert_eq!(ws["input"]["format"], "whitespace-separated");
}

#[test]
fn recognises_column_aliases_and_says_which_were_picked() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "p.csv", "id,specz_redshift,z_pred,extra\n7,0.3,0.31,x\n8,1.2,1.1,y\n");
    pzbench()
        .arg("score")
        .arg(&path)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("z_phot = 'z_pred'").and(predicate::str::contains("z_spec = 'specz_redshift'")),
        )
        .stdout(predicate::str::contains("overall"));
    let json = score_json(&["--zspec-col", "specz_redshift", "--zphot-col", "z_pred"], &path);
    assert_eq!(json["overall"]["count"], 2);
}

#[test]
fn real_lstm_predictions_run_with_no_flags() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/external/lstm_mdnz_galaxiesml_pred_z.dat");
    let json = score_json(&[], &path);
    assert_eq!(json["overall"]["count"], 28640);
    assert_eq!(json["input"]["columns"]["z_phot"], "photo_z_test");
    assert_eq!(json["input"]["columns"]["z_spec"], "spect_z_test");
}

#[test]
fn truth_join_from_csv_and_parquet() {
    let dir = TempDir::new().unwrap();
    let preds = write(&dir, "preds.csv", "object_id,z_phot\n3,1.4\n1,0.12\n2,0.45\n");
    let truth_csv = write(&dir, "truth.csv", "object_id,specz_redshift\n1,0.1\n2,0.5\n3,0.9\n");
    let truth_pq = write_parquet(&dir, "truth.parquet", &[2, 1, 3], &[0.5, 0.1, 0.9], &[0.0, 0.0, 0.0]);
    let direct = score_json(&[], &write(&dir, "direct.csv", GOOD));
    for truth in [&truth_csv, &truth_pq] {
        let joined = score_json(&["--truth", truth.to_str().unwrap()], &preds);
        assert_eq!(joined["overall"], direct["overall"]);
        assert_eq!(joined["input"]["truth"]["matched"], 3);
    }
}

#[test]
fn truth_coverage_errors_and_allow_missing() {
    let dir = TempDir::new().unwrap();
    let truth = write(&dir, "truth.csv", "object_id,z_spec\n1,0.1\n2,0.5\n3,0.9\n");
    let extra = write(&dir, "extra.csv", "object_id,z_phot\n1,0.1\n4,0.5\n");
    expect_error(
        &extra,
        &["--truth", truth.to_str().unwrap()],
        &["extra.csv", "1 of 2 predicted galaxies are not in the truth file", "object_id 4"],
    );
    let partial = write(&dir, "partial.csv", "object_id,z_phot\n1,0.1\n2,0.5\n");
    expect_error(
        &partial,
        &["--truth", truth.to_str().unwrap()],
        &["truth.csv", "1 of 3 galaxies have no prediction", "--allow-missing"],
    );
    let json = score_json(&["--truth", truth.to_str().unwrap(), "--allow-missing"], &partial);
    assert_eq!(json["overall"]["count"], 2);
    assert_eq!(json["input"]["truth"]["without_prediction"], 1);
}

#[test]
fn bins_edges_and_bin_on_flags() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "a.csv", GOOD);
    let json = score_json(&["--bins", "0:1:0.5"], &path);
    assert_eq!(json["bins"]["edges"], serde_json::json!([0.0, 0.5, 1.0]));
    assert_eq!(json["per_bin"][0]["count"], 2);
    let json = score_json(&["--edges", "0,1,2", "--bin-on", "zphot"], &path);
    assert_eq!(json["bins"]["on"], "z_phot");
    assert_eq!(json["per_bin"][1]["count"], 1); // z_phot = 1.4
}

#[test]
fn bootstrap_is_reproducible_for_a_seed_and_brackets_the_estimate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reference/random_20k.csv");
    let a = score_json(&["--bootstrap", "200", "--seed", "5"], &path);
    let b = score_json(&["--bootstrap", "200", "--seed", "5"], &path);
    let c = score_json(&["--bootstrap", "200", "--seed", "6"], &path);
    assert_eq!(a["intervals"], b["intervals"]);
    assert_ne!(a["intervals"], c["intervals"]);
    for key in ["bias", "scatter", "outlier_frac", "loss", "mse"] {
        let ci = &a["intervals"]["overall"][key];
        let (lo, hi, value) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap(), a["overall"][key].as_f64().unwrap());
        assert!(lo <= value && value <= hi && lo < hi, "{key}: {value} not in [{lo}, {hi}]");
    }
    assert_eq!(a["intervals"]["per_bin"].as_array().unwrap().len(), 20);
}

#[test]
fn markdown_and_csv_outputs() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "a.csv", GOOD);
    let out = dir.path().join("r.md");
    pzbench().arg("score").arg(&path).args(["--format", "markdown", "-q", "-o"]).arg(&out).assert().success();
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(md.starts_with("| z_spec bin | count | bias |"), "{md}");
    let csv = pzbench().arg("score").arg(&path).args(["--format", "csv", "-q"]).output().unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("bin,lo,hi,count,bias,"));
    assert_eq!(csv.lines().count(), 22);
}

#[test]
fn bad_inputs_fail_with_one_clear_line_and_exit_2() {
    let dir = TempDir::new().unwrap();
    expect_error(&dir.path().join("nope.csv"), &[], &["nope.csv", "cannot open"]);
    expect_error(&write(&dir, "empty.csv", ""), &[], &["empty.csv", "empty"]);
    expect_error(&write(&dir, "header.csv", "object_id,z_spec,z_phot\n"), &[], &["header.csv", "no data rows"]);
    expect_error(
        &write(&dir, "nozp.csv", "object_id,z_spec,foo\n1,0.1,0.2\n"),
        &[],
        &["nozp.csv", "no z_phot column", "--zphot-col", "foo"],
    );
    expect_error(&write(&dir, "named.csv", GOOD), &["--zphot-col", "zp"], &["no column 'zp'", "--zphot-col"]);
    expect_error(
        &write(&dir, "amb.csv", "z_spec,redshift,z_phot\n0.1,0.1,0.2\n"),
        &[],
        &["ambiguous z_spec column", "'z_spec'", "'redshift'", "--zspec-col"],
    );
    expect_error(
        &write(&dir, "text.csv", "object_id,z_spec,z_phot\n1,0.1,0.2\n2,0.3,abc\n"),
        &[],
        &["text.csv", "line 3", "'z_phot'", "'abc' is not a number"],
    );
    expect_error(
        &write(&dir, "nan.csv", "object_id,z_spec,z_phot\n1,0.1,0.2\n2,0.3,NaN\n"),
        &[],
        &["nan.csv", "line 3", "NaN", "--drop-invalid"],
    );
    expect_error(
        &write(&dir, "inf.csv", "object_id,z_spec,z_phot\n1,inf,0.2\n"),
        &[],
        &["inf.csv", "line 2", "'z_spec' is inf"],
    );
    expect_error(
        &write(&dir, "blank.csv", "object_id,z_spec,z_phot\n1,0.1,\n"),
        &[],
        &["blank.csv", "line 2", "is empty"],
    );
    expect_error(
        &write(&dir, "neg.csv", "object_id,z_spec,z_phot\n1,0.1,0.2\n2,-1.5,0.2\n"),
        &[],
        &["neg.csv", "line 3", "<= -1"],
    );
    expect_error(
        &write(&dir, "dup.csv", "object_id,z_spec,z_phot\n5,0.1,0.2\n6,0.2,0.2\n5,0.3,0.3\n"),
        &[],
        &["dup.csv", "duplicate object_id 5", "rows 1 and 3"],
    );
    expect_error(
        &write(&dir, "ragged.csv", "object_id,z_spec,z_phot\n1,0.1,0.2,9\n"),
        &[],
        &["ragged.csv", "line 2 has 4 fields but the header has 3"],
    );
    expect_error(&write(&dir, "ok.csv", GOOD), &["--bins", "0:1:0.3"], &["--bins 0:1:0.3", "LO:HI:WIDTH"]);
    expect_error(&write(&dir, "ok2.csv", GOOD), &["--edges", "0,2,1"], &["must increase"]);
    expect_error(&write(&dir, "ok3.csv", GOOD), &["--confidence", "1.5"], &["--confidence"]);
    expect_error(&write(&dir, "ok4.csv", GOOD), &["--delimiter", "x"], &["--delimiter"]);

    let good = write_parquet(&dir, "good.parquet", &[1, 2, 3], &[0.1, 0.2, 0.3], &[0.1, 0.2, 0.3]);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    expect_error(&truncated, &[], &["truncated.parquet", "not a readable Parquet file"]);
    let nan_pq = write_parquet(&dir, "nan.parquet", &[1, 2], &[0.1, 0.2], &[0.1, f64::NAN]);
    expect_error(&nan_pq, &[], &["nan.parquet", "row 2", "NaN"]);
}

#[test]
fn unknown_flag_is_a_usage_error() {
    pzbench().args(["score", "x.csv", "--no-such-flag"]).assert().code(2);
}

#[test]
fn drop_invalid_drops_and_says_how_many() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "nan.csv", "object_id,z_spec,z_phot\n1,0.1,0.2\n2,0.3,NaN\n3,0.5,inf\n4,0.5,0.5\n");
    pzbench()
        .arg("score")
        .arg(&path)
        .arg("--drop-invalid")
        .assert()
        .success()
        .stderr(predicate::str::contains("dropped 2 rows"));
    let json = score_json(&["--drop-invalid"], &path);
    assert_eq!(json["overall"]["count"], 2);
    assert_eq!(json["input"]["dropped_invalid"], 2);
}

#[test]
fn truth_from_a_galaxiesml_hdf5_file() {
    use pzbench_io::galaxiesml::{Column, ColumnData, GalaxiesMlWriter};
    let dir = TempDir::new().unwrap();
    let truth = dir.path().join("5x8x8_testing_with_morphology.hdf5");
    let mut writer = GalaxiesMlWriter::create(&truth, 3, 8).unwrap();
    writer.write_column(&Column { name: "object_id".into(), data: ColumnData::I64(vec![2, 1, 3]) }).unwrap();
    writer.write_column(&Column { name: "specz_redshift".into(), data: ColumnData::F64(vec![0.5, 0.1, 0.9]) }).unwrap();
    writer.write_images(0, &vec![0.0f32; 3 * 5 * 8 * 8]).unwrap();
    writer.finish().unwrap();
    let preds = write(&dir, "preds.csv", "object_id,z_phot\n3,1.4\n1,0.12\n2,0.45\n");
    let joined = score_json(&["--truth", truth.to_str().unwrap()], &preds);
    let direct = score_json(&[], &write(&dir, "direct.csv", GOOD));
    assert_eq!(joined["overall"], direct["overall"]);
    assert_eq!(joined["input"]["truth"]["format"], "GalaxiesML HDF5");
    assert_eq!(joined["input"]["truth"]["columns"]["z_spec"], "specz_redshift");
    let not_hdf5 = write(&dir, "fake.hdf5", "object_id,z_spec\n1,0.1\n");
    expect_error(&preds, &["--truth", not_hdf5.to_str().unwrap()], &["fake.hdf5"]);
}
