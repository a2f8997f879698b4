"""dlref.optim against Keras' SGD / Adam, hand-derived Adam steps, mini-batch properties and MLP training."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from dlref.backprop import init_params, mlp_loss_and_grads  # noqa: E402
from dlref.optim import (  # noqa: E402
    INIT_SIGMA,
    adam_step,
    minibatches,
    momentum_step,
    predict_mlp,
    sgd_step,
    train_mlp,
)

# Keras keeps the learning rate in a float32 variable (floatx) even for float64 weights, and its
# ops.cast(python_float, float64) of momentum / beta_1 / beta_2 goes through a float32 tensor, so
# those hyperparameters are rounded to float32 inside Keras (0.9 -> 0.89999998). The exact
# comparisons below use values representable in float32; the weights, gradients and slots stay
# float64 (checked in keras_run).
LR = 2.0**-4


def keras_run(optimizer, w0, grads):
    """Weights after each optimizer.apply_gradients step on a float64 keras.Variable, plus the optimizer."""
    var = keras.Variable(w0, dtype="float64")
    history = []
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), var)])
        history.append(var.value.numpy().copy())  # not convert_to_numpy: it warns under numpy 2
    assert history[-1].dtype == np.float64  # Keras did keep float64
    return history, optimizer


def grad_sequence(steps, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) * rng.choice([1e-8, 1e-3, 1.0, 10.0], size=shape) for _ in range(steps)]


# ---------------------------------------------------------------- SGD and momentum


def test_sgd_step_matches_keras_sgd():
    w0 = np.random.default_rng(1).normal(size=(3, 4))
    grads = grad_sequence(4, seed=1)
    expected, _ = keras_run(keras.optimizers.SGD(learning_rate=LR, momentum=0.0), w0, grads)
    w = w0
    for g, e in zip(grads, expected):
        w = sgd_step(w, g, LR)
        # Same float64 operations as Keras (w - lr * g): agreement to rounding, 1e-15 relative.
        np.testing.assert_allclose(w, e, rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.875, 1 - 2.0**-7])
def test_momentum_step_matches_keras_sgd(momentum):
    w0 = np.random.default_rng(2).normal(size=(3, 4))
    grads = grad_sequence(8, seed=2)
    expected, _ = keras_run(keras.optimizers.SGD(learning_rate=LR, momentum=momentum), w0, grads)
    w, velocity = w0, np.zeros_like(w0)
    for g, e in zip(grads, expected):
        w, velocity = momentum_step(w, g, velocity, LR, momentum)
        # Compare the displacement from w0, not w itself, so small steps are not hidden by |w| ~ 1;
        # float64 rounding over 8 steps stays below 1e-12 relative to the largest displacement.
        scale = np.max(np.abs(e - w0))
        np.testing.assert_allclose(w - w0, e - w0, rtol=0, atol=1e-12 * scale)


def test_momentum_step_hand_derived():
    # Two steps by hand: v1 = -lr g1, w1 = w0 - lr g1; v2 = -m lr g1 - lr g2, w2 = w1 + v2.
    w0, g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 4.0]), np.array([-1.0, 2.0])
    lr, m = 0.5, 0.5
    w1, v1 = momentum_step(w0, g1, np.zeros(2), lr, m)
    np.testing.assert_array_equal(v1, [-0.25, -2.0])
    np.testing.assert_array_equal(w1, [0.75, -4.0])
    w2, v2 = momentum_step(w1, g2, v1, lr, m)
    np.testing.assert_array_equal(v2, [0.375, -2.0])
    np.testing.assert_array_equal(w2, [1.125, -6.0])


# ---------------------------------------------------------------- Adam


@pytest.mark.parametrize("beta1,beta2", [(0.875, 1 - 2.0**-10), (0.5, 0.9375), (0.0, 1 - 2.0**-6)])
def test_adam_step_matches_keras_adam(beta1, beta2):
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(3, 4))
    # Each entry keeps its own gradient scale over the 10 steps, from 1e-8 (where Algorithm 1's
    # bias correction dominates and eps would matter) to 10, so every step is ~lr in size and the
    # displacement comparison below is not swamped by rounding of w.
    scale = rng.choice([1e-8, 1e-3, 1.0, 10.0], size=w0.shape)
    # |g| >= 0.2 * scale, mostly positive, so neither v nor (mostly) m collapses to ~0.
    signs = [rng.choice([-1.0, 1.0], w0.shape, p=[0.25, 0.75]) for _ in range(10)]
    grads = [scale * rng.uniform(0.2, 1.5, w0.shape) * sign for sign in signs]
    # Keras implements the paper's "epsilon hat" variant: w -= lr_t m / (sqrt(v) + eps) with
    # lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), i.e. Algorithm 1 with eps / sqrt(1 - beta2^t) in
    # place of eps. The two agree only as eps -> 0, hence eps = 1e-20 here: the difference is then
    # ~eps / sqrt(v_t) <= 1e-20 / (sqrt(1 - beta2) * 0.2 * 1e-8) ~ 2e-10 relative for the tiniest.
    eps = 1e-20
    opt = keras.optimizers.Adam(learning_rate=LR, beta_1=beta1, beta_2=beta2, epsilon=eps)
    var = keras.Variable(w0, dtype="float64")
    w, m, v = w0, np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        k_prev = var.value.numpy().copy()
        opt.apply_gradients([(tf.constant(g), var)])
        slots = {x.name.rsplit("_", 1)[-1]: x.value.numpy() for x in opt.variables if x.shape == w0.shape}
        w_prev = w
        w, m, v = adam_step(w, g, m, v, t, lr=LR, beta1=beta1, beta2=beta2, eps=eps)
        # Per-step displacements, elementwise: the algebraic forms differ by rounding (~1e-15) and
        # the eps-hat term (< 1e-9), and |step| ~ lr keeps rounding of w at ~1e-15 relative: 1e-9.
        np.testing.assert_allclose(w - w_prev, var.value.numpy() - k_prev, rtol=1e-9, atol=0)
        # Keras updates m += (g - m)(1 - beta1), the same average in another form; it can cancel
        # to a small m, so the bound is relative to the entry's gradient scale: 1e-13 * scale.
        assert np.all(np.abs(m - slots["momentum"]) <= 1e-13 * scale)
        assert np.all(np.abs(v - slots["velocity"]) <= 1e-13 * scale**2)
    assert var.value.numpy().dtype == np.float64


def test_adam_step_matches_keras_adam_defaults():
    # The usual beta1 = 0.9, beta2 = 0.999 are rounded to float32 inside Keras' bias correction
    # only (its 1 - beta factors in the m, v updates use the Python floats). Relative step error
    # ~ |d beta1| / (1 - beta1) + |d beta2| / (2 (1 - beta2)) <= 2.4e-7 + 6.5e-6, so 2e-5.
    w0 = np.random.default_rng(6).normal(size=(3, 4))
    grads = grad_sequence(10, seed=6)
    expected, _ = keras_run(keras.optimizers.Adam(learning_rate=LR, epsilon=1e-20), w0, grads)
    w, m, v = w0, np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        w, m, v = adam_step(w, g, m, v, t, lr=LR, eps=1e-20)
    np.testing.assert_allclose(w - w0, expected[-1] - w0, rtol=2e-5, atol=0)


@pytest.mark.parametrize("g", [1e-8, -3.0, 0.25, 1e-7])
@pytest.mark.parametrize("eps", [1e-7, 1e-3, 0.0])
def test_adam_first_step_eps_placement(g, eps):
    # t = 1 from m = v = 0: m_hat = g and v_hat = g^2 exactly, so the step is lr g / (|g| + eps).
    lr = 0.01
    w, m, v = adam_step(np.array([2.0]), np.array([g]), np.zeros(1), np.zeros(1), 1, lr=lr, eps=eps)
    # Only rounding in (1 - beta) / (1 - beta^1) and the square root: 1e-13 relative.
    np.testing.assert_allclose(w, 2.0 - lr * g / (abs(g) + eps), rtol=1e-13)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-13)
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-13)


def test_adam_bias_correction_hand_derived():
    # Constant gradient g: m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so with the bias correction
    # m_hat = g, v_hat = g^2 at every t and each step is lr * sign(g) when eps = 0.
    w, m, v = np.array([0.0, 0.0]), np.zeros(2), np.zeros(2)
    g = np.array([1e-8, -5.0])
    for t in range(1, 6):
        w, m, v = adam_step(w, g, m, v, t, lr=0.1, eps=0.0)
        np.testing.assert_allclose(w, -0.1 * t * np.sign(g), rtol=1e-12)
        np.testing.assert_allclose(m, (1 - 0.9**t) * g, rtol=1e-12)
        np.testing.assert_allclose(v, (1 - 0.999**t) * g * g, rtol=1e-12)


def test_keras_eps_hat_differs_where_eps_matters():
    # Why the Keras comparison uses a tiny eps: with g ~ eps the two formulations visibly differ.
    g = np.array([1e-7])
    (k_w,), _ = keras_run(keras.optimizers.Adam(learning_rate=LR, epsilon=1e-7), np.array([0.0]), [g])
    ours, _, _ = adam_step(np.array([0.0]), g, np.zeros(1), np.zeros(1), 1, lr=LR, eps=1e-7)
    # Ours: lr g / (g + eps) = lr / 2. Keras: lr sqrt(1 - b2) g / (sqrt(1 - b2) g + eps) ~ lr / 32.6.
    np.testing.assert_allclose(ours, -LR / 2, rtol=1e-12)
    assert abs(k_w[0]) < abs(ours[0]) / 10


@pytest.mark.parametrize("t", [0, -1, 1.5, 2.0, True, None])
def test_adam_rejects_bad_step(t):
    with pytest.raises(ValueError, match="t"):
        adam_step(np.ones(2), np.ones(2), np.zeros(2), np.zeros(2), t)


def test_steps_are_pure():
    rng = np.random.default_rng(4)
    w, dw, s1, s2 = (rng.normal(size=(2, 3)) for _ in range(4))
    copies = [a.copy() for a in (w, dw, s1, s2)]
    sgd_step(w, dw, 0.1)
    momentum_step(w, dw, s1, 0.1, 0.9)
    adam_step(w, dw, s1, np.abs(s2), 3)
    for a, c in zip((w, dw, s1, np.abs(s2)), copies[:3] + [np.abs(copies[3])]):
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- minibatches


@given(n=st.integers(0, 300), batch_size=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_minibatches_partition(n, batch_size, seed):
    batches = minibatches(n, batch_size, seed=seed)
    assert len(batches) == -(-n // batch_size)
    if n == 0:
        assert batches == []
        return
    assert all(np.issubdtype(b.dtype, np.integer) for b in batches)
    assert all(len(b) == batch_size for b in batches[:-1])
    assert len(batches[-1]) == (n % batch_size or batch_size)
    order = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    # The documented construction: default_rng(seed).permutation(n), cut in order.
    np.testing.assert_array_equal(order, np.random.default_rng(seed).permutation(n))
    # Same seed, same order.
    again = minibatches(n, batch_size, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


@given(n=st.integers(20, 300), batch_size=st.integers(1, 70), seed=st.integers(0, 2**32 - 2))
def test_minibatches_seeds_differ(n, batch_size, seed):
    # Two independent permutations of >= 20 items coincide with probability 1 / 20!.
    a = np.concatenate(minibatches(n, batch_size, seed=seed))
    b = np.concatenate(minibatches(n, batch_size, seed=seed + 1))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("n,batch_size", [(10, 0), (10, -3), (-1, 4), (10, 2.5)])
def test_minibatches_rejects_bad_sizes(n, batch_size):
    with pytest.raises(ValueError):
        minibatches(n, batch_size)


# ---------------------------------------------------------------- train_mlp


def xor_blobs(n, seed):
    """2-D, 3 classes: class 0 is the two blobs at (-2,-2) and (2,2), classes 1 and 2 the other corners.

    Not linearly separable (class 0 sits on both sides of any line), noise std 1.0 per axis. The
    Bayes rule (sign pattern of the quadrant) scores Phi(2)^2 ~ 0.955 in expectation.
    """
    rng = np.random.default_rng(seed)
    centers = np.array([[-2.0, -2.0], [2.0, 2.0], [-2.0, 2.0], [2.0, -2.0]])
    labels = np.array([0, 0, 1, 2])
    c = rng.integers(0, 4, size=n)
    return centers[c] + rng.standard_normal((n, 2)), labels[c]


@pytest.fixture(scope="module")
def blobs():
    return xor_blobs(600, 1), xor_blobs(300, 2)


def bayes_rule(x):
    return np.select([np.sign(x[:, 0]) == np.sign(x[:, 1]), x[:, 0] < 0], [0, 1], 2)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_train_mlp_learns_held_out(blobs, optimizer):
    (x, y), (x_test, y_test) = blobs
    params = train_mlp(x, y, optimizer=optimizer)  # the contract's defaults: 20 epochs, lr 1e-2
    assert set(params) == {"W1", "b1", "W2", "b2"}
    assert params["W1"].shape == (2, 64) and params["W2"].shape == (64, 3)
    accuracy = np.mean(predict_mlp(params, x_test) == y_test)
    # Measured: 0.960 (sgd), 0.960 (momentum), 0.957 (adam); the Bayes rule scores 0.967 on this
    # held-out set and an untrained net ~1/3 (next test), so >= 0.9 needs real, non-linear learning.
    assert np.mean(bayes_rule(x_test) == y_test) > 0.95
    assert accuracy >= 0.9


def test_train_mlp_untrained_is_chance(blobs):
    (x, y), (x_test, y_test) = blobs
    assert np.mean(predict_mlp(train_mlp(x, y, epochs=0), x_test) == y_test) < 0.6


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_train_mlp_follows_its_documented_loop(blobs, optimizer):
    # The docstring's recipe, replayed from the public pieces: init_params(sigma=INIT_SIGMA, seed),
    # minibatches(seed=seed + epoch), one step per batch with Adam's t counting all steps so far.
    (x, y), _ = blobs
    x, y = x[:90], y[:90]
    lr, seed = 0.05, 3
    params = init_params([2, 8, 3], sigma=INIT_SIGMA, seed=seed)
    state = {k: (np.zeros_like(p), np.zeros_like(p)) for k, p in params.items()}
    t = 0
    for epoch in range(3):
        for idx in minibatches(90, 16, seed=seed + epoch):
            _, grads = mlp_loss_and_grads(params, x[idx], np.eye(3)[y[idx]], activation="relu")
            t += 1
            for k in params:
                if optimizer == "sgd":
                    params[k] = sgd_step(params[k], grads[k], lr)
                elif optimizer == "momentum":
                    params[k], vel = momentum_step(params[k], grads[k], state[k][0], lr, 0.9)
                    state[k] = (vel, None)
                else:
                    params[k], *state[k] = adam_step(params[k], grads[k], *state[k], t, lr=lr)
    trained = train_mlp(x, y, hidden=8, epochs=3, batch_size=16, lr=lr, optimizer=optimizer, seed=seed)
    for k in params:
        # Same float64 operations in the same order: equal up to (at most) last-bit rounding.
        np.testing.assert_allclose(trained[k], params[k], rtol=1e-13, atol=1e-15)


def test_train_mlp_one_hot_and_determinism(blobs):
    (x, y), _ = blobs
    x, y = x[:200], y[:200]
    a = train_mlp(x, y, epochs=3, optimizer="momentum", seed=5)
    b = train_mlp(x, np.eye(3)[y], epochs=3, optimizer="momentum", seed=5)
    c = train_mlp(x, y, epochs=3, optimizer="momentum", seed=6)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])  # one-hot labels mean the same as integer labels
    assert not np.array_equal(a["W1"], c["W1"])


def test_train_mlp_is_pure_and_validates(blobs):
    (x, y), _ = blobs
    x, y = x[:50].copy(), y[:50].copy()
    x0, y0 = x.copy(), y.copy()
    train_mlp(x, y, epochs=1)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    with pytest.raises(ValueError):
        train_mlp(x, y, optimizer="rmsprop")
    with pytest.raises(ValueError):
        train_mlp(x, y[:10])
    with pytest.raises(ValueError):
        train_mlp(x, y - 1)  # negative labels
