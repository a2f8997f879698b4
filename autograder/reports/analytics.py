"""Class analytics from results dicts: score distributions, most-failed tests, misconceptions, who needs help."""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from autograder.course.config import EXERCISES
from autograder.grading.gradebook import row_of
from autograder.reports.labs import CnnView, LabRow, TransferView, lab_rows

NOT_SUBMITTED = "{exercise}.py was not submitted"  # the worker's message for a missing file


class BadResult(ValueError):
    """A results file that is not a usable results dict; the message says what is wrong."""


@dataclass
class TestView:
    """One test of one student, as the reports show it."""

    exercise: str
    test_id: str
    name: str
    hidden: bool
    passed: bool
    score: float
    max_score: float
    details: str = ""
    hint: str = ""
    grader_error: bool = False
    data: dict = field(default_factory=dict)


@dataclass
class ExerciseView:
    """One exercise of one student: its score and its tests, split the way the feedback shows them."""

    name: str
    score: float
    max_score: float
    submitted: bool
    tests: list[TestView]

    @property
    def fraction(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0

    @property
    def failed_public(self) -> list[TestView]:
        return [t for t in self.tests if not t.passed and not t.hidden and not t.grader_error]

    @property
    def failed_hidden(self) -> list[TestView]:
        return [t for t in self.tests if not t.passed and t.hidden and not t.grader_error]

    @property
    def grader_errors(self) -> list[TestView]:
        return [t for t in self.tests if not t.passed and t.grader_error]

    @property
    def passed(self) -> list[TestView]:
        return [t for t in self.tests if t.passed]


@dataclass
class StudentView:
    """One student's results, checked and grouped by exercise in contract order."""

    student: str
    exercises: list[ExerciseView]
    raw: float
    penalty: float
    total: float
    max_total: float
    late: dict
    could_not_grade: str
    execution_time: float  # what its results took to grade when they were graded (reused ones included)
    notes: list[str]

    @property
    def fraction(self) -> float:
        return self.total / self.max_total if self.max_total else 0.0

    def exercise(self, name: str) -> ExerciseView | None:
        return next((e for e in self.exercises if e.name == name), None)

    def cnn(self) -> CnnView | None:
        """The CNN report data (cnn_grading.Graded.report()) recorded on one of the CNN's tests."""
        for t in self.tests():
            if t.exercise == "cnn" and isinstance(t.data.get("cnn"), dict):
                return CnnView.from_data(t.data["cnn"])
        return None

    def transfer(self) -> TransferView | None:
        """The transfer task's report data (transfer grading's Graded.report()) recorded on one of its tests."""
        for t in self.tests():
            if t.exercise == "transfer" and isinstance(t.data.get("transfer"), dict):
                return TransferView.from_data(t.data["transfer"])
        return None

    def tests(self) -> list[TestView]:
        return [t for e in self.exercises for t in e.tests]


def exercise_order(names) -> list[str]:
    """Contract order first, any other exercise after, alphabetically."""
    known = [e for e in EXERCISES if e in names]
    return known + sorted(set(names) - set(EXERCISES))


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadResult(f"{what} is {value!r}, not a number")
    return float(value)


def _test_view(t, i: int) -> TestView:
    if not isinstance(t, dict):
        raise BadResult(f"tests[{i}] is not an object")
    tags = t.get("tags")
    if not isinstance(tags, list) or not tags or not isinstance(tags[0], str):
        raise BadResult(f"tests[{i}] has no exercise tag")
    if t.get("status") not in ("passed", "failed"):
        raise BadResult(f"tests[{i}] has status {t.get('status')!r}")
    extra = t.get("extra_data") if isinstance(t.get("extra_data"), dict) else {}
    data = extra.get("data") if isinstance(extra.get("data"), dict) else {}
    return TestView(
        exercise=tags[0], test_id=str(extra.get("test_id", t.get("name", ""))), name=str(t.get("name", "")),
        hidden=tags[1:2] == ["hidden"], passed=t["status"] == "passed",
        score=_number(t.get("score"), f"tests[{i}].score"),
        max_score=_number(t.get("max_score"), f"tests[{i}].max_score"),
        details=str(extra.get("details") or ""), hint=str(extra.get("hint") or ""),
        grader_error=extra.get("grader_error") is True, data=data)


def graded_seconds(result: dict, extra: dict) -> float:
    """The time the results took when graded: `dlgrade grade` records it beside this run's execution_time,
    which is 0 for results reused from an identical file graded before."""
    if "graded_seconds" in extra:
        return _number(extra["graded_seconds"], "extra_data.graded_seconds")
    return _number(result.get("execution_time", 0.0), "execution_time")


def student_view(student: str, result) -> StudentView:
    """Check one results dict and group it for the reports; BadResult names what is wrong."""
    if not isinstance(result, dict):
        raise BadResult("the file does not hold a JSON object")
    tests = result.get("tests", [])
    if not isinstance(tests, list):
        raise BadResult("'tests' is not a list")
    extra = result.get("extra_data", {})
    if not isinstance(extra, dict):
        raise BadResult("'extra_data' is not an object")
    views = [_test_view(t, i) for i, t in enumerate(tests)]
    late = extra.get("late") if isinstance(extra.get("late"), dict) else {}
    _number(late.get("fraction", 0.0), "extra_data.late.fraction")
    by_exercise: dict[str, list[TestView]] = {}
    for v in views:
        by_exercise.setdefault(v.exercise, []).append(v)
    exercises = []
    for name in exercise_order(by_exercise):
        ts = by_exercise[name]
        missing = NOT_SUBMITTED.format(exercise=name)
        submitted = not all(not t.passed and missing in t.details for t in ts)
        exercises.append(ExerciseView(name, sum(t.score for t in ts), sum(t.max_score for t in ts), submitted, ts))
    row = row_of(student, {**result, "extra_data": {**extra, "late": late}}, list(by_exercise), {})
    submission = extra.get("submission") if isinstance(extra.get("submission"), dict) else {}
    notes = submission.get("notes") if isinstance(submission.get("notes"), list) else []
    return StudentView(
        student=student, exercises=exercises, raw=row.raw, penalty=row.penalty, total=row.total,
        max_total=row.max_total, late=late, could_not_grade=str(extra.get("could_not_grade") or ""),
        execution_time=graded_seconds(result, extra),
        notes=[str(n) for n in notes])


# --- the class summary ------------------------------------------------------------------------

@dataclass
class ExerciseStats:
    """Scores of the students who were graded, for one exercise."""

    name: str
    max_score: float
    scores: list[float]
    submitted: int

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0


@dataclass
class FailedTest:
    """A test and the students (who submitted its exercise) that failed it."""

    test_id: str
    name: str
    exercise: str
    hidden: bool
    students: list[str]
    attempted: int  # students who submitted the exercise

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class Misconception:
    """One catalogued mistake (grouped by hint text): the students whose answers matched it."""

    hint: str
    exercises: list[str]
    students: list[str]
    tests: int  # failed tests that gave this hint, all students together
    mistake: str = ""  # the catalogue entry's name, when known

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class NeedsHelp:
    """A student to reach out to, and why."""

    student: str
    total: float
    max_total: float
    reasons: list[str]


@dataclass
class ClassSummary:
    """Everything summary.html shows."""

    students: list[StudentView]
    exercises: list[ExerciseStats]
    totals: list[float]
    max_total: float
    most_failed: list[FailedTest]
    misconceptions: list[Misconception]
    needs_help: list[NeedsHelp]
    could_not_grade: dict[str, str]
    times: list[tuple[str, float]]  # slowest first
    help_below: float
    problems: dict[str, str] = field(default_factory=dict)  # results file -> what is wrong with it
    labs: list[LabRow] = field(default_factory=list)  # the Keras labs' scores, per student with any

    @property
    def graded(self) -> list[StudentView]:
        return [s for s in self.students if not s.could_not_grade]

    @property
    def mean_total(self) -> float:
        return statistics.fmean(self.totals) if self.totals else 0.0

    @property
    def mean_time(self) -> float:
        return statistics.fmean(t for _, t in self.times) if self.times else 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def exercise_stats(students: list[StudentView]) -> list[ExerciseStats]:
    """Per exercise: the score of every graded student (0 for what was not submitted)."""
    graded = [s for s in students if not s.could_not_grade]
    names = exercise_order({e.name for s in graded for e in s.exercises})
    out = []
    for name in names:
        views = [e for s in graded for e in s.exercises if e.name == name]
        out.append(ExerciseStats(name, max((e.max_score for e in views), default=0.0), [e.score for e in views],
                                 sum(e.submitted for e in views)))
    return out


def most_failed(students: list[StudentView], top: int = 15) -> list[FailedTest]:
    """Tests failed by the most students, taken in turns from each exercise (its most-failed first, then
    every exercise's second, ...), so that no exercise fills the list; shown by exercise, most failed first.

    Failures of a file not submitted and grader errors do not count.
    """
    found: dict[str, FailedTest] = {}
    for s in students:
        if s.could_not_grade:
            continue
        for e in s.exercises:
            if not e.submitted:
                continue
            for t in e.tests:
                f = found.setdefault(t.test_id, FailedTest(t.test_id, t.name, t.exercise, t.hidden, [], 0))
                f.attempted += 1
                if not t.passed and not t.grader_error:
                    f.students.append(s.student)
    by_exercise: dict[str, list[FailedTest]] = {}
    for f in sorted((f for f in found.values() if f.students), key=lambda f: (-f.count, f.test_id)):
        by_exercise.setdefault(f.exercise, []).append(f)
    turns = [(rank, -f.count, exercise_rank(f.exercise), f.test_id, f)
             for tests in by_exercise.values() for rank, f in enumerate(tests)]
    chosen = [t[-1] for t in sorted(turns, key=lambda t: t[:4])[:top]]
    return sorted(chosen, key=lambda f: (exercise_rank(f.exercise), -f.count, f.test_id))


def exercise_rank(name: str) -> int:
    return EXERCISES.index(name) if name in EXERCISES else len(EXERCISES)


def misconceptions(students: list[StudentView], names: dict[str, str] | None = None) -> list[Misconception]:
    """Failed tests grouped by their hint (the catalogued mistake), most students first."""
    found: dict[str, Misconception] = {}
    for s in students:
        for t in s.tests():
            if t.passed or not t.hint:
                continue
            m = found.setdefault(t.hint, Misconception(t.hint, [], [], 0, (names or {}).get(t.hint, "")))
            m.tests += 1
            if t.exercise not in m.exercises:
                m.exercises.append(t.exercise)
            if s.student not in m.students:
                m.students.append(s.student)
    for m in found.values():
        m.exercises = exercise_order(m.exercises)
        m.students.sort()
    return sorted(found.values(), key=lambda m: (-m.count, -m.tests, m.hint))


def needs_help(students: list[StudentView], below: float) -> list[NeedsHelp]:
    """Students who could not be graded, hit a grader error, or scored below `below` of the maximum."""
    out = []
    for s in students:
        if s.could_not_grade:
            out.append(NeedsHelp(s.student, s.total, s.max_total,
                                 ["could not be graded: " + s.could_not_grade.splitlines()[0]]))
            continue
        reasons = []
        if s.fraction < below:
            reasons.append(f"{s.fraction:.0%} of the points (below {below:.0%})")
        broken = sum(len(e.grader_errors) for e in s.exercises)
        if broken:
            reasons.append(f"the grader failed on {broken} test(s)")
        if reasons:  # what was not submitted explains a low score, but is no reason on its own
            missing = [e.name for e in s.exercises if not e.submitted]
            out.append(NeedsHelp(s.student, s.total, s.max_total,
                                 reasons + (["not submitted: " + ", ".join(missing)] if missing else [])))
    return sorted(out, key=lambda h: (h.total / h.max_total if h.max_total else 0.0, h.student))


def summarize(students: list[StudentView], *, help_below: float = 0.5, top: int = 15,
              problems: dict[str, str] | None = None, mistake_names: dict[str, str] | None = None) -> ClassSummary:
    """The class summary of checked student views (sorted by student id)."""
    students = sorted(students, key=lambda s: s.student)
    graded = [s for s in students if not s.could_not_grade]
    return ClassSummary(
        students=students,
        exercises=exercise_stats(students),
        totals=[s.total for s in graded],
        max_total=max((s.max_total for s in students), default=0.0),
        most_failed=most_failed(students, top),
        misconceptions=misconceptions(students, mistake_names),
        needs_help=needs_help(students, help_below),
        could_not_grade={s.student: s.could_not_grade for s in students if s.could_not_grade},
        times=sorted(((s.student, s.execution_time) for s in students), key=lambda p: (-p[1], p[0])),
        help_below=help_below,
        problems=dict(sorted((problems or {}).items())),
        labs=lab_rows(students),
    )
