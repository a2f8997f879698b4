"""Fixed input/expected-output vectors for the public checks, recorded from dlref at release time.

Public suites declare their inputs as `Case`s; `dlgrade release` runs the reference (and the
catalogue of classic mistakes) on them and writes `suites/public/data/<exercise>.json`, so a
student's bundle can check answers and give hints without any reference code.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder.suites.feedback import CallText, GraderError, describe_call

MISSING = "__missing__"
DATA = Path(__file__).resolve().parents[1] / "suites" / "public" / "data"


@dataclass
class Case:
    """One call of a student function with fixed inputs, and (once recorded) its expected output."""

    id: str
    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: Any = None
    hints: list = field(default_factory=list)  # [(hint text, what that mistake returns)]

    @property
    def call(self) -> str:
        return describe_call(self.function, self.args, self.kwargs)

    def __str__(self) -> str:
        return self.id


def case(id: str, function: str, *args: Any, **kwargs: Any) -> Case:
    """Declare a public case: `case("sigmoid-large", "sigmoid", np.array([-1000.0, 1000.0]))`."""
    return Case(id, function, args, kwargs)


def encode(value: Any) -> Any:
    """JSON-able form of plain data (arrays keep dtype and shape; floats round-trip exactly)."""
    if isinstance(value, np.ndarray):
        return {"__array__": [encode(v) for v in value.reshape(-1).tolist()], "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[k, encode(v)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    return value


def decode(value: Any) -> Any:
    """Inverse of encode."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        flat = [decode(v) for v in value["__array__"]]
        return np.array(flat, dtype=value["dtype"]).reshape(value["shape"])
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: decode(v) for k, v in value["__dict__"]}
    if "__float__" in value:
        return float(value["__float__"])
    raise ValueError(f"unknown encoded value {value!r}")


