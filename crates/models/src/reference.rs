//! The reference models shipped with pzbench (issue 16): the paper's NN and CNN trained once on a
//! GPU on a large synthetic GalaxiesML set, kept as ordinary checkpoint directories (what
//! [`crate::train_run`] writes) in the repository's `baselines/models/NAME/`. Wherever a
//! checkpoint directory is asked for, `reference:NAME` names one of them.

use std::path::{Path, PathBuf};

use pzbench_io::{Error, Result};

use crate::checkpoint::WEIGHTS_FILE;
use crate::ModelKind;

/// What names a shipped model in place of a checkpoint directory: `reference:cnn-64`.
pub const REFERENCE_PREFIX: &str = "reference:";

/// The environment variable naming the folder of the shipped models when pzbench runs away from
/// its repository (read by the command line, named in errors here).
pub const REFERENCE_MODELS_VAR: &str = "PZBENCH_REFERENCE_MODELS";

/// One shipped model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceModel {
    /// Its name after [`REFERENCE_PREFIX`], and its folder in the models directory.
    pub name: &'static str,
    pub kind: ModelKind,
    /// The cutout size the CNN was trained on (`None`: the NN reads photometry only).
    pub image_size: Option<usize>,
}

/// The `pzbench synth --seed` of the set the shipped models were trained on: a study testing them
/// on synthetic data must draw its galaxies with another seed.
pub const TRAINING_DATA_SEED: u64 = 1;

/// Every shipped model (`baselines/models/README.md` says how each was trained).
pub const REFERENCE_MODELS: [ReferenceModel; 2] = [
    ReferenceModel { name: "nn", kind: ModelKind::Nn, image_size: None },
    ReferenceModel { name: "cnn-64", kind: ModelKind::Cnn, image_size: Some(64) },
];

impl ReferenceModel {
    /// The shipped model of `kind` for cutouts of `size` pixels, if one is shipped.
    pub fn for_kind(kind: ModelKind, size: usize) -> Option<ReferenceModel> {
        REFERENCE_MODELS.into_iter().find(|m| m.kind == kind && m.image_size.is_none_or(|s| s == size))
    }

    /// `reference:NAME`.
    pub fn spec(&self) -> String {
        format!("{REFERENCE_PREFIX}{}", self.name)
    }

    /// Its checkpoint directory under `models_dir`, which must hold its weights.
    pub fn dir(&self, models_dir: &Path) -> Result<PathBuf> {
        let dir = models_dir.join(self.name);
        if !dir.join(WEIGHTS_FILE).is_file() {
            return Err(Error::file(
                &dir,
                format!(
                    "holds no {WEIGHTS_FILE}, so {} cannot be loaded: the shipped models are in baselines/models/ of the \
                     pzbench repository (set {REFERENCE_MODELS_VAR} to that folder when running pzbench from elsewhere)",
                    self.spec()
                ),
            ));
        }
        Ok(dir)
    }
}

/// The checkpoint directory `spec` names: a shipped model's for `reference:NAME` (looked up in
/// `models_dir`), else `spec` itself.
pub fn resolve_model_dir(spec: &Path, models_dir: &Path) -> Result<PathBuf> {
    let Some(name) = spec.to_str().and_then(|s| s.strip_prefix(REFERENCE_PREFIX)) else {
        return Ok(spec.to_path_buf());
    };
    let model = REFERENCE_MODELS.into_iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<String> = REFERENCE_MODELS.iter().map(ReferenceModel::spec).collect();
        Error::usage(format!(
            "--model {}: no such shipped model; the shipped ones are {}",
            spec.display(),
            known.join(", ")
        ))
    })?;
    model.dir(models_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_folders_and_paths_stay_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nn")).unwrap();
        std::fs::write(dir.path().join("nn").join(WEIGHTS_FILE), b"").unwrap();
        assert_eq!(resolve_model_dir(Path::new("reference:nn"), dir.path()).unwrap(), dir.path().join("nn"));
        assert_eq!(resolve_model_dir(Path::new("runs/cnn"), dir.path()).unwrap(), PathBuf::from("runs/cnn"));
        let unknown = resolve_model_dir(Path::new("reference:resnet"), dir.path()).unwrap_err().to_string();
        assert!(unknown.contains("reference:nn, reference:cnn-64"), "{unknown}");
        let missing = resolve_model_dir(Path::new("reference:cnn-64"), dir.path()).unwrap_err().to_string();
        assert!(missing.contains(REFERENCE_MODELS_VAR), "{missing}");
    }

    #[test]
    fn each_kind_and_size_has_at_most_one_model() {
        assert_eq!(ReferenceModel::for_kind(ModelKind::Cnn, 64).map(|m| m.name), Some("cnn-64"));
        assert_eq!(ReferenceModel::for_kind(ModelKind::Cnn, 127), None);
        assert_eq!(ReferenceModel::for_kind(ModelKind::Nn, 127).map(|m| m.name), Some("nn"));
    }
}
