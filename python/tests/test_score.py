"""`pzbench.score` against the command line (`pzbench score --format json`, bit for bit) and the
third-party reference vectors (`fixtures/reference/`), on every input type and on bad input.

Needs the command-line binary: `target/debug/pzbench` (built by `cargo build`), or `$PZBENCH_BIN`.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import pzbench

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "fixtures" / "reference"
LSTM = REPO / "fixtures" / "external" / "lstm_mdnz_galaxiesml_pred_z.dat"
CLI = Path(os.environ.get("PZBENCH_BIN", REPO / "target" / "debug" / "pzbench"))
REFERENCE_CASES = sorted(p.name.removesuffix(".expected.json") for p in REFERENCE.glob("*.expected.json"))
# The report's `input` block (two-space indent, as `pzbench score --format json` writes it).
INPUT_BLOCK = re.compile(r'\n  "input": \{\n.*?\n  \},', re.S)


def run_cli(path, *args):
    """The text `pzbench score PATH ARGS --format json -q` writes."""
    if not CLI.exists():
        pytest.fail(f"{CLI} not found: build the command line first (cargo build), or set PZBENCH_BIN")
    run = subprocess.run([CLI, "score", path, *args, "--format", "json", "-q"], capture_output=True, text=True,
                         check=True)
    return run.stdout


def cli_json(path, *args):
    """The report of `pzbench score PATH ARGS --format json`."""
    return json.loads(run_cli(path, *args))


def columns(path):
    """`(z_spec, z_phot)` of a reference CSV (`object_id,z_spec,z_phot`) or of the LSTM-MDNz file
    (whitespace-separated, `photo_z_test spect_z_test ...`)."""
    if path.suffix == ".csv":
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        return table[:, 1].copy(), table[:, 2].copy()
    table = np.loadtxt(path, skiprows=1, ndmin=2)
    return table[:, 1].copy(), table[:, 0].copy()


def write_csv(path, z_spec, z_phot):
    """Write the galaxies as `pzbench score` reads them: `object_id,z_spec,z_phot`, every value
    as Python's `repr` (which reads back to the same float64)."""
    lines = ["object_id,z_spec,z_phot"]
    lines += [f"{i + 1},{s!r},{p!r}" for i, (s, p) in enumerate(zip(z_spec.tolist(), z_phot.tolist()))]
    path.write_text("\n".join(lines) + "\n")
    return path


def without_input(text):
    """A report's JSON text without its `input` block (which names a file, or the arrays)."""
    stripped, found = INPUT_BLOCK.subn("", text)
    assert found == 1, text[:2000]
    return stripped


OPTIONS = {
    "default": ({}, []),
    "bins-on-zphot": ({"bins": "0:3:0.5", "bin_on": "zphot"}, ["--bins", "0:3:0.5", "--bin-on", "zphot"]),
    "edges": ({"bins": [0.0, 0.3, 0.7, 1.5, 4.0]}, ["--edges", "0,0.3,0.7,1.5,4"]),
    "bootstrap": ({"bootstrap": 50, "seed": 7, "confidence": 0.9},
                  ["--bootstrap", "50", "--seed", "7", "--confidence", "0.9"]),
}
FILES = [*sorted(REFERENCE.glob("*.csv")), LSTM]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_to_json_equals_the_command_line_bit_for_bit(path, options, tmp_path):
    """The report's text, all but its `input` block, is the command line's on the same galaxies."""
    keywords, arguments = OPTIONS[options]
    z_spec, z_phot = columns(path)
    expected = run_cli(write_csv(tmp_path / "galaxies.csv", z_spec, z_phot), *arguments)
    result = pzbench.score(z_spec, z_phot, **keywords)
    assert without_input(result.to_json()) == without_input(expected)
    ours, theirs = json.loads(result.to_json()), json.loads(expected)
    assert ours.pop("input")["rows"] == theirs.pop("input")["rows"] == len(z_spec)
    assert ours == theirs
    assert result.overall == theirs["overall"] and result.per_bin == theirs["per_bin"]
    assert result.edges == theirs["bins"]["edges"] and result.n_outside_bins == theirs["n_outside_bins"]
    assert (result.intervals is None) == ("bootstrap" not in keywords)
    assert result.bin_on == keywords.get("bin_on", "zspec")


