"""Hidden tests for backprop.py: agreement with dlref, numerical gradients, init properties and edges.

Batches of 1 to 64 samples. Each test grades the function of its `grades` marker, compared with
dlref (numerical gradients are taken of dlref's loss, so a wrong loss does not fail a gradient
test); relu'(0) = 0 is graded only by test_relu_derivative_at_zero (random networks never put a
pre-activation exactly at 0).
"""
import copy
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.suites.differential import agree
from autograder.suites.expect import array_like, assert_close, call_text, check, matching_hint
from autograder.suites.feedback import GraderError, abbrev
from autograder.mistakes import hints_for
from autograder.suites.once import numerical_grad, numerical_vjp  # reference gradients, once per session
from autograder.suites.strategies import batch_sizes
from autograder.suites.common import init_dict, loss_and_grads, mlp
from dlref import activations
from dlref import backprop as ref

ACTIVATIONS = ("relu", "tanh", "sigmoid")
GAP = 1e-3  # smallest |pre-activation| in numerical checks: 1000 h (h = 1e-6) from relu's kink


def network(seed, sizes, n, scale=1.0):
    """(params, x (n, D), y one-hot (n, K)) of an MLP with layer sizes `sizes`, seeded (common.mlp)."""
    return mlp(seed, sizes, n, scale)


def pre_activations(params, x, activation):
    """Every hidden layer's pre-activation z, by the reference's forward pieces."""
    g, _ = activations.get(activation)
    L = sum(1 for k in params if k.startswith("W"))
    a, zs = x, []
    for i in range(1, L):
        zs.append(ref.dense_forward(a, params[f"W{i}"], params[f"b{i}"]))
        a = g(zs[-1])
    return zs


sizes_st = st.lists(st.integers(1, 4), min_size=2, max_size=4)
seeds = st.integers(0, 2**16)




def agree_part(student, tol, part, params, x, y, activation):
    """Compare item `part` (0: loss, 1: grads) of mlp_loss_and_grads with the reference, with hints."""
    fn = student.backprop.mlp_loss_and_grads
    args, kwargs = (params, x, y), {"activation": activation}
    call = call_text("mlp_loss_and_grads", *args, **kwargs)
    got = fn(*args, **kwargs)
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          lambda: f"{call} returned {abbrev(got, 4)}; expected a tuple (loss, grads)")
    expected = ref.mlp_loss_and_grads(*copy.deepcopy(args), **kwargs)

    def hints(g):
        # A catalogued mistake explains this part when its own value for the part equals the student's.
        mistaken = [(text, out[part]) for text, out in hints_for("backprop", "mlp_loss_and_grads", args, kwargs)]
        return matching_hint(g, mistaken, tol, expected[part])

    assert_close(got[part], expected[part], call=call, tol=tol, hints=hints, what=("the loss", "the gradients")[part])


# --- dense layer --------------------------------------------------------------------------------


dims = st.integers(1, 4)


def dense_inputs(seed, n, d, m):
    """(x (n, d), W (d, m), b (m,), dout (n, m)) drawn from a seed: shrinking a seed is cheap."""
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(0.0, 3.0, size=s) for s in ((n, d), (d, m), (m,), (n, m)))


@pytest.mark.grades("dense_forward")
@given(n=batch_sizes(), d=dims, m=dims, seed=seeds)
def test_dense_forward_matches_reference(student, tol, n, d, m, seed):
    """dense_forward matches the reference on random inputs (batches of 1 to 64)"""
    x, w, b, _ = dense_inputs(seed, n, d, m)
    agree(student.backprop.dense_forward, ref.dense_forward, x, w, b, tol=tol)


@pytest.mark.grades("dense_backward")
@pytest.mark.weight(2)
@given(n=batch_sizes(), d=dims, m=dims, seed=seeds)
def test_dense_backward_matches_reference(student, tol, n, d, m, seed):
    """dense_backward matches the reference on random inputs (batches of 1 to 64)"""
    x, w, _, dout = dense_inputs(seed, n, d, m)
    agree(student.backprop.dense_backward, ref.dense_backward, dout, x, w, tol=tol)


