"""Central-difference numerical gradients and relative error, in float64 (no reference code: ships to students)."""
from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_grad(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of scalar f at x by central differences: (f(x+h) - f(x-h)) / 2h per element."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = float(f(x))
        flat[i] = old - h
        fm = float(f(x))
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return grad


def numerical_vjp(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Vector-Jacobian product dout^T J_f(x), i.e. the gradient of sum(f(x) * dout) w.r.t. x."""
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_grad(lambda v: float(np.sum(np.asarray(f(v), dtype=np.float64) * dout)), x, h)


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """Max elementwise |a - b| / max(|a| + |b|, floor); 0.0 for two empty arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))
