"""Hidden tests for losses.py: agreement with dlref on random and edge inputs, numerical gradients.

Each test grades one function (its `grades` marker); the conventions (clipping, soft labels) are
graded only in the tests about them: every other test uses probabilities inside the clip and
one-hot labels.
"""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.suites.differential import agree, hint
from autograder.suites.expect import assert_close
from autograder.suites.feedback import describe_call
from autograder.suites.once import numerical_grad  # reference gradients, once per session
from autograder.suites.strategies import arrays, batch_sizes, one_hot
from autograder.suites.common import binary_labels as labels
from dlref import losses as ref

@st.composite
def pairs(draw, low=-10.0, high=10.0, binary=False):
    """(a, b) of one shape, (N,) or (N, K) with N in BATCH_SIZES (1 to 64) and K in 1..5: a in [low, high];
    b binary labels (exact 0/1 or soft) or values in the same range. Drawn from a seed above 8 samples."""
    n, k, flat = draw(batch_sizes()), draw(st.integers(1, 5)), draw(st.booleans())
    shape = (n,) if flat else (n, k)
    soft = draw(st.booleans())
    if n <= 8:
        a = draw(arrays(shape=shape, low=low, high=high))
        b = draw(labels(shape, soft) if binary else arrays(shape=shape, low=low, high=high))
        return a, b
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.uniform(low, high, shape)
    if not binary:
        return a, rng.uniform(low, high, shape)
    return a, rng.uniform(0.0, 1.0, shape) if soft else rng.integers(0, 2, shape).astype(np.float64)


@st.composite
def classification(draw, low=-20.0, high=20.0, soft=False, max_k=5):
    """(logits (N, K), y (N, K)), N in BATCH_SIZES (1 to 64), K in 2..max_k: y one-hot, or (soft=True)
    soft labels whose rows sum to 1, drawn from a seed."""
    n, k = draw(batch_sizes()), draw(st.integers(2, max_k))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = rng.uniform(low, high, (n, k))
    if soft:
        w = rng.uniform(0.01, 1.0, (n, k))
        return logits, w / w.sum(axis=1, keepdims=True)
    return logits, one_hot(rng.integers(0, k, n), k)


# --- values on random inputs, batches of 1 to 64 ----------------------------------------------

@pytest.mark.grades("mse")
@given(data=pairs())
def test_mse_matches_reference(student, tol, data):
    """mse matches the reference on random inputs"""
    agree(student.losses.mse, ref.mse, *data, tol=tol)


@pytest.mark.grades("mse_grad")
@pytest.mark.weight(2)
@given(data=pairs())
def test_mse_grad_matches_reference(student, tol, data):
    """mse_grad matches the reference on random inputs"""
    agree(student.losses.mse_grad, ref.mse_grad, *data, tol=tol)


@pytest.mark.grades("binary_cross_entropy")
@pytest.mark.weight(2)
@given(data=pairs(low=1e-3, high=1.0 - 1e-3, binary=True))
def test_bce_matches_reference(student, tol, data):
    """binary_cross_entropy matches the reference on random probabilities inside the clip (0.001 to 0.999)"""
    agree(student.losses.binary_cross_entropy, ref.binary_cross_entropy, *data, tol=tol)


@pytest.mark.grades("sigmoid_cross_entropy_with_logits")
@pytest.mark.weight(2)
@given(data=pairs(low=-30.0, high=30.0, binary=True))
def test_sigmoid_ce_matches_reference(student, tol, data):
    """sigmoid_cross_entropy_with_logits matches the reference on random inputs"""
    agree(student.losses.sigmoid_cross_entropy_with_logits, ref.sigmoid_cross_entropy_with_logits, *data, tol=tol)


@pytest.mark.grades("sigmoid_cross_entropy_grad")
@pytest.mark.weight(2)
@given(data=pairs(low=-30.0, high=30.0, binary=True))
def test_sigmoid_ce_grad_matches_reference(student, tol, data):
    """sigmoid_cross_entropy_grad matches the reference on random inputs"""
    agree(student.losses.sigmoid_cross_entropy_grad, ref.sigmoid_cross_entropy_grad, *data, tol=tol)


@pytest.mark.grades("softmax_cross_entropy_with_logits")
@pytest.mark.weight(2)
@given(data=classification())
def test_softmax_ce_matches_reference(student, tol, data):
    """softmax_cross_entropy_with_logits matches the reference on random inputs (one-hot labels)"""
    agree(student.losses.softmax_cross_entropy_with_logits, ref.softmax_cross_entropy_with_logits, *data, tol=tol)


@pytest.mark.grades("softmax_cross_entropy_with_logits", convention="soft labels")
@given(data=classification(soft=True))
def test_softmax_ce_soft_labels(student, tol, data):
    """softmax_cross_entropy_with_logits matches the reference with soft labels (rows of y sum to 1)"""
    agree(student.losses.softmax_cross_entropy_with_logits, ref.softmax_cross_entropy_with_logits, *data, tol=tol)


@pytest.mark.grades("softmax_cross_entropy_grad")
@pytest.mark.weight(2)
@given(data=classification())
def test_softmax_ce_grad_matches_reference(student, tol, data):
    """softmax_cross_entropy_grad matches the reference on random inputs (one-hot labels)"""
    agree(student.losses.softmax_cross_entropy_grad, ref.softmax_cross_entropy_grad, *data, tol=tol)


@pytest.mark.grades("softmax_cross_entropy_grad", convention="soft labels")
@given(data=classification(soft=True))
def test_softmax_ce_grad_soft_labels(student, tol, data):
    """softmax_cross_entropy_grad matches the reference with soft labels (rows of y sum to 1)"""
    agree(student.losses.softmax_cross_entropy_grad, ref.softmax_cross_entropy_grad, *data, tol=tol)


