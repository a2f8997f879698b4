"""What a run of `dlgrade grade` grades with: the grader's version, course.toml, the CNN's options, time limits."""
from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import os
import sys
from pathlib import Path

from autograder.course.config import Course, default_path

PACKAGE_DIRS = ("autograder", "dlref")
SOURCE_SUFFIXES = (".py", ".json", ".ini", ".toml")


@functools.lru_cache(maxsize=None)
def grader_version() -> str:
    """The package version and a hash of the grader's and the reference's sources."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("dlgrade")
    except PackageNotFoundError:
        base = "0+unknown"
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in PACKAGE_DIRS:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file():
                h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{base}+{h.hexdigest()[:16]}"


def course_hash(course: Course) -> str:
    """Hash of the parsed course.toml (comments and layout do not count)."""
    text = json.dumps(dataclasses.asdict(course), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def course_text(args: argparse.Namespace) -> str:
    """The course.toml the run uses, as text (shipped to every grading task; '' means the defaults)."""
    path = Path(args.course) if args.course else default_path()
    return path.read_text() if path.is_file() else ""


def suite_env(args: argparse.Namespace) -> dict[str, str]:
    """DLGRADE_* settings passed to every grading process (options of other commands may add to it)."""
    from autograder.sandbox.cnn import ENV_BUDGET, ENV_DEVICE

    env = {}
    if getattr(args, "cnn_budget", None) is not None:
        env[ENV_BUDGET] = repr(float(args.cnn_budget))
    if getattr(args, "device", None) is not None:
        env[ENV_DEVICE] = args.device
    from autograder.sandbox.launcher import ENV as FORK_WORKERS

    if os.environ.get(FORK_WORKERS) == "0":  # workers of views not forked (sandbox/launcher.py)
        env[FORK_WORKERS] = "0"
    return env


def submission_timeout(args: argparse.Namespace, course: Course, exercises: list[str]) -> float:
    """course.toml's submission_timeout_s, raised when the CNN's training budget needs more.

    The CNN alone takes its budget (plus a grace period) to train and up to about as long again
    (and a few minutes) to start TensorFlow, run the public checks and evaluate the model.
    """
    timeout = course.limits.submission_timeout_s
    if "cnn" in exercises:
        budget = getattr(args, "cnn_budget", None) or max(course.cnn.budget_cpu_s, course.cnn.budget_gpu_s)
        timeout = max(timeout, 2 * budget + 600.0)
    if "transfer" in exercises:  # fine-tuning, then the evaluator's from-scratch run
        budget = getattr(args, "cnn_budget", None) or max(course.transfer.budget_cpu_s, course.transfer.budget_gpu_s)
        timeout = max(timeout, 4 * budget + 600.0)
    return timeout


def check_cnn_options(args: argparse.Namespace, exercises: list[str]) -> None:
    """ValueError for a bad --cnn-budget, or --device gpu on a machine without an NVIDIA GPU."""
    budget = getattr(args, "cnn_budget", None)
    if budget is not None and not 0 < budget < 1e6:
        raise ValueError(f"--cnn-budget {budget:g}: expected a number of seconds > 0")
    if _keras(exercises) and getattr(args, "device", None) == "gpu" and not getattr(args, "dask", None):
        from autograder.sandbox.cnn import nvidia_devices

        if not nvidia_devices():
            raise ValueError("--device gpu was requested, but this machine has no NVIDIA GPU (no /dev/nvidia* "
                             "device files); grade with --device cpu or --device auto")


def device_env(args: argparse.Namespace, exercises: list[str], sandbox: str) -> dict[str, str]:
    """The CNN's device, probed once here before anyone is graded, for every grading process.

    DeviceError when --device gpu cannot be had (the run stops before grading anyone). With
    --device auto and a GPU that cannot train (say, no ptxas in the sandbox), the CNN trains on
    the CPU and the reason is printed here and noted in every CNN result. On a Dask cluster
    each machine probes its own devices, so nothing is resolved here.
    """
    if not _keras(exercises) or getattr(args, "dask", None):
        return {}
    from autograder.sandbox.cnn import ENV_PLAN, plan_device

    plan = plan_device(getattr(args, "device", None) or "auto", sandbox=sandbox)
    if plan.note:
        print(f"dlgrade grade: the GPU is not used: {plan.note}; the CNN trains on the CPU", file=sys.stderr)
    return {ENV_PLAN: plan.to_env()}


def _keras(exercises: list[str]) -> bool:
    """Whether any of `exercises` trains a Keras model (config.KERAS_EXERCISES)."""
    from autograder.course.config import KERAS_EXERCISES

    return bool(set(KERAS_EXERCISES) & set(exercises))


def options_of(args: argparse.Namespace) -> dict:
    """Command-line choices besides the exercises that change grades (recorded for --resume)."""
    return {k: getattr(args, k) for k in ("device", "cnn_budget") if getattr(args, k, None) is not None}
