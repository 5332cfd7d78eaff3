//! pzbench: the GalaxiesML photometric-redshift benchmark as a tool.
//!
//! One module per concern:
//! - [`metrics`]: the paper's point metrics, per redshift bin, with bootstrap intervals;
//! - [`io`]: reading predictions and catalogues (CSV, TSV, text, Parquet, GalaxiesML HDF5) and
//!   writing outputs atomically;
//! - [`models`]: the paper's reference CNN and NN in candle: training, checkpoints, prediction;
//! - [`report`]: rendering scores as terminal tables, JSON, Markdown, CSV;
//! - [`synth`]: physics of the synthetic GalaxiesML-format generator (cosmology, HSC photometry,
//!   galaxy population);
//! - [`cli`]: the `pzbench` command line.

pub mod cli;
pub mod error;
pub mod gate;
pub mod io;
pub mod metrics;
pub mod models;
pub mod report;
pub mod synth;

pub use error::{Error, Result};

/// The version written into every JSON output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
