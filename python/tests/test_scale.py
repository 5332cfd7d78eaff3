"""`pzbench.ExactScorer`, `pzbench.partial_score` and `pzbench.merge` by hand (no Dask): the
rows split into 1, 7 and 64 uneven pieces, the partials merged in random order and grouping, give
the JSON of `pzbench score FILE --format json` on the same rows bit for bit (all but `input`), and
that of `pzbench.score` on the arrays; bad bytes and bad rows raise one-line errors.

Needs the command-line binary: `target/debug/pzbench` (built by `cargo build`), or `$PZBENCH_BIN`.
"""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pzbench
from command import cli_output

PIECES = [1, 7, 64]


def photo_z_rows(n, seed, ids=False):
    """`n` galaxies like photo-z predictions: `z_spec` in (0, 4.5) (some outside the default bins),
    `z_phot = z_spec + 0.03 (1 + z_spec) N(0, 1)` with 5 % catastrophic outliers, both rounded to
    3 decimals so that many values and many `dz` tie; with `ids`, shuffled int64 object ids."""
    rng = np.random.default_rng(seed)
    z_spec = np.round(rng.uniform(0.001, 4.5, n), 3)
    z_phot = np.round(z_spec + 0.03 * (1 + z_spec) * rng.standard_normal(n), 3)
    outliers = rng.random(n) < 0.05
    z_phot[outliers] = np.round(rng.uniform(0.0, 4.0, outliers.sum()), 3)
    columns = {"z_spec": z_spec, "z_phot": np.maximum(z_phot, 0.0)}
    if ids:
        columns["object_id"] = rng.permutation(n).astype(np.int64) * 3 + 11
    return columns


def without_input(text):
    """A report's JSON without its `input` block, written again with every float's shortest repr
    (which reads back to the same bits, and tells -0.0 from 0.0): equal text, equal bits."""
    report = json.loads(text)
    report.pop("input")
    return json.dumps(report)


def uneven_pieces(n, pieces, rng):
    """`pieces` slices covering `0..n` in order, of random uneven sizes (some may be empty)."""
    cuts = np.sort(rng.integers(0, n + 1, pieces - 1))
    bounds = [0, *cuts.tolist(), n]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def merge_randomly(partials, rng):
    """The merge of `partials` in a random order, as a random tree of `pzbench.merge` calls."""
    partials = list(partials)
    while len(partials) > 1:
        rng.shuffle(partials)
        take = int(rng.integers(2, len(partials) + 1))
        partials = [pzbench.merge(partials[:take]), *partials[take:]]
    return partials[0]


def score_in_pieces(rows, pieces, shuffle, *, convert=lambda values: values, ids=None, **options):
    """The `Score` (and the number of passes) of `rows` split into `pieces` uneven pieces, each
    pass's partials (of the pieces' columns as `convert` makes them) merged in the random order
    of the seed `shuffle`; `ids` names the column of object ids, `options` `ExactScorer`'s."""
    rng = np.random.default_rng(shuffle)
    z_spec, z_phot, n = rows["z_spec"], rows["z_phot"], len(rows["z_spec"])
    scorer = pzbench.ExactScorer(**options)
    while (request := scorer.next_pass()) is not None:
        partials = [
            pzbench.partial_score(request, convert(z_spec[s]), convert(z_phot[s]),
                                  ids=None if ids is None else rows[ids][s])
            for s in uneven_pieces(n, pieces, rng)
        ]
        scorer.finish_pass(merge_randomly(partials, rng))
    return scorer.result(ids=ids), scorer.passes


@pytest.fixture(scope="module")
def rows():
    return photo_z_rows(60_000, seed=3, ids=True)


@pytest.fixture(scope="module")
def written(rows, tmp_path_factory):
    """The rows as a Parquet file, which `pzbench score` reads."""
    path = tmp_path_factory.mktemp("scale") / "rows.parquet"
    pq.write_table(pa.table({"z_spec": rows["z_spec"], "z_phot": rows["z_phot"]}), path)
    return path


