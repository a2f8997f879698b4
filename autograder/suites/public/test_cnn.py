"""Public checks for cnn.py: the model builds with the right output and layers, and a short training run works.

Your code runs in the CNN's sandboxed worker, as when graded, on synthetic images only (the
real grading trains on Fashion-MNIST under the course's time budget and scores the test set).
"""
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import cnn as cnn_sandbox
from autograder.suites.feedback import GraderError
from autograder.suites.student import StudentError

BATCH = 4
SMOKE_IMAGES = 256
SMOKE_BUDGET_S = 15.0
CONV = {"Conv2D"}
POOLING = {"MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D"}


@pytest.fixture(scope="module")
def cnn_worker(course, exercise_folder, sandbox_mode):
    """(worker, output directory) for this module's calls."""
    try:
        plan = cnn_sandbox.plan_device(cnn_sandbox.requested_device(), sandbox=sandbox_mode)
    except cnn_sandbox.DeviceError as e:
        raise GraderError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="dlgrade-cnn-check-") as out:
        with cnn_sandbox.open_worker(exercise_folder, course.cnn, plan, SMOKE_BUDGET_S, sandbox=sandbox_mode,
                                     output_dir=out) as worker:
            yield worker, Path(out)


def _value(result) -> dict:
    """The driver's report, or StudentError with the message of what failed."""
    if not result.ok and result.kind == "grader":
        raise GraderError(result.message)
    if not result.ok:
        printed = cnn_sandbox.without_backend_noise(result.stdout).strip()
        message = result.message + (f"\nYour code printed:\n{printed[-2000:]}" if printed else "")
        raise StudentError(message, result.kind or "exception")
    if not isinstance(result.value, dict):
        raise StudentError("the check could not read what your code produced", "protocol")
    return result.value


@pytest.fixture(scope="module")
def built(cnn_worker):
    """build_model()'s summary on a random batch of BATCH images."""
    worker, _ = cnn_worker
    summary = _value(worker.call_driver(cnn_sandbox.DRIVER, "summary", "cnn", (28, 28, 1), 10, BATCH))
    if summary.get("problem"):
        raise StudentError(str(summary["problem"]), "cnn")
    return summary


def test_build_model_returns_a_model(built):
    """build_model returns a keras.Model"""
    assert isinstance(built.get("layers"), list), "build_model's model could not be inspected"


def test_output_shape(built):
    """the model maps (N, 28, 28, 1) images to (N, 10) finite outputs"""
    shape = built.get("output_shape")
    assert shape == [BATCH, 10], (
        f"for a batch of {BATCH} images of shape (28, 28, 1) the model returned shape {tuple(shape or ())}; "
        "expected (4, 10): one output per class (end with Flatten/pooling and Dense(num_classes))")
    assert built.get("finite") is True, "the model's outputs are not finite numbers (nan or inf)"


def test_has_conv_and_pooling(built):
    """has at least one Conv2D and one pooling layer"""
    names = set(built["layers"])
    assert names & CONV, f"no Conv2D layer in your model (its layers: {', '.join(built['layers'])})"
    assert names & POOLING, (f"no pooling layer (e.g. MaxPooling2D) in your model "
                             f"(its layers: {', '.join(built['layers'])})")


def test_builtin_layers_only(built):
    """uses only built-in Keras layers (the grader cannot load a Lambda layer or your own classes)"""
    custom = built.get("custom") or []
    assert not custom, (f"your model uses {custom[0]}, which the grader cannot load safely; use built-in Keras "
                        "layers (keras.layers.Conv2D, MaxPooling2D, Dense, ...)"
                        + (f" (also: {'; '.join(custom[1:4])})" if len(custom) > 1 else ""))


def test_parameter_count(built, course):
    """has no more parameters than the course's cap"""
    params, cap = built.get("params"), course.cnn.max_params
    assert isinstance(params, int), "the model's parameter count could not be read"
    assert params <= cap, (
        f"your model has {params:,} parameters, over the course's cap of {cap:,}; make it smaller "
        "(fewer filters or Dense units, or more pooling before Flatten)")


def test_output_logits_declared(built):
    """OUTPUT_LOGITS is True or False and matches the last layer"""
    declared = built["output_logits"]
    assert declared.get("defined"), "cnn.py does not define OUTPUT_LOGITS = True or False at module level"
    value = declared.get("value")
    assert isinstance(value, bool), f"OUTPUT_LOGITS must be True or False, not a {declared.get('type')}"
    sums = built.get("row_sums") or []
    probabilities = bool(sums) and built["min"] >= 0 and all(abs(s - 1) < 1e-3 for s in sums)
    if value:
        assert not probabilities, ("OUTPUT_LOGITS = True but every output row is non-negative and sums to 1: "
                                   "does the last layer end with a softmax? Then set OUTPUT_LOGITS = False")
    else:
        assert probabilities, ("OUTPUT_LOGITS = False but the output rows are not probabilities (non-negative, "
                               "summing to 1): end with a softmax (Dense(10, activation='softmax')), or set "
                               "OUTPUT_LOGITS = True and use from_logits=True in the loss")


def synthetic_images(n: int, seed: int = 0):
    """uint8 (n, 28, 28) noise with a bright horizontal bar whose row says the class, and the labels (n,)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.integers(0, 60, size=(n, 28, 28))
    for k in range(10):
        x[y == k, 2 + 2 * k: 4 + 2 * k, 4:24] += 180
    return x.astype(np.uint8), y.astype(np.int64)


def test_short_training_run(cnn_worker):
    """train fits the model on 256 small images within a short time budget and the model can be saved"""
    worker, out = cnn_worker
    x, y = synthetic_images(SMOKE_IMAGES)
    split = SMOKE_IMAGES * 7 // 8
    report = _value(worker.call_driver(cnn_sandbox.DRIVER, "train", "cnn", x[:split], y[:split], x[split:],
                                       y[split:], out_dir=worker.output_path, budget_s=SMOKE_BUDGET_S,
                                       grace_s=cnn_sandbox.grace_seconds(SMOKE_BUDGET_S)))
    if report.get("problem"):
        raise StudentError(str(report["problem"]), "cnn")
    assert report.get("finished"), (f"train did not return within {SMOKE_BUDGET_S:g} s (plus a grace period) "
                                    "even though the grader asked it to stop; pass `callbacks` on to model.fit")
    assert report.get("save_error") is None, f"the trained model could not be saved: {report['save_error']}"
    saved = out / "model.keras"
    assert saved.is_file() and not saved.is_symlink() and os.path.getsize(saved) > 0, "no model file was saved"
    losses = (report.get("history") or {}).get("loss") or []
    assert losses, ("train's History has no 'loss': compile the model with a loss and return the History "
                    "of model.fit")
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses), (
        f"the training loss is not finite: {losses[:5]}")
    assert report.get("returned_history") is True, (
        f"train returned {report.get('returned')}, not the History of model.fit")
