"""``pzbench.table2`` and ``pzbench.figure6``: the GalaxiesML paper's Table 2 and Figure 6 for your
models, as ``pzbench table2`` and ``pzbench figure6`` write them (crates/python/src/files/reports.rs)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _core
from ._files import PathLike, _arguments, _binning
from ._score import Score

Models = Union[Mapping[str, PathLike], Iterable[Union[str, Tuple[str, PathLike]]]]


def _model_flags(models: Models) -> List[str]:
    """``--model NAME=FILE`` for each model: a dict name → file, or a list of ``"NAME=FILE"``
    strings or ``(name, file)`` pairs, in order."""
    pairs = models.items() if isinstance(models, Mapping) else models
    specs = []
    for item in pairs:
        if isinstance(item, str):
            specs.append(item)
            continue
        name, path = item
        if "=" in name:
            raise ValueError(f"models: the name '{name}' contains '='; a model's name cannot")
        specs.append(f"{name}={os.fsdecode(path)}")
    if not specs:
        raise ValueError("models: no model given; give at least one, e.g. {'CNN': 'cnn.csv'}")
    return [f"--model={spec}" for spec in specs]


@dataclass(frozen=True)
class Table2:
    """Table 2 of ``pzbench.table2``, laid out as ``pzbench table2 --format json`` lays it out.

    - ``caption``: names the dataset (label, synthetic or not, SHA-256 of the z_spec file);
    - ``dataset``: ``id``, ``source``, ``sha256``, ``zspec_sha256``, ``synthetic``, ``release``;
    - ``rows``: one dict a model (then the published rows): ``model``, ``source``
      (``"measured"`` or ``"published"``), ``metrics`` (count, loss, bias, scatter, outlier_frac,
      mse and, for PDF files, the PDF columns), ``intervals`` with a bootstrap, ``predictions``;
    - ``bootstrap``: the bootstrap behind the ± (``None`` without one); ``notes``: remarks on the
      comparison, e.g. models scored on different galaxies;
    - ``to_text()``, ``to_markdown()``, ``to_latex()``, ``to_csv()``, ``to_json()``: the table as
      ``pzbench table2 --format table|markdown|latex|csv|json`` prints it.
    """

    caption: str
    dataset: dict
    rows: list
    bootstrap: Optional[dict]
    notes: list
    _texts: Dict[str, str] = field(repr=False)

    def to_text(self) -> str:
        """Caption and aligned table, as ``pzbench table2`` prints it."""
        return self._texts["table"]

    def to_markdown(self) -> str:
        """Caption paragraph and Markdown table (``--format markdown``)."""
        return self._texts["markdown"]

    def to_latex(self) -> str:
        """A LaTeX table float using booktabs (``--format latex``)."""
        return self._texts["latex"]

    def to_csv(self) -> str:
        """One row a model, full precision, intervals as ``_lo``/``_hi`` columns (``--format csv``)."""
        return self._texts["csv"]

    def to_json(self) -> str:
        """The table as ``pzbench table2 --format json`` prints it."""
        return self._texts["json"]


def table2(
    models: Models,
    *,
    truth: PathLike | None = None,
    zspec_col: str | None = None,
    zphot_col: str | None = None,
    id_col: str | None = None,
    delimiter: str | None = None,
    dataset: str | None = None,
    synthetic: bool = False,
    grid: PathLike | None = None,
    align: str = "id",
    dialect: str = "pzbench",
    point: str | None = None,
    nz_edges: Sequence[float] | None = None,
    published: bool = False,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
    output: PathLike | None = None,
    format: str = "markdown",
) -> Table2:
    """The GalaxiesML paper's Table 2 for ``models``, as ``pzbench table2 --model NAME=FILE ...``
    makes it: each model scored as ``score_file`` scores it, one row a model.

    ``models``: a dict name → predictions file, or a list of ``"NAME=FILE"`` strings or ``(name,
    file)`` pairs; rows keep this order. ``published`` adds the paper's own rows. With
    ``output``, the table is written there (atomically) in ``format`` (``"table"``,
    ``"markdown"``, ``"latex"``, ``"csv"``, ``"json"``), the same file as ``pzbench table2 ...
    --format FORMAT --output OUTPUT``. The other keywords are the command's flags of the same name
    (``--truth``, ``--dataset``, ``--synthetic``; ``grid``, ``align``, ``dialect``, ``point``,
    ``nz_edges`` for files of PDFs; ``bootstrap``, ``confidence``, ``seed`` for ± intervals).

    Returns a ``Table2``. Raises ``FileNotFoundError``, ``ValueError`` (the command's one-line
    messages) or ``PzbenchError``. The GIL is released while the models are scored.
    """
    arguments = _model_flags(models) + _arguments(
        truth=truth,
        zspec_col=zspec_col,
        zphot_col=zphot_col,
        id_col=id_col,
        delimiter=delimiter,
        dataset=dataset,
        synthetic=synthetic,
        grid=grid,
        align=align,
        dialect=dialect,
        point=point,
        nz_edges=nz_edges,
        published=published,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        output=output,
        format=format,
    )
    texts = _core.table2(arguments)
    table = json.loads(texts["json"])
    return Table2(
        caption=table["caption"],
        dataset=table["dataset"],
        rows=table["rows"],
        bootstrap=table["bootstrap"],
        notes=table["notes"],
        _texts=texts,
    )


@dataclass(frozen=True)
class Figure6:
    """What ``pzbench.figure6`` drew: ``path``, the image written; ``scores``, each model's
    ``Score`` (the values drawn, per bin, with the intervals of the error bars), in legend order;
    ``notes``, remarks on the comparison (e.g. models scored on different galaxies)."""

    path: Path
    scores: Dict[str, Score]
    notes: List[str]


def figure6(
    models: Models,
    output: PathLike,
    *,
    truth: PathLike | None = None,
    zspec_col: str | None = None,
    zphot_col: str | None = None,
    id_col: str | None = None,
    delimiter: str | None = None,
    dataset: str | None = None,
    synthetic: bool = False,
    bins: Union[None, str, Sequence[float]] = None,
    bin_on: str = "zspec",
    bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 42,
    size: Union[None, str, Tuple[int, int]] = None,
) -> Figure6:
    """Draw the GalaxiesML paper's Figure 6 for ``models`` into ``output`` (``.png`` or ``.svg``),
    the same file as ``pzbench figure6 --model NAME=FILE ... --output OUTPUT``: bias, scatter,
    outlier fraction, MSE and loss per redshift bin, one line a model, and the galaxies per bin.

    ``models`` as for ``table2`` (the legend keeps their order). ``bootstrap``: resamples of the
    error bars (0: none). ``size``: ``(width, height)`` in pixels or ``"WIDTHxHEIGHT"`` (``None``:
    the command's, 1800×1200). The
    other keywords are the command's flags of the same name; ``bins`` is ``"LO:HI:WIDTH"`` or a
    list of edges.

    Returns a ``Figure6``. Raises as ``table2`` does.
    """
    arguments = _model_flags(models) + _arguments(
        truth=truth,
        zspec_col=zspec_col,
        zphot_col=zphot_col,
        id_col=id_col,
        delimiter=delimiter,
        dataset=dataset,
        synthetic=synthetic,
        output=output,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        **_binning(bins),
        bin_on=bin_on,
        size=size if size is None or isinstance(size, str) else "x".join(str(int(side)) for side in size),
    )
    drawn = _core.figure6(arguments)
    return Figure6(
        path=Path(os.fsdecode(output)),
        scores={name: Score._from_json(text) for name, text in drawn["scores"]},
        notes=drawn["notes"],
    )
