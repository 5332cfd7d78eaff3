//! `pzbench gate` and `pzbench baseline save`: identical and re-seeded candidates pass, a
//! candidate worse in one bin fails naming it, a better one is reported as improved, and a
//! different test set is an error. PDF files: a candidate with shifted PDFs fails on crps, a file
//! passes against itself, a saved PDF baseline gives the same comparisons as the PDF file, and a
//! PDF baseline with a point candidate is one error line.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tempfile::TempDir;

use super::util::{assert_one_error_line, pzbench, root};

const N: usize = 8000;

/// True redshifts shared by every "model": uniform in (0.05, 2.4).
fn z_spec() -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    (0..N).map(|_| rng.random_range(0.05..2.4)).collect()
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A model with `sigma (1+z)` Gaussian errors, 3 % outliers, and `extra` more scatter for galaxies
/// with z_spec in (1.0, 1.2]; `seed` is the model's training seed (its noise realisation).
fn predictions(dir: &TempDir, name: &str, seed: u64, sigma: f64, extra: f64) -> PathBuf {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::from("object_id,z_spec,z_phot\n");
    for (i, zs) in z_spec().into_iter().enumerate() {
        let s = if zs > 1.0 && zs <= 1.2 { sigma + extra } else { sigma };
        let mut zp = zs + s * (1.0 + zs) * normal(&mut rng);
        if rng.random::<f64>() < 0.03 {
            zp = rng.random_range(0.0..3.0);
        }
        text.push_str(&format!("{},{zs},{zp}\n", 1000 + i));
    }
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn gate(baseline: &Path, candidate: &Path, extra: &[&str]) -> (i32, String, Value) {
    let output = pzbench()
        .args(["gate", "--format", "json", "--baseline"])
        .arg(baseline)
        .arg("--candidate")
        .arg(candidate)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), String::from_utf8_lossy(&output.stderr).to_string(), json)
}

fn verdicts<'a>(json: &'a Value, verdict: &str) -> Vec<&'a Value> {
    json["comparisons"].as_array().unwrap().iter().filter(|c| c["verdict"] == verdict).collect()
}

#[test]
fn identical_candidate_passes() {
    let dir = TempDir::new().unwrap();
    let base = predictions(&dir, "base.csv", 7, 0.03, 0.0);
    let (code, stderr, json) = gate(&base, &base, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["regressions"], 0);
    assert_eq!(json["improvements"], 0);
    assert_eq!(json["paired"], true);
}

#[test]
fn extra_noise_in_one_bin_fails_naming_that_bin() {
    let dir = TempDir::new().unwrap();
    let base = predictions(&dir, "base.csv", 7, 0.03, 0.0);
    let worse = predictions(&dir, "worse.csv", 7, 0.03, 0.06);
    let (code, _, json) = gate(&base, &worse, &[]);
    assert_eq!(code, 1);
    let regressed = verdicts(&json, "regressed");
    assert!(!regressed.is_empty());
    assert!(
        regressed.iter().any(|c| c["scope"] == "bin" && c["lo"] == 1.0 && c["metric"] == "scatter"),
        "{regressed:?}"
    );
    // Only that bin (and possibly the overall values it drags along) regressed.
    assert!(regressed.iter().all(|c| c["scope"] == "overall" || c["lo"] == 1.0), "{regressed:?}");
    pzbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--candidate")
        .arg(&worse)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("REGRESSED").and(predicate::str::contains("bin (1, 1.2]")));
}

#[test]
fn better_candidate_passes_and_is_reported_improved() {
    let dir = TempDir::new().unwrap();
    let base = predictions(&dir, "base.csv", 7, 0.05, 0.0);
    let better = predictions(&dir, "better.csv", 7, 0.03, 0.0);
    let (code, _, json) = gate(&base, &better, &[]);
    assert_eq!(code, 0);
    assert!(json["improvements"].as_u64().unwrap() > 0);
    assert!(verdicts(&json, "improved").iter().any(|c| c["metric"] == "scatter" && c["scope"] == "overall"));
}

#[test]
fn reseeded_model_is_no_false_alarm_at_default_policy() {
    let dir = TempDir::new().unwrap();
    let base = predictions(&dir, "base.csv", 7, 0.03, 0.0);
    for seed in [8, 9, 10] {
        let rerun = predictions(&dir, &format!("rerun{seed}.csv"), seed, 0.03, 0.0);
        let (code, stderr, json) = gate(&base, &rerun, &[]);
        assert_eq!(code, 0, "seed {seed}: {stderr} {json}");
    }
}

