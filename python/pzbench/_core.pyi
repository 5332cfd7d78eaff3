"""Type stubs of ``pzbench._core``, the compiled metrics core (crates/python)."""
from typing import Any, List, Optional

import numpy as np
import numpy.typing as npt

DEFAULT_EDGES: List[float]
METRICS: List[str]

class PzbenchError(Exception):
    """An internal pzbench failure (a bug: please report it with the input that caused it)."""

def score(
    z_spec: npt.NDArray[np.float64],
    z_phot: npt.NDArray[np.float64],
    *,
    edges: Optional[List[float]] = None,
    bin_on: str = "zspec",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> dict[str, Any]: ...
def parse_bins(spec: str) -> List[float]: ...
