//! Golden tests: pzbench's metrics against third-party (numpy/scipy/astropy) reference vectors in
//! `fixtures/reference/`, to 1e-12 relative (1e-15 absolute near zero), through the library and
//! through `pzbench score --format json`.

use std::path::{Path, PathBuf};

use pzbench_io::sample::SampleOptions;
use pzbench_metrics::Bins;
use pzbench_report::score_file;
use serde_json::Value;

use super::util::pzbench;

const CASES: [&str; 8] =
    ["tiny_odd", "tiny_even", "single", "perfect", "ties", "negative_zphot", "bin_edges", "random_20k"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reference").join(name)
}

fn expected(case: &str) -> Value {
    let path = if case == LSTM {
        external(&format!("{case}.expected.json"))
    } else {
        fixture(&format!("{case}.expected.json"))
    };
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn assert_close(case: &str, place: &str, key: &str, got: &Value, want: &Value) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) => {
            let ok = (g - w).abs() <= 1e-15 || (g - w).abs() <= 1e-12 * w.abs();
            assert!(ok, "{case} {place} {key}: got {g:e}, expected {w:e}");
        }
        _ => assert_eq!(got, want, "{case} {place} {key}"),
    }
}

fn external(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/external").join(name)
}

/// The real LSTM-MDNz predictions, with metrics computed by numpy/scipy/astropy.
const LSTM: &str = "lstm_mdnz_galaxiesml_pred_z";

fn compare(case: &str, got: &Value) {
    let want = expected(case);
    if want.get("bins").is_some() {
        assert_eq!(got["bins"]["edges"], want["bins"]["edges"], "{case} edges");
        assert_eq!(got["bins"]["on"], want["bins"]["on"]);
        assert_eq!(got["bins"]["closed"], want["bins"]["closed"]);
    }
    let keys = want["overall"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys.len(), 13);
    for key in &keys {
        assert_close(case, "overall", key, &got["overall"][key], &want["overall"][key]);
    }
    let want_bins = want["per_bin"].as_array().unwrap();
    let got_bins = got["per_bin"].as_array().unwrap();
    assert_eq!(got_bins.len(), want_bins.len());
    for (b, (g, w)) in got_bins.iter().zip(want_bins).enumerate() {
        for (key, wv) in w.as_object().unwrap() {
            assert_close(case, &format!("bin {b}"), key, &g[key], wv);
        }
        assert_eq!(g.as_object().unwrap().len(), w.as_object().unwrap().len(), "{case} bin {b} keys");
    }
}

#[test]
fn library_matches_every_reference_case() {
    for case in CASES {
        let path = fixture(&format!("{case}.csv"));
        let report = score_file(&path, &SampleOptions::default(), &Bins::galaxiesml_default(), None).unwrap();
        let json: Value = serde_json::from_str(&report.to_json()).unwrap();
        compare(case, &json);
    }
}

#[test]
fn cli_json_matches_every_reference_case() {
    for case in CASES {
        let output = pzbench()
            .args(["score", "--format", "json", "--quiet"])
            .arg(fixture(&format!("{case}.csv")))
            .output()
            .unwrap();
        assert!(output.status.success(), "{case}: {}", String::from_utf8_lossy(&output.stderr));
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        compare(case, &json);
        assert_eq!(json["pzbench_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(json["input"]["columns"]["z_spec"], "z_spec");
    }
}

#[test]
fn bin_edges_case_counts_galaxies_outside_every_bin() {
    let output =
        pzbench().args(["score", "--format", "json", "--quiet"]).arg(fixture("bin_edges.csv")).output().unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let inside: u64 = json["per_bin"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    let overall = json["overall"]["count"].as_u64().unwrap();
    assert_eq!(json["n_outside_bins"].as_u64().unwrap(), overall - inside);
    assert!(overall > inside);
}

#[test]
fn real_predictions_match_the_python_evaluation() {
    let output = pzbench()
        .args(["score", "--format", "json", "--quiet"])
        .arg(external(&format!("{LSTM}.dat")))
        .output()
        .unwrap();
    assert!(output.status.success());
    compare(LSTM, &serde_json::from_slice(&output.stdout).unwrap());
}
