"""Public checks for losses.py: fixed vectors, properties, and gradient self-consistency."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.suites.expect import array_like, call_text, check
from autograder.suites.feedback import Mismatch, abbrev
from autograder.suites.numgrad import numerical_grad_many, rel_error
from autograder.suites.strategies import arrays, floats, one_hot
from autograder.course.vectors import case, cases_as_params, check_recorded, consistency_note
from autograder.suites.common import binary_labels as labels_for

A = np.array([[1.5, -0.5, 2.0], [0.0, 3.0, -1.0]])
B = np.array([[1.0, 0.5, 2.0], [-1.0, 2.5, 0.5]])
P = np.array([0.9, 0.2, 0.6, 0.35, 0.75])
Y01 = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
Y_SOFT = np.array([0.8, 0.1, 0.5, 0.3, 1.0])
# Exact 0 and 1 (log(0) without clipping), and values closer to them than the clip (1e-7).
P_EDGE = np.array([0.0, 1.0, 1.0, 0.0, 1e-9, 1.0 - 1e-9, 0.5])
Y_EDGE = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
Z = np.array([[-3.0, -0.5, 0.0], [0.5, 3.0, 1.25]])
YZ = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.25]])
Z_BIG = np.array([-1000.0, 1000.0, -1000.0, 1000.0, 710.0, -710.0, 40.0])
Y_BIG = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
LOGITS = np.array([[2.0, 1.0, 0.1, -1.0], [0.5, 2.5, -0.3, 0.0], [-1.0, 0.0, 1.0, 3.0]])
ONE_HOT = np.eye(4)[[0, 3, 3]]
SOFT = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.4, 0.6]])
LOGITS_BIG = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]])
ONE_HOT_BIG = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])

CASES = [
    case("mse-1d", "mse", A[0], B[0]),
    case("mse-2d", "mse", A, B),
    case("mse_grad-1d", "mse_grad", A[0], B[0]),
    case("mse_grad-2d", "mse_grad", A, B),
    case("bce", "binary_cross_entropy", P, Y01),
    case("bce-soft-labels", "binary_cross_entropy", P, Y_SOFT),
    case("bce-clipped-at-0-and-1", "binary_cross_entropy", P_EDGE, Y_EDGE),
    case("bce-2d", "binary_cross_entropy", np.array([[0.1, 0.8], [0.5, 0.999]]), np.array([[0.0, 1.0], [1.0, 0.0]])),
    case("sigmoid_ce-2d", "sigmoid_cross_entropy_with_logits", Z, YZ),
    case("sigmoid_ce-large", "sigmoid_cross_entropy_with_logits", Z_BIG, Y_BIG),
    case("sigmoid_ce_grad-2d", "sigmoid_cross_entropy_grad", Z, YZ),
    case("sigmoid_ce_grad-large", "sigmoid_cross_entropy_grad", Z_BIG, Y_BIG),
    case("softmax_ce-one-hot", "softmax_cross_entropy_with_logits", LOGITS, ONE_HOT),
    case("softmax_ce-soft-labels", "softmax_cross_entropy_with_logits", LOGITS, SOFT),
    # exp(800) overflows without the max shift; log(softmax) in two steps is log(0) at -800. Kept
    # apart (no case with both), so that a nan or inf points to one mistake and its hint. One-hot
    # labels: these cases are about stability, not about soft labels.
    case("softmax_ce-overflow", "softmax_cross_entropy_with_logits", np.array([[800.0, 799.0]]), np.array([[1.0, 0.0]])),
    case("softmax_ce-underflow", "softmax_cross_entropy_with_logits", np.array([[0.0, -800.0]]), np.array([[0.0, 1.0]])),
    case("softmax_ce-one-sample", "softmax_cross_entropy_with_logits", LOGITS[:1], ONE_HOT[:1]),
    case("softmax_ce_grad-one-hot", "softmax_cross_entropy_grad", LOGITS, ONE_HOT),
    case("softmax_ce_grad-soft-labels", "softmax_cross_entropy_grad", LOGITS, SOFT),
    case("softmax_ce_grad-large", "softmax_cross_entropy_grad", LOGITS_BIG, ONE_HOT_BIG),
]


# The cases about a convention (docs/grading-rules.md); every other case uses plain inputs for it
# (probabilities inside the clip, one-hot labels), so that the convention costs only these.
CONVENTIONS = {
    "bce-clipped-at-0-and-1": "clipping",
    "softmax_ce-soft-labels": "soft labels",
    "softmax_ce_grad-soft-labels": "soft labels",
}


@pytest.mark.parametrize("c", cases_as_params("losses", CONVENTIONS))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "losses", c, tol)


def scalar(got, call: str) -> float:
    """The student's loss as a float, or a failure saying what it was instead."""
    if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind in "iuf":
        got = got.item()
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        raise Mismatch(f"{call} returned {abbrev(got, 4)}; expected a float (the mean loss)")
    return float(got)


@st.composite
def pairs(draw, low=-5.0, high=5.0, labels=False):
    """(a, b) of one small shape (at most 6 elements): a in [low, high], b labels or values."""
    shape = draw(st.sampled_from([(1,), (3,), (5,), (2, 3), (3, 2)]))
    a = draw(arrays(shape=shape, low=low, high=high))
    b = draw(labels_for(shape, draw(st.booleans())) if labels else arrays(shape=shape, low=low, high=high))
    return a, b


