"""`pzbench.score_pdf` and `pzbench.pdf_values` against the command line (`pzbench score FILE
--format json` and `--pit-out`, bit for bit) and the PDF reference vectors
(`fixtures/reference/pdf/`, to the tolerances of `crates/metrics/tests/metrics/pdf_common.rs`), on
arrays, qp ensembles (real ones when qp is installed, and a duck-typed stand-in), every input
type, and bad input (the command line's messages).

Needs the command-line binary: `target/debug/pzbench` (built by `cargo test`), or `$PZBENCH_BIN`.
"""
import csv
import json
import math
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import pzbench

REPO = Path(__file__).resolve().parents[2]
PDF = REPO / "fixtures" / "reference" / "pdf"
CLI = Path(os.environ.get("PZBENCH_BIN", REPO / "target" / "debug" / "pzbench"))
CASES = sorted(p.name.removesuffix(".expected.json") for p in PDF.glob("*.expected.json"))
QP_CASES = [case for case in CASES if (PDF / f"{case}.qp.hdf5").exists()]
# The tolerances of the reference vectors (pdf_common.rs, docs/PDF_METRICS.md §2.6): exact
# values, root-finding results (a mixture's mode and median, and the n(z) on the mode), the rail
# dialect, and the absolute tolerance near 0.
EXACT, ROOT_FINDING, RAIL, NEAR_ZERO = 1e-12, 1e-10, 1e-9, 1e-15


def run_cli(*args):
    """`pzbench ARGS`: (exit code, stdout, stderr)."""
    if not CLI.exists():
        pytest.fail(f"{CLI} not found: build the command line first (cargo build), or set PZBENCH_BIN")
    done = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def cli_json(path, *args):
    """The text of `pzbench score PATH ARGS --format json`."""
    code, stdout, stderr = run_cli("score", path, *args, "--format", "json", "--quiet")
    assert code == 0, stderr
    return stdout


def cli_error(path, *args):
    """The one-line message of `pzbench score PATH ARGS`, which must fail with exit code 2."""
    code, _, stderr = run_cli("score", path, *args)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0].removeprefix("error: ")


def without_input(text):
    """The JSON report's text without its `input` block (the one part that names the file)."""
    start = text.index('\n  "input": {')
    end = text.index("\n  },", start) + len("\n  },")
    return text[:start] + text[end:]


def read_columns(path):
    """A CSV file of numbers as column name -> float64 array."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return {name: np.array([float(row[i]) for row in rows[1:]]) for i, name in enumerate(rows[0])}


def family(columns, prefix):
    """The columns `PREFIX_0, PREFIX_1, ...` as one n x K array."""
    k = sum(1 for name in columns if re.fullmatch(rf"{prefix}_\d+", name))
    return np.column_stack([columns[f"{prefix}_{i}"] for i in range(k)])


def case_arrays(case):
    """`(z_spec, ids, pdfs)` of a reference case's CSV: `pdfs` the keyword arguments of
    `score_pdf` for its PDFs."""
    columns = read_columns(PDF / f"{case}.csv")
    if "w_0" in columns:
        pdfs = dict(weights=family(columns, "w"), means=family(columns, "mu"), stds=family(columns, "sigma"))
    elif "s_0" in columns:
        pdfs = dict(samples=family(columns, "s"))
    else:
        axis = read_columns(PDF / f"{case}.grid.csv")
        pdfs = dict(grid=axis.get("z", axis.get("edge")), pdfs=family(columns, "pdf"))
    return columns["z_spec"], columns["object_id"].astype(np.int64), pdfs


def close(actual, expected, relative):
    return abs(actual - expected) <= relative * max(abs(actual), abs(expected)) + NEAR_ZERO


def compare(path, expected, actual, tolerance, failures):
    """pdf_common.rs's `compare`: same keys (but `provenance`), same lengths, nulls where null,
    numbers within `tolerance(path)`; one line per difference appended to `failures`."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected.keys() - actual.keys() - {"provenance"}:
            failures.append(f"{path}.{key}: missing")
        for key in actual.keys() - expected.keys():
            failures.append(f"{path}.{key}: not in the reference")
        for key in expected.keys() & actual.keys():
            compare(f"{path}.{key}", expected[key], actual[key], tolerance, failures)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(f"{path}[{i}]", e, a, tolerance, failures)
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and expected is not True:
        if not close(actual, expected, tolerance(path)):
            failures.append(f"{path}: expected {expected!r}, got {actual!r}")
    elif expected != actual:
        failures.append(f"{path}: expected {expected!r}, got {actual!r}")


