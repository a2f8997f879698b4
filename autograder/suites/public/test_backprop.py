"""Public checks for backprop.py: fixed vectors, init properties, and gradients against your own loss.

Each test grades the functions of its `grades` marker; the self-consistency checks grade a pair
(e.g. your loss and your gradients) and say which of the two fails its own checks too. relu'(0) = 0
is graded only in the case about it.
"""
import numpy as np
import pytest

from autograder.suites.expect import array_like, call_text, check
from autograder.suites.feedback import GraderError, abbrev
from autograder.suites.numgrad import numerical_grad_many, numerical_vjp_many
from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded, consistency_note
from autograder.suites.common import init_dict, loss_and_grads, mlp

ACTIVATIONS = ("relu", "tanh", "sigmoid")
GAP = 0.05  # smallest |pre-activation| allowed in gradient checks: far from relu's kink at 0 (h = 1e-6)


def network(seed, sizes, n=4, scale=0.8):
    """(params, x (n, D), y one-hot (n, K)) of an MLP with layer sizes `sizes`, seeded (common.mlp)."""
    return mlp(seed, sizes, n, scale)


def pre_activations(params, x, g):
    """Every hidden layer's z = a @ W + b (numpy, as the contract defines the forward pass)."""
    L = sum(1 for k in params if k.startswith("W"))
    a, zs = x, []
    for i in range(1, L):
        z = a @ params[f"W{i}"] + params[f"b{i}"]
        zs.append(z)
        a = g(z)
    return zs


G = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}

_rng = np.random.default_rng(7)
X = _rng.normal(size=(4, 3))
W = _rng.normal(size=(3, 2))
B = _rng.normal(size=2)
DOUT = _rng.normal(size=(4, 2))
W_SQUARE = _rng.normal(size=(3, 3))  # D == M: a transposed dW or dx = dout @ W gives a wrong value, not a crash
DOUT_SQUARE = _rng.normal(size=(4, 3))
NET, NET_X, NET_Y = network(11, [3, 5, 4, 3])
# relu'(0): a sample of zeros with zero biases puts every hidden pre-activation of that row exactly at 0.
ZERO_NET = {k: (np.zeros_like(v) if k.startswith("b") else v) for k, v in NET.items()}
ZERO_X = np.vstack([NET_X[:3], np.zeros((1, 3))])
# Logits near 1000: exp overflows unless the row max is subtracted.
BIG_NET = {**NET, "W3": NET["W3"] * 400.0}

CASES = [
    case("dense_forward", "dense_forward", X, W, B),
    case("dense_forward-one-sample", "dense_forward", X[:1], W, B),
    case("dense_backward", "dense_backward", DOUT, X, W),
    case("dense_backward-square-W", "dense_backward", DOUT_SQUARE, X, W_SQUARE),
    case("init_params", "init_params", [3, 4, 2], sigma=0.1, seed=0),
    *(case(f"mlp_forward-{g}", "mlp_forward", NET, NET_X, activation=g) for g in ACTIVATIONS),
    *(case(f"mlp_loss_and_grads-{g}", "mlp_loss_and_grads", NET, NET_X, NET_Y, activation=g) for g in ACTIVATIONS),
    case("mlp_loss_and_grads-relu-at-0", "mlp_loss_and_grads", ZERO_NET, ZERO_X, NET_Y, activation="relu"),
    case("mlp_loss_and_grads-large-logits", "mlp_loss_and_grads", BIG_NET, NET_X, NET_Y, activation="tanh"),
]


CONVENTIONS = {"mlp_loss_and_grads-relu-at-0": "relu'(0)"}


# init_params' exact values depend on the draw order: weighted lower than its properties.
@pytest.mark.parametrize("c", cases_as_params("backprop", CONVENTIONS, weights={"init_params": 0.5}))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "backprop", c, tol)




