//! The error type of pzbench's I/O and of every crate above it. Every message is a single line
//! that names the file, row, column or key at fault and says what to do; the CLI prints it and
//! exits with code 2. The underlying failure (an `std::io::Error`, a polars, HDF5, candle or
//! serde error) is kept as the [`std::error::Error::source`] of the error.

use std::path::{Path, PathBuf};

/// The failure an [`Error`] was caused by.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A pzbench failure. `Display` gives the one-line message shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something is wrong with an input or output file (`path` is the file).
    #[error("{}: {message}", path.display())]
    File {
        path: PathBuf,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// A command-line value or combination of flags is wrong.
    #[error("{0}")]
    Usage(String),
    /// A failure that belongs to no single file (e.g. a numerical failure in training).
    #[error("{message}")]
    Other {
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    /// A problem with the file at `path`.
    pub fn file(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::File { path: path.as_ref().to_path_buf(), message: one_line(message.into()), source: None }
    }

    /// A problem with the command line.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(one_line(message.into()))
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Error::Other { message: one_line(message.into()), source: None }
    }

    /// The same error, recording `cause` as its source. The message is unchanged: it already
    /// says, in the user's terms, what `cause` means.
    pub fn caused_by(self, cause: impl Into<Cause>) -> Self {
        match self {
            Error::File { path, message, .. } => Error::File { path, message, source: Some(cause.into()) },
            Error::Other { message, .. } => Error::Other { message, source: Some(cause.into()) },
            Error::Usage(message) => Error::Other { message, source: Some(cause.into()) },
        }
    }

    /// Whether this error, or any error in its chain of sources, is an `std::io::Error` of kind
    /// `BrokenPipe` (the reader of standard output went away, e.g. `| head`).
    pub fn is_broken_pipe(&self) -> bool {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = next {
            if error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
                return true;
            }
            next = error.source();
        }
        false
    }
}

impl From<pzbench_metrics::Error> for Error {
    fn from(error: pzbench_metrics::Error) -> Self {
        Error::usage(error.to_string())
    }
}

/// `message` as one line: control characters (line ends, NUL, ...) that a damaged file or a
/// library's message may bring in, e.g. in a cell or a column name quoted back, are shown
/// escaped (`\n`, `\r`, `\u{0}`), so that every error stays the one line the CLI prints.
fn one_line(message: String) -> String {
    if !message.contains(char::is_control) {
        return message;
    }
    message.chars().fold(String::with_capacity(message.len() + 8), |mut out, c| {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        out
    })
}

/// `Result` with pzbench's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_kept_as_the_source_and_the_message_is_unchanged() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::file("a.csv", "cannot open: no such file").caused_by(io);
        assert_eq!(error.to_string(), "a.csv: cannot open: no such file");
        assert_eq!(error.source().unwrap().to_string(), "no such file");
        assert!(!error.is_broken_pipe());
        let pipe = Error::other("cannot write").caused_by(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(pipe.is_broken_pipe());
    }

    #[test]
    fn messages_are_one_line_whatever_a_file_holds() {
        let error = Error::file("a.csv", "line 2, column 'z': '0.1\r;\u{0}x\ny' is not a number");
        assert_eq!(error.to_string(), "a.csv: line 2, column 'z': '0.1\\r;\\u{0}x\\ny' is not a number");
        assert_eq!(Error::usage("a\tb").to_string(), "a\\tb");
        assert_eq!(Error::other("café, 1 ± 2").to_string(), "café, 1 ± 2");
    }
}
