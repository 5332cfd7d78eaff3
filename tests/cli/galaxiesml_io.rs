//! End to end: a file written by `GalaxiesMlWriter` is summarised by `pzbench inspect`, and read
//! by h5py when it is installed.

use std::path::Path;
use std::process::Command;

use super::util::run;

use pzbench_io::galaxiesml::{Column, ColumnData, Dtype, GalaxiesMlWriter, TABULAR_KEYS};

const N: usize = 6;
const S: usize = 4;

/// Every GalaxiesML key; row 1 has z = 5 (breaks the z cut), row 2 a NaN g magnitude, row 5
/// repeats the object_id of row 4.
fn write_sample(path: &Path) {
    let mut w = GalaxiesMlWriter::create(path, N, S).unwrap();
    for key in TABULAR_KEYS {
        let data = match (key.name, key.dtype) {
            ("object_id", _) => ColumnData::I64(vec![10, 11, 12, 13, 14, 14]),
            ("specz_redshift", _) => ColumnData::F64(vec![0.1, 5.0, 0.5, 1.3, 2.9, 0.05]),
            ("specz_redshift_err", _) => ColumnData::F64(vec![0.0001; N]),
            ("g_cmodel_mag", _) => ColumnData::F64(vec![22.0, 23.0, f64::NAN, 21.0, 24.0, 20.0]),
            (_, Dtype::F64) => ColumnData::F64((0..N).map(|i| 20.0 + i as f64).collect()),
            (_, Dtype::I64) => ColumnData::I64((0..N as i64).collect()),
            (_, Dtype::Bool) => ColumnData::Bool(vec![true; N]),
            (_, Dtype::Str) => ColumnData::Str((0..N).map(|i| format!("survey-{i}")).collect()),
            (name, dtype) => panic!("no sample data for {name} ({dtype:?})"),
        };
        w.write_column(&Column { name: key.name.to_owned(), data }).unwrap();
    }
    w.write_images(0, &vec![0.25; N * 5 * S * S]).unwrap();
    w.finish().unwrap();
}

#[test]
fn inspect_summarises_a_written_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.hdf5");
    write_sample(&path);
    let file = path.to_str().unwrap();

    let (code, out, err) = run(&["inspect", file]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("N = 6   image (6, 5, 4, 4) float32"), "{out}");
    assert!(out.contains("keys (94):"), "{out}");
    assert!(out.contains("specz_name"), "{out}");
    assert!(out.contains("0.0–0.2 │"), "{out}");
    assert!(out.contains("outside [0, 4): 1"), "{out}");

    let (code, out, err) = run(&["inspect", "--format", "json", file]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["n_rows"], 6);
    assert_eq!(json["image_shape"], serde_json::json!([6, 5, 4, 4]));
    assert_eq!(json["redshift"]["max"], 5.0);
    let violations =
        |cut: &str| json["checks"].as_array().unwrap().iter().find(|c| c["cut"] == cut).unwrap()["violations"].clone();
    assert_eq!(violations("0.01 < z < 4"), 1);
    assert_eq!(violations("z_err < 0.005 (1 + z)"), 0);
    assert_eq!(violations("0 < mag < 50 in every band"), 1);
    assert_eq!(violations("no NaN in any tabular column"), 1);
    assert_eq!(violations("no duplicate object_id"), 1);

    let (code, out, _) = run(&["inspect", "--time-images", "4", file]);
    assert_eq!(code, 0);
    assert!(out.starts_with("read 6 rows"), "{out}");
}

#[test]
fn inspect_errors_are_one_line_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preds.csv");
    std::fs::write(&path, "object_id,z\n").unwrap();
    let (code, out, err) = run(&["inspect", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.starts_with("error: ") && err.contains("not an HDF5 file (or truncated)"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Python users read these files with h5py: check it decodes every key, when h5py is here.
#[test]
fn h5py_reads_written_files() {
    let has_h5py = Command::new("python3").args(["-c", "import h5py"]).output().is_ok_and(|o| o.status.success());
    if !has_h5py {
        eprintln!("skipped: python3 with h5py is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.hdf5");
    write_sample(&path);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/h5py_check.py");
    let out = Command::new("python3").arg(script).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "h5py failed: {}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "image float32 (6, 5, 4, 4)",
        "object_id int64 (6,)",
        "specz_flag_homogeneous bool (6,)",
        "specz_redshift float64 (6,)",
        "specz_name object (6,)",
    ] {
        assert!(stdout.lines().any(|l| l == line), "h5py saw no `{line}`:\n{stdout}");
    }
}
