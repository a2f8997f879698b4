"""Optimizers (SGD, momentum, Adam), mini-batching and a small MLP training loop."""
from __future__ import annotations

import numbers

import numpy as np

from dlref.backprop import init_params, mlp_forward, mlp_loss_and_grads

OPTIMIZERS = ("sgd", "momentum", "adam")

# init_params draws every layer with one sigma, so He scaling (sqrt(2 / fan_in)) is not available;
# 0.1 trains the small MLPs of the course with every optimizer at its default learning rate.
INIT_SIGMA = 0.1


def sgd_step(w: np.ndarray, dw: np.ndarray, lr: float) -> np.ndarray:
    """Plain gradient descent: w - lr * dw, shaped as w."""
    return np.asarray(w) - lr * np.asarray(dw)


def momentum_step(
    w: np.ndarray, dw: np.ndarray, velocity: np.ndarray, lr: float, momentum: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """Keras SGD with momentum: velocity = momentum * velocity - lr * dw, w = w + velocity; returns (w, velocity)."""
    velocity = momentum * np.asarray(velocity) - lr * np.asarray(dw)
    return np.asarray(w) + velocity, velocity


def adam_step(
    w: np.ndarray,
    dw: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam step t >= 1 (Kingma & Ba, Algorithm 1), all shaped as w; returns (w, m, v).

    m = beta1 m + (1 - beta1) dw, v = beta2 v + (1 - beta2) dw**2,
    w = w - lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t).
    """
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 1:
        # t = 0 would divide by 1 - beta**0 = 0 in the bias correction.
        raise ValueError(f"adam_step: step t must be an integer >= 1, got {t!r}")
    dw = np.asarray(dw)
    m = beta1 * np.asarray(m) + (1.0 - beta1) * dw
    v = beta2 * np.asarray(v) + (1.0 - beta2) * (dw * dw)
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    return np.asarray(w) - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def minibatches(n: int, batch_size: int, seed: int = 0) -> list[np.ndarray]:
    """Index arrays of a permutation of range(n) (default_rng(seed).permutation(n)), ceil(n / batch_size) of them.

    Every batch has batch_size indices except the last, which holds the remaining n % batch_size (if any).
    """
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size}")
    n, batch_size = int(n), int(batch_size)
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _one_hot_targets(y: np.ndarray, n: int) -> np.ndarray:
    """(N, K) float targets from integer labels (N,) (K = max + 1) or from one-hot / soft labels (N, K)."""
    y = np.asarray(y)
    if y.shape[:1] != (n,) or y.ndim not in (1, 2):
        raise ValueError(f"y must be labels (N,) or one-hot (N, K) with N = {n}, got shape {y.shape}")
    if y.ndim == 2:
        return y.astype(np.float64)
    if np.any(y < 0) or np.any(y != np.round(y)):
        raise ValueError("integer labels y must be whole numbers >= 0")
    labels = y.astype(np.int64)
    return np.eye(int(labels.max()) + 1)[labels]


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    hidden: int = 64,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 1e-2,
    optimizer: str = "adam",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train a ReLU MLP x (N, D) -> hidden -> K logits; returns {"W1" (D, hidden), "b1", "W2" (hidden, K), "b2"}.

    y is either integer labels (N,), with K = y.max() + 1, or one-hot rows (N, K). The loss is
    softmax cross-entropy (dlref.backprop.mlp_loss_and_grads); weights start as N(0, INIT_SIGMA**2)
    from init_params(seed=seed) and epoch e visits minibatches(N, batch_size, seed=seed + e).
    optimizer: "sgd", "momentum" (Keras SGD, momentum 0.9) or "adam" (Keras defaults beta1 = 0.9,
    beta2 = 0.999, eps = 1e-7); the same lr for all. Deterministic given the arguments.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty (N, D) array, got shape {x.shape}")
    targets = _one_hot_targets(y, x.shape[0])
    params = init_params([x.shape[1], int(hidden), targets.shape[1]], sigma=INIT_SIGMA, seed=seed)
    state = {k: (np.zeros_like(p), np.zeros_like(p)) for k, p in params.items()}
    t = 0
    for epoch in range(int(epochs)):
        for idx in minibatches(x.shape[0], batch_size, seed=seed + epoch):
            _, grads = mlp_loss_and_grads(params, x[idx], targets[idx], activation="relu")
            t += 1
            for k in params:
                if optimizer == "sgd":
                    params[k] = sgd_step(params[k], grads[k], lr)
                elif optimizer == "momentum":
                    params[k], velocity = momentum_step(params[k], grads[k], state[k][0], lr)
                    state[k] = (velocity, state[k][1])
                else:
                    params[k], m, v = adam_step(params[k], grads[k], *state[k], t, lr=lr)
                    state[k] = (m, v)
    return params


def predict_mlp(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Integer labels (N,): argmax of the ReLU MLP's logits mlp_forward(params, x) (N, K)."""
    return np.argmax(mlp_forward(params, np.asarray(x, dtype=np.float64), activation="relu"), axis=1)
