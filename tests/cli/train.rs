//! `pzbench train` and `pzbench predict` end to end on the CPU: the NN on the committed DC2
//! catalogue (as CSV, TSV, whitespace-separated text and Parquet), the CNN on small GalaxiesML
//! HDF5 files written here, determinism, resume, and every bad input failing with exit code 2
//! and a one-line message.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use assert_cmd::assert::Assert;

use assert_cmd::Command;
use predicates::prelude::*;
use pzbench_io::galaxiesml::{Column, ColumnData, GalaxiesMlWriter};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::util::{assert_one_error_line, pzbench, run};

const DC2: &str = "fixtures/data/dc2/dc2_training_9816.csv";
const DC2_BANDS: &str = "mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst";

/// HDF5 opens files without close-on-exec, so a child process spawned while this test process
/// writes an HDF5 file inherits the descriptor and its lock, and the file cannot be opened again
/// (EAGAIN). Writing takes the write side of this lock, spawning the read side.
static SPAWN: RwLock<()> = RwLock::new(());

trait Run {
    fn run(&mut self) -> Assert;
}

impl Run for Command {
    fn run(&mut self) -> Assert {
        let _guard = SPAWN.read().unwrap_or_else(|e| e.into_inner());
        self.assert()
    }
}

/// Lines `from..to` of the DC2 catalogue's data (plus its header) written to `path`.
fn dc2_part(path: &Path, from: usize, to: usize) -> PathBuf {
    let text = std::fs::read_to_string(DC2).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.skip(from).take(to - from).collect();
    std::fs::write(path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path.to_path_buf()
}

/// The CSV catalogue `csv` rewritten as `path`, a table in another layout: `"tsv"`, `"txt"`
/// (runs of spaces), `"psv"` (`|`-separated, which needs `--delimiter '|'`), `"parquet"` or
/// `"pq"` (Parquet: the id as int64, every other column as float64, parsed from the text as the
/// CSV reader parses it).
fn convert(csv: &Path, path: &Path) -> PathBuf {
    let text = std::fs::read_to_string(csv).unwrap();
    let extension = path.extension().unwrap().to_str().unwrap();
    let separator = match extension {
        "tsv" => "\t",
        "txt" => "   ",
        "psv" => "|",
        _ => {
            use polars::prelude::{Column, DataFrame, ParquetWriter};
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
            let columns = header
                .iter()
                .enumerate()
                .map(|(k, name)| match k {
                    0 => Column::new(
                        (*name).into(),
                        rows.iter().map(|r| r[0].parse::<i64>().unwrap()).collect::<Vec<_>>(),
                    ),
                    _ => Column::new(
                        (*name).into(),
                        rows.iter().map(|r| r[k].parse::<f64>().unwrap()).collect::<Vec<_>>(),
                    ),
                })
                .collect();
            let mut frame = DataFrame::new_infer_height(columns).unwrap();
            ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut frame).unwrap();
            return path.to_path_buf();
        }
    };
    std::fs::write(path, text.replace(',', separator)).unwrap();
    path.to_path_buf()
}

/// A GalaxiesML file of `n` galaxies with `size`-pixel random images, magnitudes uniform in
/// [18, 26] and a redshift that is a smooth function of them.
fn write_hdf5(path: &Path, n: usize, size: usize, seed: u64) -> PathBuf {
    let _guard = SPAWN.write().unwrap_or_else(|e| e.into_inner());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mags: Vec<[f64; 5]> = (0..n).map(|_| std::array::from_fn(|_| 18.0 + 8.0 * rng.random::<f64>())).collect();
    let z: Vec<f64> = mags.iter().map(|m| 0.34 + 0.1 * (m[1] - 18.0) + 0.03 * (m[3] - m[0])).collect();
    let mut w = GalaxiesMlWriter::create(path, n, size).unwrap();
    let pixels: Vec<f32> = (0..n * 5 * size * size).map(|_| 255.0 * rng.random::<f32>()).collect();
    w.write_images(0, &pixels).unwrap();
    w.write_column(&Column {
        name: "object_id".into(),
        data: ColumnData::I64((0..n as i64).map(|i| 500 + i).collect()),
    })
    .unwrap();
    w.write_column(&Column { name: "specz_redshift".into(), data: ColumnData::F64(z) }).unwrap();
    for (b, band) in ["g", "r", "i", "z", "y"].iter().enumerate() {
        let values = mags.iter().map(|m| m[b]).collect();
        w.write_column(&Column { name: format!("{band}_cmodel_mag"), data: ColumnData::F64(values) }).unwrap();
    }
    w.finish().unwrap();
    path.to_path_buf()
}

