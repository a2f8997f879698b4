"""The public perceptron suite's epochs for separable data: the convergence theorem's bound, which every correct rule meets."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlref import perceptron as ref

SUITE = Path(__file__).resolve().parents[2] / "autograder" / "suites" / "public" / "test_perceptron.py"


@pytest.fixture(scope="module")
def suite():
    spec = importlib.util.spec_from_file_location("_public_perceptron_suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rosenblatt_epochs(x, y, lr, order):
    """Epochs until one without a mistake, visiting samples in `order`."""
    w, b = np.zeros(x.shape[1]), 0.0
    for epoch in range(1, 100_000):
        mistakes = 0
        for i in order:
            err = y[i] - float(b + x[i] @ w >= 0)
            if err:
                w, b, mistakes = w + lr * err * x[i], b + lr * err, mistakes + 1
        if not mistakes:
            return epoch
    raise AssertionError("no convergence")


def test_the_bound_is_novikoffs(suite):
    # R^2 = 1^2 + 1 = 2; margin of (1, 0.25): 1.25 / |(1, 0.25)|, squared 1.5625 / 1.0625.
    assert suite.convergence_epochs(np.array([[1.0]]), np.array([1.0]), 0.25) == int(2 / (1.5625 / 1.0625)) + 2
    x = np.array([[2.0, -2.0], [0.5, 0.0]])
    r2, m2 = 8.0 + 1.0, 0.25 ** 2 / (1.0 + 1.0 + 0.25 ** 2)  # z* = (-0.25, 0.25)
    assert suite.convergence_epochs(x, np.array([1.0, 1.0]), -0.25) == int(r2 / m2) + 2


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(data=st.data(), lr=st.sampled_from([0.1, 1.0, 3.0]))
def test_any_order_and_learning_rate_converge_within_the_bound(suite, data, lr):
    x, y, epochs = data.draw(suite.separable())
    order = data.draw(st.permutations(range(len(x))))
    assert rosenblatt_epochs(x, y, lr, order) <= epochs
    w, b = ref.perceptron_train(x, y, lr=lr, epochs=epochs)
    assert np.array_equal((b + x @ w >= 0).astype(np.float64), y)
