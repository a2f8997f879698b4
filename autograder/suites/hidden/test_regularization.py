"""Hidden tests for regularization.py: agreement with dlref on random and edge inputs, dropout statistics.

Each test grades the function of its `grades` marker; the tests about the biases and about |w|'s
kink at 0 look only at those entries.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.suites.differential import agree, hint
from autograder.suites.expect import array_like, assert_close, call_text, check
from autograder.suites.feedback import Mismatch, abbrev
from autograder.mistakes import hints_for
from autograder.suites.numgrad import rel_error
from autograder.suites.once import numerical_grad, numerical_vjp  # reference gradients, once per session
from autograder.suites.strategies import arrays, batches
from dlref import regularization as ref

RATES = [0.0, 0.1, 0.2, 0.25, 0.75, 0.8, 0.9]  # 0.5 would hide keep/drop swapped and / rate vs / (1 - rate)


@st.composite
def params_dicts(draw, min_layers=1, max_layers=3, low=-5.0, high=5.0):
    """{"W1": (d0, d1), "b1": (d1,), ...} with 1 to 3 layers of sides 1..4."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=min_layers + 1, max_size=max_layers + 1), label="layer sizes")
    params = {}
    for i, (d, h) in enumerate(zip(sizes, sizes[1:]), start=1):
        params[f"W{i}"] = draw(arrays(shape=(d, h), low=low, high=high), label=f"W{i}")
        params[f"b{i}"] = draw(arrays(shape=(h,), low=low, high=high), label=f"b{i}")
    return params


KEEP_PROB = "the mask must keep each value with probability 1 - rate: keep where u >= rate."
LAMS = st.sampled_from([1e-4, 0.01, 0.05, 0.5, 1.0])


def dropout_out(got, x, call):
    """The `out` of a student's (out, mask), as a float64 array of x's shape."""
    if not isinstance(got, tuple) or len(got) != 2:
        raise Mismatch(f"{call} returned {type(got).__name__}; expected a tuple (out, mask)")
    return array_like(got[0], x, lambda: f"{call}, its out")


# ---- dropout_forward -------------------------------------------------------------------------


@pytest.mark.grades("dropout_forward")
@pytest.mark.weight(2)
@given(data=st.data(), x=st.one_of(arrays(max_dims=4), batches()), rate=st.sampled_from(RATES))
def test_dropout_forward_given_mask(student, tol, data, x, rate):
    """dropout_forward with a given mask matches the reference (batches of 1 to 64 included)"""
    mask = data.draw(hnp.arrays(bool, x.shape), label="mask")
    agree(student.regularization.dropout_forward, ref.dropout_forward, x, rate, mask=mask, tol=tol)


@pytest.mark.grades("dropout_forward")
@given(data=st.data(), x=arrays(max_dims=4), rate=st.sampled_from(RATES), seed=st.integers(0, 100))
def test_dropout_forward_eval_mode(student, tol, data, x, rate, seed):
    """dropout_forward with training=False matches the reference"""
    mask = data.draw(st.none() | hnp.arrays(bool, x.shape), label="mask")
    agree(student.regularization.dropout_forward, ref.dropout_forward, x, rate, training=False, seed=seed, mask=mask,
          tol=tol)


@pytest.mark.grades("dropout_forward")
@pytest.mark.parametrize("rate", [0.1, 0.75, 0.9])
def test_dropout_statistics(student, tol, rate):
    """dropout on a batch of images keeps 1 - rate of the values and preserves the mean"""
    x = np.random.default_rng(11).normal(1.0, 0.5, (6, 10, 10, 16))
    call = call_text("dropout_forward", x, rate, seed=42)
    got = student.regularization.dropout_forward(x, rate, seed=42)
    out = dropout_out(got, x, call)
    mask = got[1]
    check(isinstance(mask, np.ndarray) and mask.dtype == bool and mask.shape == x.shape,
          lambda: f"{call} returned a mask that is not a boolean array of x's shape {x.shape}")
    # 6 standard deviations of the sampling error (binomial for the fraction kept; for the mean
    # given x, sqrt(mean(x**2) * rate / ((1 - rate) * n))): a correct draw fails about once in 10**9.
    n = x.size
    allowed = 6 * np.sqrt(rate * (1 - rate) / n)
    kept = float(mask.mean())
    swapped = abs(kept - rate) <= allowed
    if abs(kept - (1 - rate)) > allowed:
        raise Mismatch(f"{call} kept a fraction {kept:.4f}; expected {1 - rate:g} (within {allowed:.3f})",
                       KEEP_PROB if swapped else "")
    expected = ref.dropout_forward(x, rate, mask=mask)[0]
    assert_close(out, expected, call=call, tol=tol, what="out (given the mask you returned)",
                 hints=lambda g: hint("regularization", "dropout_forward", (x, rate), {"mask": mask}, (g, mask), tol))
    allowed_mean = 6 * np.sqrt(np.mean(x**2) * rate / ((1 - rate) * n))
    if abs(out.mean() - x.mean()) > allowed_mean:
        raise Mismatch(f"{call}: mean(out) = {out.mean():.4f} but mean(x) = {x.mean():.4f} "
                       f"(allowed difference {allowed_mean:.3f})", KEEP_PROB if swapped else "")


