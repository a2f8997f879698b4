"""Hidden tests for cnn.py: the model trained in the sandbox under the time budget, scored on the test split.

The training and the evaluation run once for the module (`graded`); each test judges one part,
so a model that loads but trains past its budget still earns the rest. What the public suite
checks on the built model (layers, parameter cap, output) is not checked again here: a
mistake costs points once. Accuracy earns equal steps between course.toml's
accuracy_thresholds (`cnn_grading.accuracy_steps`): one test per step, passing when the test
accuracy reaches it.

Points: every test weighs 1 except the accuracy steps, which share ACCURACY_WEIGHT; with the
public suite's 7 checks that is 20 units, so a course's 10 points give 0.5 a check and 5 for
accuracy (1.25 a step with the default thresholds).
The report data (accuracy, per-class accuracy, confusion matrix, training curves, time, device)
is recorded on the first test.
"""
import os
import tempfile
from pathlib import Path

import pytest

from autograder.cnn import grading as cnn_grading
from autograder.sandbox import cnn as cnn_sandbox
from autograder.course import config as course_config
from autograder.suites.feedback import GraderError
from autograder.suites.student import StudentError

ACCURACY_WEIGHT = 10.0  # all accuracy steps together; every other CNN test, public or hidden, weighs 1


def pytest_generate_tests(metafunc):
    # One accuracy test per step of this course's thresholds (course.toml: CLI -> env -> default).
    if "accuracy_step" in metafunc.fixturenames:
        course = course_config.load(metafunc.config.getoption("--course") or os.environ.get("DLGRADE_COURSE"))
        steps = cnn_grading.accuracy_steps(course.cnn.accuracy_thresholds)
        share = pytest.mark.weight(ACCURACY_WEIGHT / len(steps))
        metafunc.parametrize("accuracy_step", [pytest.param(s, id=f"{s:g}", marks=share) for s in steps])


@pytest.fixture(scope="module")
def graded(course, exercise_folder, sandbox_mode):
    """Train once in the sandbox, evaluate once here."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-cnn-") as tmp:
        try:
            yield cnn_grading.grade(exercise_folder, course, sandbox=sandbox_mode, workdir=Path(tmp))
        except (cnn_sandbox.DeviceError, course_config.ConfigError) as e:
            raise GraderError(str(e)) from None


def _require(problem: str, kind: str = "cnn") -> None:
    if problem:
        raise StudentError(problem, kind)


def _usable(graded) -> None:
    """Fail with the reason when there is no model to judge."""
    _require(graded.model_problem, graded.run.failure_kind or "cnn")


def test_model_loads_safely(graded, record_property):
    """the trained model was saved and uses only built-in Keras layers"""
    record_property("cnn", graded.report())
    if graded.run.model_file is None:
        _usable(graded)
    ev = graded.evaluation
    if ev is not None and ev.stage in ("file", "unsafe", "load"):
        _require(ev.refused)


def test_train_returns_history(graded):
    """train returns the History of model.fit"""
    _require(graded.run.failure, graded.run.failure_kind or "cnn")
    report = graded.run.report
    if not report.get("finished"):
        _require("train did not return (it was still running after the time budget)")
    if report.get("returned_history") is not True:
        _require(f"train returned {report.get('returned')}, not the keras.callbacks.History of model.fit")


def test_train_ends_within_budget(graded):
    """train ends by itself within the time budget"""
    _require(graded.run.failure, graded.run.failure_kind or "cnn")
    report = graded.run.report
    if not report.get("finished") or report.get("stopped_by_budget"):
        _require(f"training was stopped at the time budget of {graded.run.budget_s:g} s; fewer epochs (or "
                 "early stopping) leave time to spare")


def test_accuracy_at_least(graded, accuracy_step):
    """test accuracy of at least {accuracy_step:g}"""
    _usable(graded)
    accuracy = graded.scores["accuracy"]
    _require(f"test accuracy {accuracy:.4f} is below {accuracy_step:g}" if accuracy < accuracy_step else "")
