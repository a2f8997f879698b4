"""The student proxy: calls and batched calls (`map`) through a real worker, and their failure messages."""
import textwrap
import time

import numpy as np
import pytest

from autograder.sandbox.client import Limits, Worker
from autograder.suites.student import MAP_CHUNK, Student, StudentError

CODE = """
    import time
    import numpy as np

    def square(x, scale=1.0):
        return scale * x * x

    def picky(x):
        if x.sum() > 10:
            raise ValueError("too big")
        return x

    def sneaky(x):
        if x.sum() > 10:
            x[...] = 0
        return 1.0

    def slow(x):
        if x.sum() > 10:
            time.sleep(60)
        return x

    def spin(x):
        while x.sum() > 10:
            try:
                pass
            except Exception:  # a student's catch-all does not keep the CPU limit away
                pass
        return x

    def nap(x):
        time.sleep(0.4)
        return x
"""


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sub")
    (folder / "mod.py").write_text(textwrap.dedent(CODE))
    with Worker(folder, limits=Limits(timeout=2.0)) as worker:
        proxy = Student(worker, test_budget=5.0)
        yield proxy


def points(n):
    return [(np.full(2, float(i)),) for i in range(n)]


def test_map_returns_each_value_in_order(student):
    student.new_test()
    calls_before = student.calls
    got = student.mod.square.map(points(MAP_CHUNK + 3), scale=2.0)  # two round trips
    assert [float(g[0]) for g in got] == [2.0 * i * i for i in range(MAP_CHUNK + 3)]
    assert student.calls - calls_before == 2


def test_map_failure_names_the_call_that_failed(student):
    student.new_test()
    with pytest.raises(StudentError) as e:
        student.mod.picky.map(points(10))
    assert e.value.kind == "exception"
    assert "picky(array float64 (2,) [6., 6.]) failed" in e.value.message and "too big" in e.value.message


def test_map_reports_the_call_that_changed_its_argument(student):
    student.new_test()
    with pytest.raises(StudentError) as e:
        student.mod.sneaky.map(points(10))
    assert e.value.kind == "mutated"
    assert e.value.message.startswith("sneaky(array float64 (2,) [6., 6.]) modified its argument")


def test_a_hanging_call_in_a_map_times_out_within_the_test_budget(student):
    student.new_test()
    started = time.monotonic()
    with pytest.raises(StudentError) as e:
        student.mod.slow.map(points(10))
    # 10 calls may take 10 x 2 s together, but no more than what is left of the test's 5 s budget.
    assert time.monotonic() - started < 15
    assert e.value.kind == "slow" and "more than 5 s in this test" in e.value.message
    student.new_test()
    assert float(student.mod.square(np.array([3.0]))[0]) == 9.0  # the worker was restarted


def test_map_without_a_worker_map_falls_back_to_calls():
    class Plain:
        def call(self, module, function, *args, **kwargs):
            from autograder.sandbox.client import CallResult
            return CallResult(ok=True, value=args[0] * 2)

    assert Student(Plain()).mod.double.map([(1,), (2,)]) == [2, 4]


def test_within_gives_one_call_a_tighter_time_limit(student):
    student.new_test()
    started = time.monotonic()
    with pytest.raises(StudentError) as e:
        student.mod.slow.within(0.5)(np.full(2, 6.0))
    assert time.monotonic() - started < 1.9  # well under the worker's own 2 s limit
    assert e.value.kind == "timeout" and "slow did not return within 0.5 s" in e.value.message
    student.new_test()
    assert float(student.mod.square.within(0.5)(np.array([3.0]))[0]) == 9.0
    student.new_test()
    with pytest.raises(StudentError) as e:
        student.mod.slow.within(60)(np.full(2, 6.0))
    assert "slow did not return within 2 s" in e.value.message  # never looser than the worker's limit


def test_a_cpu_limit_stops_a_busy_loop_long_before_the_wall_clock_limit(student):
    student.new_test()
    started = time.monotonic()
    with pytest.raises(StudentError) as e:
        student.mod.spin.within(1.5, cpu=0.2).map(points(8))
    assert time.monotonic() - started < 1.2
    assert e.value.kind == "cpu_time"
    assert e.value.message.startswith("spin(array float64 (2,) [6., 6.]) failed: spin was stopped after 0.2 s "
                                      "of CPU time, this call's limit (an infinite loop?)")
    student.new_test()
    assert float(student.mod.square(np.array([3.0]))[0]) == 9.0  # the worker was restarted


def test_a_cpu_limit_counts_cpu_time_not_waiting(student):
    student.new_test()
    got = student.mod.nap.within(1.5, cpu=0.1)(np.array([2.0]))  # sleeps 0.4 s, using no CPU
    assert float(got[0]) == 2.0
    with pytest.raises(StudentError) as e:
        student.mod.slow.within(0.5, cpu=0.1)(np.full(2, 6.0))  # sleeps on: the wall clock ends it
    assert e.value.kind == "timeout" and "slow did not return within 0.5 s" in e.value.message
    student.new_test()


def test_prefetched_calls_answer_the_same_calls_in_order_and_a_different_one_goes_live(student):
    student.new_test()
    x = [np.full(2, float(i)) for i in range(4)]
    student.prefetch("mod", [("square", [x[0]], {"scale": 2.0}), ("square", [x[1]], {"scale": 2.0}),
                             ("square", [x[2]], {"scale": 2.0})])
    assert len(student._ahead) == 3
    assert float(student.mod.square(x[0], scale=2.0)[0]) == 0.0
    assert float(student.mod.square(x[1], scale=2.0)[0]) == 2.0
    assert len(student._ahead) == 1
    # Not the next prefetched call (another scale): the rest is dropped, this one is made live.
    assert float(student.mod.square(x[2], scale=3.0)[0]) == 12.0
    assert not student._ahead


def test_a_prefetched_failure_is_the_same_failure_and_nothing_after_it_is_run(student):
    student.new_test()
    calls = [("picky", [np.full(2, v)], {}) for v in (1.0, 6.0, 2.0)]
    student.prefetch("mod", calls)
    assert len(student._ahead) == 2  # the worker stopped at the failing call
    student.mod.picky(np.full(2, 1.0))
    with pytest.raises(StudentError) as e:
        student.mod.picky(np.full(2, 6.0))
    assert e.value.kind == "exception" and "picky(array float64 (2,) [6., 6.]) failed" in e.value.message


def test_a_batch_that_prints_or_hangs_prefetches_nothing(tmp_path):
    (tmp_path / "noisy.py").write_text("import time\ndef hi(x):\n    print('hello')\n    return x\n"
                                       "def nap(x):\n    time.sleep(60)\n")
    with Worker(tmp_path, limits=Limits(timeout=1.0)) as worker:
        proxy = Student(worker, test_budget=30.0)
        proxy.new_test()
        proxy.prefetch("noisy", [("hi", [1], {})])
        assert not proxy._ahead  # its output could not be told apart per call
        started = time.monotonic()
        proxy.prefetch("noisy", [("nap", [1], {})])
        assert not proxy._ahead and time.monotonic() - started < 5
        assert proxy.noisy.hi(3) == 3  # the calls are made one by one, in a fresh worker


def test_a_prefetched_call_is_answered_only_when_it_reaches_the_worker_exactly_as_the_recorded_one():
    """wire_equal(live, received) stands for encode(live) == encode(received): never looser."""
    import math

    from autograder.inside import protocol
    from autograder.suites.student import wire_equal

    a = np.arange(6.0).reshape(2, 3)
    cases = [
        ([a, 1.5, {"k": (1, "s")}], True),
        ([a.T.copy().T, np.float64(1.5), {"k": (1, "s")}], True),  # numpy scalars cross as Python numbers
        ([a[:, ::1], 1.5, {"k": [1, "s"]}], False),  # a list is not a tuple
        ([a.astype(np.float32), 1.5, {"k": (1, "s")}], False),
        ([a, -0.0, {}], False), ([a, math.nan, {}], False),
        ([a, 1.5, {"k": (True, "s")}], False),  # a bool is not an int
    ]
    received = protocol.decode(protocol.encode([a, 1.5, {"k": (1, "s")}]))
    for live, expected in cases:
        assert wire_equal(live, received) is expected, live
        if expected:
            assert protocol.encode(live) == protocol.encode(received)
    nan = protocol.decode(protocol.encode([math.nan, np.array([math.nan, -0.0])]))
    assert wire_equal([np.float64("nan"), np.array([math.nan, -0.0])], nan)
    assert not wire_equal([math.nan, np.array([math.nan, 0.0])], nan)


def test_stocked_calls_answer_later_tests_in_order_once_per_worker(tmp_path):
    """Student.stock (the public recorded vectors): one batch, each test's call answered from it, its time charged."""
    (tmp_path / "mod.py").write_text(textwrap.dedent(CODE))
    with Worker(tmp_path, limits=Limits(timeout=2.0)) as worker:
        proxy = Student(worker, test_budget=0.3)
        x = [np.full(2, float(i)) for i in range(4)]
        made = []
        calls = [("square", [v], {}) for v in x[:3]] + [("nap", [x[3]], {})]
        proxy.stock("mod", lambda: made.append(1) or calls)
        proxy.stock("mod", lambda: made.append(1) or calls)
        assert made == [1] and len(proxy._stock) == 4, "stocked once per worker"
        sent = worker._next_id
        for i in range(3):
            proxy.new_test()  # the stock outlives a test, as its calls belong to the next tests
            assert float(proxy.mod.square(x[i])[0]) == i * i
        assert worker._next_id == sent, "answered from the stock, no round trip"
        proxy.new_test()
        with pytest.raises(StudentError) as e:  # nap's 0.4 s are charged to its test: over the 0.3 s budget
            proxy.mod.nap(x[3])
        assert e.value.kind == "slow"


def test_a_call_not_next_in_the_stock_drops_it_and_goes_live(tmp_path):
    (tmp_path / "mod.py").write_text(textwrap.dedent(CODE))
    with Worker(tmp_path, limits=Limits(timeout=2.0)) as worker:
        proxy = Student(worker, test_budget=5.0)
        x = [np.full(2, float(i)) for i in range(3)]
        proxy.stock("mod", lambda: [("square", [v], {}) for v in x])
        proxy.new_test()
        assert float(proxy.mod.square(x[1], scale=3.0)[0]) == 3.0  # not the next stocked call
        assert not proxy._stock
        assert float(proxy.mod.square(x[2])[0]) == 4.0
