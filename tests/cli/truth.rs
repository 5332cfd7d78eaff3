//! Reports that tell the truth (issue 16, item 5): what `synth` writes is marked and captioned
//! synthetic, only an unmarked GalaxiesML HDF5 file is called the GalaxiesML release, `figure6`
//! draws error bars by default, `plot scatter` names its dataset, a leaderboard holds one dataset
//! identity, Table 2 prints as a referee wants it, and a failed `reproduce` leaves no empty
//! folder.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use super::util::{assert_one_error_line, pzbench, root};
use pzbench_io::galaxiesml::{Column, ColumnData, GalaxiesMlWriter};

const RANDOM_20K: &str = "fixtures/reference/random_20k.csv";
const LSTM: &str = "fixtures/external/lstm_mdnz_galaxiesml_pred_z.dat";
const SYNTHETIC: &str = "(synthetic data, not the GalaxiesML release)";

/// `pzbench` in the repository root with HDF5 file locking off: these tests write HDF5 files in
/// this process, whose descriptors a child spawned by another test may inherit (and lock).
fn cli() -> Command {
    let mut cmd = pzbench();
    cmd.current_dir(root()).env("HDF5_USE_FILE_LOCKING", "FALSE");
    cmd
}

/// Run `cmd`, expect success, return its standard output.
fn stdout(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Run `cmd` expecting exit 2 with one error line holding every needle.
fn expect_error(cmd: &mut Command, needles: &[&str]) {
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stdout));
    assert_one_error_line(&String::from_utf8_lossy(&output.stderr), needles);
}

/// `pzbench synth` of 20 galaxies into `dir/data`; the testing HDF5 and CSV files.
fn synth(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    cli()
        .args(["synth", "--n", "20", "--size", "64", "--seed", "3", "--grid-dz", "0.05", "--quiet", "--out"])
        .arg(&data)
        .assert()
        .success();
    (data.join("5x64x64_testing_with_morphology.hdf5"), data.join("5x64x64_testing_with_morphology.csv"))
}

/// Predictions `object_id,z_phot` (z_spec + 0.01) for the galaxies of a catalogue CSV.
fn predictions_for(catalogue: &Path, out: &Path) -> PathBuf {
    let text = std::fs::read_to_string(catalogue).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id, z) = (column("object_id"), column("specz_redshift"));
    let mut csv = String::from("object_id,z_phot\n");
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        csv.push_str(&format!("{},{}\n", cells[id], cells[z].parse::<f64>().unwrap() + 0.01));
    }
    std::fs::write(out, csv).unwrap();
    out.to_path_buf()
}

#[test]
fn synth_marks_its_files_and_every_report_says_synthetic() {
    let dir = TempDir::new().unwrap();
    let (hdf5, csv) = synth(dir.path());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",synthetic"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.ends_with(",True")), "{text}");
    let predictions = predictions_for(&csv, &dir.path().join("preds.csv"));
    let model = format!("M={}", predictions.display());

    // The HDF5 attribute and the CSV column each mark the data.
    for truth in [&hdf5, &csv] {
        let table = stdout(cli().args(["table2", "--model", &model, "--format", "markdown", "--truth"]).arg(truth));
        assert!(table.contains(&format!("dataset '5x64x64_testing_with_morphology' {SYNTHETIC}")), "{table}");
        assert!(!table.contains("real GalaxiesML"), "{table}");
    }
    let svg = dir.path().join("fig6.svg");
    cli()
        .args(["figure6", "--model", &model, "--bootstrap", "0", "--truth"])
        .arg(&hdf5)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&svg).unwrap().contains(SYNTHETIC));
    let board = dir.path().join("board.json");
    cli()
        .args(["leaderboard", "add", "--name", "M", "--predictions"])
        .arg(&predictions)
        .arg("--truth")
        .arg(&hdf5)
        .arg("--board")
        .arg(&board)
        .assert()
        .success();
    let shown = stdout(cli().args(["leaderboard", "show", "--board"]).arg(&board));
    assert!(shown.contains(SYNTHETIC), "{shown}");
}

/// A GalaxiesML HDF5 file of the galaxies of random_20k.csv written without the synthetic mark,
/// as the release's files are.
fn unmarked_galaxiesml(path: &Path) {
    let text = std::fs::read_to_string(root().join(RANDOM_20K)).unwrap();
    let rows: Vec<(i64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].parse().unwrap(), cells[1].parse().unwrap())
        })
        .collect();
    let mut writer = GalaxiesMlWriter::create(path, rows.len(), 1).unwrap();
    writer.write_images(0, &vec![0.0; rows.len() * 5]).unwrap();
    let ids = ColumnData::I64(rows.iter().map(|r| r.0).collect());
    let z = ColumnData::F64(rows.iter().map(|r| r.1).collect());
    writer.write_column(&Column { name: "object_id".into(), data: ids }).unwrap();
    writer.write_column(&Column { name: "specz_redshift".into(), data: z }).unwrap();
    writer.finish().unwrap();
}

#[test]
fn only_an_unmarked_galaxiesml_file_is_called_the_release() {
    let dir = TempDir::new().unwrap();
    let release = dir.path().join("5x64x64_testing_with_morphology.hdf5");
    unmarked_galaxiesml(&release);
    let json: Value = serde_json::from_str(&stdout(
        cli().args(["table2", "--model", &format!("M={RANDOM_20K}"), "--format", "json", "--truth"]).arg(&release),
    ))
    .unwrap();
    assert_eq!(json["dataset"]["release"], true);
    assert!(json["caption"].as_str().unwrap().contains("(the GalaxiesML release)"), "{json}");

    // A CSV is named by its label alone: neither real GalaxiesML data nor the release.
    let table = stdout(cli().args(["table2", "--model", &format!("M={RANDOM_20K}")]));
    assert!(table.contains("on dataset 'random_20k': z_spec from random_20k.csv"), "{table}");
    assert!(!table.contains("real GalaxiesML") && !table.contains("release"), "{table}");
}

