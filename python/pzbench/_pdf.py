"""``pzbench.score_pdf`` and ``pzbench.pdf_values``: the PDF metrics of ``pzbench score`` on
redshift PDFs given as arrays or as a qp ensemble (crates/python/src/pdf.rs)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from . import _core
from ._score import Score, _column, _edges, _ids

# How the report's `input` block names PDFs given as arrays or as a qp ensemble.
_ARRAYS = "arrays"
_ENSEMBLE = "qp ensemble"

# The qp parameterisations pzbench reads (docs/PDF_METRICS.md §1.2): the `objdata` keys of the
# parameters, in the order `_core` takes them, and the `metadata` key of the axis.
_QP_LAYOUTS = {
    "mixmod": (("weights", "means", "stds"), None),
    "norm": (("loc", "scale"), None),
    "interp": (("yvals",), "xvals"),
    "hist": (("pdfs",), "bins"),
}


def _matrix(name: str, values: Any) -> np.ndarray:
    """``values`` as a 2-D C-contiguous float64 array, one row a galaxy: a C-contiguous float64
    numpy array as it is (no copy), anything else (lists, other dtypes, pandas or polars
    DataFrames, anything with ``to_numpy``) converted once; missing values become NaN."""
    if not isinstance(values, np.ndarray) and hasattr(values, "to_numpy"):
        try:  # pandas: nullable dtypes need an explicit NaN for their missing values
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except TypeError:  # polars and others: nulls already come back as NaN
            values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: expected numbers ({error})") from None
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, one row a galaxy, got {array.ndim} dimensions")
    return np.ascontiguousarray(array)


def _vector(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D C-contiguous float64 array (grid nodes, histogram edges)."""
    try:
        array = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: expected numbers ({error})") from None
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {array.ndim} dimensions")
    return array


def _one_column(values: Any) -> Any:
    """A 1-D array of one value a galaxy as a column (n × 1); anything else as it is."""
    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    return array.reshape(-1, 1) if array.ndim == 1 else values


def _property(ensemble: Any, name: str) -> Any:
    """``ensemble.<name>``: a property in qp 1.1.4 (``metadata``, ``objdata``, ``ancil``), called
    when another version makes it a method."""
    value = getattr(ensemble, name)
    return value() if callable(value) else value


def _pdf_name(metadata: Any) -> str:
    """The parameterisation of a qp ensemble's ``metadata['pdf_name']`` (``b'mixmod'``, or an
    array of one such name)."""
    name = np.asarray(metadata["pdf_name"]).ravel()[0]
    return name.decode() if isinstance(name, bytes) else str(name)


def _ensemble_arrays(ensemble: Any) -> dict:
    """The PDFs of a qp ensemble, duck-typed (qp is not imported): the parameterisation named by
    ``metadata['pdf_name']``, the parameters in ``objdata`` and the axis in ``metadata``, as qp
    holds them (already normalised). qp squeezes the arrays of a single PDF to 1-D; they are
    given their row back. An ensemble of another parameterisation is refused by ``_core``."""
    try:
        metadata, objdata = _property(ensemble, "metadata"), _property(ensemble, "objdata")
        name = _pdf_name(metadata)
    except (AttributeError, KeyError, IndexError, TypeError):
        raise ValueError(
            "ensemble: expected a qp.Ensemble (with metadata['pdf_name'] and objdata), "
            f"got {type(ensemble).__name__}"
        ) from None
    keys, axis_key = _QP_LAYOUTS.get(name, ((), None))
    missing = [key for key in keys if key not in objdata] + [key for key in [axis_key] if key and key not in metadata]
    if missing:
        raise ValueError(f"ensemble: a qp {name} ensemble holds {', '.join(keys)}, but {missing[0]} is missing")
    parameters = []
    for key in keys:
        values = np.asarray(objdata[key], dtype=np.float64)
        # norm: one value a galaxy, (n,) or (n, 1); the others: (n, K), or (K,) for one galaxy.
        shape = (-1, 1) if name == "norm" else (1, -1) if values.ndim < 2 else values.shape
        parameters.append((f"ensemble.objdata['{key}']", _matrix(key, values.reshape(shape))))
    axis = None
    if axis_key:
        axis = (f"ensemble.metadata['{axis_key}']", _vector(axis_key, np.asarray(metadata[axis_key]).ravel()))
    return {"parameterisation": name, "parameters": parameters, "axis": axis}


def _given(**arguments: Any) -> list:
    """The names of the ``arguments`` that are not ``None``."""
    return [name for name, value in arguments.items() if value is not None]