# --- edges: clipping and large logits ---------------------------------------------------------

@pytest.mark.grades("binary_cross_entropy", convention="clipping")
def test_bce_clips_probabilities(student, tol):
    """binary_cross_entropy clips p to [1e-7, 1 - 1e-7] (Keras' epsilon): finite at p = 0 and 1"""
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-12, 1.0 - 1e-12, 5e-8, 1.0 - 5e-8, 1e-7, 0.3])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    agree(student.losses.binary_cross_entropy, ref.binary_cross_entropy, p, y, tol=tol)
    # Only the confident right answers: the loss is -log(1 - 1e-7) per element, not 0 and not nan.
    agree(student.losses.binary_cross_entropy, ref.binary_cross_entropy, p[:2], y[:2], tol=tol)


@pytest.mark.grades("sigmoid_cross_entropy_with_logits")
def test_sigmoid_ce_large_logits(student, tol):
    """sigmoid_cross_entropy_with_logits is finite and correct for |z| = 1000"""
    z = np.array([[-1000.0, 1000.0, -1000.0, 1000.0], [710.0, -710.0, 1e5, -1e5]])
    y = np.array([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.5, 0.25]])
    agree(student.losses.sigmoid_cross_entropy_with_logits, ref.sigmoid_cross_entropy_with_logits, z, y, tol=tol)


@pytest.mark.grades("sigmoid_cross_entropy_grad")
def test_sigmoid_ce_grad_large_logits(student, tol):
    """sigmoid_cross_entropy_grad is finite and correct for |z| = 1000"""
    z = np.array([[-1000.0, 1000.0, -1000.0], [1000.0, 710.0, -710.0]])
    y = np.array([[0.0, 1.0, 1.0], [0.0, 0.5, 1.0]])
    agree(student.losses.sigmoid_cross_entropy_grad, ref.sigmoid_cross_entropy_grad, z, y, tol=tol)


@pytest.mark.grades("softmax_cross_entropy_with_logits")
def test_softmax_ce_large_logits(student, tol):
    """softmax_cross_entropy_with_logits is finite and correct for logits of 1000 (one-hot labels)"""
    # exp(800) overflows without the max shift (nan or inf), while log(softmax) in two steps is
    # log(0) = -inf only at -800: kept apart, so a failure points to one of them.
    agree(student.losses.softmax_cross_entropy_with_logits, ref.softmax_cross_entropy_with_logits,
          np.array([[800.0, 799.0]]), np.array([[1.0, 0.0]]), tol=tol)
    agree(student.losses.softmax_cross_entropy_with_logits, ref.softmax_cross_entropy_with_logits,
          np.array([[0.0, -800.0]]), np.array([[0.0, 1.0]]), tol=tol)
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0], [1000.0, 1000.0, 1000.0]])
    y = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    agree(student.losses.softmax_cross_entropy_with_logits, ref.softmax_cross_entropy_with_logits, logits, y, tol=tol)
    # A confident right answer: softmax rounds the other classes to exactly 0, whose log is -inf.
    agree(student.losses.softmax_cross_entropy_with_logits, ref.softmax_cross_entropy_with_logits,
          np.array([[1000.0, -1000.0]]), np.array([[1.0, 0.0]]), tol=tol)


@pytest.mark.grades("softmax_cross_entropy_grad")
def test_softmax_ce_grad_large_logits(student, tol):
    """softmax_cross_entropy_grad is finite and correct for logits of 1000"""
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]])
    y = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    agree(student.losses.softmax_cross_entropy_grad, ref.softmax_cross_entropy_grad, logits, y, tol=tol)


# --- gradients against central differences of the reference loss ------------------------------

def numerical_check(student, tol, loss: str, grad: str, x, y) -> None:
    """The student's grad(x, y) against central differences of dlref's loss (computed here)."""
    fn = getattr(student.losses, grad)
    got = fn(x, y)
    numeric = numerical_grad(lambda v: getattr(ref, loss)(v, y), x)
    # Entries can be ~0 (prediction equal to the target), where a max relative error means nothing;
    # atol 1e-7 sits far above central differences' roundoff (~1e-10 on losses of order 1).
    loose = dataclasses.replace(tol, rtol=tol.grad_rel_error, atol=1e-7)
    assert_close(got, numeric, call=describe_call(grad, (x, y), {}), tol=loose, what="gradient (vs. central differences)",
                 hints=lambda g: hint("losses", grad, (x, y), {}, g, loose))


@pytest.mark.grades("mse_grad")
@settings(max_examples=10)
@given(data=pairs(low=-3.0, high=3.0))
def test_mse_grad_numerical(student, tol, data):
    """mse_grad agrees with a numerical gradient of the reference mse"""
    numerical_check(student, tol, "mse", "mse_grad", *data)


@pytest.mark.grades("sigmoid_cross_entropy_grad")
@settings(max_examples=10)
@given(data=pairs(low=-5.0, high=5.0, binary=True))
def test_sigmoid_ce_grad_numerical(student, tol, data):
    """sigmoid_cross_entropy_grad agrees with a numerical gradient of the reference loss"""
    numerical_check(student, tol, "sigmoid_cross_entropy_with_logits", "sigmoid_cross_entropy_grad", *data)


@pytest.mark.grades("softmax_cross_entropy_grad")
@settings(max_examples=10)
@given(data=classification(low=-5.0, high=5.0, max_k=3))
def test_softmax_ce_grad_numerical(student, tol, data):
    """softmax_cross_entropy_grad agrees with a numerical gradient of the reference loss (one-hot labels)"""
    numerical_check(student, tol, "softmax_cross_entropy_with_logits", "softmax_cross_entropy_grad", *data)
