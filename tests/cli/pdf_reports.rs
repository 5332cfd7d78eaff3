//! PDF files in the comparing reports end to end: `leaderboard add` keeps the headline PDF metrics
//! of a PDF file (the entry's `pdf` object), `leaderboard render|show --by crps|coverage_68|…`
//! ranks by them (entries without them last), and `table2` adds the PDF columns when any model is
//! a PDF file.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use super::util::{assert_one_error_line, root, run};

const KNN: &str = "fixtures/reference/pdf/knn_dc2.qp.hdf5";
const KNN_CSV: &str = "fixtures/reference/pdf/knn_dc2.csv";

/// The PDF metric keys of an entry's `pdf.overall`, in order.
const PDF_KEYS: [&str; 8] =
    ["pit_ks", "pit_cvm", "pit_ad", "pit_outlier_rate", "coverage_68", "coverage_95", "crps", "cde_loss"];

/// Two more models of the knn_dc2 galaxies (z_spec copied as text): `broad.csv`, the same
/// mixtures with every sigma times 3 (PDFs of another width: other CRPS and coverage), and
/// `point.csv`, point predictions (the first component's mean).
fn models(dir: &TempDir) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(root().join(KNN_CSV)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mu_0 = header.iter().position(|c| *c == "mu_0").unwrap();
    let mut broad = format!("{}\n", header.join(","));
    let mut point = String::from("object_id,z_spec,z_phot\n");
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let widened: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if header[i].starts_with("sigma_") {
                    (c.parse::<f64>().unwrap() * 3.0).to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        broad.push_str(&format!("{}\n", widened.join(",")));
        point.push_str(&format!("{},{},{}\n", cells[0], cells[1], cells[mu_0]));
    }
    let (broad_path, point_path) = (dir.path().join("broad.csv"), dir.path().join("point.csv"));
    std::fs::write(&broad_path, broad).unwrap();
    std::fs::write(&point_path, point).unwrap();
    (broad_path, point_path)
}

/// `pzbench leaderboard add` run from the repository root.
fn add(board: &Path, name: &str, predictions: &Path, extra: &[&str]) {
    let mut args = vec![
        "leaderboard",
        "add",
        "--board",
        board.to_str().unwrap(),
        "--name",
        name,
        "--predictions",
        predictions.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
}

fn board_json(board: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(board).unwrap()).unwrap()
}

/// The entry named `name`.
fn entry<'a>(board: &'a Value, name: &str) -> &'a Value {
    board["entries"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap()
}

/// The model names of a rendered Markdown board, in rank order.
fn ranked_names(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with("| ") && l.split('|').nth(1).is_some_and(|c| c.trim().parse::<usize>().is_ok()))
        .map(|l| l.split('|').nth(2).unwrap().trim().to_string())
        .collect()
}

/// A board of two PDF models (knn with bootstrap intervals, broad) and one point model.
fn three_model_board(dir: &TempDir) -> PathBuf {
    let (broad, point) = models(dir);
    let board = dir.path().join("board.json");
    add(&board, "knn", &root().join(KNN), &["--bootstrap", "40", "--seed", "3"]);
    add(&board, "broad", &broad, &[]);
    add(&board, "point", &point, &[]);
    board
}

