//! Fuzzing of every pzbench reader on stable Rust (no nightly, no libFuzzer): valid seed files are
//! mutated byte by byte ([`mutate`]), each input is handed to a reader as pzbench hands it
//! ([`targets`]: the CSV/TSV/whitespace and Parquet table reader, GalaxiesML HDF5, checkpoint
//! weights, `model.json` and `inputs.json`, leaderboard JSON, gate policy TOML, baseline JSON,
//! `--nz` tables), and must end in a result that keeps the reader's promises or in a clean,
//! one-line pzbench error: no panic, no crash, no hang, no allocation blow-up ([`alloc`]).
//! Inputs run in supervised child processes ([`driver`]), so a crash or a hang in a C library
//! (HDF5) is counted and reported rather than ending the run.
//!
//! `pzbench-fuzz --target all --inputs 1000 --seed 1` runs a budget and prints counts per target;
//! `pzbench-fuzz replay --target T --seed S --index I` runs one input again, in-process.

pub mod alloc;
pub mod driver;
pub mod mutate;
pub mod targets;
