"""Gradings that test_mutants.py and test_fairness.py share, each done once per session.

- `model_examples`: the examples each exercise's model answer records (it passes every test).
- `graded`: every single-bug variant (variants.py) graded once, replaying those examples.

The helpers live in variants.py, importable from the test modules as `dlgrade_test_variants`.
"""
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from autograder.course.config import NUMPY_EXERCISES
from autograder.grading.runner import run_suites

if "dlgrade_test_variants" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("dlgrade_test_variants", Path(__file__).with_name("variants.py"))
    sys.modules["dlgrade_test_variants"] = _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
variants = sys.modules["dlgrade_test_variants"]
ROOT = variants.ROOT


class ModelExamples(dict):
    """exercise -> the folder of examples its model answer records (it passes every test), graded on first use."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self.tmp = tmp_path_factory

    def __missing__(self, exercise: str) -> Path:
        if exercise not in NUMPY_EXERCISES:
            raise KeyError(exercise)
        sub, folder = self.tmp.mktemp(f"model-{exercise}"), self.tmp.mktemp(f"ex-{exercise}")
        for name in [exercise, *variants.companions(exercise)]:
            shutil.copy(ROOT / "solutions" / f"{name}.py", sub)
        data = run_suites(sub, [exercise], hidden=True, env={"DLGRADE_EXAMPLES": str(folder)})
        assert data["tests"] and all(t["status"] == "passed" for t in data["tests"]), \
            [t["name"] for t in data["tests"] if t["status"] != "passed"]
        self[exercise] = folder
        return folder


@pytest.fixture(scope="session")
def model_examples(tmp_path_factory) -> ModelExamples:
    """The examples the model answers record, per exercise (each model answer graded on first use)."""
    return ModelExamples(tmp_path_factory)


@pytest.fixture(scope="session")
def graded(model_examples, tmp_path_factory):
    return variants.Graded(model_examples, tmp_path_factory.mktemp("variants"))
