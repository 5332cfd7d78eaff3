"""`pzbench.score` against the command line (`pzbench score --format json`, bit for bit) and the
third-party reference vectors (`fixtures/reference/`), on every input type and on bad input.

Needs the command-line binary: `target/debug/pzbench` (built by `cargo test`), or `$PZBENCH_BIN`.
"""
import json
import math
import os
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


def cli_json(path, *args):
    """The report of `pzbench score PATH ARGS --format json`."""
    if not CLI.exists():
        pytest.fail(f"{CLI} not found: build the command line first (cargo build), or set PZBENCH_BIN")
    run = subprocess.run([CLI, "score", path, *args, "--format", "json"], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def columns(path):
    """`(z_spec, z_phot)` of a reference CSV (`object_id,z_spec,z_phot`) or of the LSTM-MDNz file
    (whitespace-separated, `photo_z_test spect_z_test ...`)."""
    if path.suffix == ".csv":
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        return table[:, 1].copy(), table[:, 2].copy()
    table = np.loadtxt(path, skiprows=1, ndmin=2)
    return table[:, 1].copy(), table[:, 0].copy()


def as_json(values):
    """Metrics as the JSON report writes them: a value that is not finite is `null`."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


@pytest.mark.parametrize("path", [REFERENCE / "random_20k.csv", REFERENCE / "bin_edges.csv",
                                  REFERENCE / "negative_zphot.csv", REFERENCE / "perfect.csv", LSTM],
                         ids=lambda p: p.name)
def test_equals_the_command_line_bit_for_bit(path):
    expected = cli_json(path)
    result = pzbench.score(*columns(path))
    assert as_json(result.overall) == expected["overall"]
    assert [as_json(b) for b in result.per_bin] == expected["per_bin"]
    assert result.n_outside_bins == expected["n_outside_bins"]
    assert result.edges == expected["bins"]["edges"]


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


def test_bins_and_bin_on_equal_the_command_line():
    path = REFERENCE / "random_20k.csv"
    expected = cli_json(path, "--bins", "0:3:0.5", "--bin-on", "zphot")
    result = pzbench.score(*columns(path), bins="0:3:0.5", bin_on="zphot")
    assert [as_json(b) for b in result.per_bin] == expected["per_bin"]
    assert result.edges == pzbench.score(*columns(path), bins=[0, 0.5, 1, 1.5, 2, 2.5, 3]).edges


def test_bootstrap_intervals_equal_the_command_line_and_are_deterministic():
    path = REFERENCE / "random_20k.csv"
    expected = cli_json(path, "--bootstrap", "50", "--seed", "7", "--confidence", "0.9")["intervals"]
    z_spec, z_phot = columns(path)
    first = pzbench.score(z_spec, z_phot, bootstrap=50, seed=7, confidence=0.9).intervals
    assert json.loads(json.dumps(first)) == expected
    assert pzbench.score(z_spec, z_phot, bootstrap=50, seed=7, confidence=0.9).intervals == first
    assert pzbench.score(z_spec, z_phot, bootstrap=50, seed=8, confidence=0.9).intervals != first
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
