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
