"""``pzbench.rail``: :class:`PzbenchEvaluator`, a RAIL stage that scores photo-z with pzbench.

A RAIL pipeline uses it in place of RAIL's evaluators (``PointToPointEvaluator`` for point
estimates, ``DistToPointEvaluator`` and ``OldEvaluator`` for PDFs): the same inputs (``input``, a
qp Ensemble; ``truth``, a table of true redshifts) and the same entry point (``evaluate``), with
the exact values of ``pzbench.score`` / ``pzbench.score_pdf`` and their bootstrap intervals,
overall and per redshift bin, as RAIL's evaluators lay out their results: dicts of numpy arrays in
``Hdf5Handle`` outputs.

Needs RAIL (``pip install "pzbench[rail]"``, i.e. pz-rail-base); ``import pzbench`` alone never
imports it.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator, Optional

import numpy as np

from . import Score, score, score_pdf

try:
    from ceci.config import StageParameter as Param
    from rail.core.common_params import SharedParams
    from rail.core.data import DataHandle, Hdf5Handle, QPHandle, TableHandle
    from rail.core.stage import RailStage
except ImportError as missing:
    raise ImportError(f'pzbench.rail needs RAIL: pip install "pzbench[rail]" ({missing})') from missing

__all__ = ["PzbenchEvaluator", "RESAMPLES", "summary_table", "per_bin_table"]

#: Bootstrap resamples of the stage by default, as ``pzbench score --bootstrap`` without a number.
RESAMPLES = 1000

#: Options of the stage passed to ``pzbench.score`` and ``pzbench.score_pdf``.
_OPTIONS = ("bins", "bin_on", "bootstrap", "confidence", "seed")

#: Options of the stage passed to ``pzbench.score_pdf`` only.
_PDF_OPTIONS = ("dialect", "point", "nz_edges")

#: Keys of a report's ``pdf`` block that are not values of all galaxies.
_NOT_OVERALL = ("per_bin", "intervals")

#: Keys of a bin's entry in a report that are the bin, not values.
_BIN = ("lo", "hi")


def _default(function: Callable, name: str) -> Any:
    """The default of keyword argument ``name`` of ``function``: the stage's defaults are the
    library's, written once."""
    return inspect.signature(function).parameters[name].default


def _flatten(block: dict, prefix: str = "") -> Iterator[tuple[str, Optional[float]]]:
    """Every number of a report block, by its path in the report as its bootstrap intervals name
    it (crates/metrics/src/pdf/report.rs, ``scalars``): ``pit.ks``, ``point.mode.bias``,
    ``nz.bins.2.mean_stacked``, and in the rail dialect ``grids[numpy.linspace(0, 3, 301)].cde_loss``
    (a grid named by its ``zgrid``). Nulls are kept (as ``None``); names (strings) and lists of
    numbers (``nz.edges``, repeated in ``nz.bins``) are left out."""
    for key, value in block.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{path}.")
        elif isinstance(value, list) and all(isinstance(item, dict) for item in value):
            for index, item in enumerate(value):
                yield from _flatten(item, f"{path}[{item['zgrid']}]." if "zgrid" in item else f"{path}.{index}.")
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            yield path, value


def _row(values: dict, intervals: Optional[dict]) -> dict:
    """``values`` with each one's interval beside it, as ``KEY_lo`` and ``KEY_hi``."""
    row = {}
    for key, value in values.items():
        row[key] = value
        if intervals and key in intervals:
            row[f"{key}_lo"], row[f"{key}_hi"] = intervals[key]
    return row


def _intervals(result: Score, part: str) -> tuple:
    """The bootstrap intervals of ``part`` (``"overall"`` or ``"per_bin"``) of ``result``: those
    of the point metrics and those of the ``pdf`` block, each ``None`` where there are none."""
    pdf = (result.pdf or {}).get("intervals")
    return (result.intervals or {}).get(part), (pdf or {}).get(part)


