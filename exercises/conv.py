# Exercise: implement the functions below; test them with `python3 -m autograder check conv`
# (from the student bundle's folder; `dlgrade check conv` in a course checkout).
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
    raise NotImplementedError("_out_size_and_pads: not implemented yet")


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
    raise NotImplementedError("conv2d_forward: not implemented yet")


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
    raise NotImplementedError("conv2d_backward: not implemented yet")


def maxpool_forward(x, pool_size=2, stride=2):
    """Max pooling with a pool_size x pool_size window, "valid" padding.

    x: (N, H, W, C); returns (N, H', W', C) with H' = (H - pool_size) // stride + 1
    (W' likewise): out[n, r, c, ch] = max of x[n, r*stride + i, c*stride + j, ch]
    over 0 <= i, j < pool_size. Each channel is pooled on its own.

    Hint: loop over the pool_size**2 window offsets and keep a running np.maximum.
    """
    raise NotImplementedError("maxpool_forward: not implemented yet")


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
    raise NotImplementedError("maxpool_backward: not implemented yet")
