//! `pzbench ensemble` (issue 18): NN-MDNs of different seeds on DC2 rows, validated on the same
//! galaxies (`--split-seed`), combined into one directory that `pzbench predict` reads as one
//! model — the equal-weight mixture of the members' PDFs with the ensemble's width factor, or the
//! mean of point members' redshifts — and every refusal as one line with exit code 2.

use std::path::Path;

use super::mdn::{column, columns, dc2_rows, json, ok, refused, stderr, DC2_BANDS};

/// Trains an NN on `train` (20 % validation drawn with split seed 1) with `seed` into `out`;
/// `head` adds e.g. `--head mdn`.
fn train(train: &str, seed: &str, out: &str, head: &[&str]) {
    let mut args = vec!["train", "--model", "nn", "--train", train, "--val-fraction", "0.2", "--split-seed", "1"];
    args.extend(["--bands", DC2_BANDS, "--colors", "--epochs", "4", "--seed", seed, "--out", out, "-q"]);
    args.extend(head);
    ok(&args);
}

/// Two NN-MDNs (K = 3) make a 6-component ensemble whose PDF is the members' mixture: each
/// galaxy's components are the members' own (weights halved), widths × the ensemble's factor,
/// fitted on their shared validation galaxies and recorded in ensemble.json; the directory moves
/// as one, and `score` reads its PDFs.
#[test]
fn an_ensemble_of_mdns_predicts_the_mixture_of_its_members() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let data = dc2_rows(&tmp.path().join("train.csv"), 1500, |r| r < 7);
    let test = dc2_rows(&tmp.path().join("test.csv"), 1500, |r| r >= 7);
    let mdn = ["--head", "mdn", "--components", "3"];
    train(&data, "1", &p("a"), &mdn);
    train(&data, "2", &p("b"), &mdn);
    let out = ok(&["ensemble", &p("a"), &p("b"), "--val", &data, "--out", &p("ens")]);
    let said = stderr(&out);
    assert!(said.contains("ensemble of 2 models (NN, NN; seeds 1, 2): a mixture of 6 components, widths × "), "{said}");
    assert!(said.contains("on 210 galaxies)"), "{said}");
    let record = json(&tmp.path().join("ens/ensemble.json"));
    assert_eq!(record["format"], "pzbench-ensemble");
    assert_eq!(record["members"][1]["dir"], "members/2");
    assert_eq!(record["members"][1]["seed"], 2);
    let hash = format!("sha256:{}", pzbench_io::sha256_file(Path::new(&data)).unwrap());
    assert_eq!(record["calibration_data"], hash.as_str());
    let fit = &record["width_calibration"];
    assert_eq!(fit["n_val"], 210);
    assert!(fit["val_pit_cvm_after"].as_f64() <= fit["val_pit_cvm_before"].as_f64(), "{fit}");
    let scale = fit["scale"].as_f64().unwrap();

    // Moved elsewhere, it predicts the same; its PDF is the members' mixture.
    std::fs::rename(p("ens"), p("moved")).unwrap();
    let out = ok(&["predict", "--model", &p("moved"), "--data", &test, "--out", &p("ens.csv"), "--qp", &p("ens.hdf5")]);
    assert!(stderr(&out)
        .contains("450 PDFs (Gaussian mixtures, K = 6) with their mode as z_phot by an ensemble of 2 models"));
    ok(&["predict", "--model", &p("a"), "--data", &test, "--out", &p("a.csv"), "-q"]);
    ok(&["predict", "--model", &p("b"), "--data", &test, "--out", &p("b.csv"), "-q"]);
    let (header, rows) = columns(Path::new(&p("ens.csv")));
    assert_eq!(rows.len(), 450);
    assert_eq!(header[..4].join(","), "object_id,z_spec,z_phot,w_0");
    let (ens, a, b) = (tmp.path().join("ens.csv"), tmp.path().join("a.csv"), tmp.path().join("b.csv"));
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * y.abs().max(1e-3);
    for (member, offset) in [(&a, 0), (&b, 3)] {
        for k in 0..3 {
            let (w, mu, sigma) = (
                column(&ens, &format!("w_{}", k + offset)),
                column(&ens, &format!("mu_{}", k + offset)),
                column(&ens, &format!("sigma_{}", k + offset)),
            );
            let (mw, mmu, msigma) = (
                column(member, &format!("w_{k}")),
                column(member, &format!("mu_{k}")),
                column(member, &format!("sigma_{k}")),
            );
            for i in 0..450 {
                assert!(close(w[i], mw[i] / 2.0), "galaxy {i}, component {}: weight", k + offset);
                assert!(close(mu[i], mmu[i]), "galaxy {i}, component {}: mean", k + offset);
                assert!(close(sigma[i], msigma[i] * scale), "galaxy {i}, component {}: width", k + offset);
            }
        }
    }
    let report = p("report.json");
    ok(&["score", &p("ens.hdf5"), "--format", "json", "--output", &report, "-q"]);
    assert_eq!(json(Path::new(&report))["pdf"]["pit"]["count"], 450);

    // --no-width-calibration keeps the members' widths.
    ok(&["ensemble", &p("a"), &p("b"), "--no-width-calibration", "--out", &p("raw"), "-q"]);
    assert!(json(&tmp.path().join("raw/ensemble.json")).get("width_calibration").is_none());
    ok(&["predict", "--model", &p("raw"), "--data", &test, "--out", &p("raw.csv"), "-q"]);
    assert_eq!(column(Path::new(&p("raw.csv")), "sigma_4"), column(&b, "sigma_1"));
}