#[test]
fn leaderboard_entries_keep_pdf_metrics_and_rank_by_them() {
    let dir = TempDir::new().unwrap();
    let board = three_model_board(&dir);
    let json = board_json(&board);

    // The entry's pdf object: how the PDFs were scored and the headline metrics, as `score` has them.
    let knn = entry(&json, "knn");
    let pdf = &knn["pdf"];
    assert_eq!(pdf["dialect"], "pzbench");
    assert_eq!(pdf["representation"], "mixture");
    assert_eq!(pdf["point_estimate"], "mode");
    let mut keys: Vec<&str> = pdf["overall"].as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected_keys = PDF_KEYS.to_vec();
    keys.sort_unstable();
    expected_keys.sort_unstable();
    assert_eq!(keys, expected_keys);
    let text = std::fs::read_to_string(&board).unwrap();
    let written: Vec<usize> = PDF_KEYS.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap()).collect();
    assert!(written.windows(2).all(|w| w[0] < w[1]), "keys written in the documented order: {written:?}");
    let (code, stdout, stderr) = run(&["score", root().join(KNN).to_str().unwrap(), "--format", "json", "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    let score: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(pdf["overall"]["crps"], score["pdf"]["crps"]);
    assert_eq!(pdf["overall"]["cde_loss"], score["pdf"]["cde_loss"]);
    assert_eq!(pdf["overall"]["pit_ks"], score["pdf"]["pit"]["ks"]);
    assert_eq!(pdf["overall"]["coverage_68"], score["pdf"]["pit"]["coverage_68"]);
    assert_eq!(knn["overall"]["loss"], score["overall"]["loss"], "point metrics are the mode's");
    for key in PDF_KEYS {
        let [lo, hi] = [0, 1].map(|i| pdf["intervals"][key][i].as_f64().unwrap());
        assert!(lo <= hi, "{key}: [{lo}, {hi}]");
    }
    assert!(entry(&json, "broad")["pdf"]["intervals"].is_null());
    assert!(entry(&json, "point").get("pdf").is_none());

    // --by a PDF metric: ascending, coverage by the distance from nominal, the point model last.
    let value = |name: &str, key: &str| entry(&json, name)["pdf"]["overall"][key].as_f64().unwrap();
    for (by, nominal) in [("crps", None), ("pit_ks", None), ("cde_loss", None), ("coverage_68", Some(0.682689492137))] {
        let badness = |name: &str| nominal.map_or(value(name, by), |n: f64| (value(name, by) - n).abs());
        let mut expected = vec!["knn", "broad"];
        expected.sort_by(|a, b| badness(a).total_cmp(&badness(b)));
        assert_ne!(badness("knn"), badness("broad"), "{by}");
        expected.push("point");
        let (code, stdout, stderr) = run(&["leaderboard", "render", "--board", board.to_str().unwrap(), "--by", by]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(ranked_names(&stdout), expected, "--by {by}:\n{stdout}");
        assert!(stdout.contains("| CRPS | PIT KS | CDE loss | Coverage 68 % |"), "{stdout}");
    }
    let (code, stdout, _) = run(&["leaderboard", "show", "--board", board.to_str().unwrap(), "--by", "coverage_95"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("ranked by |coverage_95 − 0.9545|") && stdout.contains("Coverage 95 %"), "{stdout}");
    let (code, stdout, _) = run(&["leaderboard", "render", "--board", board.to_str().unwrap(), "--format", "html"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("<th>CRPS</th>"), "{stdout}");

    // Round trip: replacing an entry rewrites the board, which loads again with the same values.
    add(&board, "broad", &dir.path().join("broad.csv"), &["--replace"]);
    let again = board_json(&board);
    assert_eq!(entry(&again, "knn"), entry(&json, "knn"));
    assert_eq!(entry(&again, "broad")["pdf"], entry(&json, "broad")["pdf"]);
}

#[test]
fn leaderboard_pdf_flags_and_bad_names() {
    let dir = TempDir::new().unwrap();
    let board = dir.path().join("board.json");
    add(&board, "knn", &root().join(KNN), &["--point", "median"]);
    let json = board_json(&board);
    assert_eq!(entry(&json, "knn")["pdf"]["point_estimate"], "median");
    let (code, _, stderr) = run(&["leaderboard", "render", "--board", board.to_str().unwrap(), "--by", "crsp"]);
    assert_eq!(code, 2, "{stderr}");
    assert_one_error_line(&stderr, &["--by crsp", "loss", "crps", "coverage_68", "cde_loss"]);
    // PDF flags on point predictions are refused.
    let (_, point) = models(&dir);
    let (code, _, stderr) = run(&[
        "leaderboard",
        "add",
        "--board",
        board.to_str().unwrap(),
        "--name",
        "point",
        "--predictions",
        point.to_str().unwrap(),
        "--point",
        "mean",
    ]);
    assert_ne!(code, 0);
    assert_one_error_line(&stderr, &["--point applies to PDF files"]);
}

#[test]
fn boards_without_pdf_entries_still_load() {
    let existing = root().join("leaderboards/synthetic_64px_seed1.json");
    for by in ["loss", "crps"] {
        let (code, stdout, stderr) = run(&["leaderboard", "show", "--board", existing.to_str().unwrap(), "--by", by]);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stdout.contains("CRPS") || by == "crps", "{stdout}");
    }
}

#[test]
fn table2_adds_pdf_columns_when_a_model_is_a_pdf_file() {
    let dir = TempDir::new().unwrap();
    let (broad, point) = models(&dir);
    let knn = root().join(KNN);
    let models =
        [format!("KNN={}", knn.display()), format!("BROAD={}", broad.display()), format!("POINT={}", point.display())];
    let table = |format: &str| {
        let mut args = vec!["table2", "--format", format];
        for model in &models {
            args.extend(["--model", model.as_str()]);
        }
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let markdown = table("markdown");
    assert!(markdown.contains("| MSE | CRPS | PIT KS | CDE loss | Coverage 68 % |"), "{markdown}");
    let point_row = markdown.lines().find(|l| l.starts_with("| POINT |")).unwrap();
    assert!(point_row.ends_with("| — | — | — | — |"), "{point_row}");
    let knn_row = markdown.lines().find(|l| l.starts_with("| KNN |")).unwrap();
    assert!(!knn_row.contains('—'), "{knn_row}");
    assert!(markdown.contains("PDF_METRICS.md"), "{markdown}");

    let latex = table("latex");
    assert!(latex.contains(r"\begin{tabular}{lrrrrrrrrrr}") && latex.contains(r"Coverage 68 \%"), "{latex}");
    assert!(latex.contains("--- & --- & --- & --- \\\\"), "{latex}");

    let csv = table("csv");
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",mse,crps,pit_ks,cde_loss,coverage_68"), "{header}");
    let json: Value = serde_json::from_str(&table("json")).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let crps: Vec<Option<f64>> = rows.iter().map(|r| r["pdf"]["overall"]["crps"].as_f64()).collect();
    assert!(crps[0].is_some() && crps[1].is_some() && crps[2].is_none(), "{crps:?}");

    // Point models only: no PDF columns.
    let (code, stdout, _) = run(&["table2", "--format", "markdown", "--model", &models[2]]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("CRPS"), "{stdout}");
}
