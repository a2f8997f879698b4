"""dlref.backprop: dense layers and the MLP vs TensorFlow GradientTape and numerical gradients."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlref import backprop as bp
from dlref.gradcheck import numerical_grad, numerical_vjp

# Matmul results vs TF float64: D-term sums of O(1) products whose order differs between BLAS and
# Eigen; error ~D * eps * sum|terms| <= ~1e-14 absolute, so rtol 1e-10 with a 1e-13 floor.
RTOL, ATOL = 1e-10, 1e-13
# Central differences with h = 1e-6 on O(1) scalars: round-off ~1e-10, truncation ~1e-12 absolute.
# Gradient entries can be arbitrarily close to 0, where relative error means nothing, so the
# check is relative 1e-6 plus an absolute floor of 1e-8 (~100x the round-off).
NUM_TOL, NUM_ATOL = 1e-6, 1e-8

seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 5)

TF_ACT = {"relu": tf.nn.relu, "tanh": tf.tanh, "sigmoid": tf.sigmoid}
NP_ACT = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}


def tf64(a):
    return tf.constant(a, dtype=tf.float64)


# --- dense ------------------------------------------------------------------------------------

@given(seed=seeds, n=dims, d=dims, m=dims)
def test_dense_forward_backward_match_tensorflow(seed, n, d, m):
    rng = np.random.default_rng(seed)
    x, W, b, dout = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m), rng.normal(size=(n, m))
    tx, tW, tb = tf64(x), tf.Variable(W), tf.Variable(b)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        out = tf.matmul(tx, tW) + tb
    want_dx, want_dW, want_db = tape.gradient(out, [tx, tW, tb], output_gradients=tf64(dout))
    np.testing.assert_allclose(bp.dense_forward(x, W, b), out.numpy(), rtol=RTOL, atol=ATOL)
    dx, dW, db = bp.dense_backward(dout, x, W)
    assert dx.shape == (n, d) and dW.shape == (d, m) and db.shape == (m,)
    np.testing.assert_allclose(dx, want_dx.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dW, want_dW.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(db, want_db.numpy(), rtol=RTOL, atol=ATOL)


@given(seed=seeds)
@settings(max_examples=10)
def test_dense_backward_matches_numerical(seed):
    rng = np.random.default_rng(seed)
    x, W, b, dout = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2), rng.normal(size=(3, 2))
    dx, dW, db = bp.dense_backward(dout, x, W)
    # The layer is linear, so central differences are exact up to round-off (~1e-10 absolute).
    for got, num in [(dx, numerical_vjp(lambda v: bp.dense_forward(v, W, b), x, dout)),
                     (dW, numerical_vjp(lambda v: bp.dense_forward(x, v, b), W, dout)),
                     (db, numerical_vjp(lambda v: bp.dense_forward(x, W, v), b, dout))]:
        np.testing.assert_allclose(got, num, rtol=NUM_TOL, atol=NUM_ATOL)


# --- init_params ------------------------------------------------------------------------------

def test_init_params_shapes_keys_and_zero_biases():
    sizes = [5, 4, 3, 2]
    params = bp.init_params(sizes, sigma=0.1, seed=3)
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for i in range(3):
        assert params[f"W{i + 1}"].shape == (sizes[i], sizes[i + 1])
        assert params[f"W{i + 1}"].dtype == np.float64
        np.testing.assert_array_equal(params[f"b{i + 1}"], np.zeros(sizes[i + 1]))


def test_init_params_same_seed_same_params_other_seed_differs():
    a, b, c = bp.init_params([3, 4, 2], seed=7), bp.init_params([3, 4, 2], seed=7), bp.init_params([3, 4, 2], seed=8)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W1"], c["W1"])


def test_init_params_documented_draw_order():
    # Other code reproduces this order: one default_rng(seed), then W1, W2, ... each rng.normal(0, sigma).
    rng = np.random.default_rng(11)
    w1, w2 = rng.normal(0.0, 0.3, (2, 3)), rng.normal(0.0, 0.3, (3, 4))
    params = bp.init_params([2, 3, 4], sigma=0.3, seed=11)
    np.testing.assert_array_equal(params["W1"], w1)
    np.testing.assert_array_equal(params["W2"], w2)


@pytest.mark.parametrize("sigma", [0.01, 2.0])
def test_init_params_sample_statistics(sigma):
    w = bp.init_params([500, 400], sigma=sigma, seed=0)["W1"]
    # n = 200,000 draws: the sample std has relative sd 1/sqrt(2n) ~ 0.0016 and the mean has sd
    # sigma/sqrt(n) ~ 0.0022 sigma; 2% and 0.02 sigma are ~10 standard deviations.
    assert abs(w.std() / sigma - 1.0) < 0.02
    assert abs(w.mean()) < 0.02 * sigma


# --- MLP --------------------------------------------------------------------------------------

def mlp_case(seed, sizes, n=6):
    """Params with sigma = 1 (O(1) gradients), inputs x (n, D) and one-hot labels (n, K)."""
    rng = np.random.default_rng(seed)
    params = bp.init_params(sizes, sigma=1.0, seed=seed)
    params = {k: v + (rng.normal(size=v.shape) if k.startswith("b") else 0.0) for k, v in params.items()}
    x = rng.normal(size=(n, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    return params, x, y


def hidden_preactivations(params, x, activation):
    """Every hidden layer's pre-activation, by plain numpy (independent of dlref)."""
    L, a, zs = len(params) // 2, x, []
    for i in range(1, L):
        z = a @ params[f"W{i}"] + params[f"b{i}"]
        zs.append(z)
        a = NP_ACT[activation](z)
    return zs


