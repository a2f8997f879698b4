"""Hidden tests for activations.py: agreement with dlref on random and edge inputs (batches of 1 to 64 rows).

Each test grades the function it is parametrized with; relu'(0) = 0 is graded only in
test_relu_grad_at_zero, overflow warnings only in test_no_overflow_warnings.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder.suites.differential import agree
from autograder.suites.expect import array_like, call_text, check
from autograder.suites.strategies import arrays, batches
from dlref import activations as ref

ELEMENTWISE = ["sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad"]


def each(names):
    """One param per function, marked as grading it."""
    return [pytest.param(n, marks=pytest.mark.grades(n)) for n in names]


@pytest.mark.parametrize("name", each(ELEMENTWISE))
@given(z=st.one_of(arrays(low=-30, high=30), batches(-30, 30)))
def test_matches_reference(student, tol, name, z):
    """matches the reference on random inputs (batches of 1 to 64 rows)"""
    if name == "relu_grad":
        z = np.where(z == 0, 0.5, z)  # relu'(0) is a convention, graded by test_relu_grad_at_zero alone
    agree(getattr(student.activations, name), getattr(ref, name), z, tol=tol)


@pytest.mark.parametrize("name", each(ELEMENTWISE))
def test_large_inputs(student, tol, name):
    """stays finite and correct for |z| = 1000"""
    agree(getattr(student.activations, name), getattr(ref, name), np.array([-1000.0, -710.0, 710.0, 1000.0]), tol=tol)


@pytest.mark.grades("relu_grad", convention="relu'(0)")
def test_relu_grad_at_zero(student, tol):
    """relu'(0) is 0"""
    agree(student.activations.relu_grad, ref.relu_grad, np.array([-1.0, 0.0, 0.0, 1.0]), tol=tol)


@pytest.mark.grades("softmax")
@given(z=st.one_of(arrays(low=-50, high=50, max_dims=3), batches(-50, 50)), data=st.data())
def test_softmax_any_axis(student, tol, z, data):
    """softmax matches the reference along any axis (batches of 1 to 64 rows)"""
    axis = data.draw(st.integers(-z.ndim, z.ndim - 1), label="axis")
    agree(student.activations.softmax, ref.softmax, z, axis=axis, tol=tol)


@pytest.mark.grades("softmax")
def test_softmax_large_logits(student, tol):
    """softmax is stable for logits of 1000"""
    agree(student.activations.softmax, ref.softmax, np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]]), tol=tol)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.grades(n, convention="no warnings"))
                                  for n in ["sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "softmax"]])
def test_no_overflow_warnings(student, name):
    """computes |z| = 1000 without overflow warnings (the contract: no warnings for finite inputs)"""
    z = np.array([[-1000.0, 0.0, 1000.0]])
    array_like(getattr(student.activations, name)(z), z, call_text(name, z))
    check(not student.last_warnings, lambda: f"{name}(z) with |z| = 1000 warned: {'; '.join(student.last_warnings[:2])}. "
          "Only exponentiate non-positive numbers (e.g. exp(-|z|), or subtract the max).")
