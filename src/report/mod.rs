//! Rendering results: JSON, terminal tables, Markdown and CSV.

pub mod format;
pub mod score;

pub use score::{score_sample, ScoreReport};
