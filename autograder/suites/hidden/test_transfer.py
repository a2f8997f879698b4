"""Hidden tests for transfer.py: fine-tuned in the sandbox on a few images of classes 5-9, judged by the grader.

Training and evaluation run once for the module (`graded`); each test judges one rule on the
saved model, so one mistake costs the test about it. What the public suite checks on the built
model (output shape, reuse of the base's layers, frozen at build, the base's classifier dropped)
is not checked again. Accuracy earns equal steps between [transfer] accuracy_thresholds; the
model must also beat the same architecture trained from scratch by the grader on the same images
by min_margin (autograder/transfer/evaluate.py).
"""
import os
import tempfile
from pathlib import Path

import pytest

from autograder.cnn.grading import accuracy_steps
from autograder.course import config as course_config
from autograder.sandbox import cnn as cnn_sandbox
from autograder.sandbox import transfer as tr_sandbox
from autograder.suites.feedback import GraderError
from autograder.suites.student import StudentError
from autograder.transfer import grading
from autograder.transfer.evaluate import probabilities

ACCURACY_WEIGHT = 4.0  # all accuracy steps together


def pytest_generate_tests(metafunc):
    if "accuracy_step" in metafunc.fixturenames:
        course = course_config.load(metafunc.config.getoption("--course") or os.environ.get("DLGRADE_COURSE"))
        steps = accuracy_steps(course.transfer.accuracy_thresholds)
        share = pytest.mark.weight(ACCURACY_WEIGHT / len(steps))
        metafunc.parametrize("accuracy_step", [pytest.param(s, id=f"{s:g}", marks=share) for s in steps])


@pytest.fixture(scope="module")
def graded(course, exercise_folder, sandbox_mode):
    """Fine-tune once in the sandbox, evaluate once here."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-transfer-") as tmp:
        try:
            yield grading.grade(exercise_folder, course, sandbox=sandbox_mode, workdir=Path(tmp))
        except (cnn_sandbox.DeviceError, course_config.ConfigError, tr_sandbox.BaseMissing) as e:
            raise GraderError(str(e)) from None


def _require(problem: str, kind: str = "transfer") -> None:
    if problem:
        raise StudentError(problem, kind)


def _usable(graded) -> None:
    _require(graded.model_problem, graded.run.failure_kind or "transfer")


def _base_layers(graded, **where) -> list[dict]:
    _usable(graded)
    return [row for row in graded.evaluation.base_layers if row["found"] and all(row[k] == v for k, v in where.items())]


def test_model_loads_safely(graded, record_property):
    """the fine-tuned model was saved and uses only built-in Keras layers"""
    record_property("transfer", graded.report())
    _usable(graded)


def test_fine_tune_ends_within_budget(graded):
    """fine_tune returns its History within the time budget"""
    _require(graded.run.failure, graded.run.failure_kind or "transfer")
    report = graded.run.report
    if not report.get("finished") or report.get("stopped_by_budget"):
        _require(f"fine_tune was stopped at the time budget of {graded.run.budget_s:g} s; use fewer epochs")
    if report.get("returned_history") is not True:
        _require(f"fine_tune returned {report.get('returned')}, not the keras.callbacks.History of model.fit")


def test_frozen_layers_unchanged(graded):
    """the base layers the model says are frozen still hold the base's weights exactly"""
    changed = [row["name"] for row in _base_layers(graded, trainable=False) if not row["equal"]]
    _require(f"the base's layer(s) {', '.join(changed)} are frozen (trainable = False) in your model but their "
             "weights differ from the base's: freeze the base's own layers (not fresh copies) before training, "
             "and compile after changing trainable" if changed else "")


def test_fine_tuned_layers_were_trained(graded):
    """a base layer left trainable was really fine-tuned"""
    untouched = [row["name"] for row in _base_layers(graded, trainable=True) if row["equal"]]
    _require(f"the base's layer(s) {', '.join(untouched)} are trainable in your model but their weights did not "
             "change at all: Keras reads `trainable` when the model is compiled, so call model.compile again after "
             "unfreezing, before fitting" if untouched else "")


def test_fine_tuned_layers_keep_their_features(graded):
    """fine-tuning changes the unfrozen base layers only a little (a small learning rate)"""
    limit = graded.transfer.max_base_drift
    far = [(row["name"], row["drift"]) for row in _base_layers(graded, trainable=True) if row["drift"] > limit]
    _require("fine-tuning moved the base's layer(s) " + ", ".join(f"{n} by {d:.0%}" for n, d in far)
             + f" of their weights' size (at most {limit:.0%}): a large learning rate destroys the pretrained "
             "features; fine-tune at a small one (1e-4 to 1e-5)" if far else "")


def test_loss_matches_output(graded):
    """the loss's from_logits matches what the model outputs (logits or softmax probabilities)"""
    _usable(graded)
    declared = grading.declared_from_logits(graded.evaluation.config)
    outputs = graded.evaluation.outputs.get("test")
    if declared is None or outputs is None:
        return
    softmax = probabilities(outputs)
    if softmax and declared:
        _require("your model ends in a softmax (its outputs are probabilities) but the loss was built with "
                 "from_logits=True: drop the softmax from the head, or use from_logits=False")
    if not softmax and not declared:
        _require("your model outputs logits (no softmax) but the loss expects probabilities (from_logits=False, "
                 "the default of a loss given by name): use SparseCategoricalCrossentropy(from_logits=True)")


def test_not_trained_on_validation(graded):
    """the validation images were used to validate, not to train"""
    _usable(graded)
    acc = graded.accuracies()
    if acc.get("val_accuracy") is None or acc.get("accuracy") is None:
        _require(graded.output_problem())
    if acc.get("val_loss") is None or acc.get("test_loss") is None:
        return  # non-finite outputs: the accuracy tests say so
    ratio = acc["test_loss"] / max(acc["val_loss"], 1e-12)
    _require(f"your model fits the validation images far better than unseen test images (cross-entropy "
             f"{acc['val_loss']:.3f} vs {acc['test_loss']:.3f}, accuracy {acc['val_accuracy']:.1%} vs "
             f"{acc['accuracy']:.1%}): it was trained on the validation images (x_val, y_val are for "
             "validation_data only; fit on x_small, y_small)" if ratio > graded.transfer.max_loss_ratio else "")


def test_accuracy_at_least(graded, accuracy_step):
    """test accuracy on classes 5-9 of at least {accuracy_step:g}"""
    _usable(graded)
    accuracy = graded.accuracies().get("accuracy")
    if accuracy is None:
        _require(graded.output_problem())
    _require(f"test accuracy {accuracy:.4f} is below {accuracy_step:g}" if accuracy < accuracy_step else "")


@pytest.mark.weight(2)
def test_beats_training_from_scratch(graded):
    """transfer beats the same architecture trained from scratch on the same images"""
    _usable(graded)
    acc = graded.accuracies()
    if acc.get("accuracy") is None:
        _require(graded.output_problem())
    if acc.get("scratch_accuracy") is None:
        _require("the grader could not train your architecture from scratch for the comparison: "
                 f"{graded.evaluation.scratch_error or 'no outputs'}")
    margin = graded.transfer.min_margin
    _require(f"test accuracy {acc['accuracy']:.4f} is not {margin:g} above {acc['scratch_accuracy']:.4f}, what the "
             "same architecture reaches trained from scratch on the same images: the pretrained features are not "
             "helping (are they frozen while the head trains, and fine-tuned gently?)"
             if acc["accuracy"] < acc["scratch_accuracy"] + margin else "")
