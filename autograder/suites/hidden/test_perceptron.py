"""Hidden tests for perceptron.py: agreement with dlref on random and edge inputs, early stopping.

Batches of 1 to 64 samples. Each test grades the function of its `grades` marker; z == 0 predicting 1
is graded only by test_predict_zero_is_one (elsewhere z is never exactly 0), the labels' dtype only
by the public dtype test (here 0/1 labels of any dtype count), early stopping only by
test_train_stops_early.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.suites.differential import agree, hint
from autograder.suites.expect import assert_close, call_text
from autograder.suites.student import StudentError
from autograder.suites.strategies import arrays, as_labels, batch_sizes, floats
from dlref import perceptron as ref

ACTIVATIONS = ["sigmoid", "tanh", "relu", "linear"]
# test_train_stops_early: a call that stops early takes a millisecond; one that does not is stopped
# after EARLY_STOP_CPU_S of CPU time (a limit the machine's load cannot reach), or EARLY_STOP_S of wall time.
EARLY_STOP_S, EARLY_STOP_CPU_S = 2.0, 0.25


@st.composite
def samples(draw, max_m: int = 4):
    """(x (N, m), w (m,)) with N in BATCH_SIZES (1 to 64), m in 1..max_m, values in [-5, 5] (from a seed above 8)."""
    n, m = draw(batch_sizes()), draw(st.integers(1, max_m))
    if n <= 8:
        return draw(arrays(shape=(n, m), low=-5, high=5)), draw(arrays(shape=(m,), low=-5, high=5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.uniform(-5, 5, (n, m)), rng.uniform(-5, 5, m)


@pytest.mark.grades("weighted_sum")
@given(xw=samples(), b=floats(-5, 5))
def test_weighted_sum_matches_reference(student, tol, xw, b):
    """weighted_sum matches the reference on random inputs"""
    agree(student.perceptron.weighted_sum, ref.weighted_sum, *xw, b, tol=tol)


@pytest.mark.grades("perceptron_forward")
@pytest.mark.weight(2)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(xw=samples(), b=floats(-5, 5))
def test_forward_matches_reference(student, tol, activation, xw, b):
    """perceptron_forward matches the reference on random inputs"""
    agree(student.perceptron.perceptron_forward, ref.perceptron_forward, *xw, b, activation=activation, tol=tol)


@pytest.mark.grades("perceptron_forward")
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_large_inputs(student, tol, activation):
    """perceptron_forward stays finite and correct for |z| = 1000"""
    x = np.array([[500.0, 500.0], [-500.0, -500.0], [710.0, 0.0], [0.0, -710.0]])
    agree(student.perceptron.perceptron_forward, ref.perceptron_forward, x, np.array([1.0, 1.0]), 0.0,
          activation=activation, tol=tol)


@pytest.mark.grades("perceptron_forward")
def test_forward_default_activation(student, tol):
    """perceptron_forward uses the sigmoid by default"""
    x, w = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]]), np.array([0.7, -0.3])
    agree(student.perceptron.perceptron_forward, ref.perceptron_forward, x, w, 0.2, tol=tol)


def grid(shape, step: float, bound: float):
    """float64 arrays of multiples of `step` in [-bound, bound]: every sum of products is exact."""
    k = int(bound / step)
    return hnp.arrays(np.float64, shape, elements=st.integers(-k, k).map(lambda i: i * step))


@st.composite
def grid_samples(draw, max_m: int = 4):
    """(x, w, b): x and w on a grid of 1/8, b a multiple of 1/8 plus 1/16, so that z is exact whatever the
    summation order and never exactly 0 (z == 0 has its own test); N in BATCH_SIZES (1 to 64)."""
    n, m = draw(batch_sizes()), draw(st.integers(1, max_m))
    b = draw(st.integers(-16, 15)) / 8 + 1 / 16
    if n <= 8:
        return draw(grid((n, m), 0.125, 4.0)), draw(grid((m,), 0.125, 4.0)), b
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(-32, 33, (n, m)) / 8, rng.integers(-32, 33, m) / 8, b


def agree_labels(student, tol, x, w, b):
    """perceptron_predict against the reference, reading 0/1 labels of any dtype (the dtype has its own test)."""
    got = as_labels(student.perceptron.perceptron_predict(x, w, b))
    assert_close(got, ref.perceptron_predict(x, w, b), call=call_text("perceptron_predict", x, w, b), tol=tol,
                 hints=lambda g: hint("perceptron", "perceptron_predict", (x, w, b), {}, g, tol))


@pytest.mark.grades("perceptron_predict")
@pytest.mark.weight(2)
@given(xwb=grid_samples())
def test_predict_matches_reference(student, tol, xwb):
    """perceptron_predict matches the reference on random inputs (z never exactly 0)"""
    # Exact arithmetic: with generic floats, x @ w (BLAS, fused multiply-add) and np.sum(x * w)
    # can differ by 1e-16 around z = 0 and legitimately disagree on the label.
    agree_labels(student, tol, *xwb)


@pytest.mark.grades("perceptron_predict", convention="z == 0 predicts 1")
def test_predict_zero_is_one(student, tol):
    """perceptron_predict gives 1 on the decision boundary (z == 0)"""
    # z = [0, 0, 3.5, -1.5, -1.5], then z = 0 with a bias: exact whatever the summation order.
    x = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0], [-0.5, 2.0], [-2.0, -1.0]])
    agree_labels(student, tol, x, np.array([1.0, -0.5]), 0.0)
    agree_labels(student, tol, np.array([[1.0, 0.0]]), np.array([1.0, 5.0]), -1.0)


@st.composite
def training_sets(draw, max_m: int = 3):
    """(x (N, m) on a grid of 1/4, y (N,) in {0., 1.}): random labels, separable or not; N in BATCH_SIZES."""
    n, m = draw(batch_sizes()), draw(st.integers(1, max_m))
    if n > 8:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        return rng.integers(-12, 13, (n, m)) / 4, rng.integers(0, 2, n).astype(np.float64)
    y = draw(hnp.arrays(np.float64, (n,), elements=st.sampled_from([0.0, 1.0])))
    return draw(grid((n, m), 0.25, 3.0)), y


@st.composite
def separable(draw, max_m: int = 3):
    """(x, y) labelled by a hyperplane w* . x + b* = 0 that no point is closer to than 1/4 (in z); N in BATCH_SIZES."""
    n, m = draw(batch_sizes()), draw(st.integers(1, max_m))
    if n > 8:
        x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(-6, 7, (n, m)) / 2
    else:
        x = draw(grid((n, m), 0.5, 3.0))
    w_star = draw(grid((m,), 1.0, 2.0))
    b_star = draw(st.integers(-3, 2)) / 2 + 0.25  # z* is a multiple of 1/2 plus 1/4: never 0
    return x, (b_star + x @ w_star >= 0).astype(np.float64)


# Powers of two keep every update exact (the data are on a grid): any correct loop gives the same
# bits as the reference, ties z == 0 included. Generic floats have their own fixed cases below.
LR = st.sampled_from([0.25, 0.5, 1.0, 2.0])


@pytest.mark.grades("perceptron_train")
@pytest.mark.weight(3)
@settings(max_examples=20)
@given(data=training_sets(), lr=LR, epochs=st.integers(1, 12))
def test_train_matches_reference(student, tol, data, lr, epochs):
    """perceptron_train matches the reference on random data (any labels, any lr, few epochs)"""
    agree(student.perceptron.perceptron_train, ref.perceptron_train, *data, lr=lr, epochs=epochs, tol=tol)


@pytest.mark.grades("perceptron_train")
@pytest.mark.weight(2)
@settings(max_examples=15)
@given(data=separable(), lr=LR)
def test_train_separable_matches_reference(student, tol, data, lr):
    """perceptron_train matches the reference on separable data (default epochs)"""
    agree(student.perceptron.perceptron_train, ref.perceptron_train, *data, lr=lr, tol=tol)


@pytest.mark.grades("perceptron_train")
@pytest.mark.weight(2)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_generic_floats(student, tol, seed):
    """perceptron_train matches the reference on Gaussian data with lr = 0.1"""
    # Separable labels: on non-separable data the rule falls into a cycle whose end point can
    # coincide with a mistaken rule's, which would hide the mistake or suggest the wrong hint.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(12, 3))
    y = (x @ rng.normal(size=3) + 0.3 > 0).astype(np.float64)
    agree(student.perceptron.perceptron_train, ref.perceptron_train, x, y, lr=0.1, tol=tol)


@pytest.mark.grades("perceptron_train")
def test_train_defaults(student, tol):
    """perceptron_train uses lr=1.0 and epochs=100 by default"""
    x = np.array([[0.5, 1.5], [-1.0, 0.25], [2.0, -0.5], [-0.75, -1.25], [0.1, 0.2]])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    agree(student.perceptron.perceptron_train, ref.perceptron_train, x, y, tol=tol)


@pytest.mark.grades("perceptron_train", convention="early stop")
def test_train_stops_early(student, tol):
    """perceptron_train stops after the first epoch without a mistake"""
    # Every label is 1, so w = 0, b = 0 (z = 0 predicts 1) already classify every sample: the first
    # epoch has no mistake, whatever the update rule, and the call returns at once. Running all
    # 10**8 epochs takes hours, so the call gets 0.25 s of CPU (2 s of wall time), not course.toml's
    # call_timeout_s: each submission with this mistake would otherwise cost the class the whole timeout.
    # Only stopping is graded here: the values have their own tests.
    x, y = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.ones(4)
    train = student.perceptron.perceptron_train.within(EARLY_STOP_S, cpu=EARLY_STOP_CPU_S)
    try:
        train(x, y, epochs=10**8)
    except StudentError as e:
        if e.kind not in ("timeout", "cpu_time"):
            raise
        raise StudentError(
            f"{call_text('perceptron_train', x, y, epochs=10**8)} did not stop after the first epoch without a "
            f"mistake: every label is 1, so w = 0, b = 0 classify every sample and the first epoch has no mistake, "
            f"yet the call was still running when it was stopped (after "
            f"{f'{EARLY_STOP_CPU_S:g} s of CPU time' if e.kind == 'cpu_time' else f'{EARLY_STOP_S:g} s'}): "
            f"return as soon as an epoch makes no mistake", e.kind) from None


@pytest.mark.grades("perceptron_train")
def test_train_no_epochs(student, tol):
    """perceptron_train with epochs=0 returns the zero initialisation"""
    x = np.array([[1.0, -2.0, 0.5], [0.3, 0.3, -1.0]])
    agree(student.perceptron.perceptron_train, ref.perceptron_train, x, np.array([1.0, 0.0]), epochs=0, tol=tol)
