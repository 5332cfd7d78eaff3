//! The `pzbench` command line end to end, as ONE test binary (ripgrep's `tests/tests.rs` layout):
//! one module per command family, helpers in [`util`].

mod concurrency;
#[cfg(unix)]
mod crash;
mod damaged;
mod encodings;
mod flags;
mod galaxiesml_io;
mod gate;
mod reference;
mod report;
mod score;
mod synth;
mod train;
mod util;
