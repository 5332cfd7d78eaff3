"""docs/python.md's PySpark example (`mapInArrow`, section "At scale"), run as written on a local
Spark (2 cores): the partials of a Parquet data set's Spark partitions give `pzbench.score`'s
JSON on all its rows bit for bit (all but `input`).

Needs `pyspark` and Java 17 or newer; skipped without them.
"""
import os
import re
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pzbench
from test_scale import photo_z_rows, without_input

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("PySpark needs Java", allow_module_level=True)

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"
# PySpark 4.3 warns that it does not yet fully support pandas 3 (these tests use Arrow only).
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")


def spark_block():
    """The ```python block of docs/python.md that defines `score_spark`, without its last line
    (which reads a data set the test does not have)."""
    section = DOC.read_text().split("\n## At scale: Dask, Spark, Ray\n", 1)[1].split("\n## ", 1)[0]
    (block,) = [code for code in re.findall(r"```python\n(.*?)```", section, flags=re.S) if "def score_spark" in code]
    return block.rsplit("\nresult = ", 1)[0]


@pytest.fixture(scope="module")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers need this Python's pzbench
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("pzbench-test")
               .config("spark.ui.enabled", "false").getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def galaxies(spark, tmp_path_factory):
    """300,000 galaxies in 3 Parquet files of uneven size, read by Spark into 5 partitions (kept
    in memory: the passes read them again), and as arrays."""
    rows = photo_z_rows(300_000, seed=11)
    directory = tmp_path_factory.mktemp("spark")
    for i, (lo, hi) in enumerate([(0, 1), (1, 120_000), (120_000, 300_000)]):
        pq.write_table(pa.table({key: values[lo:hi] for key, values in rows.items()}), directory / f"p{i}.parquet")
    return spark.read.parquet(str(directory)).repartition(5).cache(), rows


def test_the_documented_mapinarrow_example(galaxies):
    df, rows = galaxies
    namespace: dict = {}
    exec(compile(spark_block(), str(DOC), "exec"), namespace)
    result = namespace["score_spark"](df, bins="0:3:0.5")
    expected = pzbench.score(rows["z_spec"], rows["z_phot"], bins="0:3:0.5")
    assert without_input(result.to_json()) == without_input(expected.to_json())
    assert result.input["path"] == "<spark>" and result.input["rows"] == 300_000


def test_the_documented_tree_reduce(galaxies):
    """The partials merged on the executors by `treeReduce`, as the docs suggest for many
    partitions."""
    df, rows = galaxies
    scorer = pzbench.ExactScorer()
    while (request := scorer.next_pass()) is not None:

        def partials(batches, request=request):
            batches = list(batches)
            if batches:
                table = pa.Table.from_batches(batches)
                partial = pzbench.partial_score(request, table["z_spec"], table["z_phot"])
                yield pa.RecordBatch.from_pydict({"partial": [partial]})

        rdd = df.mapInArrow(partials, "partial binary").rdd
        scorer.finish_pass(rdd.map(lambda row: bytes(row.partial)).treeReduce(lambda a, b: pzbench.merge([a, b])))
    expected = pzbench.score(rows["z_spec"], rows["z_phot"])
    assert without_input(scorer.result().to_json()) == without_input(expected.to_json())
