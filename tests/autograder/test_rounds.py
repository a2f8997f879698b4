"""Rounds of views graded in one session, most tests run light (autograder/suites/rounds.py): results as pytest's protocol gives."""
import importlib.util
from pathlib import Path

import pytest

from autograder.grading.reuse import ROUND_EXERCISES
from autograder.grading.runner import run_suites

ROOT = Path(__file__).resolve().parents[2]


def mutant(exercise: str, mid: str) -> str:
    """The solution with one catalogued mistake (tests/autograder/mutants/)."""
    spec = importlib.util.spec_from_file_location(f"_rounds_mutants_{exercise}", ROOT / "tests" / "autograder" / "mutants" / f"{exercise}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old, new = next((o, n) for m, o, n, _ in module.MUTANTS if m == mid)
    source = (ROOT / "solutions" / f"{exercise}.py").read_text()
    assert source.count(old) == 1
    return source.replace(old, new)


def solution(exercise: str) -> str:
    return (ROOT / "solutions" / f"{exercise}.py").read_text()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Four rounds (a model answer, mistakes with hints, code that prints, a stub, a missing file) graded together and each alone."""
    tmp = tmp_path_factory.mktemp("rounds")
    course = tmp / "course.toml"
    course.write_text("[grading]\nmax_examples = 8\n")
    stub = (ROOT / "exercises" / "activations.py").read_text()
    rounds = [
        {"activations": solution("activations"), "regularization": solution("regularization")},
        {"activations": mutant("activations", "softmax-whole-array"), "regularization": mutant("regularization", "dropout-not-inverted")},
        {"activations": mutant("activations", "sigmoid-prints"), "regularization": None},  # not submitted
        {"activations": stub, "regularization": solution("regularization")},
    ]
    bundle = tmp / "bundle"
    for k, files in enumerate(rounds):
        for e, text in files.items():
            (bundle / str(k) / e).mkdir(parents=True)
            if text is not None:
                (bundle / str(k) / e / f"{e}.py").write_text(text)
        (bundle / str(k) / ROUND_EXERCISES).write_text("\n".join(files) + "\n")
    env = {"DLGRADE_ISOLATE": "views", "DLGRADE_EXAMPLES": str(tmp / "examples")}  # recorded in round 0, then replayed
    together = run_suites(bundle, ["activations", "regularization"], hidden=True, course=course, env=env)
    alone = []
    for k, files in enumerate(rounds):
        single = tmp / f"alone{k}"
        single.mkdir()
        for e, text in files.items():
            if text is not None:
                (single / f"{e}.py").write_text(text)
        # One student's folder, views made in the session (isolate 1): pytest's own loop and protocol.
        alone.append(run_suites(single, list(files), hidden=True, course=course, env={"DLGRADE_ISOLATE": "1"}))
    return together, alone


def test_light_runs_give_what_pytest_protocol_gives(graded):
    together, alone = graded
    assert len(together["rounds"]) == len(together["tests"])
    for k, result in enumerate(alone):
        mine = [t for r, t in zip(together["rounds"], together["tests"]) if r == k]
        assert mine == result["tests"], f"round {k}"
    # All but the session's first test ran light; the mistakes failed with their hints and details.
    assert together["light"] == len(together["tests"]) - 1
    failed = [t for r, t in zip(together["rounds"], together["tests"]) if r == 1 and t["status"] == "failed"]
    assert any("normalise along `axis`" in t["extra_data"]["hint"] for t in failed)
    assert any(t["tags"][0] == "regularization" for t in failed)


def test_light_runs_keep_what_students_see(graded):
    together, _ = graded
    by_round = {}
    for r, t in zip(together["rounds"], together["tests"]):
        by_round.setdefault(r, []).append(t)
    assert all(t["status"] == "passed" for t in by_round[0])
    printed = [t for t in by_round[2] if t["status"] == "failed" and "sigmoid: z has shape" in t["extra_data"]["details"]]
    assert printed, "what the code printed is shown with its failure"
    assert all("not submitted" in t["extra_data"]["details"] for t in by_round[2] if t["tags"][0] == "regularization")
    stub = [t for t in by_round[3] if t["tags"][0] == "activations"]
    assert stub and all(t["status"] == "failed" and t["extra_data"]["kind"] == "not_implemented" for t in stub)