def _array_pdfs(weights: Any, means: Any, stds: Any, grid: Any, pdfs: Any, samples: Any) -> dict:
    """The PDFs of exactly one kind of arrays: a Gaussian mixture (``means`` and ``stds``, n × K,
    with ``weights``; without ``weights``, one Gaussian a galaxy: ``means`` and ``stds`` of n
    values), densities on a grid or in histogram bins (``pdfs``, n × M, and ``grid``: M nodes for
    a grid, M + 1 edges for a histogram), or ``samples`` (n × S draws)."""
    kinds = {
        "a mixture (weights, means, stds)": _given(weights=weights, means=means, stds=stds),
        "densities (grid, pdfs)": _given(grid=grid, pdfs=pdfs),
        "samples": _given(samples=samples),
    }
    given = [kind for kind, names in kinds.items() if names]
    if len(given) != 1:
        found = " and ".join(given) if given else "none"
        raise ValueError(
            "give the PDFs one way: an ensemble, weights/means/stds (Gaussian mixtures), grid and pdfs "
            f"(densities on a grid or in histogram bins) or samples; got {found}"
        )
    if samples is not None:
        return {"parameterisation": "samples", "parameters": [("samples", _matrix("samples", samples))], "axis": None}
    if means is not None or stds is not None or weights is not None:
        for name, value in [("means", means), ("stds", stds)]:
            if value is None:
                raise ValueError(f"{name} is missing: a Gaussian mixture needs means and stds (and weights for K > 1)")
        if weights is None:  # one Gaussian a galaxy (qp's norm): n values, or n × 1
            named = [("means", means), ("stds", stds)]
            parameters = [(name, _matrix(name, _one_column(value))) for name, value in named]
            return {"parameterisation": "norm", "parameters": parameters, "axis": None}
        named = [("weights", weights), ("means", means), ("stds", stds)]
        return {"parameterisation": "mixmod", "parameters": [(n, _matrix(n, v)) for n, v in named], "axis": None}
    if grid is None or pdfs is None:
        raise ValueError(f"{'grid' if grid is None else 'pdfs'} is missing: densities need pdfs (n × M) and grid")
    densities, axis = _matrix("pdfs", pdfs), _vector("grid", grid)
    m = densities.shape[1]
    if axis.size not in (m, m + 1):
        raise ValueError(
            f"grid has {axis.size} values but pdfs has {m} per galaxy; give the {m} nodes of a grid "
            f"or the {m + 1} edges of a histogram"
        )
    parameterisation = "interp" if axis.size == m else "hist"
    return {"parameterisation": parameterisation, "parameters": [("pdfs", densities)], "axis": ("grid", axis)}


def _pdf_args(z_spec: Any, ensemble: Any, ids: Any, arrays: Dict[str, Any]) -> dict:
    """What ``_core.score_pdf`` and ``_core.pdf_values`` take: the PDFs of ``ensemble`` or of
    ``arrays``, the truths and the ids (from the ensemble's ``ancil`` when not given, as
    ``pzbench score`` reads ``ancil/z_spec`` or ``ancil/redshift`` and ``ancil/object_id``)."""
    z_name, id_name = "z_spec", "ids"
    if ensemble is None and hasattr(z_spec, "objdata"):
        raise ValueError(
            "z_spec is a qp ensemble: pass (z_spec, ensemble), or ensemble=... alone to take z_spec from its ancil"
        )
    if ensemble is None:
        pdfs, source = _array_pdfs(**arrays), _ARRAYS
    else:
        extra = _given(**arrays)
        if extra:
            raise ValueError(f"give the PDFs one way: an ensemble, or {', '.join(extra)}, not both")
        pdfs, source = _ensemble_arrays(ensemble), _ENSEMBLE
        ancil = _property(ensemble, "ancil") or {}
        if z_spec is None:
            key = next((key for key in ("z_spec", "redshift") if key in ancil), None)
            if key is None:
                raise ValueError(
                    "z_spec is missing, and the ensemble's ancil has no 'z_spec' or 'redshift'; pass z_spec"
                )
            z_spec, z_name = ancil[key], f"ensemble.ancil['{key}']"
        if ids is None and "object_id" in ancil:
            ids, id_name = ancil["object_id"], "ensemble.ancil['object_id']"
    if z_spec is None:
        raise ValueError("z_spec is missing: give the true redshift of every PDF")
    ids = _ids(ids)
    return {
        **pdfs,
        "z_spec": _column(z_name, z_spec),
        "ids": ids,
        "source": source,
        "columns": (z_name, id_name if ids is not None else None),
    }


