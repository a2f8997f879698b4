"""dlref.perceptron: forward vs TensorFlow, the 0/1 threshold, and Rosenblatt's rule by hand and by property."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from dlref import perceptron as pc

# Elementwise float64 vs TF float64: an m-term dot product plus one activation; summation order
# may differ by a few ulps of the O(1) terms, so rtol 1e-12 with a 1e-14 absolute floor.
RTOL, ATOL = 1e-12, 1e-14

seeds = st.integers(0, 2**32 - 1)

TF_ACTIVATIONS = {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "relu": tf.nn.relu, "linear": tf.identity}

AND_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
AND_Y = np.array([0, 0, 0, 1])


@pytest.mark.parametrize("activation", list(TF_ACTIVATIONS))
@given(seed=seeds, n=st.integers(1, 6), m=st.integers(1, 5))
def test_forward_matches_tensorflow(activation, seed, n, m):
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=(n, m)), rng.normal(size=m), float(rng.normal())
    z_tf = tf.linalg.matvec(tf.constant(x, tf.float64), tf.constant(w, tf.float64)) + tf.constant(b, tf.float64)
    z = pc.weighted_sum(x, w, b)
    assert z.shape == (n,)
    np.testing.assert_allclose(z, z_tf.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(pc.perceptron_forward(x, w, b, activation), TF_ACTIVATIONS[activation](z_tf).numpy(),
                               rtol=RTOL, atol=ATOL)


def test_forward_default_is_sigmoid():
    x, w = np.array([[1.0, 2.0]]), np.array([0.5, -1.0])
    np.testing.assert_allclose(pc.perceptron_forward(x, w, 0.25), tf.sigmoid(tf.constant([-1.25], tf.float64)).numpy(),
                               rtol=RTOL)


def test_forward_rejects_unknown_activation_by_name():
    with pytest.raises(ValueError, match=r"'softplus'.*'sigmoid'.*'tanh'.*'relu'.*'linear'"):
        pc.perceptron_forward(AND_X, np.ones(2), 0.0, activation="softplus")


def test_predict_threshold_is_inclusive_and_integer():
    x = np.array([[1.0, -1.0], [0.0, 0.0], [1.0, 1.0], [-1.0, -1.0], [0.5, -1.0]])
    w = np.array([1.0, 1.0])
    # z = [0, 0, 2, -2, -0.5]: exactly 0 predicts 1.
    pred = pc.perceptron_predict(x, w, 0.0)
    assert np.issubdtype(pred.dtype, np.integer)
    np.testing.assert_array_equal(pred, [1, 1, 1, 0, 0])


def test_and_gate_by_hand():
    # lr = 1, w = (0, 0), b = 0, samples in order (x1, x2) -> y; pred = 1 iff z = b + w.x >= 0.
    # Epoch 1: (0,0)->0: z=0, pred 1, err -1: b=-1.        (0,1)->0: z=-1 ok.  (1,0)->0: z=-1 ok.
    #          (1,1)->1: z=-1, pred 0, err +1: w=(1,1), b=0.
    # Epoch 2: (0,0): z=0 err -1: b=-1.  (0,1): z=0 err -1: w=(1,0), b=-2.  (1,0): z=-1 ok.
    #          (1,1): z=-1 err +1: w=(2,1), b=-1.
    # Epoch 3: (0,0): z=-1 ok.  (0,1): z=0 err -1: w=(2,0), b=-2.  (1,0): z=0 err -1: w=(1,0), b=-3.
    #          (1,1): z=-2 err +1: w=(2,1), b=-2.
    # Epoch 4: (0,0): -2 ok.  (0,1): -1 ok.  (1,0): z=0 err -1: w=(1,1), b=-3.  (1,1): z=-1 err +1: w=(2,2), b=-2.
    # Epoch 5: (0,0): -2 ok.  (0,1): z=0 err -1: w=(2,1), b=-3.  (1,0): -1 ok.  (1,1): z=0 -> 1 ok.
    # Epoch 6: z = -3, -2, -1, 0: no mistake, stop.
    w, b = pc.perceptron_train(AND_X, AND_Y, lr=1.0)
    np.testing.assert_array_equal(w, [2.0, 1.0])
    assert b == -3.0
    np.testing.assert_array_equal(pc.perceptron_predict(AND_X, w, b), AND_Y)
    # The epoch cap: after epoch 1 alone, w = (1, 1), b = 0.
    w1, b1 = pc.perceptron_train(AND_X, AND_Y, lr=1.0, epochs=1)
    np.testing.assert_array_equal(w1, [1.0, 1.0])
    assert b1 == 0.0


def test_lr_scales_the_solution_from_zero():
    # From w = b = 0 every update is a multiple of lr, so the whole trajectory scales by lr.
    w, b = pc.perceptron_train(AND_X, AND_Y, lr=0.5)
    np.testing.assert_array_equal(w, [1.0, 0.5])
    assert b == -1.5


def count_epochs(monkeypatch):
    calls = []
    real = pc._train_epoch

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(pc, "_train_epoch", counting)
    return calls


def test_stops_after_first_clean_epoch(monkeypatch):
    calls = count_epochs(monkeypatch)
    pc.perceptron_train(AND_X, AND_Y, lr=1.0, epochs=100)
    # Five epochs with mistakes (traced in test_and_gate_by_hand), then one clean epoch.
    assert len(calls) == 6


def test_already_separable_at_zero_stops_after_one_epoch(monkeypatch):
    calls = count_epochs(monkeypatch)
    # All labels 1: z = 0 predicts 1 everywhere, so epoch 1 has no mistake and nothing moves.
    x = np.random.default_rng(0).normal(size=(5, 3))
    w, b = pc.perceptron_train(x, np.ones(5, dtype=int), epochs=1000)
    assert len(calls) == 1
    np.testing.assert_array_equal(w, np.zeros(3))
    assert b == 0.0


@st.composite
def separable(draw):
    """Points in [-1, 1]^m at distance >= 0.1 from a random hyperplane, labelled by its side."""
    seed, m, n = draw(seeds), draw(st.integers(1, 3)), draw(st.integers(2, 30))
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=m)
    normal /= np.linalg.norm(normal)
    offset = rng.uniform(-0.5, 0.5)
    x = rng.uniform(-1.0, 1.0, (4 * n, m))
    dist = x @ normal + offset
    keep = np.abs(dist) >= 0.1
    return x[keep][:n], (dist[keep][:n] > 0).astype(int)


@given(data=separable(), lr=st.sampled_from([0.1, 1.0, 3.0]))
def test_train_separates_linearly_separable_data(data, lr):
    x, y = data
    # Novikoff: at most (R / gamma)^2 updates, R^2 <= m + 1 = 4 and gamma >= 0.1 / sqrt(1.25) for
    # the bias-augmented points, so <= 500 updates and at most 501 epochs.
    w, b = pc.perceptron_train(x, y, lr=lr, epochs=600)
    assert w.shape == (x.shape[1],)
    np.testing.assert_array_equal(pc.perceptron_predict(x, w, b), y)


def test_train_is_pure():
    x, y = AND_X.copy(), AND_Y.copy()
    pc.perceptron_train(x, y)
    np.testing.assert_array_equal(x, AND_X)
    np.testing.assert_array_equal(y, AND_Y)
