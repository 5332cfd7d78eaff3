"""pzbench's photo-z metrics in Python, computed by the same Rust core as the ``pzbench`` command.

>>> import pzbench
>>> result = pzbench.score([0.5, 1.0], [0.52, 0.97])
>>> result.overall["count"]
2

See ``docs/python.md`` in the repository.
"""
from ._core import DEFAULT_EDGES, METRICS, PzbenchError
from ._score import Score, score

__all__ = ["score", "Score", "PzbenchError", "DEFAULT_EDGES", "METRICS"]
