//! The `pzbench` command line end to end, as ONE test binary (ripgrep's `tests/tests.rs` layout):
//! one module per command family, helpers in [`util`].

mod concurrency;
#[cfg(unix)]
mod crash;
mod damaged;
mod encodings;
mod ensemble;
mod flags;
mod galaxiesml_io;
mod gate;
mod mdn;
mod pdf;
#[path = "../../crates/metrics/tests/metrics/pdf_common.rs"]
mod pdf_common;
mod pdf_reports;
mod reference;
mod reference_models;
mod report;
mod scale;
mod score;
mod synth;
mod train;
mod truth;
mod util;