@pytest.mark.grades("dense_forward", "dense_backward")
@pytest.mark.parametrize("n, d, m", [(1, 3, 2), (4, 2, 3), (3, 3, 3)])
def test_dense_backward_matches_numerical_vjp(student, tol, n, d, m):
    """your dense_forward and dense_backward agree (dense_backward is a numerical VJP of your dense_forward)"""
    rng = np.random.default_rng(100 * n + 10 * d + m)
    x, w, b, dout = (rng.normal(size=s) for s in ((n, d), (d, m), (m,), (n, m)))
    fwd = student.backprop.dense_forward
    out_like = np.zeros((n, m))

    def outputs(arg_lists):
        return [array_like(o, out_like, lambda args=args: call_text("dense_forward", *args))
                for args, o in zip(arg_lists, fwd.map(arg_lists))]
    call = call_text("dense_backward", dout, x, w)
    got = student.backprop.dense_backward(dout, x, w)
    check(isinstance(got, (tuple, list)) and len(got) == 3, lambda: f"{call} returned {abbrev(got, 4)}; expected (dx, dW, db)")
    numeric = {
        "dx": numerical_vjp_many(lambda vs: outputs([(v, w, b) for v in vs]), x, dout),
        "dW": numerical_vjp_many(lambda vs: outputs([(x, v, b) for v in vs]), w, dout),
        "db": numerical_vjp_many(lambda vs: outputs([(x, w, v) for v in vs]), b, dout),
    }
    for (name, num), value in zip(numeric.items(), got):
        mine = array_like(value, num, lambda: f"{name} of {call}")
        # A gradient entry can be ~0 by cancellation, where a relative error means nothing: an absolute
        # floor of 1e-7 sits well above central-difference noise (~1e-9 here) and far below any real mistake.
        check(np.allclose(mine, num, rtol=tol.grad_rel_error, atol=1e-7),
              lambda: f"your dense_forward and dense_backward disagree: {name} of {call} is not the numerical VJP of "
              f"your dense_forward (largest difference {np.max(np.abs(mine - num)):.3g})",
              hint=lambda: consistency_note(student, "backprop", ("dense_forward", "dense_backward"), tol))


@pytest.mark.grades("mlp_loss_and_grads")
@pytest.mark.weight(2)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_grads_match_numerical_grads(student, tol, activation):
    """your mlp_loss_and_grads' loss and gradients agree (the gradients are numerical gradients of your loss)"""
    params, x, y = network(5, [3, 4, 3, 3], n=5)
    if activation == "relu":  # the inputs are fixed: this guards the grader's choice of seed, off relu's kink
        if min(np.min(np.abs(z)) for z in pre_activations(params, x, G[activation])) <= GAP:
            raise GraderError(f"the network's seed puts a pre-activation within {GAP} of relu's kink")
    fn = student.backprop.mlp_loss_and_grads
    call = call_text("mlp_loss_and_grads", params, x, y, activation=activation)
    _, grads = loss_and_grads(fn(params, x, y, activation=activation), params, call)

    def losses(ps):
        return [loss_and_grads(o, params, call)[0] for o in fn.map([(p, x, y) for p in ps], activation=activation)]

    for k in params:
        num = numerical_grad_many(lambda vs: losses([{**params, k: v} for v in vs]), params[k])
        # Entries near 0 (saturated units) make relative errors meaningless: rtol plus a 1e-7 floor,
        # above the ~1e-10 noise of central differences on a loss of order 1.
        check(np.allclose(grads[k], num, rtol=tol.grad_rel_error, atol=1e-7),
              lambda: f"your loss and your gradients disagree: grads[{k!r}] of {call} is not the numerical gradient of "
              f"your loss (largest difference {np.max(np.abs(grads[k] - num)):.3g}; yours {abbrev(grads[k], 6)}, "
              f"numerical {abbrev(num, 6)})",
              hint=lambda: consistency_note(student, "backprop", ("mlp_loss_and_grads", "mlp_loss_and_grads"), tol,
                                            parts=(0, 1), names=("loss", "gradients")))