OPTIONS = {
    "default": ({}, []),
    "bins-on-zphot": ({"bins": "0:3:0.5", "bin_on": "zphot"}, ["--bins", "0:3:0.5", "--bin-on", "zphot"]),
    "edges": ({"bins": [0.0, 0.3, 0.7, 1.5, 4.0]}, ["--edges", "0,0.3,0.7,1.5,4"]),
}


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("pieces", PIECES)
def test_partials_merged_in_any_order_equal_the_command_line(rows, written, pieces, options):
    keywords, arguments = OPTIONS[options]
    expected = cli_output("score", written, *arguments, "--format", "json", "-q")
    result, passes = score_in_pieces(rows, pieces, shuffle=pieces, **keywords)
    assert without_input(result.to_json()) == without_input(expected)
    assert without_input(result.to_json()) == without_input(pzbench.score(rows["z_spec"], rows["z_phot"],
                                                                           **keywords).to_json())
    assert passes >= 2  # a first selection, then at least its refinement
    assert result.intervals is None
    assert result.input == {
        "path": "<partials>", "format": "partials", "rows": len(rows["z_spec"]), "dropped_invalid": 0,
        "columns": {"id": None, "z_spec": "z_spec", "z_phot": "z_phot"},
    }


def test_a_single_galaxy_and_ties_only():
    for z_spec, z_phot in [([1.0], [1.1]), ([0.5] * 1000, [0.5] * 1000), ([2.0, 2.0, 3.0], [2.5, 1.5, 3.0])]:
        z_spec, z_phot = np.array(z_spec), np.array(z_phot)
        result, _ = score_in_pieces({"z_spec": z_spec, "z_phot": z_phot}, 7, shuffle=1)
        assert without_input(result.to_json()) == without_input(pzbench.score(z_spec, z_phot).to_json())


