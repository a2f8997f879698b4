"""Trusted side of the CNN task: data, the sandboxed training run, the safe load, the test-set score.

1. The grader loads Fashion-MNIST with dlref.data (train_limit/test_limit from course.toml)
   and splits off a seeded validation set; only train and validation cross into the sandbox,
   as plain arrays, and the dataset's directories are masked there.
2. ``cnn_driver.train`` builds and trains the student's model in the sandbox under the time
   budget and saves it as .keras in a directory of this process, bound at /out.
3. Once the sandbox is dead, the model file is copied out (a regular file, not a link, size
   capped), its archive and config are checked here without Keras (a Lambda layer or a class
   or function of the student's is refused with a clear message), and a separate trusted
   process (no student code: `keras.saving.load_model(safe_mode=True)`, a memory limit, CPU
   only) counts its parameters, lists its layers and predicts the test split, which never
   enters the sandbox. Accuracy, per-class accuracy and the confusion matrix come from those
   outputs here.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.sandbox import cnn as cnn_sandbox
from autograder.course import config as course_config
from autograder.suites.feedback import GraderError
from autograder.cnn.evaluate import NUM_CLASSES, Evaluation, evaluate_file, over_cap_message  # noqa: F401
from autograder.cnn.safety import (REFUSED_LAYERS, ModelRefused, check_archive, config_layers,  # noqa: F401
                                   read_regular_file, unsafe_objects)

VAL_FRACTION, SPLIT_SEED = 0.1, 0
CONV_LAYERS = {"Conv2D"}
POOLING_LAYERS = {"MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D"}


# --- data --------------------------------------------------------------------------------

@dataclass
class Splits:
    """uint8 images (N, 28, 28) and int64 labels (N,) of each split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_splits(cnn: course_config.Cnn, directory=None) -> Splits:
    """The first train_limit training images split 90/10 (seeded) and the first test_limit test images."""
    from dlref import data

    try:
        x, y = data.load_fashion_mnist("train", directory, limit=cnn.train_limit or None,
                                       downloader=None)
        x_test, y_test = data.load_fashion_mnist("test", directory, limit=cnn.test_limit or None,
                                                 downloader=None)
    except (FileNotFoundError, ValueError) as e:
        raise GraderError(f"the grader could not load Fashion-MNIST: {e}") from None
    x_train, y_train, x_val, y_val = data.train_val_split(x, y, VAL_FRACTION, SPLIT_SEED)
    as_labels = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
    return Splits(x_train, as_labels(y_train), x_val, as_labels(y_val), x_test, as_labels(y_test))


def dataset_paths_to_hide() -> tuple[str, ...]:
    """Where Fashion-MNIST may lie inside what the sandbox mounts (/usr, the Python trees)."""
    from dlref import data

    from autograder.sandbox.client import python_dirs

    places = [os.path.expanduser(d) for d in data.DEFAULT_DIRS]
    if os.environ.get(data.ENV_VAR):
        places.append(os.path.expanduser(os.environ[data.ENV_VAR]))
    mounted = ["/usr", *python_dirs()]
    out = []
    for p in places:
        real = os.path.realpath(p)
        if os.path.exists(real) and any(real == m or real.startswith(m.rstrip("/") + "/") for m in mounted):
            out.append(real)
    return tuple(sorted(set(out)))


# --- the sandboxed training run -------------------------------------------------------------

@dataclass
class TrainingRun:
    """What came out of the sandbox: the driver's report (untrusted) and the model file copied out."""

    budget_s: float
    plan: cnn_sandbox.DevicePlan
    report: dict = field(default_factory=dict)  # the driver's return value (student-controlled)
    failure: str = ""  # the student's code failed (raised, crashed, timed out): the message
    failure_kind: str = ""
    model_file: Path | None = None  # a trusted copy of the file to grade
    source: str = ""  # "model.keras" (train returned) or "checkpoint.keras" (the last epoch's)
    missing: str = ""  # why there is no model file
    wall_s: float = 0.0


