//! Crash safety (`docs/safety.md`): `leaderboard add`, `score --output`, `baseline save`,
//! `synth` and `train` are killed with SIGKILL at random moments (seeded), many times each, and
//! every output must then be absent, the previous complete version or the new complete version —
//! never partial, never unparseable — with nothing else left but hidden temporary and lock
//! files; a killed training resumes from its last complete epoch.
//!
//! Half the kills come at a random time of the run; the other half right after a random one of
//! the changes the run makes to its output folder (a file appears, grows, is renamed or removed),
//! so that many land in the middle of writes, which take a small part of a run's time.
//!
//! `PZBENCH_KILLS=N` runs N kills per command instead of the default; `PZBENCH_KILL_SEED=S`
//! changes the seed of the kill moments.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::util::{pzbench_process, root};

const RANDOM_20K: &str = "fixtures/reference/random_20k.csv";
const TINY: &str = "fixtures/reference/tiny_odd.csv";
const DC2: &str = "fixtures/data/dc2/dc2_training_9816.csv";
const DC2_BANDS: &str = "mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst";

/// What a complete run looks like from outside: how long it takes, and how many changes of its
/// output folder's listing are seen while it runs ([`observe`]).
#[derive(Clone, Copy)]
struct Profile {
    duration: Duration,
    changes: usize,
}

/// The names and sizes of the files in `dir` (empty if it does not exist).
fn snapshot(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().map_or(0, |m| m.len())))
        .collect();
    files.sort();
    files
}

/// Runs `cmd` to its end (it must succeed), watching `dir`.
fn observe(cmd: &mut Command, dir: &Path) -> Profile {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut last = snapshot(dir);
    let mut changes = 0;
    while child.try_wait().unwrap().is_none() {
        let now = snapshot(dir);
        if now != last {
            changes += 1;
            last = now;
        }
        std::thread::yield_now();
    }
    let duration = started.elapsed();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&output.stderr));
    Profile { duration, changes }
}

/// Kill moments for `test`: `PZBENCH_KILLS` (or `default`) of them, from a seed fixed per test.
struct Killer {
    rng: ChaCha8Rng,
    kills: usize,
    killed: usize,
    finished: usize,
}

