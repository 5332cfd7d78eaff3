//! Scoring named models for the reports that compare them (`table2`, `figure6`, `leaderboard
//! add`): each predictions file goes through the same pipeline as `pzbench score`
//! ([`score_sample`]) and is described as a [`Dataset`] (`docs/METRICS.md`, "Table 2 columns").
//! A file of PDFs is recognised as `pzbench score` recognises it and scored as it scores it
//! ([`score_pdf_file`]): the point metrics are then those of its point estimate, and the report
//! also has the `pdf` block (`docs/PDF_METRICS.md`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use pzbench_io::pdf::detect_pdf_file;
use pzbench_io::sample::{load_sample, SampleOptions};
use pzbench_io::{Error, Result};
use pzbench_metrics::{Bins, BootstrapConfig};

use super::pdf_score::{score_pdf_file, PdfScoreOptions};
use super::score::{score_sample, ScoreReport};
use super::table2::Dataset;

/// One model's predictions: `--model NAME=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The model's name in tables and legends.
    pub name: String,
    /// Its predictions file.
    pub path: PathBuf,
}

/// A `--model` value that is not `NAME=FILE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{spec}' is not NAME=FILE; write e.g. --model CNN=cnn_predictions.csv")]
pub struct ModelSpecError {
    /// The value as given.
    pub spec: String,
}

impl FromStr for ModelSpec {
    type Err = ModelSpecError;

    /// Parse `NAME=FILE` (the name trimmed and non-empty, the file non-empty).
    fn from_str(spec: &str) -> std::result::Result<Self, Self::Err> {
        match spec.split_once('=') {
            Some((name, path)) if !name.trim().is_empty() && !path.is_empty() => {
                Ok(ModelSpec { name: name.trim().to_string(), path: PathBuf::from(path) })
            }
            _ => Err(ModelSpecError { spec: spec.to_string() }),
        }
    }
}

/// How the reporting commands read predictions and label the dataset they were scored on.
#[derive(Debug, Clone, Default)]
pub struct ModelInput {
    /// Where z_spec comes from, which columns to read (`--truth`, `--*-col`, `--delimiter`).
    pub sample: SampleOptions,
    /// `--dataset`: the dataset's label [default: the stem of the file z_spec came from].
    pub dataset: Option<String>,
    /// `--synthetic`: mark the dataset as synthetic (see [`Dataset::describe`]).
    pub synthetic: bool,
    /// How a PDF file (recognised by its content, as `pzbench score` does) is read and scored.
    pub pdf: PdfScoreOptions,
}

/// A model's predictions scored as `pzbench score` scores them.
#[derive(Debug, Clone)]
pub struct ScoredModel {
    pub name: String,
    pub report: ScoreReport,
    /// The galaxies it was scored on.
    pub dataset: Dataset,
}

/// Score the predictions at `path` as `pzbench score` does ([`score_sample`]), overall and per
/// bin, with bootstrap intervals if asked, and describe their dataset. A PDF file is read and
/// scored as `input.pdf` says ([`score_pdf_file`]): the report's point metrics are those of the
/// PDFs' point estimate and its `pdf` block holds the PDF metrics.
pub fn score_model(
    name: &str,
    path: &Path,
    input: &ModelInput,
    bins: &Bins,
    bootstrap_config: Option<BootstrapConfig>,
) -> Result<ScoredModel> {
    let pdf = &input.pdf;
    if detect_pdf_file(path, &pdf.read)?.is_some() {
        let scored = score_pdf_file(path, pdf, bins, bootstrap_config)?;
        let z_spec: Vec<f64> = (0..scored.values.len()).map(|i| scored.values.z_spec(i)).collect();
        let dataset = Dataset::describe(&scored.report.input, &z_spec, input.dataset.as_deref(), input.synthetic);
        return Ok(ScoredModel { name: name.to_string(), report: scored.report, dataset });
    }
    let sample = load_sample(path, &input.sample)?;
    let dataset = Dataset::describe(&sample.input, &sample.z_spec, input.dataset.as_deref(), input.synthetic);
    let report = score_sample(sample, bins.clone(), bootstrap_config);
    Ok(ScoredModel { name: name.to_string(), report, dataset })
}

/// Several models scored alike, in the order given (never empty), with notes for captions (e.g.
/// that they were not scored on the same galaxies).
#[derive(Debug, Clone)]
pub struct ScoredModels {
    models: Vec<ScoredModel>,
    notes: Vec<String>,
}

impl ScoredModels {
    /// The models, in the order given.
    pub fn models(&self) -> &[ScoredModel] {
        &self.models
    }

    /// The first model: its dataset is the one captions name.
    pub fn first(&self) -> &ScoredModel {
        &self.models[0] // score_models refuses an empty list
    }

    /// Notes on the comparison, one sentence each, for captions and for the user.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Score every model with [`score_model`]. Names must be unique and there must be at least one
/// model; when the models were not scored on the same z_spec values, a note says so.
pub fn score_models(
    models: &[ModelSpec],
    input: &ModelInput,
    bins: &Bins,
    bootstrap_config: Option<BootstrapConfig>,
) -> Result<ScoredModels> {
    check_unique_names(models)?;
    if models.is_empty() {
        return Err(Error::usage("give at least one --model NAME=FILE"));
    }
    let models = models
        .iter()
        .map(|m| score_model(&m.name, &m.path, input, bins, bootstrap_config))
        .collect::<Result<Vec<_>>>()?;
    let notes = dataset_notes(&models);
    Ok(ScoredModels { models, notes })
}

/// Reject two models with the same name.
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

/// A warning when the models were not scored on the same z_spec values (by
/// [`Dataset::zspec_sha256`]); none otherwise.
fn dataset_notes(scored: &[ScoredModel]) -> Vec<String> {
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
    vec![format!(
        "Warning: {} not scored on the same galaxies as {} (different z_spec values), so the rows are not directly comparable; the dataset above is {}'s.",
        differing.join(", "),
        first.name,
        first.name
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_specs_are_name_equals_file() {
        let spec: ModelSpec = " CNN =preds/cnn.csv".parse().unwrap();
        assert_eq!(spec, ModelSpec { name: "CNN".into(), path: PathBuf::from("preds/cnn.csv") });
        for bad in ["no-equals-sign", "=file.csv", "CNN=", " =x"] {
            let error = bad.parse::<ModelSpec>().unwrap_err().to_string();
            assert!(error.contains(bad) && error.contains("NAME=FILE"), "{error}");
        }
    }

    #[test]
    fn names_must_be_unique_and_present() {
        let spec = |s: &str| s.parse::<ModelSpec>().unwrap();
        let error = check_unique_names(&[spec("A=a.csv"), spec("A=b.csv")]).unwrap_err().to_string();
        assert!(error.contains("'A' is given twice"), "{error}");
        let error = score_models(&[], &ModelInput::default(), &Bins::galaxiesml_default(), None).unwrap_err();
        assert!(error.to_string().contains("at least one --model"), "{error}");
    }
}