def _merged(*maps: Optional[dict]) -> dict:
    """The union of interval maps (metric → ``(lo, hi)``), leaving out ``None``s."""
    return {key: value for one in maps if one for key, value in one.items()}


def _columns(rows: list) -> dict:
    """Rows (dicts) as columns of numpy arrays, RAIL's table layout: every key of any row, in the
    order first seen; a value that is missing or ``None`` is NaN."""
    keys = dict.fromkeys(key for row in rows for key in row)
    return {key: np.array([np.nan if row.get(key) is None else row[key] for row in rows]) for key in keys}


def summary_table(result: Score) -> dict:
    """The values of all galaxies in ``result`` as RAIL evaluators' ``summary``: one array of one
    value per key. Keys: the 13 point metrics (``pzbench.METRICS``), and for PDFs every value of
    the report's ``pdf`` block by its path (``pit.ks``, ``crps``, ``cde_loss``, ...); with a
    bootstrap, ``KEY_lo`` and ``KEY_hi`` beside each value that has an interval."""
    values = dict(result.overall)
    if result.pdf is not None:
        values.update(_flatten({k: v for k, v in result.pdf.items() if k not in _NOT_OVERALL}))
    return _columns([_row(values, _merged(*_intervals(result, "overall")))])


def per_bin_table(result: Score) -> dict:
    """The values of each redshift bin in ``result``, one row per bin: ``lo`` and ``hi`` (the
    bin, ``(lo, hi]``), then the keys of :func:`summary_table` with their intervals; an empty
    bin has ``count`` 0 and NaN values."""
    point, pdf = _intervals(result, "per_bin")
    rows = []
    for index, metrics in enumerate(result.per_bin):
        values = {key: metrics[key] for key in _BIN} | metrics
        if result.pdf is not None:
            values.update(_flatten({k: v for k, v in result.pdf["per_bin"][index].items() if k not in _BIN}))
        rows.append(_row(values, _merged(point and point[index], pdf and pdf[index])))
    return _columns(rows)


