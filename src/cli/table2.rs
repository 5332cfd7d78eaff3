//! `pzbench table2`: the GalaxiesML paper's Table 2 for your models, beside the published rows.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::input::{BootstrapArgs, InputArgs, PdfArgs};
use pzbench_io::{Error, Result};
use pzbench_metrics::Bins;
use pzbench_report::{score_models, table2, ModelInput, ModelSpec, ScoredModels, Table2};

/// Output formats of `table2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Table2Format {
    /// Caption and aligned table for the terminal.
    Table,
    /// Caption paragraph and a GitHub-flavoured Markdown table.
    Markdown,
    /// A LaTeX table float using booktabs (\toprule, \midrule, \bottomrule).
    Latex,
    /// CSV, one row per model, full precision, intervals as _lo/_hi columns.
    Csv,
    /// JSON with caption, dataset, rows, intervals and the published values as printed.
    Json,
}

/// Reproduce the GalaxiesML paper's Table 2 for your models.
///
/// Scores each --model NAME=FILE exactly as `pzbench score` does and prints one row per model
/// with the paper's columns: Model, N galaxies, Loss, Bias, Scatter, Outlier Fraction, MSE
/// (docs/METRICS.md keys count, loss, bias, scatter, outlier_frac, mse). --published adds the paper's
/// own CNN and NN rows. The caption names the dataset: its label, whether it is synthetic, and the
/// SHA-256 of the file z_spec came from. With --bootstrap each value reads `value ± half-width` of
/// its percentile bootstrap interval.
///
/// A model given as a file of PDFs (as recognised by `pzbench score`) is scored as `pzbench score`
/// scores it: its point metrics are those of its --point estimate, and the table adds the columns
/// CRPS, PIT KS, CDE loss and Coverage 68 % (docs/PDF_METRICS.md), "—" for models of point
/// predictions.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pzbench table2 --model CNN=cnn.csv --model NN=nn.csv --published\n  pzbench table2 --model CNN=cnn.csv --truth test.hdf5 --bootstrap 1000 --format latex --output table2.tex"
)]
pub struct Table2Args {
    /// A model's predictions as NAME=FILE (repeat for several models; rows keep this order).
    #[arg(long = "model", value_name = "NAME=FILE", required = true)]
    pub models: Vec<ModelSpec>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub pdf: PdfArgs,

    /// Add the paper's published Table 2 rows (CNN, NN), marked "(published)".
    #[arg(long)]
    pub published: bool,

    #[command(flatten)]
    pub bootstrap: BootstrapArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Table2Format::Table)]
    pub format: Table2Format,

    /// Write the table to FILE (atomically) instead of standard output.
    #[arg(short, long, alias = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Run `pzbench table2`.
pub fn run(args: Table2Args) -> Result<ExitCode> {
    let scored = score(&args)?;
    print_notes(&scored);
    let table = table2(&scored, args.published)?;
    super::emit(&render(&table, args.format), args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// The models of `args` scored for Table 2; an error when PDF flags were given and no model is a
/// file of PDFs.
pub fn score(args: &Table2Args) -> Result<ScoredModels> {
    let config = args.bootstrap.config()?;
    // Table 2 is about overall metrics; bins are the default ones and their values unused.
    let input = ModelInput { pdf: args.pdf.options(&args.input.columns, false, false)?, ..args.input.model_input()? };
    let scored = score_models(&args.models, &input, &Bins::galaxiesml_default(), config)?;
    if let Some(message) = args.pdf.refuse_on_points(false, "every --model holds") {
        if scored.models().iter().all(|m| m.report.pdf.is_none()) {
            return Err(Error::usage(message));
        }
    }
    Ok(scored)
}

/// `table` as text in `format`.
pub fn render(table: &Table2, format: Table2Format) -> String {
    match format {
        Table2Format::Table => table.to_terminal(),
        Table2Format::Markdown => table.to_markdown(),
        Table2Format::Latex => table.to_latex(),
        Table2Format::Csv => table.to_csv(),
        Table2Format::Json => table.to_json(),
    }
}

/// Print the notes on scored models (e.g. that they were scored on different galaxies) on stderr.
pub(super) fn print_notes(scored: &ScoredModels) {
    for note in scored.notes() {
        eprintln!("pzbench: {note}");
    }
}