def train_in_sandbox(submission, cnn: course_config.Cnn, splits: Splits, workdir: Path, *,
                     budget_s: float, plan: cnn_sandbox.DevicePlan, sandbox: str = "auto",
                     uid: int | None = None) -> TrainingRun:
    """Run the student's build_model + train in the sandbox; copy the resulting model file into `workdir`."""
    run = TrainingRun(budget_s=budget_s, plan=plan)
    out_dir = Path(tempfile.mkdtemp(prefix="out-", dir=workdir))
    started = time.monotonic()
    with cnn_sandbox.open_worker(submission, cnn, plan, budget_s, sandbox=sandbox, output_dir=out_dir,
                                 hide=dataset_paths_to_hide() if sandbox != "none" else (),
                                 uid=uid) as worker:
        result = worker.call_driver(
            cnn_sandbox.DRIVER, "train", "cnn", splits.x_train, splits.y_train, splits.x_val, splits.y_val,
            out_dir=worker.output_path, budget_s=budget_s, grace_s=cnn_sandbox.grace_seconds(budget_s))
    # The sandbox is gone (every process of it killed): nothing writes to out_dir any more.
    run.wall_s = time.monotonic() - started
    return collect_run(run, result, out_dir, workdir, cnn_sandbox.model_file_cap(cnn.max_params), "the CNN's",
                       "no trained model was saved (no epoch ended before training stopped)")


def collect_run(run: TrainingRun, result, out_dir: Path, workdir: Path, cap: int, task: str,
                nothing_saved: str) -> TrainingRun:
    """Fill `run` from a Keras lab's training driver reply (`result`, a CallResult), copy the model file it
    left in `out_dir` into `workdir` (a regular file under `cap` bytes) and remove `out_dir`.

    `task` names the lab in a grader failure ("the CNN's"); `nothing_saved` is why there is no model
    when the driver gave no reason.
    """
    if result.ok and isinstance(result.value, dict):
        run.report = result.value
    elif result.ok:
        run.failure, run.failure_kind = "the grader's training driver returned nothing usable", "protocol"
    elif result.kind == "grader":  # the training sandbox did not start: no student code ran
        raise GraderError(f"{task} training sandbox failed: {result.message}")
    else:
        run.failure, run.failure_kind = result.message, result.kind or "exception"
        printed = cnn_sandbox.without_backend_noise(result.stdout).strip()
        if printed:
            run.failure += f"\nYour code printed:\n{printed[-3000:]}"
    for name in ("model.keras", "checkpoint.keras"):
        try:
            data = read_regular_file(out_dir / name, cap)
        except FileNotFoundError:
            continue
        except ModelRefused as e:
            run.missing = str(e)
            break
        run.model_file = workdir / name
        run.model_file.write_bytes(data)
        run.source = name
        break
    else:
        problem = run.report.get("problem") or run.report.get("save_error")
        run.missing = f"no trained model was saved ({problem})" if problem else nothing_saved
    shutil.rmtree(out_dir, ignore_errors=True)
    return run


# --- scores and report data ---------------------------------------------------------------

