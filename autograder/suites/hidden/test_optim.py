"""Hidden tests for optim.py: update rules against dlref, threaded steps, mini-batches, and training.

Each test grades the function of its `grades` marker. minibatches' exact order is graded only by
test_minibatches_match_reference (a convention its docstring states); the other minibatches tests
grade one property each: sizes, a permutation, shuffling with the seed.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.suites.differential import agree
from autograder.suites.expect import call_text, check
from autograder.suites.common import batches, blobs, trained
from dlref import optim as ref
from dlref.backprop import mlp_forward

shapes = hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)
seeds = st.integers(0, 2**16)


def state(seed, shape):
    """(w, dw, m, v) of one shape from a seed (shrinking a seed is cheap); v >= 0 as a second moment is."""
    rng = np.random.default_rng(seed)
    w, dw = rng.normal(0.0, 3.0, size=shape), rng.normal(0.0, 3.0, size=shape)
    m, v = rng.normal(0.0, 0.5, size=shape), rng.uniform(0.0, 1.0, size=shape)
    return w, dw, m, v


# --- sgd and momentum ---------------------------------------------------------------------------


@pytest.mark.grades("sgd_step")
@given(shape=shapes, seed=seeds, lr=st.sampled_from([1e-3, 0.01, 0.1, 0.5, 1.0]))
def test_sgd_matches_reference(student, tol, shape, seed, lr):
    """sgd_step matches the reference"""
    w, dw, _, _ = state(seed, shape)
    agree(student.optim.sgd_step, ref.sgd_step, w, dw, lr, tol=tol)


@pytest.mark.grades("momentum_step")
@pytest.mark.weight(2)
@given(shape=shapes, seed=seeds, lr=st.sampled_from([1e-3, 0.01, 0.1, 0.5]),
       momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]))
def test_momentum_matches_reference(student, tol, shape, seed, lr, momentum):
    """momentum_step matches the reference (Keras' SGD with momentum)"""
    w, dw, velocity, _ = state(seed, shape)
    agree(student.optim.momentum_step, ref.momentum_step, w, dw, velocity, lr, momentum=momentum, tol=tol)


@pytest.mark.grades("momentum_step")
def test_momentum_default_and_several_steps(student, tol):
    """momentum_step over five steps, each starting from your previous (w, velocity)"""
    rng = np.random.default_rng(51)
    w, velocity = rng.normal(size=(3, 2)), np.zeros((3, 2))
    for step in range(1, 6):
        dw = rng.normal(size=(3, 2))
        got = agree(student.optim.momentum_step, ref.momentum_step, w, dw, velocity, 0.1, tol=tol,
                    what=f"step {step}")  # default momentum = 0.9
        w, velocity = got


# --- adam ---------------------------------------------------------------------------------------


@pytest.mark.grades("adam_step")
@pytest.mark.weight(2)
@given(shape=shapes, seed=seeds, t=st.integers(1, 10_000))
def test_adam_matches_reference(student, tol, shape, seed, t):
    """adam_step matches the reference"""
    agree(student.optim.adam_step, ref.adam_step, *state(seed, shape), t, tol=tol)


@pytest.mark.grades("adam_step")
@given(shape=shapes, seed=seeds, t=st.integers(1, 100), lr=st.sampled_from([1e-4, 0.01, 0.1]),
       beta1=st.sampled_from([0.5, 0.8, 0.95]), beta2=st.sampled_from([0.9, 0.99, 0.9999]),
       eps=st.sampled_from([1e-8, 1e-7, 1e-4]))
def test_adam_hyperparameters(student, tol, shape, seed, t, lr, beta1, beta2, eps):
    """adam_step uses its lr, beta1, beta2 and eps arguments"""
    agree(student.optim.adam_step, ref.adam_step, *state(seed, shape), t, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
          tol=tol)


@pytest.mark.grades("adam_step")
@pytest.mark.weight(2)
def test_adam_several_steps(student, tol):
    """adam_step for t = 1..5, each step starting from your previous (w, m, v)"""
    rng = np.random.default_rng(52)
    w, m, v = rng.normal(size=(4, 3)), np.zeros((4, 3)), np.zeros((4, 3))
    for t in range(1, 6):
        dw = rng.normal(size=(4, 3))
        w, m, v = agree(student.optim.adam_step, ref.adam_step, w, dw, m, v, t, lr=0.01, tol=tol, what=f"step t={t}")


@pytest.mark.grades("adam_step")
def test_adam_tiny_gradients(student, tol):
    """adam_step with gradients of 1e-8 (eps matters), for t = 1..5"""
    rng = np.random.default_rng(53)
    w, m, v = rng.normal(size=(2, 3)), np.zeros((2, 3)), np.zeros((2, 3))
    for t in range(1, 6):
        dw = 1e-8 * rng.choice([-2.0, -1.0, 0.5, 1.0, 3.0], size=(2, 3))
        w, m, v = agree(student.optim.adam_step, ref.adam_step, w, dw, m, v, t, tol=tol, what=f"step t={t}")


@pytest.mark.grades("adam_step")
def test_adam_zero_gradient(student, tol):
    """adam_step with an all-zero gradient from rest leaves w unchanged (eps avoids 0 / 0)"""
    w, zeros = np.array([0.5, -2.0, 3.0]), np.zeros(3)
    agree(student.optim.adam_step, ref.adam_step, w, zeros, zeros, zeros, 1, tol=tol)


# --- minibatches --------------------------------------------------------------------------------




def check_batches(student, n, batch_size, seed, sizes_only=False):
    call = call_text("minibatches", n, batch_size, seed=seed)
    got = batches(student.optim.minibatches(n, batch_size, seed=seed), call)
    sizes = [len(b) for b in got]
    expected = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    check(sizes == expected, lambda: f"{call} gave batches of sizes {sizes}; expected {expected}")
    if not sizes_only:
        check(np.array_equal(np.sort(np.concatenate(got)), np.arange(n)),
              lambda: f"{call}: together the batches should hold every index 0..{n - 1} exactly once")
    return got


@pytest.mark.grades("minibatches")
@pytest.mark.weight(2)
@settings(max_examples=15)
@given(n=st.integers(1, 100), batch_size=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_minibatches_cut_a_permutation(student, n, batch_size, seed):
    """minibatches: a permutation of range(n) in batches of batch_size, the last one shorter"""
    check_batches(student, n, batch_size, seed)


@pytest.mark.grades("minibatches")
@pytest.mark.parametrize("n, batch_size", [(12, 4), (10, 4), (7, 10), (7, 7), (5, 1), (1, 3)],
                         ids=["divides", "remainder", "batch-larger-than-n", "one-full-batch", "size-1", "n=1"])
def test_minibatches_edge_sizes(student, n, batch_size):
    """minibatches' batch sizes when batch_size divides n, leaves a remainder, or exceeds n"""
    check_batches(student, n, batch_size, seed=3, sizes_only=True)


@pytest.mark.grades("minibatches")
@settings(max_examples=10)
@given(n=st.integers(10, 60), batch_size=st.integers(1, 20), seeds=st.lists(st.integers(0, 2**16), min_size=2,
                                                                           max_size=2, unique=True))
def test_minibatches_shuffle_with_the_seed(student, n, batch_size, seeds):
    """minibatches: the order is shuffled, the same seed gives the same order and different seeds different ones"""
    def order(s):
        call = call_text("minibatches", n, batch_size, seed=s)
        return np.concatenate(batches(student.optim.minibatches(n, batch_size, seed=s), call))

    orders = [order(s) for s in seeds]
    check(np.array_equal(orders[0], order(seeds[0])),
          lambda: f"two calls of minibatches({n}, {batch_size}, seed={seeds[0]}) gave different orders")
    # n >= 10: a shuffle returns the identity, or two seeds the same order, with probability <= 1 / 10!.
    check(not np.array_equal(orders[0], np.sort(orders[0])),
          lambda: f"minibatches({n}, {batch_size}, seed={seeds[0]}) did not shuffle")
    check(not np.array_equal(orders[0], orders[1]),
          lambda: f"minibatches({n}, {batch_size}) gave the same order for seed={seeds[0]} and seed={seeds[1]}")


@pytest.mark.grades("minibatches", convention="permutation rule")
@pytest.mark.weight(0.5)
def test_minibatches_match_reference(student, tol):
    """minibatches cut np.random.default_rng(seed).permutation(n) as documented"""
    for n, batch_size, seed in [(10, 3, 0), (16, 4, 7), (9, 20, 1)]:
        agree(student.optim.minibatches, ref.minibatches, n, batch_size, seed=seed, tol=tol)


# --- train_mlp ----------------------------------------------------------------------------------



# Learning rates that suit each optimizer on this data (momentum 0.9 multiplies SGD's step by ~10).
SETTINGS = {"sgd": {"lr": 0.1}, "momentum": {"lr": 0.05}, "adam": {"lr": 0.01}}


@pytest.mark.grades("train_mlp")
@pytest.mark.weight(2)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_train_mlp_learns(student, course, optimizer):
    """train_mlp reaches the required held-out accuracy"""
    seed = {"sgd": 10, "momentum": 20, "adam": 30}[optimizer]
    x, y = blobs(300, seed=seed)
    x_test, y_test = blobs(600, seed=seed + 1)
    kwargs = dict(hidden=16, epochs=20, batch_size=32, optimizer=optimizer, seed=seed, **SETTINGS[optimizer])
    call = call_text("train_mlp", x, y, **kwargs)
    params = trained(student.optim.train_mlp(x, y, **kwargs), 5, 16, 3, call)
    check(all(np.all(np.isfinite(p)) for p in params.values()), lambda: f"{call} returned parameters with nan or inf")
    accuracy = float(np.mean(np.argmax(mlp_forward(params, x_test, "relu"), axis=1) == y_test))
    need = course.grading.mlp_min_accuracy
    check(accuracy >= need, lambda: f"{call}: held-out accuracy {accuracy:.3f}; at least {need:.2f} required")