@pytest.mark.grades("dropout_forward")
def test_dropout_rate_zero_keeps_everything(student, tol):
    """dropout with rate 0 keeps every value unscaled"""
    x = np.random.default_rng(3).normal(size=(4, 7))
    agree(student.regularization.dropout_forward, ref.dropout_forward, x, 0.0, seed=9, tol=tol)


# ---- dropout_backward ------------------------------------------------------------------------


@pytest.mark.grades("dropout_backward")
@pytest.mark.weight(2)
@given(data=st.data(), dout=st.one_of(arrays(max_dims=4), batches()), rate=st.sampled_from(RATES))
def test_dropout_backward(student, tol, data, dout, rate):
    """dropout_backward matches the reference (batches of 1 to 64 included)"""
    mask = data.draw(hnp.arrays(bool, dout.shape), label="mask")
    agree(student.regularization.dropout_backward, ref.dropout_backward, dout, mask, rate, tol=tol)


@pytest.mark.grades("dropout_backward")
@given(data=st.data(), rate=st.sampled_from(RATES))
def test_dropout_backward_numerical(student, tol, data, rate):
    """dropout_backward agrees with a numerical derivative of dropout"""
    x = data.draw(arrays(low=-5, high=5, max_dims=3, max_side=4), label="x")
    mask = data.draw(hnp.arrays(bool, x.shape), label="mask")
    dout = data.draw(arrays(shape=x.shape, low=-5, high=5), label="dout")
    call = call_text("dropout_backward", dout, mask, rate)
    got = array_like(student.regularization.dropout_backward(dout, mask, rate), dout, call)
    numeric = numerical_vjp(lambda v: ref.dropout_forward(v, rate, mask=mask)[0], x, dout)
    # Dropped entries have a gradient of exactly 0: an absolute floor instead of a pure ratio.
    if not np.allclose(got, numeric, rtol=tol.grad_rel_error, atol=1e-7):
        raise Mismatch(f"{call} disagrees with the numerical derivative of dropout: relative error "
                       f"{rel_error(got, numeric):.2g} (allowed {tol.grad_rel_error:g})",
                       hint("regularization", "dropout_backward", (dout, mask, rate), {}, got, tol))


# ---- L1 / L2 penalties -----------------------------------------------------------------------


@pytest.mark.grades("l2_penalty")
@given(params=params_dicts(), lam=LAMS)
def test_l2_penalty(student, tol, params, lam):
    """l2_penalty matches the reference"""
    agree(student.regularization.l2_penalty, ref.l2_penalty, params, lam, tol=tol)


@pytest.mark.grades("l2_penalty_grad")
@pytest.mark.weight(2)
@given(params=params_dicts(), lam=LAMS)
def test_l2_penalty_grad(student, tol, params, lam):
    """l2_penalty_grad matches the reference"""
    agree(student.regularization.l2_penalty_grad, ref.l2_penalty_grad, params, lam, tol=tol)


@pytest.mark.grades("l1_penalty")
@given(params=params_dicts(), lam=LAMS)
def test_l1_penalty(student, tol, params, lam):
    """l1_penalty matches the reference"""
    agree(student.regularization.l1_penalty, ref.l1_penalty, params, lam, tol=tol)


@pytest.mark.grades("l1_penalty_grad")
@pytest.mark.weight(2)
@given(params=params_dicts(), lam=LAMS)
def test_l1_penalty_grad(student, tol, params, lam):
    """l1_penalty_grad matches the reference away from 0"""
    params = {k: np.where(np.abs(v) < 1e-3, 0.5, v) for k, v in params.items()}  # w == 0 has its own test
    agree(student.regularization.l1_penalty_grad, ref.l1_penalty_grad, params, lam, tol=tol)


