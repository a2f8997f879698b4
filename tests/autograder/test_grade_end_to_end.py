"""`dlgrade grade` the way instructors run it: no --only/--skip, reuse and replay on, the CNN included.

The whole sample class (examples/submissions/: folders, a zip, the lab notebook, crashing and
hostile code) plus one student whose CNN grading fails for the grader's own reason. The CNN
trains on a small subset with a short budget (the machinery, not the model, is under test).
Then: every report rendered, grades.csv and gradebook.db written, the grader's failure a
"could not grade" that `--resume` grades again, never a score.
"""
import contextlib
import io
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder import cli
from autograder.sandbox import cnn as cnn_sandbox
from autograder.course import demo
from autograder.grading import batch
from autograder.sandbox.client import bwrap_available

SMALL_CNN = {"train_limit": 1500, "test_limit": 500, "budget_cpu_s": 8.0, "accuracy_thresholds": [0.3, 0.5, 0.6]}
BROKEN = "cleo-grader-broke"  # the grader fails on this student's CNN (a device plan that does not read)


def _problem() -> str | None:
    import importlib.util

    from dlref.data import load_fashion_mnist

    if importlib.util.find_spec("keras") is None:
        return "keras is not installed"
    if not bwrap_available():
        return "bubblewrap is not available"
    try:
        load_fashion_mnist("test", limit=1, downloader=None)
    except Exception as e:  # noqa: BLE001
        return f"Fashion-MNIST is not installed ({type(e).__name__})"
    return None


# `make install` installs Keras, bubblewrap and the data set; a machine without them cannot grade the CNN.
pytestmark = pytest.mark.skipif(_problem() is not None, reason=f"cannot grade the CNN here: {_problem()}")


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str


def dlgrade(*argv) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(a) for a in argv])
    return Run(status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The class graded once, with the grader failing on BROKEN's CNN view only."""
    root = tmp_path_factory.mktemp("e2e")
    subs = root / "subs"
    shutil.copytree(demo.EXAMPLES, subs)
    (subs / BROKEN).mkdir()
    shutil.copy2(demo.EXAMPLES / "ada-perfect" / "cnn.py", subs / BROKEN / "cnn.py")
    course = demo.course_with_cnn(root / "course.toml", SMALL_CNN, "a small CNN budget for the tests")
    real = batch.grade_task

    def breaks_for_one(student, source, exercises, sandbox, course_toml, timeout, env):
        if student == BROKEN and exercises == ["cnn"]:
            env = {**env, cnn_sandbox.ENV_PLAN: "not a plan"}
        return real(student, source, exercises, sandbox, course_toml, timeout, env)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "grade_task", breaks_for_one)
        run = dlgrade("grade", subs, "--out", root / "out", "--course", course)
    return root, subs, course, run


def results(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}


def cnn_tests(result: dict) -> list[dict]:
    return [t for t in result["tests"] if t["tags"][0] == "cnn"]


def test_every_student_is_graded_on_every_exercise_the_cnn_included(first_run):
    root, subs, _, run = first_run
    graded = results(root / "out")
    assert set(graded) == {p.stem for p in subs.iterdir()}
    for student, r in graded.items():
        if student == BROKEN:
            continue
        assert not r["extra_data"].get("could_not_grade"), (student, r["extra_data"].get("could_not_grade"))
        assert {t["tags"][0] for t in r["tests"]} == set(demo.NUMPY_EXERCISES) | set(demo.KERAS_EXERCISES), student
        assert not [t["name"] for t in r["tests"] if t["extra_data"].get("grader_error")], student
    for student in ("ada-perfect", "ivy-notebook"):  # cnn.py, and the lab notebook's code cells
        tests = cnn_tests(graded[student])
        # The public checks and the safe load; accuracy and the budget tests depend on the machine's speed.
        judged = [t for t in tests if "::public::" in t["extra_data"]["test_id"] or "loads_safely" in t["extra_data"]["test_id"]]
        assert len(judged) == 8 and all(t["status"] == "passed" for t in judged), \
            [(t["name"], t["output"][:200]) for t in judged if t["status"] != "passed"]
        data = next(t["extra_data"]["data"]["cnn"] for t in tests if "cnn" in t["extra_data"].get("data", {}))
        assert data["test_images"] == 500 and data["accuracy"] > 0.3 and data["history"]["loss"]
    # A CNN test's points are the round shares course.toml's 10 points give (7 + 3 checks, 10 for accuracy).
    points = sorted({round(t["max_score"], 9) for t in cnn_tests(graded["ada-perfect"])})
    assert points == [0.5, 1.25], points
    assert "test accuracy of at least 0.4" in [t["name"].split(": ", 1)[1] for t in cnn_tests(graded["ada-perfect"])]
    ben = cnn_tests(graded["ben-partial"])
    assert all(t["status"] == "failed" and t["score"] == 0 for t in ben)
    assert any("cnn.py was not submitted" in t["output"] for t in ben)


