"""Classic mistakes in conv.py (NHWC images x (N, H, W, C), kernels w (KH, KW, C_in, C_out))."""
import numpy as np

from autograder.mistakes import mistake
from dlref import conv as ref

_SAME_SIDES = (
    "TensorFlow's 'same' padding puts the extra row/column at the bottom/right: "
    "pad_before = total // 2, pad_after = total - pad_before; you put it at the top/left."
)
_FLIPPED = (
    "conv2d is cross-correlation, as tf.nn.conv2d: do not flip the kernel (no w[::-1, ::-1]); "
    "output pixel (r, c) multiplies xpad[r*stride + i, c*stride + j] by w[i, j]."
)
_VALID_SIZE = "the 'valid' output size is (H - K) // stride + 1: you are one row/column short."
_POOL_VALID = (
    "max pooling here uses 'valid' padding: H' = (H - pool_size) // stride + 1; leftover rows/columns "
    "at the bottom/right are dropped, never padded."
)


def _geometry(x, w, stride, padding):
    """((H', W'), ((top, bottom), (left, right))) by TensorFlow's rule (dlref's)."""
    return ref.conv_geometry(np.shape(x), np.shape(w), stride, padding)


def _pad(x, pads, value=0.0):
    (pt, pb), (pl, pr) = pads
    return np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def _swapped(pads):
    (pt, pb), (pl, pr) = pads
    return (pb, pt), (pr, pl)


# Order matters: the first mistake whose output matches gives the hint, so the narrower ones
# (only for padding="same", only for stride > 1) come before the general ones.


def _needs(cond):
    # A mistake that cannot show on this input raises: hints_for then skips it.
    if not cond:
        raise ValueError("mistake does not apply")


# ---------------------------------------------------------------- conv2d_forward


@mistake("conv", "conv2d_forward", _SAME_SIDES)
def forward_same_extra_top_left(x, w, b, stride=1, padding="valid"):
    _needs(padding == "same")
    _, pads = _geometry(x, w, stride, padding)
    return ref.conv2d_forward(_pad(x, _swapped(pads)), w, b, stride, "valid")


_SYMMETRIC = (
    "TensorFlow's 'same' padding is not k // 2 on each side: total = max((H' - 1) * stride + KH - H, 0), "
    "split as total // 2 before and the rest after (bottom/right)."
)


@mistake("conv", "conv2d_forward",
         "padding='same' zero-pads x so that H' = ceil(H / stride) (TensorFlow's rule); "
         "you computed a 'valid' convolution instead.")
def forward_padding_ignored(x, w, b, stride=1, padding="valid"):
    _needs(padding == "same")
    return ref.conv2d_forward(x, w, b, stride, "valid")


