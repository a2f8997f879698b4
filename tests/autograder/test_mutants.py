"""Every classic mistake in tests/autograder/mutants/ loses points, most with the right hint."""
import importlib.util
from pathlib import Path

import pytest

from autograder.config import NUMPY_EXERCISES
from autograder.runner import run_suites

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
            yield pytest.param(exercise, old, new, hint, id=f"{exercise}-{mutant_id}")


MUTANTS = list(all_mutants())


def test_corpus_is_large_enough():
    assert len(MUTANTS) >= 40, f"only {len(MUTANTS)} single-bug variants"


@pytest.mark.parametrize("exercise, old, new, hint", MUTANTS)
def test_mutant_loses_points_with_hint(tmp_path, exercise, old, new, hint):
    source = (ROOT / "solutions" / f"{exercise}.py").read_text()
    assert source.count(old) == 1, f"the mutated text must occur exactly once in solutions/{exercise}.py: {old!r}"
    (tmp_path / f"{exercise}.py").write_text(source.replace(old, new))
    data = run_suites(tmp_path, [exercise], hidden=True)
    tests = [t for t in data["tests"] if t["tags"][0] == exercise]
    assert tests, "no tests ran"
    assert not any(t["extra_data"]["grader_error"] for t in tests), [t["output"] for t in tests]
    lost = sum(t["max_score"] - t["score"] for t in tests)
    assert lost > 0, "this mistake was not detected"
    if hint:
        hints = [t["extra_data"]["hint"] for t in tests if t["status"] == "failed"]
        assert any(hint in h for h in hints), f"no failed test gave the hint {hint!r}; hints: {set(hints)}"
