"""Dense layers and a fully connected classifier (MLP) trained by back-propagation."""
from __future__ import annotations

import numpy as np

from dlref import activations
from dlref.losses import softmax_cross_entropy_grad, softmax_cross_entropy_with_logits

ACTIVATIONS = ("relu", "tanh", "sigmoid")


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x @ W + b; x: (N, D), W: (D, M), b: (M,); returns (N, M)."""
    return np.asarray(x, dtype=np.float64) @ np.asarray(W, dtype=np.float64) + np.asarray(b, dtype=np.float64)


def dense_backward(dout: np.ndarray, x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx (N, D), dW (D, M), db (M,)) for out = x @ W + b, given dout: (N, M)."""
    dout = np.asarray(dout, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def init_params(layer_sizes: list[int], sigma: float = 0.01, seed: int = 0) -> dict[str, np.ndarray]:
    """Dict W1..WL of shape (sizes[i], sizes[i+1]) ~ N(0, sigma**2), b1..bL zeros (sizes[i+1],).

    Draw order (fixed; other code reproduces it): rng = np.random.default_rng(seed), then for
    i = 0 .. L-1 in layer order, W{i+1} = rng.normal(0.0, sigma, size=(sizes[i], sizes[i+1])).
    Biases draw nothing.
    """
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for i in range(len(layer_sizes) - 1):
        params[f"W{i + 1}"] = rng.normal(0.0, sigma, size=(layer_sizes[i], layer_sizes[i + 1]))
        params[f"b{i + 1}"] = np.zeros(layer_sizes[i + 1])
    return params


def _num_layers(params: dict[str, np.ndarray]) -> int:
    """L, the number of consecutive W1, W2, ... keys."""
    n = 0
    while f"W{n + 1}" in params:
        n += 1
    return n


def _forward(params: dict[str, np.ndarray], x: np.ndarray, activation: str):
    """Logits (N, K), plus each layer's input a[i] and pre-activation z[i] for the backward pass."""
    g, _ = activations.get(activation, ACTIVATIONS)
    L = _num_layers(params)
    a = np.asarray(x, dtype=np.float64)
    inputs, pre = [], []
    for i in range(1, L + 1):
        inputs.append(a)
        z = dense_forward(a, params[f"W{i}"], params[f"b{i}"])
        pre.append(z)
        a = g(z) if i < L else z
    return a, inputs, pre


def mlp_forward(params: dict[str, np.ndarray], x: np.ndarray, activation: str = "relu") -> np.ndarray:
    """Logits (N, K): activation(dense) for every layer but the last, which is dense only; x: (N, D)."""
    logits, _, _ = _forward(params, x, activation)
    return logits


def mlp_loss_and_grads(
    params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, activation: str = "relu"
) -> tuple[float, dict[str, np.ndarray]]:
    """(softmax cross-entropy of the logits vs one-hot y (N, K), grads with params' keys and shapes)."""
    _, g_grad = activations.get(activation, ACTIVATIONS)
    logits, inputs, pre = _forward(params, x, activation)
    loss = softmax_cross_entropy_with_logits(logits, y)
    grads: dict[str, np.ndarray] = {}
    d = softmax_cross_entropy_grad(logits, y)
    for i in range(len(inputs), 0, -1):
        d, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(d, inputs[i - 1], params[f"W{i}"])
        if i > 1:
            d = d * g_grad(pre[i - 2])
    return loss, {k: grads[k] for k in params}
