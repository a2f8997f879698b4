"""The `student` fixture's proxy: `student.conv.conv2d_forward(x, w, b)` runs in the sandboxed worker.

Only plain data crosses (see protocol.py); any failure of the student's code becomes a
`StudentError`, which fails the test with a message written for the student.
"""
from __future__ import annotations

import collections
import time
from typing import Any, Callable

import numpy as np

from autograder.grading.replay import same
from autograder.inside import protocol
from autograder.suites.feedback import GraderError, describe_call

# Failures after which calling again in the same test only burns time (the worker restarts).
FATAL_KINDS = {"timeout", "cpu_time", "crashed", "memory", "protocol", "output"}
MAP_CHUNK = 256  # calls per round trip of `Student.map`: messages stay small, a hang is found soon
# Failures that say the code is missing rather than wrong.
ABSENT_KINDS = {"not_submitted", "not_implemented", "missing_function", "import_error"}
HUNG_KINDS = {"timeout", "cpu_time"}  # the call did not return: an infinite loop, most likely
PRINTED_CHARS, PRINTED_LINES = 1000, 20  # of what the code printed in a test, the end shown with its failure


class StudentError(AssertionError):
    """The student's code failed (raised, hung, crashed, returned something unusable, mutated its input)."""

    def __init__(self, message: str, kind: str = "exception"):
        super().__init__(message)
        self.message = message
        self.kind = kind


class StudentFunction:
    """A callable standing for one function of the student's module."""

    def __init__(self, student: "Student", module: str, name: str, timeout: float | None = None,
                 cpu: float | None = None):
        self.student, self.module, self.name, self.timeout, self.cpu = student, module, name, timeout, cpu

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.timeout is not None or self.cpu is not None:
            return self.student.map(self.module, self.name, [(args, kwargs)], timeout=self.timeout, cpu=self.cpu)[0]
        return self.student.call(self.module, self.name, args, kwargs)

    def map(self, arg_lists: list[tuple], **kwargs: Any) -> list:
        """[self(*args, **kwargs) for args in arg_lists], in few round trips to the worker."""
        return self.student.map(self.module, self.name, [(tuple(args), kwargs) for args in arg_lists],
                                timeout=self.timeout, cpu=self.cpu)

    def within(self, seconds: float, cpu: float | None = None) -> "StudentFunction":
        """This function with a tighter time limit per call (never looser than course.toml's call_timeout_s).

        For a test where a mistake means running (nearly) forever: a timeout costs the class
        its whole length, once per such submission. `cpu`: also stop a call once it has used
        this many seconds of CPU time, which a busy loop reaches at once and a finite call on a
        loaded machine does not (the wall-clock limit still covers code that sleeps).
        """
        return StudentFunction(self.student, self.module, self.name, seconds, cpu)

    def __repr__(self) -> str:
        return f"<student {self.module}.{self.name}>"


class StudentModule:
    """Attribute access gives a StudentFunction: `student.losses.mse`."""

    def __init__(self, student: "Student", module: str):
        self._student, self._module = student, module

    def __getattr__(self, name: str) -> StudentFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        return StudentFunction(self._student, self._module, name)


