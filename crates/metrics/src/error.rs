//! The metrics core's errors: bins that cannot be used, and PDFs that are not densities. Each
//! message is a single line that names the value at fault (for a PDF, its row, counted from 1
//! like the data rows of a table, and its column in the layout of `docs/PDF_METRICS.md` §1.3)
//! and says how to fix it.

/// A metrics-core failure. `Display` gives the one-line message shown to the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Bin edges or a bin specification that cannot be used.
    #[error("{0}")]
    InvalidBins(String),
    /// A PDF parameter that is NaN or infinite.
    #[error("PDF row {}: {column} = {value} is not a finite number; every PDF parameter must be finite", .row + 1)]
    NonFinitePdfValue { row: usize, column: String, value: f64 },
    /// A negative density or mixture weight.
    #[error("PDF row {}: {column} = {value} is negative; densities and weights must be >= 0 (clip round-off negatives to 0)", .row + 1)]
    NegativePdfValue { row: usize, column: String, value: f64 },
    /// A Gaussian component whose sigma is not positive.
    #[error("PDF row {}: {column} = {value} must be > 0; a Gaussian component needs a positive width", .row + 1)]
    NonPositiveSigma { row: usize, column: String, value: f64 },
    /// A mixture whose weights all are 0.
    #[error("PDF row {}: the mixture weights sum to 0; give at least one component a positive weight", .row + 1)]
    ZeroWeights { row: usize },
    /// A grid or histogram PDF whose densities all are 0.
    #[error("PDF row {}: the PDF integrates to 0 (every density is 0); drop the row or give it a positive density", .row + 1)]
    ZeroIntegral { row: usize },
    /// Grid nodes or histogram edges that are too few or not finite.
    #[error("PDF {0}")]
    InvalidPdfAxis(String),
    /// Grid nodes or histogram edges that do not increase strictly.
    #[error("PDF {what}: {name}[{index}] = {value} does not exceed {name}[{}] = {previous}; {what} must increase strictly", .index - 1)]
    NotIncreasing { what: &'static str, name: &'static str, index: usize, previous: f64, value: f64 },
    /// Arrays whose sizes do not fit together (values per galaxy, nodes, truths).
    #[error("PDF sizes do not match: {0}")]
    PdfSizeMismatch(String),
    /// A metric or dialect that the representation does not define.
    #[error("{0}")]
    PdfUnsupported(String),
    /// Rows, a pass request or a partial of the out-of-core path (`scale`) that cannot be used:
    /// columns of different lengths, missing ids, bytes that are not a pass's state, or a
    /// partial of another pass or run.
    #[error("{0}")]
    Scale(String),
}

impl Error {
    /// Bins that cannot be used, with what is wrong and an example of good ones.
    pub fn invalid_bins(message: impl Into<String>) -> Self {
        Error::InvalidBins(message.into())
    }
}

impl Error {
    /// A scale-path failure with its one-line message.
    pub fn scale(message: impl Into<String>) -> Self {
        Error::Scale(message.into())
    }
}

/// `Result` with the metrics core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
