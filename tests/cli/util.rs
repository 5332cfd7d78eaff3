//! Helpers shared by every module of the CLI test binary.

use std::path::PathBuf;

use assert_cmd::Command;

/// The `pzbench` binary built for these tests.
pub fn pzbench() -> Command {
    let mut cmd = Command::cargo_bin("pzbench").unwrap();
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Run `pzbench args` and return its exit code (-1 if killed), stdout and stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = pzbench().args(args).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

/// The repository root (the `pzbench` package), where `fixtures/` lives.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Check that `stderr` is one `error:` line containing every needle and no panic.
pub fn assert_one_error_line(stderr: &str, needles: &[&str]) {
    assert!(!stderr.contains("panicked"), "{stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected, got: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "message lacks '{needle}': {stderr}");
    }
}
