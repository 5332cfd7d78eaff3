//! The `pzbench` command line as a library, so that the `pzbench` binary (`src/main.rs`) and the
//! Python package's `pzbench` console script (`crates/python`, docs/python.md) run the same
//! [`cli::main`].

pub mod cli;

/// Make glibc serve every allocation of 128 KiB or more with its own mapping, returned to the
/// system when freed. By default glibc raises that threshold after the first large free, and
/// large buffers freed afterwards (a table's columns once made row-major, a block of PDFs) stay
/// in the process: `pzbench score` of 100,000 grid PDFs from CSV peaked at 549 MB instead of
/// 315 MB (docs/benchmarks.md, "PDF metrics against qp/RAIL").
pub fn return_large_frees_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter (glibc takes its arena lock to do so).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
