"""Elementwise activations and their derivatives, stable in float64 for any finite input."""
from __future__ import annotations

from typing import Callable

import numpy as np

Activation = Callable[[np.ndarray], np.ndarray]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), elementwise; z: any shape, same shape out."""
    z = np.asarray(z, dtype=np.float64)
    # exp(-|z|) lies in (0, 1], so nothing overflows; sigmoid(-1000) underflows quietly to 0.0.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z: np.ndarray) -> np.ndarray:
    """sigmoid(z) * (1 - sigmoid(z)), elementwise; same shape as z."""
    z = np.asarray(z, dtype=np.float64)
    # 1 - sigmoid(z) == sigmoid(-z), computed without the cancellation of 1 - s near s = 1.
    return sigmoid(z) * sigmoid(-z)


def tanh(z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, elementwise; same shape as z."""
    return np.tanh(np.asarray(z, dtype=np.float64))


def tanh_grad(z: np.ndarray) -> np.ndarray:
    """1 - tanh(z)**2 (= sech(z)**2), elementwise; same shape as z."""
    # sech^2 = 4u / (1 + u)^2 with u = exp(-2|z|) <= 1: no overflow, and no cancellation of
    # 1 - tanh^2 for large |z|, where it underflows quietly to 0.0 instead. Squaring exp(-|z|)
    # rather than computing -2|z| keeps |z| near the float64 max from overflowing.
    e = np.exp(-np.abs(np.asarray(z, dtype=np.float64)))
    u = e * e
    return 4.0 * u / ((1.0 + u) * (1.0 + u))


def relu(z: np.ndarray) -> np.ndarray:
    """max(0, z), elementwise; same shape as z."""
    return np.maximum(np.asarray(z, dtype=np.float64), 0.0)


def relu_grad(z: np.ndarray) -> np.ndarray:
    """1.0 where z > 0, else 0.0 (0 at z == 0, as TensorFlow and PyTorch); same shape as z."""
    return (np.asarray(z, dtype=np.float64) > 0).astype(np.float64)


def linear(z: np.ndarray) -> np.ndarray:
    """Identity, as a float64 copy; same shape as z."""
    return np.array(z, dtype=np.float64)


def linear_grad(z: np.ndarray) -> np.ndarray:
    """Ones of z's shape."""
    return np.ones_like(np.asarray(z, dtype=np.float64))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(z) / sum(exp(z)) along axis; same shape as z, slices along axis sum to 1."""
    z = np.asarray(z, dtype=np.float64)
    # Shifting by the max changes nothing mathematically and keeps exp() <= 1.
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


_TABLE: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "linear": (linear, linear_grad),
}


def get(name: str, allowed: tuple[str, ...] = tuple(_TABLE)) -> tuple[Activation, Activation]:
    """(fn, grad) for an activation name in allowed; ValueError naming it and the allowed ones."""
    if name not in allowed or name not in _TABLE:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(map(repr, allowed))}")
    return _TABLE[name]
