//! One vocabulary of flags: every command that writes a file or a folder takes `-o/--output`,
//! with the older `--out` kept as a hidden alias so that no script breaks; `--bootstrap` alone
//! means 1000 resamples everywhere, `baseline save` included.

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use super::util::{pzbench, run};

const PREDICTIONS: &str = "fixtures/reference/random_20k.csv";
const TINY: &str = "fixtures/reference/tiny_odd.csv";

/// Every subcommand that writes an output, as the words before `--help`.
const WRITERS: [&[&str]; 10] = [
    &["score"],
    &["table2"],
    &["figure6"],
    &["plot", "scatter"],
    &["predict"],
    &["baseline", "save"],
    &["synth"],
    &["train"],
    &["reproduce"],
    &["leaderboard", "render"],
];

#[test]
fn every_writer_documents_dash_o_output_and_hides_out() {
    for words in WRITERS {
        let mut args = words.to_vec();
        args.push("--help");
        let (code, help, err) = run(&args);
        assert_eq!(code, 0, "{words:?}: {err}");
        assert!(help.contains("-o, --output <"), "{words:?} --help lacks `-o, --output`:\n{help}");
        assert!(!help.contains("--out <"), "{words:?} --help shows the hidden alias --out:\n{help}");
    }
}

/// `score` writes the same bytes with `-o`, `--output` and `--out`.
#[test]
fn score_output_spellings_write_the_same_file() {
    let dir = TempDir::new().unwrap();
    let bytes: Vec<Vec<u8>> = ["-o", "--output", "--out"]
        .iter()
        .map(|flag| {
            let path = dir.path().join(format!("score{flag}.json"));
            pzbench().args(["score", TINY, "--format", "json", "--quiet", flag]).arg(&path).assert().success();
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] == w[1]));
}

/// The image and table writers accept the old `--out` spelling and write where it says.
#[test]
fn figure_plot_table_and_baseline_accept_the_out_alias() {
    let dir = TempDir::new().unwrap();
    let model = format!("M={PREDICTIONS}");
    let cases: [(&[&str], &str); 4] = [
        (&["figure6", "--model", &model], "fig6.svg"),
        (&["plot", "scatter", "--predictions", PREDICTIONS], "scatter.svg"),
        (&["table2", "--model", &model], "table2.md"),
        (&["baseline", "save", "--predictions", PREDICTIONS], "base.json"),
    ];
    for (args, file) in cases {
        let path = dir.path().join(file);
        pzbench().args(args).arg("--out").arg(&path).assert().success();
        assert!(path.is_file(), "{args:?} --out wrote nothing");
    }
}

/// Commands that write folders or models parse `--out` as `--output`: they get as far as
/// checking their inputs (a pzbench error naming the input), not a command-line error.
#[test]
fn folder_writers_parse_the_out_alias() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let missing = dir.path().join("missing.csv");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["synth", "--n", "2", "--out", out], "--n 2"),
        (&["train", "--model", "nn", "--train", missing, "--val", missing, "--out", out], "missing.csv"),
        (&["predict", "--model", missing, "--data", missing, "--out", out], "missing.csv"),
        (&["reproduce", "--size", "65", "--out", out], "--size 65"),
    ];
    for (args, needle) in cases {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: --out rejected: {err}");
        assert!(err.contains(needle), "{args:?}: expected an error naming {needle}: {err}");
    }
}

/// `baseline save --bootstrap` alone means 1000 resamples, as in `score`, `table2` and the rest.
#[test]
fn bare_bootstrap_means_1000_in_baseline_save_as_in_score() {
    let dir = TempDir::new().unwrap();
    let resamples = |path: &Path, pointer: &str| -> Value {
        let json: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        json.pointer(pointer).unwrap_or_else(|| panic!("{pointer} missing in {}", path.display())).clone()
    };
    let base = dir.path().join("base.json");
    pzbench().args(["baseline", "save", "--predictions", TINY, "--bootstrap", "-o"]).arg(&base).assert().success();
    let score = dir.path().join("score.json");
    pzbench().args(["score", TINY, "--format", "json", "--quiet", "--bootstrap", "-o"]).arg(&score).assert().success();
    assert_eq!(resamples(&score, "/intervals/resamples"), 1000);
    assert_eq!(resamples(&base, "/score/intervals/resamples"), 1000);
}
