"""Whole-suite grading: the model answers score full marks, the stubs score 0, scores are reproducible."""
import json
import shutil
from pathlib import Path

import pytest

from autograder.course.config import NUMPY_EXERCISES
from autograder.grading.runner import run_suites, suite_files

ROOT = Path(__file__).resolve().parents[2]
GRADED = [e for e in NUMPY_EXERCISES if suite_files([e], hidden=True)]


@pytest.fixture(scope="module")
def solutions_result():
    return run_suites(ROOT / "solutions", GRADED, hidden=True)


def test_every_numpy_exercise_has_public_and_hidden_suites():
    assert GRADED == list(NUMPY_EXERCISES)
    for e in NUMPY_EXERCISES:
        assert len(suite_files([e], hidden=True)) == 2, f"{e}: needs public and hidden suites"


def test_solutions_score_full_marks(solutions_result):
    tests = solutions_result["tests"]
    failed = [(t["name"], t["extra_data"]["details"][:400]) for t in tests if t["status"] != "passed"]
    assert not failed, failed
    assert {t["tags"][0] for t in tests} == set(GRADED)
    for exercise in GRADED:
        mine = [t for t in tests if t["tags"][0] == exercise]
        assert sum(t["score"] for t in mine) == pytest.approx(sum(t["max_score"] for t in mine))
        assert any(t["tags"][1] == "hidden" for t in mine) and any(t["tags"][1] == "public" for t in mine)


def test_stubs_score_zero_with_not_implemented(tmp_path):
    data = run_suites(ROOT / "exercises", GRADED, hidden=True)
    tests = data["tests"]
    assert tests and all(t["score"] == 0 for t in tests)
    for t in tests:
        assert "not implemented yet" in t["extra_data"]["details"], (t["name"], t["extra_data"]["details"][:300])


def test_missing_files_score_zero_with_not_submitted(tmp_path):
    shutil.copy2(ROOT / "solutions" / "activations.py", tmp_path / "activations.py")
    data = run_suites(tmp_path, ["activations", "losses"], hidden=True)
    losses = [t for t in data["tests"] if t["tags"][0] == "losses"]
    assert losses and all(t["score"] == 0 and "not submitted" in t["extra_data"]["details"] for t in losses)
    assert all(t["status"] == "passed" for t in data["tests"] if t["tags"][0] == "activations")


def test_three_identical_submissions_get_identical_results(tmp_path):
    """Grading is deterministic: same files, same tests, same scores, same messages."""
    results = []
    for i in range(3):
        sub = tmp_path / f"s{i}"
        sub.mkdir()
        # A partly wrong submission, so failure messages (shrunk examples, hints) are compared too.
        text = (ROOT / "solutions" / "activations.py").read_text().replace("return e / (1.0 + e) ** 2", "return e / (1.0 + e)")
        (sub / "activations.py").write_text(text)
        shutil.copy2(ROOT / "solutions" / "conv.py", sub / "conv.py")
        data = run_suites(sub, ["activations", "conv"], hidden=True)
        results.append(json.dumps(data["tests"], sort_keys=True))
    assert results[0] == results[1] == results[2]
    assert '"status": "failed"' in results[0]


def test_public_failures_are_shrunk_and_hidden_ones_stop_at_the_first_failing_input(tmp_path):
    source = (ROOT / "solutions" / "activations.py").read_text()
    wrong = source.replace("return e / np.sum(e, axis=axis, keepdims=True)", "return e / np.sum(e)")
    assert wrong != source
    (tmp_path / "activations.py").write_text(wrong)
    course = tmp_path / "course.toml"
    course.write_text("[grading]\nmax_examples = 25\n")
    tests = {t["name"]: t for t in run_suites(tmp_path, ["activations"], hidden=True, course=course)["tests"]}
    public = tests["activations: softmax rows are positive, sum to one, and do not change when a constant is added"]
    hidden = tests["activations: softmax matches the reference along any axis (batches of 1 to 64 rows)"]
    assert public["status"] == hidden["status"] == "failed"
    # Shrunk to the simplest input that fails: two rows of one zero each.
    assert "softmax(array float64 (2, 1) [[0.], [0.]])" in public["output"]
    # Shrunk, it would be softmax(array float64 (1, 2) [[0., 0.]], axis=0): it is the first input that failed.
    assert hidden["extra_data"]["details"].startswith("softmax(array float64 (")
    assert "[[0., 0.]], axis=0)" not in hidden["extra_data"]["details"]
