"""Fixed input/expected-output vectors for the public checks, recorded from dlref at release time.

Public suites declare their inputs as `Case`s; `dlgrade release` runs the reference (and the
catalogue of classic mistakes) on them and writes `suites/public/data/<exercise>.json`, so a
student's bundle can check answers and give hints without any reference code.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder.suites.feedback import GraderError, describe_call

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


def check_recorded(student: Any, exercise: str, c: Case, tol: Any) -> None:
    """Call the student's function on a recorded case and compare with the recorded answer."""
    from autograder.suites.expect import assert_close

    if c.expected is MISSING:
        raise GraderError(f"the public vectors of {exercise} are missing: run `dlgrade release`")
    got = getattr(getattr(student, exercise), c.function)(*c.args, **c.kwargs)
    assert_close(got, c.expected, call=c.call, tol=tol, hints=c.hints, warned=student.last_warnings)
