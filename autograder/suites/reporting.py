"""Each test's result: its title, what failed and why (or whether the grader broke), its share of the points."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from autograder.course import config as course_config
from autograder.grading.results import TestResult, write_json_atomic
from autograder.suites.feedback import GraderError, Mismatch
from autograder.suites.session import _setting, _state, exercise_of, is_hidden
from autograder.suites.student import Student, StudentError

MAX_DETAILS = 3000  # characters of feedback kept per failed test
MAX_EXAMPLE = 1200  # characters of hypothesis' falsifying example kept


def title_of(item: pytest.Item) -> str:
    """The test's docstring's first line (instructors write it for students), else its name."""
    fn = getattr(item, "function", None)
    doc = (fn.__doc__ or "").strip().splitlines() if fn else []
    title = doc[0].rstrip(".") if doc else item.originalname if hasattr(item, "originalname") else item.name
    params = getattr(item, "callspec", None)
    if params and "{" in title:  # a title that names its parameters reads as a sentence
        try:
            return title.format(**params.params)
        except (KeyError, IndexError, ValueError):
            pass
    return f"{title} [{params.id}]" if params else title


def explain(excinfo: pytest.ExceptionInfo, printed: str = "") -> tuple[str, str, bool]:
    """(details, hint, grader_error) for a failed test; `printed`: what the student's code printed in it."""
    exc = excinfo.value
    hint = ""
    if isinstance(exc, Mismatch):
        details, hint = exc.message, exc.hint
    elif isinstance(exc, StudentError):
        details = exc.message
    elif isinstance(exc, AssertionError):
        details = str(exc) or "assertion failed"
    else:
        # An exception in the reference is the grader's fault; elsewhere, it came from handling
        # the student's result (the suites also have tests proving the solutions pass).
        origin = excinfo.traceback[-1].path if excinfo.traceback else ""
        if isinstance(exc, GraderError) or "dlref" in Path(str(origin)).parts:
            return f"grader error: {type(exc).__name__}: {exc}", "", True
        details = f"could not check your result: {type(exc).__name__}: {exc}"
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith("Falsifying example")]
    if notes and not (isinstance(exc, StudentError) and exc.kind in ("not_submitted", "not_implemented")):
        example = notes[0]
        if len(example) > MAX_EXAMPLE:
            example = example[:MAX_EXAMPLE] + " ..."
        details += "\nSmallest failing input found: " + example.removeprefix("Falsifying example: ")
    if printed and not isinstance(exc, StudentError):  # a StudentError shows its own call's output
        details += "\n" + printed
    if len(details) > MAX_DETAILS:
        details = details[:MAX_DETAILS] + "\n... (truncated)"
    return details, hint, False


class _Reporter:
    """Collects one TestResult per test and writes the scored results at the end."""

    def __init__(self, cfg: pytest.Config):
        self.cfg = cfg
        self.started = time.monotonic()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        failed_setup = report.when == "setup" and report.failed
        if report.when != "call" and not failed_setup:
            return
        if report.skipped:
            return
        self.record(item, report.passed, call.excinfo if report.failed else None)

    def record(self, item: pytest.Item, passed: bool, excinfo: pytest.ExceptionInfo | None) -> None:
        """Keep the result of a test that passed or failed (with `excinfo`, what it raised), in the round it ran in."""
        marker = item.get_closest_marker("weight")
        result = TestResult(
            exercise=exercise_of(item),
            test_id=f"{exercise_of(item)}::{'hidden' if is_hidden(item) else 'public'}::{item.name}",
            name=f"{exercise_of(item)}: {title_of(item)}",
            hidden=is_hidden(item),
            passed=passed,
            max_score=float(marker.args[0]) if marker else 1.0,  # the weight, until scored
        )
        if excinfo is not None:
            proxy = (getattr(item, "funcargs", None) or {}).get("student")
            printed = proxy.printed_text() if isinstance(proxy, Student) else ""
            result.details, result.hint, result.grader_error = explain(excinfo, printed)
            result.kind = getattr(excinfo.value, "kind", "") if not result.grader_error else "grader"
        # Data for reports (e.g. the CNN's confusion matrix), from pytest's record_property.
        result.data = {k: v for k, v in item.user_properties}
        self.cfg.stash[_state]["tests"].append(result)
        self.cfg.stash[_state]["rounds"].append(self.cfg.stash[_state]["round"])

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        """No progress letter per test (the results file says it all): pytest flushes the log after each one."""
        category, _letter, _word = yield
        return category, "", ""

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.cfg.stash[_state]
        tests = score(state["tests"], state["course"], state["rounds"])
        path = _setting(self.cfg, "--results", "DLGRADE_RESULTS")
        if path:
            write_json_atomic(
                Path(path),
                {
                    "tests": [t.to_dict() for t in tests],
                    "seconds": round(time.monotonic() - self.started, 3),
                    "sandboxed": sandboxed(_setting(self.cfg, "--sandbox", "DLGRADE_SANDBOX", "auto")),
                    "exitstatus": int(exitstatus),
                    "replayed": state["replayed"],  # property tests passed on recorded examples (replay.py)
                    "rounds": state["rounds"],  # the round of views each test ran in (pytest_runtestloop)
                    "light": state["light"],  # tests run without pytest's protocol around them (rounds.py)
                    # forked from the preloaded server (grading/session_server.py), or a Python of its own
                    "session": "forked" if getattr(sys.modules.get("autograder.grading.session_server"), "FORKED", False)
                    else "started",
                    # views whose worker the session's launcher forked (sandbox/launcher.py)
                    "forked": getattr(getattr(state["workers"], "launcher", None), "forked", 0),
                },
                indent=None,  # read by the grader only (runner.run_suites)
            )


def sandboxed(mode: str) -> bool:
    """Whether workers of this run are sandboxed (every worker fixture resolves the mode the same way)."""
    from autograder.sandbox.client import bwrap_available

    return mode == "bwrap" or (mode == "auto" and bwrap_available())


def score(tests: list[TestResult], course: course_config.Course, rounds: list[int] | None = None) -> list[TestResult]:
    """Share each exercise's points among its tests by weight (course.toml overrides markers), per round of views."""
    rounds = rounds if rounds is not None and len(rounds) == len(tests) else [0] * len(tests)
    for t in tests:
        t.max_score = course.weight(t.exercise, t.test_id.rsplit("::", 1)[1].split("[")[0], t.max_score)
    totals: dict[tuple[int, str], float] = {}
    for k, t in zip(rounds, tests):
        totals[(k, t.exercise)] = totals.get((k, t.exercise), 0.0) + t.max_score
    for k, t in zip(rounds, tests):
        total = totals[(k, t.exercise)]
        t.max_score = course.exercise(t.exercise).points * t.max_score / total if total else 0.0
        t.score = t.max_score if t.passed else 0.0
    return tests