fn model_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap()
}

fn train_nn(train: &Path, val: &Path, out: &Path, extra: &[&str]) {
    pzbench()
        .args(["train", "--model", "nn", "--bands", DC2_BANDS, "--batch-size", "50"])
        .arg("--train")
        .arg(train)
        .arg("--val")
        .arg(val)
        .arg("--out")
        .arg(out)
        .args(extra)
        .run()
        .success();
}

fn fails_with(cmd: &mut Command, message: &str) {
    let out = cmd.run().code(2).stderr(predicate::str::contains(message)).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().filter(|l| l.starts_with("error")).count(), 1, "{stderr}");
}

#[test]
fn nn_on_dc2_learns_predicts_every_galaxy_and_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let train = dc2_part(&tmp.path().join("train.csv"), 0, 1500);
    let val = dc2_part(&tmp.path().join("val.csv"), 1500, 1800);
    let test = dc2_part(&tmp.path().join("test.csv"), 1800, 2100);
    let out = tmp.path().join("nn");
    train_nn(&train, &val, &out, &["--epochs", "4"]);
    let meta = model_json(&out);
    let history = meta["training"]["history"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    let first = history[0]["train_loss"].as_f64().unwrap();
    let last = history[3]["train_loss"].as_f64().unwrap();
    assert!(last < 0.8 * first, "training loss {first} -> {last}");
    let hash = meta["data"]["train"].as_str().unwrap();
    assert_eq!(hash, format!("sha256:{}", pzbench_io::sha256_file(&train).unwrap()));
    assert!(meta["data"]["val"].as_str().unwrap().starts_with("sha256:"));
    // Non-detections (mag 99) are filled with a faint, in-range value, saved beside the model.
    let inputs: Value = serde_json::from_str(&std::fs::read_to_string(out.join("inputs.json")).unwrap()).unwrap();
    assert_eq!(inputs["bands"].as_array().unwrap().len(), 6);
    let u_fill = inputs["fill"][0].as_f64().unwrap();
    assert!((24.0..35.0).contains(&u_fill), "{u_fill}");
    assert!(meta["scaler"]["max"][0].as_f64().unwrap() < 40.0, "99 must not reach the scaler");

    let preds = tmp.path().join("preds.csv");
    pzbench().args(["predict", "--model"]).arg(&out).arg("--data").arg(&test).arg("--out").arg(&preds).run().success();
    let text = std::fs::read_to_string(&preds).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("object_id,z_spec,z_phot"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 300, "one row per input galaxy");
    let test_text = std::fs::read_to_string(&test).unwrap();
    let first_test = test_text.lines().nth(1).unwrap();
    assert!(rows[0].starts_with(&first_test[..first_test.find(',').unwrap() + 1]), "file order and ids kept");
    pzbench().arg("score").arg(&preds).run().success().stdout(predicate::str::contains("overall"));
}