@pytest.mark.parametrize("path", [REFERENCE / "random_20k.csv", LSTM], ids=lambda p: p.name)
def test_equals_the_command_line_on_the_files_themselves(path):
    """On the reference file and the LSTM-MDNz predictions as they are (the CLI parses them)."""
    expected = cli_json(path)
    result = pzbench.score(*columns(path))
    assert result.overall == expected["overall"]
    assert result.per_bin == expected["per_bin"]
    assert result.n_outside_bins == expected["n_outside_bins"]
    assert result.edges == expected["bins"]["edges"]


def test_input_block_describes_the_arrays():
    result = pzbench.score([0.5, 1.0, 1.5], [0.52, 0.97, 1.6])
    assert result.input == {"path": "<arrays>", "format": "arrays", "rows": 3, "dropped_invalid": 0,
                            "columns": {"id": None, "z_spec": "z_spec", "z_phot": "z_phot"}}
    with_ids = pzbench.score([0.5, 1.0, 1.5], [0.52, 0.97, 1.6], ids=np.array([7, 3, 5]))
    assert with_ids.input["columns"] == {"id": "ids", "z_spec": "z_spec", "z_phot": "z_phot"}
    assert with_ids.overall == result.overall and with_ids.pdf is None and result.pdf is None
    assert json.loads(with_ids.to_json())["input"] == with_ids.input


def test_score_from_the_json_of_a_pdf_report():
    """`Score._from_json` (what `score_file` and `score_pdf` build their results with) on a report of
    PDFs with intervals: every block, and the text kept as it is."""
    text = run_cli(REFERENCE / "pdf" / "grid_edges_even.qp.hdf5", "--bootstrap", "5")
    report = json.loads(text)
    result = pzbench.Score._from_json(text)
    assert result.to_json() == text
    assert result.pdf == report["pdf"] and result.input == report["input"]
    assert result.bin_on == "zspec" and result.edges == report["bins"]["edges"]
    assert result.intervals["overall"]["bias"] == tuple(report["intervals"]["overall"]["bias"])
    assert result.intervals["resamples"] == 5
    assert result == pzbench.Score._from_json(text)


@pytest.mark.parametrize("case", REFERENCE_CASES)
def test_matches_the_reference_vectors(case):
    """numpy/scipy/astropy values, to the tolerance of tests/reference.rs."""
    expected = json.loads((REFERENCE / f"{case}.expected.json").read_text())
    result = pzbench.score(*columns(REFERENCE / f"{case}.csv"))
    for ours, theirs in [(result.overall, expected["overall"]), *zip(result.per_bin, expected["per_bin"])]:
        for key in pzbench.METRICS:
            if theirs[key] is None:
                assert ours[key] is None, key
            else:
                assert ours[key] == pytest.approx(theirs[key], rel=1e-12, abs=1e-15), key


def test_bins_as_a_range_or_as_edges():
    z_spec, z_phot = columns(REFERENCE / "random_20k.csv")
    by_range = pzbench.score(z_spec, z_phot, bins="0:3:0.5")
    assert by_range.edges == pzbench.score(z_spec, z_phot, bins=[0, 0.5, 1, 1.5, 2, 2.5, 3]).edges
    assert len(by_range.per_bin) == 6 and by_range.bin_on == "zspec"


