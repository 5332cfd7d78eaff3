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

/// The `pzbench` binary as a plain `std::process::Command`, for tests that spawn processes and
/// kill them or run many at once. The child inherits no descriptor but its standard streams:
/// HDF5 opens files without close-on-exec and locks them, so a child spawned while another test
/// of this binary has an HDF5 file open would otherwise keep that file locked while it lives.
pub fn pzbench_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pzbench"));
    cmd.env_remove("RUST_LOG");
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the child between fork and exec and only makes one system
        // call (async-signal-safe); descriptors 0 to 2 are kept, the rest are closed by exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int);
                Ok(())
            });
        }
    }
    cmd
}
