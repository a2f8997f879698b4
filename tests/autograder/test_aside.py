"""Work done aside in a forked child (autograder/reports/aside.py): the same result, whatever happens to the child."""
import os
import threading

from autograder.reports.aside import Aside

PARENT = os.getpid()


def whose(x):
    return {"pid": os.getpid(), "x": x}


def dies_in_a_child(x):
    if os.getpid() != PARENT:
        os._exit(3)
    return {"pid": os.getpid(), "x": x}


def unsendable_in_a_child(x):
    if os.getpid() != PARENT:
        return {1, 2}  # not JSON: the child cannot send it and exits 1
    return {"pid": os.getpid(), "x": x}


def test_a_child_computes_it():
    aside = Aside(whose, [1, "a"])
    assert aside.pid is not None
    result = aside.result()
    assert result["x"] == [1, "a"] and result["pid"] != PARENT


def test_beside_another_thread_it_is_computed_here():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        aside = Aside(whose, 2)
    finally:
        stop.set()
        thread.join()
    assert aside.pid is None
    assert aside.result() == {"pid": PARENT, "x": 2}


def test_a_child_that_fails_leaves_it_to_this_process():
    for fn in (dies_in_a_child, unsendable_in_a_child):
        aside = Aside(fn, 3)
        assert aside.pid is not None
        assert aside.result() == {"pid": PARENT, "x": 3}
