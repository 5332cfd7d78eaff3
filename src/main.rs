//! The `pzbench` binary: [`pzbench::cli`] parses the command line into the library crates'
//! objects, runs them and prints; exit codes are decided in one place ([`pzbench::cli::main`]),
//! and the one exception, memory the system refuses, in [`ExitOnOom`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: ExitOnOom = ExitOnOom;

fn main() -> ExitCode {
    pzbench::return_large_frees_to_the_system();
    pzbench::cli::main(std::env::args_os())
}

/// The system allocator, except that an allocation the system refuses ends pzbench as every error
/// does, with one line on stderr and exit code 2, instead of Rust's abort (a core dump, a
/// backtrace, exit code 134). A damaged input can make a decoder ask for an absurd amount:
/// polars-parquet asks for 2^61 bytes when a Parquet data page claims a negative number of values
/// (found by pzbench-fuzz; docs/benchmarks.md, "Fuzzing"), which no check of pzbench's can see
/// before polars decodes the page.
struct ExitOnOom;

// SAFETY: every call is forwarded to `System` unchanged; only a null result is acted on, by
// ending the process (no memory is touched).
unsafe impl GlobalAlloc for ExitOnOom {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout contract is passed on.
        refused_ends(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        refused_ends(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`, with the caller's `new_size`.
        refused_ends(unsafe { System.realloc(ptr, layout, new_size) }, new_size)
    }
}

/// `p`, unless it is null: then say so in one line and exit with code 2. Writes without
/// allocating (the number is formatted into a stack buffer; stderr is unbuffered).
fn refused_ends(p: *mut u8, size: usize) -> *mut u8 {
    if !p.is_null() {
        return p;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = size;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let stderr = &mut std::io::stderr();
    let _ = std::io::Write::write_all(stderr, b"error: out of memory: the system refused an allocation of ")
        .and_then(|()| std::io::Write::write_all(stderr, &digits[at..]))
        .and_then(|()| {
            std::io::Write::write_all(
                stderr,
                b" bytes; the input is damaged (a header claiming that many values) or too large for this machine\n",
            )
        });
    std::process::exit(2)
}
