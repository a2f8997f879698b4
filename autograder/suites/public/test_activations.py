"""Public checks for activations.py: fixed vectors, properties, and gradient self-consistency.

Each test grades the functions of its `grades` marker; relu'(0) = 0, a convention, is graded only
in the cases about it (every other input to relu_grad avoids 0).
"""
import numpy as np
import pytest
from hypothesis import given

from autograder.suites.expect import array_like, call_text, check
from autograder.suites.numgrad import numerical_vjp_many, rel_error
from autograder.suites.strategies import arrays
from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded, consistency_note

Z = np.array([-1000.0, -20.0, -2.5, -0.5, 0.0, 0.5, 2.5, 20.0, 1000.0])
Z_OFF_0 = np.array([-1000.0, -20.0, -2.5, -0.5, 0.5, 2.5, 20.0, 1000.0])
M = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 1000.0]])
CASES = [
    *(case(f"{f}", f, Z) for f in ("sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu")),
    case("relu_grad", "relu_grad", Z_OFF_0),
    case("relu_grad-at-0", "relu_grad", np.array([-1.0, 0.0, 0.0, 1.0])),
    case("softmax-rows", "softmax", M),
    case("softmax-axis0", "softmax", M, axis=0),
    case("softmax-large", "softmax", np.array([[1000.0, 1000.0, -1000.0]])),
]
CONVENTIONS = {"relu_grad-at-0": "relu'(0)"}


@pytest.mark.parametrize("c", cases_as_params("activations", CONVENTIONS))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "activations", c, tol)


@pytest.mark.parametrize("fn, grad", [pytest.param(f, g, marks=pytest.mark.grades(f, g))
                                      for f, g in [("sigmoid", "sigmoid_grad"), ("tanh", "tanh_grad"),
                                                   ("relu", "relu_grad")]])
@given(z=arrays(low=-5, high=5))
def test_grad_consistent_with_function(student, tol, fn, grad, z):
    """your function and its derivative agree (the derivative is the numerical derivative of your function)"""
    z = np.where(np.abs(z) < 1e-3, 0.5, z)  # off relu's kink at 0; relu'(0) has its own check
    f = getattr(student.activations, fn)
    got = array_like(getattr(student.activations, grad)(z), z, call_text(grad, z))
    numeric = numerical_vjp_many(
        lambda vs: [array_like(o, v, call_text(fn, v)) for v, o in zip(vs, f.map([(v,) for v in vs]))],
        z, np.ones_like(z))  # fmt: skip
    err = rel_error(got, numeric)
    check(err < tol.grad_rel_error,
          lambda: f"your {fn} and your {grad} disagree: {call_text(grad, z)} is not the numerical derivative of your "
          f"{fn} (relative error {err:.2g}, allowed {tol.grad_rel_error:g})",
          hint=lambda: consistency_note(student, "activations", (fn, grad), tol))


@pytest.mark.grades("softmax")
@given(z=arrays(low=-50, high=50, max_dims=2), shift=arrays(shape=(), low=-100, high=100))
def test_softmax_is_a_distribution_and_shift_invariant(student, tol, z, shift):
    """softmax rows are positive, sum to one, and do not change when a constant is added"""
    p = array_like(student.activations.softmax(z), z, call_text("softmax", z))
    check(bool(np.all(p >= 0)), lambda: f"{call_text('softmax', z)} returned negative values")
    check(np.allclose(p.sum(axis=-1), 1.0, atol=1e-9), lambda: f"{call_text('softmax', z)}: the rows do not sum to 1")
    q = array_like(student.activations.softmax(z + shift), z, call_text("softmax", z + shift))
    check(np.allclose(p, q, rtol=1e-6, atol=1e-9), lambda: f"softmax(z + {float(shift):g}) differs from softmax(z): it should not")


@pytest.mark.grades("sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad", "softmax",
                    convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "activations")
