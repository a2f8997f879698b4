"""The transfer task's sandboxed worker and its shipped base model (stdlib only, no reference code).

The base CNN (trained on Fashion-MNIST classes 0-4 by `dlgrade release`) lies in
autograder/course/data/ with a JSON of its metadata; it ships with the grader and the student
bundle. The training worker gets its bytes as an array (the sandbox sees no grader files) and
the few-shot images, runs the student's build_transfer_model + fine_tune through
``transfer_driver.py`` under the budget, and leaves model.keras in its output directory.
The device plan, backend and GPU sharing are the CNN's (autograder/sandbox/cnn.py).
"""
from __future__ import annotations

import json
from pathlib import Path

from autograder.course import config as course_config
from autograder.sandbox import cnn as cnn_sandbox
from autograder.sandbox.client import KiB, MiB, Limits, Worker

DRIVER = "transfer_driver"
DATA = Path(__file__).resolve().parents[1] / "course" / "data"
BASE_FILE = DATA / "transfer_base.keras"
BASE_META = DATA / "transfer_base.json"
NUM_CLASSES = 5
BASE_CONV_LAYERS = ("base_conv1", "base_conv2")  # dlref.transfer.CONV_LAYERS
BASE_CLASSIFIER = "base_logits"  # dlref.transfer.CLASSIFIER


class BaseMissing(RuntimeError):
    """The shipped base model is missing or unreadable (`dlgrade release` writes it)."""


def base_metadata(meta: Path = BASE_META) -> dict:
    """The base's recorded metadata (seed, epochs, source accuracy, layer names, sha256)."""
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError) as e:
        raise BaseMissing(f"the transfer base model's metadata {meta} cannot be read ({type(e).__name__}: {e}); "
                          "run `dlgrade release` to train and save it") from None


def base_bytes(path: Path = BASE_FILE) -> bytes:
    """The shipped base model file's bytes; BaseMissing when it is not there."""
    try:
        return path.read_bytes()
    except OSError as e:
        raise BaseMissing(f"the transfer base model {path} cannot be read ({e.strerror}); run `dlgrade release` "
                          "to train and save it") from None


def budget(transfer: course_config.Transfer, plan: cnn_sandbox.DevicePlan, override: float | None = None) -> float:
    """The training budget in seconds: the override (--cnn-budget), else course.toml's [transfer]."""
    if override is not None:
        return override
    return transfer.budget_gpu_s if plan.gpu else transfer.budget_cpu_s


def worker_limits(transfer: course_config.Transfer, budget_s: float) -> Limits:
    """[transfer]'s limits for the training worker; one call may last budget + grace + a margin."""
    return Limits(
        address_space=transfer.memory_mb * MiB if transfer.memory_mb else None,
        cpu_seconds=None,  # TensorFlow uses every core: the wall clock is the limit
        processes=transfer.max_processes,
        file_size=cnn_sandbox.model_file_cap(transfer.max_params),
        tmp_size=256 * MiB,
        timeout=budget_s + cnn_sandbox.grace_seconds(budget_s) + cnn_sandbox.CALL_MARGIN_S,
        start_timeout=60.0,
        output_bytes=64 * KiB,
    )


def open_worker(submission, transfer: course_config.Transfer, plan: cnn_sandbox.DevicePlan, budget_s: float, *,
                sandbox: str = "auto", output_dir=None, hide: tuple[str, ...] = (), uid: int | None = None) -> Worker:
    """The training worker for `submission` (use as a context manager)."""
    return Worker(submission, worker_limits(transfer, budget_s), sandbox, uid=cnn_sandbox._uid(uid),
                  drivers=(DRIVER + ".py",), output_dir=output_dir,
                  env=cnn_sandbox._threads_env(plan.backend, plan.gpu), devices=plan.devices, hide=hide)
