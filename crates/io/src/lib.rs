//! Input and output at the edges: reading predictions and catalogues, writing results atomically.

mod error;
pub mod galaxiesml;
pub mod images;
pub mod sample;
pub mod selection;
pub mod table;

use std::path::Path;

pub use error::{Error, Result};

/// The version written into every JSON output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Write `bytes` to `path` atomically: into a temporary file beside it, then rename, so a crash or
/// an error never leaves a partial output file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path_for(path);
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::file(path, format!("cannot write output: {e}")).caused_by(e)
    })
}

/// The temporary name used while `path` is being written (same folder, so `rename` is atomic).
pub fn temp_path_for(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.pzbench-tmp"))
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
