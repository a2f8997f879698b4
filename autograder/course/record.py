"""Record the public vectors: run dlref and the mistake catalogue on each public suite's CASES."""
from __future__ import annotations

import copy
import importlib.util
import warnings
from pathlib import Path

import pytest

from autograder.suites.feedback import difference
from autograder.mistakes import hints_for
from autograder.grading.runner import SUITES
from autograder.course.vectors import DATA, Case, dump


def suite_cases(path: Path) -> list[Case]:
    """The CASES list declared by a public suite file (imported by path: suites are not a package)."""
    spec = importlib.util.spec_from_file_location(f"_dlgrade_public_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        # Outside the grading plugin the suites' markers (weight) are unregistered: harmless here.
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        spec.loader.exec_module(module)
    return list(getattr(module, "CASES", []))


def record_exercise(exercise: str, cases: list[Case], directory: Path = DATA) -> Path:
    """Fill in expected outputs (dlref) and mistake outputs, and write the exercise's data file."""
    reference = importlib.import_module(f"dlref.{exercise}")
    ids = [c.id for c in cases]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"public suite {exercise}: duplicate case ids {sorted(dupes)}")
    for c in cases:
        fn = getattr(reference, c.function)
        c.expected = fn(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
        # A "mistake" that gives the right answer on this input cannot explain a wrong one.
        c.hints = [
            (text, out) for text, out in hints_for(exercise, c.function, c.args, c.kwargs)
            if difference(out, c.expected, 1e-9, 1e-12) is not None
        ]
    return dump(exercise, cases, directory)


def record_all(directory: Path = DATA, suites: Path = SUITES / "public") -> list[Path]:
    """Record every public suite in `suites` that declares CASES into `directory`; returns the files written."""
    written = []
    for path in sorted(Path(suites).glob("test_*.py")):
        cases = suite_cases(path)
        if cases:
            written.append(record_exercise(path.stem.removeprefix("test_"), cases, directory))
    return written
