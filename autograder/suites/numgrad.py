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


def numerical_grad_many(f_many: Callable[[list], list], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """`numerical_grad`, with f evaluated at all 2 * x.size points by one call: f_many(points) -> values.

    The same points in the same order as numerical_grad, so the same result to the bit; for a
    function reached through a worker, one round trip instead of one per point.
    """
    x = np.array(x, dtype=np.float64)
    flat = x.reshape(-1)
    points = []
    for i in range(flat.size):
        for step in (h, -h):
            p = x.copy()
            p.reshape(-1)[i] = flat[i] + step
            points.append(p)
    values = np.array([float(v) for v in f_many(points)], dtype=np.float64)
    if values.size != 2 * flat.size:
        raise ValueError(f"numerical_grad_many: {values.size} values for {2 * flat.size} points")
    return ((values[0::2] - values[1::2]) / (2 * h)).reshape(x.shape)


def numerical_vjp_many(f_many: Callable[[list], list], x: np.ndarray, dout: np.ndarray,
                       h: float = 1e-6) -> np.ndarray:
    """`numerical_vjp` with f evaluated at all points by one call: f_many(points) -> outputs."""
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_grad_many(
        lambda points: [float(np.sum(np.asarray(out, dtype=np.float64) * dout)) for out in f_many(points)], x, h)


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """Max elementwise |a - b| / max(|a| + |b|, floor); 0.0 for two empty arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))
