//! Redshift PDFs from the reference models end to end (issue 18): `pzbench train --head mdn`
//! for the NN (on DC2 photometry) and the CNN (on a small `pzbench synth` set), `pzbench predict`
//! writing the mixtures as a table and a qp file, `pzbench score` reading both, `--resume`, and
//! every refusal as one line with exit code 2.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use super::util::{assert_one_error_line, pzbench_process, root};

pub(super) const DC2_BANDS: &str = "mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst";

/// Runs `pzbench args` (descriptors other than the standard streams closed in the child, so that
/// it never holds an HDF5 file another test of this binary writes).
pub(super) fn pz<S: AsRef<OsStr> + Debug>(args: &[S]) -> Output {
    pzbench_process().args(args).output().unwrap()
}

pub(super) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `pzbench args` succeeds.
pub(super) fn ok<S: AsRef<OsStr> + Debug>(args: &[S]) -> Output {
    let out = pz(args);
    assert!(out.status.success(), "pzbench {args:?}: {}", stderr(&out));
    out
}

/// `pzbench args` exits with code 2 and one error line containing `message`.
pub(super) fn refused<S: AsRef<OsStr> + Debug>(args: &[S], message: &str) {
    let out = pz(args);
    assert_eq!(out.status.code(), Some(2), "pzbench {args:?}: {}", stderr(&out));
    assert_one_error_line(&stderr(&out), &[message]);
}

