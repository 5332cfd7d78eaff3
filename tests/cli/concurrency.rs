//! Several pzbench processes updating one file at once (`docs/safety.md`): concurrent
//! `leaderboard add`s all land, adds of one name give one success and one-line errors, and a
//! held lock makes `leaderboard add`, `baseline save` and `train` wait, say so, and give up after
//! `--lock-timeout` with one line naming the lock file.

use std::io::{BufRead, Read};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use pzbench_io::update::{lock_beside, lock_folder, LockOptions};
use serde_json::Value;

use super::util::{assert_one_error_line, pzbench_process, root};

/// A small predictions file: every add scores it in a few milliseconds.
const PREDICTIONS: &str = "fixtures/reference/tiny_odd.csv";

/// Start `pzbench leaderboard add` of `name` to `board`.
fn spawn_add(board: &Path, name: &str, extra: &[&str]) -> Child {
    pzbench_process()
        .env("SOURCE_DATE_EPOCH", "1795000000")
        .args(["leaderboard", "add", "--board"])
        .arg(board)
        .args(["--name", name, "--predictions"])
        .arg(root().join(PREDICTIONS))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn names_on(board: &Path) -> Vec<String> {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(board).unwrap()).unwrap();
    let mut names: Vec<String> =
        json["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    names
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn thirty_two_concurrent_adds_of_different_names_all_land_every_time() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let board = dir.path().join("board.json");
        let children: Vec<Child> = (0..32).map(|k| spawn_add(&board, &format!("m{k:02}"), &[])).collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert_eq!(output.status.code(), Some(0), "round {round}: {}", stderr_of(&output));
        }
        let expected: Vec<String> = (0..32).map(|k| format!("m{k:02}")).collect();
        assert_eq!(names_on(&board), expected, "round {round}: updates were lost");
        assert_eq!(listing(dir.path()), ["board.json"], "round {round}: lock or temporary files left behind");
    }
}

#[test]
fn concurrent_adds_of_one_name_give_one_success_and_one_line_errors() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let board = dir.path().join("board.json");
        let children: Vec<Child> = (0..12).map(|_| spawn_add(&board, "same", &[])).collect();
        let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let succeeded = outputs.iter().filter(|o| o.status.success()).count();
        assert_eq!(succeeded, 1, "round {round}: {} adds of one name succeeded", succeeded);
        for output in outputs.iter().filter(|o| !o.status.success()) {
            assert_eq!(output.status.code(), Some(2));
            assert_one_error_line(&stderr_of(output), &["board.json", "an entry named 'same' exists", "--replace"]);
        }
        assert_eq!(names_on(&board), ["same"]);
        assert_eq!(listing(dir.path()), ["board.json"]);
    }
    // With --replace they all succeed, one after another, and one entry remains.
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("board.json");
    let children: Vec<Child> = (0..8).map(|_| spawn_add(&board, "same", &["--replace"])).collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
    }
    assert_eq!(names_on(&board), ["same"]);
}

#[test]
fn a_held_lock_makes_updates_wait_say_so_and_give_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("board.json");
    let held = lock_beside(&board, &LockOptions::default()).unwrap();
    let lock_file = dir.path().join(".board.json.lock");

    // leaderboard add: gives up after --lock-timeout 1, naming the lock file, its holder and the flag.
    let started = Instant::now();
    let output = spawn_add(&board, "A", &["--lock-timeout", "1"]).wait_with_output().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    let holder = format!("held by pid {}", std::process::id());
    assert_one_error_line(&stderr, &[&lock_file.display().to_string(), &holder, "--lock-timeout", "gave up after 1 s"]);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(!board.exists());

    // baseline save: waits, prints one line after a second, then gives up.
    let baseline = dir.path().join("base.json");
    let held_baseline = lock_beside(&baseline, &LockOptions::default()).unwrap();
    let output = pzbench_process()
        .args(["baseline", "save", "--lock-timeout", "1.5", "--predictions"])
        .arg(root().join(PREDICTIONS))
        .arg("--output")
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    let waiting: Vec<&str> = stderr.lines().filter(|l| l.starts_with("pzbench: waiting for the lock on")).collect();
    assert_eq!(waiting.len(), 1, "{stderr}");
    assert!(waiting[0].contains(".base.json.lock") && waiting[0].contains(&holder), "{stderr}");
    assert_one_error_line(&stderr, &[".base.json.lock", "gave up after 1.5 s"]);
    assert!(!baseline.exists());

    // train: the checkpoint directory's lock; --lock-timeout 0 tries once.
    let ckpt = dir.path().join("nn");
    std::fs::create_dir(&ckpt).unwrap();
    let held_dir = lock_folder(&ckpt, &LockOptions::default()).unwrap();
    let output = pzbench_process()
        .args(["train", "--model", "nn", "--epochs", "1", "--lock-timeout", "0", "--bands"])
        .arg("mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst")
        .arg("--train")
        .arg(root().join("fixtures/data/dc2/dc2_training_9816.csv"))
        .arg("--val")
        .arg(root().join("fixtures/data/dc2/dc2_training_9816.csv"))
        .arg("--out")
        .arg(&ckpt)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_one_error_line(&stderr_of(&output), &["nn/.lock", "gave up after 0 s", &holder]);
    assert!(!ckpt.join("model.json").exists());
    drop(held_dir);
    drop(held_baseline);

    // A lock released during the wait: the add goes on and lands.
    let mut child = spawn_add(&board, "A", &[]);
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("pzbench: waiting for the lock on") && line.contains(".board.json.lock"), "{line}");
    drop(held);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{line}{rest}");
    assert!(rest.contains("added 'A'"), "{rest}");
    assert_eq!(names_on(&board), ["A"]);
    assert_eq!(listing(dir.path()), ["board.json", "nn"]);

    // A negative timeout is a usage error.
    let output = spawn_add(&board, "B", &["--lock-timeout=-1"]).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_one_error_line(&stderr_of(&output), &["--lock-timeout -1"]);
}
