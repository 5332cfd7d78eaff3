"""Exact metrics of partitioned data: the pass protocol of ``pzbench.ExactScorer``,
``pzbench.partial_score`` and ``pzbench.merge`` (crates/python/src/scale.rs), which
``pzbench.dask`` runs on Dask and Spark or Ray users run themselves (``docs/python.md``)."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

from . import _core
from ._score import Score, _column, _edges, _ids

# The report's `input.path` and `input.format` for what `ExactScorer.result` scored by default.
PARTIALS_PATH = "<partials>"
PARTIALS_FORMAT = "partials"


def _as_bytes(value: Any) -> Any:
    """``value`` as ``bytes`` when it is a ``bytearray`` or ``memoryview`` (PySpark collects a
    binary column as ``bytearray``); anything else as it is, for the core to accept or refuse."""
    return bytes(value) if isinstance(value, (bytearray, memoryview)) else value


class ExactScorer:
    """The driver of an exact, partitioned scoring: plans the passes over the data and turns the
    merged partials into the metrics, bit for bit those of ``pzbench.score`` on all rows.

    Options as ``pzbench.score``'s: ``bins`` (``None``, ``"LO:HI:WIDTH"`` or edges), ``bin_on``
    (``"zspec"`` or ``"zphot"``); ``bootstrap`` replicates of the Poisson bootstrap (each
    galaxy's weight in a replicate drawn from Poisson(1) by a hash of ``seed``, its object id and
    the replicate: every partition must then give ``ids``) at ``confidence``.

    The protocol::

        scorer = pzbench.ExactScorer(bins="0:3:0.5")
        while (request := scorer.next_pass()) is not None:
            partials = [pzbench.partial_score(request, zs, zp) for zs, zp in partitions]
            scorer.finish_pass(pzbench.merge(partials))
        result = scorer.result()

    Every pass must see every row once (in any partitioning, any order); the bytes cross
    process and machine boundaries as they are.
    """

    def __init__(
        self,
        *,
        bins: Union[None, str, Sequence[float]] = None,
        bin_on: str = "zspec",
        bootstrap: int = 0,
        confidence: float = 0.95,
        seed: int = 42,
    ) -> None:
        self._scorer = _core.ExactScorer(
            edges=_edges(bins), bin_on=bin_on, bootstrap=bootstrap, confidence=confidence, seed=seed
        )

    def next_pass(self) -> Optional[bytes]:
        """The next pass's request (bytes for ``partial_score`` on every partition), or ``None``
        when every pass is done and ``result`` is ready."""
        return self._scorer.next_pass()

    def finish_pass(self, merged: bytes) -> None:
        """Take the pass's result: ``merge`` of every partition's ``partial_score`` (or the one
        partial of a single partition). Raises ``ValueError`` for bytes of another pass or
        scorer, or that are no partial."""
        self._scorer.finish_pass(_as_bytes(merged))

    @property
    def passes(self) -> int:
        """Passes finished so far."""
        return self._scorer.passes

    def result(
        self,
        *,
        zspec: str = "z_spec",
        zphot: str = "z_phot",
        ids: Optional[str] = None,
        path: str = PARTIALS_PATH,
        format: str = PARTIALS_FORMAT,
    ) -> Score:
        """The ``Score`` once ``next_pass`` is ``None``: ``to_json()`` is what ``pzbench score
        --format json`` writes for the same rows, except the ``input`` block, which reports
        ``path`` and ``format`` (what was scored, e.g. ``"<partials>"``), the rows scored and
        ``columns`` naming ``zspec``, ``zphot`` and ``ids`` (the columns the values came from)."""
        return Score._from_json(self._scorer.result(zspec=zspec, zphot=zphot, ids=ids, path=path, format=format))


def partial_score(request: bytes, z_spec: Any, z_phot: Any, ids: Any = None) -> bytes:
    """One partition's result of the pass ``request`` (``ExactScorer.next_pass``'s bytes), as
    bytes for ``merge`` or ``ExactScorer.finish_pass``.

    ``z_spec``, ``z_phot``: the partition's rows, as ``pzbench.score`` takes them (numpy, pandas,
    polars, pyarrow ``Array`` / ``ChunkedArray`` / a ``RecordBatch``'s column, read in place
    where their layout allows); a partition may be empty. ``ids``: the rows' integer object ids,
    needed when the scorer bootstraps. Raises ``ValueError`` with one line for bytes that are no
    request, columns of different lengths, a missing, NaN or infinite value, ``z_spec <= -1``,
    ids missing or repeated. The GIL is released while the Rust core works.
    """
    z_spec, z_phot = _column("z_spec", z_spec), _column("z_phot", z_phot)
    return _core.partial_score(_as_bytes(request), z_spec, z_phot, ids=_ids(ids))


def merge(partials: Iterable[bytes]) -> bytes:
    """The merge of ``partials`` (bytes of ``partial_score`` or ``merge``, all of one pass; at
    least one; ``bytearray`` and ``memoryview`` too), as bytes. Exact: any order and any grouping (a tree, a fold) give the same
    metrics. Raises ``ValueError`` for bytes that are no partial or belong to another pass, and
    for no partials at all."""
    return _core.merge(_as_bytes(partial) for partial in partials)
