"""`pzbench.dask.score` on a real `dask.distributed.LocalCluster` (2 worker processes): a
partitioned Parquet data set of 10,000,000 galaxies in 57 files of uneven size gives the JSON of
`pzbench score` on the concatenated file bit for bit (all but `input`), and so do 1, 7 and 64
partitions of it; also with Dask's threads, an LSDB catalogue, the Poisson bootstrap and bad input.

Needs `dask[dataframe]`, `distributed` and `lsdb` (scripts/test_python.sh installs them) and the
command-line binary: `target/debug/pzbench`, or `$PZBENCH_BIN`.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import pzbench  # noqa: E402
import pzbench.dask  # noqa: E402
from command import cli_output  # noqa: E402
from test_scale import one_line_error, photo_z_rows, score_in_pieces, without_input  # noqa: E402

ROWS = 10_000_000
FILES = 57
RANGE_OPTIONS = {"bins": "0:3:0.5", "bin_on": "zphot"}
RANGE_ARGUMENTS = ["--bins", "0:3:0.5", "--bin-on", "zphot"]
# Dask and LSDB on pandas 3 warn of their own deprecated calls.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")


@dataclass
class DataSet:
    directory: Path
    concatenated: Path

    def expected(self, *arguments):
        """`pzbench score` on the concatenated file, its JSON without `input`."""
        return without_input(cli_output("score", self.concatenated, *arguments, "--format", "json", "-q"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """`ROWS` photo-z galaxies (`test_scale.photo_z_rows`) as `FILES` Parquet files of uneven
    size (a galaxy to a fifth of the rows) in one directory, and as one file."""
    root = tmp_path_factory.mktemp("dask")
    table = pa.table(photo_z_rows(ROWS, seed=19))
    rng = np.random.default_rng(19)
    weights = rng.lognormal(0.0, 1.2, FILES - 2)
    sizes = [1, 17, *rng.multinomial(ROWS - 18, weights / weights.sum()).tolist()]
    (root / "parts").mkdir()
    start = 0
    for i, size in enumerate(rng.permutation(sizes).tolist()):
        pq.write_table(table.slice(start, size), root / "parts" / f"part-{i:03d}.parquet")
        start += size
    assert start == ROWS
    pq.write_table(table, root / "concatenated.parquet", row_group_size=1_000_000)
    return DataSet(root / "parts", root / "concatenated.parquet")


@pytest.fixture(scope="module")
def client():
    """A local cluster of 2 worker processes of 1 thread each, the default scheduler meanwhile."""
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def expected(dataset):
    return dataset.expected()


def test_the_partitioned_data_set_equals_the_concatenated_file(dataset, expected, client):
    ddf = dd.read_parquet(dataset.directory)
    assert ddf.npartitions >= 50
    result = pzbench.dask.score(ddf)
    assert without_input(result.to_json()) == expected
    assert result.input == {"path": "<dask>", "format": "dask", "rows": ROWS, "dropped_invalid": 0,
                            "columns": {"id": None, "z_spec": "z_spec", "z_phot": "z_phot"}}


@pytest.mark.parametrize("npartitions", [1, 7, 64])
def test_any_partitioning_gives_the_same_bits(dataset, expected, client, npartitions):
    ddf = dd.read_parquet(dataset.directory).repartition(npartitions=npartitions)
    assert without_input(pzbench.dask.score(ddf, split_every=3).to_json()) == expected


def test_threads_and_options(dataset, client):
    ddf = dd.read_parquet(dataset.directory).repartition(npartitions=7)
    with dask.config.set(scheduler="threads"):
        result = pzbench.dask.score(ddf, "z_spec", "z_phot", **RANGE_OPTIONS)
    assert result.n_outside_bins > 0
    assert without_input(result.to_json()) == dataset.expected(*RANGE_ARGUMENTS)


@pytest.fixture(scope="module")
def small():
    """100,000 galaxies with object ids, as a pandas DataFrame."""
    return pd.DataFrame(photo_z_rows(100_000, seed=7, ids=True))


def test_an_lsdb_catalogue(small):
    lsdb = pytest.importorskip("lsdb")
    rng = np.random.default_rng(2)
    sky = small.assign(ra=rng.uniform(0, 360, len(small)), dec=np.degrees(np.arcsin(rng.uniform(-1, 1, len(small)))))
    catalogue = lsdb.from_dataframe(sky, ra_column="ra", dec_column="dec", partition_rows=10_000)
    assert catalogue.npartitions > 1
    with dask.config.set(scheduler="threads"):
        result = pzbench.dask.score(catalogue)
    assert result.input["rows"] == len(small)
    assert without_input(result.to_json()) == without_input(pzbench.score(small.z_spec, small.z_phot).to_json())


def test_the_poisson_bootstrap_equals_the_command_line_on_the_files(small, client, tmp_path):
    """Intervals of the Poisson bootstrap: the same bits in 1 or 13 partitions, by hand in 5
    pieces, and from `pzbench score DIRECTORY --bootstrap` on the rows in 3 files (same ids)."""
    options = {"ids": "object_id", "bootstrap": 20, "seed": 3}
    one = pzbench.dask.score(dd.from_pandas(small, npartitions=1), **options)
    many = pzbench.dask.score(dd.from_pandas(small, npartitions=13), **options, split_every=2)
    by_hand, _ = score_in_pieces(small, 5, shuffle=1, **options)
    table = pa.Table.from_pandas(small, preserve_index=False)
    for i, (lo, hi) in enumerate([(0, 10), (10, 60_000), (60_000, len(small))]):
        pq.write_table(table.slice(lo, hi - lo), tmp_path / f"part-{i}.parquet")
    expected = cli_output("score", tmp_path, "--bootstrap", "20", "--seed", "3", "--format", "json", "-q")
    assert one.intervals is not None and one.intervals["resamples"] == 20
    assert without_input(one.to_json()) == without_input(many.to_json()) == without_input(by_hand.to_json())
    assert without_input(one.to_json()) == without_input(expected)
    assert one.input["columns"]["id"] == "object_id"
    assert one.overall == pzbench.score(small.z_spec, small.z_phot).overall


def test_bad_input_names_the_partition(small, client):
    bad = small.copy()
    bad.loc[80_000, "z_phot"] = np.nan
    ddf = dd.from_pandas(bad, npartitions=4, sort=False)
    message = one_line_error(ValueError, pzbench.dask.score, ddf)
    assert message.startswith("partition 3: z_phot[") and "is NaN" in message
    assert "'zz'" in one_line_error(ValueError, pzbench.dask.score, ddf, zspec="zz")
    assert "ids" in one_line_error(ValueError, pzbench.dask.score, ddf, bootstrap=10)
    assert "Dask DataFrame" in one_line_error(TypeError, pzbench.dask.score, small)