def test_bootstrap_intervals_are_deterministic():
    z_spec, z_phot = columns(REFERENCE / "random_20k.csv")
    first = pzbench.score(z_spec, z_phot, bootstrap=50, seed=7, confidence=0.9).intervals
    assert first["resamples"] == 50 and first["confidence"] == 0.9 and len(first["per_bin"]) == 20
    assert pzbench.score(z_spec, z_phot, bootstrap=50, seed=7, confidence=0.9).intervals == first
    assert pzbench.score(z_spec, z_phot, bootstrap=50, seed=8, confidence=0.9).intervals != first
    lo, hi = first["overall"]["scatter"]
    assert lo < pzbench.score(z_spec, z_phot).overall["scatter"] < hi
    assert pzbench.score(z_spec, z_phot).intervals is None


def test_float32_is_converted_once():
    z_spec, z_phot = columns(REFERENCE / "random_20k.csv")
    z_spec32, z_phot32 = z_spec.astype(np.float32), z_phot.astype(np.float32)
    expected = pzbench.score(z_spec32.astype(np.float64), z_phot32.astype(np.float64))
    assert pzbench.score(z_spec32, z_phot32) == expected


def test_contiguous_float64_is_read_in_place_and_strided_arrays_are_copied():
    z = np.linspace(0.1, 2.0, 11)
    assert pzbench._score._as_float64("z_spec", z) is z
    strided = np.linspace(0.1, 2.0, 22)[::2]
    assert pzbench.score(strided, strided + 0.01) == pzbench.score(strided.copy(), strided.copy() + 0.01)


def test_lists_equal_arrays():
    z_spec, z_phot = [0.5, 1.0, 1.5], [0.52, 0.97, 1.6]
    assert pzbench.score(z_spec, z_phot) == pzbench.score(np.array(z_spec), np.array(z_phot))
    assert pzbench.score(z_spec, z_phot).overall["count"] == 3


def test_pandas_series_and_dataframe():
    pd = pytest.importorskip("pandas")
    z_spec, z_phot = columns(REFERENCE / "random_20k.csv")
    result = pzbench.score(pd.Series(z_spec), pd.Series(z_phot, dtype="Float64"))
    assert result == pzbench.score(z_spec, z_phot)
    frame = result.to_pandas()
    assert list(frame.columns) == [*pzbench.METRICS, "lo", "hi"]
    assert len(frame) == 20 and frame["count"].sum() + result.n_outside_bins == 20000


def test_pandas_with_nan_raises():
    pd = pytest.importorskip("pandas")
    for z_phot in [pd.Series([0.5, np.nan, 1.0]), pd.Series([0.5, None, 1.0], dtype="Float64")]:
        with pytest.raises(ValueError, match=r"^z_phot\[1\] is NaN; every redshift must be a finite number"):
            pzbench.score(pd.Series([0.5, 0.7, 1.0]), z_phot)


def test_polars_series():
    pl = pytest.importorskip("polars")
    z_spec, z_phot = columns(REFERENCE / "random_20k.csv")
    result = pzbench.score(pl.Series(z_spec), pl.Series(z_phot))
    assert result == pzbench.score(z_spec, z_phot)
    assert result.to_polars().height == 20


def ids_of(kind, values):
    """`values` as integer ids of the library `kind`."""
    if kind == "numpy":
        return np.asarray(values, dtype=np.int32)
    if kind == "uint64":
        return np.asarray(values, dtype=np.uint64)
    if kind == "pandas":
        return pytest.importorskip("pandas").Series(values, dtype="Int64")
    if kind == "polars":
        return pytest.importorskip("polars").Series(values)
    if kind == "pyarrow":
        return pytest.importorskip("pyarrow").chunked_array([values[:1], values[1:]])
    return list(values)


@pytest.mark.parametrize("kind", ["numpy", "uint64", "pandas", "polars", "pyarrow", "list"])
def test_ids_of_every_kind(kind):
    z_spec, z_phot = [0.5, 1.0, 1.5], [0.52, 0.97, 1.6]
    result = pzbench.score(z_spec, z_phot, ids=ids_of(kind, [30, 10, 20]))
    assert result.input["columns"]["id"] == "ids"
    assert result.overall == pzbench.score(z_spec, z_phot).overall
    with pytest.raises(ValueError, match=r"^duplicate id 10 \(ids\[1\] and ids\[2\]\); each galaxy must appear once$"):
        pzbench.score(z_spec, z_phot, ids=ids_of(kind, [30, 10, 10]))


