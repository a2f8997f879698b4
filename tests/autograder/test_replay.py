"""Recorded hypothesis examples: faithful copies, divergence detection, and replay in a grading run."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from autograder.inside import protocol
from autograder.grading import replay
from autograder.grading.runner import run_suites

ROOT = Path(__file__).resolve().parents[2]


def test_same_is_exact_about_types_and_bits():
    assert replay.same({"a": (1, 2.0, [np.arange(3)])}, {"a": (1, 2.0, [np.arange(3)])})
    assert not replay.same((1, 2), [1, 2])
    assert not replay.same(0.0, -0.0)
    assert replay.same(float("nan"), float("nan"))
    assert not replay.same(np.zeros(2), np.zeros(2, dtype=np.float32))
    assert not replay.same(np.zeros((2, 1)), np.zeros((1, 2)))
    assert not replay.same(1, True)
    assert not replay.same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # kwargs keep their order


def test_snapshot_copies_and_refuses_what_would_not_come_back_the_same():
    x = np.arange(4.0)
    copy = replay.snapshot({"x": x, "rate": 0.5})
    x[0] = 99.0
    assert copy["x"][0] == 0.0
    for value in (np.float64(1.5), np.bool_(True), {1, 2}, object(), np.array(["a"])):
        with pytest.raises(replay.Unrecordable):
            replay.snapshot(value)


def test_replayed_draws_must_be_the_recorded_ones():
    draws = [["axis", repr(st.integers(-1, 0)), -1], [None, repr(st.booleans()), True]]
    data = replay._ReplayData(draws)
    assert data.draw(st.integers(-1, 0), label="axis") == -1
    assert data.draw(st.booleans()) is True
    assert data.finished()
    with pytest.raises(replay.Diverged):
        data.draw(st.booleans())  # one more than recorded
    with pytest.raises(replay.Diverged):
        replay._ReplayData(draws).draw(st.integers(-2, 0), label="axis")  # another strategy
    with pytest.raises(replay.Diverged):
        replay._ReplayData(draws).draw(st.integers(-1, 0), label="other")  # another label


def test_a_recording_of_another_test_or_version_or_a_damaged_file_is_ignored(tmp_path):
    path = tmp_path / "t.ex"
    payload = {"nodeid": "t::a", "versions": replay.versions(), "examples": [{"kwargs": {"x": 1}, "data": None,
                                                                             "draws": None}]}
    path.write_bytes(protocol.encode(payload))
    assert replay.load(path, "t::a") == payload["examples"]
    assert replay.load(path, "t::b") is None
    path.write_bytes(protocol.encode({**payload, "versions": {"hypothesis": "0.0", "numpy": "0.0"}}))
    assert replay.load(path, "t::a") is None
    path.write_bytes(b"not a recording")
    assert replay.load(path, "t::a") is None
    assert replay.load(tmp_path / "missing.ex", "t::a") is None


def test_a_passing_run_records_and_the_next_replays_with_the_same_results(tmp_path):
    course = tmp_path / "course.toml"
    course.write_text("[grading]\nmax_examples = 5\n")
    sub, wrong = tmp_path / "model", tmp_path / "wrong"
    sub.mkdir()
    wrong.mkdir()
    source = (ROOT / "solutions" / "activations.py").read_text()
    shutil.copy(ROOT / "solutions" / "activations.py", sub)
    (wrong / "activations.py").write_text(source.replace("return e / np.sum(e, axis=axis, keepdims=True)",
                                                         "return e / np.sum(e)"))
    assert source != (wrong / "activations.py").read_text()
    examples = tmp_path / "examples"
    env = {"DLGRADE_EXAMPLES": str(examples)}
    first = run_suites(sub, ["activations"], hidden=True, course=course, env=env)
    assert first["replayed"] == 0 and all(t["status"] == "passed" for t in first["tests"])
    kept = sorted(examples.glob("*.ex"))
    assert kept, "the property tests that passed recorded nothing"
    again = run_suites(sub, ["activations"], hidden=True, course=course, env=env)
    assert again["replayed"] == len(kept) and again["tests"] == first["tests"]
    assert sorted(examples.glob("*.ex")) == kept
    # A wrong softmax fails its property tests in the replay: hypothesis runs them as usual.
    plain = run_suites(wrong, ["activations"], hidden=True, course=course)
    replayed = run_suites(wrong, ["activations"], hidden=True, course=course, env=env)
    assert plain["replayed"] == 0 and replayed["tests"] == plain["tests"]
    name = "activations: softmax rows are positive, sum to one, and do not change when a constant is added"
    shrunk = {t["name"]: t for t in replayed["tests"]}[name]
    assert shrunk["status"] == "failed" and "softmax(array float64 (2, 1) [[0.], [0.]])" in shrunk["output"]
    assert 0 < replayed["replayed"] < len(kept)


def test_every_recorded_test_replays_on_the_model_answer(tmp_path):
    """An example hypothesis abandons (a draw past its data) is replayed up to where it stopped, then skipped.

    Before, such an example was kept with the draws made before it stopped, every replay of the
    test diverged ("more draws than recorded") and hypothesis generated its examples again for
    every submission (six tests of activations and regularization, a quarter of a grading run).
    """
    sub = tmp_path / "model"
    sub.mkdir()
    exercises = ["activations", "regularization"]
    for e in exercises:
        shutil.copy(ROOT / "solutions" / f"{e}.py", sub)
    env = {"DLGRADE_EXAMPLES": str(tmp_path / "examples")}
    first = run_suites(sub, exercises, hidden=True, course=ROOT / "course.toml", env=env)
    kept = sorted((tmp_path / "examples").glob("*.ex"))
    again = run_suites(sub, exercises, hidden=True, course=ROOT / "course.toml", env=env)
    assert again["tests"] == first["tests"] and all(t["status"] == "passed" for t in again["tests"])
    assert again["replayed"] == len(kept) > 20


def test_a_recording_is_decoded_once_and_each_replay_gets_its_own_arrays(tmp_path, monkeypatch):
    path = tmp_path / "t.ex"
    examples = [{"kwargs": {"x": np.arange(3.0)}, "data": None, "draws": None, "calls": None}]
    path.write_bytes(protocol.encode({"nodeid": "t::a", "versions": replay.versions(), "examples": examples}))
    first = replay.load(path, "t::a")
    first[0]["kwargs"]["x"][0] = 99.0  # a test that changes its drawn array in place
    decoded = []
    monkeypatch.setattr(replay, "_decode", lambda *a: decoded.append(a))
    again = replay.load(path, "t::a")
    assert not decoded, "an unchanged recording was decoded again"
    assert again[0]["kwargs"]["x"].tolist() == [0.0, 1.0, 2.0]
    assert replay.load(path, "t::other") is None and len(decoded) == 1  # another test: looked up afresh


SUITES_AND_REFERENCE = [ROOT / "dlref", ROOT / "autograder" / "suites"]


def test_the_suites_and_the_reference_never_draw_from_the_global_prngs():
    """replay() seeds the global PRNGs once per test, hypothesis once per example: the same only while
    no test body, nor the reference it calls, draws from them (every draw names its own Generator)."""
    import re

    pattern = re.compile(r"np\.random\.(?!default_rng\b|Generator\b|SeedSequence\b|PCG64\b)\w+\s*\(|"
                         r"^\s*(import random\b|from random import)", re.M)
    found = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}" for root in SUITES_AND_REFERENCE
             for p in sorted(root.rglob("*.py")) for m in pattern.finditer(p.read_text())]
    assert not found, found


def test_an_abandoned_example_is_replayed_up_to_where_hypothesis_stopped_it():
    """A call made before the draw that stopped the example when recorded may fail for another submission."""
    sig = repr(st.integers())
    seen = []

    def inner(boom, data):
        seen.append(data.draw(st.integers(), label="a"))
        if boom:
            raise AssertionError("this submission fails before the draw")
        data.draw(st.integers(), label="b")

    abandoned = {"kwargs": {}, "data": "data", "draws": [["a", sig, 1]], "calls": None, "abandoned": "draws"}
    complete = {"kwargs": {}, "data": "data", "draws": [["a", sig, 2], ["b", sig, 3]], "calls": None}
    replay.replay(inner, {"boom": False}, [abandoned, complete])
    assert seen == [1, 2]
    with pytest.raises(AssertionError, match="fails before the draw"):
        replay.replay(inner, {"boom": True}, [abandoned, complete])
    with pytest.raises(replay.Diverged):  # it did not stop where it stopped when recorded
        replay.replay(inner, {"boom": False}, [{**complete, "abandoned": "draws"}])


def test_a_strategy_repr_is_cached_only_for_strategies_with_the_same_repr():
    """replay.strategy_repr: hypothesis' repr of each strategy, reused only where it must be the same text."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    from autograder.grading.replay import _REPRS, strategy_repr
    from autograder.suites.strategies import arrays

    made = [
        lambda: st.integers(1, 3), lambda: st.integers(1.0, 3), lambda: st.integers(True, 3),
        lambda: hnp.arrays(bool, (2, 3)), lambda: hnp.arrays(bool, (2, 3.0)), lambda: hnp.arrays(float, (2, 3)),
        lambda: arrays(low=-5, high=5, max_dims=3, max_side=4), lambda: arrays(low=-5.0, high=5, max_dims=3, max_side=4),
        lambda: arrays(low=-0.0, high=5), lambda: arrays(low=0.0, high=5),
        lambda: st.none() | hnp.arrays(bool, (2,)), lambda: st.lists(st.integers(1, 3), min_size=2, max_size=3),
        lambda: st.sampled_from([0.01, 0.3]), lambda: st.integers(1, 3).map(abs),
    ]
    _REPRS.clear()
    for make in made:
        first, second = make(), make()  # new objects, but for those hypothesis caches itself
        assert strategy_repr(first) == repr(make())
        assert strategy_repr(second) == repr(make()), "the second alike strategy gets the same (cached) text"
    assert len(set(map(repr, (m() for m in made)))) == len(made), "each of these has a repr of its own"
    assert _REPRS, "alike strategies were keyed"