def score_pdf(
    z_spec: Any = None,
    ensemble: Any = None,
    *,
    weights: Any = None,
    means: Any = None,
    stds: Any = None,
    grid: Any = None,
    pdfs: Any = None,
    samples: Any = None,
    ids: Any = None,
    point: Optional[str] = None,
    dialect: str = "pzbench",
    bins: Union[None, str, Sequence[float]] = None,
    bin_on: str = "zspec",
    nz_edges: Optional[Sequence[float]] = None,
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
) -> Score:
    """Score redshift PDFs against the true redshifts ``z_spec``, as ``pzbench score`` scores a
    PDF file (``docs/PDF_METRICS.md``): PIT statistics (KS, CvM, AD, outlier rate, 68/95 %
    coverage), CRPS, CDE loss, the n(z) per tomographic bin, and the 13 point metrics of a point
    estimate, overall, per redshift bin, and with bootstrap intervals.

    The PDFs, one kind of:

    - ``ensemble``: a ``qp.Ensemble`` of ``mixmod``, ``norm``, ``interp`` or ``hist`` PDFs (read
      through its ``metadata``, ``objdata`` and ``ancil``, without importing qp). When ``z_spec``
      or ``ids`` is not given, the ensemble's ``ancil['z_spec']`` (or ``ancil['redshift']``) and
      ``ancil['object_id']`` are used, as ``pzbench score`` reads a qp file;
    - ``weights``, ``means``, ``stds``: Gaussian mixtures, n × K (weights relative; without
      ``weights``, one Gaussian a galaxy, ``means`` and ``stds`` of n values);
    - ``grid`` and ``pdfs``: densities, n × M, at the M nodes of a grid (linear in between, qp's
      ``interp``) or, when ``grid`` has M + 1 values, in the M bins between those edges (qp's
      ``hist``);
    - ``samples``: n × S draws from each PDF.

    Arrays may be numpy arrays (a C-contiguous float64 array is passed without a copy, others
    are converted once), nested lists, or pandas or polars DataFrames; ``z_spec`` may also be a
    pandas, polars or pyarrow column. The PDFs' parameters are copied once into the Rust core.

    ``point``: ``"mode"``, ``"mean"`` or ``"median"`` (default: the mode; the median for samples),
    the estimate whose point metrics are ``overall`` and ``per_bin`` (and binned on with
    ``bin_on="zphot"``). ``dialect``: ``"pzbench"`` (exact) or ``"rail"`` (qp/RAIL's algorithms,
    to compare with published RAIL numbers; not for samples). ``bins``, ``bin_on``,
    ``bootstrap``, ``confidence``, ``seed``: as for ``pzbench.score``. ``nz_edges``: the
    tomographic edges of the n(z) (default 0, 0.3, 0.6, 0.9, 1.2, 1.5, 2, 3).

    Returns the ``Score`` of ``pzbench.score`` with its ``pdf`` block; ``to_json()`` equals
    ``pzbench score --format json`` on a file of the same PDFs, except the ``input`` block.
    Raises ``ValueError`` with the command line's one-line message on unusable input (shapes
    that disagree, NaN, negative densities or weights, sigmas <= 0, weights summing to 0, grid
    nodes not increasing, two kinds of PDFs at once, ...), and ``PzbenchError`` on an internal
    failure. The GIL is released while the metrics are computed.
    """
    arrays = dict(weights=weights, means=means, stds=stds, grid=grid, pdfs=pdfs, samples=samples)
    text = _core.score_pdf(
        _pdf_args(z_spec, ensemble, ids, arrays),
        point=point,
        dialect=dialect,
        edges=_edges(bins),
        bin_on=bin_on,
        nz_edges=None if nz_edges is None else [float(edge) for edge in nz_edges],
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
    )
    return Score._from_json(text)


def pdf_values(
    z_spec: Any = None,
    ensemble: Any = None,
    *,
    weights: Any = None,
    means: Any = None,
    stds: Any = None,
    grid: Any = None,
    pdfs: Any = None,
    samples: Any = None,
    ids: Any = None,
    dialect: str = "pzbench",
) -> Dict[str, np.ndarray]:
    """Every galaxy's PDF values, as ``pzbench score --pit-out`` writes them: a dict of numpy
    arrays, one value a galaxy — ``object_id`` (int64, when there are ids), then in the
    ``"pzbench"`` dialect ``z_spec``, ``pit``, ``crps``, ``pdf_at_truth``, ``int_f2``,
    ``z_mode``, ``z_mean``, ``z_median`` (NaN where samples define no value), or in the
    ``"rail"`` dialect ``z_spec``, ``pit``, ``z_mode`` (on qp's grid ``linspace(0, 3, 301)``),
    ``pdf_at_node``, ``brier``. The PDFs and ``ids`` are given as for ``score_pdf``;
    ``pandas.DataFrame(pdf_values(...))`` makes a table of them.
    """
    arrays = dict(weights=weights, means=means, stds=stds, grid=grid, pdfs=pdfs, samples=samples)
    return _core.pdf_values(_pdf_args(z_spec, ensemble, ids, arrays), dialect=dialect)
