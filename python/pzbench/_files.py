"""``pzbench.score_file``, and how the file-level API passes its keywords to the command line's
own parser (crates/python/src/files.rs): each keyword is the flag of the same name, so results,
defaults and error messages are those of the ``pzbench`` command."""
from __future__ import annotations

import numbers
import os
from typing import Any, List, Sequence, Union

from . import _core
from ._score import Score

PathLike = Union[str, "os.PathLike[str]"]


def _text(value: Any) -> str:
    """``value`` as the command line writes it: a path as it is, an integer in decimal, a float
    in its shortest exact form, a list comma-separated."""
    if isinstance(value, (str, bytes, os.PathLike)):
        return os.fsdecode(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        return ",".join(_text(item) for item in value)
    return str(value)


def _arguments(*positional: Any, **options: Any) -> List[str]:
    """The command line's arguments for keyword ``options`` and ``positional`` paths: ``zspec_col=
    "z"`` is ``--zspec-col=z``, ``True`` the bare flag, ``None`` and ``False`` nothing; the values
    are attached with ``=`` and the paths follow ``--``, so that none is taken for a flag."""
    arguments = []
    for keyword, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + keyword.replace("_", "-")
        arguments.append(flag if value is True else f"{flag}={_text(value)}")
    return [*arguments, "--", *(_text(path) for path in positional)] if positional else arguments


def _binning(bins: Union[None, str, Sequence[float]]) -> dict:
    """The bin flags for ``bins``: ``"LO:HI:WIDTH"`` is ``--bins``, a list of edges ``--edges``."""
    if bins is None:
        return {}
    return {"bins": bins} if isinstance(bins, str) else {"edges": list(bins)}


def score_file(
    path: PathLike,
    truth: PathLike | None = None,
    *,
    zspec_col: str | None = None,
    zphot_col: str | None = None,
    id_col: str | None = None,
    delimiter: str | None = None,
    drop_invalid: bool = False,
    allow_missing: bool = False,
    bins: Union[None, str, Sequence[float]] = None,
    bin_on: str = "zspec",
    grid: PathLike | None = None,
    align: str = "id",
    dialect: str = "pzbench",
    point: str | None = None,
    nz_edges: Sequence[float] | None = None,
    pit_out: PathLike | None = None,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> Score:
    """Score a predictions file as ``pzbench score PATH`` does; ``.to_json()`` of the result is
    what ``pzbench score PATH --format json`` prints, byte for byte.

    ``path``: CSV, TSV, whitespace-separated text or Parquet, with z_spec and z_phot columns
    found by name (or ``zspec_col``, ``zphot_col``; ids in ``id_col``), or a file of redshift PDFs
    (a qp HDF5 file, or ``w_k``/``mu_k``/``sigma_k``, ``pdf_k`` or ``s_k`` columns), recognised
    by its content and also scored with the PDF metrics (the result's ``pdf``). ``truth``: take
    z_spec from this file (CSV/TSV/text/Parquet or a GalaxiesML HDF5 file), joined on the id.
    Every keyword is the command's flag of the same name (``--zspec-col`` ...): ``drop_invalid``,
    ``allow_missing``, ``bins`` (``"LO:HI:WIDTH"`` as ``--bins`` or a list of edges as
    ``--edges``), ``bin_on`` (``"zspec"``, ``"zphot"``); for PDF files ``grid``, ``align``
    (``"id"``, ``"rows"``), ``dialect`` (``"pzbench"``, ``"rail"``), ``point`` (``"mode"``,
    ``"mean"``, ``"median"``), ``nz_edges`` and ``pit_out`` (a CSV of every galaxy's PIT, CRPS and
    point estimates); ``bootstrap``, ``confidence``, ``seed`` for percentile intervals. Paths are
    ``str`` or ``os.PathLike``.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for unusable input or
    arguments, with the command's one-line messages (an argument named by its keyword here), and
    ``PzbenchError`` on an internal failure. The GIL is released while the file is scored.
    """
    arguments = _arguments(
        path,
        truth=truth,
        zspec_col=zspec_col,
        zphot_col=zphot_col,
        id_col=id_col,
        delimiter=delimiter,
        drop_invalid=drop_invalid,
        allow_missing=allow_missing,
        **_binning(bins),
        bin_on=bin_on,
        grid=grid,
        align=align,
        dialect=dialect,
        point=point,
        nz_edges=nz_edges,
        pit_out=pit_out,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return Score._from_json(_core.score_file(arguments))
