"""dlref.regularization against Keras (Dropout, L1/L2 regularizers, EarlyStopping) and numerical gradients."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from dlref.gradcheck import numerical_grad, numerical_vjp, rel_error  # noqa: E402
from dlref.regularization import (  # noqa: E402
    dropout_backward,
    dropout_forward,
    early_stopping,
    l1_penalty,
    l1_penalty_grad,
    l2_penalty,
    l2_penalty_grad,
)

shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple)
rates = st.sampled_from([0.0, 0.2, 0.5, 0.8, 0.95])


# ---------------------------------------------------------------- dropout


@given(shape=shapes, rate=rates, seed=st.integers(0, 2**32 - 1))
def test_dropout_forward_definition(shape, rate, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    x_before = x.copy()
    out, mask = dropout_forward(x, rate, seed=seed)
    assert mask.dtype == np.bool_ and mask.shape == shape and out.shape == shape
    # The mask is the documented draw: keep where default_rng(seed).random(shape) >= rate.
    np.testing.assert_array_equal(mask, np.random.default_rng(seed).random(shape) >= rate)
    # Kept entries are rescaled by 1 / (1 - rate) (float64 rounding only), dropped ones are 0.
    np.testing.assert_allclose(out[mask], x[mask] / (1 - rate), rtol=1e-15, atol=0)
    assert np.all(out[~mask] == 0)
    np.testing.assert_array_equal(x, x_before)
    # Same seed, same mask.
    np.testing.assert_array_equal(dropout_forward(x, rate, seed=seed)[1], mask)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dropout_statistics(rate, seed):
    x = np.random.default_rng(100 + seed).uniform(1.0, 2.0, size=(200, 500))
    out, mask = dropout_forward(x, rate, seed=seed)
    # 1e5 Bernoulli(1 - rate) draws: std of the kept fraction <= 0.0016, so 0.01 is > 6 sigma.
    assert abs(mask.mean() - (1 - rate)) < 0.01
    # Inverted dropout preserves the mean: std of mean(out) <= sqrt(4 * rate / (1 - rate) / 1e5) ~ 0.013
    # at rate 0.8, so 0.06 is > 4 sigma.
    assert abs(out.mean() - x.mean()) < 0.06
    # Different seeds give different masks.
    assert not np.array_equal(mask, dropout_forward(x, rate, seed=seed + 1)[1])


@given(shape=shapes, rate=rates)
def test_dropout_eval_mode_is_identity(shape, rate):
    x = np.random.default_rng(0).normal(size=shape)
    out, mask = dropout_forward(x, rate, training=False, seed=3)
    np.testing.assert_array_equal(out, x)
    assert mask.dtype == np.bool_ and mask.shape == shape and mask.all()
    out[...] = 7.0  # the returned array is not the caller's x
    assert not np.any(x == 7.0)


def test_dropout_given_mask_is_used_as_is():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    mask = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    for seed in (0, 1, 2):
        out, used = dropout_forward(x, 0.5, seed=seed, mask=mask)
        np.testing.assert_array_equal(used, mask)
        np.testing.assert_array_equal(out, np.where(mask, 2 * x, 0.0))  # 1 / (1 - 0.5) = 2, exact
    # A 0/1 integer mask means the same as the boolean one.
    np.testing.assert_array_equal(dropout_forward(x, 0.5, mask=mask.astype(int))[0], np.where(mask, 2 * x, 0.0))


def test_dropout_rejects_bad_rate_and_mask_shape():
    x = np.ones((2, 3))
    for rate in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            dropout_forward(x, rate)
        with pytest.raises(ValueError):
            dropout_backward(x, np.ones((2, 3), bool), rate)
    with pytest.raises(ValueError):
        dropout_forward(x, 0.5, mask=np.ones((3, 2), bool))
    with pytest.raises(ValueError):
        dropout_backward(x, np.ones((2,), bool), 0.5)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.8])
def test_dropout_backward_is_vjp_of_forward(rate):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 5))
    dout = rng.normal(size=(4, 5))
    _, mask = dropout_forward(x, rate, seed=11)
    expected = numerical_vjp(lambda v: dropout_forward(v, rate, mask=mask)[0], x, dout)
    # The map is linear, so central differences are exact up to rounding: ~1e-10 relative.
    assert rel_error(dropout_backward(dout, mask, rate), expected) < 1e-8


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_scaling_matches_keras(rate):
    x = np.random.default_rng(7).uniform(1.0, 2.0, size=(100, 100))
    layer = keras.layers.Dropout(rate, seed=1, dtype="float64")  # float64 so the scale is compared exactly
    k_out = keras.ops.convert_to_numpy(layer(x, training=True))
    ours, mask = dropout_forward(x, rate, seed=1)
    k_kept = k_out != 0  # x >= 1, so a zero output means dropped
    # Keras draws its own mask; the kept entries must carry the same factor 1 / (1 - rate).
    np.testing.assert_allclose(k_out[k_kept] / x[k_kept], 1 / (1 - rate), rtol=1e-14)
    np.testing.assert_allclose(ours[mask] / x[mask], 1 / (1 - rate), rtol=1e-14)
    # Same keep probability: each kept fraction over 1e4 draws has std <= 0.005, their difference
    # <= 0.0071, so 0.03 is > 4 sigma.
    assert abs(k_kept.mean() - mask.mean()) < 0.03
    # And Keras' inference mode is the identity, as ours.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


# ---------------------------------------------------------------- L1 / L2


def _params(seed=0, zeros=False):
    rng = np.random.default_rng(seed)
    params = {
        "W1": rng.normal(size=(3, 4)),
        "b1": rng.normal(size=4),  # non-zero biases: they must still be left out
        "W2": rng.normal(size=(4, 2)),
        "b2": rng.normal(size=2),
    }
    if zeros:
        params["W1"][0, :2] = 0.0
        params["W2"][1, 1] = 0.0
    return params


def _keras_sum(reg, params):
    return float(sum(keras.ops.convert_to_numpy(reg(tf.constant(v))) for k, v in params.items() if k.startswith("W")))


def _keras_grads(reg, params):
    grads = {}
    for k, v in params.items():
        var = tf.Variable(v)
        with tf.GradientTape() as tape:
            loss = reg(var) if k.startswith("W") else tf.constant(0.0, tf.float64) * tf.reduce_sum(var)
        grads[k] = tape.gradient(loss, var).numpy()
    return grads


# Keras' ops.cast(lam, float64) goes through a float32 tensor, so lam is rounded to float32 there
# (1e-3 comes back as 1.0000000474974513e-3); these lams are exact in float32.
KERAS_LAMS = [0.0, 2.0**-10, 0.5]


@pytest.mark.parametrize("lam", KERAS_LAMS)
@pytest.mark.parametrize("seed", [0, 1])
def test_penalties_match_keras_regularizers(lam, seed):
    params = _params(seed)
    before = {k: v.copy() for k, v in params.items()}
    for ours, reg in ((l2_penalty, keras.regularizers.L2(lam)), (l1_penalty, keras.regularizers.L1(lam))):
        value = ours(params, lam)
        assert type(value) is float
        # float64 sums of ~20 terms in a possibly different order: 1e-12 relative.
        assert value == pytest.approx(_keras_sum(reg, params), rel=1e-12, abs=1e-300)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


@pytest.mark.parametrize("lam", KERAS_LAMS[1:])
def test_penalty_grads_match_keras_gradient_tape(lam):
    # Exact zeros in W: TensorFlow's d|w|/dw is sign(w), 0 at 0, which the contract asks for too.
    params = _params(2, zeros=True)
    for ours, reg in ((l2_penalty_grad, keras.regularizers.L2(lam)), (l1_penalty_grad, keras.regularizers.L1(lam))):
        grads = ours(params, lam)
        expected = _keras_grads(reg, params)
        assert list(grads) == list(params)
        for k in params:
            assert grads[k].shape == params[k].shape
            np.testing.assert_allclose(grads[k], expected[k], rtol=1e-14, atol=0)
        assert not np.any(grads["b1"]) and not np.any(grads["b2"])
    assert l1_penalty_grad(params, lam)["W1"][0, 0] == 0.0


@pytest.mark.parametrize("lam", [1e-2, 0.7])
def test_penalty_grads_match_numerical(lam):
    params = _params(3)
    # Keep W away from 0, where |w| has a kink (tested separately above).
    for k in ("W1", "W2"):
        params[k] = np.where(np.abs(params[k]) < 0.05, 0.3, params[k])
    for penalty, grad in ((l2_penalty, l2_penalty_grad), (l1_penalty, l1_penalty_grad)):
        analytic = grad(params, lam)
        for k in params:

            def f(v, k=k):
                return penalty({**params, k: v}, lam)

            # Quadratic / piecewise-linear away from kinks: central differences are near-exact, so 1e-7.
            num = numerical_grad(f, params[k])
            if k.startswith("b"):
                np.testing.assert_array_equal(analytic[k], 0.0)
                np.testing.assert_allclose(num, 0.0, atol=1e-9)
            else:
                assert rel_error(analytic[k], num) < 1e-7


# ---------------------------------------------------------------- early stopping


@pytest.fixture(scope="module")
def keras_model():
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])


def keras_early_stopping(model, losses, patience, min_delta):
    """(stop_epoch, best_epoch) from the real callback, driven the way model.fit drives it."""
    cb = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta)
    cb.set_model(model)
    model.stop_training = False
    cb.on_train_begin()
    stop = len(losses) - 1
    for epoch, value in enumerate(losses):
        # fit() hands callbacks Python floats (keras.src.utils.python_utils.pythonify_logs).
        cb.on_epoch_end(epoch, {"val_loss": float(value)})
        if model.stop_training:
            stop = epoch
            break
    return stop, cb.best_epoch


# Small value sets give ties and plateaus; min_delta values hit exact float boundaries (0.9 + 0.1).
tie_losses = st.lists(st.sampled_from([1.0, 0.9, 0.9, 0.8, 0.7, 1.1]), min_size=1, max_size=12)
free_losses = st.lists(st.floats(0.0, 2.0), min_size=1, max_size=12)
deltas = st.sampled_from([0.0, 0.1, 0.2, 0.05, -0.1, 0.3])


@given(losses=tie_losses, patience=st.integers(0, 4), min_delta=deltas)
def test_early_stopping_matches_keras_with_ties(keras_model, losses, patience, min_delta):
    assert early_stopping(losses, patience, min_delta) == keras_early_stopping(keras_model, losses, patience, min_delta)


@given(losses=free_losses, patience=st.integers(0, 4), min_delta=st.sampled_from([0.0, 0.01, 0.1]))
def test_early_stopping_matches_keras_free_values(keras_model, losses, patience, min_delta):
    assert early_stopping(losses, patience, min_delta) == keras_early_stopping(keras_model, losses, patience, min_delta)


def test_early_stopping_float32_boundaries_match_keras(keras_model):
    # Keras compares in float32; find (best, current, min_delta) where float64 and float32 disagree
    # on "current + min_delta < best" and check that we follow Keras on each of them.
    grid = [round(0.1 * i, 10) for i in range(1, 12)]
    cases = [
        (b, c, d)
        for b in grid
        for c in grid
        for d in (0.1, 0.2, 0.3)
        if (c + d < b) != (np.float32(c + d) < np.float32(b))
    ]
    assert cases  # e.g. 0.7 + 0.2 = 0.8999999999999999 < 0.9 in float64 only
    for best, current, delta in cases:
        losses = [best, current, current]
        assert early_stopping(losses, 1, delta) == keras_early_stopping(keras_model, losses, 1, delta)


@pytest.mark.parametrize(
    "losses",
    [
        [1.0],
        [1.0, 1.0],
        [1.0, 2.0, 3.0],
        [3.0, 2.0, 1.0],
        [1.0, 1.0, 0.5, 0.5, 0.5, 0.4],
        [2.0, 1.0, 1.5, 1.5, 1.0, 0.9],
    ],
)
@pytest.mark.parametrize("patience", [0, 1, 2, 5])
def test_early_stopping_edges_match_keras(keras_model, losses, patience):
    assert early_stopping(losses, patience, 0.0) == keras_early_stopping(keras_model, losses, patience, 0.0)


def test_early_stopping_hand_derived_semantics():
    # Never stops on a strictly decreasing sequence: the last epoch run is len - 1.
    assert early_stopping([3.0, 2.0, 1.0], 0) == (2, 2)
    # patience 0 and 1 both stop at the first non-improving epoch (wait is incremented before the check).
    assert early_stopping([1.0, 1.0, 0.5], 0) == (1, 0)
    assert early_stopping([1.0, 1.0, 0.5], 1) == (1, 0)
    # patience 2: two epochs without improvement; a tie is not an improvement and best stays on the first.
    assert early_stopping([1.0, 0.5, 0.5, 0.5, 0.1], 2) == (3, 1)
    # min_delta: 0.95 is not better than 1.0 by more than 0.1, 0.85 is; the sign of min_delta is ignored.
    assert early_stopping([1.0, 0.95, 0.85, 0.84], 2, 0.1) == (3, 2)
    assert early_stopping([1.0, 0.95, 0.85, 0.84], 2, -0.1) == (3, 2)


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError):
        early_stopping([], 2)
    with pytest.raises(ValueError):
        early_stopping([1.0, 2.0], -1)