def test_the_graders_failure_is_no_score_and_the_run_says_so(first_run):
    root, _, _, run = first_run
    assert run.status == 1, run.stderr[-2000:]
    broken = results(root / "out")[BROKEN]
    assert "the grader failed" in broken["extra_data"]["could_not_grade"]
    assert f"could not grade {BROKEN}" in run.stderr
    assert "1 could not be graded" in run.stdout


def test_every_report_is_rendered_and_the_class_files_written(first_run):
    root, subs, _, run = first_run
    out = root / "out"
    students = {p.stem for p in subs.iterdir()}
    assert {p.stem for p in (out / "feedback").glob("*.html")} == students
    assert {p.stem for p in (out / "feedback").glob("*.md")} == students
    summary = (out / "summary.html").read_text()
    assert "could not be rendered" not in summary and "could not be read" not in summary
    ada = (out / "feedback" / "ada-perfect.html").read_text()
    assert 'alt="confusion matrix"' in ada and 'alt="training history"' in ada
    assert "Your transfer model on Fashion-MNIST classes 5-9" in ada and "base_conv1</code></td><td>frozen, unchanged" in ada
    assert 'id="labs"' in summary and "frozen: base_conv1; fine-tuned: base_conv2" in summary
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("student,activations") and ",cnn," in rows[0] and len(rows) == len(students) + 1
    with sqlite3.connect(out / "gradebook.db") as db:
        (count,) = db.execute("select count(*) from student").fetchone()
    assert count == len(students)


def test_resume_grades_again_what_the_grader_failed_on(first_run):
    root, subs, course, _ = first_run
    run = dlgrade("grade", subs, "--out", root / "out", "--course", course, "--resume")
    assert run.status == 0, run.stderr[-2000:]
    assert f"{len(list(subs.iterdir())) - 1} unchanged since the last run (--resume)" in run.stdout
    broken = results(root / "out")[BROKEN]
    assert not broken["extra_data"].get("could_not_grade")
    tests = cnn_tests(broken)
    assert tests and not [t for t in tests if t["extra_data"].get("grader_error")]
    assert all(t["status"] == "passed" for t in tests if "::public::" in t["extra_data"]["test_id"])


def test_a_gpu_that_cannot_train_stops_gpu_and_falls_back_on_auto(first_run, monkeypatch):
    """NVIDIA device files where no backend can train (here /dev/zero): --device gpu stops before grading
    anyone (exit 2, no results); --device auto trains on the CPU and says why in the CNN's results."""
    root, _, course, _ = first_run
    subs = root / "one"
    (subs / "ada").mkdir(parents=True)
    shutil.copy2(demo.EXAMPLES / "ada-perfect" / "cnn.py", subs / "ada" / "cnn.py")
    monkeypatch.setattr(cnn_sandbox, "nvidia_devices", lambda dev="/dev": ["/dev/zero"])
    stopped = dlgrade("grade", subs, "--out", root / "gpu", "--course", course, "--only", "cnn", "--device", "gpu")
    assert stopped.status == 2 and "no Keras backend can train on a GPU" in stopped.stderr
    assert not (root / "gpu" / "results").exists()
    fallback = dlgrade("grade", subs, "--out", root / "auto", "--course", course, "--only", "cnn")
    assert fallback.status == 0, fallback.stderr[-2000:]
    assert "the GPU is not used" in fallback.stderr
    data = next(t["extra_data"]["data"]["cnn"] for t in cnn_tests(results(root / "auto")["ada"])
                if "cnn" in t["extra_data"].get("data", {}))
    assert "no Keras backend can train on a GPU" in data["device_note"] and data["device"].startswith("CPU")
    assert "Trained on the CPU" in (root / "auto" / "feedback" / "ada.html").read_text()
