"""Grading results as dataclasses that serialise to Gradescope's results.json schema."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TestResult:
    """One test of one exercise for one submission."""

    exercise: str
    test_id: str  # "<exercise>::<test function>[<params>]"
    name: str  # human-readable: "conv: conv2d_forward matches the reference"
    hidden: bool
    passed: bool
    score: float = 0.0
    max_score: float = 0.0
    details: str = ""  # what was called, smallest failing input, expected vs got
    hint: str = ""  # a known mistake the output matches
    grader_error: bool = False  # the suite itself broke: not the student's fault
    kind: str = ""  # why the student's code failed (a StudentError kind: "timeout", "crashed", ...), if it says
    data: dict = field(default_factory=dict)  # JSON data for reports (record_property in a suite)

    def student_output(self) -> str:
        """What a student may see: nothing but pass/fail for hidden tests."""
        if self.passed or self.hidden:
            return ""
        return self.details + (f"\nHint: {self.hint}" if self.hint else "")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": "passed" if self.passed else "failed",
            "output": self.student_output(),
            "visibility": "visible",
            "tags": [self.exercise, "hidden" if self.hidden else "public"],
            "extra_data": {
                "test_id": self.test_id,
                "details": self.details,
                "hint": self.hint,
                "grader_error": self.grader_error,
                "kind": self.kind,
                "data": self.data,
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TestResult":
        extra = d.get("extra_data", {})
        return cls(
            exercise=d["tags"][0],
            test_id=extra.get("test_id", d["name"]),
            name=d["name"],
            hidden=d["tags"][1:2] == ["hidden"],
            passed=d["status"] == "passed",
            score=d["score"],
            max_score=d["max_score"],
            details=extra.get("details", ""),
            hint=extra.get("hint", ""),
            grader_error=extra.get("grader_error", False),
            kind=extra.get("kind", ""),
            data=extra.get("data", {}),
        )


@dataclass
class SubmissionResult:
    """Every test of one submission, with per-exercise totals."""

    student: str
    tests: list[TestResult] = field(default_factory=list)
    execution_time: float = 0.0
    could_not_grade: str = ""  # the reason, when grading itself failed
    sandboxed: bool = True

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def exercises(self) -> dict[str, dict[str, float]]:
        totals: dict[str, dict[str, float]] = {}
        for t in self.tests:
            e = totals.setdefault(t.exercise, {"score": 0.0, "max_score": 0.0})
            e["score"] += t.score
            e["max_score"] += t.max_score
        return {k: {n: round(v, 4) for n, v in e.items()} for k, e in totals.items()}

    def to_dict(self) -> dict:
        out = {
            "score": round(self.score, 4),
            "execution_time": round(self.execution_time, 3),
            "output": f"Could not grade: {self.could_not_grade}" if self.could_not_grade else "",
            "tests": [t.to_dict() for t in self.tests],
            "extra_data": {
                "student": self.student,
                "max_score": round(self.max_score, 4),
                "exercises": self.exercises(),
                "could_not_grade": self.could_not_grade,
                "sandboxed": self.sandboxed,
            },
        }
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        extra = d.get("extra_data", {})
        return cls(
            student=extra.get("student", ""),
            tests=[TestResult.from_dict(t) for t in d.get("tests", [])],
            execution_time=d.get("execution_time", 0.0),
            could_not_grade=extra.get("could_not_grade", ""),
            sandboxed=extra.get("sandboxed", True),
        )


def write_json_atomic(path: Path, data: dict, indent: int | None = 1) -> None:
    """Write JSON so that a reader (or a resumed run) never sees a half-written file.

    `indent=None` for files only the grader reads: Python's JSON encoder is several times faster without one.
    """
    write_text_atomic(path, json.dumps(data, indent=indent))


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (a killed run leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the grades from the TAs' group
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
