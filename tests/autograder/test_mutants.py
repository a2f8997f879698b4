"""Every classic mistake in tests/autograder/mutants/ loses points, most with the right hint.

Each mutant is graded twice: by hypothesis as such, and replaying the examples the model
answers recorded (autograder/grading/replay.py; the replayed grading is conftest's `graded`, which
test_fairness.py reads too). Both must give the same results to the character, and every test
the mutant passes must record exactly the model answers' examples.
"""
import pytest
from dlgrade_test_variants import mutant_variants  # tests/autograder/variants.py, loaded by conftest.py

from autograder.course.config import NUMPY_EXERCISES
from autograder.grading.runner import run_suites

MUTANTS = [pytest.param(v, id=v.key) for exercise in NUMPY_EXERCISES for v in mutant_variants(exercise)]
# Mistakes whose results change from run to run (entropy from the OS): only statuses and scores repeat.
UNSEEDED = {"backprop-init-unseeded", "optim-batches-global-rng"}


def test_corpus_is_large_enough():
    assert len(MUTANTS) >= 40, f"only {len(MUTANTS)} single-bug variants"


@pytest.mark.parametrize("variant", MUTANTS)
def test_mutant_loses_points_with_hint(tmp_path, model_examples, graded, variant):
    exercise = variant.exercise
    own = tmp_path / "own"
    data = run_suites(variant.write(tmp_path / "sub"), [exercise], hidden=True, env={"DLGRADE_EXAMPLES": str(own)})
    model = model_examples[exercise]
    kept = sorted(p.name for p in own.glob("*.ex")) if own.exists() else []
    assert kept, "the tests this mutant passes record nothing"
    assert all((own / name).read_bytes() == (model / name).read_bytes() for name in kept), \
        "a test this mutant passes recorded other examples than for the model answer"
    replayed = graded.results(variant)
    if variant.key in UNSEEDED:
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
    if variant.hint:
        hints = [t["extra_data"]["hint"] for t in tests if t["status"] == "failed"]
        assert any(variant.hint in h for h in hints), f"no failed test gave the hint {variant.hint!r}; hints: {set(hints)}"
