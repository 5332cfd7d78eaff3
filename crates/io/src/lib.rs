//! Input and output at the edges: reading predictions and catalogues, writing results atomically.

pub mod dataset;
pub mod encoding;
mod error;
pub mod galaxiesml;
pub mod images;
pub mod pdf;
pub mod pdf_write;
pub mod sample;
pub mod selection;
pub mod table;
pub mod update;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use error::{Error, Result};

/// The version written into every JSON output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Write `bytes` to `path` atomically and durably: into a new temporary file beside it
/// ([`temp_path_for`]), flushed to disk, then renamed over `path`, and the folder flushed too
/// ([`persist_temp`]). A crash, a kill or an error never leaves a partial output file behind:
/// `path` holds its previous bytes or the new ones. On an error the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path_for(path);
    // The name is this process's alone: a file there is a leftover of a dead process of the same pid.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| sync_parent(path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::file(path, format!("cannot write output: {e}")).caused_by(e)
    })
}

/// A new temporary name for writing `path`: in the same folder (so that `rename` is atomic),
/// hidden, and unique to this process and call (`.NAME.PID.N.pzbench-tmp`), so that concurrent
/// writers of one file never share a temporary file.
pub fn temp_path_for(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.pzbench-tmp", std::process::id()))
}

/// Move the finished temporary file `tmp` (from [`temp_path_for`]) to `path` durably: flush its
/// bytes to disk, rename it, and flush the folder so that the rename survives a power cut.
pub fn persist_temp(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    sync_parent(path)
}

/// Flush the folder holding `path` (Unix; a no-op elsewhere, and where the file system cannot).
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        match std::fs::File::open(parent).and_then(|dir| dir.sync_all()) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported) => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// SHA-256 of a file's bytes, as lowercase hex, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")).caused_by(e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| Error::file(path, format!("cannot read: {e}")).caused_by(e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
