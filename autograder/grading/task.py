"""One grading task: a trusted pytest session over prepared views, run in a pool slot or on a Dask worker."""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from autograder.grading.results import SubmissionResult, TestResult
from autograder.grading.runner import GradingFailed, run_suites
from autograder.grading.submissions import unpack
from autograder.grading import options

EXAMPLES_KEY = "DLGRADE_EXAMPLES_KEY"  # a task's recordings key, when it runs on another machine


def failed(student: str, reason: str, sandboxed: bool = True) -> dict:
    """The results dict of a submission that could not be graded."""
    return SubmissionResult(student=student, could_not_grade=reason, sandboxed=sandboxed).to_dict()


def grade_task(student: str, source, exercises: list[str], sandbox: str, course_toml: str,
               timeout: float | None, env: dict[str, str]) -> dict:
    """Grade one prepared submission (a folder path, or packed files from another machine); never raises.

    Runs in a local pool slot or on a Dask worker; returns the results dict plus the grader
    version of the machine it ran on.
    """
    from autograder.grading.pool import worker_uid

    if EXAMPLES_KEY in env:  # on a machine of a Dask cluster: its own recordings
        env = dict(env)
        env["DLGRADE_EXAMPLES"] = str(Path(tempfile.gettempdir()) / f"dlgrade-examples-{env.pop(EXAMPLES_KEY)}")
    start = time.monotonic()
    result = SubmissionResult(student=student, sandboxed=sandbox != "none")
    rounds = None
    try:
        with tempfile.TemporaryDirectory(prefix="dlgrade-task-") as tmp, worker_uid() as uid:
            if sandbox == "bwrap":
                from autograder.sandbox.client import bwrap_problem

                problem = bwrap_problem()
                if problem:
                    raise GradingFailed(f"cannot sandbox student code on {os.uname().nodename}: {problem}")
            if isinstance(source, dict):
                folder = Path(tmp) / "submission"
                folder.mkdir()
                unpack(source, folder)
            else:
                folder = Path(source)
            course = Path(tmp) / "course.toml"
            course.write_text(course_toml)
            data = run_suites(folder, exercises, hidden=True, sandbox=sandbox, course=course, timeout=timeout,
                              env={**env, "DLGRADE_WORKER_UID": str(uid)})
            result.tests = [TestResult.from_dict(t) for t in data["tests"]]
            rounds = data.get("rounds")
            result.sandboxed = data.get("sandboxed", result.sandboxed)
            broken = [t.name for t in result.tests if t.grader_error]
            if broken:
                result.could_not_grade = f"the grader failed on {len(broken)} test(s): {', '.join(broken[:3])}"
            elif not result.tests:
                result.could_not_grade = "the grading run produced no test results"
    except GradingFailed as e:
        result.could_not_grade = str(e)
    except Exception as e:  # a new way to break the grader: this student only, never the batch
        result.could_not_grade = f"the grader failed: {type(e).__name__}: {e}"
    result.execution_time = time.monotonic() - start
    out = result.to_dict()
    out["extra_data"]["grader_version"] = options.grader_version()
    if rounds and len(rounds) == len(out["tests"]):
        out["extra_data"]["rounds"] = rounds  # whose view each test graded (Batch.collect)
    return out


def read_result(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def up_to_date(result: dict | None, key: dict) -> bool:
    """Whether a stored result was graded from the same files, grader, course.toml and choices, completely."""
    if not result:
        return False
    extra = result.get("extra_data", {})
    return extra.get("grading") == key and not extra.get("could_not_grade") and bool(result.get("tests"))