@st.composite
def classification(draw, low=-5.0, high=5.0):
    """(logits (N, K), y (N, K) one-hot) with N in 1..3, K in 2..3 (soft labels have their own checks)."""
    n, k = draw(st.integers(1, 3)), draw(st.integers(2, 3))
    logits = draw(arrays(shape=(n, k), low=low, high=high))
    y = one_hot(draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1))), k)
    return logits, y


def check_consistent(student, loss: str, grad: str, x, y, tol) -> None:
    """Self-consistency: the student's grad(x, y) against central differences of the student's own loss(., y).

    It grades the pair: when they disagree, the hint says whether the loss fails its own checks.
    """
    f = getattr(student.losses, loss)
    got = array_like(getattr(student.losses, grad)(x, y), x, call_text(grad, x, y))
    numeric = numerical_grad_many(
        lambda vs: [scalar(o, call_text(loss, v, y)) for v, o in zip(vs, f.map([(v, y) for v in vs]))], x)
    # Entries ~0 (prediction equal to the target) make the max relative error meaningless; an
    # absolute floor of 1e-7 sits well above central differences' roundoff (~1e-10 for losses ~1).
    err = rel_error(got, numeric)
    check(np.allclose(got, numeric, rtol=tol.grad_rel_error, atol=1e-7),
          lambda: f"your {loss} and your {grad} disagree: {call_text(grad, x, y)} returned {abbrev(got)}, but the "
          f"numerical derivative of your {loss} is {abbrev(numeric)} (relative error {err:.2g}, allowed "
          f"{tol.grad_rel_error:g})",
          hint=lambda: consistency_note(student, "losses", (loss, grad), tol))


@pytest.mark.grades("mse", "mse_grad")
@settings(max_examples=10)
@given(data=pairs())
def test_mse_grad_consistent_with_mse(student, tol, data):
    """your mse and mse_grad agree (mse_grad is the numerical derivative of your mse)"""
    check_consistent(student, "mse", "mse_grad", *data, tol)


@pytest.mark.grades("sigmoid_cross_entropy_with_logits", "sigmoid_cross_entropy_grad")
@settings(max_examples=10)
@given(data=pairs(labels=True))
def test_sigmoid_ce_grad_consistent_with_sigmoid_ce(student, tol, data):
    """your sigmoid cross-entropy and its gradient agree (the gradient is the numerical derivative of your loss)"""
    check_consistent(student, "sigmoid_cross_entropy_with_logits", "sigmoid_cross_entropy_grad", *data, tol)


@pytest.mark.grades("softmax_cross_entropy_with_logits", "softmax_cross_entropy_grad")
@settings(max_examples=10)
@given(data=classification())
def test_softmax_ce_grad_consistent_with_softmax_ce(student, tol, data):
    """your softmax cross-entropy and its gradient agree on one-hot labels (the gradient is the numerical
    derivative of your loss)"""
    check_consistent(student, "softmax_cross_entropy_with_logits", "softmax_cross_entropy_grad", *data, tol)


@pytest.mark.grades("binary_cross_entropy", "sigmoid_cross_entropy_with_logits")
@given(data=pairs(labels=True))
def test_bce_of_sigmoid_is_sigmoid_ce(student, tol, data):
    """your binary_cross_entropy(sigmoid(z), y) and sigmoid_cross_entropy_with_logits(z, y) agree"""
    z, y = data  # |z| <= 5: sigmoid(z) stays far inside the clip [1e-7, 1 - 1e-7]
    p = 1.0 / (1.0 + np.exp(-z))
    bce = scalar(student.losses.binary_cross_entropy(p, y), call_text("binary_cross_entropy", p, y))
    sce = scalar(student.losses.sigmoid_cross_entropy_with_logits(z, y),
                 call_text("sigmoid_cross_entropy_with_logits", z, y))
    check(np.isclose(bce, sce, rtol=tol.rtol, atol=tol.atol),
          lambda: f"your binary_cross_entropy and sigmoid_cross_entropy_with_logits disagree: "
          f"binary_cross_entropy(sigmoid(z), y) = {bce:.10g} but sigmoid_cross_entropy_with_logits(z, y) = "
          f"{sce:.10g} for z = {abbrev(z)}, y = {abbrev(y)}: they are the same loss",
          hint=lambda: consistency_note(student, "losses", ("binary_cross_entropy",
                                                            "sigmoid_cross_entropy_with_logits"), tol))


@pytest.mark.grades("softmax_cross_entropy_with_logits")
@given(data=classification(low=-50, high=50), shift=floats(-100, 100))
def test_softmax_ce_shift_invariant(student, tol, data, shift):
    """softmax cross-entropy (one-hot labels) is non-negative and does not change when a constant is added to
    the logits"""
    logits, y = data
    call = call_text("softmax_cross_entropy_with_logits", logits, y)
    loss = scalar(student.losses.softmax_cross_entropy_with_logits(logits, y), call)
    check(loss >= -tol.atol, lambda: f"{call} returned {loss:g}; a cross-entropy is never negative")
    moved = scalar(student.losses.softmax_cross_entropy_with_logits(logits + shift, y),
                   call_text("softmax_cross_entropy_with_logits", logits + shift, y))
    check(np.isclose(loss, moved, rtol=tol.rtol, atol=tol.atol),
          lambda: f"adding {shift:g} to every logit changed the loss from {loss:.10g} to {moved:.10g}: it should not")
