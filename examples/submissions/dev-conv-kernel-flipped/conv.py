"""Convolution and max pooling on NHWC images (slides: "Convolutional Neural Networks").

Images are x (N, H, W, C), kernels w (KH, KW, C_in, C_out): TensorFlow's layout.
The loops run over kernel (or pool window) offsets only, never over pixels:
for the offset (i, j), the input pixels every output position sees form one
strided slice of the (padded) input, and a matrix product with w[i, j] does
all positions and channels at once.

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 samples wherever there is a batch dimension; a convention (the "Graded:"
lines below) costs points only in the tests about it. Functions must not print (one test
checks it and shows what was printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy (and math) and needs no other exercise.
import math

import numpy as np

PADDINGS = ("valid", "same")


def _out_size_and_pads(size, k, stride, padding):
    """Output length and (before, after) padding along one spatial axis of length `size`.

    "valid": out = floor((size - k) / stride) + 1, no padding.
    "same" (TensorFlow's rule): out = ceil(size / stride) and the padding
    total = max((out - 1) * stride + k - size, 0), split as before = total // 2,
    after = total - before (the odd extra row or column goes at the bottom/right).

    Hint: check the "same" formula on size 5, k 3, stride 2: out 3, pads (1, 1).
    """
    ### BEGIN SOLUTION
    if padding == "valid":
        out = (size - k) // stride + 1
        if out < 1:
            raise ValueError(f"window {k} larger than input {size} with 'valid' padding")
        return out, (0, 0)
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, (total // 2, total - total // 2)
    ### END SOLUTION


def _window(a, i, j, out_h, out_w, stride):
    """The strided slice a[:, i + stride*r, j + stride*c, :] for r < out_h, c < out_w.

    a: (N, H, W, C); returns a view of shape (N, out_h, out_w, C).
    """
    return a[:, i:i + stride * (out_h - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride, :]


def conv2d_forward(x, w, b, stride=1, padding="valid"):
    """2-D convolution (cross-correlation, as tf.nn.conv2d: the kernel is not flipped) plus bias.

    x: (N, H, W, C_in), w: (KH, KW, C_in, C_out), b: (C_out,); returns (N, H', W', C_out):
        out[n, r, c, o] = b[o] + sum over i, j, ch of
                          xp[n, r*stride + i, c*stride + j, ch] * w[i, j, ch, o]
    where xp is x zero-padded. padding="valid": no padding, H' = (H - KH) // stride + 1;
    padding="same": H' = ceil(H / stride), padded by TensorFlow's rule (the
    extra row/column, when the padding is odd, at the bottom/right). Same for W'.

    Hint: loop over the KH * KW kernel offsets; for offset (i, j) take the
    strided slice of xp that lines up with it, (N, H', W', C_in), and multiply
    it by w[i, j], (C_in, C_out), with @.
    """
    ### BEGIN SOLUTION
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; expected one of {PADDINGS}")
    x = np.asarray(x, dtype=np.float64)
    n, h, width, _ = x.shape
    kh, kw, _, c_out = w.shape
    out_h, pad_h = _out_size_and_pads(h, kh, stride, padding)
    out_w, pad_w = _out_size_and_pads(width, kw, stride, padding)
    xp = np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))

    out = np.zeros((n, out_h, out_w, c_out))
    for i in range(kh):
        for j in range(kw):
            out += _window(xp, i, j, out_h, out_w, stride) @ w[kh - 1 - i, kw - 1 - j]
    return out + b
    ### END SOLUTION


def conv2d_backward(dout, x, w, stride=1, padding="valid"):
    """Gradients of conv2d_forward from the upstream gradient dout = dJ/dout.

    dout: (N, H', W', C_out), x: (N, H, W, C_in), w: (KH, KW, C_in, C_out);
    returns (dx, dw, db) with shapes (N, H, W, C_in), (KH, KW, C_in, C_out), (C_out,).
    For each kernel offset (i, j), the forward pass did out += S_ij @ w[i, j]
    with S_ij the strided slice of the padded input, so
        dw[i, j] = sum over (n, r, c) of S_ij^T dout        (C_in, C_out)
        dS_ij   += dout @ w[i, j].T                          added back into dxp
        db       = sum of dout over (n, r, c)
    and dx is dxp with the padding cut off.

    Hint: mirror the forward loop; np.einsum("nrck,nrco->ko", S, dout) sums
    S^T dout over the batch and output positions.
    """
    ### BEGIN SOLUTION
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; expected one of {PADDINGS}")
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    _, h, width, _ = x.shape
    kh, kw, _, _ = w.shape
    out_h, pad_h = _out_size_and_pads(h, kh, stride, padding)
    out_w, pad_w = _out_size_and_pads(width, kw, stride, padding)
    xp = np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))

    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for i in range(kh):
        for j in range(kw):
            patch = _window(xp, i, j, out_h, out_w, stride)
            dw[i, j] = np.einsum("nrck,nrco->ko", patch, dout)
            target = _window(dxp, i, j, out_h, out_w, stride)  # a view: += writes into dxp
            target += dout @ w[i, j].T
    dx = dxp[:, pad_h[0]:pad_h[0] + h, pad_w[0]:pad_w[0] + width, :]
    return dx, dw, np.sum(dout, axis=(0, 1, 2))
    ### END SOLUTION


def maxpool_forward(x, pool_size=2, stride=2):
    """Max pooling with a pool_size x pool_size window, "valid" padding.

    x: (N, H, W, C); returns (N, H', W', C) with H' = (H - pool_size) // stride + 1
    (W' likewise): out[n, r, c, ch] = max of x[n, r*stride + i, c*stride + j, ch]
    over 0 <= i, j < pool_size. Each channel is pooled on its own.

    Hint: loop over the pool_size**2 window offsets and keep a running np.maximum.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    out_h, _ = _out_size_and_pads(x.shape[1], pool_size, stride, "valid")
    out_w, _ = _out_size_and_pads(x.shape[2], pool_size, stride, "valid")
    out = np.full((x.shape[0], out_h, out_w, x.shape[3]), -np.inf)
    for i in range(pool_size):
        for j in range(pool_size):
            out = np.maximum(out, _window(x, i, j, out_h, out_w, stride))
    return out
    ### END SOLUTION


def maxpool_backward(dout, x, pool_size=2, stride=2):
    """Gradient of maxpool_forward: each dout entry goes to the position of its window's maximum.

    dout: (N, H', W', C), x: (N, H, W, C); returns dx: (N, H, W, C), zero
    except at the maxima. On ties, only the first maximum in row-major order
    (smallest i, then smallest j) gets the gradient. With overlapping windows
    (stride < pool_size) an input can be the maximum of several windows and
    receives the sum of their gradients.
    Graded: the first maximum on ties only in the checks with tied windows
    (elsewhere every window has one maximum).

    Hint: recompute the pooled output, then visit the offsets (i, j) in
    row-major order, routing dout where the slice equals the maximum and no
    earlier offset has taken it yet (keep a boolean "taken" array).
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    out = maxpool_forward(x, pool_size, stride)
    out_h, out_w = out.shape[1], out.shape[2]
    dx = np.zeros_like(x)
    taken = np.zeros(out.shape, dtype=bool)
    for i in range(pool_size):
        for j in range(pool_size):
            hit = (_window(x, i, j, out_h, out_w, stride) == out) & ~taken
            taken |= hit
            target = _window(dx, i, j, out_h, out_w, stride)  # a view: += writes into dx
            target += dout * hit
    return dx
    ### END SOLUTION
