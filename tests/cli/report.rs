//! The reporting commands end to end: `table2` (golden Markdown, LaTeX and CSV files in
//! `fixtures/golden/`), `figure6` and `plot scatter` (valid PNG of the asked size, SVG with the
//! panel titles), and `leaderboard add|show|render` (round trip, ranking, schema rejection,
//! atomic writes).
//!
//! Regenerate the golden files after an intended change with
//! `PZBENCH_BLESS=1 cargo test --test cli report::` and review the diff.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use super::util::{assert_one_error_line, pzbench, root};

const RANDOM_20K: &str = "fixtures/reference/random_20k.csv";
const LSTM: &str = "fixtures/external/lstm_mdnz_galaxiesml_pred_z.dat";

/// A second "model": random_20k.csv with z_phot moved by `shift(i, z_spec)`; z_spec is copied as
/// text, so both files hold the same galaxies.
fn perturbed(dir: &TempDir, name: &str, shift: impl Fn(usize, f64) -> f64) -> PathBuf {
    let text = std::fs::read_to_string(root().join(RANDOM_20K)).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let z_spec: f64 = cells[1].parse().unwrap();
        let z_phot: f64 = cells[2].parse().unwrap();
        out.push_str(&format!("{},{},{}\n", cells[0], cells[1], z_phot + shift(i, z_spec)));
    }
    let path = dir.path().join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// A deterministic wiggle of ±0.02 (integer arithmetic, the same on every platform).
fn wiggle(i: usize, _z: f64) -> f64 {
    ((i * 7919) % 101) as f64 / 101.0 * 0.04 - 0.02
}