#[test]
fn same_seed_same_data_gives_identical_predictions_on_cpu() {
    let tmp = tempfile::tempdir().unwrap();
    let train = dc2_part(&tmp.path().join("train.csv"), 0, 600);
    let val = dc2_part(&tmp.path().join("val.csv"), 600, 800);
    let mut outputs = Vec::new();
    for run in ["a", "b"] {
        let out = tmp.path().join(run);
        train_nn(&train, &val, &out, &["--epochs", "2", "--seed", "3"]);
        let preds = tmp.path().join(format!("{run}.csv"));
        pzbench()
            .args(["predict", "-q", "--model"])
            .arg(&out)
            .arg("--data")
            .arg(&val)
            .arg("--out")
            .arg(&preds)
            .run()
            .success();
        outputs.push((std::fs::read(&preds).unwrap(), std::fs::read(out.join("model.safetensors")).unwrap()));
    }
    assert!(outputs[0] == outputs[1], "same seed and data must give the same weights and predictions");
    let other = tmp.path().join("c");
    train_nn(&train, &val, &other, &["--epochs", "2", "--seed", "4"]);
    assert_ne!(std::fs::read(other.join("model.safetensors")).unwrap(), outputs[0].1);
}

#[test]
fn cnn_on_hdf5_learns_resumes_and_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let train = write_hdf5(&tmp.path().join("train.hdf5"), 32, 32, 1);
    let val = write_hdf5(&tmp.path().join("val.hdf5"), 8, 32, 2);
    let out = tmp.path().join("cnn");
    let cnn = |epochs: &str, resume: bool| {
        let mut cmd = pzbench();
        cmd.args(["train", "--model", "cnn", "--batch-size", "8", "--lr", "3e-4", "--loss", "mse", "--epochs", epochs])
            .arg("--train")
            .arg(&train)
            .arg("--val")
            .arg(&val)
            .arg("--out")
            .arg(&out);
        if resume {
            cmd.arg("--resume");
        }
        cmd
    };
    cnn("2", false).run().success().stderr(predicate::str::contains("epoch 2/2"));
    // Training again into the same directory needs --resume.
    fails_with(&mut cnn("3", false), "already holds a checkpoint; pass --resume");
    cnn("3", true).run().success();
    let meta = model_json(&out);
    assert_eq!(meta["architecture"]["image_size"], 32);
    let history = meta["training"]["history"].as_array().unwrap();
    assert_eq!(history.len(), 3, "resumed to 3 epochs");
    let (first, last) = (history[0]["train_loss"].as_f64().unwrap(), history[2]["train_loss"].as_f64().unwrap());
    assert!(last < first, "training loss {first} -> {last}");

    let preds = tmp.path().join("preds.csv");
    pzbench().args(["predict", "--model"]).arg(&out).arg("--data").arg(&val).arg("--out").arg(&preds).run().success();
    let again = tmp.path().join("again.csv");
    pzbench()
        .args(["predict", "-q", "--batch-size", "3", "--model"])
        .arg(&out)
        .arg("--data")
        .arg(&val)
        .arg("--out")
        .arg(&again)
        .run()
        .success();
    let text = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(text.lines().count(), 9);
    assert!(text.lines().nth(1).unwrap().starts_with("500,"));
    assert_eq!(std::fs::read_to_string(&again).unwrap().lines().count(), 9);

    // Wrong image size for the checkpoint.
    let big = write_hdf5(&tmp.path().join("big.hdf5"), 3, 64, 3);
    fails_with(
        pzbench()
            .args(["predict", "--model"])
            .arg(&out)
            .arg("--data")
            .arg(&big)
            .arg("--out")
            .arg(tmp.path().join("x.csv")),
        "expects 5x32x32 images (its configuration), but the data has 5x64x64",
    );
    assert!(!tmp.path().join("x.csv").exists());
    // The CNN cannot read a catalogue.
    fails_with(
        pzbench()
            .args(["predict", "--model"])
            .arg(&out)
            .arg("--data")
            .arg(DC2)
            .arg("--out")
            .arg(tmp.path().join("x.csv")),
        "the CNN needs images",
    );
    // A corrupt checkpoint.
    let weights = out.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let k = bytes.len() / 2;
    bytes[k] ^= 0xff;
    std::fs::write(&weights, bytes).unwrap();
    fails_with(
        pzbench()
            .args(["predict", "--model"])
            .arg(&out)
            .arg("--data")
            .arg(&val)
            .arg("--out")
            .arg(tmp.path().join("x.csv")),
        "model.safetensors: checksum differs",
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let train = dc2_part(&tmp.path().join("train.csv"), 0, 200);
    let val = dc2_part(&tmp.path().join("val.csv"), 200, 260);
    let out = tmp.path().join("m");
    let base = |model: &str, train: &Path, bands: &str| {
        let mut cmd = pzbench();
        cmd.args(["train", "--model", model, "--epochs", "1", "--bands", bands])
            .arg("--train")
            .arg(train)
            .arg("--val")
            .arg(&val)
            .arg("--out")
            .arg(&out);
        cmd
    };
    // Missing band columns.
    fails_with(
        &mut base("nn", &train, "mag_u_lsst,mag_w_lsst"),
        "no column 'mag_w_lsst' (named by --bands); the columns are: id, redshift",
    );
    // NaN and empty magnitudes.
    let text = std::fs::read_to_string(&train).unwrap();
    let nan = tmp.path().join("nan.csv");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let fields: Vec<&str> = lines[3].split(',').collect();
    let mut edited: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    edited[4] = "nan".into();
    lines[3] = edited.join(",");
    std::fs::write(&nan, lines.join("\n")).unwrap();
    fails_with(&mut base("nn", &nan, DC2_BANDS), "column 'mag_g_lsst' is NaN; magnitudes must be numbers");
    edited[4] = String::new();
    lines[3] = edited.join(",");
    std::fs::write(&nan, lines.join("\n")).unwrap();
    fails_with(&mut base("nn", &nan, DC2_BANDS), "line 4, column 'mag_g_lsst': '' is not a number");
    // --device cuda in a build without the feature.
    #[cfg(not(feature = "cuda"))]
    fails_with(
        base("nn", &train, DC2_BANDS).args(["--device", "cuda"]),
        "built without CUDA; rebuild with --features cuda",
    );
    // Unknown --model (clap's usage error, also exit 2).
    pzbench()
        .args(["train", "--model", "rf", "--train", "a", "--val", "b", "--out", "c"])
        .run()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'rf' for '--model"));
    // The CNN needs images.
    fails_with(&mut base("cnn", &train, DC2_BANDS), "the CNN needs images, and this is a catalogue");
    // No checkpoint written by any failure.
    assert!(!out.join("model.json").exists());
    // A checkpoint directory that is not one.
    std::fs::create_dir_all(&out).unwrap();
    fails_with(
        pzbench()
            .args(["predict", "--model"])
            .arg(&out)
            .arg("--data")
            .arg(&val)
            .arg("--out")
            .arg(tmp.path().join("p.csv")),
        "model.json: missing",
    );
    // Missing magnitudes in the data given to predict.
    train_nn(&train, &val, &out.join("ok"), &["--epochs", "1"]);
    let short = tmp.path().join("short.csv");
    std::fs::write(&short, "id,mag_u_lsst\n1,20.0\n").unwrap();
    fails_with(
        pzbench()
            .args(["predict", "--model"])
            .arg(out.join("ok"))
            .arg("--data")
            .arg(&short)
            .arg("--out")
            .arg(tmp.path().join("p.csv")),
        "no column 'mag_g_lsst', 'mag_r_lsst'",
    );
}

