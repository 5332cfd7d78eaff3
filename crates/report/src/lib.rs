//! Rendering results: JSON, terminal tables, Markdown and CSV.

pub mod figure;
pub mod format;
pub mod leaderboard;
pub mod score;
pub mod table2;

pub use score::{score_sample, ScoreReport};
