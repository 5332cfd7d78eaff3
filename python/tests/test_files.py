"""`pzbench.score_file` against the command line: `.to_json()` equals `pzbench score FILE ...
--format json` byte for byte (point files, PDF files, a truth file, the real LSTM-MDNz file), and
bad input raises with the command's one-line message.

Needs the command-line binary: `target/debug/pzbench` (built by `cargo build`), or `$PZBENCH_BIN`.
"""
import csv
import json
from pathlib import Path

import pytest

import pzbench
from command import cli, cli_error

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "fixtures" / "reference"
PDF = REFERENCE / "pdf"
SYNTH = REPO / "fixtures" / "synth"
LSTM = REPO / "fixtures" / "external" / "lstm_mdnz_galaxiesml_pred_z.dat"


def cli_json(*args):
    """What `pzbench score ARGS --format json -q` prints (it must succeed)."""
    run = cli("score", *args, "--format", "json", "-q")
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def synth_predictions(tmp_path_factory):
    """object_id,z_phot for the synthetic test set's galaxies (z_spec is in the HDF5 file only)."""
    path = tmp_path_factory.mktemp("synth") / "preds.csv"
    with open(SYNTH / "5x64x64_testing_with_morphology.csv", newline="") as catalogue:
        rows = [(row["object_id"], float(row["specz_redshift"]) * 1.05 + 0.01) for row in csv.DictReader(catalogue)]
    path.write_text("object_id,z_phot\n" + "".join(f"{i},{z!r}\n" for i, z in rows))
    return path


POINT_FILES = [REFERENCE / "random_20k.csv", REFERENCE / "bin_edges.csv", REFERENCE / "negative_zphot.csv",
               REFERENCE / "perfect.csv", REFERENCE / "ties.csv", REFERENCE / "single.csv", LSTM]


@pytest.mark.parametrize("path", POINT_FILES, ids=lambda p: p.name)
def test_point_files_equal_the_command_line_byte_for_byte(path):
    result = pzbench.score_file(path)
    assert result.to_json() == cli_json(path)


def test_options_equal_the_command_line():
    path = REFERENCE / "random_20k.csv"
    expected = cli_json(path, "--bins", "0:3:0.5", "--bin-on", "zphot", "--bootstrap", "200", "--seed", "7",
                        "--confidence", "0.9")
    result = pzbench.score_file(str(path), bins="0:3:0.5", bin_on="zphot", bootstrap=200, seed=7, confidence=0.9)
    assert result.to_json() == expected
    assert result.intervals["resamples"] == 200
    edges = [0, 0.5, 1, 2, 4]
    assert pzbench.score_file(path, bins=edges).to_json() == cli_json(path, "--edges", "0,0.5,1,2,4")


def test_lstm_with_bootstrap_equals_the_command_line():
    assert pzbench.score_file(LSTM, bootstrap=100).to_json() == cli_json(LSTM, "--bootstrap", "100")


def test_truth_from_a_galaxiesml_hdf5_file(synth_predictions):
    truth = SYNTH / "5x64x64_testing_with_morphology.hdf5"
    result = pzbench.score_file(synth_predictions, truth)
    assert result.to_json() == cli_json(synth_predictions, "--truth", truth)
    assert result.input["truth"]["format"] == "GalaxiesML HDF5"
    assert result.overall["count"] == 10


@pytest.mark.parametrize("name", ["mix_k3_even.qp.hdf5", "mix_narrow_odd.csv", "grid_nonuniform_odd.csv",
                                  "hist_empty_bins_odd.qp.hdf5", "samples_ties_even.csv"])
def test_pdf_files_equal_the_command_line_byte_for_byte(name):
    result = pzbench.score_file(PDF / name)
    assert result.to_json() == cli_json(PDF / name)
    assert result.pdf is not None and "crps" in json.dumps(result.pdf)


@pytest.mark.parametrize("options, flags", [
    ({"dialect": "rail", "nz_edges": [0, 0.5, 1, 3]}, ["--dialect", "rail", "--nz-edges", "0,0.5,1,3"]),
    ({"point": "median", "bootstrap": 50}, ["--point", "median", "--bootstrap", "50"]),
])
def test_pdf_options_and_per_galaxy_values_equal_the_command_line(tmp_path, options, flags):
    path = PDF / "knn_dc2.qp.hdf5"
    ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
    result = pzbench.score_file(path, pit_out=ours, **options)
    assert result.to_json() == cli_json(path, *flags, "--pit-out", theirs)
    assert ours.read_bytes() == theirs.read_bytes() and ours.stat().st_size > 0


def test_a_grid_file_and_row_alignment_equal_the_command_line(tmp_path):
    pdfs = PDF / "grid_nonuniform_odd.csv"
    truth = tmp_path / "truth.csv"
    truth.write_text("redshift\n" + "".join(line.split(",")[1] + "\n" for line in pdfs.read_text().splitlines()[1:]))
    grid = PDF / "grid_nonuniform_odd.grid.csv"
    result = pzbench.score_file(pdfs, truth, grid=grid, align="rows")
    assert result.to_json() == cli_json(pdfs, "--truth", truth, "--grid", grid, "--align", "rows")


def test_point_files_are_not_pdf_files():
    assert pzbench.score_file(REFERENCE / "tiny_odd.csv").pdf is None


def test_missing_file_raises_file_not_found_with_the_command_line_message(tmp_path):
    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.score_file(missing)
    assert str(raised.value) == cli_error("score", missing)
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.score_file(REFERENCE / "tiny_odd.csv", truth=missing)
    assert str(raised.value) == cli_error("score", REFERENCE / "tiny_odd.csv", "--truth", missing)


@pytest.mark.parametrize("options, flags", [
    ({"zspec_col": "nope"}, ["--zspec-col", "nope"]),
    ({"zphot_col": "z_spec"}, ["--zphot-col", "z_spec"]),
    ({"confidence": 1.5, "bootstrap": 10}, ["--confidence", "1.5", "--bootstrap", "10"]),
    ({"bins": "0:1"}, ["--bins", "0:1"]),
    ({"bins": [1, 0.5]}, ["--edges", "1,0.5"]),
    ({"point": "mode"}, ["--point", "mode"]),
    ({"pit_out": "x.csv"}, ["--pit-out", "x.csv"]),
])
def test_bad_input_raises_value_error_with_the_command_line_message(options, flags):
    path = REFERENCE / "tiny_odd.csv"
    with pytest.raises(ValueError) as raised:
        pzbench.score_file(path, **options)
    assert str(raised.value) == cli_error("score", path, *flags)


@pytest.mark.parametrize("options, message", [
    ({"bin_on": "z"}, "bin_on: invalid value 'z' (expected one of: zspec, zphot)"),
    ({"dialect": "qp"}, "dialect: invalid value 'qp' (expected one of: pzbench, rail)"),
    ({"bootstrap": -1}, "bootstrap: invalid value '-1' (invalid digit found in string)"),
    ({"seed": 1.5}, "seed: invalid value '1.5' (invalid digit found in string)"),
])
def test_bad_arguments_name_the_python_keyword(options, message):
    with pytest.raises(ValueError) as raised:
        pzbench.score_file(REFERENCE / "tiny_odd.csv", **options)
    assert str(raised.value) == message


def test_empty_path_names_the_python_keyword():
    with pytest.raises(ValueError) as raised:
        pzbench.score_file("")
    assert str(raised.value) == "a value is required for 'path' but none was supplied"