CONVERSIONS = {
    "pandas": pd.Series,
    "pandas-arrow": lambda values: pd.Series(values, dtype="double[pyarrow]"),
    "polars": pl.Series,
    "pyarrow": pa.array,
    "pyarrow-chunked": lambda values: pa.chunked_array([values[: len(values) // 3], values[len(values) // 3:]]),
    "record-batch": lambda values: pa.RecordBatch.from_pydict({"z": values}).column(0),
    "float32": lambda values: values.astype(np.float32),
}


@pytest.mark.parametrize("kind", CONVERSIONS)
def test_every_input_type_gives_the_same_partials(rows, kind):
    small = {key: values[:5_000] for key, values in rows.items()}
    expected, _ = score_in_pieces(small, 7, shuffle=5)
    result, _ = score_in_pieces(small, 7, shuffle=5, convert=CONVERSIONS[kind])
    if kind == "float32":  # converted to float64 before scoring, as pzbench.score does
        expected = pzbench.score(small["z_spec"].astype(np.float32), small["z_phot"].astype(np.float32))
    assert without_input(result.to_json()) == without_input(expected.to_json())


def test_the_input_block_names_what_was_scored(rows):
    scorer = pzbench.ExactScorer()
    z_spec, z_phot = rows["z_spec"][:100], rows["z_phot"][:100]
    while (request := scorer.next_pass()) is not None:
        scorer.finish_pass(pzbench.partial_score(request, z_spec, z_phot))
    result = scorer.result(zspec="redshift", zphot="photoz", ids="objid", path="<spark>", format="spark")
    assert result.input == {"path": "<spark>", "format": "spark", "rows": 100, "dropped_invalid": 0,
                            "columns": {"id": "objid", "z_spec": "redshift", "z_phot": "photoz"}}
    assert result.to_json() == scorer.result(zspec="redshift", zphot="photoz", ids="objid", path="<spark>",
                                             format="spark").to_json()


def one_line_error(error_type, call, *args, **kwargs):
    """The message of the `error_type` that `call(*args, **kwargs)` raises, which must be one line."""
    with pytest.raises(error_type) as raised:
        call(*args, **kwargs)
    message = str(raised.value)
    assert message and "\n" not in message, message
    return message


def first_partial(scorer, rows):
    """A partial of `scorer`'s current pass over `rows`, and the request."""
    request = scorer.next_pass()
    return request, pzbench.partial_score(request, rows["z_spec"][:1000], rows["z_phot"][:1000])


def test_bytes_that_are_no_request_or_partial_raise(rows):
    scorer = pzbench.ExactScorer()
    request, partial = first_partial(scorer, rows)
    z_spec, z_phot = rows["z_spec"][:10], rows["z_phot"][:10]
    for garbage in [b"", b"garbage", request[: len(request) // 2], partial]:
        assert "request" in one_line_error(ValueError, pzbench.partial_score, garbage, z_spec, z_phot)
    for garbage in [b"", b"garbage", partial[: len(partial) // 2], request]:
        assert "partials[1]" in one_line_error(ValueError, pzbench.merge, [partial, garbage])
        one_line_error(ValueError, scorer.finish_pass, garbage)
    assert "no partials" in one_line_error(ValueError, pzbench.merge, [])
    assert "partials[0]" in one_line_error(TypeError, pzbench.merge, ["text"])
    scorer.finish_pass(partial)  # the scorer is still usable after the refused bytes


def test_a_partial_of_another_pass_or_run_is_refused(rows):
    scorer = pzbench.ExactScorer()
    _, first = first_partial(scorer, rows)
    scorer.finish_pass(first)
    request, second = first_partial(scorer, rows)
    assert request is not None
    one_line_error(ValueError, scorer.finish_pass, first)
    one_line_error(ValueError, pzbench.merge, [first, second])
    other_run = pzbench.ExactScorer(bins="0:3:0.5")
    _, other = first_partial(other_run, rows)
    one_line_error(ValueError, scorer.finish_pass, other)
    one_line_error(ValueError, pzbench.ExactScorer().finish_pass, other)


def test_a_result_before_the_last_pass_is_refused(rows):
    scorer = pzbench.ExactScorer()
    one_line_error(ValueError, scorer.result)
    _, partial = first_partial(scorer, rows)
    scorer.finish_pass(partial)
    one_line_error(ValueError, scorer.result)


@pytest.mark.parametrize(
    "z_spec, z_phot, message",
    [
        ([0.5, 1.0, 1.5], [0.5, 1.0], "z_spec has 3 values but z_phot has 2"),
        ([0.5, np.nan], [0.5, 1.0], "z_spec[1] is NaN"),
        ([0.5, 1.0], [0.5, np.inf], "z_phot[1] is inf"),
        ([0.5, -1.0], [0.5, 1.0], "z_spec[1] = -1 is <= -1"),
        (pa.array([0.5, None]), pa.array([0.5, 1.0]), "z_spec[1] is NaN"),
    ],
)
def test_bad_rows_raise_value_error(z_spec, z_phot, message):
    request = pzbench.ExactScorer().next_pass()
    assert message in one_line_error(ValueError, pzbench.partial_score, request, z_spec, z_phot)


def test_an_empty_piece_is_a_partial_of_no_rows(rows):
    scorer = pzbench.ExactScorer()
    while (request := scorer.next_pass()) is not None:
        empty = pzbench.partial_score(request, np.array([]), np.array([]))
        scorer.finish_pass(pzbench.merge([empty, pzbench.partial_score(request, rows["z_spec"], rows["z_phot"])]))
    assert scorer.result().overall == pzbench.score(rows["z_spec"], rows["z_phot"]).overall


@pytest.mark.parametrize(
    "options, message",
    [
        ({"bin_on": "z"}, "bin_on = 'z'"),
        ({"confidence": 1.5}, "confidence = 1.5"),
        ({"bins": [1.0, 0.5]}, "bin edges must increase strictly"),
    ],
)
def test_bad_options_raise_value_error(options, message):
    assert message in one_line_error(ValueError, pzbench.ExactScorer, **options)


def test_pzbench_imports_without_dask_and_says_how_to_get_it():
    code = (
        "import sys; sys.modules['dask'] = None\n"
        "import pzbench, pzbench.dask\n"
        "try:\n    pzbench.dask.score(None)\n"
        "except ImportError as error:\n    print(error)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "dask[dataframe]"' in run.stdout


def unaligned(values):
    """A copy of `values` in a buffer that starts one byte off an 8-byte boundary (what a
    partition sent between processes may be)."""
    buffer = bytearray(values.nbytes + 1)
    array = np.frombuffer(buffer, dtype=values.dtype, count=values.size, offset=1)
    array[...] = values
    assert not array.flags.aligned
    return array


def test_unaligned_arrays_are_converted(rows):
    small = {key: values[:1000] for key, values in rows.items()}
    expected, _ = score_in_pieces(small, 3, shuffle=2, ids="object_id", bootstrap=5)
    result, _ = score_in_pieces({key: unaligned(values) for key, values in small.items()}, 3, shuffle=2,
                                ids="object_id", bootstrap=5)
    assert result.to_json() == expected.to_json()
    assert pzbench.score(unaligned(small["z_spec"]), small["z_phot"]).overall == expected.overall


def test_merge_takes_bytearray_and_memoryview(rows):
    request = pzbench.ExactScorer().next_pass()
    partial = pzbench.partial_score(request, rows["z_spec"], rows["z_phot"])
    assert pzbench.merge([bytearray(partial), memoryview(partial)]) == pzbench.merge([partial, partial])