#[test]
fn figure6_draws_error_bars_unless_told_not_to() {
    let dir = TempDir::new().unwrap();
    let svg = dir.path().join("fig6.svg");
    cli().args(["figure6", "--model", &format!("LSTM={LSTM}"), "-o"]).arg(&svg).assert().success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("percentile bootstrap over galaxies, B = 200"), "no error bars by default");
    assert!(text.contains("galaxies, 0 outside the bins"), "the galaxies outside the bins are not counted");
    assert!(text.contains("Open markers: bins with fewer than 30 galaxies"), "few-galaxy bins are not marked");
    cli().args(["figure6", "--model", &format!("LSTM={LSTM}"), "--bootstrap", "0", "-o"]).arg(&svg).assert().success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("No error bars") && !text.contains("B = 200"));
}

#[test]
fn scatter_plot_names_the_dataset() {
    let dir = TempDir::new().unwrap();
    let svg = dir.path().join("scatter.svg");
    cli()
        .args(["plot", "scatter", "--predictions", RANDOM_20K, "--dataset", "mock set", "--synthetic", "-o"])
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("mock set") && text.contains(SYNTHETIC), "the scatter plot does not name its dataset");
    assert!(text.contains("galaxies per cell (log scale)"));
}

/// `leaderboard add` to `board` with a fixed date.
fn add(board: &Path, name: &str, predictions: &Path, extra: &[&str]) -> Command {
    let mut cmd = cli();
    cmd.env("SOURCE_DATE_EPOCH", "1795763940")
        .args(["leaderboard", "add", "--board"])
        .arg(board)
        .args(["--name", name, "--predictions"])
        .arg(predictions)
        .args(extra);
    cmd
}

#[test]
fn a_leaderboard_holds_one_dataset_identity() {
    let dir = TempDir::new().unwrap();
    let board = dir.path().join("board.json");
    let copy = dir.path().join("copy.csv");
    std::fs::copy(root().join(RANDOM_20K), &copy).unwrap();
    add(&board, "A", &root().join(RANDOM_20K), &[]).assert().success();
    let before = std::fs::read(&board).unwrap();

    expect_error(
        &mut add(&board, "B", &copy, &["--dataset", "other label"]),
        &["board.json", "'B' was given --dataset 'other label'", "dataset 'random_20k'", "pass --dataset 'random_20k'"],
    );
    expect_error(
        &mut add(&board, "B", &copy, &["--synthetic"]),
        &["board.json", "'B' is marked synthetic", "dataset 'random_20k'", "use another board"],
    );
    assert_eq!(std::fs::read(&board).unwrap(), before, "a refused add changed the board");

    // Without a label of its own, an entry (and a replacement) is recorded under the board's.
    add(&board, "B", &copy, &[]).assert().success();
    add(&board, "A", &copy, &["--replace"]).assert().success();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&board).unwrap()).unwrap();
    for entry in json["entries"].as_array().unwrap() {
        assert_eq!(entry["dataset"]["id"], "random_20k", "{entry}");
        assert_eq!(entry["dataset"]["source"], "copy.csv");
    }

    // On a synthetic board, an unmarked entry of the same galaxies is the same synthetic data.
    let synthetic = dir.path().join("synthetic.json");
    add(&synthetic, "A", &root().join(RANDOM_20K), &["--synthetic"]).assert().success();
    add(&synthetic, "B", &copy, &[]).assert().success();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&synthetic).unwrap()).unwrap();
    assert_eq!(json["entries"][1]["dataset"]["synthetic"], true);
    assert_eq!(json["entries"][1]["dataset"]["id"], "random_20k");
}

/// Whether `text` holds a run of 64 lowercase hex digits (a SHA-256).
fn has_sha256(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() { run + 1 } else { 0 };
        if run == 64 {
            return true;
        }
    }
    false
}

#[test]
fn table2_reads_as_a_referee_wants() {
    let model = format!("CNN={RANDOM_20K}");
    let latex = stdout(cli().args(["table2", "--model", &model, "--format", "latex"]));
    let caption = latex.lines().find(|l| l.contains("\\caption{")).unwrap();
    assert!(!has_sha256(caption), "a hash in the caption: {caption}");
    assert!(latex.lines().any(|l| l.starts_with("%") && has_sha256(l)), "no provenance comment: {latex}");
    // Real minus signs (math mode) and trailing zeros kept: outlier fraction 0.03595 is 0.0360.
    assert!(latex.contains("& $-0.000177$ &") && latex.contains("& $0.0360$ &"), "{latex}");

    let markdown = stdout(cli().args(["table2", "--model", &model, "--format", "markdown", "--bootstrap", "20"]));
    let row = markdown.lines().find(|l| l.starts_with("| CNN |")).unwrap();
    for cell in row.split(" | ").skip(3) {
        let (value, half) = cell.trim_end_matches(" |").split_once(" ± ").unwrap();
        let decimals = |s: &str| s.split_once('.').map_or(0, |(_, d)| d.len());
        assert_eq!(decimals(value), decimals(half), "value and ± to different places: {row}");
    }
}

#[test]
fn a_failed_reproduce_leaves_no_empty_folder() {
    let dir = TempDir::new().unwrap();
    let study = dir.path().join("study");
    let output =
        cli().args(["reproduce", "--train", "--data"]).arg(dir.path()).arg("--output").arg(&study).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!study.exists(), "a failed reproduce left {}", study.display());
}
