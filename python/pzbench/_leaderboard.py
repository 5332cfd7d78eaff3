"""``pzbench.leaderboard_add``, ``leaderboard_show`` and ``leaderboard_render``: ``pzbench leaderboard
add|show|render`` on a JSON leaderboard (layout: leaderboards/schema.json; crates/python/src/files/leaderboard.rs)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from . import _core
from ._files import PathLike, _arguments


@dataclass(frozen=True)
class LeaderboardUpdate:
    """What ``leaderboard_add`` did: whether the entry ``name`` ``replaced`` one of that name, its
    ``rank`` by loss (1 is the best) and the number of ``entries`` on the ``board`` now."""

    board: Path
    name: str
    replaced: bool
    rank: int
    entries: int


@dataclass(frozen=True)
class Leaderboard:
    """A board as ``leaderboard_show`` returns it, ranked by the metric ``by``.

    - ``title``: the board's heading, if it has one; ``entries``: its entries, best first, each
      as the board file holds it (``name``, ``date``, ``pzbench_version``, ``predictions``,
      ``dataset``, ``bins``, ``overall``, ``per_bin``, ``n_outside_bins``, and ``intervals`` and
      ``pdf`` when recorded);
    - ``to_text()``, ``to_markdown()``, ``to_html()``: the board as ``pzbench leaderboard show``
      prints it and ``leaderboard render --format markdown|html`` writes it.
    """

    title: Optional[str]
    by: str
    entries: list
    _text: str = field(repr=False)
    _markdown: str = field(repr=False)
    _html: str = field(repr=False)

    def to_text(self) -> str:
        """Summary line and aligned table, as ``pzbench leaderboard show`` prints it."""
        return self._text

    def to_markdown(self) -> str:
        """Heading, summary and table (``leaderboard render --format markdown``)."""
        return self._markdown

    def to_html(self) -> str:
        """A standalone HTML page (``leaderboard render --format html``)."""
        return self._html


def leaderboard_add(
    board: PathLike,
    name: str,
    predictions: PathLike,
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
    replace: bool = False,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
    lock_timeout: float = 60.0,
) -> LeaderboardUpdate:
    """Score ``predictions`` and record them as ``name`` on ``board`` (created if missing), as
    ``pzbench leaderboard add --board BOARD --name NAME --predictions PREDICTIONS`` does: the
    metrics overall and per bin of the paper's Figure 6 (with bootstrap intervals if asked), the
    dataset's identity, the predictions' SHA-256, the pzbench version and the UTC date
    (``SOURCE_DATE_EPOCH`` overrides the clock). Every entry of a board is scored on the same
    galaxies; a name already there needs ``replace``. The board is updated atomically under its
    lock (``.BOARD.lock`` beside it), waiting at most ``lock_timeout`` seconds for another
    pzbench updating it, so that adds from several processes all land.

    The other keywords are the command's flags of the same name (as for ``table2``). Returns a
    ``LeaderboardUpdate``. Raises ``FileNotFoundError``, ``ValueError`` (the command's one-line
    messages) or ``PzbenchError``. The GIL is released while scoring and waiting for the lock.
    """
    arguments = _arguments(
        board=board,
        name=name,
        predictions=predictions,
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
        replace=replace,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        lock_timeout=lock_timeout,
    )
    replaced, rank, entries = _core.leaderboard_add(arguments)
    return LeaderboardUpdate(board=Path(os.fsdecode(board)), name=name, replaced=replaced, rank=rank, entries=entries)


def leaderboard_show(board: PathLike, *, by: str = "loss") -> Leaderboard:
    """The entries of ``board`` ranked by the metric ``by``, as ``pzbench leaderboard show --board
    BOARD --by BY`` ranks them: ascending, biases by absolute value, coverages by their distance
    from nominal, entries without the metric last. ``by``: any metric of ``pzbench.METRICS`` but
    ``count``, or a PDF metric (``pit_ks``, ``pit_cvm``, ``pit_ad``, ``pit_outlier_rate``,
    ``coverage_68``, ``coverage_95``, ``crps``, ``cde_loss``).

    Returns a ``Leaderboard``. Raises ``FileNotFoundError`` or ``ValueError`` (a board that does
    not pass validation, an unknown metric) with the command's one-line messages.
    """
    shown = _core.leaderboard_show(_arguments(board=board, by=by))
    content = json.loads(shown["json"])
    entries = {entry["name"]: entry for entry in content["entries"]}
    return Leaderboard(
        title=content.get("title"),
        by=by,
        entries=[entries[name] for name in shown["ranked"]],
        _text=shown["text"],
        _markdown=shown["markdown"],
        _html=shown["html"],
    )


def leaderboard_render(
    board: PathLike, *, format: str = "markdown", by: str = "loss", output: PathLike | None = None
) -> str:
    """``board`` ranked by ``by`` as Markdown or HTML (``format``: ``"markdown"``, ``"html"``),
    as ``pzbench leaderboard render`` writes it; also written (atomically) to ``output`` if given.
    Raises as ``leaderboard_show`` does."""
    return _core.leaderboard_render(_arguments(board=board, format=format, by=by, output=output))