class PzbenchEvaluator(RailStage):
    """Evaluate a photo-z estimator with pzbench: exact metrics of its point estimates or PDFs,
    overall and per redshift bin, with bootstrap intervals.

    Inputs, as RAIL's evaluators: ``input``, a qp Ensemble; ``truth``, a table (dict of arrays,
    DataFrame, HDF5 group) whose column ``reference_dictionary_key`` holds the true redshifts,
    under ``hdf5_groupname`` unless that is ``""``. With ``point_estimate_key`` set, the point
    estimates in the ensemble's ``ancil[point_estimate_key]`` are scored with ``pzbench.score``
    (what ``PointToPointEvaluator`` reads); otherwise the PDFs, with ``pzbench.score_pdf`` (in
    ``dialect="rail"``, RAIL's own numbers for comparison with published results). The values are
    those functions', bit for bit.

    Outputs (dicts of numpy arrays, ``Hdf5Handle``): ``summary`` (:func:`summary_table`: one
    value per metric, as RAIL's evaluators' ``summary``) and ``per_bin`` (:func:`per_bin_table`:
    one row per redshift bin). Every galaxy is scored at once, in one process.
    """

    name = "PzbenchEvaluator"
    entrypoint_function = "evaluate"
    config_options = RailStage.config_options.copy()
    config_options.update(
        hdf5_groupname=SharedParams.copy_param("hdf5_groupname"),
        reference_dictionary_key=Param(
            str, "redshift", msg="Column of the truth table with the true (spectroscopic) redshifts."
        ),
        point_estimate_key=Param(
            str,
            None,
            required=False,
            msg="Key of the ensemble's ancil with the point estimates to score (e.g. 'zmode'); None: the PDFs.",
        ),
        dialect=Param(
            str,
            _default(score_pdf, "dialect"),
            msg="PDFs: 'pzbench' (exact values) or 'rail' (qp/RAIL's algorithms), as pzbench score --dialect.",
        ),
        point=Param(
            str,
            _default(score_pdf, "point"),
            required=False,
            msg="PDFs: the point estimate of the 13 point metrics, 'mode', 'mean' or 'median'; "
            "None: the mode (median for samples).",
        ),
        nz_edges=Param(
            list,
            _default(score_pdf, "nz_edges"),
            required=False,
            msg="PDFs: edges of the tomographic bins of the stacked n(z), on the point estimate; None: pzbench's.",
        ),
        bins=Param(
            None,
            None,
            required=False,
            msg="Redshift bins: None (pzbench.DEFAULT_EDGES, the paper's), 'LO:HI:WIDTH' or a list of edges.",
        ),
        bin_on=Param(str, _default(score, "bin_on"), msg="Bin on 'zspec' or 'zphot'."),
        bootstrap=Param(int, RESAMPLES, msg="Bootstrap resamples for the intervals (0: no intervals)."),
        confidence=Param(float, _default(score, "confidence"), msg="Central coverage of the intervals."),
        seed=Param(int, _default(score, "seed"), msg="Seed of the bootstrap (same seed, same intervals)."),
    )
    inputs = [("input", QPHandle), ("truth", TableHandle)]
    outputs = [("summary", Hdf5Handle), ("per_bin", Hdf5Handle)]

    def evaluate(self, data: Any, truth: Any) -> dict[str, DataHandle]:
        """Score ``data`` (a qp Ensemble, or a handle of one) against ``truth`` (a table, or a
        handle of one) and return the output handles by tag (``summary``, ``per_bin``)."""
        self.set_data("input", data)
        self.set_data("truth", truth)
        self.run()
        self.finalize()
        return {tag: self.get_handle(tag) for tag, _ in self.outputs}

    def run(self) -> None:
        """Score the stage's ``input`` against its ``truth`` and set its outputs."""
        result = self._score()
        self.add_data("summary", summary_table(result))
        self.add_data("per_bin", per_bin_table(result))

    def _score(self) -> Score:
        """The ``Score`` of the stage's ``input`` against its ``truth``."""
        ensemble = self.get_data("input")
        z_spec = self._true_redshifts()
        options = {name: getattr(self.config, name) for name in _OPTIONS}
        key = self.config.point_estimate_key
        if key is None:
            pdf_options = {name: getattr(self.config, name) for name in _PDF_OPTIONS}
            return score_pdf(z_spec, ensemble, **pdf_options, **options)
        for name in _PDF_OPTIONS:
            if getattr(self.config, name) != _default(score_pdf, name):
                raise ValueError(
                    f"{name} applies to PDFs, but point_estimate_key '{key}' scores point estimates; "
                    f"leave {name} unset, or set point_estimate_key to None to score the PDFs"
                )
        ancil = ensemble.ancil or {}
        if key not in ancil:
            raise ValueError(
                f"point_estimate_key '{key}' is not in the ensemble's ancil (keys: {', '.join(ancil) or 'none'}); "
                "set it to one of those, or to None to score the PDFs"
            )
        return score(z_spec, np.squeeze(ancil[key]), **options)

    def _true_redshifts(self) -> Any:
        """The column ``reference_dictionary_key`` of the truth table (under ``hdf5_groupname``)."""
        truth = self.get_data("truth")
        group = self.config.hdf5_groupname
        if group and group not in truth:
            raise ValueError(
                f"the truth table has no group '{group}' (hdf5_groupname); set hdf5_groupname to '' "
                "for a table without groups"
            )
        table = truth[group] if group else truth
        key = self.config.reference_dictionary_key
        if key not in table:
            raise ValueError(
                f"reference_dictionary_key '{key}' is not a column of the truth table (columns: "
                f"{', '.join(map(str, table.keys()))}); set it to the column of true redshifts"
            )
        return table[key]
