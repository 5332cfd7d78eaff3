"""Type stubs of ``pzbench._core``, the compiled metrics core (crates/python)."""
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

DEFAULT_EDGES: List[float]
METRICS: List[str]

class PzbenchError(Exception):
    """A pzbench failure that is not a bad input (ValueError) or a missing file (FileNotFoundError): a numerical failure, or a bug (please report it with the input that caused it)."""

def score(
    z_spec: Any,
    z_phot: Any,
    *,
    ids: Optional[npt.NDArray[np.int64]] = None,
    edges: Optional[List[float]] = None,
    bin_on: str = "zspec",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> str:
    """The report of ``pzbench score --format json`` for two columns of redshifts, each a
    contiguous float64 numpy array or an object with the Arrow PyCapsule interface."""
def parse_bins(spec: str) -> List[float]:
    """The edges of ``"LO:HI:WIDTH"``, as ``pzbench score --bins`` parses them."""
def _values_address(values: Any) -> Optional[int]:
    """The address of the float64 values ``score`` reads in place from ``values``; ``None``
    when it converts them."""

# The file-level API (crates/python/src/files.rs): each function takes the command's arguments as
# the command line takes them (`--flag=value`, then `--` and the positional paths).
def score_file(args: List[str]) -> str:
    """The report of ``pzbench score ARGS --format json``."""
def gate(args: List[str], policy: Optional[str] = None) -> Tuple[str, str, str, bool]:
    """``pzbench gate ARGS``: the report as JSON, text and Markdown, and whether it failed;
    ``policy``: a policy's TOML text, used instead of ``--policy``."""
def save_baseline(args: List[str]) -> str:
    """``pzbench baseline save ARGS``; returns the score saved, as ``pzbench score --format json``."""
def table2(args: List[str]) -> Dict[str, str]:
    """``pzbench table2 ARGS``: the table in every ``--format``, by name; written to ``--output``."""
def figure6(args: List[str]) -> Dict[str, Any]:
    """``pzbench figure6 ARGS``: draws ``--output``; returns ``scores`` (each model's name and
    score JSON, in order) and ``notes``."""
def leaderboard_add(args: List[str]) -> Tuple[bool, int, int]:
    """``pzbench leaderboard add ARGS``: replaced, the entry's rank by loss, entries on the board."""
def leaderboard_show(args: List[str]) -> Dict[str, Any]:
    """``pzbench leaderboard show ARGS``: ``json`` (the board), ``ranked`` (names), ``text``,
    ``markdown``, ``html``."""
def leaderboard_render(args: List[str]) -> str:
    """``pzbench leaderboard render ARGS``: the board rendered, also written to ``--output``."""

# PDFs (crates/python/src/pdf.rs). `pdfs` is the dict `python/pzbench/_pdf.py` builds: `z_spec`,
# `parameterisation` (mixmod, norm, interp, hist or samples), `parameters` and `axis` as
# `(name, array)` pairs (2-D, resp. 1-D, contiguous float64), `ids`, `source`, `columns`.
def score_pdf(
    pdfs: Dict[str, Any],
    *,
    point: Optional[str] = None,
    dialect: str = "pzbench",
    edges: Optional[List[float]] = None,
    bin_on: str = "zspec",
    nz_edges: Optional[List[float]] = None,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> str:
    """The report of ``pzbench score --format json`` for the PDFs ``pdfs``."""
def pdf_values(pdfs: Dict[str, Any], *, dialect: str = "pzbench") -> Dict[str, npt.NDArray[Any]]:
    """Every galaxy's values of the PDFs ``pdfs``, as ``pzbench score --pit-out`` writes them."""

# Exact metrics of partitioned data (crates/python/src/scale.rs); python/pzbench/_scale.py wraps
# them as pzbench.ExactScorer, pzbench.partial_score and pzbench.merge.
class ExactScorer:
    """The driver of the passes of an exact, partitioned scoring."""
    def __init__(
        self,
        *,
        edges: Optional[List[float]] = None,
        bin_on: str = "zspec",
        bootstrap: int = 0,
        confidence: float = 0.95,
        seed: int = 42,
    ) -> None: ...
    def next_pass(self) -> Optional[bytes]:
        """The next pass's request, or ``None`` when the metrics are known."""
    def finish_pass(self, merged: bytes) -> None:
        """Take the merge of every partition's partial of the current pass."""
    @property
    def passes(self) -> int:
        """Passes finished so far."""
    def result(self, *, zspec: str, zphot: str, ids: Optional[str], path: str, format: str) -> str:
        """The report of ``pzbench score --format json``, its ``input`` block naming ``path``,
        ``format`` and the columns."""

def partial_score(
    request: bytes, z_spec: Any, z_phot: Any, *, ids: Optional[npt.NDArray[np.int64]] = None
) -> bytes:
    """One partition's partial of the pass ``request``: columns as ``score`` takes them."""
def merge(partials: Iterable[bytes]) -> bytes:
    """The merge of partials of one pass."""
