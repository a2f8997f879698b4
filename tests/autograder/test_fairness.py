"""Fair grading: one mistake costs once, in the tests about it (docs/grading-rules.md).

Every single-bug variant of a model answer (the mutant corpus in mutants/, and each catalogued
mistake of autograder/mistakes/ put in place of its function; see variants.py) is graded once,
replaying the model answer's examples (conftest's `graded`, shared with test_mutants.py, which
checks that replaying changes nothing). For each variant:

- it loses points: it is caught;
- the tests it fails are exactly those written down in fairness/<exercise>.txt, so a suite change
  that makes a mistake cascade into more tests, or stop being caught by one, fails here;
- every test it fails grades (its `grades` marker) a function the variant breaks: the function it
  changes, or one that calls it (a wrong helper makes its callers wrong too);
- a variant of a convention (CONVENTIONS in mutants/<exercise>.py) fails only tests about that
  convention.
"""
import os

import pytest
from dlgrade_test_variants import (FAIRNESS, all_variants, blame, corpus, failed_ids, read_expected, solution,
                                   exercise_tests, write_expected)

from autograder.course.config import NUMPY_EXERCISES

UPDATE = os.environ.get("DLGRADE_UPDATE_FAIRNESS") == "1"
VARIANTS = [pytest.param(v, id=v.key) for exercise in NUMPY_EXERCISES for v in all_variants(exercise)]


@pytest.fixture(scope="module")
def grades():
    return blame()


def test_every_numpy_test_says_what_it_grades(grades):
    """Each test names the functions it grades, and they are functions of its exercise's model answer."""
    missing = sorted(k for k, v in grades.items() if v is None)
    assert not missing, f"tests without a @pytest.mark.grades(...) marker: {missing}"
    for key, (functions, _) in grades.items():
        exercise = key.split("::")[0]
        unknown = {f for f in functions if f"def {f}(" not in solution(exercise)}
        assert not unknown, f"{key} grades {sorted(unknown)}, which solutions/{exercise}.py does not define"


@pytest.mark.parametrize("exercise", NUMPY_EXERCISES)
def test_every_variant_is_written_down(graded, exercise):
    """fairness/<exercise>.txt lists every variant, no other (DLGRADE_UPDATE_FAIRNESS=1 rewrites it)."""
    variants = all_variants(exercise)
    if UPDATE:
        write_expected(exercise, {v.id: failed_ids(graded.results(v), exercise) for v in variants})
    written = read_expected(exercise)
    assert written, f"nothing written down in {FAIRNESS / (exercise + '.txt')}: run with DLGRADE_UPDATE_FAIRNESS=1"
    assert sorted(written) == sorted(v.id for v in variants), (
        f"variants written down but gone: {sorted(set(written) - {v.id for v in variants})}; "
        f"new variants: {sorted({v.id for v in variants} - set(written))}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_fails_only_the_tests_about_it(graded, grades, variant):
    exercise = variant.exercise
    data = graded.results(variant)
    tests = exercise_tests(data, exercise)
    assert tests, "no tests ran"
    assert not any(t["extra_data"]["grader_error"] for t in tests), [t["output"] for t in tests]
    assert sum(t["max_score"] - t["score"] for t in tests) > 0, "this mistake was not detected"

    failed = failed_ids(data, exercise)
    broken = variant.broken()
    convention = getattr(corpus(exercise), "CONVENTIONS", {}).get(variant.id)
    for test in failed:
        functions, about = grades[f"{exercise}::{test}"]
        assert functions & broken, (f"{test} failed, but it grades {sorted(functions)} and this mistake breaks only "
                                    f"{sorted(broken)}: a cascade")
        if convention:
            assert about == convention, f"{test} failed for a {convention!r} mistake, but it is not about {convention!r}"
    expected = read_expected(exercise).get(variant.id)
    assert expected is not None, f"{variant.id} is not written down in fairness/{exercise}.txt"
    assert failed == expected, (
        f"the tests this variant fails changed: now also {sorted(set(failed) - set(expected))}, no longer "
        f"{sorted(set(expected) - set(failed))} (after a deliberate suite change: DLGRADE_UPDATE_FAIRNESS=1)")