def test_duplicate_ids_are_refused_as_the_command_line_refuses_them(tmp_path):
    """The same sentence as `pzbench score` on a file whose object_id repeats, positions for rows."""
    path = tmp_path / "repeated.csv"
    path.write_text("object_id,z_spec,z_phot\n4,0.5,0.52\n7,1.0,0.97\n4,1.5,1.6\n")
    run = subprocess.run([CLI, "score", path], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().endswith("duplicate object_id 4 (data rows 1 and 3); each galaxy must appear once")
    with pytest.raises(ValueError, match=r"^duplicate id 4 \(ids\[0\] and ids\[2\]\); each galaxy must appear once$"):
        pzbench.score([0.5, 1.0, 1.5], [0.52, 0.97, 1.6], ids=[4, 7, 4])


@pytest.mark.parametrize("ids, message", [
    ([1, 2], r"^ids has 2 values but z_spec has 3; give one id per galaxy$"),
    ([1.0, 2.0, 3.0], r"^ids: expected integer object ids, got float64 values$"),
    (["a", "b", "c"], r"^ids: expected integer object ids, got <U1 values$"),
    ([[1, 2, 3]], r"^ids: expected a 1-D array of object ids, got 2 dimensions$"),
    (np.array([1, 2**63], dtype=np.uint64), r"^ids: 9223372036854775808 is larger than the largest object id"),
])
def test_bad_ids_raise_value_error(ids, message):
    with pytest.raises(ValueError, match=message):
        pzbench.score([0.5, 1.0, 1.5], [0.52, 0.97, 1.6], ids=ids)


def test_missing_ids_raise_value_error():
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"^ids\[1\] is missing; every galaxy needs an integer object id$"):
        pzbench.score([0.5, 1.0, 1.5], [0.52, 0.97, 1.6], ids=pd.Series([1, None, 3], dtype="Int64"))


@pytest.mark.parametrize("z_spec, z_phot, message", [
    ([0.5, 1.0], [0.5], r"^z_spec has 2 values but z_phot has 1; give one z_phot per z_spec$"),
    ([], [], r"^z_spec and z_phot are empty; give at least one galaxy$"),
    ([0.5, np.inf], [0.5, 1.0], r"^z_spec\[1\] is inf; "),
    ([0.5, -1.0], [0.5, 1.0], r"^z_spec\[1\] = -1 is <= -1, so 1 \+ z_spec <= 0; "),
    ([[0.5]], [[0.5]], r"^z_spec: expected a 1-D array of redshifts, got 2 dimensions$"),
    (0.5, 0.5, r"^z_spec: expected a 1-D array of redshifts, got 0 dimensions$"),
    (["a"], [0.5], r"^z_spec: expected numbers"),
])
def test_bad_input_raises_value_error(z_spec, z_phot, message):
    with pytest.raises(ValueError, match=message):
        pzbench.score(z_spec, z_phot)


@pytest.mark.parametrize("options, message", [
    ({"bins": "0:1:0.3"}, r"^--bins 0:1:0.3: WIDTH does not divide HI - LO into whole bins"),
    ({"bins": [0.0, 1.0, 1.0]}, r"^bin edges must increase strictly, but 1 is followed by 1$"),
    ({"bins": [1.0]}, r"^bin edges: need at least two edges"),
    ({"bin_on": "z"}, r"^bin_on = 'z': expected 'zspec' or 'zphot'$"),
    ({"confidence": 1.0}, r"^confidence = 1 must lie strictly between 0 and 1"),
])
def test_bad_options_raise_value_error(options, message):
    with pytest.raises(ValueError, match=message):
        pzbench.score([0.5, 1.0], [0.5, 1.0], **options)


def test_internal_errors_are_exceptions():
    assert issubclass(pzbench.PzbenchError, Exception)