/// Point members: the ensemble predicts the mean of their redshifts.
#[test]
fn an_ensemble_of_point_models_predicts_their_mean() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let data = dc2_rows(&tmp.path().join("train.csv"), 800, |r| r < 7);
    let test = dc2_rows(&tmp.path().join("test.csv"), 800, |r| r >= 7);
    for seed in ["1", "2", "3"] {
        train(&data, seed, &p(seed), &[]);
        ok(&["predict", "--model", &p(seed), "--data", &test, "--out", &p(&format!("{seed}.csv")), "-q"]);
    }
    let out = ok(&["ensemble", &p("1"), &p("2"), &p("3"), "--out", &p("ens")]);
    assert!(stderr(&out).contains("ensemble of 3 models (NN, NN, NN; seeds 1, 2, 3): the mean of their redshifts"));
    ok(&["predict", "--model", &p("ens"), "--data", &test, "--out", &p("ens.csv"), "-q"]);
    let members: Vec<Vec<f64>> =
        ["1", "2", "3"].iter().map(|s| column(Path::new(&p(&format!("{s}.csv"))), "z_phot")).collect();
    let ensemble = column(Path::new(&p("ens.csv")), "z_phot");
    for (i, z) in ensemble.iter().enumerate() {
        let mean = members.iter().map(|m| m[i]).sum::<f64>() / 3.0;
        assert!((z - mean).abs() < 1e-6, "galaxy {i}: {z} against {mean}");
    }
}

/// Every way to get an ensemble wrong is one line, exit code 2, and no directory written.
#[test]
fn ensemble_refusals_are_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let data = dc2_rows(&tmp.path().join("train.csv"), 600, |r| r < 7);
    let other = dc2_rows(&tmp.path().join("other.csv"), 700, |r| r < 7);
    let mdn = ["--head", "mdn", "--components", "2"];
    train(&data, "1", &p("a"), &mdn);
    train(&data, "2", &p("b"), &mdn);
    train(&data, "3", &p("point"), &[]);
    let mut split7 = vec!["train", "--model", "nn", "--train", &data, "--val-fraction", "0.2", "--bands", DC2_BANDS];
    let c = p("c");
    split7.extend([
        "--colors",
        "--epochs",
        "2",
        "--seed",
        "7",
        "--out",
        &c,
        "-q",
        "--head",
        "mdn",
        "--components",
        "2",
    ]);
    ok(&split7);
    let (a, b, out) = (p("a"), p("b"), p("ens"));
    refused(&["ensemble", &a, &b, "--out", &out], "give --val FILE (the members' validation data)");
    refused(
        &["ensemble", &a, &p("point"), "--val", &data, "--out", &out],
        "an ensemble's members all predict PDFs or all points",
    );
    refused(&["ensemble", &a, &a, "--val", &data, "--out", &out], "holds the same weights as");
    refused(&["ensemble", &a, &b, "--val", &other, "--out", &out], "is not the data");
    refused(
        &["ensemble", &a, &c, "--val", &data, "--out", &out],
        "the members must share their validation galaxies (train them with the same --val-fraction and --split-seed)",
    );
    refused(
        &["ensemble", &p("point"), &a, "--no-width-calibration", "--out", &out],
        "an ensemble's members all predict PDFs or all points",
    );
    refused(&["ensemble", &a, &p("missing"), "--val", &data, "--out", &out], "missing");
    // A shipped model is a member like any other (here of the wrong head).
    refused(
        &["ensemble", &a, "reference:nn", "--val", &data, "--out", &out],
        "baselines/models/nn: has the point head",
    );
    assert!(!tmp.path().join("ens").exists(), "no ensemble directory after a refusal");
    // A point ensemble has no widths to fit; an existing, non-empty --out is kept.
    train(&data, "4", &p("point4"), &[]);
    refused(
        &["ensemble", &p("point"), &p("point4"), "--val", &data, "--out", &out],
        "they predict one redshift per galaxy; drop them",
    );
    ok(&["ensemble", &a, &b, "--val", &data, "--out", &out, "-q"]);
    refused(&["ensemble", &a, &b, "--val", &data, "--out", &out], "already exists; choose another --out");
    refused(
        &["ensemble", &out, &b, "--val", &data, "--out", &p("nested")],
        "is an ensemble; give its members' checkpoints instead",
    );
    // Only the ensemble itself and the members' checkpoints are left: no staging directories.
    let mut names: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c", "ens", "other.csv", "point", "point4", "train.csv"]);
}
