"""The grading pytest plugin: the `student`, `course` and `tol` fixtures, weights, and the results file.

Loaded with `-p autograder.suites.plugin` into a trusted pytest process that never imports student
code: the `student` fixture proxies calls to a sandboxed worker. Settings resolve
CLI option -> environment variable -> course.toml.
"""
from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from autograder.course import config as course_config
from autograder.suites import rounds
from autograder.suites.student import Student
from autograder.suites.reporting import _Reporter, explain, is_hidden, sandboxed, score, title_of  # noqa: F401
from autograder.suites.session import _setting, _state, exercise_of
from autograder.suites.workers import _Workers, worker_limits, worker_uid  # noqa: F401


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


_CONFIG: list[pytest.Config] = []  # this session's (one per trusted process)


def pytest_configure(config: pytest.Config) -> None:
    _CONFIG[:] = [config]
    config.addinivalue_line("markers", "weight(w): this test's share of its exercise's points (default 1)")
    config.addinivalue_line("markers", "slow_calls: this test's calls may rightly run long (training): "
                                       "no CPU-time stop per call in dlgrade check")
    course = course_config.load(_setting(config, "--course", "DLGRADE_COURSE"))
    config.stash[_state] = {"course": course, "tests": [], "rounds": [], "round": 0, "workers": None,
                            "replayed": 0, "light": 0, "item": None}
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


def _config() -> pytest.Config:
    """The session's config, for its fixtures: pytest makes a new FixtureDef for a `request` (or
    `pytestconfig`) argument every time a test resolves it, nine per test here."""
    return _CONFIG[0]


@pytest.fixture(scope="session")
def course() -> course_config.Course:
    """The validated course.toml."""
    return _config().stash[_state]["course"]


@pytest.fixture(scope="session")
def tol(course: course_config.Course) -> course_config.Tolerances:
    """Numerical tolerances from course.toml."""
    return course.tolerances


@pytest.fixture(scope="session")
def submission() -> Path:
    """The folder of the student's files (never imported here: only workers read it)."""
    path = _setting(_config(), "--submission", "DLGRADE_SUBMISSION")
    if not path:
        raise pytest.UsageError("no submission: pass --submission DIR or set DLGRADE_SUBMISSION")
    return Path(path)


@pytest.fixture(scope="session")
def sandbox_mode() -> str:
    """'auto', 'bwrap' or 'none'."""
    return _setting(_config(), "--sandbox", "DLGRADE_SANDBOX", "auto")


@pytest.fixture(scope="session")
def _workers(course: course_config.Course, submission: Path, sandbox_mode: str):
    isolate = _setting(_config(), "--isolate-exercises", "DLGRADE_ISOLATE", "")
    if isolate not in ("", "1", "views"):
        raise pytest.UsageError(f"DLGRADE_ISOLATE={isolate!r}: expected 1 or views")
    with tempfile.TemporaryDirectory(prefix="dlgrade-views-") as tmp:
        check = _setting(_config(), "--student-check", "DLGRADE_CHECK", "") == "1"
        workers = _Workers(submission, course, sandbox_mode, isolate, Path(tmp), check)
        workers.round = _config().stash[_state]["round"]
        _config().stash[_state]["workers"] = workers
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
def student(_workers: _Workers) -> Student:
    """The submission under test, reached only through the sandboxed worker."""
    # The test being set up (pytest_runtest_setup); not from `request`: pytest makes a FixtureDef for it
    # twice per test.
    return _student_for(_config().stash[_state]["item"], _workers)


def _student_for(item: pytest.Item, workers: _Workers | None = None) -> Student:
    workers = workers or item.config.stash[_state]["workers"]
    proxy = workers.proxy(exercise_of(item))
    proxy.call_cpu = workers.call_cpu(item)
    return proxy


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
    """A folder of rounds of views: every test of an exercise runs once per round that has its view (rounds.py).

    One session grades many students' views (pytest's and hypothesis' start-up paid once); the
    round a test ran in tells whose view it graded (results' "rounds"). Tests and their examples
    do not depend on the round: each round is graded as in a session of its own.
    """
    cfg = session.config
    if _setting(cfg, "--isolate-exercises", "DLGRADE_ISOLATE", "") != "views" or cfg.option.collectonly:
        return None
    path = _setting(cfg, "--submission", "DLGRADE_SUBMISSION")
    if not path:
        return None
    reporter = cfg.pluginmanager.get_plugin("dlgrade-reporter")
    return rounds.run_rounds(session, Path(path), pytest_runtest_setup, _student_for, reporter.record)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[_state]["item"] = item
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
