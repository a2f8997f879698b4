"""Public checks for transfer.py: the model reuses the base's layers, frozen, with a new head; fine_tune runs.

Your code runs in the sandboxed training worker, as when graded, with the course's base model
(trained on Fashion-MNIST classes 0-4) and synthetic images only (the real grading fine-tunes
on a few images of classes 5-9 and scores the test split, against a model trained from scratch).
"""
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import cnn as cnn_sandbox
from autograder.sandbox import transfer as tr_sandbox
from autograder.suites.feedback import GraderError
from autograder.suites.student import StudentError

BATCH = 4
SMOKE_BUDGET_S = 30.0


@pytest.fixture(scope="module")
def transfer_worker(course, exercise_folder, sandbox_mode):
    """(worker, output directory, the base model's bytes) for this module's calls."""
    try:
        plan = cnn_sandbox.plan_device(cnn_sandbox.requested_device(), sandbox=sandbox_mode)
        base = np.frombuffer(tr_sandbox.base_bytes(), dtype=np.uint8)
    except (cnn_sandbox.DeviceError, tr_sandbox.BaseMissing) as e:
        raise GraderError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="dlgrade-transfer-check-") as out:
        with tr_sandbox.open_worker(exercise_folder, course.transfer, plan, SMOKE_BUDGET_S, sandbox=sandbox_mode,
                                    output_dir=out) as worker:
            yield worker, Path(out), base


def _value(result) -> dict:
    """The driver's report, or StudentError with the message of what failed."""
    if not result.ok and result.kind == "grader":
        raise GraderError(result.message)
    if not result.ok:
        printed = cnn_sandbox.without_backend_noise(result.stdout).strip()
        raise StudentError(result.message + (f"\nYour code printed:\n{printed[-2000:]}" if printed else ""),
                           result.kind or "exception")
    if not isinstance(result.value, dict):
        raise StudentError("the check could not read what your code produced", "protocol")
    return result.value


@pytest.fixture(scope="module")
def built(transfer_worker):
    """build_transfer_model(base, 5)'s summary on a random batch."""
    worker, _, base = transfer_worker
    summary = _value(worker.call_driver(tr_sandbox.DRIVER, "summary", "transfer", base, BATCH))
    if summary.get("problem"):
        raise StudentError(str(summary["problem"]), "transfer")
    return summary


def _names(layers, **where) -> list[str]:
    return [row["name"] for row in layers if all(row.get(k) == v for k, v in where.items())]


def test_output_shape(built):
    """the model maps (N, 28, 28, 1) images to (N, 5) finite outputs"""
    shape = built.get("output_shape")
    assert shape == [BATCH, tr_sandbox.NUM_CLASSES], (
        f"for {BATCH} images the model returned shape {tuple(shape or ())}; expected ({BATCH}, 5): the new head "
        "must have num_classes units (build_transfer_model's argument), one per target class")
    assert built.get("finite") is True, "the model's outputs are not finite numbers (nan or inf)"


def test_reuses_the_base_convolutions(built):
    """the model reuses the base's convolution layers (by name, with their pretrained weights)"""
    have = set(_names(built["layers"], from_base=True))
    missing = [n for n in tr_sandbox.BASE_CONV_LAYERS if n not in have]
    assert not missing, (f"your model does not contain the base's layer(s) {', '.join(missing)}: build on "
                         "base_model's own layers (base_model.get_layer(...).output), not new or copied ones")


def test_base_classifier_dropped(built):
    """the base's source-task classifier is not part of the model"""
    assert tr_sandbox.BASE_CLASSIFIER not in _names(built["layers"]), (
        f"your model keeps the base's classifier {tr_sandbox.BASE_CLASSIFIER} (it scores the source classes 0-4): "
        "cut the base at its features (base_flatten) and put a new Dense head on them")


def test_base_layers_frozen(built):
    """build_transfer_model freezes the base's layers (trainable = False)"""
    trainable = [row["name"] for row in built["layers"] if row["from_base"] and row["trainable"]
                 and row["name"] in tr_sandbox.BASE_CONV_LAYERS]
    assert not trainable, (f"the base's layer(s) {', '.join(trainable)} are trainable in the model "
                           "build_transfer_model returns: set layer.trainable = False on the base's layers, so that "
                           "training on a few images changes only the new head")


def test_builtin_layers_only(built):
    """uses only built-in Keras layers (the grader cannot load a Lambda layer or your own classes)"""
    custom = built.get("custom") or []
    assert not custom, f"your model uses {custom[0]}, which the grader cannot load safely; use built-in Keras layers"


def synthetic_images(n_per_class: int, seed: int = 0):
    """uint8 (5 * n, 28, 28) noise with a bright bar whose row says the class, and the labels."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(5), n_per_class)
    x = rng.integers(0, 60, size=(len(y), 28, 28))
    for k in range(5):
        x[y == k, 3 + 4 * k: 6 + 4 * k, 4:24] += 180
    return x.astype(np.uint8), y.astype(np.int64)


def test_short_fine_tune(transfer_worker):
    """fine_tune trains on 25 small images, returns the History and the model can be saved"""
    worker, out, base = transfer_worker
    x, y = synthetic_images(5)
    xv, yv = synthetic_images(4, seed=1)
    report = _value(worker.call_driver(tr_sandbox.DRIVER, "train", "transfer", base, x, y, xv, yv,
                                       out_dir=worker.output_path, budget_s=SMOKE_BUDGET_S,
                                       grace_s=cnn_sandbox.grace_seconds(SMOKE_BUDGET_S)))
    if report.get("problem"):
        raise StudentError(str(report["problem"]), "transfer")
    assert report.get("finished") and not report.get("stopped_by_budget"), (
        f"fine_tune did not return within {SMOKE_BUDGET_S:g} s on 25 images; use fewer epochs")
    assert report.get("save_error") is None, f"the trained model could not be saved: {report['save_error']}"
    saved = out / "model.keras"
    assert saved.is_file() and os.path.getsize(saved) > 0, "no model file was saved"
    losses = (report.get("history") or {}).get("loss") or []
    assert report.get("returned_history") is True and losses, (
        f"fine_tune returned {report.get('returned')}, not the History of model.fit (with a 'loss')")
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses), f"the training loss is not finite: {losses[:5]}"