class Student:
    """One submission, reached only through a Worker (sandbox.Worker or anything with `.call`)."""

    def __init__(self, worker: Any, test_budget: float | None = None):
        self.worker = worker
        self.test_budget = test_budget  # seconds of student code per test, all calls together
        self._spent = 0.0
        self._fatal: StudentError | None = None
        self.calls = 0
        self.last_warnings: list[str] = []  # warnings the last call emitted (e.g. overflow in exp)
        self.last_stdout = ""  # what the last call printed (only a test about printing grades it)
        self.transcript: list | None = None  # while set, each call's (module, function, [args, kwargs])
        self._ahead: collections.deque = collections.deque()  # prefetched (request bytes, CallResult)
        self._stock: collections.deque = collections.deque()  # calls made ahead for later tests (stock)
        self._stocked: set[str] = set()
        self.printed = ""  # the end of what calls that returned printed in this test (shown if it fails)
        self.call_cpu: float | None = None  # CPU seconds per call, unless the call sets its own
        # `dlgrade check`: a function that hung is not called again; its later tests fail the same way.
        self.hung_once = False
        self._hung: dict[tuple[str, str], StudentError] = {}

    def __getattr__(self, module: str) -> StudentModule:
        if module.startswith("_"):
            raise AttributeError(module)
        return StudentModule(self, module)

    def new_test(self) -> None:
        """Forget the previous test's fatal failure and time (each test gets a fresh chance)."""
        self._fatal = None
        self._spent = 0.0
        self._ahead.clear()
        self.printed = ""

    def retry(self) -> None:
        """The same test runs again: its time budget starts again, a fatal failure stands (a hang is not paid twice)."""
        self._spent = 0.0

    def call(self, module: str, function: str, args: tuple, kwargs: dict) -> Any:
        if self.transcript is not None:
            try:
                self.transcript.append([module, function, protocol.decode(protocol.encode([list(args), dict(kwargs)]))])
            except protocol.ProtocolError:
                self.transcript.append(None)  # the call itself will say what cannot be sent
        ahead = _take(self._ahead, module, function, args, kwargs) if self._ahead else None
        if ahead is None and self._stock:
            ahead = _take(self._stock, module, function, args, kwargs)
            if ahead is not None:
                self._spent += ahead.seconds  # its own time, as if made now (the test's time budget)
        if ahead is None and self.call_cpu is not None and hasattr(self.worker, "map"):
            return self.map(module, function, [(args, kwargs)])[0]  # the CPU-time limit is a map's
        invoke = (lambda: ahead) if ahead is not None else (lambda: self.worker.call(module, function, *args, **kwargs))
        return self._run(function, invoke, lambda i: (args, kwargs), module).value

    def prefetch(self, module: str, calls: list[tuple[str, list, dict]]) -> None:
        """Make these calls now, in one round trip, for `call` to answer from while it is asked for them in order.

        For a replayed test (autograder/grading/replay.py): the calls its examples made when recorded. Its
        first call that differs from the next prefetched one drops the rest, and calls go to the
        worker one by one again. (The worker has then made calls the test did not: only code that
        keeps state between calls could tell.) Nothing is prefetched when the batch fails as a
        whole (e.g. it printed, or ran past one call's time limit): the calls are made one by one.
        """
        self._ahead.clear()
        if self._fatal is not None or not calls or not hasattr(self.worker, "batch"):
            return
        started = time.monotonic()
        self._ahead.extend(self._made_ahead(module, calls))
        self._spent += time.monotonic() - started

    def end_prefetch(self) -> None:
        self._ahead.clear()

    def stock(self, module: str, calls: Callable[[], list[tuple[str, list, dict]]]) -> None:
        """Make, once per worker, the calls that the next tests will make one each, in their order, in one round trip.

        For tests whose calls are known before they run (the public recorded vectors, one test per
        case): each test's call is answered from here while the calls come in this order, and its
        own time is charged to its test. The first call that differs drops the rest (the calls go
        to the worker again), as do `prefetch`'s; a batch that fails as a whole stocks nothing.
        """
        if module in self._stocked or self._fatal is not None or not hasattr(self.worker, "batch"):
            return
        self._stocked.add(module)
        calls = calls()
        if calls:
            self._stock.extend(self._made_ahead(module, calls))

    def _made_ahead(self, module: str, calls: list[tuple[str, list, dict]]) -> list:
        """((module, function, args, kwargs), CallResult) of each call made in one batch; none if the batch failed."""
        timeout = getattr(getattr(self.worker, "limits", None), "timeout", None)
        result = self.worker.batch(module, calls, timeout=timeout)
        if not result.ok:
            return []
        return [((module, function, args, kwargs), one) for (function, args, kwargs), one in zip(calls, result.value)]

    def map(self, module: str, function: str, calls: list[tuple[tuple, dict]], timeout: float | None = None,
            cpu: float | None = None) -> list:
        """`function(*args, **kwargs)` for each (args, kwargs): the values, in order, in few round trips.

        `timeout`: seconds per call, when tighter than the worker's limit; `cpu`: CPU seconds per call.
        """
        if not hasattr(self.worker, "map"):
            return [self.call(module, function, args, kwargs) for args, kwargs in calls]
        cpu = cpu if cpu is not None else self.call_cpu
        values: list = []
        limit = getattr(getattr(self.worker, "limits", None), "timeout", None)
        per_call = timeout if limit is None else min(limit, timeout) if timeout is not None else limit
        for start in range(0, len(calls), MAP_CHUNK):
            chunk = calls[start:start + MAP_CHUNK]
            chunk_timeout = None
            if per_call is not None:
                left = per_call if self.test_budget is None else max(per_call, self.test_budget - self._spent)
                chunk_timeout = min(per_call * len(chunk), left)
            limits = {"timeout": chunk_timeout, **({"cpu": cpu} if cpu is not None else {})}
            result = self._run(function, lambda: self.worker.map(module, function, chunk, **limits),
                               lambda i: chunk[i] if i is not None and 0 <= i < len(chunk) else chunk[0], module)
            if type(result.value) is not list or len(result.value) != len(chunk):
                raise StudentError(f"the worker answered {len(chunk)} calls of {function} with something else "
                                   "(a forged reply?)", "protocol")
            values.extend(result.value)
        return values

    def _run(self, function: str, invoke, which, module: str = "") -> Any:
        """Invoke the worker; a failure becomes a StudentError describing the call `which(index)` made."""
        if self._fatal is not None:
            # Hypothesis retries and shrinks failing examples; after a hang or a crash, every
            # retry would cost another timeout, so the first such failure stands for the test.
            raise self._fatal
        if (module, function) in self._hung:
            raise self._hung[(module, function)]
        self.calls += 1
        started = time.monotonic()
        result = invoke()
        self._spent += time.monotonic() - started
        if self.test_budget is not None and self._spent > self.test_budget:
            args, kwargs = which(getattr(result, "index", None))
            self._fatal = StudentError(
                f"your code used more than {self.test_budget:g} s in this test ({self.calls} calls so far, "
                f"the last one {describe_call(function, args, kwargs)}); it is too slow: "
                "vectorise with numpy instead of Python loops over elements",
                "slow",
            )
            raise self._fatal
        self.last_warnings = list(getattr(result, "warnings", []) or [])
        self.last_stdout = getattr(result, "stdout", "") or ""
        if result.ok and self.last_stdout:
            # A wrong value fails the test later, in the suite: what the code printed is kept for it.
            self.printed = (self.printed + result.stdout)[-PRINTED_CHARS - 1:]
        if result.ok and not result.mutated:
            return result
        args, kwargs = which(getattr(result, "index", None))
        call = describe_call(function, args, kwargs)
        if result.ok:
            names = ", ".join(result.mutated)
            raise StudentError(
                f"{call} modified its argument(s) {names} in place; functions must be pure "
                "(copy before changing, e.g. `x = x.copy()`, or build a new array)",
                "mutated",
            )
        kind = result.kind or "exception"
        if kind == "grader":  # the worker did not start: no student code ran, so nothing to score
            raise GraderError(result.message)
        if kind in ABSENT_KINDS:
            message = result.message
        else:
            message = f"{call} failed: {result.message}"
            if getattr(result, "traceback", ""):
                message += f"\n{result.traceback.rstrip()}"
        if getattr(result, "stdout", ""):
            message += f"\nYour code printed:\n{result.stdout.rstrip()}"
        if kind in HUNG_KINDS and self.hung_once:
            message += f"\n{function} is not called again: the later checks that call it fail with this message."
        error = StudentError(message, kind)
        if kind in FATAL_KINDS:
            self._fatal = error
        if kind in HUNG_KINDS and self.hung_once:
            self._hung[(module, function)] = error  # one hang costs its time once, and is said once
        raise error

    def printed_text(self) -> str:
        """What the code printed in this test, for a failure that is not a call's own ('' if nothing)."""
        lines = self.printed.rstrip().splitlines()
        if not lines:
            return ""
        if len(self.printed) > PRINTED_CHARS:
            lines = lines[1:]  # cut short at the front: drop the partial line
        if len(lines) > PRINTED_LINES or len(self.printed) > PRINTED_CHARS:
            lines = lines[-PRINTED_LINES:]
            return f"Your code printed (its last {len(lines)} lines):\n" + "\n".join(lines)
        return "Your code printed:\n" + "\n".join(lines)