def dump(exercise: str, cases: list[Case], directory: Path = DATA) -> Path:
    """Write recorded cases (inputs, expected outputs, mistake outputs) for one exercise."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{exercise}.json"
    rows = [
        {
            "id": c.id,
            "function": c.function,
            "args": encode(c.args),
            "kwargs": encode(c.kwargs),
            "expected": encode(c.expected),
            "hints": [[text, encode(out)] for text, out in c.hints],
        }
        for c in cases
    ]
    # One case per line: small diffs when the reference or a case changes.
    path.write_text("[\n" + ",\n".join(json.dumps(r, allow_nan=False) for r in rows) + "\n]\n")
    return path


def recorded(exercise: str, directory: Path = DATA) -> list[Case]:
    """The recorded cases of one exercise (release writes them; a missing file is a grader error)."""
    path = directory / f"{exercise}.json"
    if not path.exists():
        # Collection must not crash (release imports the suites to record them): fail at run time.
        return [Case("vectors-missing", "", expected=MISSING)]
    rows = json.loads(path.read_text())
    return [
        Case(r["id"], r["function"], decode(r["args"]), decode(r["kwargs"]), decode(r["expected"]),
             [(t, decode(o)) for t, o in r["hints"]])
        for r in rows
    ]  # fmt: skip


def _cases(exercise: str) -> list[Case]:
    """recorded(exercise), read and decoded once per process while the file is unchanged (for calls and
    comparisons only: the cases are shared, and nothing here changes them)."""
    path = DATA / f"{exercise}.json"
    try:
        stat = path.stat()
    except OSError:
        return recorded(exercise, DATA)
    return _cases_of(exercise, str(DATA), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _cases_of(exercise: str, directory: str, mtime_ns: int, size: int) -> list[Case]:
    return recorded(exercise, Path(directory))


def check_recorded(student: Any, exercise: str, c: Case, tol: Any, normalize: Any = None) -> None:
    """Call the student's function on a recorded case and compare with the recorded answer.

    `normalize(case, got)`: the answer as this case grades it (e.g. labels whatever their integer
    dtype, when the dtype is a convention graded by a test of its own).
    """
    from autograder.suites.expect import assert_close

    if c.expected is MISSING:
        raise GraderError(f"the public vectors of {exercise} are missing: run `dlgrade release`")
    stock = getattr(student, "stock", None)
    if stock is not None:  # every case's call in one round trip, at the first case (Student.stock)
        stock(exercise, lambda: [(r.function, list(r.args), dict(r.kwargs)) for r in _cases(exercise)
                                 if r.expected is not MISSING])
    got = getattr(getattr(student, exercise), c.function)(*c.args, **c.kwargs)
    if normalize is not None:
        got = normalize(c, got)
    # The call's text is rendered only if the answer is wrong (CallText): most are right.
    assert_close(got, c.expected, call=CallText(c.function, c.args, c.kwargs, copy=False), tol=tol, hints=c.hints,
                 warned=student.last_warnings)


def cases_as_params(exercise: str, conventions: dict[str, str] | None = None,
                    weights: dict[str, float] | None = None) -> list:
    """The recorded cases of `exercise` as pytest params marked with what each grades.

    Each case grades its function (`grades` marker); `conventions` maps a case id to the convention
    it is about (docs/grading-rules.md), `weights` a case id or a function to its weight.
    """
    import pytest

    out = []
    for c in recorded(exercise):
        marks = [pytest.mark.grades(c.function, convention=(conventions or {}).get(c.id))]
        weight = (weights or {}).get(c.id, (weights or {}).get(c.function))
        if weight is not None:
            marks.append(pytest.mark.weight(weight))
        out.append(pytest.param(c, marks=marks, id=c.id))
    return out


def failing_cases(student: Any, exercise: str, function: str, tol: Any, part: int | None = None) -> list[str]:
    """The recorded cases of `function` the student's code gets wrong (item `part` of a tuple answer only).

    For self-consistency checks: when one function of a pair fails its own checks, the pair's
    disagreement is best explained by that function, and the message says so.
    """
    from autograder.suites.feedback import difference

    wrong = []
    for c in _cases(exercise):
        if c.function != function or c.expected is MISSING:
            continue
        try:
            got = getattr(getattr(student, exercise), function)(*c.args, **c.kwargs)
        except AssertionError:  # the call itself failed (StudentError): that is a wrong answer too
            wrong.append(c.id)
            continue
        expected = c.expected
        if part is not None:
            if not isinstance(got, (tuple, list)) or len(got) <= part:
                wrong.append(c.id)
                continue
            got, expected = got[part], expected[part]
        if difference(got, expected, tol.rtol, tol.atol) is not None:
            wrong.append(c.id)
    return wrong


def consistency_note(student: Any, exercise: str, functions: tuple[str, str], tol: Any,
                     parts: tuple[int | None, int | None] = (None, None), names: tuple[str, str] = ("", "")) -> str:
    """The hint of a failed self-consistency check of two functions: which of them fails its own checks.

    `parts`: compare only this item of a tuple answer; `names`: how to call each in the sentence.
    """
    wrong = {}
    for function, part, name in zip(functions, parts, names):
        ids = failing_cases(student, exercise, function, tol, part)
        if ids:
            wrong[name or function] = ", ".join(f"test_recorded[{i}]" for i in ids[:3]) + (", ..." if len(ids) > 3 else "")
    if len(wrong) == 1:
        (name, shown), = wrong.items()
        return f"your {name} fails its own checks too ({shown}): fix it first."
    if wrong:
        return "both fail their own checks too (" + "; ".join(f"{n}: {s}" for n, s in wrong.items()) + ")."
    return ""


def _numeric(value: Any) -> bool:
    """Numbers, numeric arrays, or non-empty tuples, lists and dicts of them: what an answer looks like."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "iufb"
    if isinstance(value, (int, float, np.number)):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (tuple, list)) and len(value) > 0 and all(_numeric(v) for v in value)


def check_quiet(student: Any, exercise: str) -> None:
    """Each function of `exercise`, called once on its first recorded case, prints nothing.

    The contract forbids printing; this is the only test that grades it (a print elsewhere changes
    nothing), and its failure shows what was printed. A function that fails is left to its own tests,
    but at least one must return numbers: a stub, or code that returns a string, has not earned this
    test (whether the numbers are right is for the other tests).
    """
    from autograder.suites.feedback import Mismatch

    seen, first_error, answered = set(), None, False
    for c in _cases(exercise):
        if c.function in seen or c.expected is MISSING:
            continue
        seen.add(c.function)
        try:
            got = getattr(getattr(student, exercise), c.function)(*c.args, **c.kwargs)
        except AssertionError as e:  # the call failed (StudentError): its own tests say why
            first_error = first_error or e
            continue
        printed = student.last_stdout
        if printed:
            shown = printed if len(printed) <= 600 else printed[:600] + f"\n... ({len(printed)} characters in all)"
            raise Mismatch(f"{c.call} printed:\n{shown.rstrip()}\nFunctions must not print (the contract): remove "
                           "the print, or keep it for your own debugging only.")
        answered = answered or _numeric(got)
    if not answered:
        if first_error is not None:
            raise first_error  # e.g. not submitted, not implemented
        raise Mismatch(f"none of your {exercise} functions returns numbers yet (see the other checks), so there is "
                       "nothing to grade for printing")
