#!/usr/bin/env bash
# The Python package's tests (docs/python.md), run by scripts/test.sh after `cargo test`: build
# `pzbench._core` (crates/python: the metrics core and PyO3 only, never polars or candle) into a
# virtualenv with `maturin develop` (debug profile, shared target/), then run pytest, which checks
# the results against the command line that `cargo test` built (target/debug/pzbench).
# The virtualenv sees the system's packages; pyarrow, polars and pandas are installed into it so
# that every input type is tested, matplotlib for docs/python.md's walk-through, pyyaml for the
# GitHub Actions example's workflow, and RAIL (pz-rail-base, with qp) for pzbench.rail, in the
# versions the rail dialect reproduces (docs/pdf.md), and Dask (with distributed and LSDB) and
# PySpark for the exact metrics at scale (docs/python.md; PySpark's test needs Java).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-test
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv --system-site-packages "$venv" 2> /dev/null || {
    # Debian's python3 without python3-venv has no ensurepip: virtualenv brings its own pip.
    python3 -m pip install --quiet --disable-pip-version-check --user virtualenv
    python3 -m virtualenv --quiet --system-site-packages "$venv"
  }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin pytest numpy pandas pyarrow polars matplotlib \
  pyyaml pz-rail-base==2.0.11 qp-prob==1.1.4 "dask[dataframe]" distributed lsdb pyspark
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --quiet --locked
"$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests
