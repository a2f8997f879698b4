"""Hypothesis examples recorded once per class, replayed for every submission: the engine runs only on failure.

Hypothesis runs derandomized (plugin.py), so the examples a test tries do not depend on the
code under test while that code passes them: every choice comes from a PRNG seeded by the
test itself and from the examples tried before, never from what the student's functions
returned. So once a test has passed for one submission, its examples (the drawn arguments,
and the values drawn inside it with `data.draw`, in order) are recorded, and for the next
submission the test body runs on them directly: the same calls in the same order, without
generating anything (about half of a suite's time). The first failing example, or a draw
that is not the recorded one (same label and strategy, in the same place), ends the replay.
A test that shrinks its failures then runs under hypothesis as usual, which finds, shrinks
and reports the failure exactly as without replay; for one that does not (hidden tests),
the failing example is the one hypothesis would have stopped at, and it is the failure
(plugin.pytest_pyfunc_call). Which submission recorded a test never matters, as every
submission that passes it records the same examples (tests/autograder/test_mutants.py).

Recordings are protocol.py payloads (plain data, never pickle), one file per test, written
atomically and checked on load against the test's id and the hypothesis and numpy versions;
a test whose examples do not survive encoding exactly (a type protocol.py does not carry, a
strategy whose repr names an address) is not recorded and always runs under hypothesis.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import tempfile
import types
from pathlib import Path

import numpy as np

from autograder.inside import protocol

ENV = "DLGRADE_EXAMPLES"  # folder of recordings; unset: neither record nor replay
MAX_BYTES = 64 << 20  # a recording bigger than this is not kept


class Diverged(Exception):
    """A replayed test asked for a draw other than the recorded one."""


def versions() -> dict[str, str]:
    import hypothesis

    return {"hypothesis": hypothesis.__version__, "numpy": np.__version__}


@functools.lru_cache(maxsize=4096)  # asked twice per test, and again each round
def path_for(folder: Path, nodeid: str) -> Path:
    return folder / (hashlib.sha256(nodeid.encode()).hexdigest()[:32] + ".ex")


def same(a, b) -> bool:
    """a and b are the same plain data: same types throughout, arrays and floats equal to the bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b) or (a != a and b != b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


class Unrecordable(Exception):
    """This test's examples cannot be recorded faithfully."""


def snapshot(value):
    """A faithful copy of `value` as plain data (taken before the test can change it), else Unrecordable."""
    try:
        copy = protocol.decode(protocol.encode(value, max_bytes=MAX_BYTES), max_bytes=MAX_BYTES)
    except protocol.ProtocolError as e:
        raise Unrecordable(str(e)) from None
    if not same(value, copy):
        raise Unrecordable(f"a value of type {type(value).__name__} does not survive encoding")
    return copy


_REPRS: dict = {}


def _plain(value):
    """A key that two values share only if each has the other's repr (types exact, floats by repr); TypeError if none."""
    t = type(value)
    if t is tuple or t is list:
        return t, tuple(_plain(v) for v in value)
    if t is dict:
        return t, tuple((_plain(k), _plain(v)) for k, v in value.items())
    if t is float:
        return t, repr(value)
    if value is None or t is int or t is bool or t is str:
        return t, value
    if t is type or t is types.FunctionType or t is types.BuiltinFunctionType:
        return t, value  # compared by identity, and kept alive by the key
    return _strategy_key(value)


def _strategy_key(strategy):
    """What a strategy's repr is made of (a lazy strategy's function, arguments and transforms; one_of's branches)."""
    t = type(strategy)
    if t.__module__.startswith("hypothesis.") and t.__name__ == "LazyStrategy":
        return (t, strategy.function, _plain(strategy._LazyStrategy__args), _plain(strategy._LazyStrategy__kwargs),
                _plain(strategy._transformations), strategy._LazyStrategy__representation)
    if t.__module__.startswith("hypothesis.") and t.__name__ == "OneOfStrategy":
        return t, tuple(_strategy_key(s) for s in strategy.original_strategies)
    raise TypeError(f"no key for a {t.__name__}")


def strategy_repr(strategy) -> str:
    """repr(strategy), computed once per session for strategies made alike: a test makes its strategies anew for
    each draw, and hypothesis' repr of one (a signature bound to its arguments) cost a twentieth of a replay."""
    try:
        key = _strategy_key(strategy)
        hash(key)
    except (TypeError, AttributeError):
        return repr(strategy)
    text = _REPRS.get(key)
    if text is None:
        if len(_REPRS) >= 4096:
            _REPRS.clear()
        text = _REPRS[key] = repr(strategy)
    return text


def signature(strategy, label) -> list:
    text = strategy_repr(strategy)
    if " at 0x" in text:
        raise Unrecordable(f"strategy {text[:80]} has no stable repr")
    return [label if isinstance(label, str) else None, text]


class _RecordingData:
    """Stands for hypothesis' `st.data()` object while recording: each draw is kept."""

    def __init__(self, data, draws: list):
        self._data, self._draws = data, draws

    def draw(self, strategy, label=None):
        value = self._data.draw(strategy, label=label)
        try:
            self._draws.append([*signature(strategy, label), snapshot(value)])
        except Unrecordable:
            self._draws.append(None)
        return value

    def __getattr__(self, name):
        return getattr(self._data, name)

    def __repr__(self) -> str:
        return repr(self._data)


class _Abandoned(BaseException):
    """An abandoned example asked for the draw hypothesis could not make: it ends here (as StopTest would)."""


class _ReplayData:
    """Stands for `st.data()` in a replay: gives the recorded draws, if asked for the recorded ones."""

    def __init__(self, draws: list, abandoned: bool = False):
        self._draws, self._next, self._abandoned = draws, 0, abandoned

    def draw(self, strategy, label=None):
        if self._next >= len(self._draws):
            if self._abandoned:
                raise _Abandoned()
            raise Diverged("more draws than recorded")
        want_label, want_sig, value = self._draws[self._next]
        if [label if isinstance(label, str) else None, strategy_repr(strategy)] != [want_label, want_sig]:
            raise Diverged(f"draw {self._next} differs from the recording")
        self._next += 1
        return value

    def finished(self) -> bool:
        return self._next == len(self._draws)


class Recorder:
    """Wraps a hypothesis test's inner function to keep every example it is called with."""

    def __init__(self, handle, fixture_names: set[str]):
        self.handle, self.fixture_names = handle, fixture_names
        self.examples: list[dict] = []
        self.problem = ""
        self.original = handle.inner_test

    @contextlib.contextmanager
    def installed(self):
        from hypothesis.errors import StopTest, UnsatisfiedAssumption

        original = self.original

        # functools.wraps keeps what hypothesis seeds its PRNG from (source, signature and the
        # parametrization digest, all read through __wrapped__ or copied), so the examples stay
        # those of the unwrapped test.
        @functools.wraps(original)
        def recording(*args, **kwargs):
            kept = len(self.examples)
            student = self.keep(args, kwargs)
            try:
                return original(*args, **kwargs)
            except (StopTest, UnsatisfiedAssumption) as e:
                # Hypothesis abandons this example (a draw past its data, an assume() that failed)
                # and tries another. It is replayed up to that point (its calls could fail for
                # another submission, as they would under hypothesis), then skipped as hypothesis
                # skips it; before, its replay ran out of draws and the engine ran the test again.
                if len(self.examples) > kept:
                    self.examples[kept]["abandoned"] = "draws" if isinstance(e, StopTest) else "assume"
                raise
            finally:
                if student is not None:
                    student.transcript = None

        self.handle.inner_test = recording
        try:
            yield self
        finally:
            self.handle.inner_test = original

    def keep(self, args: tuple, kwargs: dict):
        """Keep this example's arguments; returns the student proxy now keeping its calls, if any."""
        if self.problem:
            return None
        drawn = {k: v for k, v in kwargs.items() if k not in self.fixture_names}
        example: dict = {"kwargs": {}, "draws": None, "calls": None}
        try:
            if args:
                raise Unrecordable("positional arguments")
            for name, value in drawn.items():
                if type(value).__name__ == "DataObject":
                    example["draws"] = []
                    kwargs[name] = _RecordingData(value, example["draws"])
                    example["data"] = name
                else:
                    example["kwargs"][name] = snapshot(value)
        except Unrecordable as e:
            self.problem = str(e)
            return None
        self.examples.append(example)
        student = kwargs.get("student")
        if hasattr(student, "transcript") and hasattr(student, "prefetch"):
            student.transcript = example["calls"] = []
            return student
        return None

    def save(self, path: Path, nodeid: str) -> bool:
        """Write the recording of a passed test (atomically); False when it cannot be kept."""
        if self.problem or not self.examples:
            return False
        examples = []
        for ex in self.examples:
            if ex["draws"] is not None and any(d is None for d in ex["draws"]):
                return False
            examples.append({"kwargs": ex["kwargs"], "data": ex.get("data"), "draws": ex["draws"], "calls": ex["calls"],
                             **({"abandoned": ex["abandoned"]} if ex.get("abandoned") else {})})
        try:
            payload = protocol.encode({"nodeid": nodeid, "versions": versions(), "examples": examples},
                                      max_bytes=MAX_BYTES)
        except protocol.ProtocolError:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            return False
        return True


def load(path: Path, nodeid: str) -> list[dict] | None:
    """The recorded examples of this test, or None (none recorded, or recorded for other versions).

    A session grading several views replays each test once per view: the file is decoded once
    (while it is unchanged) and each replay gets its own copy of the arrays, which a test may change.
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size, nodeid)
    examples = _loaded.get(key)
    if examples is None:
        examples = _decode(path, nodeid)
        if examples is None:
            return None
        if len(_loaded) >= 4096:
            _loaded.clear()
        _loaded[key] = examples
    # What the test receives is copied (it may change an array in place); the recorded calls are only
    # sent and compared (Student.prefetch), never changed.
    return [{**ex, "kwargs": _copied(ex.get("kwargs")), "draws": _copied(ex.get("draws"))}
            if isinstance(ex, dict) else ex for ex in examples]


_loaded: dict[tuple, list[dict]] = {}


def _decode(path: Path, nodeid: str) -> list[dict] | None:
    try:
        data = protocol.decode(path.read_bytes(), max_bytes=MAX_BYTES)
    except (OSError, protocol.ProtocolError):
        return None
    if not isinstance(data, dict) or data.get("nodeid") != nodeid or data.get("versions") != versions():
        return None
    examples = data.get("examples")
    return examples if isinstance(examples, list) else None


def _copied(value):
    """A copy of decoded plain data whose arrays, lists and dicts are new (its strings and numbers are immutable)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copied(v) for v in value)
    return value


def replay(inner, fixtures: dict, examples: list[dict]) -> None:
    """Run the test body on each recorded example, as hypothesis would; raises on the first failure.

    The calls the examples made into the student's code when recorded are made first, in one
    round trip (Student.prefetch), when they all went to one module.
    """
    from hypothesis.errors import UnsatisfiedAssumption

    try:
        from hypothesis.internal.entropy import deterministic_PRNG
    except ImportError:  # pragma: no cover - hypothesis reorganised: seed nothing, replay may diverge
        deterministic_PRNG = contextlib.nullcontext
    student = fixtures.get("student")
    calls = [c for ex in examples for c in (ex["calls"] if isinstance(ex.get("calls"), list) else [None])]
    prefetch = hasattr(student, "prefetch") and calls and None not in calls and len({c[0] for c in calls}) == 1
    if prefetch:
        student.prefetch(calls[0][0], [(function, args, kwargs) for _, function, (args, kwargs) in calls])
    try:
        # Hypothesis seeds the global PRNGs afresh for each example; the suites and dlref never
        # draw from them (tests/autograder/test_replay.py checks), so seeding them once for the
        # whole replay is the same, at a fraction of the cost (a tenth of a replay, per example).
        with deterministic_PRNG():
            for ex in examples:
                kwargs = dict(fixtures)
                kwargs.update(ex["kwargs"])
                abandoned = ex.get("abandoned")
                data = None
                if ex.get("data"):
                    data = kwargs[ex["data"]] = _ReplayData(ex["draws"], abandoned == "draws")
                try:
                    inner(**kwargs)
                except _Abandoned:
                    continue  # where hypothesis stopped this example, it stops again
                except UnsatisfiedAssumption:
                    if abandoned != "assume":
                        raise Diverged("an assumption failed that held when recorded") from None
                    continue
                if abandoned:
                    raise Diverged("an example that was abandoned when recorded ran to its end")
                if data is not None and not data.finished():
                    raise Diverged("fewer draws than recorded")
    finally:
        if prefetch:
            student.end_prefetch()