/// The rows of the DC2 catalogue among its first `n` whose 0-based index mod 10 is in `keep`
/// (RAIL's split: < 7 train, >= 7 test), with its header, written to `path`.
pub(super) fn dc2_rows(path: &Path, n: usize, keep: impl Fn(usize) -> bool) -> String {
    let text = std::fs::read_to_string(root().join("fixtures/data/dc2/dc2_training_9816.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.take(n).enumerate().filter(|(i, _)| keep(i % 10)).map(|(_, l)| l).collect();
    std::fs::write(path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path.to_str().unwrap().to_string()
}

pub(super) fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A CSV's columns by name, as text.
pub(super) fn columns(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (header, lines.map(|l| l.split(',').map(String::from).collect()).collect())
}

pub(super) fn column(path: &Path, name: &str) -> Vec<f64> {
    let (header, rows) = columns(path);
    let k = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter().map(|r| r[k].parse().unwrap()).collect()
}

/// The NN-MDN on DC2 rows split as RAIL's: PDFs written as CSV and qp HDF5, which `pzbench
/// score` reads to the same report; the CSV's z_phot is exactly the PDF's mode (or the median
/// with `--point median`) as `score` computes it.
#[test]
fn nn_mdn_on_dc2_writes_pdfs_that_score_reads_as_table_and_qp() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let train = dc2_rows(&tmp.path().join("train.csv"), 2000, |r| r < 7);
    let test = dc2_rows(&tmp.path().join("test.csv"), 2000, |r| r >= 7);
    let model = p("nn_mdn");
    let out = ok(&[
        "train",
        "--model",
        "nn",
        "--head",
        "mdn",
        "--components",
        "3",
        "--train",
        &train,
        "--val-fraction",
        "0.2",
        "--bands",
        DC2_BANDS,
        "--colors",
        "--epochs",
        "12",
        "--seed",
        "1",
        "--out",
        &model,
    ]);
    assert!(stderr(&out).contains("trained the NN with the mdn (K = 3) head (widths × "), "{}", stderr(&out));
    let meta = json(&tmp.path().join("nn_mdn/model.json"));
    assert_eq!(meta["training"]["config"]["calibrate_widths"], true, "on by default with --head mdn");
    let calibration = &meta["training"]["width_calibration"];
    assert_eq!(calibration["n_val"], 280);
    assert!(calibration["val_pit_cvm_after"].as_f64() <= calibration["val_pit_cvm_before"].as_f64(), "{calibration}");
    assert_eq!(meta["architecture"]["head"], serde_json::json!({"type": "mdn", "components": 3}));
    assert_eq!(meta["training"]["config"]["loss"], "nll");
    assert_eq!(meta["format_version"], 2);

    let (csv, qp) = (p("pdfs.csv"), p("pdfs.qp.hdf5"));
    let out = ok(&["predict", "--model", &model, "--data", &test, "--out", &csv, "--qp", &qp]);
    assert!(stderr(&out).contains("600 PDFs (Gaussian mixtures, K = 3) with their mode as z_phot"), "{}", stderr(&out));
    let (header, rows) = columns(Path::new(&csv));
    assert_eq!(header.join(","), "object_id,z_spec,z_phot,w_0,w_1,w_2,mu_0,mu_1,mu_2,sigma_0,sigma_1,sigma_2");
    assert_eq!(rows.len(), 600, "one row per test galaxy");

    // The same PDFs, hence the same report, from either file.
    let mut reports = Vec::new();
    for (file, per_galaxy) in [(&csv, p("csv_pit.csv")), (&qp, p("qp_pit.csv"))] {
        let report = p("report.json");
        ok(&["score", file, "--format", "json", "--output", &report, "--pit-out", &per_galaxy, "-q"]);
        let report = json(Path::new(&report));
        reports.push((report["overall"].clone(), report["pdf"]["pit"].clone(), report["pdf"]["crps"].clone()));
        assert_eq!(column(Path::new(&per_galaxy), "z_mode"), column(Path::new(&csv), "z_phot"), "z_phot = the mode");
    }
    assert_eq!(reports[0], reports[1]);
    // A trained model's PDFs carry information: the CDE loss of a flat PDF on [0, 3] is −1/3.
    let report = json(Path::new(&p("report.json")));
    let cde = report["pdf"]["cde_loss"].as_f64().unwrap();
    assert!(cde < -2.0, "CDE loss {cde}");

    let median = p("median.csv");
    ok(&["predict", "--model", &model, "--data", &test, "--out", &median, "--point", "median", "-q"]);
    assert_eq!(column(Path::new(&median), "z_phot"), column(Path::new(&p("qp_pit.csv")), "z_median"));
}

/// Flags that do not fit the head, a resumed run that changes it, PDFs asked of a point model:
/// one line each, exit code 2, nothing written.
#[test]
fn mdn_flags_are_checked_and_a_resumed_run_keeps_its_head() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let train = dc2_rows(&tmp.path().join("train.csv"), 400, |r| r < 7);
    let test = dc2_rows(&tmp.path().join("test.csv"), 400, |r| r >= 7);
    let base = ["train", "--model", "nn", "--train", &train, "--val-fraction", "0.25", "--bands", DC2_BANDS];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|a| a.to_string()).collect() };
    refused(&with(&["--components", "3", "--out", &p("x")]), "--components sets the mixture of --head mdn");
    refused(&with(&["--head", "mdn", "--loss", "tanaka", "--out", &p("x")]), "use --loss nll");
    refused(&with(&["--loss", "nll", "--out", &p("x")]), "--loss nll is the likelihood of a mixture-density head");
    refused(&with(&["--tanaka-weight", "1", "--out", &p("x")]), "--tanaka-weight adds a term");
    refused(
        &with(&["--head", "mdn", "--tanaka-on", "components", "--out", &p("x")]),
        "--tanaka-on chooses what --tanaka-weight scores; give --tanaka-weight W > 0",
    );
    refused(&with(&["--head", "mdn", "--components", "0", "--out", &p("x")]), "between 1 and 256 components");
    refused(
        &with(&["--no-width-calibration", "--out", &p("x")]),
        "--no-width-calibration keeps the widths of --head mdn",
    );
    assert!(!tmp.path().join("x").exists(), "no checkpoint directory made by a refusal");

    let mdn = p("mdn");
    ok(&with(&["--head", "mdn", "--epochs", "1", "--out", &mdn, "-q"]));
    refused(
        &with(&["--epochs", "2", "--resume", "--out", &mdn]),
        "the head differs from the interrupted run's (point instead of mdn (K = 5))",
    );
    refused(&with(&["--head", "mdn", "--components", "4", "--epochs", "2", "--resume", "--out", &mdn]), "mdn (K = 4)");
    refused(
        &with(&["--head", "mdn", "--no-width-calibration", "--epochs", "2", "--resume", "--out", &mdn]),
        "the width calibration differs from the interrupted run's (false instead of true)",
    );
    let over_components = ["--head", "mdn", "--tanaka-weight", "1", "--tanaka-on", "components"];
    let resume_mdn = ["--epochs", "2", "--resume", "--out", &mdn];
    refused(
        &with(&[&over_components[..], &resume_mdn].concat()),
        "the Tanaka weight differs from the interrupted run's (1 instead of 0)",
    );
    ok(&with(&["--head", "mdn", "--epochs", "2", "--resume", "--out", &mdn, "-q"]));
    // The Tanaka term over the components is recorded and must be kept by a resumed run.
    let components = p("components");
    ok(&with(&[&over_components[..], &["--epochs", "1", "--out", &components, "-q"]].concat()));
    assert_eq!(json(&tmp.path().join("components/model.json"))["training"]["config"]["tanaka_target"], "components");
    refused(
        &with(&["--head", "mdn", "--tanaka-weight", "1", "--epochs", "2", "--resume", "--out", &components]),
        "the Tanaka term's target differs from the interrupted run's (mean instead of components)",
    );
    assert_eq!(json(&tmp.path().join("mdn/model.json"))["training"]["history"].as_array().unwrap().len(), 2);

    let point = p("point");
    ok(&with(&["--epochs", "1", "--out", &point, "-q"]));
    assert_eq!(json(&tmp.path().join("point/model.json"))["format_version"], 1);
    let (csv, qp) = (p("p.csv"), p("p.hdf5"));
    let predict = ["predict", "--model", &point, "--data", &test, "--out", &csv];
    refused(&[&predict[..], &["--qp", &qp]].concat(), "--qp writes PDFs, but this model predicts one redshift");
    refused(&[&predict[..], &["--point", "mean"]].concat(), "--point picks the point estimate");
    assert!(!Path::new(&csv).exists() && !Path::new(&qp).exists(), "nothing written");
}

