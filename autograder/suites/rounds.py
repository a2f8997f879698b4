"""A session of rounds of views: each test runs once per round that has its exercise, most runs without pytest's protocol.

`dlgrade grade` bundles views of several students into one session (grading/batch.py): folder
`<k>/<exercise>/` is round k. Every test of an exercise runs once per round that has its view,
round after round, so each view's worker serves its tests and is killed before the next view's.

Pytest's protocol around a test (setup and teardown of its fixtures, three reports, the hooks of
every plugin on each) costs about as much as a replayed test itself. Once the session's fixtures
exist, a test whose arguments are all known without pytest (its parameters, the session-scoped
fixtures already made, and `student`, which is this round's view) is run *light*: its arguments
are set on the item and pytest's call phase runs (`pytest_runtest_call`: hypothesis' and pytest's
own hooks around the test, then plugin.pytest_pyfunc_call's replay), and its result is recorded
as from a report. Any other test (the first, one with markers that act at setup, one with a
fixture of a narrower scope) runs through pytest's protocol. Both paths give the same results:
tests/autograder/test_rounds.py, and benchmarks/bulk.py's comparison with --no-reuse.
"""
from __future__ import annotations

import pytest
from _pytest.outcomes import Exit

from autograder.grading.reuse import round_exercises, rounds_of
from autograder.suites.session import _state, exercise_of

# Markers that act at setup or around the call (skip, xfail, usefixtures, filterwarnings...) send
# a test through pytest's protocol; these do nothing there.
LIGHT_MARKERS = frozenset({"weight", "grades", "parametrize", "slow_calls", "hypothesis"})


def light_args(item: pytest.Item) -> dict | None:
    """The arguments pytest's setup would give `item` (`student` aside), from values the session already holds; else None."""
    try:
        if any(mark.name not in LIGHT_MARKERS for mark in item.iter_markers()):
            return None
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        defined = item._fixtureinfo.name2fixturedefs
        args = {}
        for name in item.fixturenames:
            defs = defined.get(name)
            if name == "student":
                continue
            if name in params:
                # A direct parameter only: an indirect one is a fixture's argument, not the test's.
                if not defs or getattr(defs[-1].func, "__name__", "") != "get_direct_param_fixture_func":
                    return None
                args[name] = params[name]
                continue
            if not defs or defs[-1].scope != "session" or defs[-1].cached_result is None:
                return None  # `request`, a fixture of a narrower scope, or one not made yet
            value, _, error = defs[-1].cached_result
            if error is not None:
                return None
            args[name] = value
        return args
    except (AttributeError, TypeError, ValueError):  # another pytest's internals: its protocol, always
        return None


def run_light(item: pytest.Function, args: dict, make_student, record) -> None:
    """Run `item` with `args` (plus a `student` from `make_student(item)`) through pytest's call phase; `record` its outcome."""
    if "student" in item.fixturenames:
        args["student"] = make_student(item)
    item.funcargs = args
    try:
        item.ihook.pytest_runtest_call(item=item)
    except (Exit, KeyboardInterrupt):
        raise
    except pytest.skip.Exception:
        return  # as a skipped report: no result
    except BaseException:  # noqa: BLE001 - the test failed: pytest would make a failed report of it
        item.session.testsfailed += 1
        record(item, False, pytest.ExceptionInfo.from_current())
    else:
        record(item, True, None)
    finally:
        item.funcargs = {}


def run_rounds(session: pytest.Session, folder, setup, make_student, record) -> bool:
    """Run the session's tests once per round of views in `folder` (see the module docstring)."""
    cfg = session.config
    if session.testsfailed and not cfg.option.continue_on_collection_errors:
        raise session.Interrupted(f"{session.testsfailed} error(s) during collection")
    listed = [round_exercises(views) for views in rounds_of(folder)]
    plan = [(k, item) for k, exercises in enumerate(listed) for item in session.items if exercise_of(item) in exercises]
    state = cfg.stash[_state]
    for i, (k, item) in enumerate(plan):
        state["round"] = k
        workers = state["workers"]
        if workers is not None:
            workers.round = k
        args = light_args(item) if isinstance(item, pytest.Function) and workers is not None else None
        if args is not None:
            setup(item)
            run_light(item, args, make_student, record)
            state["light"] += 1
        else:
            # What light runs left set up for an earlier item (they tear nothing down) goes first.
            session._setupstate.teardown_exact(item)
            following = plan[i + 1][1] if i + 1 < len(plan) else None
            # The same test next (a round of one test): tear everything down, as after the last test.
            cfg.hook.pytest_runtest_protocol(item=item, nextitem=following if following is not item else None)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
    return True
