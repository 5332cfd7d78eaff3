"""``pzbench.gate`` and ``pzbench.save_baseline``: ``pzbench gate`` and ``pzbench baseline save``
(crates/python/src/files/gate.rs)."""
from __future__ import annotations

import json
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from . import _core
from ._files import PathLike, _arguments
from ._score import Score


def _toml_key(key: str) -> str:
    """A TOML key: bare when it can be, quoted otherwise."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(key: str, value: Any) -> str:
    """``value`` of the policy key ``key`` as TOML (a dict is an inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # TOML's own spelling, nan and inf included
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(str(k), v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(key, item) for item in value) + "]"
    raise ValueError(
        f"policy: {key} = {value!r}: expected a number, a bool, a string or a dict; leave a key out for its default"
    )


def _policy_toml(policy: Mapping[str, Any]) -> str:
    """A policy dict as the TOML of a policy file, one key a line (so that an error quotes it):
    the settings, then each table (``metrics``) with one line a metric."""
    settings, tables = [], []
    for key, value in policy.items():
        if isinstance(value, Mapping):
            tables.append(f"[{_toml_key(str(key))}]")
            tables.extend(f"{_toml_key(str(k))} = {_toml_value(str(k), v)}" for k, v in value.items())
        else:
            settings.append(f"{_toml_key(str(key))} = {_toml_value(str(key), value)}")
    return "\n".join([*settings, *tables]) + "\n"


@dataclass(frozen=True)
class GateResult:
    """The verdict of ``pzbench.gate``, as ``pzbench gate`` reports it.

    - ``passed``: no metric regressed; ``exit_code``: the command's, 0 (passed) or 1 (a
      regression; an error raises instead of the command's 2);
    - ``report``: the report as ``pzbench gate --format json`` writes it (``paired``,
      ``galaxies``, ``policy``, ``comparison_confidence``, ``comparisons`` with each metric's
      ``scope``, ``baseline``, ``candidate``, ``change``, ``interval``, ``threshold`` and
      ``verdict``, ``regressions``, ``improvements``);
    - ``to_text()``, ``to_markdown()``, ``to_json()``: the command's output in ``--format text``,
      ``markdown`` (what ``--summary`` appends) and ``json``.
    """

    passed: bool
    exit_code: int
    report: dict
    _text: str = field(repr=False)
    _markdown: str = field(repr=False)
    _json: str = field(repr=False)

    def to_text(self) -> str:
        """The report as ``pzbench gate`` prints it."""
        return self._text

    def to_markdown(self) -> str:
        """The report as ``pzbench gate --format markdown`` prints it (a pull-request summary)."""
        return self._markdown

    def to_json(self) -> str:
        """The report as ``pzbench gate --format json`` prints it."""
        return self._json


def gate(
    baseline: PathLike,
    candidate: PathLike,
    policy: Union[None, PathLike, Mapping[str, Any]] = None,
    *,
    truth: PathLike | None = None,
    zspec_col: str | None = None,
    zphot_col: str | None = None,
    id_col: str | None = None,
    delimiter: str | None = None,
    grid: PathLike | None = None,
    align: str = "id",
) -> GateResult:
    """Gate ``candidate`` against ``baseline`` as ``pzbench gate --baseline BASELINE --candidate
    CANDIDATE`` does: a metric regresses when it worsens beyond the policy's tolerance and its
    bootstrap interval excludes zero.

    ``baseline``: a predictions or PDF file, a ``save_baseline`` file or a score JSON;
    ``candidate``: a predictions or PDF file. ``policy``: ``None`` (the default policy), a policy
    file (TOML, as ``--policy``) or a dict of its keys, e.g. ``{"resamples": 2000, "metrics":
    {"loss": {"relative": 0.05}}}``. The other keywords are the command's flags of the same name
    (``--truth``, ``--zspec-col`` ...; ``grid`` and ``align`` for PDF files).

    Returns a ``GateResult``. Raises ``FileNotFoundError``, ``ValueError`` (bad input, arguments
    or policy; the command's one-line messages, a dict policy's problem quoting its key) or
    ``PzbenchError``. The GIL is released while gating.
    """
    given_file = policy is not None and not isinstance(policy, Mapping)
    arguments = _arguments(
        baseline=baseline,
        candidate=candidate,
        policy=policy if given_file else None,
        truth=truth,
        zspec_col=zspec_col,
        zphot_col=zphot_col,
        id_col=id_col,
        delimiter=delimiter,
        grid=grid,
        align=align,
    )
    toml = _policy_toml(policy) if isinstance(policy, Mapping) else None
    report_json, text, markdown, failed = _core.gate(arguments, toml)
    return GateResult(
        passed=not failed,
        exit_code=int(failed),
        report=json.loads(report_json),
        _text=text,
        _markdown=markdown,
        _json=report_json,
    )


def save_baseline(
    predictions: PathLike,
    output: PathLike,
    *,
    truth: PathLike | None = None,
    zspec_col: str | None = None,
    zphot_col: str | None = None,
    id_col: str | None = None,
    delimiter: str | None = None,
    grid: PathLike | None = None,
    align: str = "id",
    bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 42,
    lock_timeout: float = 60.0,
) -> Score:
    """Save a baseline for ``gate`` as ``pzbench baseline save --predictions PREDICTIONS --output
    OUTPUT`` does: the score, the predictions' hash and every galaxy's prediction (or PDF values),
    so that a later gate runs a paired bootstrap without the original file. The file is written
    atomically under a lock (``.OUTPUT.lock`` beside it), waiting at most ``lock_timeout``
    seconds for another pzbench writing it.

    The keywords are the command's flags of the same name. Returns the saved score (a ``Score``,
    as ``score_file`` returns it). Raises as ``gate`` does.
    """
    arguments = _arguments(
        predictions=predictions,
        output=output,
        truth=truth,
        zspec_col=zspec_col,
        zphot_col=zphot_col,
        id_col=id_col,
        delimiter=delimiter,
        grid=grid,
        align=align,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        lock_timeout=lock_timeout,
    )
    return Score._from_json(_core.save_baseline(arguments))