/// The CNN-MDN on a small synthetic GalaxiesML set: trained, resumed, its PDFs written as a qp
/// file that `pzbench score` reads.
#[test]
fn cnn_mdn_on_synthetic_hdf5_trains_resumes_and_predicts_pdfs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("synth");
    ok(&["synth", "--n", "40", "--size", "64", "--seed", "3", "--output", data.to_str().unwrap(), "-q"]);
    let file = |split: &str| -> PathBuf { data.join(format!("5x64x64_{split}_with_morphology.hdf5")) };
    let (train, val, test) = (file("training"), file("validation"), file("testing"));
    let model = tmp.path().join("cnn_mdn");
    let cnn = |epochs: &str, resume: bool| {
        let mut args = vec!["train", "--model", "cnn", "--head", "mdn", "--components", "2", "--batch-size", "8"];
        args.extend(["--lr", "3e-4", "--epochs", epochs, "--scale-mags", "-q"]);
        args.extend(["--train", train.to_str().unwrap(), "--val", val.to_str().unwrap()]);
        args.extend(["--out", model.to_str().unwrap()]);
        if resume {
            args.push("--resume");
        }
        ok(&args);
    };
    cnn("1", false);
    cnn("2", true);
    let meta = json(&model.join("model.json"));
    assert_eq!(meta["architecture"]["head"]["components"], 2);
    let history = meta["training"]["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|e| e["val_loss"].as_f64().is_some_and(f64::is_finite)), "{history:?}");

    let (csv, qp) = (tmp.path().join("cnn.csv"), tmp.path().join("cnn.qp.hdf5"));
    let (csv, qp) = (csv.to_str().unwrap(), qp.to_str().unwrap());
    ok(&["predict", "--model", model.to_str().unwrap(), "--data", test.to_str().unwrap(), "--out", csv, "--qp", qp]);
    let report = tmp.path().join("r.json");
    ok(&["score", qp, "--format", "json", "--output", report.to_str().unwrap(), "-q"]);
    let report = json(&report);
    assert_eq!(report["pdf"]["pit"]["count"], 8);
    assert_eq!(report["overall"]["count"], 8);
    assert_eq!(column(Path::new(csv), "z_phot").len(), 8);
}
