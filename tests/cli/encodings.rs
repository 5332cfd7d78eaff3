//! The encodings users really send (issue 14): a UTF-8 byte-order mark before the header (Excel's
//! "CSV UTF-8", Windows Notepad) is not part of the first column's name, in text tables of every
//! delimiter and in the hand-edited policy TOML, baseline and leaderboard JSON and `--nz` tables;
//! CRLF line ends read as LF ones on every parse path; UTF-16 files are refused with one line that
//! names the file and the fix.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use super::util::{assert_one_error_line, pzbench, root};

const BOM: &str = "\u{feff}";
const GOOD: &str = "object_id,z_spec,z_phot\n1,0.1,0.12\n2,0.5,0.45\n3,0.9,1.4\n";

fn write(dir: &TempDir, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut units: Vec<u16> = text.encode_utf16().collect();
    if bom {
        units.insert(0, 0xFEFF);
    }
    units.iter().flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
}

fn score(path: &Path, extra: &[&str]) -> Value {
    let output = pzbench().arg("score").arg(path).args(["--format", "json", "--quiet"]).args(extra).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `pzbench ARGS` expecting exit 2 and one error line holding every needle.
fn fails(args: &[&str], path: &Path, needles: &[&str]) {
    let output = pzbench().args(args).arg(path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_one_error_line(&stderr, needles);
}

#[test]
fn a_bom_before_the_header_keeps_the_id_for_truth_joins() {
    let dir = TempDir::new().unwrap();
    let direct = score(&write(&dir, "direct.csv", GOOD), &[]);
    // Both files saved by Excel as "CSV UTF-8" (the truth file tab-separated).
    let preds = write(&dir, "preds.csv", format!("{BOM}object_id,z_phot\r\n3,1.4\r\n1,0.12\r\n2,0.45\r\n"));
    let truth = write(&dir, "truth.tsv", format!("{BOM}object_id\tspecz_redshift\n1\t0.1\n2\t0.5\n3\t0.9\n"));
    let joined = score(&preds, &["--truth", truth.to_str().unwrap()]);
    assert_eq!(joined["overall"], direct["overall"]);
    assert_eq!(joined["input"]["truth"]["matched"], 3);
    assert_eq!(joined["input"]["columns"]["id"], "object_id");
    assert_eq!(joined["input"]["truth"]["columns"]["id"], "object_id");
}

#[test]
fn a_bom_before_the_header_keeps_duplicate_ids_detected() {
    let dir = TempDir::new().unwrap();
    // Without the fix the id column was not found (its name began with U+FEFF), so the
    // duplicate went unnoticed and the file scored with exit 0.
    let dup = write(&dir, "dup.csv", format!("{BOM}object_id,z_spec,z_phot\n5,0.1,0.12\n6,0.5,0.45\n5,0.9,1.4\n"));
    fails(&["score"], &dup, &["dup.csv", "duplicate object_id 5", "rows 1 and 3"]);
}

#[test]
fn a_bom_on_tsv_and_whitespace_files_and_crlf_on_every_parse_path() {
    let dir = TempDir::new().unwrap();
    let direct = score(&write(&dir, "direct.csv", GOOD), &[]);
    let crlf = GOOD.replace('\n', "\r\n");
    let cases = [
        ("bom.tsv", format!("{BOM}{}", GOOD.replace(',', "\t")), "tab-separated"),
        ("bom.txt", format!("{BOM}{}", GOOD.replace(',', "   ")), "whitespace-separated"),
        ("bom_commented.txt", format!("{BOM}# {}", GOOD.replace(',', " ")), "whitespace-separated"),
        // CRLF, through the fast numeric parser and through polars (the quoted cells).
        ("crlf.csv", crlf.clone(), "','-separated"),
        ("crlf_quoted.csv", crlf.replace("0.45", "\"0.45\""), "','-separated"),
        ("crlf_bom.tsv", format!("{BOM}{}", crlf.replace(',', "\t")), "tab-separated"),
        ("crlf.txt", crlf.replacen(',', "  ", 2).replace(',', " \t"), "whitespace-separated"),
    ];
    for (name, text, format) in cases {
        let json = score(&write(&dir, name, text), &[]);
        assert_eq!(json["overall"], direct["overall"], "{name}");
        assert_eq!(json["input"]["format"], format, "{name}");
        assert_eq!(json["input"]["columns"]["id"], "object_id", "{name}");
    }
}

#[test]
fn utf16_tables_are_refused_with_the_fix() {
    let dir = TempDir::new().unwrap();
    for (big_endian, bom, encoding) in
        [(false, true, "UTF-16 LE"), (false, false, "UTF-16 LE"), (true, true, "UTF-16 BE"), (true, false, "UTF-16 BE")]
    {
        let name = format!("utf16_{}_{}.csv", if big_endian { "be" } else { "le" }, if bom { "bom" } else { "nobom" });
        let path = write(&dir, &name, utf16(GOOD, big_endian, bom));
        fails(&["score"], &path, &[&name, &format!("the file is {encoding} text"), "save it as UTF-8"]);
    }
    // As a truth file too.
    let preds = write(&dir, "preds.csv", "object_id,z_phot\n1,0.1\n");
    let truth = write(&dir, "truth.csv", utf16("object_id,z_spec\n1,0.1\n", false, true));
    let output = pzbench().arg("score").arg(&preds).arg("--truth").arg(&truth).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_one_error_line(&String::from_utf8_lossy(&output.stderr), &["truth.csv", "UTF-16 LE", "save it as UTF-8"]);
}

#[test]
fn hand_edited_policy_baseline_and_board_may_carry_a_bom() {
    let dir = TempDir::new().unwrap();
    let mut text = String::from("object_id,z_spec,z_phot\n");
    for k in 0..60 {
        let z = 0.05 + k as f64 * 0.06;
        text += &format!("{k},{z},{}\n", z + 0.01 * ((k % 7) as f64 - 3.0));
    }
    let preds = write(&dir, "preds.csv", text);
    let saved = dir.path().join("saved.json");
    let output =
        pzbench().args(["baseline", "save", "--predictions"]).arg(&preds).arg("--output").arg(&saved).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let baseline = write(&dir, "baseline.json", [BOM.as_bytes(), &std::fs::read(&saved).unwrap()].concat());
    let policy =
        write(&dir, "policy.toml", format!("{BOM}resamples = 200\r\n[metrics]\r\nloss = {{ relative = 0.05 }}\r\n"));
    let output = pzbench()
        .args(["gate", "--format", "json", "--baseline"])
        .arg(&baseline)
        .arg("--candidate")
        .arg(&preds)
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["policy"]["resamples"], 200);
    assert_eq!(report["paired"], true);

    let wide = write(&dir, "wide.toml", utf16("resamples = 200\n", false, true));
    let output = pzbench()
        .args(["gate", "--baseline"])
        .arg(&baseline)
        .arg("--candidate")
        .arg(&preds)
        .arg("--policy")
        .arg(&wide)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_one_error_line(&String::from_utf8_lossy(&output.stderr), &["wide.toml", "UTF-16 LE", "save it as UTF-8"]);

    // A leaderboard whose title was edited in Notepad.
    let board_text = std::fs::read_to_string(root().join("leaderboards/synthetic_64px_seed1.json")).unwrap();
    let board = write(&dir, "board.json", format!("{BOM}{}", board_text.replace("\r\n", "\n").replace('\n', "\r\n")));
    let output = pzbench().args(["leaderboard", "show", "--board"]).arg(&board).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ranked by"));
    let wide_board = write(&dir, "wide_board.json", utf16(&board_text, true, false));
    fails(&["leaderboard", "show", "--board"], &wide_board, &["wide_board.json", "UTF-16 BE", "save it as UTF-8"]);

    // An n(z) table saved as UTF-16 is named too (a BOM'd one reads: unit tests of the synth crate).
    let nz = write(&dir, "nz.csv", utf16("z,weight\n0.5,1\n1.0,2\n", false, true));
    let out = dir.path().join("synth_out");
    let output = pzbench().args(["synth", "--n", "10", "--out"]).arg(&out).arg("--nz").arg(&nz).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_one_error_line(&String::from_utf8_lossy(&output.stderr), &["nz.csv", "UTF-16 LE", "save it as UTF-8"]);
}
