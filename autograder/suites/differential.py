"""Differential checks for hidden suites: the student's function against dlref, with hints on failure."""
from __future__ import annotations

import copy
import importlib
from typing import Any, Callable

from autograder.course.config import Tolerances
from autograder.suites.expect import assert_close, matching_hint
from autograder.suites.feedback import CallText
from autograder.mistakes import hints_for
from autograder.suites.student import StudentFunction


def agree(
    student_fn: StudentFunction, reference: Callable, *args: Any, tol: Tolerances, what: str = "", **kwargs: Any
) -> Any:
    """Call both on the same inputs; fail with expected vs got and a matching known mistake. Returns got."""
    got = student_fn(*args, **kwargs)
    expected = reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    assert_close(
        got,
        expected,
        call=CallText(student_fn.name, args, kwargs, copy=False),  # rendered by assert_close at once, if it fails
        tol=tol,
        hints=lambda g: hint(student_fn.module, student_fn.name, args, kwargs, g, tol, expected),
        what=what,
        warned=student_fn.student.last_warnings,
    )
    return got


def hint(module: str, function: str, args: tuple, kwargs: dict, got: Any, tol: Tolerances,
         expected: Any = None) -> str:
    """The hint of the catalogued mistake whose output equals `got` on these inputs (see matching_hint).

    `expected`: the right answer (None: compute it with dlref), so that a mistake that does not
    show on this input is never named.
    """
    if expected is None:
        reference = importlib.import_module(f"dlref.{module}")
        expected = getattr(reference, function)(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    return matching_hint(got, hints_for(module, function, args, kwargs), tol, expected)
