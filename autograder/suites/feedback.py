"""Readable failure messages: what was called, expected vs got (abbreviated), the largest error and where."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

MAX_ELEMENTS = 12  # arrays longer than this are summarised in messages


class GraderError(Exception):
    """The grader itself is broken or incomplete (never the student's fault)."""


class Mismatch(AssertionError):
    """The student's answer differs from what was expected; `hint` names a known mistake it matches.

    The hint may be given as a function: it then runs only for the failure that is reported,
    not for each of the many examples hypothesis tries while shrinking.
    """

    def __init__(self, message: str, hint: "str | Callable[[], str]" = ""):
        super().__init__(message)
        self.message = message
        self._hint = hint

    @property
    def hint(self) -> str:
        if callable(self._hint):
            self._hint = self._hint() or ""
        return self._hint


def abbrev(value: Any, limit: int = MAX_ELEMENTS) -> str:
    """A short, readable rendering of a value for feedback."""
    if isinstance(value, np.ndarray):
        head = f"array {value.dtype} {tuple(value.shape)}"
        if value.size == 0:
            return head + " (empty)"
        if value.size <= limit:
            body = np.array2string(value, precision=6, suppress_small=True, separator=", ", threshold=limit)
        else:
            flat = value.reshape(-1)
            shown = ", ".join(_num(v) for v in flat[: limit // 2])
            body = f"[{shown}, ...] (first of {value.size}; min {_num(np.min(value))}, max {_num(np.max(value))})"
        return f"{head} {' '.join(body.split())}"
    if isinstance(value, tuple):
        return "(" + ", ".join(abbrev(v, limit) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        if len(value) > limit:
            return "[" + ", ".join(abbrev(v, limit) for v in value[:limit]) + f", ... ({len(value)} items)]"
        return "[" + ", ".join(abbrev(v, limit) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {abbrev(v, limit)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return _num(value)
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _num(v: Any) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def describe_call(function: str, args: tuple, kwargs: dict) -> str:
    """`f(x=array float64 (2, 3) [...], stride=2)`-style text of a call."""
    parts = [abbrev(a, 6) for a in args] + [f"{k}={abbrev(v, 6)}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"


class CallText:
    """`describe_call`'s text, rendered only if a message uses it: most calls pass, and rendering
    arrays costs more than the call itself. Arguments are copied now, as the caller may change them;
    `copy=False` where the text is rendered at once or never (given to assert_close right after the call)."""

    __slots__ = ("_call", "_text")

    def __init__(self, function: str, args: tuple, kwargs: dict, copy: bool = True):
        self._call = (function, _frozen(args), _frozen(kwargs)) if copy else (function, args, kwargs)
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = describe_call(*self._call)
            self._call = None
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __repr__(self) -> str:
        return repr(str(self))


def _frozen(value: Any) -> Any:
    """A copy of the arrays in value (nested in tuples, lists and dicts); other values as they are."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (tuple, list)):
        return type(value)(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.number)):
        return "number"
    return type(value).__name__


def difference(got: Any, expected: Any, rtol: float, atol: float, path: str = "") -> str | None:
    """None when got matches expected within tolerance, else one sentence saying how it differs."""
    where = f" in {path}" if path else ""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"returned {abbrev(got, 4)}{where}; expected a {type(expected).__name__} of {len(expected)} items"
        for i, (g, e) in enumerate(zip(got, expected)):
            d = difference(g, e, rtol, atol, f"{path}[{i}]" if path else f"item {i}")
            if d:
                return d
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"returned a {type(got).__name__}{where}; expected a dict with keys {sorted(expected)}"
        if set(got) != set(expected):
            return f"returned keys {sorted(got)}{where}; expected keys {sorted(expected)}"
        for k in expected:
            d = difference(got[k], expected[k], rtol, atol, f"{path}[{k!r}]" if path else f"key {k!r}")
            if d:
                return d
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            if _kind(got) == "number" and expected.ndim == 0:
                got = np.asarray(got)
            else:
                return f"returned a {type(got).__name__}{where}; expected a numpy array of shape {expected.shape}"
        if got.shape != expected.shape:
            return f"returned shape {got.shape}{where}; expected {expected.shape}"
        if expected.dtype.kind in "iub" and got.dtype.kind not in "iub":
            return f"returned dtype {got.dtype}{where}; expected integer or boolean values ({expected.dtype})"
        if got.dtype.kind not in "iufb":
            return f"returned dtype {got.dtype}{where}; expected numbers"
        return _value_difference(got.astype(np.float64), expected.astype(np.float64), rtol, atol, where)
    if _kind(expected) == "number":
        if _kind(got) == "array" and got.size == 1:
            got = got.reshape(()).item()
        if _kind(got) != "number":
            return f"returned {abbrev(got, 4)}{where}; expected a number"
        return _value_difference(np.asarray(float(got)), np.asarray(float(expected)), rtol, atol, where)
    if got != expected:
        return f"returned {abbrev(got, 4)}{where}; expected {abbrev(expected, 4)}"
    return None


def _value_difference(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, where: str) -> str | None:
    if got.tobytes() == expected.tobytes():
        return None  # the same bits (float64 both): equal, NaNs where NaNs are expected; 10x quicker than allclose
    bad_nan = np.isnan(got) & ~np.isnan(expected)
    if bad_nan.any():
        idx = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        return f"returned nan{where} at index {idx} where {_num(expected[idx])} was expected (overflow? log(0)?)"
    if np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True):
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - expected)
    err = np.where(np.isnan(err), np.inf, err)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape)) if err.ndim else ()
    at = f" at index {idx}" if idx else ""
    return (
        f"values differ{where}: largest error {_num(err[idx] if idx else err.item())}{at}: "
        f"expected {_num(expected[idx] if idx else expected.item())}, got {_num(got[idx] if idx else got.item())}"
    )
