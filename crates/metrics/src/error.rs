//! The metrics core's one error: bins that cannot be used. Its message is a single line that
//! names the flag or value at fault and gives an example of a good one.

/// A metrics-core failure. `Display` gives the one-line message shown to the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Bin edges or a bin specification that cannot be used.
    #[error("{0}")]
    InvalidBins(String),
}

impl Error {
    /// Bins that cannot be used, with what is wrong and an example of good ones.
    pub fn invalid_bins(message: impl Into<String>) -> Self {
        Error::InvalidBins(message.into())
    }
}

/// `Result` with the metrics core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
