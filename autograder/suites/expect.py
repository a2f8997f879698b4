"""Assertions for suites: compare a student's answer with an expected one and explain any difference."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from autograder.course.config import Tolerances
from autograder.suites.feedback import CallText, Mismatch, abbrev, difference

# A hint source: pairs (hint text, what the mistaken code would have returned), or a callable giving the hint.
Hints = Iterable[tuple[str, Any]] | Callable[[Any], str] | None


def assert_close(
    got: Any, expected: Any, *, call: "str | CallText", tol: Tolerances, hints: Hints = None, what: str = "", warned: list | None = None
) -> None:
    """Fail with expected vs got, the largest error and where, and a hint if `got` matches a known mistake.

    `call` is rendered here, at once, when it fails (callers may give a CallText that copied nothing).
    """
    diff = difference(got, expected, tol.rtol, tol.atol)
    if diff is None:
        return
    subject = f"{what} of {call}" if what else call
    message = f"{subject} {diff}\n  expected: {abbrev(expected)}\n  got:      {abbrev(got)}"
    if warned:
        message += "\n  your code warned: " + "; ".join(warned[:3])
    raise Mismatch(message, lambda: matching_hint(got, hints, tol, expected))


_NOT_GIVEN = object()


def matching_hint(got: Any, hints: Hints, tol: Tolerances, expected: Any = _NOT_GIVEN) -> str:
    """The hint of the known mistake `got` matches (within tolerance) on this input, else ''.

    Only a close match counts: a mistake whose output equals `expected` on this input cannot
    explain a wrong answer, and when mistakes with different hints all match `got`, this input
    cannot tell them apart, so there is no hint (the plain expected vs got says what is wrong).
    """
    if hints is None:
        return ""
    if callable(hints):
        return hints(got) or ""
    found = []
    for text, mistaken in hints:
        if expected is not _NOT_GIVEN and difference(mistaken, expected, tol.rtol, tol.atol) is None:
            continue
        if difference(got, mistaken, tol.rtol, tol.atol) is None and text not in found:
            found.append(text)
    return found[0] if len(found) == 1 else ""


def call_text(function: str, *args: Any, **kwargs: Any) -> CallText:
    """Describe a call for messages, e.g. `relu(array float64 (3,) [-1, 0, 2])` (rendered when used)."""
    return CallText(function, args, kwargs)


def array_like(got: Any, like: np.ndarray, call: "str | CallText | Callable[[], str]") -> np.ndarray:
    """The student's result as a float64 array of `like`'s shape, or a failure saying what it was instead.

    `call` names the value; give it as a function (`lambda: f"dx of {call}"`) when it is built from a
    CallText, so that it is rendered only for a failure.
    """
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "iufb":
        raise Mismatch(f"{_text(call)} returned {abbrev(got, 4)}; expected a numeric numpy array of shape {like.shape}")
    if got.shape != like.shape:
        raise Mismatch(f"{_text(call)} returned shape {got.shape}; expected {like.shape}")
    return got.astype(np.float64)


def _text(call: "str | CallText | Callable[[], str]") -> str:
    return call() if callable(call) else str(call)


def check(condition: bool, message: "str | Callable[[], str]", hint: str = "") -> None:
    """A property check: fail with `message` (written for the student), and a hint, when `condition` is false.

    Give the message as a function (`lambda: f"..."`) when it formats arrays: it is then
    rendered only for a failure, not for each of the thousands of checks that pass.
    """
    if not condition:
        raise Mismatch(message() if callable(message) else message, hint)