@pytest.mark.grades("mlp_forward", "mlp_loss_and_grads")
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_matches_your_forward(student, tol, activation):
    """your loss is the mean softmax cross-entropy of your mlp_forward's logits"""
    params, x, y = network(3, [4, 5, 3], n=6)
    call = call_text("mlp_forward", params, x, activation=activation)
    logits = array_like(student.backprop.mlp_forward(params, x, activation=activation), y, call)
    shifted = logits - logits.max(axis=1, keepdims=True)
    expected = float(np.mean(-np.sum(y * (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))), axis=1)))
    lcall = call_text("mlp_loss_and_grads", params, x, y, activation=activation)
    loss, _ = loss_and_grads(student.backprop.mlp_loss_and_grads(params, x, y, activation=activation), params, lcall)
    check(np.isclose(loss, expected, rtol=tol.rtol, atol=tol.atol),
          lambda: f"your mlp_forward and mlp_loss_and_grads disagree: {lcall} returned the loss {loss:.10g}, but the mean "
          f"over N of -sum(y * log_softmax(logits)) of your mlp_forward's logits is {expected:.10g}",
          hint=lambda: consistency_note(student, "backprop", ("mlp_forward", "mlp_loss_and_grads"), tol,
                                        parts=(None, 0), names=("mlp_forward", "loss")))


@pytest.mark.grades("init_params")
def test_init_params_shapes_and_zero_biases(student):
    """init_params has keys W1..WL, b1..bL of the right shapes, with zero biases"""
    sizes = [4, 3, 5, 2]
    call = call_text("init_params", sizes, sigma=0.1, seed=1)
    params = init_dict(student.backprop.init_params(sizes, sigma=0.1, seed=1), sizes, call)
    for i in range(1, len(sizes)):
        check(np.all(params[f"b{i}"] == 0), lambda: f"b{i} of {call} is not all zeros")
        check(np.any(params[f"W{i}"] != 0), lambda: f"W{i} of {call} is all zeros; it should be random")


@pytest.mark.grades("init_params")
def test_init_params_std_is_sigma(student):
    """init_params draws weights with mean 0 and standard deviation sigma"""
    sizes, sigma = [100, 60, 50], 0.05
    call = call_text("init_params", sizes, sigma=sigma, seed=3)
    params = init_dict(student.backprop.init_params(sizes, sigma=sigma, seed=3), sizes, call)
    for i in range(1, len(sizes)):
        w = params[f"W{i}"]
        # 3000+ draws: the sample std is within ~1.3% of sigma (1 standard error); 10% is ~8 standard errors.
        check(abs(w.std() / sigma - 1) < 0.1, lambda: f"W{i} of {call} has standard deviation {w.std():.4g}; expected about "
              f"sigma = {sigma}", hint="rng.normal(loc, scale) takes the standard deviation: draw with scale sigma, "
              "not sigma**2." if abs(w.std() / sigma**2 - 1) < 0.1 else "")
        check(abs(w.mean()) < 6 * sigma / np.sqrt(w.size), lambda: f"W{i} of {call} has mean {w.mean():.4g}; expected about 0")


@pytest.mark.grades("init_params")
def test_init_params_seeded(student):
    """init_params: the same seed gives the same parameters, another seed different ones"""
    sizes = [5, 4, 3]
    fn = student.backprop.init_params
    calls = {s: call_text("init_params", sizes, sigma=0.1, seed=s) for s in (0, 1)}
    first = init_dict(fn(sizes, sigma=0.1, seed=0), sizes, calls[0])
    again = init_dict(fn(sizes, sigma=0.1, seed=0), sizes, calls[0])
    other = init_dict(fn(sizes, sigma=0.1, seed=1), sizes, calls[1])
    check(all(np.array_equal(first[k], again[k]) for k in first),
          lambda: f"two calls of {calls[0]} gave different parameters: use np.random.default_rng(seed), not a global RNG")
    check(not np.array_equal(first["W1"], other["W1"]), lambda: f"seed=0 and seed=1 gave the same W1: use the seed")


@pytest.mark.grades("dense_forward", "dense_backward", "init_params", "mlp_forward", "mlp_loss_and_grads",
                    convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "backprop")
