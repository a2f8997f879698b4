"""Classic mistakes in conv.py: (id, text in the solution, replacement, expected hint fragment)."""

_FWD = "out += _window(xp, i, j, out_h, out_w, stride) @ w[i, j]"
_SAME_PADS = "return out, (total // 2, total - total // 2)"
_DX = "target += dout @ w[i, j].T"
_DW = 'dw[i, j] = np.einsum("nrck,nrco->ko", patch, dout)'
_FWD_PADS = ("out_h, pad_h = _out_size_and_pads(h, kh, stride, padding)\n"
             "    out_w, pad_w = _out_size_and_pads(width, kw, stride, padding)\n"
             "    xp = np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))\n\n    out = ")
_POOL_HIT = "target += dout * hit"
_POOL_SIZES = ('x = np.asarray(x, dtype=np.float64)\n'
               '    out_h, _ = _out_size_and_pads(x.shape[1], pool_size, stride, "valid")')

MUTANTS = [
    # conv2d_forward
    ("kernel-flipped", _FWD, "out += _window(xp, i, j, out_h, out_w, stride) @ w[kh - 1 - i, kw - 1 - j]",
     "do not flip the kernel"),
    ("same-extra-top-left", _SAME_PADS, "return out, (total - total // 2, total // 2)", "you put it at the top/left"),
    ("same-symmetric-k-over-2", _SAME_PADS, "return out, (k // 2, k // 2)", "TensorFlow's 'same' padding"),
    ("same-padding-ignored", _FWD_PADS, _FWD_PADS.replace("stride, padding)", 'stride, "valid")'),
     "you computed a 'valid' convolution"),
    ("valid-size-one-short", "out = (size - k) // stride + 1", "out = (size - k) // stride", "one row/column short"),
    ("windows-not-strided", _FWD, "out += _window(xp, i, j, out_h, out_w, 1) @ w[i, j]",
     "the windows must move by `stride` pixels"),
    ("bias-missing", "return out + b", "return out", "add the bias"),
    ("bias-per-offset", _FWD + "\n    return out + b", _FWD + " + b\n    return out", "KH * KW times"),
    # conv2d_backward
    ("db-averaged", "np.sum(dout, axis=(0, 1, 2))", "np.mean(dout, axis=(0, 1, 2))", "not the mean"),
    ("dw-first-sample-only", _DW, 'dw[i, j] = np.einsum("rck,rco->ko", patch[0], dout[0])',
     "you kept only the first sample's"),
    ("dw-averaged-over-batch", _DW, 'dw[i, j] = np.einsum("nrck,nrco->ko", patch, dout) / x.shape[0]',
     "do not divide by N"),
    ("dx-not-accumulated", _DX, "target[...] = dout @ w[i, j].T", "+=, not ="),
    ("dx-kernel-flipped", _DX, "target += dout @ w[kh - 1 - i, kw - 1 - j].T",
     "do not flip the kernel in the backward"),
    ("dx-not-cropped", "dx = dxp[:, pad_h[0]:pad_h[0] + h, pad_w[0]:pad_w[0] + width, :]", "dx = dxp",
     "crop the padding off dx"),
    ("dx-windows-not-strided", "target = _window(dxp, i, j, out_h, out_w, stride)",
     "target = _window(dxp, i, j, out_h, out_w, 1)", "each dout pixel goes back to the window it came from"),
    # max pooling
    ("maxpool-padded", _POOL_SIZES,
     'x = np.asarray(x, dtype=np.float64)\n'
     '    out_h, pad_h = _out_size_and_pads(x.shape[1], pool_size, stride, "same")\n'
     '    out_w, pad_w = _out_size_and_pads(x.shape[2], pool_size, stride, "same")\n'
     '    x = np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)), constant_values=-np.inf)\n'
     '    out_h, _ = _out_size_and_pads(x.shape[1], pool_size, stride, "valid")',
     "max pooling here uses 'valid' padding"),
    ("maxpool-stride-is-pool-size", _POOL_SIZES,
     'x = np.asarray(x, dtype=np.float64)\n    stride = pool_size\n'
     '    out_h, _ = _out_size_and_pads(x.shape[1], pool_size, stride, "valid")',
     "use the `stride` argument"),
    ("maxpool-grad-all-tied", "hit = (_window(x, i, j, out_h, out_w, stride) == out) & ~taken",
     "hit = _window(x, i, j, out_h, out_w, stride) == out", "you gave it to every tied maximum"),
    ("maxpool-grad-last-tied", "for i in range(pool_size):\n        for j in range(pool_size):\n            hit",
     "for i in reversed(range(pool_size)):\n        for j in reversed(range(pool_size)):\n            hit",
     "you chose the last"),
    ("maxpool-grad-averaged", _POOL_HIT, "target += dout / pool_size**2", "not spread over the whole window"),
    ("maxpool-grad-mask-only", _POOL_HIT, "target += hit", "multiply by dout"),
    # Convention mistakes, code taking another path for large batches, and kinds hints once mistook
    # (max-pool backward assigning, Adam with no step counter, pooling sized by the pool size).
    ("maxpool-grad-assigned",
     "target += dout * hit",
     "target[hit] = dout[hit]",
     "+=, not ="),
    ("maxpool-grad-window-assigned",
     "    out = maxpool_forward(x, pool_size, stride)\n"
     "    out_h, out_w = out.shape[1], out.shape[2]\n"
     "    dx = np.zeros_like(x)\n",
     "    out = maxpool_forward(x, pool_size, stride)\n"
     "    out_h, out_w = out.shape[1], out.shape[2]\n"
     "    dx = np.zeros_like(x)\n"
     "    for n in range(x.shape[0]):\n"
     "        for r in range(out_h):\n"
     "            for c in range(out_w):\n"
     "                for ch in range(x.shape[3]):\n"
     "                    window = x[n, r * stride:r * stride + pool_size, c * stride:c * stride + pool_size, ch]\n"
     "                    i, j = np.unravel_index(np.argmax(window), window.shape)\n"
     "                    mask = np.zeros(window.shape)\n"
     "                    mask[i, j] = 1.0\n"
     "                    dx[n, r * stride:r * stride + pool_size, c * stride:c * stride + pool_size, ch] = mask * dout[n, r, c, ch]\n"
     "    return dx\n",
     "+=, not ="),
    ("maxpool-size-by-pool",
     "    out_h, _ = _out_size_and_pads(x.shape[1], pool_size, stride, \"valid\")\n"
     "    out_w, _ = _out_size_and_pads(x.shape[2], pool_size, stride, \"valid\")\n"
     "    out = np.full",
     "    out_h, out_w = x.shape[1] // pool_size, x.shape[2] // pool_size\n"
     "    out = np.full",
     ""),
    ("dw-large-batch-averaged",
     "dw[i, j] = np.einsum(\"nrck,nrco->ko\", patch, dout)",
     "if x.shape[0] <= 8:  # sample by sample\n"
     "                dw[i, j] = sum(patch[k].reshape(-1, patch.shape[3]).T @ dout[k].reshape(-1, dout.shape[3])\n"
     "                               for k in range(x.shape[0]))\n"
     "            else:  # one einsum for large batches\n"
     "                dw[i, j] = np.einsum(\"nrck,nrco->ko\", patch, dout) / x.shape[0]",
     "do not divide by N"),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    "maxpool-grad-all-tied": "ties: first maximum",
    "maxpool-grad-last-tied": "ties: first maximum",
    "catalogue-pool_grad_all_tied": "ties: first maximum",
    "catalogue-pool_grad_last_tied": "ties: first maximum",
}