def metrics(outputs: np.ndarray, labels: np.ndarray, output_logits: bool | None) -> dict:
    """Accuracy, per-class accuracy, confusion matrix (rows: true class, columns: predicted) and
    mean cross-entropy; rows with a non-finite output count as wrong."""
    from dlref.data import CLASS_NAMES

    outputs = np.asarray(outputs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    finite = np.isfinite(outputs).all(axis=1)
    if output_logits is False:
        probs = outputs
    else:  # logits (also when OUTPUT_LOGITS is missing: argmax does not change)
        shifted = outputs - np.where(finite, outputs.max(axis=1, initial=-np.inf), 0.0)[:, None]
        e = np.exp(np.where(finite[:, None], shifted, 0.0))
        probs = e / e.sum(axis=1, keepdims=True)
    pred = np.where(finite, np.argmax(np.where(finite[:, None], probs, 0.0), axis=1), -1)
    correct = pred == labels
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    valid = pred >= 0
    np.add.at(confusion, (labels[valid], pred[valid]), 1)
    per_class = {}
    for k, name in enumerate(CLASS_NAMES):
        mask = labels == k
        per_class[name] = float(correct[mask].mean()) if mask.any() else None
    picked = probs[np.arange(len(labels)), labels] if len(labels) else np.zeros(0)
    with np.errstate(invalid="ignore"):
        loss = float(np.mean(-np.log(np.clip(picked, 1e-7, 1.0)))) if finite.all() and len(labels) else None
    return {"accuracy": float(correct.mean()) if len(labels) else 0.0, "per_class_accuracy": per_class,
            "confusion_matrix": confusion.tolist(), "class_names": list(CLASS_NAMES),
            "test_loss": loss, "non_finite_outputs": int((~finite).sum()), "test_images": int(len(labels))}


def accuracy_steps(thresholds: list[float], per_interval: int = 2) -> list[float]:
    """Accuracies at which one more equal share of the accuracy points is earned.

    course.toml's thresholds give 0 at the first and full credit at the last, linear in between;
    pass/fail tests make that a staircase: `per_interval` equal steps inside each interval.
    [0.70, 0.85, 0.91] -> [0.775, 0.85, 0.88, 0.91].
    """
    steps = []
    for lo, hi in zip(thresholds, thresholds[1:]):
        steps += [round(lo + (hi - lo) * (i + 1) / per_interval, 4) for i in range(per_interval)]
    return steps


@dataclass
class Graded:
    """Everything the hidden suite's tests judge, with the report data."""

    run: TrainingRun
    evaluation: Evaluation | None
    scores: dict | None  # metrics(), when the model was evaluated
    max_params: int

    @property
    def model_problem(self) -> str:
        """Why there is no usable model ('' if there is one)."""
        if self.run.model_file is None:
            return self.run.failure or self.run.missing or "no trained model was saved"
        if self.evaluation and self.evaluation.refused:
            return self.evaluation.refused
        return ""

    def report(self) -> dict:
        """JSON data for reports (record_property('cnn', ...)).

        What came from the sandbox (device, seconds, epochs, history...) is the student's to
        forge: it is only shown, after being cut down to the expected types and sizes.
        """
        r = self.run.report
        data = {
            "budget_s": self.run.budget_s, "device_requested": "gpu" if self.run.plan.gpu else "cpu",
            "device": _text(r.get("device")) or self.run.plan.description,
            "backend": _text(r.get("backend")) or self.run.plan.backend,
            "seconds": _number(r.get("seconds")), "epochs": _number(r.get("epochs")),
            "finished": r.get("finished") is True, "stopped_by_budget": r.get("stopped_by_budget") is True,
            "history": _history(r.get("history")), "returned": _text(r.get("returned")),
            "graded_file": self.run.source or None,
            "training_failure": self.run.failure or None, "problem": self.model_problem or None,
            "params": self.evaluation.params if self.evaluation else None,
            "layers": self.evaluation.layers if self.evaluation else [],
            "max_params": self.max_params, "wall_s": round(self.run.wall_s, 3),
            "evaluation_s": round(self.evaluation.seconds, 3) if self.evaluation else None,
        }
        if self.run.plan.note:
            data["device_note"] = self.run.plan.note
        if self.scores:
            data.update(self.scores)
        return _plain(data)


def _text(value, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _number(value) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _history(value) -> dict:
    """{metric: [float or None]} with at most 50 metrics of 10,000 epochs."""
    if not isinstance(value, dict):
        return {}
    return {str(k)[:100]: [_number(v) for v in vs[:10_000]] for k, vs in list(value.items())[:50]
            if isinstance(vs, list)}


def _plain(value, depth: int = 0):
    """JSON-safe copy (non-finite floats become None; student-provided strings are capped)."""
    if depth > 20:
        return None
    if isinstance(value, dict):
        return {str(k)[:100]: _plain(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in list(value)[:10_000]]
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (np.integer, np.floating)):
        return _plain(value.item(), depth)
    return str(value)[:2000]


def grade(submission, course: course_config.Course, *, sandbox: str = "auto", env=None,
          workdir: Path, uid: int | None = None) -> Graded:
    """The whole pipeline for one submission: settings, data, device, training, evaluation."""
    cnn = course.cnn
    plan = cnn_sandbox.plan_device(cnn_sandbox.requested_device(env), sandbox=sandbox, uid=uid)
    budget = plan.budget(cnn, cnn_sandbox.budget_override(env))
    if not os.path.lexists(Path(submission) / "cnn.py"):  # nothing to train: no data loaded, no sandbox
        run = TrainingRun(budget_s=budget, plan=plan, failure="cnn.py was not submitted",
                          failure_kind="not_submitted", missing="cnn.py was not submitted")
        return Graded(run=run, evaluation=None, scores=None, max_params=cnn.max_params)
    splits = load_splits(cnn)
    run = train_in_sandbox(submission, cnn, splits, workdir, budget_s=budget, plan=plan, sandbox=sandbox,
                           uid=uid)
    evaluation = scores = None
    if run.model_file is not None:
        evaluation = evaluate_file(run.model_file, splits.x_test, cnn.max_params,
                                   timeout_s=max(180.0, budget) + 120.0, eval_seconds=max(120.0, budget))
        if not evaluation.refused:
            declared = run.report.get("output_logits")
            logits = declared.get("value") if isinstance(declared, dict) else None
            scores = metrics(evaluation.outputs, splits.y_test, logits if isinstance(logits, bool) else None)
    return Graded(run=run, evaluation=evaluation, scores=scores, max_params=cnn.max_params)
