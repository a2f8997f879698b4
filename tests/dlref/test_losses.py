"""dlref.losses against TensorFlow/Keras (values and GradientTape gradients) and numerical gradients."""
import warnings

import keras
import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from dlref import losses
from dlref.gradcheck import numerical_grad, rel_error

# Scalar losses vs TF float64: a mean of O(1) terms, each a few correctly rounded ops; the two
# sides differ only by summation order and log1p/log details, ~1e-15 relative, so rtol 1e-12.
RTOL = 1e-12
# Gradients vs TF: elementwise (p - y) / n style values; where p and y nearly cancel the two
# formulas differ by ~eps of the O(1) operands divided by n, hence an absolute floor of 1e-15.
GRAD_RTOL, GRAD_ATOL = 1e-12, 1e-15
# Central differences (h = 1e-6) on losses of size O(1): round-off ~1e-10 absolute against
# gradient entries kept >= ~1e-3 by construction, truncation ~1e-12; 1e-6 relative is safe.
NUM_TOL = 1e-6

seeds = st.integers(0, 2**32 - 1)
shapes = st.sampled_from([(7,), (3, 4), (2, 3, 2)])


def tf64(a):
    return tf.constant(a, dtype=tf.float64)


def tape_grad(loss_fn, x):
    """d loss_fn(x) / dx by GradientTape."""
    t = tf64(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        loss = loss_fn(t)
    return tape.gradient(loss, t).numpy()


def tf_softmax_ce(labels, logits):
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def tf_sigmoid_ce(labels, logits):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def softmax_data(seed, n=4, k=3, scale=2.0, soft=False):
    rng = np.random.default_rng(seed)
    logits = rng.uniform(-scale, scale, (n, k))
    if soft:
        y = rng.dirichlet(np.ones(k), size=n)
    else:
        y = np.eye(k)[rng.integers(0, k, n)]
    return logits, y


# --- mse -------------------------------------------------------------------------------------

@given(seed=seeds, shape=shapes)
def test_mse_matches_keras_and_tape(seed, shape):
    rng = np.random.default_rng(seed)
    p, y = rng.normal(size=shape), rng.normal(size=shape)
    got = losses.mse(p, y)
    assert type(got) is float
    # keras' mean_squared_error averages the last axis only; the outer reduce_mean finishes the mean.
    want = tf.reduce_mean(keras.losses.mean_squared_error(tf64(y), tf64(p))).numpy()
    np.testing.assert_allclose(got, want, rtol=RTOL)
    want_grad = tape_grad(lambda t: tf.reduce_mean(tf.square(t - tf64(y))), p)
    np.testing.assert_allclose(losses.mse_grad(p, y), want_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


@given(seed=seeds, shape=shapes)
@settings(max_examples=15)
def test_mse_grad_matches_numerical(seed, shape):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=shape)
    # |p - y| >= 0.1 keeps every gradient entry away from 0.
    p = y + rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    assert rel_error(losses.mse_grad(p, y), numerical_grad(lambda v: losses.mse(v, y), p)) < NUM_TOL


# --- binary cross-entropy on probabilities ---------------------------------------------------

@given(seed=seeds, shape=shapes, soft=st.booleans())
def test_bce_matches_keras(seed, shape, soft):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, shape)
    # Exact 0s and 1s exercise the [1e-7, 1 - 1e-7] clip.
    p.flat[0], p.flat[-1] = 0.0, 1.0
    y = rng.uniform(0.0, 1.0, shape) if soft else rng.integers(0, 2, shape).astype(np.float64)
    got = losses.binary_cross_entropy(p, y)
    assert type(got) is float
    want = tf.reduce_mean(keras.losses.binary_crossentropy(tf64(y), tf64(p))).numpy()
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_bce_clips_like_keras_epsilon():
    # Confident and wrong: keras clips p = 0 to 1e-7, so the loss is exactly -log(1e-7) per element.
    p, y = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    np.testing.assert_allclose(losses.binary_cross_entropy(p, y), -np.log(1e-7), rtol=1e-9)
    np.testing.assert_allclose(losses.binary_cross_entropy(p, y), keras.losses.binary_crossentropy(tf64(y), tf64(p)).numpy(), rtol=RTOL)


@given(p=st.lists(st.sampled_from([0.0, 1.0, 5e-324, 1e-300, 1.0 - 1e-16, 0.5]), min_size=1, max_size=6),
       data=st.data())
def test_bce_finite_for_extreme_probabilities(p, data):
    y = data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=len(p), max_size=len(p)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = losses.binary_cross_entropy(np.array(p), np.array(y))
    assert np.isfinite(loss) and 0.0 <= loss <= -np.log(1e-7) + 1e-9


# --- sigmoid cross-entropy on logits ---------------------------------------------------------

