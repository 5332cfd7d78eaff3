"""``pzbench.score``: the point metrics of two redshift arrays (crates/python/src/score.rs)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _core
from ._core import METRICS


def _as_float64(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D contiguous float64 array: a contiguous float64 numpy array as it is (no
    copy), anything else converted once. pandas and polars Series (and anything with
    ``to_numpy``) are read through ``to_numpy``; missing values become NaN."""
    if not isinstance(values, np.ndarray) and hasattr(values, "to_numpy"):
        try:  # pandas: nullable dtypes need an explicit NaN for their missing values
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except TypeError:  # polars and others: nulls already come back as NaN
            values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: expected numbers ({error})") from None
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of redshifts, got {array.ndim} dimensions")
    return np.ascontiguousarray(array)


def _edges(bins: Union[None, str, Sequence[float]]) -> Optional[list]:
    """Bin edges from ``bins``: ``None`` (the default bins), ``"LO:HI:WIDTH"``, or the edges."""
    if bins is None:
        return None
    if isinstance(bins, str):
        return _core.parse_bins(bins)
    return [float(edge) for edge in bins]


@dataclass(frozen=True)
class Score:
    """The metrics of ``pzbench.score``, laid out as ``pzbench score --format json`` lays them out.

    - ``overall``: the 13 metrics (``METRICS``) of every galaxy, including those outside every bin;
    - ``per_bin``: one dict per bin, the 13 metrics plus the bin's ``lo`` and ``hi`` (an empty
      bin has ``count`` 0 and ``None`` values);
    - ``edges``, ``bin_on``, ``n_outside_bins``: the bins and the galaxies outside them;
    - ``intervals``: with ``bootstrap > 0``, ``method``, ``confidence``, ``resamples``, ``seed``,
      and ``overall`` / ``per_bin`` maps from metric to ``(lo, hi)``; ``None`` otherwise.
    """

    overall: dict
    per_bin: list
    edges: list
    bin_on: str
    n_outside_bins: int
    intervals: Optional[dict]

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
    bins: Union[None, str, Sequence[float]] = None,
    bin_on: str = "zspec",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> Score:
    """Score photometric redshifts ``z_phot`` against spectroscopic ``z_spec``, as ``pzbench score``.

    ``z_spec`` and ``z_phot``: numpy arrays (a contiguous float64 array is read in place; other
    dtypes and layouts are converted once), lists, pandas or polars Series. ``bins``: ``None``
    (20 bins of 0.2 from 0 to 4), ``"LO:HI:WIDTH"`` or a list of edges; bins are right-closed,
    ``(lo, hi]``, on ``bin_on`` (``"zspec"`` or ``"zphot"``). ``bootstrap``: resamples for
    percentile intervals at ``confidence`` (0: none), reproducible for a ``seed``.

    Raises ``ValueError`` on unusable input (lengths that differ, NaN or infinite values, no
    galaxies, bad bins) and ``PzbenchError`` on an internal failure. The GIL is released while
    the metrics are computed.
    """
    result = _core.score(
        _as_float64("z_spec", z_spec),
        _as_float64("z_phot", z_phot),
        edges=_edges(bins),
        bin_on=bin_on,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return Score(bin_on=bin_on, **result)
