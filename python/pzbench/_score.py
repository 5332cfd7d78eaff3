"""``pzbench.score``: the point metrics of two redshift arrays (crates/python/src/score.rs)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _core
from ._core import METRICS

# The report's `bins.on` ("z_spec", "z_phot") as the `bin_on` argument spells it.
_BIN_ON = {"z_spec": "zspec", "z_phot": "zphot"}


def _exports_arrow(values: Any) -> bool:
    """Whether ``values`` offers the Arrow PyCapsule interface (pyarrow, polars, nanoarrow, ...)."""
    return hasattr(values, "__arrow_c_array__") or hasattr(values, "__arrow_c_stream__")


def _is_pandas(values: Any) -> bool:
    """Whether ``values`` is a pandas object (its Arrow export needs pyarrow: read it as numpy)."""
    return type(values).__module__.partition(".")[0] == "pandas"


def _column(name: str, values: Any) -> Any:
    """``values`` as ``_core.score`` takes a column of redshifts: an object with the Arrow
    PyCapsule interface as it is (the Rust side reads it through the Arrow C data interface),
    anything else, pandas included, as ``_as_float64`` makes it."""
    if _exports_arrow(values) and not _is_pandas(values):
        return values
    return _as_float64(name, values)


def _as_float64(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D contiguous, aligned float64 array: such a numpy array as it is (no
    copy), anything else converted once (an unaligned buffer too: a partition that Dask sent
    between processes may be one). pandas Series (and anything with ``to_numpy``) are read
    through ``to_numpy``; missing values become NaN."""
    if not isinstance(values, np.ndarray) and hasattr(values, "to_numpy"):
        try:  # pandas: nullable dtypes need an explicit NaN for their missing values
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except TypeError:  # others: nulls already come back as NaN
            values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: expected numbers ({error})") from None
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of redshifts, got {array.ndim} dimensions")
    return np.require(array, requirements=["C", "A"])


def _ids(ids: Any) -> Optional[np.ndarray]:
    """Object ids as a 1-D contiguous, aligned int64 array (``None`` stays ``None``): numpy,
    pandas, polars or pyarrow integers, converted once where they are not int64 already. A
    missing id or a value that is not an integer raises ``ValueError``."""
    if ids is None:
        return None
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"ids: expected a 1-D array of object ids, got {array.ndim} dimensions")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"ids[{int(np.argmax(np.isnan(array)))}] is missing; every galaxy needs an integer object id")
    if array.dtype.kind not in "iu":
        raise ValueError(f"ids: expected integer object ids, got {array.dtype} values")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"ids: {array.max()} is larger than the largest object id, 2**63 - 1")
    return np.require(array, dtype=np.int64, requirements=["C", "A"])


def _edges(bins: Union[None, str, Sequence[float]]) -> Optional[list]:
    """Bin edges from ``bins``: ``None`` (the default bins), ``"LO:HI:WIDTH"``, or the edges."""
    if bins is None:
        return None
    if isinstance(bins, str):
        return _core.parse_bins(bins)
    return [float(edge) for edge in bins]


def _intervals(block: Optional[dict]) -> Optional[dict]:
    """An ``intervals`` block of the JSON report with every ``[lo, hi]`` as a ``(lo, hi)`` tuple."""
    if block is None:
        return None

    def pairs(metrics: Optional[dict]) -> Optional[dict]:
        return None if metrics is None else {key: tuple(pair) for key, pair in metrics.items()}

    return {**block, "overall": pairs(block["overall"]), "per_bin": [pairs(b) for b in block["per_bin"]]}


