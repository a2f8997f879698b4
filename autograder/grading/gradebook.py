"""Class-level outputs of `dlgrade grade`: grades.csv and the nbgrader gradebook (gradebook.db).

Both are rebuilt from the per-student results, so a resumed run writes the same files.
In the gradebook, each exercise is a notebook of one assignment and each test group (a
test function of the public or hidden suite, all its parameters together) a grade cell
whose auto score is filled in.
"""
from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

FIELDS_AFTER = ("late_penalty", "total", "max_total")


@dataclass
class Row:
    """One student's line of grades.csv; `exercises` is None when the submission could not be graded."""

    student: str
    exercises: dict[str, float] | None
    raw: float
    penalty: float
    max_total: float

    @property
    def total(self) -> float:
        return max(0.0, self.raw - self.penalty)


def row_of(student: str, result: dict, exercises: list[str], max_points: dict[str, float]) -> Row:
    """grades.csv's row from a results/<student>.json dict (score sums per exercise, late penalty applied)."""
    extra = result.get("extra_data", {})
    tests = result.get("tests", [])
    max_total = sum(t["max_score"] for t in tests) if tests else sum(max_points.get(e, 0.0) for e in exercises)
    if extra.get("could_not_grade"):
        return Row(student, None, 0.0, 0.0, max_total)
    per = {e: 0.0 for e in exercises}
    for t in tests:
        per[t["tags"][0]] = per.get(t["tags"][0], 0.0) + t["score"]
    raw = sum(t["score"] for t in tests)
    fraction = float(extra.get("late", {}).get("fraction", 0.0))
    return Row(student, per, raw, raw * fraction, max_total)


def fmt(x: float) -> str:
    """Two decimals, and never '-0.00'."""
    return f"{x + 0.0:.2f}" if round(x, 2) != 0 else "0.00"


def csv_text(rows: list[Row], exercises: list[str]) -> str:
    """grades.csv: student, one column per exercise, late_penalty, total, max_total; rows sorted by student.

    A submission that could not be graded has empty scores (not zeros), so nobody mistakes it for a grade.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", *exercises, *FIELDS_AFTER])
    for r in sorted(rows, key=lambda r: r.student):
        if r.exercises is None:
            w.writerow([r.student, *[""] * len(exercises), "", "", fmt(r.max_total)])
        else:
            w.writerow([r.student, *[fmt(r.exercises.get(e, 0.0)) for e in exercises],
                        fmt(r.penalty), fmt(r.total), fmt(r.max_total)])
    return buf.getvalue()


def cell_name(test: dict) -> str:
    """The grade cell a test counts towards: 'public:test_fn' or 'hidden:test_fn' (parameters together)."""
    test_id = test.get("extra_data", {}).get("test_id", test["name"])  # "<exercise>::<visibility>::<test>[<params>]"
    function = test_id.split("[", 1)[0].rsplit("::", 1)[-1]
    kind = test["tags"][1] if len(test["tags"]) > 1 else "public"
    return f"{kind}:{function}"


def cells_of(result: dict) -> dict[str, dict[str, tuple[float, float]]]:
    """exercise -> grade cell -> (score, max_score) for one result."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for t in result.get("tests", []):
        cells = out.setdefault(t["tags"][0], {})
        score, top = cells.get(cell_name(t), (0.0, 0.0))
        cells[cell_name(t)] = (score + t["score"], top + t["max_score"])
    return out


def naive_utc(when: str | None) -> datetime | None:
    """nbgrader stores naive UTC datetimes."""
    if not when:
        return None
    return datetime.fromisoformat(when).astimezone(timezone.utc).replace(tzinfo=None)


def _create_schema(url: str) -> None:
    """nbgrader's tables and alembic version row, as Gradebook() makes them, without its `alembic heads`
    subprocess (seconds per run); if nbgrader's layout ever differs, Gradebook() does it its own way."""
    try:
        import nbgrader
        from alembic.script import ScriptDirectory
        from nbgrader.api import Base
        from sqlalchemy import create_engine, text

        head = ScriptDirectory(os.path.join(os.path.dirname(nbgrader.__file__), "alembic")).get_current_head()
    except Exception:
        return
    if not head:
        return
    engine = create_engine(url)
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);"))
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v);"), {"v": head})
    finally:
        engine.dispose()


@contextmanager
def _scripts_on_path():
    """nbgrader runs the `alembic` script by name: find it beside this Python even in an unactivated venv."""
    old = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(sys.executable), old]))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = old


def write_gradebook(path: Path, results: dict[str, dict], assignment: str = "dlgrade",
                    duedate: datetime | None = None) -> None:
    """Write nbgrader's gradebook for these results (student -> results dict), replacing `path` in one step."""
    from nbgrader import api
    from nbgrader.api import Gradebook
    from sqlalchemy import insert

    # The grade cells: every test group seen in any result, in a stable order.
    layout: dict[str, dict[str, float]] = {}
    per_student = {s: cells_of(r) for s, r in sorted(results.items())}
    for cells in per_student.values():
        for exercise, groups in cells.items():
            nb = layout.setdefault(exercise, {})
            for name, (_, top) in groups.items():
                nb[name] = max(nb.get(name, 0.0), top)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)  # nbgrader creates its tables only in a database without any
    try:
        url = f"sqlite:///{tmp}"
        _create_schema(url)
        with _scripts_on_path():
            gb = Gradebook(url)
        try:
            due = duedate.astimezone(timezone.utc).replace(tzinfo=None) if duedate else None
            row = gb.add_assignment(assignment, duedate=due)
            notebooks = {}  # exercise -> (Notebook, {cell name: GradeCell})
            for exercise, cells in layout.items():
                notebooks[exercise] = (gb.add_notebook(exercise, assignment),
                                       {name: gb.add_grade_cell(name, exercise, assignment, max_score=top,
                                                                cell_type="code") for name, top in cells.items()})
            # What add_student and add_submission make (the assignment has grade cells only: no comments),
            # with the auto scores filled in at once, inserted as rows in one transaction: the ORM's
            # commit per student, then its bookkeeping per grade object, took seconds per class.
            rows: dict = {api.Student: [], api.SubmittedAssignment: [], api.SubmittedNotebook: [], api.Grade: []}
            for student, result in sorted(results.items()):
                rows[api.Student].append({"id": student})
                extra = result.get("extra_data", {})
                if extra.get("could_not_grade"):
                    continue  # no submission: nbgrader shows the student, without a grade
                sub = api.new_uuid()
                rows[api.SubmittedAssignment].append({"id": sub, "assignment_id": row.id, "student_id": student,
                                                      "timestamp": naive_utc(extra.get("submission", {}).get("submitted_at"))})
                fraction = float(extra.get("late", {}).get("fraction", 0.0))
                mine = per_student[student]
                for exercise, (notebook, cells) in notebooks.items():
                    nb = api.new_uuid()
                    scores = mine.get(exercise, {})
                    total = 0.0
                    for name, cell in cells.items():
                        score = scores.get(name, (0.0, 0.0))[0]
                        rows[api.Grade].append({"id": api.new_uuid(), "notebook_id": nb, "cell_id": cell.id,
                                                "auto_score": score, "needs_manual_grade": False})
                        total += score
                    rows[api.SubmittedNotebook].append({"id": nb, "assignment_id": sub, "notebook_id": notebook.id,
                                                        "late_submission_penalty": total * fraction if fraction else None})
            for model, values in rows.items():  # parents first
                if values:
                    gb.db.execute(insert(model.__table__), values)
            gb.db.commit()
        finally:
            gb.close()
            gb.engine.dispose()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
