"""What a regrade changes: two OUT folders' results compared, per student, exercise and test (pure functions).

A student moves when an exercise score, the late penalty or the total, as grades.csv prints
them (two decimals), differs, or when they are graded on one side only. Each move names the
tests that caused it:
- a test whose result changed (now fails, now passes, partial credit changed);
- an added test the student fails, or a removed one they had failed;
- a test whose weight changed (its share of the exercise moved unlike its neighbours'), and an
  added or removed test the student passes, only when the student also failed some test on both
  sides: their points then depend on the shares, otherwise the change only scales a loss that
  the tests above already explain.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.grading.gradebook import fmt, row_of

NOW_FAILS, NOW_PASSES, PARTIAL = "now fails", "now passes", "partial credit changed"
ADDED, REMOVED, WEIGHT = "added", "removed", "weight changed"


class NoResults(ValueError):
    """An OUT folder without results to compare; the message says what to do."""


@dataclass
class TestChange:
    """One test's part in one student's move."""

    test_id: str
    name: str
    why: str
    old_score: float | None  # None: the test did not exist on that side
    new_score: float | None
    old_max: float | None
    new_max: float | None
    passed: bool | None  # on the new side (None: removed)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ExerciseMove:
    """One exercise of one moved student."""

    exercise: str
    old: float | None
    new: float | None
    causes: list[TestChange] = field(default_factory=list)
    note: str = ""

    @property
    def delta(self) -> float:
        return (self.new or 0.0) - (self.old or 0.0)

    def to_dict(self) -> dict:
        return {"exercise": self.exercise, "old": self.old, "new": self.new, "delta": round(self.delta, 4),
                "causes": [c.to_dict() for c in self.causes], "note": self.note}


@dataclass
class StudentMove:
    """A student whose published grades would change."""

    student: str
    old_total: float | None  # None: not graded on that side (could not be, or absent)
    new_total: float | None
    exercises: list[ExerciseMove]
    status: str = ""  # why a side has no total, when one has none

    @property
    def delta(self) -> float:
        return (self.new_total or 0.0) - (self.old_total or 0.0)

    def to_dict(self) -> dict:
        return {"student": self.student, "old_total": self.old_total, "new_total": self.new_total,
                "delta": round(self.delta, 4), "status": self.status,
                "exercises": [e.to_dict() for e in self.exercises]}


@dataclass
class TestSummary:
    """One test that caused moves, over the class."""

    test_id: str
    name: str
    why: str
    students: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Preview:
    """The whole comparison: who moves and why, how many do not."""

    moved: list[StudentMove]
    unchanged: int
    tests: list[TestSummary]
    old_out: str = ""
    new_out: str = ""

    @property
    def anything_moved(self) -> bool:
        return bool(self.moved)

    def to_dict(self) -> dict:
        return {"old_out": self.old_out, "new_out": self.new_out, "unchanged": self.unchanged,
                "moved": [m.to_dict() for m in self.moved], "tests": [t.to_dict() for t in self.tests]}


def load(out: Path) -> dict[str, dict]:
    """student -> results dict of OUT/results/*.json; NoResults when there are none."""
    results = Path(out) / "results"
    if not results.is_dir():
        raise NoResults(f"{results} does not exist; is {out} the --out folder of `dlgrade grade`?")
    found = {}
    for path in sorted(results.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise NoResults(f"{path} cannot be read ({e}); regrade that student or remove the file") from None
        if not isinstance(data, dict) or not isinstance(data.get("tests", []), list):
            raise NoResults(f"{path} is not a results file")
        found[path.stem] = data
    if not found:
        raise NoResults(f"no results files (*.json) in {results}; grade first")
    return found


def _tests(result: dict) -> dict[str, dict]:
    return {t.get("extra_data", {}).get("test_id", t["name"]): t for t in result.get("tests", [])}


def _graded(result: dict | None) -> bool:
    return bool(result) and not result.get("extra_data", {}).get("could_not_grade")


def reweighted(old: dict[str, dict], new: dict[str, dict]) -> set[str]:
    """Tests whose max score changed unlike most tests of their exercise (a weight, not a share, changed).

    Adding a test, or changing an exercise's points, scales every other test's max score alike.
    """
    ratios: dict[str, dict[str, float]] = {}  # exercise -> test -> new max / old max
    for student in old.keys() & new.keys():
        before, after = _tests(old[student]), _tests(new[student])
        for tid in before.keys() & after.keys():
            a, b = before[tid]["max_score"], after[tid]["max_score"]
            if a > 0:
                ratios.setdefault(before[tid]["tags"][0], {}).setdefault(tid, round(b / a, 6))
    changed = set()
    for by_test in ratios.values():
        counts = Counter(by_test.values()).most_common()
        tied = len(counts) > 1 and counts[0][1] == counts[1][1]
        usual = None if tied else counts[0][0]  # a tie (two tests, one reweighted): name both
        changed |= {tid for tid, r in by_test.items() if r != usual}
    return changed


def _causes(before: dict[str, dict], after: dict[str, dict], weights: set[str]) -> list[TestChange]:
    """The tests of one exercise of one student that explain its move (rules: the module's docstring)."""
    def change(tid: str, why: str) -> TestChange:
        a, b = before.get(tid), after.get(tid)
        return TestChange(tid, (b or a)["name"], why, a and a["score"], b and b["score"], a and a["max_score"],
                          b and b["max_score"], None if b is None else b["status"] == "passed")

    failing = [tid for tid in before.keys() & after.keys()
               if before[tid]["score"] < before[tid]["max_score"] and after[tid]["score"] < after[tid]["max_score"]]
    causes, shares = [], []
    for tid in sorted(before.keys() | after.keys()):
        a, b = before.get(tid), after.get(tid)
        if a is None:
            passed = b["status"] == "passed"
            (shares if passed else causes).append(change(tid, f"{ADDED}, {'passed' if passed else 'failed'}"))
        elif b is None:
            passed = a["status"] == "passed"
            (shares if passed else causes).append(change(tid, f"{REMOVED}, {'passed' if passed else 'failed'} before"))
        elif a["status"] != b["status"]:
            causes.append(change(tid, NOW_PASSES if b["status"] == "passed" else NOW_FAILS))
        elif a["max_score"] and b["max_score"] and (
                round(a["score"] / a["max_score"], 6) != round(b["score"] / b["max_score"], 6)):
            causes.append(change(tid, PARTIAL))
        elif tid in weights:
            shares.append(change(tid, WEIGHT))
    return causes + (shares if failing else [])


def compare(old: dict[str, dict], new: dict[str, dict]) -> Preview:
    """Who moves between two gradings of a class (student -> results dict), by how much, and why."""
    weights = reweighted(old, new)
    moved: list[StudentMove] = []
    unchanged = 0
    for student in sorted(old.keys() | new.keys()):
        a, b = old.get(student), new.get(student)
        exercises = sorted({t["tags"][0] for r in (a, b) if r for t in r.get("tests", [])})
        rows = [row_of(student, r, exercises, {}) if _graded(r) else None for r in (a, b)]
        status = _status(a, b)
        moves = []
        for e in exercises:
            before = {k: t for k, t in _tests(a).items() if t["tags"][0] == e} if rows[0] else {}
            after = {k: t for k, t in _tests(b).items() if t["tags"][0] == e} if rows[1] else {}
            x = rows[0].exercises.get(e) if rows[0] else None
            y = rows[1].exercises.get(e) if rows[1] else None
            if (x is None) != (y is None) or (x is not None and fmt(x) != fmt(y)):
                note = _points_note(before, after)
                moves.append(ExerciseMove(e, x, y, _causes(before, after, weights) if x is not None and y is not None
                                          else [], note))
        totals = [r.total if r else None for r in rows]
        penalty_moved = rows[0] and rows[1] and fmt(rows[0].penalty) != fmt(rows[1].penalty)
        if penalty_moved:
            # Old and new show minus the penalty: what it does to the total.
            moves.append(ExerciseMove("late penalty", -rows[0].penalty, -rows[1].penalty,
                                      note="late penalty changed (the late policy or the deadline)"))
        if moves or status or (totals[0] is not None and fmt(totals[0]) != fmt(totals[1])):
            moved.append(StudentMove(student, totals[0], totals[1], moves, status))
        else:
            unchanged += 1
    moved.sort(key=lambda m: (-abs(m.delta), m.student))
    return Preview(moved, unchanged, summarize(moved))


def _status(a: dict | None, b: dict | None) -> str:
    if a is None:
        return "new: not in the old grading"
    if b is None:
        return "gone: not in the new grading"
    if _graded(a) and not _graded(b):
        return "could not be graded now: " + str(b["extra_data"]["could_not_grade"]).splitlines()[0]
    if _graded(b) and not _graded(a):
        return "graded now; could not be graded before"
    return ""


def _points_note(before: dict[str, dict], after: dict[str, dict]) -> str:
    x, y = (sum(t["max_score"] for t in side.values()) for side in (before, after))
    return f"exercise worth {fmt(x)} -> {fmt(y)} points" if before and after and fmt(x) != fmt(y) else ""


def summarize(moved: list[StudentMove]) -> list[TestSummary]:
    """Each test (or exercise-wide change) that caused a move, with the students it moved; most students first."""
    by_test: dict[tuple[str, str], TestSummary] = {}
    for m in moved:
        for e in m.exercises:
            for c in e.causes:
                s = by_test.setdefault((c.test_id, c.why), TestSummary(c.test_id, c.name, c.why, []))
                s.students.append(m.student)
            if e.note:  # an exercise's points or the late penalty: no one test's doing
                s = by_test.setdefault((e.exercise, e.note), TestSummary(e.exercise, e.exercise, e.note, []))
                s.students.append(m.student)
    return sorted(by_test.values(), key=lambda s: (-len(s.students), s.test_id, s.why))


def compare_dirs(old_out: Path, new_out: Path) -> Preview:
    """compare() of two OUT folders' results."""
    preview = compare(load(old_out), load(new_out))
    preview.old_out, preview.new_out = str(old_out), str(new_out)
    return preview
