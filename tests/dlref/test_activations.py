"""dlref.activations against TensorFlow (values and GradientTape derivatives) and numerical gradients."""
import warnings

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from dlref import activations as act
from dlref.gradcheck import numerical_vjp, rel_error

# Elementwise float64 vs TF float64: both are a handful of correctly rounded ops, so agreement
# is a few ulps; rtol 1e-12 leaves ~4 orders of slack. atol only absorbs subnormal-range values.
RTOL, ATOL = 1e-12, 1e-300
# TF's derivatives are y * (1 - y) and 1 - y**2: where y is near 1 the subtraction loses up to a
# few ulps of 1 (~2e-16 absolute), so derivatives are compared with that absolute floor added.
GRAD_ATOL = 1e-15
# Central differences with h = 1e-6: truncation ~h^2 and round-off ~1e-16/h, both far below 1e-6.
GRAD_TOL = 1e-6

# TF on CPU flushes subnormals to zero (relu'(1e-313) is 0 there, 1 by the contract): no subnormals.
finite = st.floats(-50.0, 50.0, allow_subnormal=False)
moderate = st.floats(-4.0, 4.0, allow_subnormal=False)


def f64(shape=array_shapes(min_dims=1, max_dims=3, max_side=5), elements=finite):
    return arrays(np.float64, shape, elements=elements)


def tf_value_and_grad(fn, z):
    """fn(z) and d fn / dz elementwise (gradient of the sum of an elementwise op), by GradientTape."""
    t = tf.constant(z, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(t)
        out = fn(t)
    return out.numpy(), tape.gradient(out, t).numpy()


PAIRS = [
    (act.sigmoid, act.sigmoid_grad, tf.sigmoid),
    (act.tanh, act.tanh_grad, tf.tanh),
    (act.relu, act.relu_grad, tf.nn.relu),
]
IDS = ["sigmoid", "tanh", "relu"]


@pytest.mark.parametrize("fn, grad, tf_fn", PAIRS, ids=IDS)
@given(z=f64())
def test_activation_and_grad_match_tensorflow(fn, grad, tf_fn, z):
    want, want_grad = tf_value_and_grad(tf_fn, z)
    got, got_grad = fn(z), grad(z)
    assert got.shape == z.shape and got_grad.shape == z.shape
    assert got.dtype == np.float64 and got_grad.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got_grad, want_grad, rtol=RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("z", [15.0, 40.0, 300.0])
def test_smooth_grads_keep_relative_precision_in_the_tails(z):
    # Asymptotics, independent of any implementation: sigmoid'(z) = e^-z (1 + O(e^-z)) and
    # tanh'(z) = 4 e^-2z (1 + O(e^-2z)); at z >= 15 the O() terms are below 1e-6 relative.
    for sign in (1.0, -1.0):
        np.testing.assert_allclose(act.sigmoid_grad(sign * z), np.exp(-z), rtol=1e-6)
        np.testing.assert_allclose(act.tanh_grad(sign * z), 4.0 * np.exp(-2.0 * z), rtol=1e-6)


@pytest.mark.parametrize("fn, grad", [(act.sigmoid, act.sigmoid_grad), (act.tanh, act.tanh_grad)], ids=IDS[:2])
@given(z=f64(elements=moderate), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=15)
def test_smooth_grads_match_numerical(fn, grad, z, seed):
    # |z| <= 4 keeps the derivative >= ~1e-3, so relative error is meaningful.
    rng = np.random.default_rng(seed)
    dout = rng.uniform(0.5, 2.0, z.shape) * rng.choice([-1.0, 1.0], z.shape)
    assert rel_error(grad(z) * dout, numerical_vjp(fn, z, dout)) < GRAD_TOL


@given(z=f64(elements=moderate), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=15)
def test_relu_grad_matches_numerical_away_from_kink(z, seed):
    assume(np.min(np.abs(z)) > 1e-3)  # h = 1e-6 never crosses 0
    dout = np.random.default_rng(seed).uniform(-2.0, 2.0, z.shape)
    assert rel_error(act.relu_grad(z) * dout, numerical_vjp(act.relu, z, dout)) < GRAD_TOL


def test_relu_grad_at_zero_is_zero_like_tensorflow():
    z = np.array([-1.0, -0.0, 0.0, 1e-300, 2.0])
    _, want = tf_value_and_grad(tf.nn.relu, z)
    np.testing.assert_array_equal(act.relu_grad(z), want)
    np.testing.assert_array_equal(act.relu_grad(z), [0.0, 0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("axis", [-1, 0, 1])
@given(z=arrays(np.float64, (3, 4, 2), elements=finite))
def test_softmax_matches_tensorflow(axis, z):
    np.testing.assert_allclose(act.softmax(z, axis=axis), tf.nn.softmax(tf.constant(z, tf.float64), axis=axis).numpy(),
                               rtol=RTOL, atol=ATOL)


def test_softmax_default_axis_is_last():
    z = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(act.softmax(z), tf.nn.softmax(tf.constant(z, tf.float64)).numpy(), rtol=RTOL)


@given(z=f64(), c=st.floats(-100.0, 100.0), axis=st.sampled_from([0, -1]))
def test_softmax_shift_invariance_and_rows_sum_to_one(z, c, axis):
    s = act.softmax(z, axis=axis)
    # Shifting by c changes the max-subtracted inputs only by rounding (|z|, |c| <= 100: ~1e-14 absolute).
    np.testing.assert_allclose(act.softmax(z + c, axis=axis), s, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=0, atol=1e-12)
    assert np.all(s >= 0)


@given(z=f64(elements=st.sampled_from([-1000.0, 1000.0, 0.0, 999.0])), axis=st.sampled_from([0, -1]))
def test_softmax_stable_at_1000(z, axis):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = act.softmax(z, axis=axis)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s, tf.nn.softmax(tf.constant(z, tf.float64), axis=axis).numpy(), rtol=RTOL, atol=ATOL)


def test_sigmoid_extremes_exact_and_quiet():
    z = np.array([-1000.0, 1000.0, -1e308, 1e308, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, ds = act.sigmoid(z), act.sigmoid_grad(z)
        assert act.sigmoid(-1000.0) == 0.0
        assert act.sigmoid(1000.0) == 1.0
    np.testing.assert_array_equal(s, [0.0, 1.0, 0.0, 1.0, 0.5])
    np.testing.assert_array_equal(ds, [0.0, 0.0, 0.0, 0.0, 0.25])


@given(z=f64(elements=st.floats(-1e308, 1e308)))
def test_activations_finite_for_any_finite_input(z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = [f(z) for f in (act.sigmoid, act.sigmoid_grad, act.tanh, act.tanh_grad, act.relu, act.relu_grad)]
    assert all(np.all(np.isfinite(o)) for o in outs)


def test_functions_are_pure():
    z = np.array([[-1.0, 0.0, 2.0]])
    before = z.copy()
    for f in (act.sigmoid, act.sigmoid_grad, act.tanh, act.tanh_grad, act.relu, act.relu_grad, act.softmax):
        f(z)
    np.testing.assert_array_equal(z, before)


def test_get_returns_pairs_and_rejects_unknown():
    assert act.get("tanh") == (act.tanh, act.tanh_grad)
    with pytest.raises(ValueError, match="'swish'.*'relu'"):
        act.get("swish")
    with pytest.raises(ValueError, match="'linear'"):
        act.get("linear", ("relu", "tanh"))
