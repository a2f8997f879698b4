"""The single perceptron: weighted sum, activation, 0/1 prediction and Rosenblatt's learning rule."""
from __future__ import annotations

import numpy as np

from dlref import activations

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")


def weighted_sum(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """z = b + x @ w; x: (N, m), w: (m,), b: float; returns (N,)."""
    return b + np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64)


def perceptron_forward(x: np.ndarray, w: np.ndarray, b: float, activation: str = "sigmoid") -> np.ndarray:
    """g(b + x @ w), g one of sigmoid, tanh, relu, linear; x: (N, m), w: (m,); returns (N,)."""
    g, _ = activations.get(activation, ACTIVATIONS)
    return g(weighted_sum(x, w, b))


def perceptron_predict(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Integer labels (N,): 1 where b + x @ w >= 0, else 0."""
    return (weighted_sum(x, w, b) >= 0).astype(np.int64)


def _train_epoch(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lr: float
) -> tuple[np.ndarray, float, int]:
    """One pass of Rosenblatt's rule over the samples in order; returns (w, b, mistakes)."""
    mistakes = 0
    for xi, yi in zip(x, y):
        # Same threshold as perceptron_predict: z == 0 predicts 1.
        pred = 1.0 if b + xi @ w >= 0 else 0.0
        err = yi - pred
        if err != 0:
            w = w + lr * err * xi
            b = b + lr * err
            mistakes += 1
    return w, b, mistakes


def perceptron_train(x: np.ndarray, y: np.ndarray, lr: float = 1.0, epochs: int = 100) -> tuple[np.ndarray, float]:
    """(w (m,), b) by Rosenblatt's rule from zeros; x: (N, m), y: (N,) in {0, 1}; stops after a clean epoch."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(epochs):
        w, b, mistakes = _train_epoch(x, y, w, b, lr)
        if mistakes == 0:
            break
    return w, float(b)
