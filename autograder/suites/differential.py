"""Differential checks for hidden suites: the student's function against dlref, with hints on failure."""
from __future__ import annotations

import copy
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
        call=CallText(student_fn.name, args, kwargs),
        tol=tol,
        hints=lambda g: hint(student_fn.module, student_fn.name, args, kwargs, g, tol),
        what=what,
        warned=student_fn.student.last_warnings,
    )
    return got


def hint(module: str, function: str, args: tuple, kwargs: dict, got: Any, tol: Tolerances) -> str:
    """The hint of the first catalogued mistake whose output equals `got` on these inputs."""
    return matching_hint(got, hints_for(module, function, args, kwargs), tol)
