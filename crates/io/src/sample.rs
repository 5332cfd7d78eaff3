//! A scored sample: predictions joined with their true redshifts, ready for the metrics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::table::{read_table, ColumnRequest, Layout, NamedColumn, ReadOptions, Role, Table};
use crate::{Error, Result};

/// Where the z_spec values come from and which columns to use.
#[derive(Debug, Clone, Default)]
pub struct SampleOptions {
    /// `--zspec-col`: the z_spec column (in the truth file when there is one).
    pub zspec_col: Option<String>,
    /// `--zphot-col`: the z_phot column of the predictions.
    pub zphot_col: Option<String>,
    /// `--id-col`: the id column (in both files when joining).
    pub id_col: Option<String>,
    /// `--truth`: a file holding `object_id` and z_spec, joined on the id.
    pub truth: Option<PathBuf>,
    /// Score the matched subset when the truth file has galaxies without predictions.
    pub allow_missing: bool,
    /// Text parsing and invalid-row handling.
    pub read: ReadOptions,
}

/// The columns a file contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnsUsed {
    pub id: Option<String>,
    pub z_spec: Option<String>,
    pub z_phot: Option<String>,
}

/// Provenance of one input file (the `input` object of reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub format: String,
    pub rows: usize,
    pub dropped_invalid: usize,
    pub columns: ColumnsUsed,
    /// SHA-256 of the file's bytes; empty, and then not written, for galaxies that come from no
    /// file (arrays scored in memory by the Python package).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

/// Provenance of a scored sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    #[serde(flatten)]
    pub predictions: FileInfo,
    /// The truth file and how well the two files matched, when z_spec came from `--truth`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub truth: Option<TruthInfo>,
}

/// The truth file of a join and its coverage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthInfo {
    #[serde(flatten)]
    pub file: FileInfo,
    /// Predicted galaxies found in the truth file (all of them, or the join fails).
    pub matched: usize,
    /// Truth galaxies with no prediction (non-zero only with `--allow-missing`).
    pub without_prediction: usize,
}

/// Galaxies with both redshifts, in prediction order.
#[derive(Debug, Clone)]
pub struct Sample {
    pub ids: Option<Vec<i64>>,
    pub z_spec: Vec<f64>,
    pub z_phot: Vec<f64>,
    pub input: InputInfo,
}

/// The provenance of a table as read.
pub(crate) fn file_info(table: &Table) -> FileInfo {
    FileInfo {
        path: table.path.display().to_string(),
        format: table.format.clone(),
        rows: table.rows,
        dropped_invalid: table.dropped_invalid,
        columns: ColumnsUsed {
            id: table.id.as_ref().map(|c| c.name.clone()),
            z_spec: table.z_spec.as_ref().map(|c| c.name.clone()),
            z_phot: table.z_phot.as_ref().map(|c| c.name.clone()),
        },
        sha256: table.sha256.clone(),
    }
}

/// Read a predictions file (and its truth file, if any) into a [`Sample`].
pub fn load_sample(path: &Path, options: &SampleOptions) -> Result<Sample> {
    let request = |role, name: &Option<String>, required| ColumnRequest { role, name: name.clone(), required };
    let Some(truth_path) = &options.truth else {
        let table = read_table(path, &point_requests(options), &options.read)?;
        let input = InputInfo { predictions: file_info(&table), truth: None };
        return Ok(Sample {
            ids: table.id.map(|c| c.values),
            z_spec: table.z_spec.map(|c| c.values).unwrap_or_default(),
            z_phot: table.z_phot.map(|c| c.values).unwrap_or_default(),
            input,
        });
    };
    let predictions = read_table(
        path,
        &[request(Role::Id, &options.id_col, true), request(Role::ZPhot, &options.zphot_col, true)],
        &options.read,
    )?;
    let truth = read_truth(truth_path, options)?;
    join(predictions, truth, options.allow_missing)
}

/// The columns of a predictions file that holds its own z_spec: the id (required when named by
/// `--id-col`, else read when present), z_spec and z_phot.
pub(crate) fn point_requests(options: &SampleOptions) -> [ColumnRequest; 3] {
    let request = |role, name: &Option<String>, required| ColumnRequest { role, name: name.clone(), required };
    [
        request(Role::Id, &options.id_col, options.id_col.is_some()),
        request(Role::ZSpec, &options.zspec_col, true),
        request(Role::ZPhot, &options.zphot_col, true),
    ]
}

