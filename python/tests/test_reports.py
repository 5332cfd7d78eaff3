"""`pzbench.table2` and `pzbench.figure6` against `pzbench table2` and `pzbench figure6`: the same
tables in every format, the same files byte for byte (PNG and SVG), and the command's messages on
bad input.

Needs the command-line binary: `target/debug/pzbench` (built by `cargo build`), or `$PZBENCH_BIN`.
"""
import json
from pathlib import Path

import pytest

import pzbench
from command import cli, cli_output, cli_error

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "fixtures" / "reference"
PDF = REFERENCE / "pdf"
RANDOM, TIES = REFERENCE / "random_20k.csv", REFERENCE / "ties.csv"
LSTM = REPO / "fixtures" / "external" / "lstm_mdnz_galaxiesml_pred_z.dat"
FORMATS = ["table", "markdown", "latex", "csv", "json"]


def text_of(table, fmt):
    """`table` in the command's `--format fmt`."""
    return {"table": table.to_text, "markdown": table.to_markdown, "latex": table.to_latex, "csv": table.to_csv,
            "json": table.to_json}[fmt]()


def test_table2_equals_the_command_line_in_every_format():
    table = pzbench.table2({"LSTM": LSTM, "Random": RANDOM}, published=True)
    for fmt in FORMATS:
        expected = cli_output("table2", "--model", f"LSTM={LSTM}", "--model", f"Random={RANDOM}", "--published",
                              "--format", fmt)
        assert text_of(table, fmt) == expected, fmt
    assert [row["model"] for row in table.rows][:2] == ["LSTM", "Random"]
    assert [row["source"] for row in table.rows][2:] == ["published", "published"]
    assert table.notes and "not scored on the same galaxies" in table.notes[0]
    assert table.caption == json.loads(table.to_json())["caption"] and table.dataset["source"] == LSTM.name


@pytest.mark.parametrize("fmt", FORMATS)
def test_table2_writes_the_command_line_file(tmp_path, fmt):
    ours, theirs = tmp_path / f"ours.{fmt}", tmp_path / f"theirs.{fmt}"
    table = pzbench.table2([f"A={TIES}", ("B", RANDOM)], bootstrap=100, seed=5, dataset="mine", output=ours,
                           format=fmt)
    cli_output("table2", "--model", f"A={TIES}", "--model", f"B={RANDOM}", "--bootstrap", "100", "--seed", "5",
               "--dataset", "mine", "--output", theirs, "--format", fmt)
    assert ours.read_bytes() == theirs.read_bytes()
    assert ours.read_text() == text_of(table, fmt)
    assert table.bootstrap["resamples"] == 100 and table.dataset["id"] == "mine"


def test_table2_of_pdf_files_equals_the_command_line():
    models = {"qp": PDF / "mix_k3_even.qp.hdf5", "csv": PDF / "mix_k3_even.csv"}
    table = pzbench.table2(models, point="mean", format="json")
    expected = cli_output("table2", *(f"--model={name}={path}" for name, path in models.items()), "--point", "mean",
                          "--format", "json")
    assert table.to_json() == expected
    assert "crps" in table.rows[0]["pdf"]["overall"] and table.rows[0]["pdf"]["point_estimate"] == "mean"


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_figure6_writes_the_command_line_file(tmp_path, suffix):
    ours, theirs = tmp_path / f"ours.{suffix}", tmp_path / f"theirs.{suffix}"
    figure = pzbench.figure6({"LSTM": LSTM, "Random": RANDOM}, ours, bootstrap=50, seed=9, size=(900, 700))
    cli_output("figure6", "--model", f"LSTM={LSTM}", "--model", f"Random={RANDOM}", "--output", theirs,
               "--bootstrap", "50", "--seed", "9", "--size", "900x700")
    assert ours.read_bytes() == theirs.read_bytes() and ours.stat().st_size > 0
    assert figure.path == ours and list(figure.scores) == ["LSTM", "Random"]
    assert figure.notes and "not scored on the same galaxies" in figure.notes[0]
    expected = cli_output("score", LSTM, "--bootstrap", "50", "--seed", "9", "--format", "json")
    assert figure.scores["LSTM"].to_json() == expected


def test_figure6_defaults_and_bins_equal_the_command_line(tmp_path):
    ours, theirs = tmp_path / "ours.svg", tmp_path / "theirs.svg"
    figure = pzbench.figure6([f"T={TIES}"], str(ours), bins=[0, 1, 2, 3], bin_on="zphot")
    cli_output("figure6", "--model", f"T={TIES}", "--output", theirs, "--edges", "0,1,2,3", "--bin-on", "zphot")
    assert ours.read_bytes() == theirs.read_bytes()
    assert figure.scores["T"].intervals["resamples"] == 200 and figure.scores["T"].edges == [0, 1, 2, 3]


def test_missing_files_raise_the_command_line_message(tmp_path):
    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.table2({"A": missing})
    assert str(raised.value) == cli_error("table2", "--model", f"A={missing}")
    with pytest.raises(FileNotFoundError) as raised:
        pzbench.figure6({"A": TIES}, tmp_path / "f.png", truth=missing)
    assert str(raised.value) == cli_error("figure6", "--model", f"A={TIES}", "--output", tmp_path / "f.png",
                                          "--truth", missing)
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("call, args", [
    (lambda tmp: pzbench.figure6({"A": TIES}, tmp / "f.jpg"), ["figure6", "--model", f"A={TIES}", "--output", "f.jpg"]),
    (lambda tmp: pzbench.table2([("A", TIES), ("A", RANDOM)]),
     ["table2", "--model", f"A={TIES}", "--model", f"A={RANDOM}"]),
    (lambda tmp: pzbench.table2({"A": TIES}, zspec_col="nope"),
     ["table2", "--model", f"A={TIES}", "--zspec-col", "nope"]),
    (lambda tmp: pzbench.table2({"A": TIES}, dialect="rail"), ["table2", "--model", f"A={TIES}", "--dialect", "rail"]),
])
def test_bad_input_raises_value_error_with_the_command_line_message(tmp_path, call, args):
    with pytest.raises(ValueError) as raised:
        call(tmp_path)
    expected = cli_error(*(tmp_path / arg if arg.startswith("f.") else arg for arg in args))
    assert str(raised.value) == expected


@pytest.mark.parametrize("call, message", [
    (lambda: pzbench.table2({}), "models: no model given; give at least one, e.g. {'CNN': 'cnn.csv'}"),
    (lambda: pzbench.table2({"A=B": TIES}), "models: the name 'A=B' contains '='; a model's name cannot"),
    (lambda: pzbench.table2(["A"]), "models: invalid value 'A' ('A' is not NAME=FILE; write e.g. --model "
                                    "CNN=cnn_predictions.csv)"),
    (lambda: pzbench.figure6({"A": TIES}, "f.png", size=(10, 10)),
     "size: invalid value '10x10' (--size 10x10: expected WIDTHxHEIGHT in pixels, each 600 to 10000, e.g. "
     "1800x1200)"),
    (lambda: pzbench.table2({"A": TIES}, format="html"),
     "format: invalid value 'html' (expected one of: table, markdown, latex, csv, json)"),
])
def test_bad_arguments_name_the_python_keyword(call, message):
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value) == message
