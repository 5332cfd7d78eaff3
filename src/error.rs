//! The one error type of pzbench. Every message is a single line that names the file, row,
//! column or key at fault and says what to do; the CLI prints it and exits with code 2.

use std::path::{Path, PathBuf};

/// A pzbench failure. `Display` gives the one-line message shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something is wrong with an input or output file (`path` is the file).
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// A command-line value or combination of flags is wrong.
    #[error("{0}")]
    Usage(String),
    /// A failure that belongs to no single file (e.g. a numerical failure in training).
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// A problem with the file at `path`.
    pub fn file(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::File { path: path.as_ref().to_path_buf(), message: message.into() }
    }

    /// A problem with the command line.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Error::Other(message.into())
    }
}

/// `Result` with pzbench's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
