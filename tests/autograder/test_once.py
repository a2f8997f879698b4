"""autograder.suites.once: a reference numerical gradient is reused only for the very same function and inputs."""
import numpy as np

from autograder.suites import numgrad, once
from dlref import regularization as ref


EVALUATIONS = []  # a global: what the functions below close over is only w and the like


def test_the_same_function_and_inputs_are_computed_once_and_copied():
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    x = np.array([[0.3, -0.7]])

    def vjp():
        return once.numerical_vjp(lambda v: (EVALUATIONS.append(1), v @ w)[1], x, np.ones((1, 2)))

    first = vjp()
    n = len(EVALUATIONS)
    first[0, 0] = 99.0  # a caller's change does not reach the next caller
    again = vjp()
    assert n == 2 * x.size and len(EVALUATIONS) == n, "computed once"
    np.testing.assert_array_equal(again, numgrad.numerical_vjp(lambda v: v @ w, x, np.ones((1, 2))))


def test_a_bit_of_difference_in_a_closed_over_value_or_an_argument_is_computed_again():
    x = np.array([0.5, -1.5, 2.0])

    def grad(scale, at):
        return once.numerical_grad(lambda v: (EVALUATIONS.append(1), float(np.sum(v ** 2) * scale))[1], at)

    before = len(EVALUATIONS)
    base = grad(1.0, x)
    nudged = grad(float(np.nextafter(1.0, 2.0)), x)  # the closed-over value differs in its last bit
    moved = grad(1.0, x + np.array([0.0, 0.0, 1e-3]))
    assert len(EVALUATIONS) - before == 3 * 2 * x.size, "each computed for its own key"
    np.testing.assert_allclose(base, 2 * x, rtol=1e-6)
    assert not np.array_equal(moved, base) and np.allclose(nudged, base)
    grad(1.0, x)
    assert len(EVALUATIONS) - before == 3 * 2 * x.size, "the first one again: reused"


def test_a_function_closing_over_something_unkeyable_is_computed_every_time():
    class Opaque:
        scale = 2.0

    box = Opaque()
    x = np.array([1.0, 2.0])
    before = len(once._RESULTS)
    got = once.numerical_grad(lambda v: float(np.sum(v) * box.scale), x)
    assert len(once._RESULTS) == before
    np.testing.assert_allclose(got, [2.0, 2.0], rtol=1e-6)


def test_a_reference_function_closed_over_is_keyed_by_name():
    params = {"W1": np.array([[0.5, -1.0]]), "b1": np.array([0.0, 0.0])}
    penalty = ref.l2_penalty
    got = once.numerical_grad(lambda v: penalty({**params, "W1": v}, 0.1), params["W1"])
    key = next(k for k in reversed(list(once._RESULTS)) if k[0] == "grad")
    assert ("reference", "dlref.regularization", "l2_penalty") in key[1][1]
    np.testing.assert_allclose(got, numgrad.numerical_grad(lambda v: ref.l2_penalty({**params, "W1": v}, 0.1),
                                                           params["W1"]))
