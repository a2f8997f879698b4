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
]
