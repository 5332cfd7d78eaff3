//! pzbench's reports (`docs/reports.md`): score reports and the scoring pipeline they share, the
//! GalaxiesML paper's Table 2 and Figure 6, the scatter plot, and leaderboards. Each command of
//! the `pzbench` binary that reports is one call here; nothing here prints.

pub mod figure;
pub mod format;
pub mod leaderboard;
pub mod pdf_plot;
pub mod pdf_score;
mod pdf_table;
pub mod scale_score;
pub mod score;
pub mod scoring;
pub mod table2;

pub use figure::{figure6, scatter_plot, ScatterOptions};
pub use pdf_plot::{coverage_plot, nz_plot, pit_plot, CoveragePlotOptions, NzPlotOptions, PitPlotOptions};
pub use pdf_score::{
    load_pdf_values, per_galaxy_columns, per_galaxy_csv, score_pdf_file, score_pdfs, PdfBlock, PdfScore,
    PdfScoreOptions,
};
pub use scale_score::{score_dataset, DatasetScore};
pub use score::{score_file, score_sample, MetricValues, ScoreReport};
pub use scoring::{score_model, score_models, ModelInput, ModelSpec, ScoredModel, ScoredModels};
pub use table2::{table2, Table2};
