"""Every classic mistake in tests/autograder/mutants/ loses points, most with the right hint.

Each mutant is graded twice: by hypothesis as such, and replaying the examples the model
answers recorded (autograder/grading/replay.py). Both must give the same results to the character,
and every test the mutant passes must record exactly the model answers' examples.
"""
import importlib.util
import shutil
from pathlib import Path

import pytest

from autograder.course.config import NUMPY_EXERCISES
from autograder.grading.runner import run_suites

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "mutants"


def all_mutants():
    for exercise in NUMPY_EXERCISES:
        path = CORPUS / f"{exercise}.py"
        if not path.exists():
            continue
        spec = importlib.util.spec_from_file_location(f"mutants_{exercise}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for mutant_id, old, new, hint in module.MUTANTS:
            yield pytest.param(exercise, mutant_id, old, new, hint, id=f"{exercise}-{mutant_id}")


MUTANTS = list(all_mutants())
# Mistakes whose results change from run to run (entropy from the OS): only statuses and scores repeat.
UNSEEDED = {"backprop-init-unseeded", "optim-batches-global-rng"}


def test_corpus_is_large_enough():
    assert len(MUTANTS) >= 40, f"only {len(MUTANTS)} single-bug variants"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The examples the model answers record (they pass every test), per exercise."""
    folders = {}
    for exercise in NUMPY_EXERCISES:
        sub, folders[exercise] = tmp_path_factory.mktemp(f"model-{exercise}"), tmp_path_factory.mktemp(f"ex-{exercise}")
        shutil.copy(ROOT / "solutions" / f"{exercise}.py", sub)
        data = run_suites(sub, [exercise], hidden=True, env={"DLGRADE_EXAMPLES": str(folders[exercise])})
        assert data["tests"] and all(t["status"] == "passed" for t in data["tests"])
    return folders


@pytest.mark.parametrize("exercise, mutant_id, old, new, hint", MUTANTS)
def test_mutant_loses_points_with_hint(tmp_path, recorded, exercise, mutant_id, old, new, hint):
    source = (ROOT / "solutions" / f"{exercise}.py").read_text()
    assert source.count(old) == 1, f"the mutated text must occur exactly once in solutions/{exercise}.py: {old!r}"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f"{exercise}.py").write_text(source.replace(old, new))
    own = tmp_path / "own"
    data = run_suites(tmp_path / "sub", [exercise], hidden=True, env={"DLGRADE_EXAMPLES": str(own)})
    model = recorded[exercise]
    kept = sorted(p.name for p in own.glob("*.ex")) if own.exists() else []
    assert kept, "the tests this mutant passes record nothing"
    assert all((own / name).read_bytes() == (model / name).read_bytes() for name in kept), \
        "a test this mutant passes recorded other examples than for the model answer"
    replayed = run_suites(tmp_path / "sub", [exercise], hidden=True, env={"DLGRADE_EXAMPLES": str(model)})
    if f"{exercise}-{mutant_id}" in UNSEEDED:
        def outcomes(d):
            return [(t["name"], t["status"], t["score"]) for t in d["tests"]]
        assert outcomes(replayed) == outcomes(data), "replaying the recorded examples changed the results"
    else:
        assert replayed["tests"] == data["tests"], "replaying the recorded examples changed the results"
    tests = [t for t in data["tests"] if t["tags"][0] == exercise]
    assert tests, "no tests ran"
    assert not any(t["extra_data"]["grader_error"] for t in tests), [t["output"] for t in tests]
    lost = sum(t["max_score"] - t["score"] for t in tests)
    assert lost > 0, "this mistake was not detected"
    if hint:
        hints = [t["extra_data"]["hint"] for t in tests if t["status"] == "failed"]
        assert any(hint in h for h in hints), f"no failed test gave the hint {hint!r}; hints: {set(hints)}"