#[test]
fn saved_baselines_and_scores_work_as_baselines() {
    let dir = TempDir::new().unwrap();
    let base = predictions(&dir, "base.csv", 7, 0.03, 0.0);
    let worse = predictions(&dir, "worse.csv", 7, 0.03, 0.06);
    let saved = dir.path().join("base.baseline.json");
    pzbench().args(["baseline", "save", "--predictions"]).arg(&base).arg("--out").arg(&saved).assert().success();
    let (code, _, json) = gate(&saved, &worse, &[]);
    assert_eq!((code, json["paired"].clone()), (1, Value::Bool(true)));
    let (code, _, _) = gate(&saved, &base, &[]);
    assert_eq!(code, 0);

    let score = dir.path().join("score.json");
    pzbench().args(["score", "-q", "--format", "json", "-o"]).arg(&score).arg(&base).assert().success();
    let (code, _, json) = gate(&score, &worse, &[]);
    assert_eq!((code, json["paired"].clone()), (1, Value::Bool(false)));
}

#[test]
fn summary_file_gets_markdown_appended() {
    let dir = TempDir::new().unwrap();
    let base = predictions(&dir, "base.csv", 7, 0.03, 0.0);
    let worse = predictions(&dir, "worse.csv", 7, 0.03, 0.06);
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "# CI\n").unwrap();
    pzbench()
        .args(["gate", "--baseline"])
        .arg(&base)
        .arg("--candidate")
        .arg(&worse)
        .arg("--summary")
        .arg(&summary)
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("# CI\n### ❌ photo-z gate"), "{text}");
    assert!(text.contains("| regressed | scatter | bin (1, 1.2] |"), "{text}");
}

