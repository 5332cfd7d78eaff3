"""`pzbench.leaderboard_add`, `leaderboard_show` and `leaderboard_render` against `pzbench leaderboard
add|show|render`: the same board file byte for byte, the same ranking and renderings, adds from
several threads all landing, and the command's messages on bad input.

Needs the command-line binary: `target/debug/pzbench` (built by `cargo build`), or `$PZBENCH_BIN`.
"""
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import pzbench
import command

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "fixtures" / "reference" / "random_20k.csv"
PDF = REPO / "fixtures" / "reference" / "pdf"
# Entries dated alike by the command and the library (`SOURCE_DATE_EPOCH`).
EPOCH = "1780000000"
DATED = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}


def cli(*args):
    """`pzbench ARGS`, dated `EPOCH`: the completed process."""
    return command.cli(*args, env=DATED)


def cli_output(*args):
    """What `pzbench ARGS`, dated `EPOCH`, prints (it must succeed)."""
    return command.cli_output(*args, env=DATED)


def cli_error(*args):
    """The message of `pzbench ARGS`, dated `EPOCH`, which must fail with exit code 2."""
    return command.cli_error(*args, env=DATED)


@pytest.fixture(autouse=True)
def dated(monkeypatch):
    """Entries added by the library dated `EPOCH`, as the command's."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Three models' predictions of the same 2,000 galaxies, from good to bad."""
    folder = tmp_path_factory.mktemp("models")
    table = np.loadtxt(SOURCE, delimiter=",", skiprows=1)[:2000]
    rng = np.random.default_rng(11)
    paths = {}
    for name, noise in [("good", 0.0), ("fair", 0.05), ("poor", 0.15)]:
        z_phot = table[:, 2] + rng.normal(0.0, noise, len(table)) * (1 + table[:, 1])
        paths[name] = folder / f"{name}.csv"
        paths[name].write_text("object_id,z_spec,z_phot\n" + "".join(
            f"{int(i)},{float(zs)!r},{float(zp)!r}\n" for i, zs, zp in zip(table[:, 0], table[:, 1], z_phot)))
    return paths


def test_adds_write_the_command_line_board(tmp_path, models):
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    for name in ["fair", "poor", "good"]:
        update = pzbench.leaderboard_add(ours, name, models[name], dataset="mock", bootstrap=100, seed=1)
        cli_output("leaderboard", "add", "--board", theirs, "--name", name, "--predictions", models[name],
                   "--dataset", "mock", "--bootstrap", "100", "--seed", "1")
        assert ours.read_bytes() == theirs.read_bytes()
    assert (update.replaced, update.rank, update.entries, update.name, update.board) == (False, 1, 3, "good", ours)
    again = pzbench.leaderboard_add(ours, "poor", models["fair"], replace=True)
    cli_output("leaderboard", "add", "--board", theirs, "--name", "poor", "--predictions", models["fair"], "--replace")
    assert ours.read_bytes() == theirs.read_bytes()
    assert again.replaced and again.entries == 3


def test_show_and_render_equal_the_command_line(tmp_path, models):
    board = tmp_path / "board.json"
    for name, path in models.items():
        pzbench.leaderboard_add(board, name, path)
    shown = pzbench.leaderboard_show(board)
    assert [entry["name"] for entry in shown.entries] == ["good", "fair", "poor"]
    assert shown.to_text() == cli_output("leaderboard", "show", "--board", board)
    assert shown.title is None and shown.by == "loss"
    assert shown.entries[0]["overall"]["count"] == 2000
    by_bias = pzbench.leaderboard_show(board, by="bias")
    assert by_bias.to_text() == cli_output("leaderboard", "show", "--board", board, "--by", "bias")
    bias = {entry["name"]: abs(entry["overall"]["bias"]) for entry in shown.entries}
    assert [entry["name"] for entry in by_bias.entries] == sorted(bias, key=lambda name: (bias[name], name))
    for fmt, method in [("markdown", shown.to_markdown), ("html", shown.to_html)]:
        ours, theirs = tmp_path / f"ours.{fmt}", tmp_path / f"theirs.{fmt}"
        text = pzbench.leaderboard_render(board, format=fmt, output=ours)
        cli_output("leaderboard", "render", "--board", board, "--format", fmt, "--output", theirs)
        assert ours.read_bytes() == theirs.read_bytes()
        assert text == ours.read_text() == method()
    assert pzbench.leaderboard_render(board, by="scatter") == cli_output("leaderboard", "render", "--board", board,
                                                                         "--by", "scatter")