impl Killer {
    fn new(test: &str, default: usize) -> Killer {
        let seed = std::env::var("PZBENCH_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(14u64);
        let kills = std::env::var("PZBENCH_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
        let salt = test.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        Killer { rng: ChaCha8Rng::seed_from_u64(seed ^ salt), kills, killed: 0, finished: 0 }
    }

    /// Starts `cmd`, which writes into `dir`, and SIGKILLs it (unless it finished first) after a
    /// random part of 1.2 times a complete run's duration, or right after a random one of the
    /// changes a complete run makes to `dir`: each in turn.
    fn run(&mut self, cmd: &mut Command, full: Profile, dir: &Path) {
        let by_time = (self.killed + self.finished).is_multiple_of(2);
        let delay = full.duration.mul_f64(1.2 * self.rng.random::<f64>());
        // A loaded machine sees fewer changes (the watcher gets less time): stay below the count.
        let change = self.rng.random_range(1..=(full.changes * 4 / 5).max(1));
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + delay;
        let (mut last, mut seen) = (snapshot(dir), 0);
        while child.try_wait().unwrap().is_none() {
            if by_time {
                if Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1).min(deadline.saturating_duration_since(Instant::now())));
            } else {
                let now = snapshot(dir);
                if now != last {
                    seen += 1;
                    last = now;
                    if seen >= change {
                        break;
                    }
                }
                std::thread::yield_now();
            }
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        match status.signal() {
            Some(9) => self.killed += 1,
            _ => {
                assert!(status.success(), "{cmd:?} failed without being killed: {status}");
                self.finished += 1;
            }
        }
    }

    /// Many runs must have been killed on the way, or the test proves little.
    fn check(&self, what: &str, full: Profile) {
        eprintln!(
            "{what}: {} killed, {} finished before the kill (a complete run: {:.0} ms, {} changes seen)",
            self.killed,
            self.finished,
            full.duration.as_secs_f64() * 1000.0,
            full.changes
        );
        assert!(self.killed * 3 >= self.kills, "{what}: only {} of {} runs were killed", self.killed, self.kills);
    }
}

/// Runs `cmd` to the end; it must succeed.
fn complete(cmd: &mut Command) {
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn pzbench(args: &[&str]) -> Command {
    let mut cmd = pzbench_process();
    cmd.env("SOURCE_DATE_EPOCH", "1795000000").args(args);
    cmd
}

fn fixture(path: &str) -> String {
    root().join(path).display().to_string()
}

/// The bytes of `path`, `None` if it does not exist.
fn read(path: &Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// `path` holds one of `versions` (`None`: absent).
fn assert_one_of(path: &Path, versions: &[Option<&[u8]>], round: usize) {
    let now = read(path);
    assert!(
        versions.contains(&now.as_deref()),
        "round {round}: {} is neither absent, the previous nor the new complete version ({} bytes)",
        path.display(),
        now.map_or(0, |b| b.len())
    );
}

/// Besides `outputs`, `dir` holds only what a kill may leave: hidden temporary, pending and lock
/// files.
fn assert_only_leftovers(dir: &Path, outputs: &[&str]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let leftover = name.starts_with('.')
            && (name.ends_with(".pzbench-tmp")
                || name.ends_with(".pzbench-tmp.png")
                || name.ends_with(".lock")
                || name.ends_with(".pending")
                || name == ".pzbench-synth-write-test");
        assert!(outputs.contains(&name.as_str()) || leftover, "unexpected file {name} in {}", dir.display());
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn killed_leaderboard_adds_leave_the_previous_or_the_new_board() {
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("board.json");
    let add = |name: &str| {
        let mut cmd = pzbench(&["leaderboard", "add", "--name", name, "--predictions", &fixture(RANDOM_20K)]);
        cmd.arg("--board").arg(&board);
        cmd
    };
    complete(&mut add("A"));
    let previous = read(&board).unwrap();
    let full = observe(&mut add("B"), dir.path());
    let new = read(&board).unwrap();
    assert_eq!(json(&new)["entries"].as_array().unwrap().len(), 2);

    let mut killer = Killer::new("leaderboard add", 16);
    for round in 0..killer.kills {
        std::fs::write(&board, &previous).unwrap();
        killer.run(&mut add("B"), full, dir.path());
        assert_one_of(&board, &[Some(&previous), Some(&new)], round);
        assert_only_leftovers(dir.path(), &["board.json"]);
    }
    killer.check("leaderboard add", full);
    // Whatever the kills left, the next add goes through and leaves no lock file.
    std::fs::write(&board, &previous).unwrap();
    complete(&mut add("B"));
    assert_eq!(read(&board).unwrap(), new);
    assert!(!dir.path().join(".board.json.lock").exists());
}

#[test]
fn killed_scores_and_baseline_saves_leave_the_previous_or_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("score.json");
    let baseline = dir.path().join("base.json");
    let score = |predictions: &str| {
        let mut cmd = pzbench(&["score", &fixture(predictions), "--format", "json", "-q", "--output"]);
        cmd.arg(&report);
        cmd
    };
    let save = |predictions: &str| {
        let mut cmd = pzbench(&["baseline", "save", "--predictions", &fixture(predictions), "--output"]);
        cmd.arg(&baseline);
        cmd
    };
    for (what, path, run) in
        [("score --output", &report, &score as &dyn Fn(&str) -> Command), ("baseline save", &baseline, &save)]
    {
        complete(&mut run(TINY));
        let previous = read(path).unwrap();
        let full = observe(&mut run(RANDOM_20K), dir.path());
        let new = read(path).unwrap();
        assert_ne!(previous, new);
        let mut killer = Killer::new(what, 16);
        for round in 0..killer.kills {
            // Every other round starts without the file: absent is then the previous version.
            let start = (round % 2 == 0).then_some(previous.as_slice());
            match start {
                Some(bytes) => std::fs::write(path, bytes).unwrap(),
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
            killer.run(&mut run(RANDOM_20K), full, dir.path());
            assert_one_of(path, &[start, Some(&new)], round);
            if let Some(bytes) = read(path) {
                json(&bytes);
            }
            assert_only_leftovers(dir.path(), &["score.json", "base.json"]);
        }
        killer.check(what, full);
    }
}

#[test]
fn killed_synth_runs_leave_complete_files() {
    let dir = tempfile::tempdir().unwrap();
    let synth = |seed: &str, out: &Path| {
        let mut cmd = pzbench(&["synth", "--n", "8", "--size", "64", "--grid-dz", "0.05", "--quiet", "--seed", seed]);
        cmd.arg("--output").arg(out);
        cmd
    };
    let (old_dir, new_dir, work) = (dir.path().join("old"), dir.path().join("new"), dir.path().join("work"));
    complete(&mut synth("1", &old_dir));
    let full = observe(&mut synth("2", &new_dir), &new_dir);
    let names: Vec<String> = ["hdf5", "csv"]
        .iter()
        .flat_map(|ext| {
            ["training", "validation", "testing"].map(|split| format!("5x64x64_{split}_with_morphology.{ext}"))
        })
        .collect();
    let outputs: Vec<&str> = names.iter().map(String::as_str).collect();
    let versions: Vec<(Vec<u8>, Vec<u8>)> =
        names.iter().map(|n| (read(&old_dir.join(n)).unwrap(), read(&new_dir.join(n)).unwrap())).collect();
    assert!(versions.iter().all(|(old, new)| old != new));

    let mut killer = Killer::new("synth", 8);
    std::fs::create_dir(&work).unwrap();
    for round in 0..killer.kills {
        // Every other round starts from an empty folder.
        for (name, (old, _)) in names.iter().zip(&versions) {
            match round % 2 {
                0 => std::fs::write(work.join(name), old).unwrap(),
                _ => {
                    let _ = std::fs::remove_file(work.join(name));
                }
            }
        }
        killer.run(&mut synth("2", &work), full, &work);
        for (name, (old, new)) in names.iter().zip(&versions) {
            let start = (round % 2 == 0).then_some(old.as_slice());
            assert_one_of(&work.join(name), &[start, Some(new)], round);
        }
        assert_only_leftovers(&work, &outputs);
        // What is there is readable as a GalaxiesML file.
        for name in names.iter().filter(|n| n.ends_with(".hdf5") && work.join(n).exists()) {
            let path = work.join(name);
            complete(pzbench_process().args(["inspect", "--format", "json"]).arg(&path));
        }
    }
    killer.check("synth", full);
}

/// `model.json` of the checkpoint `dir`, if there is one.
fn model_json(dir: &Path) -> Option<Value> {
    read(&dir.join("model.json")).map(|bytes| json(&bytes))
}

/// `(train_loss, val_loss)` of every epoch in a checkpoint's history.
fn losses(meta: &Value) -> Vec<(f64, f64)> {
    let history = meta["training"]["history"].as_array().unwrap();
    history.iter().map(|e| (e["train_loss"].as_f64().unwrap(), e["val_loss"].as_f64().unwrap())).collect()
}

/// Lines `from..to` of the DC2 catalogue's data, with its header, written to `path`.
fn dc2_part(path: &Path, from: usize, to: usize) -> PathBuf {
    let text = std::fs::read_to_string(root().join(DC2)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.skip(from).take(to - from).collect();
    std::fs::write(path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path.to_path_buf()
}

#[test]
fn killed_training_leaves_a_loadable_checkpoint_and_resumes_from_its_last_epoch() {
    const EPOCHS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let train = dc2_part(&dir.path().join("train.csv"), 0, 300);
    let val = dc2_part(&dir.path().join("val.csv"), 300, 400);
    let run = |out: &Path, resume: bool| {
        let mut cmd = pzbench(&["train", "--model", "nn", "--bands", DC2_BANDS, "--batch-size", "50", "--quiet"]);
        cmd.args(["--epochs", &EPOCHS.to_string(), "--patience", "0", "--train"]).arg(&train).arg("--val").arg(&val);
        cmd.arg("--out").arg(out);
        if resume {
            cmd.arg("--resume");
        }
        cmd
    };
    let reference = dir.path().join("reference");
    let full = observe(&mut run(&reference, false), &reference);
    let expected = losses(&model_json(&reference).unwrap());
    assert_eq!(expected.len(), EPOCHS);

    let ckpt = dir.path().join("ckpt");
    let preds = dir.path().join("preds.csv");
    let outputs = ["model.json", "model.safetensors", "last.safetensors", "optimizer.safetensors", "inputs.json"];
    let mut killer = Killer::new("train", 10);
    for round in 0..killer.kills {
        let _ = std::fs::remove_dir_all(&ckpt);
        killer.run(&mut run(&ckpt, false), full, &ckpt);
        if ckpt.exists() {
            assert_only_leftovers(&ckpt, &outputs);
        }
        match model_json(&ckpt) {
            Some(before) => {
                // A complete checkpoint of the epochs so far: it predicts, and --resume goes on
                // from its last epoch, keeping the epochs it holds.
                let saved = losses(&before);
                assert!(!saved.is_empty() && saved.len() <= EPOCHS, "round {round}");
                assert_eq!(saved, expected[..saved.len()], "round {round}");
                let mut predict = pzbench(&["predict", "-q", "--model"]);
                predict.arg(&ckpt).arg("--data").arg(&val).arg("--out").arg(&preds);
                complete(&mut predict);
                assert_eq!(std::fs::read_to_string(&preds).unwrap().lines().count(), 101);
                complete(&mut run(&ckpt, true));
                let after = model_json(&ckpt).unwrap();
                let history = |meta: &Value| meta["training"]["history"].as_array().unwrap().clone();
                assert_eq!(history(&after)[..saved.len()], history(&before)[..], "round {round}: epochs redone");
            }
            // Killed before the first epoch was saved: nothing to resume, a fresh run starts.
            None => {
                complete(&mut run(&ckpt, false));
            }
        }
        assert_eq!(losses(&model_json(&ckpt).unwrap()), expected, "round {round}");
    }
    killer.check("train", full);
}