@pytest.mark.grades("l1_penalty_grad", convention="sign(0) = 0")
def test_l1_penalty_grad_at_zero(student, tol):
    """l1_penalty_grad is 0 where a weight is exactly 0"""
    params = {"W1": np.array([[0.0, 1.5], [-2.0, 0.0], [0.0, -0.0]]), "b1": np.array([0.5, 1.0]),
              "W2": np.array([[0.0], [3.0]]), "b2": np.array([-1.0])}
    call = call_text("l1_penalty_grad", params, 0.1)
    grads = student.regularization.l1_penalty_grad(params, 0.1)
    check(isinstance(grads, dict) and {"W1", "W2"} <= set(grads), lambda: f"{call} returned no gradient for W1 and W2")
    expected = ref.l1_penalty_grad(params, 0.1)
    for key in ("W1", "W2"):  # only the zero weights: the others, and the biases, have their own tests
        zero = params[key] == 0
        got = array_like(grads[key], params[key], lambda: f"{call}[{key!r}]")
        mistaken = [(text, out[key][zero]) for text, out in hints_for("regularization", "l1_penalty_grad", (params, 0.1), {})
                    if isinstance(out, dict) and key in out]
        assert_close(got[zero], expected[key][zero], call=call, tol=tol, what=f"{key} at its zero entries",
                     hints=mistaken)


BIAS_HEAVY = {"W1": np.array([[0.5, -1.0], [0.25, 2.0]]), "b1": np.array([10.0, -20.0]),
              "W2": np.array([[1.0], [-0.5]]), "b2": np.array([30.0])}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.grades(n)) for n in ("l1_penalty", "l2_penalty")])
def test_penalty_ignores_biases(student, tol, name):
    """the penalty does not change when the biases change"""
    fn = getattr(student.regularization, name)
    other = {k: (v + 5.0 if k.startswith("b") else v) for k, v in BIAS_HEAVY.items()}
    values = [fn(p, 0.1) for p in (BIAS_HEAVY, other)]
    for p, v in zip((BIAS_HEAVY, other), values):
        check(isinstance(v, (int, float, np.floating)) and not isinstance(v, bool),
              lambda: f"{call_text(name, p, 0.1)} returned {v!r}; expected a float")
    check(np.isclose(float(values[0]), float(values[1]), rtol=tol.rtol, atol=tol.atol),
          lambda: f"{call_text(name, BIAS_HEAVY, 0.1)} = {float(values[0]):.10g}, but with every bias 5 larger it is "
          f"{float(values[1]):.10g}: the biases must not count",
          hint='penalize only the weights (keys starting with "W"); biases are not regularized.')


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.grades(n))
                                  for n in ("l1_penalty_grad", "l2_penalty_grad")])
def test_penalty_grad_zero_for_biases(student, tol, name):
    """the penalty gradient is zero for the biases"""
    call = call_text(name, BIAS_HEAVY, 0.1)
    grads = getattr(student.regularization, name)(BIAS_HEAVY, 0.1)
    check(isinstance(grads, dict), lambda: f"{call} returned {type(grads).__name__}; expected a dict")
    for key in ("b1", "b2"):
        check(key in grads, lambda: f"{call} has no gradient for {key!r}",
              hint="return a gradient for every key of params, with zeros for the biases, not only for the weights.")
        got = array_like(grads[key], BIAS_HEAVY[key], lambda: f"{call}[{key!r}]")
        check(np.all(got == 0), lambda: f"{call}[{key!r}] is {abbrev(got)}; the biases' gradient is zeros",
              hint='biases are not regularized: their gradient is zeros (only keys starting with "W" get one).')


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.grades(f"{n}_penalty_grad")) for n in ("l1", "l2")])
@given(params=params_dicts(), lam=LAMS)
def test_penalty_grad_numerical(student, tol, name, params, lam):
    """the penalty gradient agrees with a numerical gradient of the penalty"""
    params = {k: np.where(np.abs(v) < 1e-2, 0.5, v) for k, v in params.items()}  # off |w|'s kink at 0
    call = call_text(f"{name}_penalty_grad", params, lam)
    grads = getattr(student.regularization, f"{name}_penalty_grad")(params, lam)
    check(isinstance(grads, dict) and set(grads) == set(params),
          lambda: f"{call} returned {type(grads).__name__}" + (f" with keys {sorted(grads)}" if isinstance(grads, dict) else "")
          + f"; expected a dict with keys {sorted(params)}")
    penalty = getattr(ref, f"{name}_penalty")
    for key, p in params.items():
        got = array_like(grads[key], p, lambda: f"{call}[{key!r}]")
        numeric = numerical_grad(lambda v: penalty({**params, key: v}, lam), p)
        # Bias gradients are exactly 0: an absolute floor instead of a pure ratio.
        if not np.allclose(got, numeric, rtol=tol.grad_rel_error, atol=1e-7):
            raise Mismatch(f"{call}[{key!r}] disagrees with the numerical gradient of {name}_penalty: largest "
                           f"difference {np.max(np.abs(got - numeric)):.3g}",
                           hint("regularization", f"{name}_penalty_grad", (params, lam), {}, grads, tol))


