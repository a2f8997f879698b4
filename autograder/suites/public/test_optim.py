"""Public checks for optim.py: fixed vectors, update-rule and mini-batch properties, and a training run.

Each test grades the function of its `grades` marker. minibatches' exact order (the permutation
np.random.default_rng(seed).permutation(n), as its docstring says) is graded only by the case
about it; its other tests grade properties (a permutation, the batch sizes, seeding).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.suites.expect import array_like, call_text, check
from autograder.suites.feedback import abbrev
from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded
from autograder.suites.common import batches, blobs, trained

_rng = np.random.default_rng(3)
W = _rng.normal(size=(2, 3))
DW = _rng.normal(size=(2, 3))
VELOCITY = 0.1 * _rng.normal(size=(2, 3))
M = 0.1 * _rng.normal(size=(2, 3))
V = 0.01 * np.abs(_rng.normal(size=(2, 3)))
ZEROS = np.zeros((2, 3))
TINY = 1e-8 * np.array([[1.0, -1.0, 2.0], [-0.5, 1.0, 3.0]])  # sqrt(v_hat) ~ eps: where eps's place matters

CASES = [
    case("sgd_step", "sgd_step", W, DW, 0.1),
    case("sgd_step-vector", "sgd_step", W[0], DW[0], lr=0.5),
    case("momentum_step-from-rest", "momentum_step", W, DW, ZEROS, 0.1),
    case("momentum_step-moving", "momentum_step", W, DW, VELOCITY, 0.05, momentum=0.5),
    case("adam_step-first", "adam_step", W, DW, ZEROS, ZEROS, 1),
    case("adam_step-t4", "adam_step", W, DW, M, V, 4, lr=0.01),
    case("adam_step-tiny-gradients", "adam_step", W, TINY, ZEROS, ZEROS, 1),
    case("adam_step-hyperparameters", "adam_step", W, DW, M, V, 2, lr=0.05, beta1=0.8, beta2=0.99, eps=1e-4),
    case("minibatches-10-by-3", "minibatches", 10, 3, seed=0),
]
CONVENTIONS = {"minibatches-10-by-3": "permutation rule"}


# minibatches' exact order is weighted lower than its properties (permutation, sizes, seeding).
@pytest.mark.parametrize("c", cases_as_params("optim", CONVENTIONS, weights={"minibatches": 0.5}))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "optim", c, tol)


def pair(got, like, call, names):
    """A student's 2- or 3-tuple of arrays shaped like `like`, checked."""
    check(isinstance(got, (tuple, list)) and len(got) == len(names),
          lambda: f"{call} returned {abbrev(got, 4)}; expected a tuple ({', '.join(names)})")
    return [array_like(g, like, lambda: f"{name} of {call}") for g, name in zip(got, names)]


shapes = hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)
seeds = st.integers(0, 2**16)


@pytest.mark.grades("momentum_step")
@given(shape=shapes, seed=seeds, lr=st.sampled_from([1e-3, 0.05, 0.5]), momentum=st.sampled_from([0.0, 0.5, 0.9]))
def test_momentum_moves_by_the_new_velocity(student, tol, shape, seed, lr, momentum):
    """momentum_step moves w by exactly the velocity it returns"""
    rng = np.random.default_rng(seed)
    w, dw, velocity = rng.normal(0.0, 3.0, size=shape), rng.normal(0.0, 3.0, size=shape), rng.normal(size=shape)
    call = call_text("momentum_step", w, dw, velocity, lr, momentum=momentum)
    new_w, new_v = pair(student.optim.momentum_step(w, dw, velocity, lr, momentum=momentum), w, call, ("w", "velocity"))
    check(np.allclose(new_w - w, new_v, rtol=tol.rtol, atol=1e-9),
          lambda: f"{call}: the new w minus the old w should be the returned velocity (w = w + velocity)")
    check(np.allclose(new_v, momentum * velocity - lr * dw, rtol=tol.rtol, atol=1e-9),
          lambda: f"{call}: the velocity should be momentum * velocity - lr * dw (Keras' convention)")


