"""Regularization: inverted dropout, L1/L2 weight penalties and Keras-style early stopping."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _check_rate(rate: float) -> float:
    rate = float(rate)
    # rate == 1 would drop everything and divide by zero in the 1 / (1 - rate) rescaling.
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    return rate


def _check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"dropout mask shape {mask.shape} does not match {shape}")
    return mask.astype(bool)


def dropout_forward(
    x: np.ndarray, rate: float, training: bool = True, seed: int = 0, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout on x of any shape: (out, keep-mask), out = x * mask / (1 - rate), both shaped as x.

    The keep-mask is `default_rng(seed).random(x.shape) >= rate` (each entry kept with probability
    1 - rate) unless `mask` is given, in which case it is used as is (same shape as x, cast to bool).
    With training=False this is the identity: (copy of x, all-True mask).
    """
    rate = _check_rate(rate)
    x = np.asarray(x)
    if mask is not None:
        mask = _check_mask(mask, x.shape)
    if not training:
        return x.copy(), np.ones(x.shape, dtype=bool)
    if mask is None:
        mask = np.random.default_rng(seed).random(x.shape) >= rate
    # Scaling at training time keeps E[out] = x, so inference needs no rescaling.
    return x * mask / (1.0 - rate), mask


def dropout_backward(dout: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    """Gradient of dropout_forward w.r.t. x given the forward's mask: dout * mask / (1 - rate), shaped as dout."""
    rate = _check_rate(rate)
    dout = np.asarray(dout)
    mask = _check_mask(mask, dout.shape)
    return dout * mask / (1.0 - rate)


def _weights(params: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(v, dtype=np.float64) for k, v in params.items() if k.startswith("W")]


def l2_penalty(params: dict[str, np.ndarray], lam: float) -> float:
    """lam * sum(W**2) over the arrays whose key starts with "W" (as keras.regularizers.L2(lam), summed)."""
    return float(lam * sum(float(np.sum(w * w)) for w in _weights(params)))


def l2_penalty_grad(params: dict[str, np.ndarray], lam: float) -> dict[str, np.ndarray]:
    """Dict with params' keys and shapes: 2 * lam * W for "W" keys, zeros for the rest (biases)."""
    return {
        k: 2.0 * lam * np.asarray(v, dtype=np.float64) if k.startswith("W") else np.zeros(np.shape(v))
        for k, v in params.items()
    }


def l1_penalty(params: dict[str, np.ndarray], lam: float) -> float:
    """lam * sum(|W|) over the arrays whose key starts with "W" (as keras.regularizers.L1(lam), summed)."""
    return float(lam * sum(float(np.sum(np.abs(w))) for w in _weights(params)))


def l1_penalty_grad(params: dict[str, np.ndarray], lam: float) -> dict[str, np.ndarray]:
    """Dict with params' keys and shapes: lam * sign(W) (0 where W == 0) for "W" keys, zeros for the rest."""
    return {
        k: lam * np.sign(np.asarray(v, dtype=np.float64)) if k.startswith("W") else np.zeros(np.shape(v))
        for k, v in params.items()
    }


def _as_float32(value: float) -> np.float32:
    # Values beyond float32's range become +-inf, as they do in TensorFlow's conversion.
    with np.errstate(over="ignore"):
        return np.float32(value)


def early_stopping(val_losses: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    """(stop_epoch, best_epoch), 0-based, of keras.callbacks.EarlyStopping(monitor="val_loss") on val_losses (E,).

    Replays Keras 3's on_epoch_end exactly:
    - epoch e improves iff (val_losses[e] + |min_delta|) < best, where best is the last improving
      value; the first epoch always improves. The sign of min_delta is ignored (Keras takes abs).
      Ties are not improvements, so best_epoch is the first epoch reaching the best value.
    - Keras compares with keras.ops.less on Python floats, which TensorFlow converts to float32
      (floatx); the comparison is done in float32 here too, so that boundary cases such as
      0.7 + 0.2 vs 0.9 (0.8999999999999999 < 0.9 in float64, equal in float32) agree with Keras.
    - `wait` counts the epochs since the last improvement, incremented before the comparison;
      training stops at the first non-improving epoch where wait >= patience. Hence patience=0 and
      patience=1 both stop at the first epoch without improvement.
    - stop_epoch is the last epoch run, len(val_losses) - 1 if the callback never fires.
    A NaN loss on the first epoch becomes `best` and nothing improves on it afterwards (as in Keras).
    Raises ValueError for an empty sequence or a negative patience.
    """
    losses = [float(v) for v in val_losses]
    if not losses:
        raise ValueError("early_stopping needs at least one validation loss")
    if int(patience) != patience or patience < 0:
        raise ValueError(f"patience must be a non-negative integer, got {patience}")
    delta = abs(float(min_delta))
    best: float | None = None
    best_epoch = 0
    wait = 0
    for epoch, current in enumerate(losses):
        wait += 1
        if best is None or _as_float32(current + delta) < _as_float32(best):
            best, best_epoch, wait = current, epoch, 0
            continue
        if wait >= patience and epoch > 0:
            return epoch, best_epoch
    return len(losses) - 1, best_epoch
