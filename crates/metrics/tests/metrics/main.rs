//! The metrics core's integration tests as ONE test binary: property tests of the point metrics,
//! the PDF metrics against the reference vectors, their bootstrap, and the (ignored) timing run.

mod pdf_bootstrap;
mod pdf_common;
mod pdf_reference;
mod pdf_timing;
mod properties;