@pytest.mark.grades("adam_step")
@given(shape=shapes, seed=seeds, lr=st.sampled_from([1e-4, 1e-3, 0.1]))
def test_adam_first_step_is_lr_times_sign(student, tol, shape, seed, lr):
    """Adam's first step moves each weight by about lr, against its gradient"""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 3.0, size=shape)
    dw = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(1e-3, 10.0, size=shape)
    zeros = np.zeros(shape)
    call = call_text("adam_step", w, dw, zeros, zeros, 1, lr=lr)
    new_w, _, _ = pair(student.optim.adam_step(w, dw, zeros, zeros, 1, lr=lr), w, call, ("w", "m", "v"))
    # At t = 1 the bias-corrected m_hat = dw and v_hat = dw**2, so the step is lr * dw / (|dw| + eps):
    # lr * sign(dw) up to eps / |dw| <= 1e-4.
    # Without the bias correction, m = 0.1 dw and v = 0.001 dw**2 make the first step lr * 0.1 / sqrt(0.001) * sign(dw).
    uncorrected = np.allclose(w - new_w, lr * 0.1 / np.sqrt(0.001) * np.sign(dw), rtol=2e-4, atol=1e-12)
    check(np.allclose(w - new_w, lr * np.sign(dw), rtol=2e-4, atol=1e-12),
          lambda: f"{call} moved w by {abbrev(w - new_w, 6)}; the first Adam step should be about lr * sign(dw) = "
          f"{abbrev(lr * np.sign(dw), 6)}",
          hint="bias-correct m and v: m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t); without it the first "
          "step is lr * 0.1 / sqrt(0.001) = 3.16 lr." if uncorrected else "")




@pytest.mark.grades("minibatches")
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), seed=st.integers(0, 2**16))
@settings(max_examples=15)
def test_minibatches_cut_a_permutation(student, n, batch_size, seed):
    """minibatches: a permutation of range(n) in batches of batch_size, the last one shorter"""
    call = call_text("minibatches", n, batch_size, seed=seed)
    got = batches(student.optim.minibatches(n, batch_size, seed=seed), call)
    sizes = [len(b) for b in got]
    expected = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    check(sizes == expected, lambda: f"{call} gave batches of sizes {sizes}; expected {expected}")
    check(np.array_equal(np.sort(np.concatenate(got)), np.arange(n)),
          lambda: f"{call}: together the batches should hold every index 0..{n - 1} exactly once")


@pytest.mark.grades("minibatches")
def test_minibatches_depend_on_the_seed(student):
    """minibatches: shuffled, the same seed gives the same order, another seed another one"""
    orders = []
    for seed in (0, 0, 1):
        call = call_text("minibatches", 20, 5, seed=seed)
        orders.append(np.concatenate(batches(student.optim.minibatches(20, 5, seed=seed), call)))
    check(np.array_equal(orders[0], orders[1]),
          "two calls of minibatches(20, 5, seed=0) gave different orders: draw them with np.random.default_rng(seed)")
    check(not np.array_equal(orders[0], orders[2]), "minibatches(20, 5) gave the same order for seed=0 and seed=1")
    check(not np.array_equal(np.sort(orders[0]), orders[0]), "minibatches(20, 5, seed=0) did not shuffle the indices")




@pytest.mark.grades("train_mlp")
@pytest.mark.weight(2)
@pytest.mark.slow_calls
def test_train_mlp_learns(student, course):
    """train_mlp (adam, default settings) reaches the required accuracy on held-out data"""
    x, y = blobs(300, seed=1)
    x_test, y_test = blobs(300, seed=2)
    call = call_text("train_mlp", x, y)
    params = trained(student.optim.train_mlp(x, y), 5, 64, 3, call)
    check(all(np.all(np.isfinite(p)) for p in params.values()), lambda: f"{call} returned parameters with nan or inf")
    logits = np.maximum(x_test @ params["W1"] + params["b1"], 0.0) @ params["W2"] + params["b2"]
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
    need = course.grading.mlp_min_accuracy
    check(accuracy >= need, lambda: f"{call}: held-out accuracy {accuracy:.3f}; at least {need:.2f} required")


@pytest.mark.grades("sgd_step", "momentum_step", "adam_step", "minibatches", convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "optim")
