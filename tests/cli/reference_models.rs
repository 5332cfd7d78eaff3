//! The reference models shipped in `baselines/models/` (issue 16): every checkpoint loads and
//! predicts the committed fixture set as recorded when it was shipped, `predict --model
//! reference:NAME` finds them, and `reproduce` uses them by default.

use std::path::Path;

use super::util::{assert_one_error_line, root, run};

/// Predictions of the shipped models on `fixtures/synth`'s testing file, written when they were
/// shipped (`fixtures/reference_models/README.md`).
const EXPECTED: &str = "fixtures/reference_models";

/// Float32 models on other CPUs (other SIMD paths in the matrix products) may round differently;
/// a broken loader or preprocessing moves predictions by far more.
const TOLERANCE: f64 = 1e-5;

/// `(object_id, z_phot)` of every row of a predictions CSV (`object_id,z_spec,z_phot`).
fn predictions(path: &Path) -> Vec<(i64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("object_id,z_spec,z_phot"), "{}", path.display());
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].parse().unwrap(), cells[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn every_shipped_model_predicts_the_fixture_set_as_when_it_was_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("fixtures/synth/5x64x64_testing_with_morphology.hdf5");
    for name in ["nn", "cnn-64"] {
        let out = dir.path().join(format!("{name}.csv"));
        let spec = format!("reference:{name}");
        let (code, _, stderr) =
            run(&["predict", "--model", &spec, "--data", data.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q"]);
        assert_eq!(code, 0, "{name}: {stderr}");
        let got = predictions(&out);
        let expected = predictions(&root().join(EXPECTED).join(format!("{name}_testing.csv")));
        assert_eq!(got.len(), expected.len(), "{name}");
        for ((id, z), (want_id, want)) in got.iter().zip(&expected) {
            assert_eq!(id, want_id, "{name}");
            assert!((z - want).abs() <= TOLERANCE, "{name}, object {id}: z_phot {z} against {want} when shipped");
        }
    }
}

#[test]
fn unknown_reference_names_are_refused_with_the_known_ones() {
    let (code, _, stderr) = run(&["predict", "--model", "reference:resnet", "--data", "x.hdf5", "-o", "y.csv"]);
    assert_eq!(code, 2);
    assert_one_error_line(&stderr, &["reference:resnet", "reference:nn", "reference:cnn-64"]);
}

/// `reproduce` with every default — the README's main job — gives the committed baseline: the
/// same test galaxies (synthesised here), predicted by the shipped models as when the baseline
/// was made (`baselines/README.md`), and says which weights and data it used.
#[test]
fn the_default_reproduce_run_gives_the_committed_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let (code, _, stderr) = run(&["reproduce", "--output", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    for (model, baseline) in
        [("nn", "reproduce_default_nn_predictions.csv"), ("cnn", "reproduce_default_cnn_predictions.csv")]
    {
        let got = predictions(&out.join("predictions").join(format!("{model}.csv")));
        let expected = predictions(&root().join("baselines").join(baseline));
        assert_eq!(got.len(), expected.len(), "{model}");
        for ((id, z), (want_id, want)) in got.iter().zip(&expected) {
            assert_eq!(id, want_id, "{model}");
            assert!((z - want).abs() <= TOLERANCE, "{model}, object {id}: z_phot {z} against {want} in {baseline}");
        }
    }
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(index.contains("SYNTHETIC") && index.contains("reference:cnn-64"), "{index}");
    for name in ["nn", "cnn-64"] {
        let weights = root().join("baselines/models").join(name).join("model.safetensors");
        let sha = pzbench_io::sha256_file(&weights).unwrap();
        assert!(index.contains(&sha), "{name}'s SHA-256 {sha} missing from index.md");
    }
    assert!(!out.join("models").exists(), "nothing is trained without --train");
    for file in ["table2.md", "table2.tex", "table2.csv", "figure6.png", "leaderboard.md", "scatter_cnn.png"] {
        assert!(out.join(file).is_file(), "{file}");
    }
}

#[test]
fn reproduce_refuses_what_the_shipped_models_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let out = out.to_str().unwrap();
    let (code, _, stderr) = run(&["reproduce", "--output", out, "--size", "127"]);
    assert_eq!(code, 2);
    assert_one_error_line(&stderr, &["127x127", "--train"]);
    let (code, _, stderr) = run(&["reproduce", "--output", out, "--seed", "1"]);
    assert_eq!(code, 2);
    assert_one_error_line(&stderr, &["--seed 1", "trained on"]);
    let (code, _, stderr) = run(&["reproduce", "--output", out, "--cnn-epochs", "3"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--train"), "{stderr}");
    assert!(!Path::new(out).exists(), "a refused run leaves no output folder");
}