#[test]
fn bench_train_measures_the_cnn_on_the_cpu() {
    let out = pzbench()
        .args([
            "bench",
            "train",
            "--device",
            "cpu",
            "--size",
            "32",
            "--batch-size",
            "4",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--json",
        ])
        .run()
        .success()
        .get_output()
        .stdout
        .clone();
    let value: Value = serde_json::from_slice(&out).unwrap();
    let result = &value["result"];
    // 32 px: five pools take 32 → 1, so the first dense layer reads 512 features.
    assert_eq!(
        result["parameters"],
        4_519_040 + 512 * 512 + 512 + 512 * 128 + 128 + 128 * 32 + 32 + 5 * 200 + 200 + 5 * (200 * 200 + 200) + 233
    );
    for key in ["train_galaxies_per_s", "infer_galaxies_per_s", "train_ms_per_step", "host_ms_per_step", "final_loss"] {
        let v = result[key].as_f64().unwrap();
        assert!(v.is_finite() && v > 0.0, "{key} = {v}");
    }
    assert!(value["peak_memory_bytes"].as_u64().unwrap() > 0);
    assert_eq!(value["kernels"], "cpu");
    assert_eq!(value["precision"], "f32");
}

#[test]
fn bench_rejects_bad_settings_and_missing_cuda() {
    pzbench()
        .args(["bench", "train", "--device", "cpu", "--steps", "0"])
        .run()
        .code(2)
        .stderr(predicate::str::contains("--steps must be at least 1"));
    #[cfg(not(feature = "cuda"))]
    pzbench().args(["bench", "check"]).run().code(2).stderr(predicate::str::contains("built without CUDA"));
    // bf16 is a CUDA option, refused on the CPU before anything runs, by `bench train` and `train`.
    let (code, _, err) = run(&["bench", "train", "--device", "cpu", "--precision", "bf16"]);
    assert_eq!(code, 2);
    assert_one_error_line(&err, &["--precision bf16 is a CUDA option: use it with --device cuda"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cnn");
    let (code, _, err) = run(&[
        "train",
        "--model",
        "nn",
        "--train",
        "fixtures/data/dc2/dc2_training_9816.csv",
        "--val-fraction",
        "0.2",
        "--bands",
        "mag_u_lsst,mag_g_lsst,mag_r_lsst,mag_i_lsst,mag_z_lsst,mag_y_lsst",
        "--precision",
        "bf16",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert_one_error_line(&err, &["--precision bf16 is a CUDA option"]);
    assert!(!out.exists(), "nothing is written");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_training_with_a_consistent_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("nn");
    let child = {
        let _guard = SPAWN.read().unwrap_or_else(|e| e.into_inner());
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pzbench"))
            .args(["train", "--model", "nn", "--train", DC2, "--val", DC2, "--bands", DC2_BANDS, "--quiet"])
            .args(["--epochs", "100000", "--patience", "0", "--out"])
            .arg(&out)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Wait for a few epochs to be saved, then ask it to stop as `timeout` does.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !out.join("model.json").is_file() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM; the checkpoint holds epochs 1 to"), "{stderr}");
    // The checkpoint loads and predicts, and the run can be resumed.
    let preds = tmp.path().join("preds.csv");
    pzbench()
        .args(["predict", "-q", "--model"])
        .arg(&out)
        .arg("--data")
        .arg(DC2)
        .arg("--out")
        .arg(&preds)
        .run()
        .success();
    assert_eq!(std::fs::read_to_string(&preds).unwrap().lines().count(), 10_226);
}

#[test]
fn nn_reads_tsv_text_and_parquet_catalogues_as_it_reads_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let csv = [dc2_part(&dir.join("train.csv"), 0, 400), dc2_part(&dir.join("val.csv"), 400, 500)];
    let test_csv = dc2_part(&dir.join("test.csv"), 500, 600);
    let predict = |model: &Path, data: &Path, extra: &[&str]| {
        let preds = dir.join(format!(
            "preds_{}_{}.csv",
            model.file_name().unwrap().to_str().unwrap(),
            data.file_name().unwrap().to_str().unwrap()
        ));
        pzbench()
            .args(["predict", "-q", "--model"])
            .arg(model)
            .arg("--data")
            .arg(data)
            .arg("--out")
            .arg(&preds)
            .args(extra)
            .run()
            .success();
        std::fs::read(&preds).unwrap()
    };
    let reference = dir.join("csv");
    train_nn(&csv[0], &csv[1], &reference, &["--epochs", "2", "--seed", "1"]);
    let weights = |model: &Path| std::fs::read(model.join("model.safetensors")).unwrap();
    let expected = predict(&reference, &test_csv, &[]);
    assert!(String::from_utf8_lossy(&expected).starts_with("object_id,z_spec,z_phot\n"));
    for extension in ["tsv", "txt", "psv", "parquet", "pq"] {
        let to = |from: &Path| convert(from, &from.with_extension(extension));
        let (train, val, test) = (to(&csv[0]), to(&csv[1]), to(&test_csv));
        let delimiter: &[&str] = if extension == "psv" { &["--delimiter", "|"] } else { &[] };
        let model = dir.join(extension);
        let args: Vec<&str> = ["--epochs", "2", "--seed", "1"].iter().chain(delimiter).copied().collect();
        train_nn(&train, &val, &model, &args);
        assert!(weights(&model) == weights(&reference), "{extension}: other weights than from the CSV files");
        assert!(predict(&model, &test, delimiter) == expected, "{extension}: other predictions than from CSV");
        assert!(predict(&reference, &test, delimiter) == expected, "{extension}: other predictions by one model");
    }
    // Without --delimiter, a '|'-separated file is one column, and its magnitudes are not found.
    let psv = dir.join("train.psv");
    fails_with(
        pzbench()
            .args(["train", "--model", "nn", "--bands", DC2_BANDS, "--train"])
            .arg(&psv)
            .arg("--val")
            .arg(&psv)
            .arg("--out")
            .arg(dir.join("nope")),
        "no column 'mag_u_lsst'",
    );
}

#[test]
fn catalogue_problems_are_named_as_score_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let train = dc2_part(&dir.join("train.csv"), 0, 200);
    let val = dc2_part(&dir.join("val.csv"), 200, 260);
    let model = dir.join("nn");
    train_nn(&train, &val, &model, &["--epochs", "1"]);
    let text = std::fs::read_to_string(&val).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[5].split(',').map(str::to_string).collect();
    fields[1] = "NaN".into(); // the redshift
    lines[5] = fields.join(",");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let predict = |extra: &[&str]| {
        let mut cmd = pzbench();
        cmd.args(["predict", "--model"])
            .arg(&model)
            .arg("--data")
            .arg(&bad)
            .arg("--out")
            .arg(dir.join("p.csv"))
            .args(extra);
        cmd
    };
    fails_with(&mut predict(&[]), "line 6, column 'redshift' is NaN; fix the row, or pass --drop-invalid");
    let out = predict(&["--drop-invalid"]).run().success().get_output().stderr.clone();
    let stderr = String::from_utf8_lossy(&out);
    let read = stderr.lines().next().unwrap();
    assert!(read.contains("bad.csv (CSV, 59 galaxies)"), "{stderr}");
    assert!(read.ends_with("; dropped 1 rows with NaN, infinite or empty values (--drop-invalid)"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("p.csv")).unwrap().lines().count(), 60);
    fails_with(&mut predict(&["--delimiter", "x"]), "--delimiter 'x' is not supported");
}

/// The rows of `n` that `--val-fraction fraction --seed seed` holds out, as `RawData::split`
/// draws them (the split a `model.json` records can be drawn again from its fraction and seed):
/// the first `round(fraction · n)` of a ChaCha8 shuffle of `0..n` seeded with `seed`, on stream
/// `u64::MAX`.
fn held_out(n: usize, fraction: f64, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let mut val = order[..(fraction * n as f64).round() as usize].to_vec();
    val.sort_unstable();
    val
}

/// `pzbench train --model nn` on the catalogue `train`, validated on `--val-fraction fraction`
/// (or, with `fraction` None, on the file `val`).
fn train_nn_split(train: &Path, fraction: &str, out: &Path, extra: &[&str]) -> Assert {
    pzbench()
        .args(["train", "--model", "nn", "-q", "--bands", DC2_BANDS, "--batch-size", "50", "--val-fraction", fraction])
        .arg("--train")
        .arg(train)
        .arg("--out")
        .arg(out)
        .args(extra)
        .run()
}

#[test]
fn val_fraction_holds_out_a_seeded_share_of_the_training_file_and_records_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dc2_part(&dir.join("cat.csv"), 0, 500);
    let run = |name: &str, seed: &str| {
        let out = dir.join(name);
        train_nn_split(&file, "0.2", &out, &["--epochs", "2", "--seed", seed]).success();
        out
    };
    let (a, b, other) = (run("a", "5"), run("b", "5"), run("c", "6"));
    let weights = |model: &Path| std::fs::read(model.join("model.safetensors")).unwrap();
    assert!(weights(&a) == weights(&b), "the same seed draws the same split and trains the same model");
    assert!(weights(&a) != weights(&other));
    let meta = model_json(&a);
    let training = &meta["training"];
    assert_eq!(
        training["validation_split"],
        serde_json::json!({"fraction": 0.2, "seed": 5, "train": 400, "val": 100}),
        "{training}"
    );
    assert_eq!((training["n_train"].as_u64(), training["n_val"].as_u64()), (Some(400), Some(100)));
    let hash = format!("sha256:{}", pzbench_io::sha256_file(&file).unwrap());
    assert_eq!((meta["data"]["train"].as_str(), meta["data"]["val"].as_str()), (Some(&*hash), Some(&*hash)));
    // The split is exactly the recorded one: the same model trains on the two parts written out
    // as files (disjoint, complete, in file order), and the fill values are fitted on the
    // training part alone.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let val_rows = held_out(rows.len(), 0.2, 5);
    let part = |name: &str, keep: &dyn Fn(usize) -> bool| {
        let kept: Vec<&str> = rows.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, r)| *r).collect();
        let path = dir.join(name);
        std::fs::write(&path, format!("{header}\n{}\n", kept.join("\n"))).unwrap();
        path
    };
    let train_part = part("train.csv", &|i| !val_rows.contains(&i));
    let val_part = part("val.csv", &|i| val_rows.contains(&i));
    let files = dir.join("files");
    train_nn(&train_part, &val_part, &files, &["--epochs", "2", "--seed", "5", "-q"]);
    assert!(weights(&files) == weights(&a), "--val-fraction trains as --train/--val on the split's rows");
    assert_eq!(std::fs::read(files.join("inputs.json")).unwrap(), std::fs::read(a.join("inputs.json")).unwrap());
    assert!(model_json(&files)["training"].get("validation_split").is_none());
    // A resumed run draws the split again; it cannot change to a validation file.
    train_nn_split(&file, "0.2", &a, &["--epochs", "3", "--seed", "5", "--resume"]).success();
    assert_eq!(model_json(&a)["training"]["history"].as_array().unwrap().len(), 3);
    fails_with(
        pzbench()
            .args(["train", "--model", "nn", "--bands", DC2_BANDS, "--batch-size", "50", "--seed", "5", "--resume"])
            .args(["--epochs", "4", "--train"])
            .arg(&file)
            .arg("--val")
            .arg(&val_part)
            .arg("--out")
            .arg(&a),
        "the run validated on --val-fraction 0.2 with split seed 5, this one on a validation file (--val); resume with the same validation data",
    );
    // --split-seed draws the split of that seed whatever --seed is: the same galaxies validate
    // (same fill values, fitted on the training part), and a resume must keep it.
    let split_seeded = dir.join("split_seeded");
    train_nn_split(&file, "0.2", &split_seeded, &["--epochs", "1", "--seed", "9", "--split-seed", "5"]).success();
    let split = &model_json(&split_seeded)["training"]["validation_split"];
    assert_eq!(*split, model_json(&a)["training"]["validation_split"]);
    assert_eq!(std::fs::read(split_seeded.join("inputs.json")).unwrap(), std::fs::read(a.join("inputs.json")).unwrap());
    fails_with(
        pzbench()
            .args(["train", "--model", "nn", "--bands", DC2_BANDS, "--batch-size", "50", "--val-fraction", "0.2"])
            .args(["--epochs", "2", "--seed", "9", "--resume", "--train"])
            .arg(&file)
            .arg("--out")
            .arg(&split_seeded),
        "the run validated on --val-fraction 0.2 with split seed 5, this one on --val-fraction 0.2 with split seed 9; resume with the same validation data",
    );
}

