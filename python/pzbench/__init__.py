"""pzbench's photo-z metrics in Python, computed by the same Rust core as the ``pzbench`` command.

>>> import pzbench
>>> result = pzbench.score([0.5, 1.0], [0.52, 0.97])
>>> result.overall["count"]
2

See ``docs/python.md`` in the repository.
"""
from ._core import DEFAULT_EDGES, METRICS, PzbenchError
from ._score import Score, score
from ._files import score_file
from ._gate import GateResult, gate, save_baseline
from ._reports import Figure6, Table2, figure6, table2
from ._leaderboard import Leaderboard, LeaderboardUpdate, leaderboard_add, leaderboard_render, leaderboard_show
from ._pdf import pdf_values, score_pdf
from ._scale import ExactScorer, merge, partial_score

__all__ = ["score", "Score", "PzbenchError", "DEFAULT_EDGES", "METRICS"]
__all__ += ["score_file", "gate", "GateResult", "save_baseline", "table2", "Table2", "figure6", "Figure6"]
__all__ += ["leaderboard_add", "leaderboard_show", "leaderboard_render", "Leaderboard", "LeaderboardUpdate"]
__all__ += ["score_pdf", "pdf_values"]
__all__ += ["ExactScorer", "partial_score", "merge"]
