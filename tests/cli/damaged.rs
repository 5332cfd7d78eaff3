//! Damaged inputs the fuzzer found (`fixtures/fuzz/`, see its README), end to end: each ends in
//! exit code 2 and one line on stderr, not in a panic message, an abort or a hang.

use std::path::PathBuf;

use super::util::{assert_one_error_line, pzbench, root};

fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/fuzz").join(name)
}

fn fails(args: &[&str], file: &str, needles: &[&str]) {
    let output = pzbench().args(args).arg(fixture(file)).env("RUST_BACKTRACE", "1").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{file}: {stderr}");
    assert_one_error_line(&stderr, needles);
    assert_eq!(stderr.lines().count(), 1, "{file}: {stderr}");
}

#[test]
fn damaged_parquet_files_end_in_one_line() {
    // polars panics on these: the panic is caught, and its message not printed.
    fails(
        &["score", "--quiet"],
        "parquet-thrift-bool-panic.parquet",
        &["not a readable Parquet file", "the decoder failed"],
    );
    // polars asks for 2^61 bytes (a data page claiming a negative number of values): the
    // allocation fails, and pzbench says so in one line instead of aborting.
    fails(
        &["score", "--quiet"],
        "parquet-page-values-negative.parquet",
        &["out of memory", "2305843009213693952 bytes"],
    );
}

#[test]
fn damaged_galaxiesml_files_end_in_one_line() {
    fails(&["inspect"], "hdf5-image-side-zero.hdf5", &["key `image` has shape [3, 5, 2, 0]", "H, W >= 1"]);
    fails(
        &["inspect", "--time-images", "1"],
        "hdf5-image-side-2pow46.hdf5",
        &["key `image` cannot be read as pixels", "240 bytes stored"],
    );
    fails(
        &["inspect", "--time-images", "1"],
        "hdf5-image-dtype-4gb.hdf5",
        &["key `image` cannot be read as pixels", "GalaxiesML images are float32"],
    );
}