#[test]
fn val_fraction_splits_galaxiesml_hdf5_files_for_the_cnn() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_hdf5(&tmp.path().join("train.hdf5"), 40, 32, 4);
    let out = tmp.path().join("cnn");
    pzbench()
        .args(["train", "--model", "cnn", "--batch-size", "8", "--epochs", "1", "--val-fraction", "0.25", "--train"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .run()
        .success()
        .stderr(predicate::str::contains("train.hdf5 (GalaxiesML HDF5, 30 galaxies, images 5x32x32)"))
        .stderr(
            predicate::str::contains("validating on 10 more galaxies of")
                .and(predicate::str::contains("held out at random (--val-fraction 0.25, split seed 0)")),
        );
    let split = &model_json(&out)["training"]["validation_split"];
    assert_eq!(*split, serde_json::json!({"fraction": 0.25, "seed": 0, "train": 30, "val": 10}));
}

#[test]
fn val_fraction_is_refused_with_val_outside_0_1_and_when_a_part_would_be_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let file = dc2_part(&tmp.path().join("cat.csv"), 0, 200);
    let out = tmp.path().join("nn");
    let train = |args: &[&str]| {
        let mut cmd = pzbench();
        cmd.args(["train", "--model", "nn", "--epochs", "1", "--bands", DC2_BANDS, "--train"])
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .args(args);
        cmd
    };
    fails_with(train(&["--val-fraction", "0.2", "--val"]).arg(&file), "cannot be used with");
    fails_with(&mut train(&[]), "the following required arguments were not provided");
    for bad in ["0", "1", "1.5", "-0.1", "nan", "inf"] {
        fails_with(
            &mut train(&[&format!("--val-fraction={bad}")]),
            "give the share of the training file to hold out for validation, between 0 and 1 (e.g. 0.2)",
        );
    }
    fails_with(&mut train(&["--val-fraction", "a fifth"]), "invalid value 'a fifth' for '--val-fraction <F>'");
    fails_with(
        &mut train(&["--val-fraction", "0.001"]),
        "cat.csv: holds 200 galaxies: --val-fraction 0.001 leaves 200 to train on and 0 to validate; give a fraction that keeps at least one in each",
    );
    assert!(!out.join("model.json").exists(), "no checkpoint written by any refusal");
}