/// Run a command expecting exit 2 with exactly one `error:` line containing every needle.
fn expect_error(cmd: &mut Command, needles: &[&str]) -> String {
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "stdout: {}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_one_error_line(&stderr, needles);
    stderr
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Compare `actual` with the golden file, or rewrite it under `PZBENCH_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = root().join("fixtures/golden").join(name);
    if std::env::var_os("PZBENCH_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run PZBENCH_BLESS=1 cargo test --test cli report::", path.display()));
    assert_eq!(actual, expected, "{name} differs from the golden file");
}

fn table2(dir: &TempDir, format: &str, extra: &[&str]) -> String {
    let nn = perturbed(dir, "nn_wiggled.csv", wiggle);
    let output = pzbench()
        .current_dir(root())
        .args(["table2", "--model", &format!("CNN={RANDOM_20K}")])
        .arg("--model")
        .arg(format!("NN={}", nn.display()))
        .args(["--published", "--format", format])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn table2_golden_markdown_with_bootstrap() {
    let dir = TempDir::new().unwrap();
    let text = table2(&dir, "markdown", &["--bootstrap", "20", "--dataset", "random_20k reference"]);
    assert!(text.contains("| Model | N galaxies | Loss | Bias | Scatter | Outlier Fraction | MSE |"), "{text}");
    assert!(text.contains(" ± "), "{text}");
    assert!(text.contains("| CNN (published) | 40914 | 0.0577 | 0.000100 | 0.0167 | 0.0377 | 0.0615 |"), "{text}");
    golden("table2.md", &text);
}

#[test]
fn table2_golden_latex_uses_booktabs() {
    let dir = TempDir::new().unwrap();
    let text = table2(&dir, "latex", &[]);
    for rule in ["\\toprule", "\\midrule", "\\bottomrule", "\\begin{tabular}{lrrrrrr}", "\\caption{"] {
        assert!(text.contains(rule), "lacks {rule}: {text}");
    }
    assert!(text.contains("random\\_20k"), "{text}");
    golden("table2.tex", &text);
}

#[test]
fn table2_golden_csv() {
    let dir = TempDir::new().unwrap();
    let text = table2(&dir, "csv", &[]);
    assert!(text.starts_with("model,source,predictions_sha256,n_galaxies,loss,bias,scatter,outlier_frac,mse\n"));
    assert!(text.contains("NN,published,,40914,0.106,0.0011,0.0315,0.0688,0.133\n"), "{text}");
    golden("table2.csv", &text);
}

#[test]
fn table2_json_matches_score_and_names_the_dataset() {
    let dir = TempDir::new().unwrap();
    let json: Value = serde_json::from_str(&table2(&dir, "json", &[])).unwrap();
    let score: Value = serde_json::from_slice(
        &pzbench().current_dir(root()).args(["score", RANDOM_20K, "--format", "json", "-q"]).output().unwrap().stdout,
    )
    .unwrap();
    let cnn = &json["rows"][0];
    for key in ["count", "loss", "bias", "scatter", "outlier_frac", "mse"] {
        assert_eq!(cnn["metrics"][key], score["overall"][key], "{key}");
    }
    assert_eq!(cnn["predictions"]["sha256"], score["input"]["sha256"]);
    assert_eq!(json["dataset"]["id"], "random_20k");
    assert_eq!(json["dataset"]["synthetic"], false);
    assert_eq!(json["rows"][2]["source"], "published");
    assert_eq!(json["rows"][3]["as_printed"]["bias"], "0.00110");
    assert!(json["notes"].as_array().unwrap().is_empty());
}

#[test]
fn table2_marks_synthetic_data_and_warns_about_different_galaxies() {
    let dir = TempDir::new().unwrap();
    let synthetic = dir.path().join("synthetic_test.csv");
    std::fs::copy(root().join(RANDOM_20K), &synthetic).unwrap();
    let output = pzbench()
        .current_dir(root())
        .arg("table2")
        .arg("--model")
        .arg(format!("A={}", synthetic.display()))
        .args(["--model", &format!("B={LSTM}"), "--format", "markdown"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("dataset 'synthetic_test' (synthetic data"), "{text}");
    assert!(text.contains("B not scored on the same galaxies as A"), "{text}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("Warning"));
}

#[test]
fn table2_bad_inputs_exit_2_without_output() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("t.md");
    expect_error(
        pzbench().current_dir(root()).args(["table2", "--model", "CNN=missing.csv", "--output"]).arg(&out),
        &["missing.csv"],
    );
    expect_error(
        pzbench().current_dir(root()).args([
            "table2",
            "--model",
            &format!("A={RANDOM_20K}"),
            "--model",
            &format!("A={LSTM}"),
        ]),
        &["'A' is given twice"],
    );
    expect_error(pzbench().args(["table2", "--model", "no-equals-sign"]), &["NAME=FILE"]);
    assert!(listing(dir.path()).is_empty());
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn figure6_png_and_svg() {
    let dir = TempDir::new().unwrap();
    let nn = perturbed(&dir, "nn.csv", wiggle);
    let png = dir.path().join("fig6.png");
    pzbench()
        .current_dir(root())
        .args(["figure6", "--model", &format!("CNN={RANDOM_20K}"), "--bootstrap", "10"])
        .arg("--model")
        .arg(format!("NN={}", nn.display()))
        .arg("--out")
        .arg(&png)
        .assert()
        .success();
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1800, 1200));

    let svg = dir.path().join("fig6.svg");
    pzbench()
        .current_dir(root())
        .args(["figure6", "--model", &format!("LSTM={LSTM}"), "--bootstrap", "0", "--size", "1200x900", "--out"])
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg width=\"1200\" height=\"900\""), "{}", &text[..80]);
    for title in
        ["(a) Bias", "(b) Scatter", "(c) Outlier fraction", "(d) MSE", "(e) Loss", "(f) Galaxies per bin", "LSTM"]
    {
        assert!(text.contains(title), "SVG lacks {title}");
    }
    assert_eq!(listing(dir.path()), vec!["fig6.png", "fig6.svg", "nn.csv"], "temporary files left behind");
}

#[test]
fn figure6_rejects_unknown_extensions_and_bad_sizes() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("fig6.jpg");
    expect_error(
        pzbench().current_dir(root()).args(["figure6", "--model", &format!("A={LSTM}"), "--out"]).arg(&out),
        &["fig6.jpg", ".png or .svg"],
    );
    expect_error(
        pzbench()
            .current_dir(root())
            .args(["figure6", "--model", &format!("A={LSTM}"), "--size", "10x10", "--out"])
            .arg(dir.path().join("f.png")),
        &["--size 10x10"],
    );
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn scatter_plot_png_and_svg() {
    let dir = TempDir::new().unwrap();
    let png = dir.path().join("scatter.png");
    pzbench()
        .current_dir(root())
        .args(["plot", "scatter", "--predictions", LSTM, "--out"])
        .arg(&png)
        .assert()
        .success();
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1300, 1100));
    let svg = dir.path().join("scatter.svg");
    pzbench()
        .current_dir(root())
        .args(["plot", "scatter", "--predictions", RANDOM_20K, "--range", "0:3", "--cells", "60", "--out"])
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in ["z_spec", "z_phot", "N = 20000 galaxies", "outlier fraction (|dz| &gt; 0.15)", "galaxies per cell"] {
        assert!(text.contains(label), "SVG lacks {label}");
    }
    assert_eq!(listing(dir.path()), vec!["scatter.png", "scatter.svg"]);
    expect_error(
        pzbench()
            .current_dir(root())
            .args(["plot", "scatter", "--predictions", LSTM, "--range", "2:1", "--out"])
            .arg(&png),
        &["--range 2:1"],
    );
}

// ---------------------------------------------------------------------------------------------
// Leaderboards

fn add(board: &Path, name: &str, predictions: &Path, extra: &[&str]) -> std::process::Output {
    pzbench()
        .current_dir(root())
        .env("SOURCE_DATE_EPOCH", "1795763940")
        .args(["leaderboard", "add", "--board"])
        .arg(board)
        .args(["--name", name, "--predictions"])
        .arg(predictions)
        .args(extra)
        .output()
        .unwrap()
}

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A board with three models of known bias and loss: `offset` has bias +0.03, `under` −0.01
/// (both without scatter), `random` is random_20k.csv (bias ≈ −0.0002, the largest loss).
fn three_model_board(dir: &TempDir) -> PathBuf {
    let offset = perturbed(dir, "offset.csv", |_, z| 0.03 * (1.0 + z));
    let under = perturbed(dir, "under.csv", |_, z| -0.01 * (1.0 + z));
    let board = dir.path().join("board.json");
    // Remove the noise of random_20k from the two shifted models: z_phot = z_spec (1 ± k) ± k.
    for (path, k) in [(&offset, 0.03), (&under, -0.01)] {
        let text = std::fs::read_to_string(path).unwrap();
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            if i == 0 {
                out.push_str(line);
            } else {
                let cells: Vec<&str> = line.split(',').collect();
                let z: f64 = cells[1].parse().unwrap();
                out.push_str(&format!("{},{},{}", cells[0], cells[1], z + k * (1.0 + z)));
            }
            out.push('\n');
        }
        std::fs::write(path, out).unwrap();
    }
    let random = root().join(RANDOM_20K);
    for (name, path, extra) in
        [("random", &random, &["--bootstrap", "10"][..]), ("offset", &offset, &[][..]), ("under", &under, &[][..])]
    {
        let output = add(&board, name, path, extra);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    board
}

fn ranked_names(board: &Path, by: &str) -> Vec<String> {
    let output = pzbench().args(["leaderboard", "show", "--board"]).arg(board).args(["--by", by]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .skip_while(|l| !l.starts_with("---"))
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn leaderboard_round_trip() {
    let dir = TempDir::new().unwrap();
    let board = three_model_board(&dir);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&board).unwrap()).unwrap();
    assert_eq!(json["format"], "pzbench-leaderboard/1");
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let random = &entries[0];
    assert_eq!(random["name"], "random");
    assert_eq!(random["date"], "2026-11-27T07:19:00Z");
    assert_eq!(random["pzbench_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(random["predictions"]["file"], "random_20k.csv");
    assert_eq!(random["predictions"]["sha256"], sha256(&root().join(RANDOM_20K)));
    assert_eq!(random["dataset"]["id"], "random_20k");
    assert_eq!(random["dataset"]["zspec_sha256"], entries[1]["dataset"]["zspec_sha256"]);
    assert_eq!(random["per_bin"].as_array().unwrap().len(), 20);
    assert_eq!(random["intervals"]["resamples"], 10);
    assert!(random["intervals"]["overall"]["loss"][0].as_f64().unwrap() < random["overall"]["loss"].as_f64().unwrap());
    assert!(entries[1].get("intervals").is_none());
    // The overall metrics are exactly those of `pzbench score`.
    let score: Value = serde_json::from_slice(
        &pzbench().current_dir(root()).args(["score", RANDOM_20K, "--format", "json", "-q"]).output().unwrap().stdout,
    )
    .unwrap();
    assert_eq!(random["overall"], score["overall"]);
    assert_eq!(random["per_bin"], score["per_bin"]);

    let markdown = pzbench().args(["leaderboard", "render", "--board"]).arg(&board).output().unwrap();
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(markdown.starts_with("# Photo-z leaderboard\n"), "{markdown}");
    assert!(markdown.contains("| 1 | under | 20000 |"), "{markdown}");
    let html = dir.path().join("board.html");
    pzbench()
        .args(["leaderboard", "render", "--format", "html", "--board"])
        .arg(&board)
        .arg("--output")
        .arg(&html)
        .assert()
        .success();
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<td>offset</td>"), "{html}");

    // Replacing keeps the entry's place and the board valid.
    let output = add(&board, "offset", &dir.path().join("offset.csv"), &["--replace"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("replaced 'offset'"));
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&board).unwrap()).unwrap();
    assert_eq!(again["entries"][1]["name"], "offset");
    assert_eq!(again["entries"].as_array().unwrap().len(), 3);
    let mut names = listing(dir.path());
    names.retain(|n| n.contains("pzbench-tmp"));
    assert!(names.is_empty(), "temporary files left: {names:?}");
}

#[test]
fn leaderboard_ranking() {
    let dir = TempDir::new().unwrap();
    let board = three_model_board(&dir);
    assert_eq!(ranked_names(&board, "loss"), vec!["under", "offset", "random"]);
    // Biases rank by absolute value: -0.01 is worse than -0.0002, better than +0.03.
    assert_eq!(ranked_names(&board, "bias"), vec!["random", "under", "offset"]);
    assert_eq!(ranked_names(&board, "scatter").last().map(String::as_str), Some("random"));
    expect_error(
        pzbench().args(["leaderboard", "show", "--board"]).arg(&board).args(["--by", "count"]),
        &["--by count"],
    );
}

#[test]
fn leaderboard_duplicates_need_replace_and_boards_hold_one_dataset() {
    let dir = TempDir::new().unwrap();
    let board = dir.path().join("b.json");
    let random = root().join(RANDOM_20K);
    assert!(add(&board, "A", &random, &[]).status.success());
    let before = std::fs::read(&board).unwrap();
    let output = add(&board, "A", &random, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("pass --replace"));
    let output = add(&board, "B", &root().join(LSTM), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("different galaxies"));
    assert_eq!(std::fs::read(&board).unwrap(), before, "a refused add changed the board");
    assert_eq!(listing(dir.path()), vec!["b.json"]);
}

#[test]
fn leaderboard_rejects_bad_boards() {
    let dir = TempDir::new().unwrap();
    let board = dir.path().join("good.json");
    assert!(add(&board, "A", &root().join(RANDOM_20K), &[]).status.success());
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&board).unwrap()).unwrap();

    let mut missing = good.clone();
    missing["entries"][0].as_object_mut().unwrap().remove("date");
    let mut wrong_type = good.clone();
    wrong_type["entries"][0]["overall"]["loss"] = Value::from("small");
    let mut duplicate = good.clone();
    let first = duplicate["entries"][0].clone();
    duplicate["entries"].as_array_mut().unwrap().push(first);
    let mut bad_hash = good.clone();
    bad_hash["entries"][0]["predictions"]["sha256"] = Value::from("xyz");
    let mut extra_key = good.clone();
    extra_key["entries"][0]["overall"]["los"] = Value::from(0.1);
    let cases: [(&str, String, &[&str]); 6] = [
        ("missing.json", missing.to_string(), &["entries[0]: missing key 'date'"]),
        ("type.json", wrong_type.to_string(), &["entries[0].overall.loss: expected number or null, got string"]),
        ("duplicate.json", duplicate.to_string(), &["'A' appears in more than one entry"]),
        ("hash.json", bad_hash.to_string(), &["entries[0].predictions.sha256", "SHA-256"]),
        ("extra.json", extra_key.to_string(), &["unknown key 'los'"]),
        ("broken.json", "{\"format\": ".to_string(), &["not valid JSON"]),
    ];
    for (name, text, needles) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let mut needles = needles.to_vec();
        needles.push(name);
        expect_error(pzbench().args(["leaderboard", "show", "--board"]).arg(&path), &needles);
        expect_error(pzbench().args(["leaderboard", "render", "--board"]).arg(&path), &needles);
        let output = add(&path, "B", &root().join(RANDOM_20K), &[]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name} was modified");
    }
}
