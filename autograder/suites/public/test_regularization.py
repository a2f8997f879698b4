"""Public checks for regularization.py: fixed vectors, dropout statistics, gradient self-consistency, early stopping.

Each test grades the functions of its `grades` marker; the self-consistency checks grade a pair
(a forward and its gradient) and say which of the two fails its own checks too.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.suites.expect import array_like, assert_close, call_text, check
from autograder.suites.feedback import Mismatch
from autograder.suites.numgrad import numerical_grad_many, numerical_vjp_many, rel_error
from autograder.suites.strategies import arrays
from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded, consistency_note

X = np.array([[1.0, -2.0, 3.0, 0.5], [-0.5, 4.0, -1.5, 2.0]])
MASK = np.array([[True, False, True, True], [False, True, True, False]])
DOUT = np.array([[0.5, 1.0, -2.0, 3.0], [-1.0, 0.25, 2.0, -4.0]])
PARAMS = {
    "W1": np.array([[0.5, -1.0, 0.0], [2.0, 0.25, -0.75]]),
    "b1": np.array([0.1, -0.2, 0.3]),
    "W2": np.array([[1.0], [0.0], [-2.0]]),
    "b2": np.array([0.5]),
}
# |w|'s derivative at 0 is a convention (sign(0) = 0) with a case of its own: no zero weight here.
PARAMS_NONZERO = {**PARAMS, "W1": np.array([[0.5, -1.0, 0.25], [2.0, 0.25, -0.75]]), "W2": np.array([[1.0], [0.5], [-2.0]])}
# Early-stopping losses are multiples of 1/8 (exact in float32 and float64, as are their sums with
# min_delta 1/8 or 1/4), so comparing in float64 or in float32 as Keras does gives the same answer.
CASES = [
    case("dropout-mask-rate0.2", "dropout_forward", X, 0.2, mask=MASK),
    case("dropout-mask-rate0.8", "dropout_forward", X, 0.8, mask=MASK),
    case("dropout-eval", "dropout_forward", X, 0.2, training=False),
    case("dropout-eval-with-mask", "dropout_forward", X, 0.8, training=False, mask=MASK),
    case("dropout-rate0", "dropout_forward", X, 0.0),
    case("dropout-backward-rate0.2", "dropout_backward", DOUT, MASK, 0.2),
    case("dropout-backward-rate0.8", "dropout_backward", DOUT, MASK, 0.8),
    case("l2-penalty", "l2_penalty", PARAMS, 0.01),
    case("l2-penalty-grad", "l2_penalty_grad", PARAMS, 0.01),
    case("l1-penalty", "l1_penalty", PARAMS, 0.01),
    case("l1-penalty-grad", "l1_penalty_grad", PARAMS_NONZERO, 0.01),
    case("l1-penalty-grad-at-0", "l1_penalty_grad", PARAMS, 0.01),
    case("early-stopping-u-curve", "early_stopping", [1.0, 0.75, 0.5, 0.625, 0.75, 0.875, 1.0], 2),
    case("early-stopping-never-stops", "early_stopping", [2.0, 1.5, 1.0, 0.75], 1),
    case("early-stopping-ties", "early_stopping", [1.0, 0.5, 0.5, 0.5, 0.5, 0.25], 2),
    case("early-stopping-patience0", "early_stopping", [1.0, 0.75, 0.75, 0.5], 0),
    case("early-stopping-min-delta", "early_stopping", [1.0, 0.875, 0.5, 0.375, 0.25], 2, min_delta=0.25),
    case("early-stopping-min-delta-best", "early_stopping", [1.0, 0.875, 0.75, 0.5, 0.625, 0.5, 0.625], 2,
         min_delta=0.25),
    case("early-stopping-late-improvement", "early_stopping", [1.0, 1.0, 1.0, 0.5], 3),
]

NOT_INVERTED = ("inverted dropout scales the kept values by 1 / (1 - rate) during training: "
                "out = x * mask / (1 - rate), so the expected output equals x.")
BY_RATE = "divide the kept values by the keep probability 1 - rate, not by rate."
KEEP_PROB = ("the mask must keep each value with probability 1 - rate (rate is the DROP probability): "
             "keep where a uniform draw u satisfies u >= rate.")
# A large draw makes the sampling error small: the kept fraction's standard deviation is
# sqrt(rate * (1 - rate) / n), about 0.004 here; 6 of them would be exceeded by chance about once
# in 10**9 draws, while keeping with probability rate instead of 1 - rate is 0.6 off.
BIG = (100, 100)
SIGMAS = 6.0


def dropout_result(got, x, call):
    """The student's (out, mask) as a float64 array and a boolean array, both of x's shape."""
    if not isinstance(got, tuple) or len(got) != 2:
        raise Mismatch(f"{call} returned {type(got).__name__}; expected a tuple (out, mask)")
    out = array_like(got[0], x, lambda: f"{call}, its out")
    mask = got[1]
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        what = f"dtype {mask.dtype}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise Mismatch(f"{call} returned a mask of {what}; expected a boolean numpy array (True = kept)")
    if mask.shape != x.shape:
        raise Mismatch(f"{call} returned a mask of shape {mask.shape}; expected x's shape {x.shape}")
    return out, mask


CONVENTIONS = {"l1-penalty-grad-at-0": "sign(0) = 0"}


@pytest.mark.parametrize("c", cases_as_params("regularization", CONVENTIONS))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "regularization", c, tol)


@pytest.mark.grades("dropout_forward")
@pytest.mark.parametrize("rate", [0.2, 0.8])
def test_dropout_keeps_one_minus_rate(student, rate):
    """dropout keeps a fraction 1 - rate of the values"""
    x = np.random.default_rng(1).uniform(0.5, 1.5, BIG)
    call = call_text("dropout_forward", x, rate, seed=7)
    _, mask = dropout_result(student.regularization.dropout_forward(x, rate, seed=7), x, call)
    kept, n = float(mask.mean()), mask.size
    allowed = SIGMAS * np.sqrt(rate * (1 - rate) / n)
    if abs(kept - (1 - rate)) > allowed:
        hint = KEEP_PROB if abs(kept - rate) <= allowed else ""
        raise Mismatch(f"{call} kept a fraction {kept:.4f} of the values; expected 1 - rate = {1 - rate:g} "
                       f"(within {allowed:.3f}, {SIGMAS:g} standard deviations of the sampling error)", hint)


@pytest.mark.grades("dropout_forward")
@pytest.mark.parametrize("rate", [0.2, 0.8])
def test_dropout_scales_kept_values(student, tol, rate):
    """dropout returns x * mask / (1 - rate) for its mask, preserving the mean"""
    x = np.random.default_rng(2).uniform(0.5, 1.5, BIG)
    call = call_text("dropout_forward", x, rate, seed=3)
    out, mask = dropout_result(student.regularization.dropout_forward(x, rate, seed=3), x, call)
    hints = [(NOT_INVERTED, x * mask), (BY_RATE, x * mask / rate)]
    assert_close(out, x * mask / (1 - rate), call=call, tol=tol, hints=hints, what="out (given your mask)")
    # Given x, mean(out) has standard deviation sqrt(mean(x**2) * rate / ((1 - rate) * n)).
    allowed = SIGMAS * np.sqrt(np.mean(x**2) * rate / ((1 - rate) * x.size))
    if abs(out.mean() - x.mean()) > allowed:
        swapped = abs(mask.mean() - rate) <= SIGMAS * np.sqrt(rate * (1 - rate) / x.size)
        raise Mismatch(f"{call}: mean(out) = {out.mean():.4f} but mean(x) = {x.mean():.4f}; inverted dropout keeps "
                       f"the mean (allowed difference {allowed:.3f}, {SIGMAS:g} standard deviations)",
                       KEEP_PROB if swapped else "")


@pytest.mark.grades("dropout_forward")
def test_dropout_seed_gives_the_mask(student):
    """the same seed gives the same mask, another seed another one"""
    x = np.ones((20, 30))
    f = student.regularization.dropout_forward
    masks = [dropout_result(f(x, 0.3, seed=s), x, call_text("dropout_forward", x, 0.3, seed=s))[1] for s in (5, 5, 6)]
    check(np.array_equal(masks[0], masks[1]),
          "dropout_forward gave two different masks for seed=5: draw them with np.random.default_rng(seed)")
    check(not np.array_equal(masks[0], masks[2]),
          "dropout_forward gave the same mask for seed=5 and seed=6: draw it with np.random.default_rng(seed)")


@pytest.mark.grades("dropout_forward")
@given(x=arrays(), rate=st.sampled_from([0.0, 0.2, 0.5, 0.8]))
def test_dropout_eval_mode_is_identity(student, tol, x, rate):
    """with training=False dropout returns x and an all-True mask"""
    call = call_text("dropout_forward", x, rate, training=False)
    out, mask = dropout_result(student.regularization.dropout_forward(x, rate, training=False), x, call)
    assert_close(out, x, call=call, tol=tol, what="out")
    check(bool(mask.all()), lambda: f"{call} dropped values: with training=False the mask is all True")


@pytest.mark.grades("dropout_forward", "dropout_backward")
@settings(max_examples=10)  # each example costs 2 calls per element
@given(data=st.data(), rate=st.sampled_from([0.2, 0.8]))
def test_dropout_backward_matches_numerical_vjp(student, tol, data, rate):
    """your dropout_forward and dropout_backward agree (dropout_backward is the numerical derivative of your
    dropout_forward)"""
    x = data.draw(arrays(low=-5, high=5, max_dims=2, max_side=4), label="x")
    mask = data.draw(hnp.arrays(bool, x.shape), label="mask")
    dout = data.draw(arrays(shape=x.shape, low=-5, high=5), label="dout")
    fwd = student.regularization.dropout_forward

    def out(vs):
        return [dropout_result(o, v, call_text("dropout_forward", v, rate, mask=mask))[0]
                for v, o in zip(vs, fwd.map([(v, rate) for v in vs], mask=mask))]

    call = call_text("dropout_backward", dout, mask, rate)
    got = array_like(student.regularization.dropout_backward(dout, mask, rate), dout, call)
    numeric = numerical_vjp_many(out, x, dout)
    # dropout is linear in x: central differences are exact up to rounding, entries can be exactly 0.
    check(np.allclose(got, numeric, rtol=tol.grad_rel_error, atol=1e-7),
          lambda: f"your dropout_forward and dropout_backward disagree: {call} is not the numerical derivative of your "
          f"dropout_forward (relative error {rel_error(got, numeric):.2g}, allowed {tol.grad_rel_error:g})",
          hint=lambda: consistency_note(student, "regularization", ("dropout_forward", "dropout_backward"), tol))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.grades(f"{n}_penalty", f"{n}_penalty_grad"))
                                  for n in ("l1", "l2")])
@settings(max_examples=8)  # 2 calls per parameter entry
@given(data=st.data())
def test_penalty_grad_matches_numerical_grad(student, tol, data, name):
    """your penalty and its gradient agree (the gradient is the numerical gradient of your penalty)"""
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=2, max_size=3), label="layer sizes")
    params = {}
    for i, (d, h) in enumerate(zip(sizes, sizes[1:]), start=1):
        w = data.draw(arrays(shape=(d, h), low=-3, high=3), label=f"W{i}")
        params[f"W{i}"] = np.where(np.abs(w) < 1e-2, 0.5, w)  # off |w|'s kink at 0, which has its own check
        params[f"b{i}"] = data.draw(arrays(shape=(h,), low=-3, high=3), label=f"b{i}")
    lam = data.draw(st.sampled_from([0.01, 0.3]), label="lam")
    penalty = getattr(student.regularization, f"{name}_penalty")
    grad_call = call_text(f"{name}_penalty_grad", params, lam)
    grads = getattr(student.regularization, f"{name}_penalty_grad")(params, lam)
    check(isinstance(grads, dict) and set(grads) == set(params),
          lambda: f"{grad_call} returned {type(grads).__name__}"
          + (f" with keys {sorted(grads)}" if isinstance(grads, dict) else "")
          + f"; expected a dict with keys {sorted(params)} (zeros for the biases)")

    def value(got):
        if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind in "iuf":
            got = got.item()
        check(isinstance(got, (int, float)) and not isinstance(got, bool),
              lambda: f"{call_text(f'{name}_penalty', params, lam)} returned {type(got).__name__}; expected a float")
        return float(got)

    for key, p in params.items():
        got = array_like(grads[key], p, lambda: f"{grad_call}[{key!r}]")
        numeric = numerical_grad_many(lambda vs: [value(o) for o in penalty.map([({**params, key: v}, lam) for v in vs])], p)
        # The bias gradients are exactly 0, so compare with an absolute floor instead of a pure ratio.
        check(np.allclose(got, numeric, rtol=tol.grad_rel_error, atol=1e-7),
              lambda: f"your {name}_penalty and {name}_penalty_grad disagree: {grad_call}[{key!r}] is not the numerical "
              f"gradient of your {name}_penalty (largest difference {np.max(np.abs(got - numeric)):.3g})",
              hint=lambda: consistency_note(student, "regularization", (f"{name}_penalty", f"{name}_penalty_grad"), tol))


ZERO_BASED = "epochs are 0-based: the first epoch is epoch 0."
# Multiples of 1/8 in [0, 4]: exact in float32, like their sums with min_delta in {0, 1/8, 1/4}.
LOSS_GRID = st.integers(0, 32).map(lambda k: k / 8)


@pytest.mark.grades("early_stopping")
@given(losses=st.lists(LOSS_GRID, min_size=1, max_size=12), patience=st.integers(0, 4),
       min_delta=st.sampled_from([0.0, 0.125, 0.25]))
def test_early_stopping_properties(student, losses, patience, min_delta):
    """early stopping stops max(patience, 1) epochs after the best one, or runs to the end"""
    call = call_text("early_stopping", losses, patience, min_delta=min_delta)
    got = student.regularization.early_stopping(losses, patience, min_delta=min_delta)
    ok = isinstance(got, (tuple, list)) and len(got) == 2
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() for v in got)
    check(ok, lambda: f"{call} returned {got!r}; expected a tuple of two ints (stop_epoch, best_epoch)")
    stop, best = int(got[0]), int(got[1])
    last = len(losses) - 1
    if not 0 <= best <= stop <= last:
        raise Mismatch(f"{call} returned (stop_epoch={stop}, best_epoch={best}); expected 0 <= best_epoch <= "
                       f"stop_epoch <= {last} (0-based epochs of the {len(losses)} given)",
                       "epochs are 0-based: of the len(val_losses) epochs the last is len(val_losses) - 1, which "
                       "stop_epoch is when training never stops." if stop == len(losses) else "")
    waited = max(patience, 1)  # the first epoch without improvement stops when patience is 0 or 1
    if stop < last and stop - best != waited:
        hint = ""
        # Which of stop and best is off is known only when best is surely right (min_delta 0: the first minimum).
        best_right = min_delta == 0.0 and best == int(np.argmin(losses[: stop + 1]))
        if not best_right:
            pass
        elif stop - best == waited + 1:
            hint = "stop at the epoch where the wait reaches patience (wait >= patience): you stop one epoch too late."
        elif stop - best == waited - 1:
            hint = "the best epoch itself does not count in the wait: you stop one epoch too early."
        raise Mismatch(f"{call} returned (stop_epoch={stop}, best_epoch={best}): training stopped {stop - best} "
                       f"epochs after the best one; with patience={patience} it stops after {waited}", hint)
    if min_delta == 0.0:
        first_min = int(np.argmin(losses[: stop + 1]))
        if best != first_min:
            hint = ""
            if losses[best] == losses[first_min]:
                hint = ("best_epoch is the first epoch reaching the best loss: a later epoch with the same loss "
                        "is not an improvement.")
            elif best == first_min + 1:
                hint = ZERO_BASED
            raise Mismatch(f"{call} returned best_epoch={best}; with min_delta=0 the best epoch is the first "
                           f"with the lowest loss among those run, {first_min}", hint)


@pytest.mark.grades("dropout_forward", "dropout_backward", "l2_penalty", "l2_penalty_grad", "l1_penalty",
                    "l1_penalty_grad", "early_stopping", convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "regularization")