@mistake("conv", "conv2d_forward", _SYMMETRIC)
def forward_same_symmetric(x, w, b, stride=1, padding="valid"):
    _needs(padding == "same")
    (Ho, Wo), _ = _geometry(x, w, stride, padding)
    KH, KW = np.shape(w)[:2]
    xp = _pad(x, ((KH // 2, KH // 2), (KW // 2, KW // 2)))
    return ref.conv2d_forward(xp, w, b, stride, "valid")[:, :Ho, :Wo]


@mistake("conv", "conv2d_forward", "use the `stride` argument: consecutive output pixels are `stride` pixels apart.")
def forward_stride_ignored(x, w, b, stride=1, padding="valid"):
    _needs(stride != 1)
    return ref.conv2d_forward(x, w, b, 1, padding)


@mistake("conv", "conv2d_forward",
         "the windows must move by `stride` pixels: output pixel (r, c) reads xpad[r*stride + i, c*stride + j], "
         "not xpad[r + i, c + j].")
def forward_windows_not_strided(x, w, b, stride=1, padding="valid"):
    _needs(stride != 1)
    (Ho, Wo), pads = _geometry(x, w, stride, padding)
    return ref.conv2d_forward(_pad(x, pads), w, b, 1, "valid")[:, :Ho, :Wo]


@mistake("conv", "conv2d_forward", _FLIPPED)
def forward_kernel_flipped(x, w, b, stride=1, padding="valid"):
    return ref.conv2d_forward(x, np.asarray(w)[::-1, ::-1], b, stride, padding)


@mistake("conv", "conv2d_forward", _VALID_SIZE)
def forward_valid_size_one_short(x, w, b, stride=1, padding="valid"):
    _needs(padding == "valid")
    return ref.conv2d_forward(x, w, b, stride, padding)[:, :-1, :-1]


@mistake("conv", "conv2d_forward", "add the bias: out[..., o] gets + b[o] at every output pixel.")
def forward_bias_missing(x, w, b, stride=1, padding="valid"):
    return ref.conv2d_forward(x, w, np.zeros_like(np.asarray(b, dtype=np.float64)), stride, padding)


@mistake("conv", "conv2d_forward",
         "add the bias once per output pixel, after summing over the kernel offsets "
         "(you added it KH * KW times, once per offset).")
def forward_bias_per_offset(x, w, b, stride=1, padding="valid"):
    KH, KW = np.shape(w)[:2]
    _needs(KH * KW > 1)
    return ref.conv2d_forward(x, w, b, stride, padding) + (KH * KW - 1) * np.asarray(b, dtype=np.float64)


# ---------------------------------------------------------------- conv2d_backward


def _scatter_dx(dout, w, x_shape, stride, pads, assign=False):
    """dx by the offset loop, dxpad[window(p, q)] += dout @ w[p, q].T, cropped; `stride`/`assign` make the mistakes."""
    dout, w = np.asarray(dout, dtype=np.float64), np.asarray(w, dtype=np.float64)
    N, H, W, C_in = x_shape
    KH, KW = w.shape[:2]
    Ho, Wo = dout.shape[1:3]
    (pt, pb), (pl, pr) = pads
    dxp = np.zeros((N, H + pt + pb, W + pl + pr, C_in))
    for p in range(KH):
        for q in range(KW):
            block = dout @ w[p, q].T
            view = dxp[:, p : p + stride * (Ho - 1) + 1 : stride, q : q + stride * (Wo - 1) + 1 : stride]
            if assign:
                view[...] = block
            else:
                view += block
    return dxp[:, pt : pt + H, pl : pl + W]


@mistake("conv", "conv2d_backward",
         "db is the sum of dout over the batch and every output position (axes 0, 1, 2), not the mean.")
def backward_db_averaged(dout, x, w, stride=1, padding="valid"):
    dx, dw, db = ref.conv2d_backward(dout, x, w, stride, padding)
    return dx, dw, db / (np.size(dout) // np.shape(dout)[3])


@mistake("conv", "conv2d_backward",
         "dw must sum the contributions of every sample in the batch; you kept only the first sample's.")
def backward_dw_first_sample(dout, x, w, stride=1, padding="valid"):
    dx, _, db = ref.conv2d_backward(dout, x, w, stride, padding)
    _needs(np.shape(x)[0] > 1)
    return dx, ref.conv2d_backward(np.asarray(dout)[:1], np.asarray(x)[:1], w, stride, padding)[1], db


@mistake("conv", "conv2d_backward",
         "dw must sum the contributions of every sample in the batch; you kept only the last sample's "
         "(use dw += ..., not dw = ..., in the loop over samples).")
def backward_dw_last_sample(dout, x, w, stride=1, padding="valid"):
    dx, _, db = ref.conv2d_backward(dout, x, w, stride, padding)
    _needs(np.shape(x)[0] > 1)
    return dx, ref.conv2d_backward(np.asarray(dout)[-1:], np.asarray(x)[-1:], w, stride, padding)[1], db


@mistake("conv", "conv2d_backward",
         "dw is a sum over the batch, not a mean: do not divide by N (any averaging of the loss is already in dout).")
def backward_dw_averaged(dout, x, w, stride=1, padding="valid"):
    dx, dw, db = ref.conv2d_backward(dout, x, w, stride, padding)
    _needs(np.shape(x)[0] > 1)
    return dx, dw / np.shape(x)[0], db


@mistake("conv", "conv2d_backward",
         "dx must accumulate: an input pixel read by several overlapping windows receives the sum of their "
         "gradients (+=, not =).")
def backward_dx_not_accumulated(dout, x, w, stride=1, padding="valid"):
    dx, dw, db = ref.conv2d_backward(dout, x, w, stride, padding)
    _, pads = _geometry(x, w, stride, padding)
    return _scatter_dx(dout, w, np.shape(x), int(stride), pads, assign=True), dw, db


@mistake("conv", "conv2d_backward", _SAME_SIDES + " (The backward pass must use the forward's padding.)")
def backward_same_extra_top_left(dout, x, w, stride=1, padding="valid"):
    _needs(padding == "same")
    _, pads = _geometry(x, w, stride, padding)
    (pt, pb), (pl, pr) = sw = _swapped(pads)
    dxp, dw, db = ref.conv2d_backward(dout, _pad(x, sw), w, stride, "valid")
    H, W = np.shape(x)[1:3]
    return dxp[:, pt : pt + H, pl : pl + W], dw, db


@mistake("conv", "conv2d_backward", _SYMMETRIC)
def backward_same_symmetric(dout, x, w, stride=1, padding="valid"):
    _needs(padding == "same")
    KH, KW = np.shape(w)[:2]
    xp = _pad(x, ((KH // 2, KH // 2), (KW // 2, KW // 2)))
    dout = np.asarray(dout, dtype=np.float64)
    # Output pixels beyond the contract's H' x W' get no gradient: zero-pad dout to the valid size on xp.
    Hv, Wv = (xp.shape[1] - KH) // stride + 1, (xp.shape[2] - KW) // stride + 1
    _needs(Hv >= dout.shape[1] and Wv >= dout.shape[2])
    dout = np.pad(dout, ((0, 0), (0, Hv - dout.shape[1]), (0, Wv - dout.shape[2]), (0, 0)))
    dxp, dw, db = ref.conv2d_backward(dout, xp, w, stride, "valid")
    H, W = np.shape(x)[1:3]
    return dxp[:, KH // 2 : KH // 2 + H, KW // 2 : KW // 2 + W], dw, db


@mistake("conv", "conv2d_backward", "crop the padding off dx: it must have the shape of x, not of the padded input.")
def backward_dx_not_cropped(dout, x, w, stride=1, padding="valid"):
    _needs(padding == "same")
    _, pads = _geometry(x, w, stride, padding)
    return ref.conv2d_backward(dout, _pad(x, pads), w, stride, "valid")


@mistake("conv", "conv2d_backward",
         "in dx, each dout pixel goes back to the window it came from, which starts at (r*stride, c*stride), "
         "not at (r, c).")
def backward_dx_not_strided(dout, x, w, stride=1, padding="valid"):
    _needs(stride != 1)
    dx, dw, db = ref.conv2d_backward(dout, x, w, stride, padding)
    _, pads = _geometry(x, w, stride, padding)
    return _scatter_dx(dout, w, np.shape(x), 1, pads), dw, db


_FLIPPED_BACK = (
    "do not flip the kernel in the backward pass: dx sends dout back through w[i, j] to the pixel it read at "
    "offset (i, j), and dw[i, j] collects xpad at that same offset."
)


@mistake("conv", "conv2d_backward", _FLIPPED_BACK)
def backward_dx_kernel_flipped(dout, x, w, stride=1, padding="valid"):
    # Only dx wrong (dw right): public vectors compare the whole (dx, dw, db) tuple.
    _, dw, db = ref.conv2d_backward(dout, x, w, stride, padding)
    return ref.conv2d_backward(dout, x, np.asarray(w)[::-1, ::-1], stride, padding)[0], dw, db


@mistake("conv", "conv2d_backward", _FLIPPED_BACK)
def backward_kernel_flipped(dout, x, w, stride=1, padding="valid"):
    w_flipped = np.asarray(w)[::-1, ::-1]
    dx, dw, db = ref.conv2d_backward(dout, x, w_flipped, stride, padding)
    return dx, dw[::-1, ::-1], db


# ---------------------------------------------------------------- maxpool_forward


def _pool_pads(x, pool_size, stride):
    """TensorFlow 'same' pads of a pool_size window (what a padded max pool would use)."""
    C = np.shape(x)[3]
    return ref.conv_geometry(np.shape(x), (pool_size, pool_size, C, 1), stride, "same")[1]


@mistake("conv", "maxpool_forward", _POOL_VALID)
def pool_padded_minus_inf(x, pool_size=2, stride=2):
    return ref.maxpool_forward(_pad(x, _pool_pads(x, pool_size, stride), -np.inf), pool_size, stride)


@mistake("conv", "maxpool_forward", _POOL_VALID)
def pool_padded_zeros(x, pool_size=2, stride=2):
    return ref.maxpool_forward(_pad(x, _pool_pads(x, pool_size, stride)), pool_size, stride)


@mistake("conv", "maxpool_forward",
         "use the `stride` argument: it need not equal pool_size (windows overlap when stride < pool_size).")
def pool_stride_is_pool_size(x, pool_size=2, stride=2):
    _needs(stride != pool_size)
    return ref.maxpool_forward(x, pool_size, pool_size)


@mistake("conv", "maxpool_forward", _VALID_SIZE)
def pool_size_one_short(x, pool_size=2, stride=2):
    return ref.maxpool_forward(x, pool_size, stride)[:, :-1, :-1]


@mistake("conv", "maxpool_forward",
         "the pooled size is H' = (H - pool_size) // stride + 1 (W' likewise); H // pool_size is that size "
         "only when stride == pool_size.")
def pool_sized_by_pool(x, pool_size=2, stride=2):
    x = np.asarray(x, dtype=np.float64)
    ho, wo = x.shape[1] // pool_size, x.shape[2] // pool_size
    _needs(ho >= 1 and wo >= 1)
    out = np.full((x.shape[0], ho, wo, x.shape[3]), -np.inf)
    for p in range(pool_size):
        for q in range(pool_size):
            win = x[:, p:p + stride * (ho - 1) + 1:stride, q:q + stride * (wo - 1) + 1:stride]
            _needs(win.shape[1:3] == (ho, wo))
            out = np.maximum(out, win)
    return out


# ---------------------------------------------------------------- maxpool_backward


def _pool_windows(x, pool_size, stride):
    """(offset slice, window view (N, H', W', C)) for each offset (p, q) in row-major order."""
    x = np.asarray(x, dtype=np.float64)
    Ho, Wo = ref.maxpool_forward(x, pool_size, stride).shape[1:3]
    k, s = int(pool_size), int(stride)
    for p in range(k):
        for q in range(k):
            sl = (slice(None), slice(p, p + s * (Ho - 1) + 1, s), slice(q, q + s * (Wo - 1) + 1, s))
            yield sl, x[sl]


@mistake("conv", "maxpool_backward",
         "on ties, only the first maximum of the window (row-major order) gets the gradient; "
         "you gave it to every tied maximum.")
def pool_grad_all_tied(dout, x, pool_size=2, stride=2):
    out = ref.maxpool_forward(x, pool_size, stride)
    dx = np.zeros(np.shape(x))
    for sl, v in _pool_windows(x, pool_size, stride):
        dx[sl] += np.where(v == out, dout, 0.0)
    return dx


@mistake("conv", "maxpool_backward",
         "on ties, the gradient goes to the FIRST maximum of the window in row-major order; you chose the last "
         "(compare with > , not >=, while scanning).")
def pool_grad_last_tied(dout, x, pool_size=2, stride=2):
    windows = list(_pool_windows(x, pool_size, stride))
    best = np.full(windows[0][1].shape, -np.inf)
    arg = np.zeros(best.shape, dtype=int)
    for i, (_, v) in enumerate(windows):
        better = v >= best
        best = np.where(better, v, best)
        arg = np.where(better, i, arg)
    dx = np.zeros(np.shape(x))
    for i, (sl, _) in enumerate(windows):
        dx[sl] += np.where(arg == i, dout, 0.0)
    return dx


@mistake("conv", "maxpool_backward",
         "max pooling's gradient goes only to the window's maximum, not spread over the whole window "
         "(that is average pooling's gradient).")
def pool_grad_averaged(dout, x, pool_size=2, stride=2):
    dx = np.zeros(np.shape(x))
    for sl, _ in _pool_windows(x, pool_size, stride):
        dx[sl] += np.asarray(dout, dtype=np.float64) / pool_size**2
    return dx


@mistake("conv", "maxpool_backward",
         "multiply by dout: the maximum receives the upstream gradient dout, not 1.")
def pool_grad_mask_only(dout, x, pool_size=2, stride=2):
    return ref.maxpool_backward(np.ones(np.shape(dout)), x, pool_size, stride)


_POOL_ACCUMULATE = ("with overlapping windows (stride < pool_size), an input that is the maximum of several "
                    "windows receives the sum of their gradients (+=, not =).")


@mistake("conv", "maxpool_backward", _POOL_ACCUMULATE)
def pool_grad_not_accumulated(dout, x, pool_size=2, stride=2):
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    _needs(stride < pool_size)
    k, s = int(pool_size), int(stride)
    N, Ho, Wo, C = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                for col in range(Wo):
                    win = x[n, r * s : r * s + k, col * s : col * s + k, c]
                    i, j = np.unravel_index(int(np.argmax(win)), win.shape)  # argmax: first maximum
                    dx[n, r * s + i, col * s + j, c] = dout[n, r, col, c]
    return dx


@mistake("conv", "maxpool_backward", _POOL_ACCUMULATE)
def pool_grad_not_accumulated_first_wins(dout, x, pool_size=2, stride=2):
    # dx[maxima] = dout offset by offset (dx[hit] = dout[hit]): where windows share a maximum, the
    # first window in row-major order is written last, so its gradient is the one kept.
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    _needs(stride < pool_size)
    k, s = int(pool_size), int(stride)
    N, Ho, Wo, C = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for r in reversed(range(Ho)):
                for col in reversed(range(Wo)):
                    win = x[n, r * s:r * s + k, col * s:col * s + k, c]
                    i, j = np.unravel_index(int(np.argmax(win)), win.shape)
                    dx[n, r * s + i, col * s + j, c] = dout[n, r, col, c]
    return dx


@mistake("conv", "maxpool_backward", _POOL_ACCUMULATE)
def pool_grad_window_assigned(dout, x, pool_size=2, stride=2):
    # dx[window] = mask * dout for each window in turn: a later window's zeros overwrite earlier gradients.
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    _needs(stride < pool_size)
    k, s = int(pool_size), int(stride)
    N, Ho, Wo, C = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for r in range(Ho):
            for col in range(Wo):
                for c in range(C):
                    win = x[n, r * s:r * s + k, col * s:col * s + k, c]
                    mask = np.zeros(win.shape)
                    mask[np.unravel_index(int(np.argmax(win)), win.shape)] = 1.0
                    dx[n, r * s:r * s + k, col * s:col * s + k, c] = mask * dout[n, r, col, c]
    return dx
