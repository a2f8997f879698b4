"""The sandbox's vocabulary: resource limits, call results, failure kinds, the paths inside."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
# What runs inside the sandbox (worker, protocol, drivers) lives in autograder/inside/, copied into each stage.
HERE = Path(__file__).resolve().parent.parent / "inside"
PROJECT_ROOT = HERE.parent.parent
RUNTIME_FILES = ("worker.py", "confine.py", "protocol.py", "arguments.py")
# Top-level packages of the project that must never be importable in the sandbox.
HIDDEN_PACKAGES = ("dlref", "autograder", "solutions", "exercises", "tests")
SANDBOX_RUNTIME = "/opt/dlgrade"
SANDBOX_SUBMISSION = "/submission"
SANDBOX_OUTPUT = "/out"  # the only writable place besides /tmp, when a Worker has an output_dir
# /etc/alternatives holds only symlinks (Debian's alternatives system), and links under /usr pass
# through it: /usr/bin/cc, and /usr/local/cuda -> /etc/alternatives/cuda -> /usr/local/cuda-13.0,
# which XLA and TensorFlow follow to find ptxas. Without it those links dangle in the sandbox and a
# GPU backend cannot compile anything. The rest of /etc (host configuration) stays hidden.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
             "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives")
SUBMISSION_MAX_BYTES = 256 * MiB
SUBMISSION_MAX_ENTRIES = 10_000
# "output" is not produced here: it is for suites that fail a call because it printed. "grader":
# the worker could not be started (before any student code runs): the grader's failure, never a score.
KINDS = ("exception", "not_implemented", "import_error", "missing_function", "timeout", "cpu_time",
         "crashed", "memory", "output", "protocol", "too_large", "not_submitted",
         "unserializable", "grader")
_WORKER_KINDS = {"exception", "not_implemented", "import_error", "missing_function",
                 "not_submitted", "unserializable", "too_large", "memory", "exit", "protocol", "cpu_time"}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process; sizes in bytes, times in seconds.

    `address_space`, `cpu_seconds`, `processes` and `file_size` are rlimits of
    the worker process (None: leave the inherited limit, e.g. for TensorFlow,
    which reserves far more address space than it uses).
    """

    address_space: int | None = 2 * GiB
    cpu_seconds: int | None = 60  # per worker process; restarted before it runs out
    processes: int | None = 64
    file_size: int | None = 64 * MiB
    tmp_size: int = 128 * MiB  # the sandbox's private /tmp (bwrap only)
    timeout: float = 10.0  # wall clock per call (and per module import)
    start_timeout: float = 30.0  # starting the sandbox and importing numpy
    output_bytes: int = 64 * KiB  # captured stdout+stderr kept per call
    output_flood: int = 16 * MiB  # printed beyond this in one call, the worker is killed (kind "output")
    message_bytes: int = 256 * MiB  # either direction

    def rlimits(self) -> dict:
        """The worker's rlimits, as confine.apply_limits takes them."""
        return {"as": self.address_space, "cpu": self.cpu_seconds, "nproc": self.processes, "fsize": self.file_size,
                "core": 0, "nofile": 256}


@dataclass
class CallResult:
    """Outcome of one call; `kind` is None on success, else one of KINDS."""

    ok: bool
    value: Any = None
    kind: str | None = None
    message: str = ""
    traceback: str = ""
    stdout: str = ""
    mutated: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    index: int | None = None  # for `Worker.map`: which call failed or mutated its arguments

    def to_dict(self) -> dict:
        """JSON-ready summary; the value itself is described, not included."""
        d = {k: getattr(self, k) for k in ("ok", "kind", "message", "traceback", "stdout",
                                            "mutated", "seconds", "warnings")}
        d["value_type"] = _describe(self.value) if self.ok else None
        return d


def _describe(value) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        return f"ndarray {value.dtype} {tuple(value.shape)}"
    return type(value).__name__
