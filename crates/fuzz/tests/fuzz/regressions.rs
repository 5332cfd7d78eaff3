//! Inputs the fuzzer found (kept in `fixtures/fuzz/`, described in its README), run again through
//! their targets: each must now end in a one-line pzbench error. The table reader's findings are
//! checked by the io crate's own tests.

use std::path::Path;

use pzbench_fuzz::mutate::Input;
use pzbench_fuzz::targets::{target, Outcome};

fn run(name: &str, file: &str, variant: u64) -> Outcome {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/fuzz").join(file)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut harness = (target(name).unwrap().build)(dir.path()).unwrap();
    harness.run(&Input { seed: 0, bytes, variant })
}

#[test]
fn inputs_the_fuzzer_found_end_in_one_line_errors() {
    for (name, file, needle) in [
        // 439 bytes that asked for 4 TiB of zero weights.
        (
            "model-json",
            "model-json-image-size-65536.json",
            "has 1099516419553 weights, more than model.safetensors (488784 bytes) can hold",
        ),
        // A parameter count that overflowed (a panic in debug builds).
        ("model-json", "model-json-image-size-overflow.json", "is too large to build"),
        // An image side of 2^46 pixels: hdf5-metno counted the hyperslab element by element.
        ("hdf5", "hdf5-image-side-2pow46.hdf5", "float32, damaged: 240 bytes stored for 3001666743828540 values"),
        // An image side of 0: rows of no values (a panic in the parallel row reader).
        ("hdf5", "hdf5-image-side-zero.hdf5", "expected (N, 5, H, W) with H, W >= 1"),
        // An integer of 0 bits: HDF5 1.10's conversion read out of bounds (SIGBUS).
        ("hdf5", "hdf5-int-precision-zero.hdf5", "int64, damaged: 0 bits at offset 0 in a 64-bit number"),
        // A key turned compact, storing no values: HDF5 1.10 copied from a null buffer (SIGSEGV).
        ("hdf5", "hdf5-compact-no-values.hdf5", "int64, damaged: 0 bytes stored for 3 values of 8 bytes"),
        // Floats of 4 GB each: HDF5 calloc'ed a conversion buffer of that width per pixel.
        (
            "hdf5",
            "hdf5-image-dtype-4gb.hdf5",
            "cannot be read as pixels (unsupported (Invalid size of float datatype))",
        ),
    ] {
        match run(name, file, 0) {
            Outcome::Error(e) => {
                let e = e.to_string();
                assert!(e.contains(needle) && !e.contains('\n'), "{file}: {e}");
            }
            other => panic!("{file}: {other:?}"),
        }
    }
}