/// Read `object_id` and z_spec from a truth catalogue: a GalaxiesML HDF5 file (`object_id`,
/// `specz_redshift`), or a CSV, TSV, text or Parquet table.
pub(crate) fn read_truth(path: &Path, options: &SampleOptions) -> Result<Table> {
    if super::galaxiesml::is_hdf5(path) {
        let (ids, z_spec) = super::galaxiesml::read_truth(path)?;
        let sha256 = super::sha256_file(path)?;
        return Ok(Table {
            path: path.to_path_buf(),
            format: Layout::GalaxiesMlHdf5.describe(),
            layout: Layout::GalaxiesMlHdf5,
            rows: ids.len(),
            id: Some(NamedColumn { name: super::galaxiesml::OBJECT_ID_KEY.into(), values: ids }),
            z_spec: Some(NamedColumn { name: super::galaxiesml::REDSHIFT_KEY.into(), values: z_spec }),
            z_phot: None,
            magnitudes: Vec::new(),
            dropped_invalid: 0,
            sha256,
        });
    }
    let requests = [
        ColumnRequest { role: Role::Id, name: options.id_col.clone(), required: true },
        ColumnRequest { role: Role::ZSpec, name: options.zspec_col.clone(), required: true },
    ];
    read_table(path, &requests, &options.read)
}

/// Attach z_spec from `truth` to every prediction by id.
fn join(predictions: Table, truth: Table, allow_missing: bool) -> Result<Sample> {
    let pred_path = predictions.path.clone();
    let (Some(pred_ids), Some(z_phot)) = (&predictions.id, &predictions.z_phot) else {
        return Err(Error::file(&pred_path, "predictions need an id column and a z_phot column to join with --truth"));
    };
    let matched = match_truth(&pred_path, pred_ids, &truth, allow_missing)?;
    let input = InputInfo {
        predictions: file_info(&predictions),
        truth: Some(TruthInfo {
            file: file_info(&truth),
            matched: matched.z_spec.len(),
            without_prediction: matched.without_prediction,
        }),
    };
    Ok(Sample { ids: predictions.id.map(|c| c.values), z_spec: matched.z_spec, z_phot: z_phot.values.clone(), input })
}

/// The true redshifts of a join ([`match_truth`]).
pub(crate) struct Matched {
    /// The truth file's z_spec of every prediction, in prediction order.
    pub z_spec: Vec<f64>,
    /// Truth galaxies with no prediction (non-zero only with `allow_missing`).
    pub without_prediction: usize,
}

/// The z_spec of `truth` for each id of `pred_ids` (the ids of the predictions file `pred_path`).
/// Every prediction must be in the truth file; truth galaxies without a prediction are an error
/// unless `allow_missing`.
pub(crate) fn match_truth(
    pred_path: &Path,
    pred_ids: &NamedColumn<i64>,
    truth: &Table,
    allow_missing: bool,
) -> Result<Matched> {
    let truth_path = &truth.path;
    let (Some(truth_ids), Some(truth_z)) = (&truth.id, &truth.z_spec) else {
        return Err(Error::file(truth_path, "the truth file needs an id column and a z_spec column"));
    };
    let lookup: HashMap<i64, f64> = truth_ids.values.iter().copied().zip(truth_z.values.iter().copied()).collect();
    let mut z_spec = Vec::with_capacity(pred_ids.values.len());
    let mut missing = 0usize;
    let mut first_missing = None;
    for id in &pred_ids.values {
        match lookup.get(id) {
            Some(z) => z_spec.push(*z),
            None => {
                missing += 1;
                first_missing.get_or_insert(*id);
            }
        }
    }
    if let Some(first) = first_missing {
        return Err(Error::file(
            pred_path,
            format!(
                "{missing} of {} predicted galaxies are not in the truth file {} (first: {} {first}); check that both files describe the same galaxies",
                pred_ids.values.len(),
                truth_path.display(),
                pred_ids.name
            ),
        ));
    }
    let matched = z_spec.len();
    let without_prediction = truth_ids.values.len() - matched;
    if without_prediction > 0 && !allow_missing {
        let predicted: std::collections::HashSet<i64> = pred_ids.values.iter().copied().collect();
        let first = truth_ids.values.iter().find(|id| !predicted.contains(id)).copied().unwrap_or_default();
        return Err(Error::file(
            truth_path,
            format!(
                "{without_prediction} of {} galaxies have no prediction in {} (first: {} {first}); predict every galaxy, or pass --allow-missing to score the matched subset",
                truth_ids.values.len(),
                pred_path.display(),
                truth_ids.name
            ),
        ));
    }
    Ok(Matched { z_spec, without_prediction })
}
