//! Ensembles of trained models: deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017,
//! NeurIPS, "Simple and scalable predictive uncertainty estimation using deep ensembles", §2.4).
//! M networks trained on the same data from different seeds (initial weights, shuffles) predict
//! together: the ensemble's PDF is the equal-weight mixture of the members' PDFs,
//!
//! ```text
//! p(z | x) = (1/M) Σ_m p_m(z | x) = Σ_m Σ_k (w_mk / M) N(z; μ_mk, σ_mk²),
//! ```
//!
//! a Gaussian mixture of `Σ_m K_m` components, so it stays qp's `mixmod` ([`mix`]); members with
//! the point head predict the mean of their redshifts. Where the members disagree the mixture is
//! wider than each of them, so members calibrated alone make an ensemble that is too wide (Wu &
//! Gales 2021, Entropy 23, 1434, "Should ensemble members be calibrated?"): the ensemble's widths
//! get one factor of their own ([`crate::fit_width_scale`]), fitted on the validation set the
//! members share, on top of each member's.
//!
//! An ensemble is a directory: [`ENSEMBLE_FILE`] (members, width factor, the SHA-256 of the file
//! it was fitted on) and `members/1`, `members/2`, … — each a checkpoint as [`crate::load`] reads
//! it (weights, `model.json`, `inputs.json`), copied there so that the directory moves as one.
//! It is written to a temporary sibling and renamed into place: a reader sees all of it or none.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::calibration::{fit_width_scale, WidthCalibration};
use super::checkpoint::{load, WEIGHTS_FILE};
use super::inputs::{read_data, InputSpec};
use super::mdn::{GaussianMixtures, Head};
use super::model::{predict_mixtures, Architecture, Model};
use super::record::ValidationSplit;
use pzbench_io::table::ReadOptions;
use pzbench_io::{temp_path_for, write_atomic, Error, Result};

/// The ensemble's description in its directory.
pub const ENSEMBLE_FILE: &str = "ensemble.json";
/// The folder of the members' checkpoints inside an ensemble directory.
const MEMBERS_DIR: &str = "members";
const FORMAT: &str = "pzbench-ensemble";
/// The newest ensemble format, which this pzbench reads.
const FORMAT_VERSION: u32 = 1;

/// The contents of [`ENSEMBLE_FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleRecord {
    pub format: String,
    pub format_version: u32,
    pub pzbench_version: String,
    /// The members, in the order given.
    pub members: Vec<MemberRecord>,
    /// The ensemble's width factor (mixture-density members), applied on top of the members' own;
    /// absent when it was built without one (`--no-width-calibration`) or of point members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width_calibration: Option<WidthCalibration>,
    /// "sha256:HEX" of the file the factor was fitted on (the members' validation data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_data: Option<String>,
}

/// One member of an ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Its checkpoint, relative to the ensemble directory (`members/1`, …).
    pub dir: String,
    /// The checkpoint directory it was copied from, as given.
    pub source: String,
    pub architecture: Architecture,
    /// The seed it was trained with.
    pub seed: u64,
    /// "sha256:HEX" of its weights.
    pub weights: String,
}

impl EnsembleRecord {
    /// The members' checkpoint directories inside the ensemble directory `dir`.
    pub fn member_dirs(&self, dir: &Path) -> Vec<PathBuf> {
        self.members.iter().map(|m| dir.join(&m.dir)).collect()
    }

    /// The members' head (the same for all, checked when the ensemble was built).
    pub fn head(&self) -> Head {
        self.members.first().map_or(Head::Point, |m| m.architecture.head())
    }
}

/// Whether `dir` holds an ensemble (its [`ENSEMBLE_FILE`]) rather than one model.
pub fn is_ensemble(dir: &Path) -> bool {
    dir.join(ENSEMBLE_FILE).is_file()
}