@pytest.mark.grades("dense_backward")
@pytest.mark.parametrize("n, d, m", [(1, 2, 3), (3, 4, 2), (4, 1, 1), (2, 3, 3), (64, 2, 2)])
def test_dense_backward_matches_numerical_vjp(student, tol, n, d, m):
    """dense_backward agrees with numerical VJPs of x @ W + b"""
    x, w, b, dout = dense_inputs(1000 * n + 100 * d + m, n, d, m)
    call = call_text("dense_backward", dout, x, w)
    got = student.backprop.dense_backward(dout, x, w)
    check(isinstance(got, (tuple, list)) and len(got) == 3, lambda: f"{call} returned {abbrev(got, 4)}; expected (dx, dW, db)")
    numeric = {
        "dx": numerical_vjp(lambda v: ref.dense_forward(v, w, b), x, dout),
        "dW": numerical_vjp(lambda v: ref.dense_forward(x, v, b), w, dout),
        "db": numerical_vjp(lambda v: ref.dense_forward(x, w, v), b, dout),
    }
    for (name, num), value in zip(numeric.items(), got):
        mine = array_like(value, num, lambda: f"{name} of {call}")
        # Entries can be ~0 by cancellation, where relative errors mean nothing: rtol plus a 1e-7 floor,
        # well above the ~1e-9 central-difference noise on values of order 1.
        check(np.allclose(mine, num, rtol=tol.grad_rel_error, atol=1e-7),
              lambda: f"{name} of {call} disagrees with the numerical VJP: largest difference {np.max(np.abs(mine - num)):.3g}")


@pytest.mark.grades("dense_backward")
def test_dense_backward_square_weights(student, tol):
    """dense_backward with a square W (transposes matter)"""
    rng = np.random.default_rng(31)
    dout, x, w = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(3, 3))
    agree(student.backprop.dense_backward, ref.dense_backward, dout, x, w, tol=tol)


@pytest.mark.grades("dense_backward")
def test_dense_backward_one_sample(student, tol):
    """dense_backward with a batch of one sample"""
    rng = np.random.default_rng(32)
    dout, x, w = rng.normal(size=(1, 2)), rng.normal(size=(1, 4)), rng.normal(size=(4, 2))
    agree(student.backprop.dense_backward, ref.dense_backward, dout, x, w, tol=tol)


# --- init_params --------------------------------------------------------------------------------


@pytest.mark.grades("init_params")
@settings(max_examples=10)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5), sigma=st.sampled_from([0.01, 0.1, 1.0]), seed=seeds)
def test_init_params_keys_shapes_zero_biases(student, sizes, sigma, seed):
    """init_params: keys W1..WL, b1..bL, their shapes, and zero biases"""
    call = call_text("init_params", sizes, sigma=sigma, seed=seed)
    first = init_dict(student.backprop.init_params(sizes, sigma=sigma, seed=seed), sizes, call)
    for i in range(1, len(sizes)):
        check(np.all(first[f"b{i}"] == 0), lambda: f"b{i} of {call} is not all zeros")


@pytest.mark.grades("init_params")
@pytest.mark.parametrize("sigma", [0.01, 0.3, 2.0])
def test_init_params_std_is_sigma(student, sigma):
    """init_params draws weights with mean 0 and standard deviation sigma"""
    sizes = [80, 50, 40]
    call = call_text("init_params", sizes, sigma=sigma, seed=5)
    params = init_dict(student.backprop.init_params(sizes, sigma=sigma, seed=5), sizes, call)
    for i in range(1, len(sizes)):
        w = params[f"W{i}"]
        # 2000+ draws: the sample std is within ~1.6% of sigma (1 standard error); 10% is ~6 standard errors.
        check(abs(w.std() / sigma - 1) < 0.1,
              lambda: f"W{i} of {call} has standard deviation {w.std():.4g}; expected about {sigma}")
        check(abs(w.mean()) < 6 * sigma / np.sqrt(w.size), lambda: f"W{i} of {call} has mean {w.mean():.4g}; expected about 0")


@pytest.mark.grades("init_params")
def test_init_params_seed_changes_weights(student):
    """init_params: the same seed gives the same parameters, different seeds different weights"""
    sizes = [6, 5, 4]
    calls = [call_text("init_params", sizes, sigma=0.1, seed=s) for s in (3, 4)]
    a, b = (init_dict(student.backprop.init_params(sizes, sigma=0.1, seed=s), sizes, c) for s, c in zip((3, 4), calls))
    again = init_dict(student.backprop.init_params(sizes, sigma=0.1, seed=3), sizes, calls[0])
    check(all(np.array_equal(a[k], again[k]) for k in a), lambda: f"two calls of {calls[0]} gave different parameters")
    check(not any(np.array_equal(a[f"W{i}"], b[f"W{i}"]) for i in (1, 2)), lambda: f"{calls[0]} and {calls[1]} share weights")


@pytest.mark.grades("init_params")
@pytest.mark.weight(0.5)
def test_init_params_matches_reference(student, tol):
    """init_params draws in the documented order (one rng.normal call per layer)"""
    agree(student.backprop.init_params, ref.init_params, [4, 6, 3, 2], sigma=0.2, seed=9, tol=tol)


# --- MLP ----------------------------------------------------------------------------------------