@dataclass(frozen=True)
class Score:
    """What ``pzbench score --format json`` reports, as Python objects (``docs/python.md``).

    - ``overall``: the 13 metrics (``METRICS``) of every galaxy, including those outside every
      bin (a value that is not finite is ``None``, as the JSON report writes ``null``);
    - ``per_bin``: one dict per bin, the 13 metrics plus the bin's ``lo`` and ``hi`` (an empty
      bin has ``count`` 0 and ``None`` values);
    - ``edges``, ``bin_on`` (``"zspec"`` or ``"zphot"``), ``n_outside_bins``: the bins and the
      galaxies outside them;
    - ``intervals``: with ``bootstrap > 0``, ``method``, ``confidence``, ``resamples``, ``seed``,
      and ``overall`` / ``per_bin`` maps from metric to ``(lo, hi)`` (``None`` for a bin empty in
      every resample); ``None`` otherwise;
    - ``pdf``: the PDF metrics (the report's ``pdf`` block) when PDFs were scored; ``None``
      otherwise;
    - ``input``: where the galaxies came from (the report's ``input`` block): a file's path,
      format, rows, columns and SHA-256, or for arrays ``path`` ``"<arrays>"``, ``format``
      ``"arrays"`` and the argument names as ``columns``.

    ``to_json()`` gives the report's text itself, byte for byte what ``pzbench score --format
    json`` writes for the same galaxies and options.
    """

    overall: dict
    per_bin: list
    edges: list
    bin_on: str
    n_outside_bins: int
    intervals: Optional[dict]
    pdf: Optional[dict]
    input: dict
    _json: str = field(repr=False, compare=False)

    @classmethod
    def _from_json(cls, text: str) -> "Score":
        """The ``Score`` of a report in the JSON of ``pzbench score --format json`` (kept as it is
        for ``to_json``)."""
        report = json.loads(text)
        return cls(
            overall=report["overall"],
            per_bin=report["per_bin"],
            edges=report["bins"]["edges"],
            bin_on=_BIN_ON[report["bins"]["on"]],
            n_outside_bins=report["n_outside_bins"],
            intervals=_intervals(report.get("intervals")),
            pdf=report.get("pdf"),
            input=report["input"],
            _json=text,
        )

    def to_json(self) -> str:
        """The report as ``pzbench score --format json`` writes it (pretty JSON, a final newline)."""
        return self._json

    def to_pandas(self):
        """``per_bin`` as a pandas DataFrame, one row per bin (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.per_bin, columns=[*METRICS, "lo", "hi"])

    def to_polars(self):
        """``per_bin`` as a polars DataFrame, one row per bin (needs polars)."""
        import polars as pl

        return pl.DataFrame(self.per_bin, schema=[*METRICS, "lo", "hi"], orient="row")


def score(
    z_spec: Any,
    z_phot: Any,
    *,
    ids: Any = None,
    bins: Union[None, str, Sequence[float]] = None,
    bin_on: str = "zspec",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> Score:
    """Score photometric redshifts ``z_phot`` against spectroscopic ``z_spec``, as ``pzbench score``.

    ``z_spec`` and ``z_phot``: one value per galaxy, as

    - numpy arrays: a contiguous float64 array is read in place; other dtypes (float32,
      integers) and layouts (strided views) are converted to float64 once;
    - pyarrow ``Array`` or ``ChunkedArray``, polars ``Series``, or anything else with the Arrow
      PyCapsule interface (``__arrow_c_array__`` / ``__arrow_c_stream__``, e.g. nanoarrow):
      read through the Arrow C data interface, in place for a single float64 chunk without
      nulls, converted once otherwise (other numeric types, several chunks);
    - pandas Series (read through ``to_numpy``, in place for float64), lists, anything numpy
      can convert.

    A missing value (NaN, ``None``, ``pd.NA``, an Arrow null) or an infinite one raises.

    ``ids``: the galaxies' integer object ids (numpy, pandas, polars or pyarrow integers), one a
    galaxy, each galaxy once; the report names them as its id column (``input["columns"]["id"]``).
    ``bins``: ``None`` (20 bins of 0.2 from 0 to 4, ``DEFAULT_EDGES``), ``"LO:HI:WIDTH"`` as
    ``pzbench score --bins``, or a list of edges as ``--edges``; bins are right-closed,
    ``(lo, hi]``, on ``bin_on`` (``"zspec"`` or ``"zphot"``). ``bootstrap``: resamples for
    percentile intervals at ``confidence`` (0: none), reproducible for a ``seed``.

    Returns a ``Score``; ``Score.to_json()`` is what ``pzbench score --format json`` writes for
    the same galaxies and options, except its ``input`` block, which describes the arrays:
    ``{"path": "<arrays>", "format": "arrays", "rows": N, "dropped_invalid": 0, "columns":
    {"id": "ids" or None, "z_spec": "z_spec", "z_phot": "z_phot"}}`` (no ``sha256``).

    Raises ``ValueError`` with a one-line message on unusable input (lengths that differ,
    missing, NaN or infinite values, ``z_spec <= -1``, no galaxies, ids that repeat or are not
    integers, bad bins or options) and ``PzbenchError`` on an internal failure. The GIL is
    released while the metrics are computed; Ctrl-C (``KeyboardInterrupt``) stops a bootstrap
    within a fraction of a second.
    """
    report = _core.score(
        _column("z_spec", z_spec),
        _column("z_phot", z_phot),
        ids=_ids(ids),
        edges=_edges(bins),
        bin_on=bin_on,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return Score._from_json(report)
