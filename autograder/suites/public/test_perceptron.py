"""Public checks for perceptron.py: fixed vectors, properties, and the unknown-activation error.

Each test grades the functions of its `grades` marker. Conventions are graded only in the tests
about them: z == 0 predicts 1 (predict-zero-gives-1), integer labels (their dtype test: every
other test reads 0/1 labels of any dtype), ValueError for an unknown activation, no printing.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.suites.expect import array_like, call_text, check
from autograder.suites.feedback import Mismatch, abbrev
from autograder.suites.strategies import arrays, as_labels, floats
from autograder.suites.student import StudentError
from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded, consistency_note

# z = x @ W + b is exactly 0 on rows 0 and 2 (b = 0): perceptron_predict must give 1 there.
X = np.array([[1.0, 1.0], [2.0, -1.0], [0.0, 0.0], [-1.0, 0.5], [0.5, 2.0]])
W = np.array([1.0, -1.0])
X_BIG = np.array([[1000.0], [-1000.0], [710.0], [-710.0], [0.0]])
AND_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
AND_Y = np.array([0.0, 0.0, 0.0, 1.0])
NAND_Y = np.array([1.0, 1.0, 1.0, 0.0])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])
# Separable, needs several epochs, and b moves differently from w when lr != 1.
PTS = np.array([[2.0, 1.0], [-1.0, -1.5], [0.5, 2.5], [-2.0, 0.5], [1.5, -0.5], [-0.5, -2.0]])
PTS_Y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])

CASES = [
    case("weighted_sum", "weighted_sum", X, W, 0.5),
    case("weighted_sum-one-sample", "weighted_sum", np.array([[0.3, -0.2, 0.7]]), np.array([2.0, 1.0, -1.0]), 0.25),
    *(case(f"forward-{g}", "perceptron_forward", X, np.array([1.5, -2.0]), -0.5, activation=g)
      for g in ("sigmoid", "tanh", "relu", "linear")),
    case("forward-default-is-sigmoid", "perceptron_forward", X, np.array([1.5, -2.0]), -0.5),
    *(case(f"forward-{g}-large", "perceptron_forward", X_BIG, np.array([1.0]), 0.0, activation=g)
      for g in ("sigmoid", "tanh", "relu")),
    case("predict-zero-gives-1", "perceptron_predict", X, W, 0.0),
    case("predict-with-bias", "perceptron_predict", X, W, -0.75),
    case("train-and", "perceptron_train", AND_X, AND_Y),
    case("train-nand-lr2", "perceptron_train", AND_X, NAND_Y, lr=2.0),
    case("train-points-lr0.1", "perceptron_train", PTS, PTS_Y, lr=0.1),
    case("train-one-epoch", "perceptron_train", AND_X, AND_Y, epochs=1),
    case("train-xor-runs-all-epochs", "perceptron_train", AND_X, XOR_Y, lr=1.0, epochs=5),
]


CONVENTIONS = {"predict-zero-gives-1": "z == 0 predicts 1"}


@pytest.mark.parametrize("c", cases_as_params("perceptron", CONVENTIONS))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "perceptron", c, tol,
                   normalize=lambda c, got: as_labels(got) if c.function == "perceptron_predict" else got)


def samples(max_n: int = 6, max_m: int = 4):
    """(x (N, m), w (m,)) with N in 1..max_n, m in 1..max_m."""
    return st.tuples(st.integers(1, max_n), st.integers(1, max_m)).flatmap(
        lambda nm: st.tuples(arrays(shape=nm, low=-5, high=5), arrays(shape=(nm[1],), low=-5, high=5)))


def _sigmoid(z):
    # |z| <= 105 for these samples, so the textbook formula cannot overflow here. (The stable
    # form is the activations exercise's answer: it must not ship in the student bundle.)
    return 1.0 / (1.0 + np.exp(-z))


G = {"sigmoid": _sigmoid, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0), "linear": lambda z: z}


@pytest.mark.grades("weighted_sum", "perceptron_forward")
@pytest.mark.parametrize("activation", list(G))
@given(xw=samples(), b=floats(-5, 5))
def test_forward_applies_activation_to_weighted_sum(student, tol, activation, xw, b):
    """your perceptron_forward is g(your weighted_sum(x, w, b)) for each activation"""
    x, w = xw
    n = np.zeros(x.shape[0])
    z = array_like(student.perceptron.weighted_sum(x, w, b), n, call_text("weighted_sum", x, w, b))
    call = call_text("perceptron_forward", x, w, b, activation=activation)
    y = array_like(student.perceptron.perceptron_forward(x, w, b, activation=activation), n, call)
    expected = G[activation](z)
    check(np.allclose(y, expected, rtol=tol.rtol, atol=tol.atol),
          lambda: f"your perceptron_forward and your weighted_sum disagree: {call} returned {abbrev(y)}; {activation} of "
          f"your weighted_sum gives {abbrev(expected)}",
          hint=lambda: consistency_note(student, "perceptron", ("weighted_sum", "perceptron_forward"), tol))


@pytest.mark.grades("weighted_sum", "perceptron_predict")
@given(xw=samples(), b=floats(-5, 5))
def test_predict_is_the_sign_of_weighted_sum(student, tol, xw, b):
    """your perceptron_predict is 1 where your weighted_sum is >= 0, else 0"""
    x, w = xw
    n = np.zeros(x.shape[0])
    z = array_like(student.perceptron.weighted_sum(x, w, b), n, call_text("weighted_sum", x, w, b))
    call = call_text("perceptron_predict", x, w, b)
    labels = array_like(student.perceptron.perceptron_predict(x, w, b), n, call)
    # Rows with z within rounding of 0 could go either way with another summation order;
    # z == 0 exactly has its own fixed case.
    clear = np.abs(z) > 1e-9
    expected = (z >= 0).astype(np.float64)
    bad = np.flatnonzero(clear & (labels != expected))
    check(bad.size == 0, lambda: f"your perceptron_predict and your weighted_sum disagree: {call} returned {abbrev(labels)}; "
          f"from your weighted_sum z = {abbrev(z)} the labels are {abbrev(expected)} (first difference at sample "
          f"{bad[0] if bad.size else 0})",
          hint=lambda: consistency_note(student, "perceptron", ("weighted_sum", "perceptron_predict"), tol))


@pytest.mark.grades("perceptron_predict", convention="integer labels")
def test_predict_returns_integer_labels(student):
    """perceptron_predict returns integer labels (not bool or float)"""
    call = call_text("perceptron_predict", X, W, 0.0)
    got = student.perceptron.perceptron_predict(X, W, 0.0)
    labels = array_like(got, np.zeros(len(X)), call)
    check(got.dtype.kind in "iu", lambda: f"{call} returned dtype {got.dtype}; expected integer labels",
          hint=f"return integer labels: cast the comparison with .astype(int), not {'float' if got.dtype.kind == 'f' else 'bool'}.")
    check(bool(np.all((labels == 0) | (labels == 1))), lambda: f"{call} returned {abbrev(labels)}: labels must be 0 or 1")


def expect_value_error(fn, *args, **kwargs) -> None:
    """Call a student function that must raise ValueError; fail saying what it did instead."""
    call = call_text(fn.name, *args, **kwargs)
    try:
        got = fn(*args, **kwargs)
    except StudentError as e:
        if e.kind != "exception":
            raise  # not implemented, timeout, crash...: that message says it best
        if "raised ValueError:" not in e.message.splitlines()[0]:
            raise Mismatch(f"{call} should raise ValueError, but {e.message.splitlines()[0].split(' failed: ')[-1]}",
                           "raise ValueError(...) for a name that is not one of the allowed ones.") from None
        return
    raise Mismatch(f"{call} returned {abbrev(got, 4)}; expected it to raise ValueError",
                   "never guess what an unknown name means: raise ValueError(f\"unknown activation {activation!r}\").")


@pytest.mark.grades("perceptron_forward", convention="ValueError for an unknown name")
def test_unknown_activation_raises(student):
    """perceptron_forward raises ValueError for an unknown activation ("softplus", "step")"""
    for name in ("softplus", "step"):
        expect_value_error(student.perceptron.perceptron_forward, X, W, 0.0, activation=name)


@st.composite
def separable(draw):
    """(x, y, epochs): labels of a hyperplane w* . x + b*, every point at least 0.25 from it (in z
    units), and enough epochs for Rosenblatt's rule to separate them (`convergence_epochs`).

    Values are multiples of 1/2 and 1/4, so every z is exact whatever the summation order.
    """
    n, m = draw(st.integers(1, 8)), draw(st.integers(1, 3))
    x = draw(hnp.arrays(np.float64, (n, m), elements=st.integers(-4, 4).map(lambda k: k / 2)))
    w_star = draw(hnp.arrays(np.float64, (m,), elements=st.integers(-2, 2)))
    b_star = draw(st.integers(-3, 2)) / 2 + 0.25  # z* is a multiple of 1/2 plus 1/4: never 0
    return x, (b_star + x @ w_star >= 0).astype(np.float64), convergence_epochs(x, w_star, b_star)


def convergence_epochs(x: np.ndarray, w_star: np.ndarray, b_star: float) -> int:
    """Epochs after which the rule has made its last mistake and had an epoch without one.

    The perceptron convergence theorem (Novikoff): from w = 0, b = 0, with any learning rate and
    any order of samples, the rule makes at most (R / gamma)**2 mistakes, R the largest norm of
    (x_i, 1) and gamma the margin of (w*, b*) / |(w*, b*)|. Each epoch but the last has a mistake.
    Data-sized, not a flat 10_000: a mistake that never converges costs that many epochs per call.
    """
    r2 = float((x ** 2).sum(axis=1).max()) + 1.0
    margin2 = float(np.min(np.abs(b_star + x @ w_star))) ** 2 / (float(w_star @ w_star) + b_star ** 2)
    return math.floor(r2 / margin2) + 2  # +1: the epoch without a mistake; +1: rounding


@pytest.mark.grades("perceptron_train")
@settings(max_examples=15)
@given(data=separable())
def test_train_separates_separable_data(student, data):
    """perceptron_train reaches zero training errors on linearly separable data"""
    x, y, epochs = data
    call = call_text("perceptron_train", x, y, epochs=epochs)
    got = student.perceptron.perceptron_train(x, y, epochs=epochs)
    check(isinstance(got, (tuple, list)) and len(got) == 2, lambda: f"{call} returned {abbrev(got, 4)}; expected (w, b)")
    w = array_like(got[0], np.zeros(x.shape[1]), call + ", its w,")
    b = got[1].item() if isinstance(got[1], np.ndarray) and got[1].size == 1 else got[1]
    check(isinstance(b, (int, float)) and not isinstance(b, bool) and bool(np.isfinite(b)),
          lambda: f"{call} returned b = {abbrev(b, 4)}; expected a finite float")
    pred = (b + x @ w >= 0).astype(np.float64)
    bad = np.flatnonzero(pred != y)
    check(bad.size == 0, lambda: f"{call} returned w = {abbrev(w)}, b = {b:g}, which still misclassify sample "
          f"{bad[0] if bad.size else 0} of separable data; training must go on until an epoch has no mistake "
          f"(by the perceptron convergence theorem, Rosenblatt's rule gets there within these {epochs} epochs)")


@pytest.mark.grades("weighted_sum", "perceptron_forward", "perceptron_predict", "perceptron_train",
                    convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "perceptron")