/// CPU training is a pure function of the data, the settings and the seed on one machine: no
/// parallel reduction, thread count or timing changes a bit of the weights (candle's CPU matrix
/// products split rows and columns across threads, never the summed dimension; the batch
/// pipeline's parallel steps are element-wise). Across machines, see docs/models.md
/// ("Reproducibility").
#[test]
fn cnn_training_is_bit_identical_across_runs_and_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let train = write_hdf5(&tmp.path().join("train.hdf5"), 16, 32, 5);
    let val = write_hdf5(&tmp.path().join("val.hdf5"), 4, 32, 6);
    let weights = |name: &str, threads: &str| {
        let out = tmp.path().join(name);
        pzbench()
            .env("RAYON_NUM_THREADS", threads)
            .args(["train", "--model", "cnn", "-q", "--batch-size", "8", "--epochs", "1", "--augment", "--train"])
            .arg(&train)
            .arg("--val")
            .arg(&val)
            .arg("--out")
            .arg(&out)
            .run()
            .success();
        std::fs::read(out.join("model.safetensors")).unwrap()
    };
    let reference = weights("a", "1");
    for (name, threads) in [("b", "2"), ("c", "3")] {
        assert!(weights(name, threads) == reference, "{threads} threads: other weights than 1 thread's");
    }
}
