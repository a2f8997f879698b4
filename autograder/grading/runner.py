"""Run the grading suites on one submission in a fresh trusted pytest process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.course.config import EXERCISES, KERAS_EXERCISES

SUITES = Path(__file__).resolve().parents[1] / "suites"
# The trusted process imports this very copy of the grader (the project's, or an unpacked
# student bundle's), first on sys.path; -I keeps PYTHONPATH, user site and the cwd out.
# On Linux it dies with its parent (PR_SET_PDEATHSIG), so a killed `dlgrade grade` leaves
# no orphaned grading behind. --tb=line: the plugin records its own failure details, and
# pytest's long tracebacks (source parsing per failure) cost more than the tests themselves.
# Once pytest is done (the results are written), the exit handlers run and the process ends
# without tearing down its modules (a fifth of a second per run, for nothing).
_BOOT = (
    "import atexit, os, sys\n"
    "try:\n"
    "    import ctypes, signal\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "    if os.getppid() != int(sys.argv[1]): os._exit(1)\n"
    "except Exception: pass  # not Linux: no PR_SET_PDEATHSIG\n"
    "del sys.argv[1]\n"
    "sys.path.insert(0, sys.argv.pop(1)); import pytest; status = int(pytest.main(sys.argv[1:]))\n"
    "atexit._run_exitfuncs(); sys.stdout.flush(); sys.stderr.flush(); os._exit(status)"
)


FORK = "DLGRADE_TRUSTED_FORK"  # "1": the session is forked from a preloaded server (local slots)
# Grading slots already take a core each, and dlref's arrays are small: numpy's BLAS threads in a
# session would only start up and spin (about 5% of its CPU). Not for Keras sessions (their evaluator).
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


class GradingFailed(RuntimeError):
    """The grader itself could not produce results for a submission."""


def suite_files(exercises: list[str], hidden: bool) -> list[Path]:
    """The public (and, for grading, hidden) suite files of these exercises that exist."""
    kinds = ("public", "hidden") if hidden else ("public",)
    files = [SUITES / kind / f"test_{ex}.py" for ex in exercises for kind in kinds]
    return [f for f in files if f.exists()]


def trusted_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the trusted process: nothing that changes Python's import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST_", "DLGRADE_"))}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra or {})
    return env


def run_suites(
    submission: Path,
    exercises: list[str] | None = None,
    *,
    hidden: bool,
    sandbox: str = "auto",
    course: Path | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> dict:
    """Grade `submission` with the chosen suites; returns the plugin's results dict.

    `env`: extra DLGRADE_* settings for the trusted process (e.g. DLGRADE_WORKER_UID).
    """
    files = suite_files(list(exercises or EXERCISES), hidden)
    if not files:
        raise GradingFailed(f"no suites for exercises {', '.join(exercises or EXERCISES)}")
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        results = Path(tmp) / "results.json"
        cmd = [
            sys.executable, "-I", "-c", _BOOT, str(os.getpid()), str(SUITES.parent.parent), "-p", "autograder.suites.plugin",
            "-c", str(SUITES / "pytest.ini"), "--rootdir", str(SUITES), "-q", "--no-header", "--tb=line",
            "--submission", str(Path(submission).resolve()), "--results", str(results), "--sandbox", sandbox,
            *map(str, files),
        ]  # fmt: skip
        extra = dict(env or {})
        if not set(KERAS_EXERCISES) & set(exercises or EXERCISES):
            for key, value in ONE_THREAD.items():
                extra.setdefault(key, os.environ.get(key, value))
        if course:
            extra["DLGRADE_COURSE"] = str(Path(course).resolve())
        code = output = None
        if extra.pop(FORK, "") == "1":  # a session forked from the run's preloaded server (trusted_fork.py)
            from autograder.grading import trusted_fork

            log = Path(tmp) / "session.log"
            try:
                code = trusted_fork.run(cmd[cmd.index("-p"):], trusted_env(extra), tmp, str(log),
                                        str(SUITES.parent.parent), timeout,
                                        trusted_env(ONE_THREAD))
            except trusted_fork.ServerFailed:
                pass  # started as below
            else:
                if code is None:
                    raise GradingFailed(f"grading took longer than {timeout:.0f} s")
                output = log.read_text(errors="replace") if log.exists() else ""
        if output is None:
            try:
                proc = subprocess.run(
                    cmd, cwd=tmp, env=trusted_env(extra), capture_output=True, text=True, timeout=timeout
                )
            except subprocess.TimeoutExpired:
                raise GradingFailed(f"grading took longer than {timeout:.0f} s") from None
            code, output = proc.returncode, proc.stdout + proc.stderr
        if not results.exists():
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise GradingFailed(f"the grading run ended (exit {code}) without results:\n{tail}")
        data = json.loads(results.read_text())
        data["log"] = output[-20000:]
        return data
