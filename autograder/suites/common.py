"""Helpers the public and hidden suites share (shipped in the student bundle with the public suites)."""
from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from autograder.suites.expect import array_like, check
from autograder.suites.feedback import abbrev
from autograder.suites.strategies import arrays, one_hot

# train_mlp's data: 3 classes, well apart, in 2 of d features.
CENTERS = np.array([[0.0, 3.0], [-2.6, -1.5], [2.6, -1.5]])


def binary_labels(shape, soft: bool):
    """Binary labels of `shape`: exact 0/1, or soft values in [0, 1]."""
    if soft:
        return arrays(shape=shape, low=0, high=1)
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0]))


def init_dict(got, sizes, call):
    """The student's init_params result checked for keys W1..WL, b1..bL and their shapes."""
    keys = [f"{p}{i}" for i in range(1, len(sizes)) for p in "Wb"]
    check(isinstance(got, dict), lambda: f"{call} returned {abbrev(got, 2)}; expected a dict with keys {keys}")
    check(set(got) == set(keys), lambda: f"{call} returned the keys {sorted(got)}; expected {sorted(keys)}")
    out = {}
    for i in range(1, len(sizes)):
        out[f"W{i}"] = array_like(got[f"W{i}"], np.zeros((sizes[i - 1], sizes[i])), lambda: f"W{i} of {call}")
        out[f"b{i}"] = array_like(got[f"b{i}"], np.zeros(sizes[i]), lambda: f"b{i} of {call}")
    return out


def blobs(n, seed, d=5):
    """3 Gaussian blobs (unit variance) in the first 2 of d features; integer labels (n,)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    x = rng.normal(size=(n, d))
    x[:, :2] += CENTERS[y]
    return x, y


def trained(got, d, hidden, k, call):
    """The params train_mlp returned, checked for keys and shapes."""
    shapes = {"W1": (d, hidden), "b1": (hidden,), "W2": (hidden, k), "b2": (k,)}
    check(isinstance(got, dict) and set(got) == set(shapes),
          lambda: f"{call} returned {abbrev(got, 2)}; expected a dict with the keys {sorted(shapes)}")
    return {key: array_like(got[key], np.zeros(s), lambda: f"{key} of {call}") for key, s in shapes.items()}


def loss_and_grads(got, params, call):
    """The student's (loss, grads) as (float, dict of float64 arrays shaped like params), or a clear failure."""
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          lambda: f"{call} returned {abbrev(got, 4)}; expected a tuple (loss, grads)")
    loss, grads = got
    if isinstance(loss, np.ndarray) and loss.size == 1:
        loss = loss.reshape(()).item()
    check(isinstance(loss, (int, float, np.number)) and not isinstance(loss, bool),
          lambda: f"{call} returned the loss {abbrev(loss, 4)}; expected a number")
    check(isinstance(grads, dict) and set(grads) == set(params),
          lambda: f"{call} returned grads {abbrev(grads, 2)}; expected a dict with the keys {sorted(params)}")
    return float(loss), {k: array_like(grads[k], params[k], lambda: f"grads[{k!r}] of {call}") for k in params}


def batches(got, call):
    """The student's minibatches as a list of 1-D integer arrays, or a clear failure."""
    check(isinstance(got, (list, tuple)), lambda: f"{call} returned {abbrev(got, 4)}; expected a list of index arrays")
    for i, b in enumerate(got):
        check(isinstance(b, np.ndarray) and b.ndim == 1 and b.dtype.kind in "iu",
              lambda: f"batch {i} of {call} is {abbrev(b, 4)}; expected a 1-D integer numpy array")
    return list(got)


def mlp(seed, sizes, n, scale):
    """(params, x (n, D), y one-hot (n, K)) of an MLP with layer sizes `sizes`, seeded."""
    rng = np.random.default_rng(seed)
    params = {}
    for i in range(1, len(sizes)):
        params[f"W{i}"] = rng.normal(0.0, scale, size=(sizes[i - 1], sizes[i]))
        params[f"b{i}"] = rng.normal(0.0, 0.5, size=sizes[i])  # nonzero: bias mistakes must show
    x = rng.normal(size=(n, sizes[0]))
    y = one_hot(rng.integers(0, sizes[-1], size=n), sizes[-1])
    return params, x, y


# ---- augment: the statistical checks' sizes and bounds (tests/dlref/test_augment.py checks, with
# scipy.stats, that a correct draw fails them with a probability far below one in a million).

FLIP_N = 4000  # images per fraction-flipped check
FLIP_PS = (0.25, 0.7)  # never 0.5: flipping with probability 1 - p would not show
SHIFT_N = 5000  # images per uniform-shifts check: 200 expected per (dy, dx) cell at max_shift 2
# Pearson chi-square limits over the (2 m + 1)**2 cells of (dy, dx), df = cells - 1: chi2.sf(limit, df) < 1e-9.
CHI2_LIMITS = {1: 62.0, 2: 100.0}


def flip_count_bounds(n: int, p: float, sigmas: float = 6.5) -> tuple[int, int]:
    """[low, high] for how many of n images a correct random_flip flips: the mean +- `sigmas` standard deviations.

    Flips are Binomial(n, p); 6.5 standard deviations leave less than 1e-8 in the two tails
    together (checked against the exact binomial distribution in tests/dlref/test_augment.py).
    """
    mean, sd = n * p, np.sqrt(n * p * (1 - p))
    return int(np.floor(mean - sigmas * sd)), int(np.ceil(mean + sigmas * sd))


def chi_square(shifts: np.ndarray, max_shift: int) -> float:
    """Pearson's statistic of the (dy, dx) pairs (N, 2), all in [-max_shift, max_shift], against uniform."""
    side = 2 * max_shift + 1
    counts = np.bincount((shifts[:, 0] + max_shift) * side + shifts[:, 1] + max_shift, minlength=side * side)
    expected = len(shifts) / side**2
    return float(np.sum((counts - expected) ** 2) / expected)
