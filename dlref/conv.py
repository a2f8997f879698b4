"""2-D convolution and max pooling, NHWC, as TensorFlow's `tf.nn.conv2d` and `tf.nn.max_pool2d`.

Images are `(N, H, W, C)`, kernels `(KH, KW, C_in, C_out)`. Output sizes per spatial dim,
with kernel size `K` and stride `s`:

- valid: `H' = floor((H - K) / s) + 1` (needs `H >= K`);
- same:  `H' = ceil(H / s)`, padded with `max((H' - 1) * s + K - H, 0)` zeros, half of them
  (rounded down) before and the rest after, i.e. the extra row/column at the bottom/right.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

_PADDINGS = ("valid", "same")


def _check_int(name: str, value) -> int:
    """Positive Python/NumPy integer (bools and floats are refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _check_4d(name: str, a) -> np.ndarray:
    """`a` as a float64 array of 4 dims."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"{name} must have 4 dims, got shape {a.shape}")
    return a


def _pad_1d(size: int, k: int, stride: int, padding: str) -> tuple[int, int, int]:
    """`(out, pad_before, pad_after)` along one dim of length `size`, kernel `k`, TensorFlow's rule."""
    if padding == "valid":
        if k > size:
            raise ValueError(f"kernel size {k} is larger than the input size {size} with 'valid' padding")
        return (size - k) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def conv_geometry(x_shape, w_shape, stride: int, padding: str):
    """`((H', W'), ((pad_top, pad_bottom), (pad_left, pad_right)))` for x `(N, H, W, C)`, w `(KH, KW, C, C_out)`.

    Shared by forward and backward so both see the same padding.
    """
    if not isinstance(padding, str) or padding.lower() not in _PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    padding = padding.lower()
    stride = _check_int("stride", stride)
    _, H, W, C = x_shape
    KH, KW, C_in, _ = w_shape
    if C != C_in:
        raise ValueError(f"channel mismatch: x has {C} channels, w expects {C_in}")
    Ho, pt, pb = _pad_1d(H, KH, stride, padding)
    Wo, pl, pr = _pad_1d(W, KW, stride, padding)
    return (Ho, Wo), ((pt, pb), (pl, pr))


def _pad(x: np.ndarray, pads) -> np.ndarray:
    """Zero-pad the two spatial dims of NHWC `x`; no copy when there is nothing to pad."""
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return x
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))


def _windows(xp: np.ndarray, KH: int, KW: int, Ho: int, Wo: int, stride: int) -> np.ndarray:
    """Read-only view `(N, Ho, Wo, KH, KW, C)` of the windows of padded NHWC `xp` (no copy)."""
    sN, sH, sW, sC = xp.strides
    N, C = xp.shape[0], xp.shape[3]
    return as_strided(
        xp,
        shape=(N, Ho, Wo, KH, KW, C),
        strides=(sN, stride * sH, stride * sW, sH, sW, sC),
        writeable=False,
    )


def _im2col(xp: np.ndarray, KH: int, KW: int, Ho: int, Wo: int, stride: int) -> np.ndarray:
    """`(N, Ho * Wo, KH * KW * C)`: one row per output pixel, columns ordered as `w.reshape(-1, C_out)`."""
    cols = _windows(np.ascontiguousarray(xp), KH, KW, Ho, Wo, stride)
    return cols.reshape(xp.shape[0], Ho * Wo, KH * KW * xp.shape[3])


# The matmuls below are batched per sample (one np.matmul call on stacked arrays) rather than
# one tall (N*H'*W', K) product: OpenBLAS runs these mid-sized products faster single-threaded,
# and a single huge multi-threaded product slows down badly when the cores are shared.


def conv2d_forward(x, w, b, stride: int = 1, padding: str = "valid") -> np.ndarray:
    """x `(N, H, W, C_in)`, w `(KH, KW, C_in, C_out)`, b `(C_out,)` -> `(N, H', W', C_out)`.

    `out[n, i, j, o] = b[o] + sum_{p, q, c} xpad[n, i*s + p, j*s + q, c] * w[p, q, c, o]`
    (cross-correlation, kernel not flipped). H', W' as in the module docstring.
    """
    x, w = _check_4d("x", x), _check_4d("w", w)
    b = np.asarray(b, dtype=np.float64)
    if b.shape != (w.shape[3],):
        raise ValueError(f"b must have shape ({w.shape[3]},), got {b.shape}")
    (Ho, Wo), pads = conv_geometry(x.shape, w.shape, stride, padding)
    KH, KW, _, C_out = w.shape
    cols = _im2col(_pad(x, pads), KH, KW, Ho, Wo, int(stride))
    out = cols @ w.reshape(-1, C_out)
    out += b
    return out.reshape(x.shape[0], Ho, Wo, C_out)