def test_a_pdf_entry_keeps_its_pdf_metrics(tmp_path):
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    path = PDF / "mix_k3_even.qp.hdf5"
    pzbench.leaderboard_add(ours, "mix", path, point="mean")
    cli_output("leaderboard", "add", "--board", theirs, "--name", "mix", "--predictions", path, "--point", "mean")
    assert ours.read_bytes() == theirs.read_bytes()
    assert "crps" in pzbench.leaderboard_show(ours, by="crps").entries[0]["pdf"]["overall"]


def test_concurrent_adds_all_land(tmp_path, models):
    board = tmp_path / "board.json"
    names = [f"{name}{k}" for name in models for k in range(3)]
    with ThreadPoolExecutor(4) as pool:
        updates = list(pool.map(lambda name: pzbench.leaderboard_add(board, name, models[name[:-1]]), names))
    assert sorted(update.entries for update in updates) == list(range(1, len(names) + 1))
    assert sorted(e["name"] for e in json.loads(board.read_text())["entries"]) == sorted(names)


def test_bad_input_raises_the_command_line_message(tmp_path, models):
    board = tmp_path / "board.json"
    pzbench.leaderboard_add(board, "good", models["good"])
    cases = [
        (FileNotFoundError, lambda: pzbench.leaderboard_show(tmp_path / "missing.json"),
         ["leaderboard", "show", "--board", tmp_path / "missing.json"]),
        (ValueError, lambda: pzbench.leaderboard_show(board, by="sharpness"),
         ["leaderboard", "show", "--board", board, "--by", "sharpness"]),
        (ValueError, lambda: pzbench.leaderboard_add(board, "good", models["fair"]),
         ["leaderboard", "add", "--board", board, "--name", "good", "--predictions", models["fair"]]),
        (ValueError, lambda: pzbench.leaderboard_add(board, " ", models["fair"]),
         ["leaderboard", "add", "--board", board, "--name", " ", "--predictions", models["fair"]]),
        (ValueError, lambda: pzbench.leaderboard_add(board, "other", SOURCE),
         ["leaderboard", "add", "--board", board, "--name", "other", "--predictions", SOURCE]),
        (FileNotFoundError, lambda: pzbench.leaderboard_add(board, "new", tmp_path / "missing.csv"),
         ["leaderboard", "add", "--board", board, "--name", "new", "--predictions", tmp_path / "missing.csv"]),
        (ValueError, lambda: pzbench.leaderboard_add(board, "new", models["fair"], grid=models["good"]),
         ["leaderboard", "add", "--board", board, "--name", "new", "--predictions", models["fair"], "--grid",
          models["good"]]),
    ]
    before = board.read_bytes()
    for error, call, args in cases:
        with pytest.raises(error) as raised:
            call()
        assert str(raised.value) == cli_error(*args)
    assert board.read_bytes() == before


def test_a_bad_render_format_names_the_keyword(tmp_path, models):
    board = tmp_path / "board.json"
    pzbench.leaderboard_add(board, "good", models["good"])
    with pytest.raises(ValueError) as raised:
        pzbench.leaderboard_render(board, format="pdf")
    assert str(raised.value) == "format: invalid value 'pdf' (expected one of: markdown, html)"