@given(seed=seeds, shape=shapes, scale=st.sampled_from([1.0, 10.0, 50.0]))
def test_sigmoid_ce_and_grad_match_tensorflow(seed, shape, scale):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-scale, scale, shape)
    y = rng.integers(0, 2, shape).astype(np.float64)
    got = losses.sigmoid_cross_entropy_with_logits(z, y)
    assert type(got) is float
    np.testing.assert_allclose(got, tf_sigmoid_ce(tf64(y), tf64(z)).numpy(), rtol=RTOL)
    want_grad = tape_grad(lambda t: tf_sigmoid_ce(tf64(y), t), z)
    np.testing.assert_allclose(losses.sigmoid_cross_entropy_grad(z, y), want_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


@given(seed=seeds, shape=shapes)
@settings(max_examples=15)
def test_sigmoid_ce_grad_matches_numerical(seed, shape):
    rng = np.random.default_rng(seed)
    # Hard labels and |z| <= 3: |sigmoid(z) - y| >= sigmoid(-3) ~ 0.047, so no entry is near 0.
    z = rng.uniform(-3.0, 3.0, shape)
    y = rng.integers(0, 2, shape).astype(np.float64)
    num = numerical_grad(lambda v: losses.sigmoid_cross_entropy_with_logits(v, y), z)
    assert rel_error(losses.sigmoid_cross_entropy_grad(z, y), num) < NUM_TOL


def test_sigmoid_ce_stable_at_1000():
    z = np.array([-1000.0, 1000.0, -1000.0, 1000.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = losses.sigmoid_cross_entropy_with_logits(z, y)
        grad = losses.sigmoid_cross_entropy_grad(z, y)
    # Two perfect predictions cost 0, two wrong by 1000 cost 1000 each: mean 500.
    np.testing.assert_allclose(loss, 500.0, rtol=1e-15)
    np.testing.assert_array_equal(grad, [0.0, 0.0, -0.25, 0.25])


# --- softmax cross-entropy on logits ---------------------------------------------------------

@given(seed=seeds, soft=st.booleans(), scale=st.sampled_from([1.0, 10.0, 100.0]))
def test_softmax_ce_and_grad_match_tensorflow(seed, soft, scale):
    logits, y = softmax_data(seed, n=5, k=4, scale=scale, soft=soft)
    got = losses.softmax_cross_entropy_with_logits(logits, y)
    assert type(got) is float
    np.testing.assert_allclose(got, tf_softmax_ce(tf64(y), tf64(logits)).numpy(), rtol=RTOL)
    want_grad = tape_grad(lambda t: tf_softmax_ce(tf64(y), t), logits)
    np.testing.assert_allclose(losses.softmax_cross_entropy_grad(logits, y), want_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


@given(seed=seeds)
@settings(max_examples=15)
def test_softmax_ce_grad_matches_numerical(seed):
    # One-hot labels, logits in [-2, 2], K = 3, N = 4: every |softmax - y| / N is >= ~1e-3.
    logits, y = softmax_data(seed)
    num = numerical_grad(lambda v: losses.softmax_cross_entropy_with_logits(v, y), logits)
    assert rel_error(losses.softmax_cross_entropy_grad(logits, y), num) < NUM_TOL


@given(rows=st.lists(st.lists(st.sampled_from([-1000.0, 1000.0, 0.0]), min_size=3, max_size=3), min_size=1, max_size=4),
       seed=seeds)
def test_softmax_ce_stable_at_1000(rows, seed):
    logits = np.array(rows)
    y = np.eye(3)[np.random.default_rng(seed).integers(0, 3, len(rows))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = losses.softmax_cross_entropy_with_logits(logits, y)
        grad = losses.softmax_cross_entropy_grad(logits, y)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, tf_softmax_ce(tf64(y), tf64(logits)).numpy(), rtol=RTOL, atol=1e-300)


def test_softmax_ce_known_value():
    # Uniform logits over K classes: the loss is log K whatever the one-hot label.
    np.testing.assert_allclose(losses.softmax_cross_entropy_with_logits(np.zeros((2, 5)), np.eye(5)[[0, 3]]),
                               np.log(5.0), rtol=1e-15)


def test_losses_are_pure():
    logits, y = softmax_data(0)
    saved = logits.copy(), y.copy()
    for f in (losses.mse, losses.mse_grad, losses.sigmoid_cross_entropy_with_logits,
              losses.sigmoid_cross_entropy_grad, losses.softmax_cross_entropy_with_logits,
              losses.softmax_cross_entropy_grad):
        f(logits, y)
    p = np.array([0.0, 0.5, 1.0])
    losses.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(p, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(logits, saved[0])
    np.testing.assert_array_equal(y, saved[1])
