//! `pzbench table2`: the GalaxiesML paper's Table 2 for your models, beside the published rows.
//!
//! Also the input handling shared by `table2`, `figure6`, `plot scatter` and `leaderboard add`:
//! [`ModelSpec`] (`--model NAME=FILE`), [`InputArgs`] (`--truth` and column names) and
//! [`score_model`], which scores a file exactly as `pzbench score` does (`load_sample`,
//! `Grouped::new`, `evaluate`, `bootstrap`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, ValueEnum};

use super::input::{BootstrapArgs, ColumnArgs};
use pzbench_io::sample::{load_sample, Sample};
use pzbench_io::{Error, Result};
use pzbench_metrics::{bootstrap, evaluate, Bins, BootstrapConfig, Grouped};
use pzbench_report::table2::{published_rows, BootstrapInfo, Dataset, Table2, Table2Row};
use pzbench_report::ScoreReport;

/// One `--model NAME=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub name: String,
    pub path: PathBuf,
}

impl FromStr for ModelSpec {
    type Err = String;

    fn from_str(spec: &str) -> std::result::Result<Self, Self::Err> {
        match spec.split_once('=') {
            Some((name, path)) if !name.trim().is_empty() && !path.is_empty() => {
                Ok(ModelSpec { name: name.trim().to_string(), path: PathBuf::from(path) })
            }
            _ => Err(format!("'{spec}' is not NAME=FILE; write e.g. --model CNN=cnn_predictions.csv")),
        }
    }
}

/// Reject two `--model` with the same name.
fn check_unique_names(models: &[ModelSpec]) -> Result<()> {
    for (i, model) in models.iter().enumerate() {
        if models[..i].iter().any(|m| m.name == model.name) {
            return Err(Error::usage(format!(
                "--model {}: the name '{}' is given twice; give each model its own name",
                model.path.display(),
                model.name
            )));
        }
    }
    Ok(())
}

/// Where z_spec comes from and which columns to read, shared by the reporting commands.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    #[command(flatten)]
    pub columns: ColumnArgs,

    /// Label of the dataset in captions and leaderboards [default: the stem of the truth file, or
    /// of the predictions file when z_spec is in it].
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,

    /// Mark the dataset as synthetic (also inferred when the label or file name contains
    /// "synthetic", or an HDF5 truth file has a root attribute `synthetic`).
    #[arg(long)]
    pub synthetic: bool,
}

impl InputArgs {
    /// Read a predictions file (joined with `--truth` if given): the sample and its dataset.
    pub(super) fn load(&self, path: &Path) -> Result<(Sample, Dataset)> {
        let sample = load_sample(path, &self.columns.sample_options(false, false)?)?;
        let dataset = Dataset::describe(&sample.input, &sample.z_spec, self.dataset.as_deref(), self.synthetic);
        Ok((sample, dataset))
    }
}

/// A predictions file scored as `pzbench score` scores it.
#[derive(Debug, Clone)]
pub(super) struct Scored {
    pub name: String,
    pub report: ScoreReport,
    pub dataset: Dataset,
}

/// Score `path` with the paper's metrics, overall and per bin, with bootstrap intervals if asked.
pub(super) fn score_model(
    name: &str,
    path: &Path,
    input: &InputArgs,
    bins: &Bins,
    bootstrap_config: Option<BootstrapConfig>,
) -> Result<Scored> {
    let (sample, dataset) = input.load(path)?;
    let Sample { z_spec, z_phot, input: info, .. } = sample;
    let grouped = Grouped::new(z_spec, z_phot, bins);
    let evaluation = evaluate(&grouped);
    let intervals = bootstrap_config.map(|config| bootstrap(&grouped, &config));
    let report = ScoreReport::new(evaluation, bins.clone(), grouped.n_outside(), info, intervals);
    Ok(Scored { name: name.to_string(), report, dataset })
}

/// Score every `--model` as `pzbench score` does (names must be unique, at least one model), with
/// the notes of [`dataset_notes`]. The returned list is never empty.
pub(super) fn score_models(
    models: &[ModelSpec],
    input: &InputArgs,
    bins: &Bins,
    config: Option<BootstrapConfig>,
) -> Result<(Vec<Scored>, Vec<String>)> {
    check_unique_names(models)?;
    if models.is_empty() {
        return Err(Error::usage("give at least one --model NAME=FILE"));
    }
    let scored =
        models.iter().map(|m| score_model(&m.name, &m.path, input, bins, config)).collect::<Result<Vec<_>>>()?;
    let notes = dataset_notes(&scored);
    Ok((scored, notes))
}

/// A note (also printed on stderr) when the models were not scored on the same z_spec values.
fn dataset_notes(scored: &[Scored]) -> Vec<String> {
    let Some(first) = scored.first() else {
        return Vec::new();
    };
    let differing: Vec<&str> = scored
        .iter()
        .filter(|s| s.dataset.zspec_sha256 != first.dataset.zspec_sha256)
        .map(|s| s.name.as_str())
        .collect();
    if differing.is_empty() {
        return Vec::new();
    }
    let note = format!(
        "Warning: {} not scored on the same galaxies as {} (different z_spec values), so the rows are not directly comparable; the dataset above is {}'s.",
        differing.join(", "),
        first.name,
        first.name
    );
    eprintln!("pzbench: {note}");
    vec![note]
}

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
/// (METRICS.md keys count, loss, bias, scatter, outlier_frac, mse). --published adds the paper's
/// own CNN and NN rows. The caption names the dataset: its label, whether it is synthetic, and the
/// SHA-256 of the file z_spec came from. With --bootstrap each value reads `value ± half-width` of
/// its percentile bootstrap interval.
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

    /// Add the paper's published Table 2 rows (CNN, NN), marked "(published)".
    #[arg(long)]
    pub published: bool,

    #[command(flatten)]
    pub bootstrap: BootstrapArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Table2Format::Table)]
    pub format: Table2Format,

    /// Write the table to FILE (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Run `pzbench table2`.
pub fn run(args: Table2Args) -> Result<ExitCode> {
    let config = args.bootstrap.config()?;
    // Table 2 is about overall metrics; bins are the default ones and their values unused.
    let (scored, notes) = score_models(&args.models, &args.input, &Bins::galaxiesml_default(), config)?;
    let first = &scored[0]; // score_models refuses an empty list
    let mut rows: Vec<Table2Row> = scored.iter().map(|s| Table2Row::measured(&s.name, &s.report)).collect();
    if args.published {
        rows.extend(published_rows()?);
    }
    let table = Table2 {
        dataset: first.dataset.clone(),
        rows,
        bootstrap: first.report.intervals.as_ref().map(|i| BootstrapInfo {
            method: i.method.to_string(),
            confidence: i.confidence,
            resamples: i.resamples,
            seed: i.seed,
        }),
        notes,
    };
    let text = match args.format {
        Table2Format::Table => table.to_terminal(),
        Table2Format::Markdown => table.to_markdown(),
        Table2Format::Latex => table.to_latex(),
        Table2Format::Csv => table.to_csv(),
        Table2Format::Json => table.to_json(),
    };
    super::emit(&text, args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}
