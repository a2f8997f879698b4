"""The grading pytest plugin: the `student`, `course` and `tol` fixtures, weights, and the results file.

Loaded with `-p autograder.suites.plugin` into a trusted pytest process that never imports student
code: the `student` fixture proxies calls to a sandboxed worker. Settings resolve
CLI option -> environment variable -> course.toml.
"""
from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from autograder.course import config as course_config
from autograder.suites.feedback import GraderError, Mismatch
from autograder.grading.results import TestResult, write_json_atomic
from autograder.grading.reuse import round_exercises, rounds_of
from autograder.suites.student import Student, StudentError

MAX_DETAILS = 3000  # characters of feedback kept per failed test
MAX_EXAMPLE = 1200  # characters of hypothesis' falsifying example kept

_state = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlgrade")
    group.addoption("--submission", help="directory holding the student's exercise files ($DLGRADE_SUBMISSION)")
    group.addoption("--results", help="write the graded tests as JSON here ($DLGRADE_RESULTS)")
    group.addoption("--sandbox", choices=("auto", "bwrap", "none"), help="worker sandbox ($DLGRADE_SANDBOX; default auto)")
    group.addoption("--course", help="course.toml to use ($DLGRADE_COURSE; default: the project's)")
    group.addoption("--isolate-exercises", choices=("1", "views"),
                    help="one worker per exercise, seeing only that exercise's view of the submission "
                         "(see autograder/grading/reuse.py); 'views': the submission is a folder of views, one "
                         "per exercise ($DLGRADE_ISOLATE)")
    group.addoption("--student-check", action="store_const", const="1",
                    help="the student's own checks (dlgrade check): a busy loop is stopped after course.toml's "
                         "limits.check_call_cpu_s of CPU time, and a function that hung is not called again "
                         "($DLGRADE_CHECK=1)")
    group.addoption("--examples", help="folder where hypothesis tests that pass record their examples, and "
                                       "replay them for later submissions (see autograder/grading/replay.py; "
                                       "$DLGRADE_EXAMPLES; default: off)")


def _setting(cfg: pytest.Config, option: str, env: str, default: str | None = None) -> str | None:
    value = cfg.getoption(option)
    return value if value is not None else os.environ.get(env, default)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "weight(w): this test's share of its exercise's points (default 1)")
    config.addinivalue_line("markers", "slow_calls: this test's calls may rightly run long (training): "
                                       "no CPU-time stop per call in dlgrade check")
    course = course_config.load(_setting(config, "--course", "DLGRADE_COURSE"))
    config.stash[_state] = {"course": course, "tests": [], "rounds": [], "round": 0, "workers": None,
                            "replayed": 0}
    settings.register_profile(
        "grading",
        derandomize=True,  # same examples every run: the same submission gets the same score
        database=None,
        deadline=None,
        max_examples=course.grading.max_examples,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,  # one clear failure per test, not an exception group
        # The explain phase replays hundreds of variants of every failing example to annotate
        # it: seconds per failed test, for a note students don't see.
        phases=[p for p in Phase if p is not Phase.explain],
    )
    settings.load_profile("grading")
    _no_local_constants()
    config.pluginmanager.register(_Reporter(config), "dlgrade-reporter")
    examples = _examples_folder(config)
    if examples is not None:
        config.pluginmanager.register(_Recorder(examples), "dlgrade-recorder")


def _no_local_constants() -> None:
    """Stop hypothesis from mixing literals of the "local" modules imported so far into its examples.

    Hypothesis (6.131+) draws now and then from the constants of every non-site-packages module
    in sys.modules. Here those are the grader's own modules, some imported only when a test
    fails (the mistakes behind a hint), so a test's examples would depend on the outcomes of the
    tests before it (another student's, in a session that grades several views), and on whether
    the package is installed editable. Without them, a test's examples depend on the test alone.
    """
    try:
        from hypothesis.internal.conjecture import providers

        empty = providers.Constants()
    except (ImportError, AttributeError, TypeError):  # an older hypothesis: no local constants
        return
    if hasattr(providers, "_get_local_constants"):
        providers._get_local_constants = lambda: empty


