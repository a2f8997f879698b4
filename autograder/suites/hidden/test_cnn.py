"""Hidden tests for cnn.py: the model trained in the sandbox under the time budget, scored on the test split.

The training and the evaluation run once for the module (`graded`); each test judges one part,
so a model that loads but is over the parameter cap, or that has no pooling layer, still earns
the rest. Accuracy earns equal steps between course.toml's accuracy_thresholds
(`cnn_grading.accuracy_steps`): one test per step, passing when the test accuracy reaches it.
The report data (accuracy, per-class accuracy, confusion matrix, training curves, time, device)
is recorded on the first test.
"""
import os
import tempfile
from pathlib import Path

import pytest

from autograder import cnn_grading, cnn_sandbox
from autograder import config as course_config
from autograder.feedback import GraderError
from autograder.student import StudentError

ACCURACY_WEIGHT = 12.0  # all accuracy steps together; structure and training checks weigh 1 or 0.5


def pytest_generate_tests(metafunc):
    # One accuracy test per step of this course's thresholds (course.toml: CLI -> env -> default).
    if "accuracy_step" in metafunc.fixturenames:
        course = course_config.load(metafunc.config.getoption("--course") or os.environ.get("DLGRADE_COURSE"))
        steps = cnn_grading.accuracy_steps(course.cnn.accuracy_thresholds)
        share = pytest.mark.weight(ACCURACY_WEIGHT / len(steps))
        metafunc.parametrize("accuracy_step", [pytest.param(s, id=f"{s:g}", marks=share) for s in steps])


@pytest.fixture(scope="module")
def graded(course, submission, sandbox_mode):
    """Train once in the sandbox, evaluate once here."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-cnn-") as tmp:
        try:
            yield cnn_grading.grade(submission, course, sandbox=sandbox_mode, workdir=Path(tmp))
        except (cnn_sandbox.DeviceError, course_config.ConfigError) as e:
            raise GraderError(str(e)) from None


def _require(problem: str) -> None:
    if problem:
        raise StudentError(problem, "cnn")


def _usable(graded) -> None:
    """Fail with the reason when there is no model to judge."""
    _require(graded.model_problem)


@pytest.mark.weight(1)
def test_model_loads_safely(graded, record_property):
    """the trained model was saved and uses only built-in Keras layers"""
    record_property("cnn", graded.report())
    if graded.run.model_file is None:
        _usable(graded)
    ev = graded.evaluation
    if ev is not None and ev.stage in ("file", "unsafe", "load"):
        _require(ev.refused)


@pytest.mark.weight(1)
def test_parameter_count(graded):
    """has no more parameters than the course's cap"""
    ev = graded.evaluation
    if ev is None or ev.params is None:
        _usable(graded)
        _require("the parameter count is not known")
    _require(cnn_grading.over_cap_message(ev.params, graded.max_params) if ev.params > graded.max_params else "")


@pytest.mark.weight(1)
def test_has_conv_and_pooling(graded):
    """has at least one Conv2D and one pooling layer"""
    ev = graded.evaluation
    if ev is None or not ev.layers:
        _usable(graded)
    names = set(ev.layers)
    missing = [what for what, kinds in (("a Conv2D layer", cnn_grading.CONV_LAYERS),
                                         ("a pooling layer (e.g. MaxPooling2D)", cnn_grading.POOLING_LAYERS))
               if not names & kinds]
    _require(f"your model has no {' and no '.join(missing)}; its layers: {', '.join(ev.layers)[:500]}"
             if missing else "")


@pytest.mark.weight(0.5)
def test_train_returns_history(graded):
    """train returns the History of model.fit"""
    _require(graded.run.failure)
    report = graded.run.report
    if not report.get("finished"):
        _require("train did not return (it was still running after the time budget)")
    if report.get("returned_history") is not True:
        _require(f"train returned {report.get('returned')}, not the keras.callbacks.History of model.fit")


@pytest.mark.weight(0.5)
def test_train_ends_within_budget(graded):
    """train ends by itself within the time budget"""
    _require(graded.run.failure)
    report = graded.run.report
    if not report.get("finished") or report.get("stopped_by_budget"):
        _require(f"training was stopped at the time budget of {graded.run.budget_s:g} s; fewer epochs (or "
                 "early stopping) leave time to spare")


def test_accuracy_at_least(graded, accuracy_step):
    """test accuracy is at least"""
    _usable(graded)
    accuracy = graded.scores["accuracy"]
    _require(f"test accuracy {accuracy:.4f} is below {accuracy_step:g}" if accuracy < accuracy_step else "")