def set_block(score):
    """The `pdf` block without the keys the reference blocks do not have."""
    drop = {"dialect", "representation", "point_estimate", "per_bin", "intervals"}
    return {key: value for key, value in score.pdf.items() if key not in drop}


class StandIn:
    """A duck-typed qp ensemble: `metadata`, `objdata` and `ancil` as qp 1.1.4 has them
    (properties), or as methods when `methods`."""

    def __init__(self, metadata, objdata, ancil=None, methods=False):
        self._values = {"metadata": metadata, "objdata": objdata, "ancil": ancil}
        self._methods = methods

    def __getattr__(self, name):
        if name not in ("metadata", "objdata", "ancil"):
            raise AttributeError(name)
        value = self._values[name]
        return (lambda: value) if self._methods else value


def mixture(n=5, k=2, seed=3):
    """Small random Gaussian mixtures: z_spec, weights, means, stds."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 2.5, n)
    means = z[:, None] + rng.normal(0, 0.1, (n, k))
    return z, rng.uniform(0.1, 1, (n, k)), means, rng.uniform(0.02, 0.2, (n, k))


# ---------------------------------------------------------------------------------------------
# Equal to the command line, bit for bit
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_arrays_equal_the_command_line_bit_for_bit(case):
    z_spec, ids, pdfs = case_arrays(case)
    expected = cli_json(PDF / f"{case}.csv")
    result = pzbench.score_pdf(z_spec, ids=ids, **pdfs)
    assert without_input(result.to_json()) == without_input(expected)
    representation = json.loads(expected)["input"]["format"].removeprefix("CSV ")
    assert result.input == {
        "path": "<arrays>",
        "format": f"arrays {representation}",
        "rows": len(z_spec),
        "dropped_invalid": 0,
        "columns": {"id": "ids", "z_spec": "z_spec", "z_phot": None},
    }


@pytest.mark.parametrize(
    "flags, options",
    [
        (["--point", "median"], dict(point="median")),
        (
            ["--point", "mean", "--bins", "0:3:0.5", "--bin-on", "zphot"],
            dict(point="mean", bins="0:3:0.5", bin_on="zphot"),
        ),
        (["--edges", "0,0.7,1.4,3", "--nz-edges", "0,0.5,1,3"], dict(bins=[0, 0.7, 1.4, 3], nz_edges=[0, 0.5, 1, 3])),
        (["--bootstrap", "40", "--seed", "7", "--confidence", "0.9"], dict(bootstrap=40, seed=7, confidence=0.9)),
        (["--dialect", "rail"], dict(dialect="rail")),
    ],
    ids=["median", "mean-zphot-bins", "edges-nz", "bootstrap", "rail"],
)
@pytest.mark.parametrize("case", ["mix_k3_even", "grid_nonuniform_odd", "hist_empty_bins_odd"])
def test_options_equal_the_command_line_flags(case, flags, options):
    z_spec, ids, pdfs = case_arrays(case)
    expected = cli_json(PDF / f"{case}.csv", *flags)
    result = pzbench.score_pdf(z_spec, ids=ids, **pdfs, **options)
    assert without_input(result.to_json()) == without_input(expected)


def test_samples_bootstrap_equals_the_command_line():
    z_spec, ids, pdfs = case_arrays("samples_ties_even")
    expected = cli_json(PDF / "samples_ties_even.csv", "--bootstrap", "30")
    result = pzbench.score_pdf(z_spec, ids=ids, bootstrap=30, **pdfs)
    assert without_input(result.to_json()) == without_input(expected)
    assert result.pdf["point_estimate"] == "median" and result.intervals["resamples"] == 30


@pytest.mark.parametrize("dialect", ["pzbench", "rail"])
@pytest.mark.parametrize("case", [c for c in CASES if c != "samples_ties_even"])
def test_per_galaxy_values_equal_the_pit_out_file(case, dialect, tmp_path):
    z_spec, ids, pdfs = case_arrays(case)
    out = tmp_path / "pits.csv"
    cli_json(PDF / f"{case}.csv", "--pit-out", out, "--dialect", dialect)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    values = pzbench.pdf_values(z_spec, ids=ids, dialect=dialect, **pdfs)
    assert list(values) == rows[0]
    for i, name in enumerate(rows[0]):
        expected = [float(row[i]) if row[i] else math.nan for row in rows[1:]]
        dtype = np.int64 if name == "object_id" else np.float64
        np.testing.assert_array_equal(values[name], np.array(expected, dtype=dtype), strict=True, err_msg=name)


def test_sample_values_are_nan_where_samples_define_none(tmp_path):
    z_spec, _, pdfs = case_arrays("samples_ties_even")
    out = tmp_path / "pits.csv"
    cli_json(PDF / "samples_ties_even.csv", "--pit-out", out)
    values = pzbench.pdf_values(z_spec, **pdfs)
    assert "object_id" not in values
    assert np.isnan(values["z_mode"]).all() and np.isnan(values["pdf_at_truth"]).all()
    with open(out, newline="") as f:
        pits = [float(row["pit"]) for row in csv.DictReader(f)]
    assert values["pit"].tolist() == pits


# ---------------------------------------------------------------------------------------------
# The reference vectors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_matches_the_reference_vectors(case):
    expected = json.loads((PDF / f"{case}.expected.json").read_text())
    z_spec, ids, pdfs = case_arrays(case)
    edges = expected["pzbench"]["nz"]["edges"]
    result = pzbench.score_pdf(z_spec, ids=ids, nz_edges=edges, **pdfs)
    roots = expected["representation"] == "mixture"
    tolerance = lambda path: ROOT_FINDING if roots and re.search(r"\.(point\.mode|point\.median|nz)\.", path) else EXACT
    failures = []
    compare(case, expected["pzbench"], set_block(result), tolerance, failures)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("case", [c for c in CASES if c not in ("samples_ties_even", "mix_single")])
def test_the_rail_dialect_matches_qp_and_rail(case):
    """qp's PIT statistics and RAIL's point statistics of the grid mode, to 1e-9 (mix_single, one
    galaxy, has no qp PIT: qp fails on it)."""
    expected = json.loads((PDF / f"{case}.expected.json").read_text())["rail"]
    z_spec, ids, pdfs = case_arrays(case)
    block = pzbench.score_pdf(z_spec, ids=ids, dialect="rail", **pdfs).pdf
    on_mode = next(g["point_on_mode"] for g in block["grids"] if g["zgrid"] == "numpy.linspace(0, 3, 301)")
    pairs = [(block["pit"][stat], expected["pit"][stat]) for stat in ("ks", "cvm", "ad", "outlier_rate")]
    pairs += [(on_mode[stat], expected["point_on_mode"][stat]["value"]) for stat in ("bias", "sigma_iqr", "sigma_mad")]
    for actual, wanted in pairs:
        assert close(actual, wanted, RAIL), (actual, wanted)


# ---------------------------------------------------------------------------------------------
# qp ensembles
# ---------------------------------------------------------------------------------------------


def same_report(a, b):
    """Whether two `Score`s report the same, but for their `input` blocks."""
    return without_input(a.to_json()) == without_input(b.to_json())


@pytest.mark.parametrize("dialect", ["pzbench", "rail"])
@pytest.mark.parametrize("case", QP_CASES)
def test_a_qp_ensemble_equals_the_command_line(case, dialect):
    """An ensemble holds what its CSV holds (qp.read normalises the file's values; the CSV has
    those): the command line on the CSV, bit for bit; on the qp file itself, the whole set to the
    tolerances of tests/cli/pdf.rs (the file's values differ from the ensemble's by a few ulp in
    some cases, which the Anderson-Darling statistic amplifies to 4e-10)."""
    qp = pytest.importorskip("qp")
    ensemble = qp.read(str(PDF / f"{case}.qp.hdf5"))
    result = pzbench.score_pdf(ensemble=ensemble, dialect=dialect)
    assert without_input(result.to_json()) == without_input(cli_json(PDF / f"{case}.csv", "--dialect", dialect))
    from_file = json.loads(cli_json(PDF / f"{case}.qp.hdf5", "--dialect", dialect))
    failures = []
    tolerance = lambda path: 1e-9 if path.endswith(".ad") else EXACT
    compare(case, from_file["pdf"], {**result.pdf, "per_bin": from_file["pdf"]["per_bin"]}, tolerance, failures)
    assert not failures, "\n".join(failures)
    columns = {"id": "ensemble.ancil['object_id']", "z_spec": "ensemble.ancil['z_spec']", "z_phot": None}
    assert result.input["columns"] == columns
    assert result.input["format"].startswith("qp ensemble (")


def test_a_qp_ensemble_with_the_truth_given_and_a_norm_ensemble():
    qp = pytest.importorskip("qp")
    z, _, means, stds = mixture(n=30, k=1)
    norm = qp.Ensemble(qp.stats.norm, data=dict(loc=means, scale=stds))
    result = pzbench.score_pdf(z, norm)
    assert result.input["columns"] == {"id": None, "z_spec": "z_spec", "z_phot": None}
    assert same_report(result, pzbench.score_pdf(z, means=means[:, 0], stds=stds[:, 0]))
    ensemble = qp.read(str(PDF / "mix_k3_even.qp.hdf5"))
    z_spec = ensemble.ancil["z_spec"] + 0.01
    assert pzbench.score_pdf(z_spec, ensemble).pdf["crps"] != pzbench.score_pdf(ensemble=ensemble).pdf["crps"]
    values = pzbench.pdf_values(z_spec, ensemble)
    assert values["z_spec"].tolist() == z_spec.tolist()
    assert values["object_id"].tolist() == ensemble.ancil["object_id"].tolist()


def test_an_unsupported_qp_parameterisation_gets_the_command_line_message(tmp_path):
    qp = pytest.importorskip("qp")
    z, _, means, stds = mixture(n=10, k=1)
    norm = qp.Ensemble(qp.stats.norm, data=dict(loc=means, scale=stds))
    quantiles = norm.convert_to(qp.quant_gen, quants=np.linspace(0.01, 0.99, 9))
    quantiles.set_ancil({"z_spec": z})
    quantiles.write_to(str(tmp_path / "quant.hdf5"))
    message = error_of(pzbench.score_pdf, z, quantiles)
    assert message.startswith("qp parameterisation 'quant' is not supported; pzbench reads mixmod, norm")
    assert cli_error(tmp_path / "quant.hdf5") == f"{tmp_path / 'quant.hdf5'}: {message}"


@pytest.mark.parametrize("methods", [False, True], ids=["properties", "methods"])
def test_a_duck_typed_ensemble_is_read_without_qp(methods):
    z, weights, means, stds = mixture(n=6, k=3)
    ids = np.arange(100, 106)
    stand_in = StandIn(
        {"pdf_name": np.array([b"mixmod"]), "pdf_version": np.array([0])},
        {"weights": weights, "means": means, "stds": stds},
        {"z_spec": z, "object_id": ids},
        methods=methods,
    )
    arrays = pzbench.score_pdf(z, ids=ids, weights=weights, means=means, stds=stds)
    assert same_report(pzbench.score_pdf(ensemble=stand_in), arrays)
    nodes, edges = np.linspace(0, 3, 31), np.linspace(0, 3, 32)
    densities = np.exp(-((nodes[None, :] - z[:, None]) ** 2) / 0.1)
    for name, axis_key, key, axis in [("interp", "xvals", "yvals", nodes), ("hist", "bins", "pdfs", edges)]:
        stand_in = StandIn({"pdf_name": name, axis_key: axis[None, :]}, {key: densities}, {"redshift": z})
        result = pzbench.score_pdf(ensemble=stand_in)
        assert result.pdf["representation"] == ("grid" if name == "interp" else "histogram")
        assert same_report(result, pzbench.score_pdf(z, grid=axis, pdfs=densities))
    single = StandIn({"pdf_name": b"mixmod"}, {"weights": weights[0], "means": means[0], "stds": stds[0]})
    assert pzbench.score_pdf(z[:1], single).overall["count"] == 1


def test_a_bad_ensemble_is_named():
    z, weights, means, stds = mixture()
    assert error_of(pzbench.score_pdf, z, [1, 2]) == (
        "ensemble: expected a qp.Ensemble (with metadata['pdf_name'] and objdata), got list"
    )
    missing = StandIn({"pdf_name": b"mixmod"}, {"weights": weights, "means": means})
    assert error_of(pzbench.score_pdf, z, missing) == (
        "ensemble: a qp mixmod ensemble holds weights, means, stds, but stds is missing"
    )
    no_truth = StandIn({"pdf_name": b"mixmod"}, {"weights": weights, "means": means, "stds": stds})
    assert error_of(pzbench.score_pdf, ensemble=no_truth) == (
        "z_spec is missing, and the ensemble's ancil has no 'z_spec' or 'redshift'; pass z_spec"
    )
    assert error_of(pzbench.score_pdf, missing) == (
        "z_spec is a qp ensemble: pass (z_spec, ensemble), or ensemble=... alone to take z_spec from its ancil"
    )
    assert error_of(pzbench.score_pdf, z, missing, samples=means) == (
        "give the PDFs one way: an ensemble, or samples, not both"
    )
    negative = StandIn({"pdf_name": b"mixmod"}, {"weights": weights, "means": means, "stds": -stds})
    assert error_of(pzbench.score_pdf, z, negative) == (
        f"ensemble.objdata['stds'][0, 0] = {float(-stds[0, 0])!r} must be > 0; a Gaussian component needs a positive width"
    )


# ---------------------------------------------------------------------------------------------
# Input types
# ---------------------------------------------------------------------------------------------


def test_every_input_type_gives_the_same_report():
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    z, weights, means, stds = mixture(n=40, k=3)
    ids = np.arange(40)
    expected = pzbench.score_pdf(z, ids=ids, weights=weights, means=means, stds=stds).to_json()
    variants = [
        (z.tolist(), ids.tolist(), weights.tolist(), means.tolist(), stds.tolist()),
        (pd.Series(z), pd.Series(ids), pd.DataFrame(weights), pd.DataFrame(means), pd.DataFrame(stds)),
        (pl.Series(z), pl.Series(ids), pl.DataFrame(weights), pl.DataFrame(means), pl.DataFrame(stds)),
        (z, ids.astype(np.int32), np.asfortranarray(weights), means[:, ::-1][:, ::-1], np.ascontiguousarray(stds)),
    ]
    for z_in, ids_in, w, mu, sigma in variants:
        assert pzbench.score_pdf(z_in, ids=ids_in, weights=w, means=mu, stds=sigma).to_json() == expected
    pa = pytest.importorskip("pyarrow")
    chunked = pa.chunked_array([z[:10], z[10:]])
    assert pzbench.score_pdf(chunked, ids=ids, weights=weights, means=means, stds=stds).to_json() == expected
    # float32 parameters are converted once: the report of the float64 values of the same numbers.
    w32 = weights.astype(np.float32)
    as_float64 = pzbench.score_pdf(z, weights=w32.astype(np.float64), means=means, stds=stds)
    assert pzbench.score_pdf(z, weights=w32, means=means, stds=stds).to_json() == as_float64.to_json()


def test_one_gaussian_a_galaxy_needs_no_weights():
    z, _, means, stds = mixture(n=20, k=1)
    expected = pzbench.score_pdf(z, weights=np.ones((20, 1)), means=means, stds=stds).to_json()
    assert pzbench.score_pdf(z, means=means[:, 0], stds=stds[:, 0]).to_json() == expected
    assert pzbench.score_pdf(z, means=means, stds=stds).to_json() == expected


def test_a_pandas_nan_is_refused_like_numpy_nan():
    pd = pytest.importorskip("pandas")
    z, weights, means, stds = mixture()
    frame = pd.DataFrame(means).astype("Float64")
    frame.iloc[2, 1] = pd.NA
    assert error_of(pzbench.score_pdf, z, weights=weights, means=frame, stds=stds) == (
        "means[2, 1] is NaN; every PDF parameter must be a finite number (drop or fill missing values first)"
    )


# ---------------------------------------------------------------------------------------------
# Bad input: one line, the command line's message where it has one
# ---------------------------------------------------------------------------------------------


def error_of(call, *args, **kwargs):
    """The message of the `ValueError` that `call(*args, **kwargs)` must raise (one line)."""
    with pytest.raises(ValueError) as error:
        call(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    return message


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, row)) for row in rows)]) + "\n")
    return path


MIXTURE_HEADER = ["z_spec", "w_0", "w_1", "mu_0", "mu_1", "sigma_0", "sigma_1"]


@pytest.mark.parametrize(
    "kind, bad, array_cell, cli_cell",
    [
        ("sigma", -0.5, "stds[1, 1]", "data row 2, column 'sigma_1'"),
        ("sigma", 0.0, "stds[1, 1]", "data row 2, column 'sigma_1'"),
        ("weight", -0.5, "weights[1, 1]", "data row 2, column 'w_1'"),
        ("density", -0.5, "pdfs[1, 1]", "data row 2, column 'pdf_1'"),
    ],
)
def test_bad_parameters_get_the_command_line_message(kind, bad, array_cell, cli_cell, tmp_path):
    z = np.array([0.5, 0.7])
    if kind == "density":
        densities = np.array([[1.0, 2.0, 1.0], [1.0, bad, 1.0]])
        write_csv(tmp_path / "g.grid.csv", ["z"], [[0], [1], [2]])
        rows = np.column_stack([z, densities]).tolist()
        path = write_csv(tmp_path / "g.csv", ["z_spec", "pdf_0", "pdf_1", "pdf_2"], rows)
        message = error_of(pzbench.score_pdf, z, grid=[0.0, 1.0, 2.0], pdfs=densities)
    else:
        weights, means, stds = np.full((2, 2), 0.5), np.array([[0.3, 0.4], [0.5, 0.6]]), np.full((2, 2), 0.1)
        (stds if kind == "sigma" else weights)[1, 1] = bad
        path = write_csv(tmp_path / "m.csv", MIXTURE_HEADER, np.column_stack([z, weights, means, stds]).tolist())
        message = error_of(pzbench.score_pdf, z, weights=weights, means=means, stds=stds)
    assert message.startswith(array_cell)
    assert cli_error(path).endswith(message.replace(array_cell, cli_cell)), message


def test_weights_and_densities_of_zero_get_the_command_line_message(tmp_path):
    z = np.array([0.5, 0.7])
    weights, means, stds = np.array([[0.5, 0.5], [0.0, 0.0]]), np.full((2, 2), 0.5), np.full((2, 2), 0.1)
    path = write_csv(tmp_path / "m.csv", MIXTURE_HEADER, np.column_stack([z, weights, means, stds]).tolist())
    message = error_of(pzbench.score_pdf, z, weights=weights, means=means, stds=stds)
    assert message == (
        "galaxy 1: the mixture weights weights[1] sum to 0; give at least one component a positive weight"
    )
    assert cli_error(path).endswith(message.replace("galaxy 1", "data row 2").replace("weights[1]", "w_0..w_1"))
    assert error_of(pzbench.score_pdf, [0.5], grid=[0, 1, 2], pdfs=[[0, 0, 0]]) == (
        "galaxy 0: the PDF integrates to 0 (every density in pdfs[0] is 0); drop the row or give it a positive density"
    )


def test_axes_shapes_and_kinds_that_do_not_fit_are_refused():
    z, weights, means, stds = mixture(n=3)
    densities = [[1, 2, 1]] * 3
    cases = [
        (
            dict(grid=[0, 1, 1], pdfs=densities),
            "grid[2] = 1 does not exceed grid[1] = 1; grid nodes must increase strictly",
        ),
        (
            dict(grid=[0, 1, 2, 2], pdfs=densities),
            "grid[3] = 2 does not exceed grid[2] = 2; histogram edges must increase strictly",
        ),
        (
            dict(grid=[0, 1, np.nan], pdfs=densities),
            "grid[2] = NaN is not a finite number; every node and edge must be",
        ),
        (
            dict(grid=[0, 1, 2, 3, 4], pdfs=densities),
            "grid has 5 values but pdfs has 3 per galaxy; give the 3 nodes of a grid or the 4 edges of a histogram",
        ),
        (dict(grid=[0.5], pdfs=[[1]] * 3), "grid holds 1 values; a grid needs at least 2 nodes"),
        (
            dict(weights=weights, means=means, stds=stds[:, :1]),
            "stds has shape (3, 1) but weights has (3, 2); every parameter array needs one row of the same length "
            "per galaxy",
        ),
        (
            dict(weights=weights[:2], means=means[:2], stds=stds[:2]),
            "z_spec has 3 values but weights has 2 rows; give one z_spec per PDF",
        ),
        (dict(samples=np.empty((3, 0))), "samples has shape (3, 0): no values per galaxy"),
        (dict(means=means), "stds is missing: a Gaussian mixture needs means and stds (and weights for K > 1)"),
        (dict(pdfs=[[1, 2]] * 3), "grid is missing: densities need pdfs (n × M) and grid"),
        (dict(samples=means[:, 0]), "samples: expected a 2-D array, one row a galaxy, got 1 dimensions"),
    ]
    for pdfs, message in cases:
        assert error_of(pzbench.score_pdf, z, **pdfs) == message
    one_way = (
        "give the PDFs one way: an ensemble, weights/means/stds (Gaussian mixtures), grid and pdfs (densities on a "
        "grid or in histogram bins) or samples; got "
    )
    assert error_of(pzbench.score_pdf, z) == one_way + "none"
    assert error_of(pzbench.score_pdf, z, grid=[0, 1], pdfs=[[1, 2]] * 3, samples=means) == (
        one_way + "densities (grid, pdfs) and samples"
    )
    assert error_of(pzbench.score_pdf, z, weights=weights, means=means, stds=[["a", "b"]] * 3).startswith(
        "stds: expected numbers ("
    )


def test_bad_truths_ids_and_options_are_refused(tmp_path):
    z, weights, means, stds = mixture(n=3)
    mix = dict(weights=weights, means=means, stds=stds)
    cases = [
        (
            dict(z_spec=[0.5, np.nan, 0.7]),
            "z_spec[1] is NaN; every redshift must be a finite number (drop or fill missing values first)",
        ),
        (
            dict(z_spec=[0.5, -1.0, 0.7]),
            "z_spec[1] = -1 is <= -1, so 1 + z_spec <= 0; check that this is the spectroscopic redshift",
        ),
        (dict(z_spec=None), "z_spec is missing: give the true redshift of every PDF"),
        (dict(ids=[4, 5, 4]), "duplicate id 4 (ids[0] and ids[2]); each galaxy must appear once"),
        (dict(ids=[4, 5]), "ids has 2 values but z_spec has 3; give one id per galaxy"),
        (dict(dialect="qp"), "dialect = 'qp': expected 'pzbench' or 'rail'"),
        (dict(point="peak"), "point = 'peak': expected 'mode', 'mean' or 'median'"),
        (dict(bin_on="z"), "bin_on = 'z': expected 'zspec' or 'zphot'"),
        (dict(confidence=1.5), "confidence = 1.5 must lie strictly between 0 and 1, e.g. 0.95"),
    ]
    for arguments, message in cases:
        assert error_of(pzbench.score_pdf, **{"z_spec": z, **mix, **arguments}) == message
    # The metrics core's own messages, as the command line prints them.
    one = dict(weights=[[1]], means=[[0.5]], stds=[[0.1]])
    path = write_csv(tmp_path / "m.csv", ["z_spec", "w_0", "mu_0", "sigma_0"], [[0.5, 1, 0.5, 0.1]])
    flagged = [(["--nz-edges", "0,1,0.5"], dict(nz_edges=[0, 1, 0.5])), (["--edges", "1,0"], dict(bins=[1, 0]))]
    for flags, arguments in flagged:
        assert cli_error(path, *flags).endswith(error_of(pzbench.score_pdf, [0.5], **one, **arguments))
    path = write_csv(tmp_path / "s.csv", ["z_spec", "s_0", "s_1"], [[0.5, 0.4, 0.6]])
    message = error_of(pzbench.score_pdf, [0.5], samples=[[0.4, 0.6]], dialect="rail")
    assert cli_error(path, "--dialect", "rail").endswith(message)