#[test]
fn different_test_sets_and_bad_policies_are_errors() {
    let dir = TempDir::new().unwrap();
    let base = predictions(&dir, "base.csv", 7, 0.03, 0.0);
    let text = std::fs::read_to_string(&base).unwrap();
    let fewer: String = text.lines().take(N - 10).map(|l| format!("{l}\n")).collect();
    let missing = dir.path().join("missing.csv");
    std::fs::write(&missing, fewer).unwrap();
    let (code, stderr, _) = gate(&base, &missing, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("galaxies of the baseline are missing from the candidate"), "{stderr}");

    // Same ids, but the first galaxy's z_spec changed: another test set.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let fields: Vec<&str> = lines[1].split(',').collect();
    lines[1] = format!("{},{},{}", fields[0], 3.5, fields[2]);
    let shifted = lines.join("\n") + "\n";
    let other = dir.path().join("other.csv");
    std::fs::write(&other, shifted).unwrap();
    let (code, stderr, _) = gate(&base, &other, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("z_spec differs"), "{stderr}");

    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[metrics]\nwobble = { absolute = 0.1 }\n").unwrap();
    let (code, stderr, _) = gate(&base, &base, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("policy.toml") && stderr.contains("unknown metric 'wobble'"), "{stderr}");
    std::fs::write(&policy, "confidence = \"high\"\n").unwrap();
    let (code, stderr, _) = gate(&base, &base, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid policy"), "{stderr}");
}

/// The fixture of 40 Gaussian-mixture PDFs (object_id, z_spec, w_k, mu_k, sigma_k).
fn mixture_pdfs() -> PathBuf {
    root().join("fixtures/reference/pdf/mix_k3_even.csv")
}

/// The fixture with every component's mean moved up by `shift`: a worse photo-z PDF.
fn shifted_pdfs(dir: &TempDir, shift: f64) -> PathBuf {
    let text = std::fs::read_to_string(mixture_pdfs()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = header.join(",") + "\n";
    for line in lines {
        let fields: Vec<String> = line
            .split(',')
            .zip(&header)
            .map(|(v, h)| if h.starts_with("mu_") { (v.parse::<f64>().unwrap() + shift).to_string() } else { v.into() })
            .collect();
        out.push_str(&(fields.join(",") + "\n"));
    }
    let path = dir.path().join("shifted.csv");
    std::fs::write(&path, out).unwrap();
    path
}

/// A policy guarding only crps, for 40 galaxies.
fn crps_policy(dir: &TempDir) -> String {
    let path = dir.path().join("crps.toml");
    std::fs::write(&path, "resamples = 500\nmin_galaxies_per_bin = 5\n[metrics]\ncrps = { relative = 0.05 }\n")
        .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn pdf_candidate_with_shifted_pdfs_fails_on_crps() {
    let dir = TempDir::new().unwrap();
    let (base, worse, policy) = (mixture_pdfs(), shifted_pdfs(&dir, 0.8), crps_policy(&dir));
    let (code, stderr, json) = gate(&base, &worse, &["--policy", &policy]);
    assert_eq!(code, 1, "{stderr} {json}");
    assert_eq!(json["paired"], true);
    let regressed = verdicts(&json, "regressed");
    assert!(regressed.iter().any(|c| c["metric"] == "crps" && c["scope"] == "overall"), "{json}");
    assert!(json["comparisons"].as_array().unwrap().iter().all(|c| c["metric"] == "crps"), "{json}");
    pzbench()
        .args(["gate", "--policy", &policy, "--baseline"])
        .arg(&base)
        .arg("--candidate")
        .arg(&worse)
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("REGRESSED crps")
                .and(predicate::str::contains("PDFs (point metrics of the mode)")),
        );

    // A file against itself passes, under the default policy for PDFs: the point defaults on the
    // mode, plus crps and pit_ks.
    let (code, stderr, json) = gate(&base, &base, &[]);
    assert_eq!(code, 0, "{stderr} {json}");
    assert_eq!((json["regressions"].as_u64(), json["point_estimate"].as_str()), (Some(0), Some("mode")));
    let keys: Vec<&str> = json["policy"]["metrics"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["bias", "crps", "loss", "mse", "outlier_frac", "pit_ks", "scatter"]);
    let metrics: Vec<&Value> = json["comparisons"].as_array().unwrap().iter().map(|c| &c["metric"]).collect();
    assert!(metrics.contains(&&Value::from("pit_ks")) && metrics.contains(&&Value::from("loss")), "{json}");
}

#[test]
fn saved_pdf_baseline_gives_the_pdf_files_verdict() {
    let dir = TempDir::new().unwrap();
    let (base, worse, policy) = (mixture_pdfs(), shifted_pdfs(&dir, 0.8), crps_policy(&dir));
    let saved = dir.path().join("pdf.baseline.json");
    pzbench().args(["baseline", "save", "--predictions"]).arg(&base).arg("-o").arg(&saved).assert().success();
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!((file["pzbench_baseline"].as_u64(), file["kind"].as_str()), (Some(1), Some("pdf")));
    assert_eq!(file["galaxies"]["representation"], "mixture");
    assert_eq!(file["galaxies"]["object_id"].as_array().unwrap().len(), 40);
    assert_eq!(file["galaxies"]["values"].as_array().unwrap().len(), 40);
    assert!(file["galaxies"]["values"][0]["crps"].is_f64() && file["score"]["pdf"]["crps"].is_f64(), "{file}");

    let (code, stderr, from_file) = gate(&base, &worse, &["--policy", &policy]);
    let (saved_code, saved_stderr, from_saved) = gate(&saved, &worse, &["--policy", &policy]);
    assert_eq!((code, saved_code), (1, 1), "{stderr} {saved_stderr}");
    assert_eq!(from_file["comparisons"], from_saved["comparisons"]);
    let (code, stderr, _) = gate(&saved, &base, &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn pdf_and_point_files_do_not_mix() {
    let dir = TempDir::new().unwrap();
    let saved = dir.path().join("pdf.baseline.json");
    pzbench().args(["baseline", "save", "--predictions"]).arg(mixture_pdfs()).arg("-o").arg(&saved).assert().success();
    let point = predictions(&dir, "point.csv", 7, 0.03, 0.0);
    let (code, stderr, _) = gate(&saved, &point, &[]);
    assert_eq!(code, 2);
    assert_one_error_line(&stderr, &["point.csv", "holds point predictions", "holds PDFs"]);
    let (code, stderr, _) = gate(&point, &mixture_pdfs(), &[]);
    assert_eq!(code, 2);
    assert_one_error_line(&stderr, &["holds PDFs", "holds point predictions"]);
    // A PDF metric in the policy of a point gate is named, not ignored.
    let (code, stderr, _) = gate(&point, &point, &["--policy", &crps_policy(&dir)]);
    assert_eq!(code, 2);
    assert_one_error_line(&stderr, &["the policy gates 'crps', a PDF metric"]);
}
