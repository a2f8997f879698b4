"""`dlgrade regrade-preview` end to end: a small class graded for real, then previewed after three changes.

The instructor (a copy of this checkout, as one edits a suite) adds a hidden test, gives
test_relu_grad_at_zero weight 5 and tightens the tolerances in course.toml. Each change moves
exactly one student: the weight moves rel (relu'(0) = 1, failing that test both times), the
tolerance moves tan (tanh off by one part in 10^7), the new test moves odd (tanh wrong at one
point only it checks); ana (the model answer) and nob (nothing submitted) stay. Activations
only, three hypothesis examples per property test, to stay fast.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.grading import scorediff

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = (ROOT / "solutions" / "activations.py").read_text()
TANH = "return np.tanh(np.asarray(z, dtype=np.float64))"
RELU_GRAD = ("return (np.asarray(z, dtype=np.float64) > 0).astype(np.float64)",
             "return (np.asarray(z, dtype=np.float64) >= 0).astype(np.float64)")
POINT = 0.7071
NEW_TEST = f'''

def test_tanh_at_a_point(student):
    """tanh matches the reference at z = {POINT}"""
    from autograder.course.config import Tolerances

    agree(student.activations.tanh, ref.tanh, np.array([{POINT}, -{POINT}]), tol=Tolerances(rtol=1e-3, atol=1e-6))
'''
NEW_ID = "activations::hidden::test_tanh_at_a_point"


def sandbox_flags() -> list[str]:
    from autograder.sandbox.client import bwrap_available

    return [] if bwrap_available() else ["--unsafe-no-sandbox"]


def write_class(subs: Path) -> None:
    assert SOLUTION.count(TANH) == 1 and SOLUTION.count(RELU_GRAD[0]) == 1
    files = {
        "ana": SOLUTION,
        "rel": SOLUTION.replace(*RELU_GRAD),
        "tan": SOLUTION.replace(TANH, TANH + " * (1.0 + 1e-7)"),
        "odd": SOLUTION.replace(TANH, f"z = np.asarray(z, dtype=np.float64)\n    "
                                      f"return np.where(z == {POINT}, 0.0, np.tanh(z))"),
    }
    for student, text in files.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "activations.py").write_text(text)
    (subs / "nob").mkdir()


def instructors_checkout(dest: Path) -> Path:
    """This checkout's grader with one hidden test added, as the instructor edits it."""
    for package in ("autograder", "dlref"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    suite = dest / "autograder" / "suites" / "hidden" / "test_activations.py"
    suite.write_text(suite.read_text() + NEW_TEST)
    return dest


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    base = tmp_path_factory.mktemp("regrade")
    subs, old, new = base / "subs", base / "old", base / "new"
    write_class(subs)
    (base / "old.toml").write_text("[grading]\nmax_examples = 3\n")
    (base / "new.toml").write_text("[grading]\nmax_examples = 3\n[tolerances]\nrtol = 1e-8\natol = 1e-12\n"
                                   "[exercises.activations.weights]\ntest_relu_grad_at_zero = 5\n")
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(old), "--only",
                             "activations", "--course", str(base / "old.toml"), "--jobs", "2", "--no-report",
                             *sandbox_flags()], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stderr[-3000:]
    checkout = instructors_checkout(base / "checkout")
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    proc = subprocess.run([sys.executable, "-m", "autograder", "regrade-preview", str(old), "--course",
                           str(base / "new.toml"), "--out", str(new), "--jobs", "2", *sandbox_flags()],
                          cwd=base, env=env, capture_output=True, text=True, timeout=600)
    return old, new, proc


def statuses(out: Path, student: str) -> dict[str, str]:
    data = json.loads((out / "results" / f"{student}.json").read_text())
    return {t["extra_data"]["test_id"]: t["status"] for t in data["tests"]}


def test_preview_names_exactly_the_students_and_tests_concerned(preview):
    old, new, proc = preview
    assert proc.returncode == 1, proc.stderr[-3000:]  # something moved
    result = scorediff.compare_dirs(old, new)
    assert result.unchanged == 2
    named = {m.student: {(c.test_id, c.why) for e in m.exercises for c in e.causes} for m in result.moved}
    assert set(named) == {"rel", "tan", "odd"}
    assert named["odd"] == {(NEW_ID, "added, failed")}
    # The tolerance: exactly the tests tan passed before and fails now, all of them about tanh.
    before, after = statuses(old, "tan"), statuses(new, "tan")
    flipped = {tid for tid in before if before[tid] != after[tid]}
    assert flipped and all("tanh" in tid for tid in flipped), flipped
    assert named["tan"] == {(tid, "now fails") for tid in flipped}
    # The weight: rel fails test_relu_grad_at_zero both times, so its share is what moved (and the added
    # test, which rel passes, shrank the share of what rel fails).
    assert named["rel"] == {("activations::hidden::test_relu_grad_at_zero", "weight changed"),
                            (NEW_ID, "added, passed")}
    rel = next(m for m in result.moved if m.student == "rel")
    assert rel.delta < 0 and "hidden::test_relu_grad_at_zero (weight changed)" in proc.stdout


def test_preview_output_and_folders(preview):
    old, new, proc = preview
    out = proc.stdout
    assert out.startswith("Regrade preview: 3 of 5 student(s) move; 2 unchanged.")
    assert not re.search(r"^(ana|nob)\s", out, re.M)
    assert (new / "regrade-preview.html").is_file() and (new / ".dlgrade-preview").is_file()
    assert "5 submission(s) in" in proc.stderr and "5 graded now" in proc.stderr  # grading's own summary, off stdout
    assert sorted(p.stem for p in (new / "results").glob("*.json")) == ["ana", "nob", "odd", "rel", "tan"]
    assert json.loads((old / "results" / "ana.json").read_text())["extra_data"]["grading"]["course_hash"] != \
        json.loads((new / "results" / "ana.json").read_text())["extra_data"]["grading"]["course_hash"]