@pytest.fixture(scope="session")
def course(request: pytest.FixtureRequest) -> course_config.Course:
    """The validated course.toml."""
    return request.config.stash[_state]["course"]


@pytest.fixture(scope="session")
def tol(course: course_config.Course) -> course_config.Tolerances:
    """Numerical tolerances from course.toml."""
    return course.tolerances


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> Path:
    """The folder of the student's files (never imported here: only workers read it)."""
    path = _setting(request.config, "--submission", "DLGRADE_SUBMISSION")
    if not path:
        raise pytest.UsageError("no submission: pass --submission DIR or set DLGRADE_SUBMISSION")
    return Path(path)


@pytest.fixture(scope="session")
def sandbox_mode(request: pytest.FixtureRequest) -> str:
    """'auto', 'bwrap' or 'none'."""
    return _setting(request.config, "--sandbox", "DLGRADE_SANDBOX", "auto")


class _Workers:
    """The session's workers: one for the whole submission, or one per exercise (isolated).

    Isolated, `submission` is either a student's folder, whose per-exercise views are made
    here (mode "1"), or already a folder of views, `<submission>/<exercise>/` (mode "views":
    `dlgrade grade` bundles views of several students into one session), or of rounds of views,
    `<submission>/<k>/<exercise>/` (the suites run once per round, see pytest_runtestloop).
    Each view's worker is killed, with anything it left running, before the next view's
    starts: one view's code can never slow down, or take processes from, another's.
    """

    def __init__(self, submission: Path, course: course_config.Course, sandbox: str, isolate: str, tmp: Path,
                 check: bool = False):
        self.submission, self.course, self.sandbox, self.isolate, self.tmp = submission, course, sandbox, isolate, tmp
        self.check = check  # dlgrade check: hangs stopped by CPU time, and said once per function
        self.current: tuple[tuple[int, str] | str, Student] | None = None
        self.workers: list = []
        self._files: dict | None = None
        self.rounds = rounds_of(submission) if isolate == "views" else [submission]
        self.round = 0

    def folder_for(self, exercise: str) -> Path:
        if not self.isolate:
            return self.submission
        views = self.rounds[self.round]
        if self.isolate == "views" and (views / exercise).is_dir():
            return views / exercise
        from autograder.grading import reuse
        from autograder.grading.packing import pack, unpack

        folder = self.tmp / (f"{self.round}-{exercise}" if self.isolate == "views" else exercise)
        if folder.is_dir():  # its tests came round again (public and hidden files apart): the same view
            return folder
        folder.mkdir()
        if self.isolate == "views":
            return folder  # no view of this exercise: nothing submitted
        if self._files is None:
            self._files = pack(self.submission) if self.submission.is_dir() else {}
        return unpack(reuse.view(self._files, exercise), folder)

    def key(self, exercise: str):
        return (self.round, exercise) if self.isolate else ""

    def proxy(self, exercise: str) -> Student:
        key = self.key(exercise)
        if self.current is None or self.current[0] != key:
            from autograder.sandbox.client import Worker

            if self.current is not None:
                self.current[1].worker.close()
            worker = Worker(self.folder_for(exercise), limits=worker_limits(self.course.limits),
                            sandbox=self.sandbox, uid=worker_uid())
            self.workers.append(worker)
            proxy = Student(worker, test_budget=self.course.limits.test_timeout_s)
            proxy.hung_once = self.check
            self.current = (key, proxy)
        return self.current[1]

    def call_cpu(self, item: pytest.Item) -> float | None:
        """CPU seconds one call of this test may use (None: only the wall-clock limit)."""
        seconds = self.course.limits.check_call_cpu_s
        if not self.check or not seconds or item.get_closest_marker("slow_calls"):
            return None
        return seconds

    def new_test(self, exercise: str) -> None:
        if self.current is not None and self.current[0] == self.key(exercise):
            self.current[1].new_test()

    def retry(self, exercise: str) -> None:
        """The test runs again (under hypothesis, after a failed replay): its time budget starts again."""
        if self.current is not None and self.current[0] == self.key(exercise):
            self.current[1].retry()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


