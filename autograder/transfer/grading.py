"""Trusted side of the transfer task: data, the sandboxed run, the safe evaluation, and the rules judged.

1. The grader draws the few-shot split of Fashion-MNIST classes 5-9 (dlref.transfer_data.few_shot,
   course.toml's images_per_class and val_per_class) and sends it, with the shipped base model's
   bytes, into the sandbox; the dataset's directories are masked there.
2. ``transfer_driver.train`` runs the student's build_transfer_model(base, 5) and fine_tune under
   the budget and saves model.keras in a directory of this process.
3. The model file is copied out and checked without Keras (autograder/cnn/safety.py); a separate
   trusted process (autograder/transfer/evaluate.py) compares its base layers with the shipped
   base, predicts the test split's classes 5-9 (never in the sandbox), the training and validation
   images, and trains the from-scratch rival. Each rule below is a function of that evaluation.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.cnn.grading import TrainingRun as Run  # the same record: a Keras lab's training run
from autograder.cnn.grading import _history, _number, _plain, _text, collect_run, dataset_paths_to_hide
from autograder.course import config as course_config
from autograder.sandbox import cnn as cnn_sandbox
from autograder.sandbox import transfer as tr_sandbox
from autograder.suites.feedback import GraderError
from autograder.transfer.evaluate import Evaluation, evaluate_file, probabilities


@dataclass
class Data:
    """uint8 images (N, 28, 28) and int64 labels 0..4 of the few-shot split and the target test set."""

    x_small: np.ndarray
    y_small: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_data(transfer: course_config.Transfer, directory=None) -> Data:
    """The few-shot split of the training split's classes 5-9 and the test split's classes 5-9."""
    from dlref import data, transfer_data

    try:
        x, y = data.load_fashion_mnist("train", directory, downloader=None)
        x_test, y_test = data.load_fashion_mnist("test", directory, limit=transfer.test_limit or None,
                                                 downloader=None)
    except (FileNotFoundError, ValueError) as e:
        raise GraderError(f"the grader could not load Fashion-MNIST: {e}") from None
    split = transfer_data.few_shot(x, y, transfer.images_per_class, transfer.val_per_class)
    return Data(*split, *transfer_data.target_test(x_test, y_test))


def train_in_sandbox(submission, transfer: course_config.Transfer, data: Data, workdir: Path, *, budget_s: float,
                     plan: cnn_sandbox.DevicePlan, sandbox: str = "auto", uid: int | None = None) -> Run:
    """Run the student's build_transfer_model + fine_tune in the sandbox; copy the model file into `workdir`."""
    run = Run(budget_s=budget_s, plan=plan)
    base = np.frombuffer(tr_sandbox.base_bytes(), dtype=np.uint8)
    out_dir = Path(tempfile.mkdtemp(prefix="out-", dir=workdir))
    started = time.monotonic()
    with tr_sandbox.open_worker(submission, transfer, plan, budget_s, sandbox=sandbox, output_dir=out_dir,
                                hide=dataset_paths_to_hide() if sandbox != "none" else (), uid=uid) as worker:
        result = worker.call_driver(tr_sandbox.DRIVER, "train", "transfer", base, data.x_small, data.y_small,
                                    data.x_val, data.y_val, out_dir=worker.output_path, budget_s=budget_s,
                                    grace_s=cnn_sandbox.grace_seconds(budget_s))
    run.wall_s = time.monotonic() - started
    return collect_run(run, result, out_dir, workdir, cnn_sandbox.model_file_cap(transfer.max_params),
                       "the transfer task's", "no trained model was saved")


def predictions(outputs: np.ndarray | None, labels: np.ndarray) -> np.ndarray | None:
    """(N,) the class of each row's largest output, -1 for a row with a non-finite output; None without (N, 5) outputs."""
    if outputs is None or outputs.ndim != 2 or outputs.shape != (len(labels), tr_sandbox.NUM_CLASSES):
        return None
    finite = np.isfinite(outputs).all(axis=1)
    return np.where(finite, np.argmax(np.where(finite[:, None], outputs, -np.inf), axis=1), -1)


def accuracy(outputs: np.ndarray | None, labels: np.ndarray) -> float | None:
    """Share of rows whose largest finite output is the label; None without (N, 5) outputs."""
    pred = predictions(outputs, labels)
    if pred is None:
        return None
    return float(np.mean(pred == labels)) if len(labels) else 0.0


def per_class_accuracy(outputs: np.ndarray | None, labels: np.ndarray) -> dict:
    """{target class name: accuracy on its test images (None without any)}; {} without (N, 5) outputs."""
    pred = predictions(outputs, labels)
    if pred is None:
        return {}
    return {name: float(np.mean(pred[labels == k] == k)) if np.any(labels == k) else None
            for k, name in enumerate(target_class_names())}


def target_class_names() -> list[str]:
    """Names of the target classes 5-9, in label order 0..4."""
    from dlref.data import CLASS_NAMES
    from dlref.transfer_data import TARGET_CLASSES

    return [CLASS_NAMES[k] for k in TARGET_CLASSES]


def cross_entropy(outputs: np.ndarray | None, labels: np.ndarray) -> float | None:
    """Mean -log p(label), p the rows if they are probabilities else their softmax; None without (N, 5) finite outputs."""
    if accuracy(outputs, labels) is None or not np.isfinite(outputs).all() or not len(labels):
        return None
    if probabilities(outputs):
        p = outputs
    else:
        e = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    return float(np.mean(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0))))


