//! The fuzz harness in the test suite: a short budget of every target (the long one is
//! `benches/fuzz.sh`), and a check that the harness does see panics, blow-ups, hangs, crashes,
//! wrong results and multi-line errors.

use std::process::Command;

fn fuzz(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pzbench-fuzz")).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The counts row of `target` as numbers: inputs, ok, errors, panics, crashes, blowups, timeouts,
/// wrong, unclean, reserved.
fn row(output: &str, target: &str) -> Vec<u64> {
    let line =
        output.lines().find(|l| l.split_whitespace().next() == Some(target)).unwrap_or_else(|| panic!("{output}"));
    line.split_whitespace().skip(1).take(10).map(|v| v.parse().unwrap()).collect()
}

#[test]
fn every_reader_survives_a_short_budget() {
    let findings = tempfile::tempdir().unwrap();
    let (code, output) = fuzz(&[
        "--target",
        "text=400,parquet=300,hdf5=150,safetensors=60,model-json=60,inputs-json=60,leaderboard=150,policy=300,baseline=200,nz=300",
        "--seed",
        "20261203",
        "--timeout-s",
        "10",
        "--findings",
        findings.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "findings (inputs are in {}):\n{output}", findings.path().display());
    for target in [
        "text",
        "parquet",
        "hdf5",
        "safetensors",
        "model-json",
        "inputs-json",
        "leaderboard",
        "policy",
        "baseline",
        "nz",
    ] {
        let counts = row(&output, target);
        assert_eq!(counts[0], counts[1] + counts[2] + counts[9], "{target}: {output}");
        assert!(counts[1] > 0 && counts[2] > 0, "{target} should see both results and errors: {output}");
    }
}

#[test]
fn the_harness_sees_every_kind_of_failure() {
    let (code, output) = fuzz(&["--target", "selftest=40", "--timeout-s", "1", "--batch", "10"]);
    assert_eq!(code, 1, "{output}");
    let counts = row(&output, "selftest");
    assert_eq!(counts[0], 40, "{output}");
    for (k, what) in [(3, "panics"), (4, "crashes"), (5, "blowups"), (6, "timeouts"), (7, "wrong"), (8, "unclean")] {
        assert!(counts[k] > 0, "no {what} seen: {output}");
    }
    assert!(output.contains("memory allocation of 68719476736 bytes failed"), "{output}");
    assert!(output.contains("a panic on purpose"), "{output}");
}