@pytest.fixture(scope="session")
def _workers(request: pytest.FixtureRequest, course: course_config.Course, submission: Path, sandbox_mode: str):
    isolate = _setting(request.config, "--isolate-exercises", "DLGRADE_ISOLATE", "")
    if isolate not in ("", "1", "views"):
        raise pytest.UsageError(f"DLGRADE_ISOLATE={isolate!r}: expected 1 or views")
    with tempfile.TemporaryDirectory(prefix="dlgrade-views-") as tmp:
        check = _setting(request.config, "--student-check", "DLGRADE_CHECK", "") == "1"
        workers = _Workers(submission, course, sandbox_mode, isolate, Path(tmp), check)
        workers.round = request.config.stash[_state]["round"]
        request.config.stash[_state]["workers"] = workers
        try:
            yield workers
        finally:
            workers.close()


@pytest.fixture(scope="module")
def exercise_folder(request: pytest.FixtureRequest, _workers: _Workers) -> Path:
    """The folder with the code this module's exercise may see: its view when exercises are isolated.

    For suites that start workers of their own (the CNN's) instead of using `student`.
    """
    return _workers.folder_for(exercise_of(request.node))


@pytest.fixture
def student(request: pytest.FixtureRequest, _workers: _Workers) -> Student:
    """The submission under test, reached only through the sandboxed worker."""
    proxy = _workers.proxy(exercise_of(request.node))
    proxy.call_cpu = _workers.call_cpu(request.node)
    return proxy


def worker_uid() -> int:
    """The uid sandboxed workers drop to: $DLGRADE_WORKER_UID (distinct per parallel grading slot), else nobody."""
    value = os.environ.get("DLGRADE_WORKER_UID", "")
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else 65534