def declared_from_logits(config: dict) -> bool | None:
    """from_logits of the loss the model was last compiled with (compile_config), None when unknown."""
    loss = (config.get("compile_config") or {}).get("loss")
    if isinstance(loss, str):
        return False if "crossentropy" in loss else None  # Keras' string losses take probabilities
    if isinstance(loss, dict) and "crossentropy" in str(loss.get("class_name", "")).lower():
        value = (loss.get("config") or {}).get("from_logits", False)
        return value if isinstance(value, bool) else None
    return None


@dataclass
class Graded:
    """Everything the hidden suite's tests judge, with the report data."""

    transfer: course_config.Transfer
    run: Run
    evaluation: Evaluation | None = None
    data: Data | None = None

    @property
    def model_problem(self) -> str:
        """Why there is no model to judge ('' if there is one)."""
        if self.run.model_file is None:
            return self.run.failure or self.run.missing or "no trained model was saved"
        if self.evaluation and self.evaluation.refused:
            return self.evaluation.refused
        return ""

    def layer(self, name: str) -> dict | None:
        return next((row for row in self.evaluation.base_layers if row["name"] == name), None)

    def accuracies(self) -> dict:
        """Test, training, validation and from-scratch test accuracies (None where not available)."""
        ev, d = self.evaluation, self.data
        if ev is None or d is None or ev.refused:
            return {}
        return {"accuracy": accuracy(ev.outputs.get("test"), d.y_test),
                "train_accuracy": accuracy(ev.outputs.get("small"), d.y_small),
                "val_accuracy": accuracy(ev.outputs.get("val"), d.y_val),
                "scratch_accuracy": accuracy(ev.outputs.get("scratch"), d.y_test),
                "test_loss": cross_entropy(ev.outputs.get("test"), d.y_test),
                "val_loss": cross_entropy(ev.outputs.get("val"), d.y_val)}

    def output_problem(self) -> str:
        y = self.evaluation.outputs.get("test")
        if y is None or y.ndim != 2 or y.shape[1] != tr_sandbox.NUM_CLASSES:
            shape = tuple(y.shape[1:]) if y is not None else ()
            return (f"your model's output per image has shape {shape}, expected ({tr_sandbox.NUM_CLASSES},): "
                    "the new head must have num_classes units (build_transfer_model's argument)")
        return ""

    def report(self) -> dict:
        """JSON data for the reports; what came from the sandbox is shown only, cut to types and sizes."""
        r, ev = self.run.report, self.evaluation
        data = {"budget_s": self.run.budget_s, "device": self.run.plan.description,
                "device_note": getattr(self.run.plan, "note", "") or None,
                "backend": _text(r.get("backend")) or self.run.plan.backend, "seconds": _number(r.get("seconds")),
                "finished": r.get("finished") is True, "stopped_by_budget": r.get("stopped_by_budget") is True,
                "history": _history(r.get("history")), "graded_file": self.run.source or None,
                "training_failure": self.run.failure or None, "problem": self.model_problem or None,
                "params": ev.params if ev else None, "base_layers": ev.base_layers if ev else [],
                "scratch_error": (ev.scratch_error or None) if ev else None,
                "test_images": int(len(self.data.y_test)) if self.data else None,
                "wall_s": round(self.run.wall_s, 3), "evaluation_s": round(ev.seconds, 3) if ev else None}
        acc = self.accuracies()
        data.update(acc)
        transfer, scratch = acc.get("accuracy"), acc.get("scratch_accuracy")
        data.update(min_margin=self.transfer.min_margin, max_base_drift=self.transfer.max_base_drift,
                    margin=transfer - scratch if transfer is not None and scratch is not None else None,
                    per_class_accuracy=per_class_accuracy(ev.outputs.get("test"), self.data.y_test)
                    if acc else {}, class_names=target_class_names())
        return _plain(data)


def grade(submission, course: course_config.Course, *, sandbox: str = "auto", env=None, workdir: Path,
          uid: int | None = None) -> Graded:
    """The whole pipeline for one submission: settings, data, device, training, evaluation."""
    transfer = course.transfer
    plan = cnn_sandbox.plan_device(cnn_sandbox.requested_device(env), sandbox=sandbox, uid=uid)
    budget = tr_sandbox.budget(transfer, plan, cnn_sandbox.budget_override(env))
    if not (Path(submission) / "transfer.py").exists():
        run = Run(budget_s=budget, plan=plan, failure="transfer.py was not submitted", failure_kind="not_submitted",
                  missing="transfer.py was not submitted")
        return Graded(transfer, run)
    data = load_data(transfer)
    run = train_in_sandbox(submission, transfer, data, workdir, budget_s=budget, plan=plan, sandbox=sandbox, uid=uid)
    evaluation = None
    if run.model_file is not None:
        arrays = {"x_test": data.x_test, "x_small": data.x_small, "y_small": data.y_small, "x_val": data.x_val,
                  "y_val": data.y_val}
        evaluation = evaluate_file(run.model_file, tr_sandbox.BASE_FILE, arrays, transfer.max_params,
                                   transfer.scratch_epochs, timeout_s=max(300.0, 4 * budget))
    return Graded(transfer, run, evaluation, data)


__all__ = ["Data", "Evaluation", "Graded", "Run", "accuracy", "cross_entropy", "declared_from_logits", "grade", "load_data",
           "per_class_accuracy", "predictions", "probabilities", "target_class_names", "train_in_sandbox"]
