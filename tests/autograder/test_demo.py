"""`dlgrade demo`: the Keras exercises' demo budgets, and --no-cnn / --skip leaving them out of the grading."""
import argparse
import contextlib
import io
import json
import shutil

from autograder import cli
from autograder.course import config as course_config
from autograder.course import demo
from autograder.grading import grade, selection
from autograder.sandbox.client import bwrap_available


def demo_args(tmp_path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    return parser.parse_args(["--out", str(tmp_path / "out"), *argv])


def graded_exercises(argv: list[str]) -> list[str]:
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    return selection.exercises_from(parser.parse_args(argv))


def test_the_demo_course_has_both_keras_budgets_and_keeps_the_rest(tmp_path):
    course = course_config.load(demo.demo_course(tmp_path))
    full = course_config.load()
    for key, value in demo.DEMO_CNN.items():
        assert getattr(course.cnn, key) == value, key
    for key, value in demo.DEMO_TRANSFER.items():
        assert getattr(course.transfer, key) == value, key
    assert course.transfer.test_limit and course.transfer.scratch_epochs < full.transfer.scratch_epochs
    # What the demo does not set stays the course's: the split, the rules, the points.
    for key in ("images_per_class", "val_per_class", "accuracy_thresholds", "min_margin", "max_base_drift"):
        assert getattr(course.transfer, key) == getattr(full.transfer, key), key
    assert course.exercises == full.exercises


def test_no_cnn_skips_both_keras_exercises_and_writes_no_course(tmp_path):
    argv = demo.grade_argv(demo_args(tmp_path, "--no-cnn"))
    assert argv[argv.index("--skip") + 1].split(",") == list(course_config.KERAS_EXERCISES)
    assert "--course" not in argv and not (tmp_path / "out" / "demo-course.toml").exists()
    assert not set(course_config.KERAS_EXERCISES) & set(graded_exercises(argv))


def test_skip_transfer_grades_the_cnn_on_its_demo_budget_only(tmp_path):
    argv = demo.grade_argv(demo_args(tmp_path, "--skip", "transfer"))
    exercises = graded_exercises(argv)
    assert "transfer" not in exercises and "cnn" in exercises
    assert course_config.load(argv[argv.index("--course") + 1]).cnn.train_limit == demo.DEMO_CNN["train_limit"]
    both = demo.grade_argv(demo_args(tmp_path, "--skip", "transfer,conv", "--no-cnn"))
    assert both[both.index("--skip") + 1] == "transfer,conv,cnn"


def test_grade_skip_transfer_runs_no_transfer_test(tmp_path):
    """A submission with transfer.py, graded with --skip transfer: no transfer result, so no Keras started."""
    subs = tmp_path / "subs"
    (subs / "ada").mkdir(parents=True)
    for name in ("losses.py", "transfer.py"):
        shutil.copy2(demo.EXAMPLES / "ada-perfect" / name, subs / "ada" / name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--only", "losses,transfer",
                           "--skip", "transfer", *([] if bwrap_available() else ["--unsafe-no-sandbox"])])
    assert status == 0, out.getvalue()[-2000:]
    result = json.loads((tmp_path / "out" / "results" / "ada.json").read_text())
    assert {t["tags"][0] for t in result["tests"]} == {"losses"}
    assert "transfer" not in (tmp_path / "out" / "grades.csv").read_text().splitlines()[0]