@pytest.mark.grades("mlp_forward")
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(sizes=sizes_st, n=batch_sizes(), seed=seeds)
def test_mlp_forward_matches_reference(student, tol, activation, sizes, n, seed):
    """mlp_forward matches the reference"""
    params, x, _ = network(seed, sizes, n)
    agree(student.backprop.mlp_forward, ref.mlp_forward, params, x, activation=activation, tol=tol)


@pytest.mark.grades("mlp_loss_and_grads")
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(sizes=sizes_st, n=batch_sizes(), seed=seeds)
def test_mlp_loss_matches_reference(student, tol, activation, sizes, n, seed):
    """mlp_loss_and_grads' loss matches the reference"""
    params, x, y = network(seed, sizes, n)
    agree_part(student, tol, 0, params, x, y, activation)


@pytest.mark.grades("mlp_loss_and_grads")
@pytest.mark.weight(2)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(sizes=sizes_st, n=batch_sizes(), seed=seeds)
def test_mlp_grads_match_reference(student, tol, activation, sizes, n, seed):
    """mlp_loss_and_grads' gradients match the reference"""
    params, x, y = network(seed, sizes, n)
    agree_part(student, tol, 1, params, x, y, activation)


# Fixed networks (a failing numerical check is too costly to shrink): 1 to 2 hidden layers, N = 1 included.
NUMERIC_NETS = [([3, 4, 3], 4, 61), ([2, 3, 3, 2], 1, 62), ([3, 2, 3, 3], 3, 63)]


@pytest.mark.grades("mlp_loss_and_grads")
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes, n, seed", NUMERIC_NETS, ids=["1-hidden", "2-hidden-N=1", "2-hidden"])
def test_mlp_grads_match_numerical_grads(student, tol, activation, sizes, n, seed):
    """mlp_loss_and_grads' gradients agree with numerical gradients of the reference loss"""
    params, x, y = network(seed, sizes, n)
    # The inputs are fixed: this guards the grader's choice of seeds, off relu's kink.
    if not all(np.all(np.abs(z) > GAP) for z in pre_activations(params, x, activation)):
        raise GraderError(f"network seed {seed} puts a pre-activation within {GAP} of relu's kink")
    args, kwargs = (params, x, y), {"activation": activation}
    call = call_text("mlp_loss_and_grads", *args, **kwargs)
    _, grads = loss_and_grads(student.backprop.mlp_loss_and_grads(*args, **kwargs), params, call)
    numeric = {k: numerical_grad(lambda v: ref.mlp_loss_and_grads({**params, k: v}, x, y, activation)[0], params[k])
               for k in params}
    # Saturated or dead units give entries ~0, where relative errors mean nothing: rtol plus a
    # 1e-7 floor, above the ~1e-10 central-difference noise on a loss of order 1.
    loose = dataclasses.replace(tol, rtol=tol.grad_rel_error, atol=1e-7)

    def hints(g):
        mistaken = [(text, out[1]) for text, out in hints_for("backprop", "mlp_loss_and_grads", args, kwargs)]
        return matching_hint(g, mistaken, tol, ref.mlp_loss_and_grads(*copy.deepcopy(args), **kwargs)[1])

    assert_close(grads, numeric, call=call, tol=loose, hints=hints, what="the gradients (vs a numerical gradient)")


@pytest.mark.grades("mlp_loss_and_grads", convention="relu'(0)")
def test_relu_derivative_at_zero(student, tol):
    """back-propagation uses relu'(0) = 0 when a pre-activation is exactly 0 (one and two hidden layers)"""
    for sizes in ([3, 4, 2], [3, 4, 3, 2]):
        params, x, y = network(41, sizes, 4)
        params = {k: (np.zeros_like(v) if k.startswith("b") else v) for k, v in params.items()}
        x[1] = 0.0  # with zero biases, every hidden pre-activation of this sample is exactly 0
        agree_part(student, tol, 1, params, x, y, "relu")


@pytest.mark.grades("mlp_loss_and_grads")
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_large_logits(student, tol, activation):
    """loss and gradients stay finite and correct for logits near 1000"""
    params, x, y = network(42, [3, 5, 3], 4)
    params["W2"] = params["W2"] * 600.0 / np.max(np.abs(ref.mlp_forward(params, x, activation)))
    params["b2"] = params["b2"] + 700.0  # logits up to ~1300: exp overflows without the max shift
    agree(student.backprop.mlp_loss_and_grads, ref.mlp_loss_and_grads, params, x, y, activation=activation, tol=tol)


@pytest.mark.grades("mlp_loss_and_grads")
def test_one_sample_deep_network(student, tol):
    """mlp_loss_and_grads on one sample through three hidden layers"""
    params, x, y = network(43, [2, 3, 4, 3, 2], 1)
    agree(student.backprop.mlp_loss_and_grads, ref.mlp_loss_and_grads, params, x, y, activation="tanh", tol=tol)
