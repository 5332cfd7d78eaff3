//! The fuzz binary's global allocator: the system allocator with a cap on the live heap.
//!
//! A request that would take the live heap (Rust allocations of every thread) above the cap is
//! refused: an infallible allocation then aborts the child process with std's "memory allocation
//! of N bytes failed", which the supervisor reports as an allocation blow-up; a fallible one
//! (`try_reserve`) fails, and the refusal is still recorded ([`take_refused`]) and reported. So a
//! 20-byte file that makes a reader ask for gigabytes "because its header says so" is found
//! whether or not the reader would have survived it. C libraries (HDF5) allocate with `malloc`,
//! outside this count: the children bound them with `RLIMIT_AS` instead.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting and capping the live heap.
pub struct CappedAlloc;

static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The largest request refused since the last [`take_refused`] (0: none).
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// Refuse any request that would take the live heap above `bytes`.
pub fn set_cap(bytes: usize) {
    CAP.store(bytes, Ordering::SeqCst);
}

/// Bytes allocated and not yet freed.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Start measuring the peak live heap from now.
pub fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

/// The peak live heap since [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// The largest request refused since the last call, if any, and whether every refusal came from
/// one of the [`KNOWN_SITES`].
pub fn take_refused() -> Option<(usize, bool)> {
    let known = ALL_KNOWN.swap(true, Ordering::SeqCst);
    match REFUSED.swap(0, Ordering::SeqCst) {
        0 => None,
        n => Some((n, known)),
    }
}

static TRACE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static TRACING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Whether every request refused since the last [`take_refused`] came from a [`KNOWN_SITES`].
static ALL_KNOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Third-party code known to reserve (fallibly, with `try_reserve`) what a length field in a
/// file says, then fill only what the file holds: a refusal there is handled (the read fails
/// cleanly) and, without a cap, the reservation is virtual memory that is never touched. Kept
/// apart from blow-ups in the counts, and documented (docs/benchmarks.md, "Fuzzing").
pub const KNOWN_SITES: &[&str] = &[
    // polars-parquet's Thrift reader: `buf.try_reserve(len)` with the u32 length of a binary
    // field of a page header, then `take(len).read_to_end(&mut buf)`.
    "TCompactInputProtocol",
];

/// Print a backtrace of every refused request (for `replay`).
pub fn trace_refusals() {
    TRACE.store(true, Ordering::SeqCst);
}

/// Count `size` more live bytes, or refuse them.
fn grow(size: usize) -> bool {
    let cap = CAP.load(Ordering::Relaxed);
    let before = LIVE.fetch_add(size, Ordering::Relaxed);
    let now = before.saturating_add(size);
    if size > cap || now > cap {
        LIVE.fetch_sub(size, Ordering::Relaxed);
        REFUSED.fetch_max(size.max(1), Ordering::SeqCst);
        // Where from? (Capturing allocates: small requests, far below the cap, and not
        // recursively.) An infallible request aborts next: the trace on stderr says where.
        if !TRACING.swap(true, Ordering::SeqCst) {
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            let known = KNOWN_SITES.iter().any(|site| trace.contains(site));
            if !known {
                ALL_KNOWN.store(false, Ordering::SeqCst);
            }
            if TRACE.load(Ordering::Relaxed) || !known {
                let frames: Vec<&str> = trace
                    .lines()
                    .filter(|l| {
                        l.contains("pzbench")
                            || l.contains("polars")
                            || l.contains("hdf5")
                            || l.contains("candle")
                            || l.contains("safetensors")
                            || l.contains("serde")
                            || l.contains("toml")
                    })
                    .take(12)
                    .collect();
                eprintln!(
                    "pzbench-fuzz: refused an allocation of {size} bytes, from: {}",
                    frames.join(" <- ").split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
            TRACING.store(false, Ordering::SeqCst);
        } else {
            ALL_KNOWN.store(false, Ordering::SeqCst);
        }
        return false;
    }
    PEAK.fetch_max(now, Ordering::Relaxed);
    true
}

fn shrink(size: usize) {
    LIVE.fetch_sub(size, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` with the same layout; the counters only decide
// whether to forward an allocation at all (a refusal returns null, as an out-of-memory does).
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout contract is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            shrink(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            shrink(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every path above forwards there).
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !grow(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `dealloc`; `new_size` is the caller's, checked by its contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        match (p.is_null(), new_size > old) {
            (true, true) => shrink(new_size - old),
            (false, false) => shrink(old - new_size),
            _ => {}
        }
        p
    }
}