/// Reads the [`ENSEMBLE_FILE`] of the ensemble directory `dir`.
pub fn read_ensemble(dir: &Path) -> Result<EnsembleRecord> {
    let path = dir.join(ENSEMBLE_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::file(&path, format!("cannot read: {e}")).caused_by(e))?;
    let record: EnsembleRecord = serde_json::from_str(&text).map_err(|e| {
        Error::file(&path, format!("is not a pzbench ensemble description ({e}); rebuild it with `pzbench ensemble`"))
            .caused_by(e)
    })?;
    if record.format != FORMAT {
        return Err(Error::file(&path, format!("has format {:?}, not {FORMAT:?}", record.format)));
    }
    if record.format_version > FORMAT_VERSION {
        return Err(Error::file(
            &path,
            format!(
                "was written by a newer pzbench ({}: format {}, this one reads up to {FORMAT_VERSION}); upgrade pzbench",
                record.pzbench_version, record.format_version
            ),
        ));
    }
    if record.members.is_empty() {
        return Err(Error::file(&path, "lists no member; rebuild it with `pzbench ensemble`"));
    }
    Ok(record)
}

/// The equal-weight mixture of the members' mixtures of the same galaxies (module docs): per
/// galaxy, every member's components with their weights divided by the number of members, in
/// member order. `None` without members or when they describe different numbers of galaxies.
pub fn mix(members: &[GaussianMixtures]) -> Option<GaussianMixtures> {
    let n = members.first()?.len();
    if members.iter().any(|m| m.len() != n) {
        return None;
    }
    let share = 1.0 / members.len() as f64;
    let k: usize = members.iter().map(|m| m.k).sum();
    let mut mixed = GaussianMixtures {
        k,
        weights: Vec::with_capacity(n * k),
        means: Vec::with_capacity(n * k),
        sigmas: Vec::with_capacity(n * k),
    };
    for i in 0..n {
        for member in members {
            let range = i * member.k..(i + 1) * member.k;
            mixed.weights.extend(member.weights[range.clone()].iter().map(|w| w * share));
            mixed.means.extend_from_slice(&member.means[range.clone()]);
            mixed.sigmas.extend_from_slice(&member.sigmas[range]);
        }
    }
    Some(mixed)
}

/// What [`build_ensemble`] needs (`pzbench ensemble`'s arguments).
#[derive(Debug, Clone)]
pub struct EnsembleRequest {
    /// The members' checkpoint directories (at least two), written by [`crate::train_run`].
    pub members: Vec<PathBuf>,
    /// The ensemble directory to write: must not exist, or be empty.
    pub output: PathBuf,
    /// The members' validation data, on which the ensemble's width factor is fitted: the file
    /// they were trained with as `--val`, or their `--train` file when they held out
    /// `--val-fraction` of it (the same split is drawn again). `None`: no factor of its own,
    /// which mixture-density members must ask for with `keep_widths`.
    pub calibrate_on: Option<PathBuf>,
    /// Keep the members' widths (`--no-width-calibration`): only for mixture-density members,
    /// and without `calibrate_on`.
    pub keep_widths: bool,
    /// Compute device of the validation predictions ([`crate::device`]).
    pub device: String,
    /// Galaxies per forward pass.
    pub batch_size: usize,
    /// How catalogues are read (delimiter, invalid rows).
    pub read: ReadOptions,
}

/// Builds the ensemble of `request.members` in `request.output` (module docs): loads every
/// member, checks that they share a head and differ in weights, fits the ensemble's width factor
/// on `calibrate_on` (checked against the validation data each member's `model.json` records,
/// and the members' validation splits against each other), then writes the directory at once.
pub fn build_ensemble(request: &EnsembleRequest) -> Result<EnsembleRecord> {
    if request.members.len() < 2 {
        return Err(Error::usage("an ensemble needs at least two members: give two or more checkpoint directories"));
    }
    if request.batch_size == 0 {
        return Err(Error::usage("--batch-size must be at least 1"));
    }
    let output = &request.output;
    if std::fs::read_dir(output).is_ok_and(|mut entries| entries.next().is_some()) || output.is_file() {
        return Err(Error::file(
            output,
            "already exists; choose another --out (an ensemble is written to a new directory)",
        ));
    }
    let device = crate::device(&request.device)?;
    let mut members = Vec::with_capacity(request.members.len());
    for dir in &request.members {
        if is_ensemble(dir) {
            return Err(Error::file(dir, "is an ensemble; give its members' checkpoints instead"));
        }
        members.push((load(dir, &device)?, InputSpec::load(dir)?));
    }
    let head = members[0].0.architecture().head();
    for (dir, (model, _)) in request.members.iter().zip(&members) {
        if model.architecture().head().is_point() != head.is_point() {
            return Err(Error::file(
                dir,
                format!(
                    "has the {} head, {} the {head} head; an ensemble's members all predict PDFs or all points",
                    model.architecture().head(),
                    request.members[0].display()
                ),
            ));
        }
    }
    let calibration = match (&request.calibrate_on, request.keep_widths) {
        (Some(_), _) | (None, true) if head.is_point() => {
            return Err(Error::usage(
                "--val and --no-width-calibration concern the widths of the members' PDFs, but they predict one redshift per galaxy; drop them",
            ))
        }
        (Some(_), true) => return Err(Error::usage("give either --val or --no-width-calibration, not both")),
        (Some(file), false) => Some(calibrate(request, file, &members)?),
        (None, true) => None,
        (None, false) if head.is_point() => None,
        (None, false) => {
            return Err(Error::usage(
                "give --val FILE (the members' validation data) to fit the ensemble's widths, or --no-width-calibration to keep them",
            ))
        }
    };
    write_ensemble(request, &members, calibration)
}