def _take(queue: collections.deque, module: str, function: str, args: tuple, kwargs: dict):
    """The result made ahead for this call if it is the next in `queue`; else None, and the queue is dropped."""
    want_module, want_function, want_args, want_kwargs = queue[0][0]
    if (module == want_module and function == want_function and wire_equal(list(args), want_args)
            and wire_equal(dict(kwargs), want_kwargs)):
        return queue.popleft()[1]
    queue.clear()
    return None


def wire_equal(value, received) -> bool:
    """Whether `value` reaches the worker exactly as `received` (a decoded message) did: then the call is the
    prefetched one. It is `replay.same` (types throughout, arrays and numbers to the bit) on the value as
    sent, numpy scalars being sent as Python numbers; anything in doubt is unequal (the call is then made
    again, never answered wrongly)."""
    return same(_as_sent(value), received)


def _as_sent(value):
    """`value` with its numpy scalars as the Python numbers protocol.py sends them as (other values as they are)."""
    t = type(value)
    if t is list or t is tuple:
        return t(_as_sent(v) for v in value)
    if t is dict:
        return {k: _as_sent(v) for k, v in value.items()}
    if isinstance(value, (np.bool_, np.integer, np.floating, np.complexfloating)) and value.dtype.itemsize <= 16:
        return value.item()
    return value
