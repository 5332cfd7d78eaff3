"""``pzbench.dask.score``: the exact metrics of a Dask DataFrame (or an LSDB catalogue), each pass
of ``pzbench.ExactScorer`` run as one Dask reduction over the partitions (``docs/python.md``).

Needs ``pip install "dask[dataframe]"`` (and ``distributed`` for a cluster); ``import pzbench``
does not import Dask.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

from ._scale import ExactScorer, merge, partial_score
from ._score import Score

# The report's `input.path` and `input.format` for a Dask DataFrame.
DASK_PATH = "<dask>"
DASK_FORMAT = "dask"


def _dask():
    """The ``dask`` module, or an ``ImportError`` saying how to install it."""
    try:
        import dask
        import dask.dataframe  # noqa: F401  (the DataFrame collection must be importable too)
    except ImportError as error:
        raise ImportError(
            f'pzbench.dask needs Dask\'s DataFrame: pip install "dask[dataframe]" ({error})'
        ) from None
    return dask


def _frame(data: Any) -> Any:
    """The Dask DataFrame of ``data``: a Dask DataFrame as it is, an LSDB catalogue's
    (``to_dask_dataframe``); anything else raises ``TypeError``."""
    import dask.dataframe as dd

    if isinstance(data, dd.DataFrame):
        return data
    if hasattr(data, "to_dask_dataframe"):
        return data.to_dask_dataframe()
    raise TypeError(
        f"pzbench.dask.score: expected a Dask DataFrame or an LSDB catalogue, got {type(data).__name__}"
    )


def _check_columns(frame: Any, names: Sequence[str]) -> None:
    """Every column of ``names`` is in ``frame``; else a ``ValueError`` naming the missing one."""
    for name in names:
        if name not in frame.columns:
            raise ValueError(
                f"the DataFrame has no column {name!r} (columns: {', '.join(map(str, frame.columns))}); "
                "name the columns with zspec=, zphot=, ids="
            )


def _partition_partial(request: bytes, part: Any, index: int, zspec: str, zphot: str, ids: Optional[str]) -> bytes:
    """``partial_score`` of the partition ``part`` (number ``index``, for messages)."""
    try:
        return partial_score(request, part[zspec], part[zphot], None if ids is None else part[ids])
    except ValueError as error:
        raise ValueError(f"partition {index}: {error}") from None


def _tree(dask: Any, partials: List[Any], split_every: int) -> Any:
    """The merge of the delayed ``partials`` as a tree of ``merge`` calls, each on at most
    ``split_every`` of the level below."""
    while len(partials) > 1:
        partials = [
            dask.delayed(merge, pure=True)(partials[i : i + split_every])
            for i in range(0, len(partials), split_every)
        ]
    return partials[0]


def score(
    ddf: Any,
    zspec: str = "z_spec",
    zphot: str = "z_phot",
    *,
    ids: Optional[str] = None,
    bins: Union[None, str, Sequence[float]] = None,
    bin_on: str = "zspec",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
    split_every: int = 8,
) -> Score:
    """Score the columns ``zphot`` against ``zspec`` of the Dask DataFrame ``ddf`` (or an LSDB
    catalogue) exactly: the same metrics, bit for bit, as ``pzbench score`` on all its rows in
    one file, however they are partitioned.

    Each pass of ``pzbench.ExactScorer`` is one Dask computation: every partition's columns go
    to ``pzbench.partial_score`` on a worker (the pass's request travels with the graph), the
    partials are merged in a tree of ``split_every``, and the driver plans the next pass from the
    merge. The data are read once a pass (``ddf.persist()`` first to keep them in the workers'
    memory). Runs on whatever scheduler Dask uses: the threads of this process by default, a
    ``distributed.Client``'s cluster when one is active.

    Options as ``pzbench.score``'s: ``bins``, ``bin_on``; ``bootstrap`` replicates of the Poisson
    bootstrap at ``confidence`` with ``seed``, which need ``ids``, the column of integer object
    ids. Returns a ``Score`` whose ``input`` block reports ``path`` ``"<dask>"``, ``format``
    ``"dask"``, the rows and the column names. A bad value raises ``ValueError`` naming its
    partition and row.
    """
    dask = _dask()
    if split_every < 2:
        raise ValueError(f"split_every = {split_every}: give at least 2 partials a merge")
    if bootstrap > 0 and ids is None:
        raise ValueError(
            "bootstrap needs ids=: the Poisson bootstrap weighs each galaxy by a hash of its object id"
        )
    frame = _frame(ddf)
    columns = [zspec, zphot] + ([] if ids is None else [ids])
    _check_columns(frame, columns)
    parts = frame[columns].to_delayed()
    scorer = ExactScorer(bins=bins, bin_on=bin_on, bootstrap=bootstrap, confidence=confidence, seed=seed)
    while (request := scorer.next_pass()) is not None:
        shared = dask.delayed(request, pure=True)
        partials = [
            dask.delayed(_partition_partial, pure=True)(shared, part, index, zspec, zphot, ids)
            for index, part in enumerate(parts)
        ]
        (merged,) = dask.compute(_tree(dask, partials, split_every))
        scorer.finish_pass(merged)
    return scorer.result(zspec=zspec, zphot=zphot, ids=ids, path=DASK_PATH, format=DASK_FORMAT)
