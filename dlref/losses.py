"""Losses reduced by the mean (as tf.reduce_mean) and their gradients; scalar losses are Python floats."""
from __future__ import annotations

import numpy as np

from dlref.activations import sigmoid, softmax

# Keras' backend.epsilon(), the clip used by keras.losses.binary_crossentropy.
EPSILON = 1e-7


def mse(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Mean of (y_pred - y_true)**2 over all elements; any equal shapes."""
    d = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return float(np.mean(d * d))


def mse_grad(y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """2 * (y_pred - y_true) / y_pred.size; shape of y_pred."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    return 2.0 * (y_pred - np.asarray(y_true, dtype=np.float64)) / y_pred.size


def binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """-mean(y log p + (1 - y) log(1 - p)) with p clipped to [1e-7, 1 - 1e-7], as Keras; any equal shapes."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def sigmoid_cross_entropy_with_logits(z: np.ndarray, y: np.ndarray) -> float:
    """Mean of max(z, 0) - z*y + log(1 + exp(-|z|)), as tf.nn.sigmoid_cross_entropy_with_logits; equal shapes."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # exp(-|z|) <= 1: no overflow for any finite z, and log1p keeps precision when it is tiny.
    return float(np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def sigmoid_cross_entropy_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(sigmoid(z) - y) / z.size; shape of z."""
    z = np.asarray(z, dtype=np.float64)
    return (sigmoid(z) - np.asarray(y, dtype=np.float64)) / z.size


def softmax_cross_entropy_with_logits(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean over N of -sum_k y * log_softmax(logits); logits, y: (N, K), y one-hot or soft labels."""
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # log-sum-exp around the row max: log_softmax stays finite for any finite logits.
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_sm = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(np.mean(-np.sum(y * log_sm, axis=1)))


def softmax_cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(softmax(logits) - y) / N; logits, y: (N, K), returns (N, K)."""
    logits = np.asarray(logits, dtype=np.float64)
    return (softmax(logits, axis=1) - np.asarray(y, dtype=np.float64)) / logits.shape[0]