/// The ensemble's width factor, fitted on the members' validation galaxies of `file`, and the
/// file's hash.
fn calibrate(
    request: &EnsembleRequest,
    file: &Path,
    members: &[(Model, InputSpec)],
) -> Result<(WidthCalibration, String)> {
    let hash = format!("sha256:{}", pzbench_io::sha256_file(file)?);
    let split_of = |dir: &Path, model: &Model| -> Result<Option<ValidationSplit>> {
        let record = model.training.as_ref();
        if model.data_hashes.get("val") != Some(&hash) || record.is_none() {
            return Err(Error::file(
                file,
                format!(
                    "is not the data {} was validated on (its model.json records {}); give the members' --val file, or their --train file if they held out --val-fraction of it",
                    dir.display(),
                    model.data_hashes.get("val").map_or("none", String::as_str)
                ),
            ));
        }
        Ok(record.and_then(|r| r.validation_split))
    };
    let (first_dir, first) = (&request.members[0], &members[0].0);
    let split = split_of(first_dir, first)?;
    let said = |split: Option<ValidationSplit>| match split {
        Some(s) => format!("--val-fraction {} with split seed {}", s.fraction, s.seed),
        None => "the whole file".to_string(),
    };
    let mut mixtures = Vec::with_capacity(members.len());
    let mut truth: Option<(Vec<i64>, Vec<f32>)> = None;
    for (dir, (model, spec)) in request.members.iter().zip(members) {
        let drawn = split_of(dir, model)?;
        if drawn.map(|s| (s.fraction, s.seed)) != split.map(|s| (s.fraction, s.seed)) {
            return Err(Error::file(
                dir,
                format!(
                    "validated on {} of {}, {} on {}: the members must share their validation galaxies (train them with the same --val-fraction and --split-seed)",
                    said(drawn),
                    file.display(),
                    first_dir.display(),
                    said(split)
                ),
            ));
        }
        let images = model.architecture().image_shape().is_some();
        let raw = read_data(file, &spec.bands, images, spec.non_detection, &request.read)?;
        let raw = match drawn {
            Some(s) => raw.split(s.fraction, s.seed, spec.non_detection)?.1,
            None => raw,
        };
        let data = spec.dataset(raw)?;
        let z = data
            .redshifts()
            .ok_or_else(|| Error::file(file, "has no spectroscopic redshifts to calibrate on"))?
            .to_vec();
        match &truth {
            None => truth = Some((data.ids().to_vec(), z)),
            Some((ids, _)) if ids != data.ids() => {
                return Err(Error::file(
                    file,
                    format!(
                        "gives {} and {} different galaxies (other magnitude columns or dropped rows); the members must read the same ones",
                        dir.display(),
                        first_dir.display()
                    ),
                ))
            }
            Some(_) => {}
        }
        mixtures.push(predict_mixtures(model, &data, request.batch_size)?);
    }
    let (_, z) = truth.ok_or_else(|| Error::usage("an ensemble needs at least two members"))?;
    let mixed =
        mix(&mixtures).ok_or_else(|| Error::file(file, "the members predicted different numbers of galaxies"))?;
    let fit = fit_width_scale(&mixed, &z).ok_or_else(|| Error::file(file, "holds no validation galaxy"))?;
    Ok((fit, hash))
}