# ---- early_stopping --------------------------------------------------------------------------
# Keras compares in float32. Every loss here is a multiple of 1/8 in [0, 4] and min_delta is 0, 1/8
# or 1/4: all exact in float32, and so are their sums, so a float64 comparison decides the same way.

DELTAS = [0.0, 0.125, 0.25]


@st.composite
def loss_curves(draw, max_size=14):
    """Validation-loss curves on the 1/8 grid: random walks (plateaus, ties, rebounds) or free draws."""
    n = draw(st.integers(1, max_size), label="epochs")
    if draw(st.booleans(), label="walk"):
        start = draw(st.integers(8, 32))
        steps = draw(st.lists(st.sampled_from([-3, -2, -1, -1, 0, 0, 1, 2]), min_size=n - 1, max_size=n - 1))
        ks = np.clip(np.cumsum([start, *steps]), 0, 32)
    else:
        ks = draw(st.lists(st.integers(0, 32), min_size=n, max_size=n))
    return [float(k) / 8 for k in ks]


@pytest.mark.grades("early_stopping")
@pytest.mark.weight(3)
@given(losses=loss_curves(), patience=st.integers(0, 4), min_delta=st.sampled_from(DELTAS))
def test_early_stopping(student, tol, losses, patience, min_delta):
    """early_stopping matches Keras' EarlyStopping on random loss curves"""
    agree(student.regularization.early_stopping, ref.early_stopping, losses, patience, min_delta=min_delta, tol=tol)


TIES = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25],
    [2.0, 1.5, 1.5, 1.0, 1.0, 1.0, 0.5, 0.5],
    [1.0, 0.75, 1.0, 0.75, 1.0, 0.75, 0.5],
    [0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.0],
]


@pytest.mark.grades("early_stopping")
@pytest.mark.weight(2)
def test_early_stopping_ties_and_plateaus(student, tol):
    """a loss equal to the best is not an improvement"""
    for losses in TIES:
        for patience in range(5):
            agree(student.regularization.early_stopping, ref.early_stopping, losses, patience, tol=tol)


@pytest.mark.grades("early_stopping")
def test_early_stopping_each_patience(student, tol):
    """early_stopping stops after patience epochs without improvement, for patience 0 to 4"""
    losses = [3.0, 2.5, 2.0, 2.25, 2.125, 2.5, 2.75, 3.0, 3.25, 3.5]
    for patience in range(5):
        agree(student.regularization.early_stopping, ref.early_stopping, losses, patience, tol=tol)


@pytest.mark.grades("early_stopping")
@pytest.mark.weight(2)
def test_early_stopping_min_delta(student, tol):
    """improvements smaller than min_delta do not count"""
    curves = [
        [1.0, 0.875, 0.75, 0.625, 0.5, 0.375],
        [1.0, 0.875, 0.5, 0.375, 0.25, 0.125],
        [2.0, 1.75, 1.625, 1.5, 1.0, 0.875, 0.875, 0.75],
        [1.0, 0.75, 0.75, 0.5, 0.25, 0.0],
    ]
    for losses in curves:
        for min_delta in (0.125, 0.25):
            for patience in (1, 2, 3):
                agree(student.regularization.early_stopping, ref.early_stopping, losses, patience,
                      min_delta=min_delta, tol=tol)


@pytest.mark.grades("early_stopping")
def test_early_stopping_never_stops(student, tol):
    """early_stopping returns the last epoch when training never stops"""
    for losses, patience in [([0.5], 0), ([0.5], 3), ([4.0, 3.0, 2.0, 1.0, 0.5], 1), ([1.0, 0.75, 1.0, 0.5], 2),
                             ([1.0, 1.25, 1.5, 0.5, 0.75], 3)]:
        agree(student.regularization.early_stopping, ref.early_stopping, losses, patience, tol=tol)


@pytest.mark.grades("early_stopping")
def test_early_stopping_best_before_stop(student, tol):
    """best_epoch comes from the epochs run, even when a lower loss comes later"""
    for losses, patience in [([1.0, 0.5, 0.75, 0.875, 1.0, 0.25], 2), ([1.0, 1.25, 1.5, 0.0], 1),
                             ([2.0, 1.0, 1.5, 1.25, 1.125, 0.5, 0.25], 3)]:
        agree(student.regularization.early_stopping, ref.early_stopping, losses, patience, tol=tol)
