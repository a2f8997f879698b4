"""Hypothesis strategies the suites share: bounded float64 arrays and shapes."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def floats(low: float = -10.0, high: float = 10.0) -> st.SearchStrategy[float]:
    """Finite float64 values in [low, high]."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)


def arrays(shape=None, low: float = -10.0, high: float = 10.0, max_dims: int = 3, max_side: int = 5):
    """float64 arrays with bounded values; shape fixed or drawn (1 to max_dims dims, sides 1..max_side)."""
    shape = shape if shape is not None else hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=max_side)
    return hnp.arrays(np.float64, shape, elements=floats(low, high))


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    """(N,) integer labels -> (N, k) float64 one-hot."""
    return np.eye(k)[np.asarray(labels)]


# Batch sizes every function with a batch dimension is graded on: 1 up to 64, so that code taking
# another path for large batches (a loop for small inputs, a vectorised formula for large ones) is
# graded on both.
BATCH_SIZES = (1, 2, 3, 5, 8, 17, 32, 64)


def batch_sizes() -> st.SearchStrategy[int]:
    """A batch size N from BATCH_SIZES (hypothesis tries them all within a test's examples)."""
    return st.sampled_from(BATCH_SIZES)


@st.composite
def batches(draw, low: float = -10.0, high: float = 10.0, max_k: int = 5) -> np.ndarray:
    """A float64 array (N,) or (N, K), N in BATCH_SIZES (1 to 64), K in 1..max_k, values in [low, high].

    Up to 8 rows it is drawn element by element (hypothesis' edge values: 0, the bounds, ties);
    larger batches come from a drawn seed, which keeps generating and shrinking them cheap.
    """
    n, k, flat = draw(batch_sizes()), draw(st.integers(1, max_k)), draw(st.booleans())
    shape = (n,) if flat else (n, k)
    if n <= 8:
        return draw(arrays(shape=shape, low=low, high=high))
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(low, high, shape)


def as_labels(got):
    """0/1 labels returned as floats or bools, as int64; anything else unchanged.

    For tests of label values: the labels' dtype is a convention with a test of its own.
    """
    if isinstance(got, np.ndarray) and got.dtype.kind in "fb" and got.size and np.all((got == 0) | (got == 1)):
        return got.astype(np.int64)
    return got