/// Writes the ensemble directory: the members' checkpoints and [`ENSEMBLE_FILE`] into a temporary
/// sibling of `request.output`, renamed into place at the end (removed on failure).
fn write_ensemble(
    request: &EnsembleRequest,
    members: &[(Model, InputSpec)],
    calibration: Option<(WidthCalibration, String)>,
) -> Result<EnsembleRecord> {
    let output = &request.output;
    let staging = TempDir(temp_path_for(output));
    let mut records: Vec<MemberRecord> = Vec::with_capacity(members.len());
    for (i, (source, (model, spec))) in request.members.iter().zip(members).enumerate() {
        let dir = format!("{MEMBERS_DIR}/{}", i + 1);
        let path = staging.0.join(&dir);
        model.save(&path)?;
        spec.save(&path)?;
        let weights = format!("sha256:{}", pzbench_io::sha256_file(&path.join(WEIGHTS_FILE))?);
        if let Some(twin) = records.iter().find(|r| r.weights == weights) {
            return Err(Error::file(
                source,
                format!(
                    "holds the same weights as {}: an ensemble's members must differ (train them with different --seed)",
                    twin.source
                ),
            ));
        }
        records.push(MemberRecord {
            dir,
            source: source.display().to_string(),
            architecture: *model.architecture(),
            seed: model.seed(),
            weights,
        });
    }
    let (width_calibration, calibration_data) = calibration.map_or((None, None), |(fit, hash)| (Some(fit), Some(hash)));
    let record = EnsembleRecord {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        pzbench_version: pzbench_io::VERSION.into(),
        members: records,
        width_calibration,
        calibration_data,
    };
    let path = staging.0.join(ENSEMBLE_FILE);
    let json = serde_json::to_vec_pretty(&record)
        .map_err(|e| Error::file(&path, format!("cannot serialise: {e}")).caused_by(e))?;
    write_atomic(&path, &json)?;
    // An empty directory at `output` is replaced; one that another process filled meanwhile is not.
    let _ = std::fs::remove_dir(output);
    std::fs::rename(&staging.0, output).map_err(|e| {
        Error::file(output, format!("cannot move the ensemble into place ({e}); choose another --out")).caused_by(e)
    })?;
    Ok(record)
}

/// A directory removed with its contents when dropped: the ensemble being written, on failure
/// (once renamed into place, nothing is left at its path to remove).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixtures(k: usize, rows: &[(&[f64], &[f64], &[f64])]) -> GaussianMixtures {
        GaussianMixtures {
            k,
            weights: rows.iter().flat_map(|r| r.0.iter().copied()).collect(),
            means: rows.iter().flat_map(|r| r.1.iter().copied()).collect(),
            sigmas: rows.iter().flat_map(|r| r.2.iter().copied()).collect(),
        }
    }

    /// The mixture's CDF and density are the members' averages; its weights still sum to 1;
    /// members of different sizes or none give no mixture.
    #[test]
    fn the_mixture_averages_the_members() {
        let a = mixtures(2, &[(&[0.3, 0.7], &[0.5, 1.0], &[0.05, 0.1]), (&[1.0, 0.0], &[2.0, 2.5], &[0.2, 0.2])]);
        let b = mixtures(1, &[(&[1.0], &[0.6], &[0.03]), (&[1.0], &[1.9], &[0.1])]);
        let mixed = mix(&[a.clone(), b.clone()]).unwrap();
        assert_eq!((mixed.k, mixed.len()), (3, 2));
        for i in 0..2 {
            let total: f64 = mixed.weights[i * 3..(i + 1) * 3].iter().sum();
            assert!((total - 1.0).abs() < 1e-15);
            for z in [0.4, 0.55, 1.0, 1.95, 3.0] {
                let cdf = (a.cdf(i, z, 1.0) + b.cdf(i, z, 1.0)) / 2.0;
                assert!((mixed.cdf(i, z, 1.0) - cdf).abs() < 1e-15, "galaxy {i}, z = {z}");
                let density = (a.log_density(i, z).exp() + b.log_density(i, z).exp()) / 2.0;
                assert!(
                    (mixed.log_density(i, z).exp() - density).abs() < 1e-12 * density.max(1.0),
                    "galaxy {i}, z = {z}"
                );
            }
        }
        assert_eq!(mix(std::slice::from_ref(&a)), Some(a.clone()), "one member is itself");
        let short = mixtures(1, &[(&[1.0], &[0.6], &[0.03])]);
        assert_eq!(mix(&[a, short]), None);
        assert_eq!(mix(&[]), None);
    }
}