def tf_mlp_loss_and_grads(params, x, y, activation):
    L = len(params) // 2
    tparams = {k: tf.Variable(v) for k, v in params.items()}
    with tf.GradientTape() as tape:
        a = tf64(x)
        for i in range(1, L + 1):
            a = tf.matmul(a, tparams[f"W{i}"]) + tparams[f"b{i}"]
            if i < L:
                a = TF_ACT[activation](a)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=tf64(y), logits=a))
    grads = tape.gradient(loss, tparams)
    return a.numpy(), loss.numpy(), {k: g.numpy() for k, g in grads.items()}


architectures = st.sampled_from([[3, 2], [4, 5, 3], [3, 4, 4, 2]])


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@given(seed=seeds, sizes=architectures)
@settings(max_examples=20)
def test_mlp_matches_tensorflow(activation, seed, sizes):
    params, x, y = mlp_case(seed, sizes)
    want_logits, want_loss, want_grads = tf_mlp_loss_and_grads(params, x, y, activation)
    np.testing.assert_allclose(bp.mlp_forward(params, x, activation), want_logits, rtol=RTOL, atol=ATOL)
    loss, grads = bp.mlp_loss_and_grads(params, x, y, activation)
    assert type(loss) is float
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL)
    assert list(grads) == list(params)
    for k in params:
        assert grads[k].shape == params[k].shape
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=RTOL, atol=ATOL, err_msg=k)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@given(seed=seeds, sizes=architectures)
@settings(max_examples=8)
def test_mlp_grads_match_numerical(activation, seed, sizes):
    params, x, y = mlp_case(seed, sizes)
    # h = 1e-6 moves pre-activations by ~1e-5 at most: 1e-3 away from relu's kink is plenty.
    assume(activation != "relu" or all(np.min(np.abs(z)) > 1e-3 for z in hidden_preactivations(params, x, activation)))
    _, grads = bp.mlp_loss_and_grads(params, x, y, activation)
    for k in params:
        def loss_of(v, k=k):
            return bp.mlp_loss_and_grads({**params, k: v}, x, y, activation)[0]

        num = numerical_grad(loss_of, params[k])
        # Measured: some entries are ~1e-8 or smaller and the difference quotient is off by
        # ~1e-10 absolute there, so dlref.gradcheck.rel_error (elementwise) would reach 1e-4.
        np.testing.assert_allclose(grads[k], num, rtol=NUM_TOL, atol=NUM_ATOL, err_msg=k)


def test_mlp_default_activation_is_relu():
    params, x, _ = mlp_case(1, [4, 5, 3])
    np.testing.assert_array_equal(bp.mlp_forward(params, x), bp.mlp_forward(params, x, "relu"))
    assert not np.allclose(bp.mlp_forward(params, x), bp.mlp_forward(params, x, "tanh"))


@pytest.mark.parametrize("fn", ["mlp_forward", "mlp_loss_and_grads"])
@pytest.mark.parametrize("bad", ["linear", "softmax", "Relu"])
def test_mlp_rejects_unknown_activation(fn, bad):
    params, x, y = mlp_case(0, [3, 4, 2])
    args = (params, x) if fn == "mlp_forward" else (params, x, y)
    with pytest.raises(ValueError, match=repr(bad)):
        getattr(bp, fn)(*args, activation=bad)


def test_mlp_is_pure():
    params, x, y = mlp_case(2, [3, 4, 2])
    saved = {k: v.copy() for k, v in params.items()}, x.copy(), y.copy()
    bp.mlp_loss_and_grads(params, x, y, "tanh")
    for k in params:
        np.testing.assert_array_equal(params[k], saved[0][k])
    np.testing.assert_array_equal(x, saved[1])
    np.testing.assert_array_equal(y, saved[2])
