"""Numerical gradients: the batched forms give the per-point forms' results to the bit."""
import numpy as np
import pytest

from autograder.suites.numgrad import numerical_grad, numerical_grad_many, numerical_vjp, numerical_vjp_many


@pytest.mark.parametrize("shape", [(1,), (3, 4), (2, 3, 2)])
def test_batched_forms_equal_the_per_point_forms(shape):
    rng = np.random.default_rng(len(shape))
    x, dout = rng.normal(size=shape), rng.normal(size=shape)

    def f(v):
        return np.tanh(v) * v

    def scalar(v):
        return float(np.sum(np.sin(v) * v ** 2))

    seen = []

    def f_many(points):
        seen.append(len(points))
        return [f(p) for p in points]

    assert np.array_equal(numerical_vjp(f, x, dout), numerical_vjp_many(f_many, x, dout))
    assert seen == [2 * x.size], "every point in one call"
    assert np.array_equal(numerical_grad(scalar, x), numerical_grad_many(lambda ps: [scalar(p) for p in ps], x))
    assert np.allclose(numerical_grad(scalar, x), np.sin(x) * 2 * x + np.cos(x) * x ** 2, rtol=1e-6, atol=1e-8)


def test_the_input_is_left_unchanged_and_a_short_answer_is_an_error():
    x = np.arange(4.0)
    numerical_grad_many(lambda ps: [float(p.sum()) for p in ps], x)
    assert np.array_equal(x, np.arange(4.0))
    with pytest.raises(ValueError, match="3 values for 8 points"):
        numerical_grad_many(lambda ps: [0.0, 0.0, 0.0], x)