def conv2d_backward(dout, x, w, stride: int = 1, padding: str = "valid"):
    """dout `(N, H', W', C_out)`, x `(N, H, W, C_in)`, w `(KH, KW, C_in, C_out)` -> `(dx, dw, db)`.

    Shapes of x, w and `(C_out,)`: `dw = cols^T dout` (im2col), `db = sum(dout)`, and `dx` is
    the col2im scatter-add of `dout @ w[p, q]^T` at each kernel offset `(p, q)`, cropped to x.
    """
    x, w = _check_4d("x", x), _check_4d("w", w)
    dout = _check_4d("dout", dout)
    (Ho, Wo), pads = conv_geometry(x.shape, w.shape, stride, padding)
    s = int(stride)
    N, H, W, C_in = x.shape
    KH, KW, _, C_out = w.shape
    if dout.shape != (N, Ho, Wo, C_out):
        raise ValueError(f"dout must have shape {(N, Ho, Wo, C_out)}, got {dout.shape}")
    (pt, pb), (pl, pr) = pads

    d3 = dout.reshape(N, Ho * Wo, C_out)
    db = np.einsum("nmo->o", d3)  # a few times faster than d3.sum(axis=(0, 1))
    cols = _im2col(_pad(x, pads), KH, KW, Ho, Wo, s)
    # (C_out, K) products keep the long axis contiguous for BLAS; transposed once at the end.
    dw = (d3.transpose(0, 2, 1) @ cols).sum(axis=0).T.reshape(w.shape)
    del cols

    # Loop over the KH*KW kernel offsets, not over pixels: each adds a strided block, inside
    # which the window positions are distinct, so '+=' never collides.
    dxp = np.zeros((N, H + pt + pb, W + pl + pr, C_in))
    w_t = np.ascontiguousarray(w.transpose(0, 1, 3, 2))  # (KH, KW, C_out, C_in); contiguous for BLAS
    for p in range(KH):
        for q in range(KW):
            dxp[:, p : p + s * (Ho - 1) + 1 : s, q : q + s * (Wo - 1) + 1 : s] += (d3 @ w_t[p, q]).reshape(
                N, Ho, Wo, C_in
            )
    dx = np.ascontiguousarray(dxp[:, pt : pt + H, pl : pl + W])
    return dx, dw, db


def _pool_geometry(x_shape, pool_size: int, stride: int) -> tuple[int, int]:
    """`(H', W')` of valid max pooling: `floor((H - pool_size) / stride) + 1`."""
    pool_size = _check_int("pool_size", pool_size)
    stride = _check_int("stride", stride)
    _, H, W, _ = x_shape
    if pool_size > H or pool_size > W:
        raise ValueError(f"pool_size {pool_size} is larger than the input {H}x{W}")
    return (H - pool_size) // stride + 1, (W - pool_size) // stride + 1


def _pool_slice(p: int, q: int, Ho: int, Wo: int, s: int):
    """Index of the inputs at offset (p, q) of every pooling window: shape `(N, Ho, Wo, C)`."""
    return (slice(None), slice(p, p + s * (Ho - 1) + 1, s), slice(q, q + s * (Wo - 1) + 1, s))


def maxpool_forward(x, pool_size: int = 2, stride: int = 2) -> np.ndarray:
    """x `(N, H, W, C)` -> `(N, H', W', C)`, max over `pool_size` x `pool_size` windows, valid padding.

    `H' = floor((H - pool_size) / stride) + 1`, same for W'.
    """
    x = _check_4d("x", x)
    Ho, Wo = _pool_geometry(x.shape, pool_size, stride)
    k, s = int(pool_size), int(stride)
    out = x[_pool_slice(0, 0, Ho, Wo, s)].copy()
    for p in range(k):
        for q in range(k):
            np.maximum(out, x[_pool_slice(p, q, Ho, Wo, s)], out=out)
    return out


def maxpool_backward(dout, x, pool_size: int = 2, stride: int = 2) -> np.ndarray:
    """dout `(N, H', W', C)`, x `(N, H, W, C)` -> dx `(N, H, W, C)`.

    Each `dout` entry goes to the maximum of its window; on ties to the first maximum in
    row-major window order. Overlapping windows (stride < pool_size) accumulate.
    """
    x, dout = _check_4d("x", x), _check_4d("dout", dout)
    Ho, Wo = _pool_geometry(x.shape, pool_size, stride)
    k, s = int(pool_size), int(stride)
    if dout.shape != (x.shape[0], Ho, Wo, x.shape[3]):
        raise ValueError(f"dout must have shape {(x.shape[0], Ho, Wo, x.shape[3])}, got {dout.shape}")
    # Row-major scan with a strict '>' keeps the first maximum on ties.
    best = x[_pool_slice(0, 0, Ho, Wo, s)].copy()
    arg = np.zeros(best.shape, dtype=np.intp)
    for p in range(k):
        for q in range(k):
            v = x[_pool_slice(p, q, Ho, Wo, s)]
            better = v > best
            np.copyto(best, v, where=better)
            np.copyto(arg, p * k + q, where=better)
    dx = np.zeros_like(x)
    for p in range(k):
        for q in range(k):
            # Within one offset the window positions are distinct, so '+=' cannot collide.
            dx[_pool_slice(p, q, Ho, Wo, s)] += np.where(arg == p * k + q, dout, 0.0)
    return dx