def worker_limits(limits: course_config.Limits):
    """course.toml's [limits] as the sandbox's Limits."""
    from autograder.sandbox.client import Limits

    return Limits(
        address_space=limits.memory_mb * 2**20,
        cpu_seconds=limits.cpu_seconds,
        processes=limits.max_processes,
        file_size=limits.max_file_mb * 2**20,
        timeout=limits.call_timeout_s,
        output_bytes=limits.output_kb * 2**10,
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Hidden property tests stop at their first failing example: no shrinking.

    Students see hidden tests by name and pass/fail only, and the score is pass/fail too, so
    shrinking (hundreds of extra calls into the worker per failed test) would buy a tidier
    example for the TAs alone. (A hint is still found on the first failing input when the
    mistake catalogue models the mistake, not merely its simplest case.)
    """
    for item in items:
        test = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if is_hidden(item) and isinstance(current, settings) and Phase.shrink in current.phases:
            test._hypothesis_internal_use_settings = settings(
                current, phases=[p for p in current.phases if p is not Phase.shrink])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported and collected by now lives as long as the session: out of the cyclic GC's way.

    Hypothesis allocates heavily, so the collector runs hundreds of times per session, and each
    full pass walked the modules, the suites and their test items again (a tenth of a session).
    """
    gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    """A folder of several rounds of views: every test of an exercise runs once per round that has its view.

    One session grades many students' views (pytest's and hypothesis' start-up paid once); the
    round a test ran in tells whose view it graded (results' "rounds"). Tests and their examples
    do not depend on the round: each round is graded as in a session of its own.
    """
    cfg = session.config
    if _setting(cfg, "--isolate-exercises", "DLGRADE_ISOLATE", "") != "views" or cfg.option.collectonly:
        return None
    path = _setting(cfg, "--submission", "DLGRADE_SUBMISSION")
    rounds = rounds_of(Path(path)) if path else []
    if len(rounds) < 2:
        return None
    if session.testsfailed and not cfg.option.continue_on_collection_errors:
        raise session.Interrupted(f"{session.testsfailed} error(s) during collection")
    listed = [round_exercises(views) for views in rounds]
    plan = [(k, item) for k, exercises in enumerate(listed) for item in session.items if exercise_of(item) in exercises]
    state = cfg.stash[_state]
    for i, (k, item) in enumerate(plan):
        state["round"] = k
        workers = state["workers"]
        if workers is not None:
            workers.round = k
        following = plan[i + 1][1] if i + 1 < len(plan) else None
        # The same test next (a round of one test): tear everything down, as after the last test.
        cfg.hook.pytest_runtest_protocol(item=item, nextitem=following if following is not item else None)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
    return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    workers = item.config.stash[_state]["workers"]
    if workers is not None:
        workers.new_test(exercise_of(item))


def _examples_folder(cfg: pytest.Config) -> Path | None:
    from autograder.grading import replay

    value = _setting(cfg, "--examples", replay.ENV)
    return Path(value) if value else None


def _fixture_args(item: pytest.Function) -> dict:
    """What pytest passes the test function: its fixtures and parameters (as pytest's own pyfunc_call)."""
    return {name: item.funcargs[name] for name in item._fixtureinfo.argnames}


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """Run a hypothesis test on its recorded examples (replay.py).

    The first failing example ends it. Where the test shrinks failures (public tests), hypothesis
    then runs it as usual, to shrink. Where it does not, hypothesis would stop at that very example
    (the same examples in the same order) and report it: its failure is the test's failure.
    """
    folder = _examples_folder(pyfuncitem.config)
    handle = getattr(pyfuncitem.obj, "hypothesis", None)
    if folder is None or handle is None:
        return None
    from hypothesis.errors import HypothesisException

    from autograder.grading import replay

    examples = replay.load(replay.path_for(folder, pyfuncitem.nodeid), pyfuncitem.nodeid)
    if examples is None:
        return None
    try:
        replay.replay(handle.inner_test, _fixture_args(pyfuncitem), examples)
    except Exception as e:  # noqa: BLE001 - a failing example (or a diverging draw)
        use = getattr(pyfuncitem.obj, "_hypothesis_internal_use_settings", None)
        shrinks = use is None or Phase.shrink in use.phases
        if not shrinks and not isinstance(e, (replay.Diverged, HypothesisException)):
            raise
        workers = pyfuncitem.config.stash[_state]["workers"]
        if workers is not None:
            workers.retry(exercise_of(pyfuncitem))
        return None
    pyfuncitem.config.stash[_state]["replayed"] += 1
    return True


class _Recorder:
    """Records the examples of each hypothesis test that passes and has no recording yet (replay.py)."""

    def __init__(self, folder: Path):
        self.folder = folder

    @pytest.hookimpl(hookwrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function):
        from autograder.grading import replay

        handle = getattr(pyfuncitem.obj, "hypothesis", None)
        path = replay.path_for(self.folder, pyfuncitem.nodeid)
        if handle is None or path.exists():
            yield
            return
        recorder = replay.Recorder(handle, set(_fixture_args(pyfuncitem)))
        with recorder.installed():
            outcome = yield
        if outcome.excinfo is None:
            recorder.save(path, pyfuncitem.nodeid)


def exercise_of(item: pytest.Item) -> str:
    """test_conv.py -> conv."""
    return Path(str(item.fspath)).stem.removeprefix("test_")


def is_hidden(item: pytest.Item) -> bool:
    return "hidden" in Path(str(item.fspath)).parts


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
        marker = item.get_closest_marker("weight")
        result = TestResult(
            exercise=exercise_of(item),
            test_id=f"{exercise_of(item)}::{'hidden' if is_hidden(item) else 'public'}::{item.name}",
            name=f"{exercise_of(item)}: {title_of(item)}",
            hidden=is_hidden(item),
            passed=report.passed,
            max_score=float(marker.args[0]) if marker else 1.0,  # the weight, until scored
        )
        if report.failed and call.excinfo is not None:
            proxy = getattr(item, "funcargs", {}).get("student")
            printed = proxy.printed_text() if isinstance(proxy, Student) else ""
            result.details, result.hint, result.grader_error = explain(call.excinfo, printed)
            result.kind = getattr(call.excinfo.value, "kind", "") if not result.grader_error else "grader"
        # Data for reports (e.g. the CNN's confusion matrix), from pytest's record_property.
        result.data = {k: v for k, v in item.user_properties}
        self.cfg.stash[_state]["tests"].append(result)
        self.cfg.stash[_state]["rounds"].append(self.cfg.stash[_state]["round"])

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
                },
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

