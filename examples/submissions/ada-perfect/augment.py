"""Data augmentation: horizontal flips and translations of image batches.

Slides: "Regularization: data augmentation".

Images are NHWC, x: (N, H, W, C) with values in [0, 1]. Every function returns a new
array of x's shape and dtype and never modifies x. Randomness comes only from
np.random.default_rng(seed), drawn exactly in the order each docstring states, so that
the same seed gives the same images for everyone (and the grader can check yours).

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 images; a convention (the "Graded:" lines below) costs points only in
the tests about it. Functions must not print (one test checks it and shows what was
printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy and needs no other exercise.
import numpy as np


def flip_left_right(x):
    """Mirror each image left to right: out[n, i, j, c] = x[n, i, W - 1 - j, c].

    x: (N, H, W, C); returns a new array of x's shape and dtype (as np.flip(x, axis=2)
    or tf.image.flip_left_right).

    Hint: NHWC's width axis is axis 2; axis 1 (the rows) would flip upside down.
    """
    ### BEGIN SOLUTION
    return x[:, :, ::-1, :].copy()
    ### END SOLUTION


def translate(x, shifts):
    """Shift image n by shifts[n] = (dy, dx) pixels, filling with zeros (no wrap-around).

    x: (N, H, W, C); shifts: (N, 2) integers. out[n, i, j, c] = x[n, i - dy, j - dx, c]
    where that pixel exists, else 0: dy > 0 moves the content down, dx > 0 to the right
    (as scipy.ndimage.shift(x[n], (dy, dx, 0), order=0, cval=0)). A shift of H rows or
    W columns or more leaves an all-zero image. Returns a new array of x's shape and dtype.
    shifts of another shape, or not integers, raise ValueError.

    Hint: start from np.zeros_like(x) and copy the overlapping rectangle with slices;
    np.roll would wrap the pixels that leave one side around to the other.
    """
    ### BEGIN SOLUTION
    shifts = np.asarray(shifts)
    if shifts.shape != (x.shape[0], 2) or shifts.dtype.kind not in "iu":
        raise ValueError(f"shifts must be integers of shape ({x.shape[0]}, 2), got {shifts.dtype} {shifts.shape}")
    height, width = x.shape[1], x.shape[2]
    out = np.zeros_like(x)
    for n, (dy, dx) in enumerate(shifts):
        dy, dx = int(dy), int(dx)
        if abs(dy) >= height or abs(dx) >= width:
            continue
        out[n, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            x[n, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out
    ### END SOLUTION


def random_flip(x, p=0.5, seed=0):
    """Flip each image left to right with probability p; returns (out, flipped).

    x: (N, H, W, C), p in [0, 1]. Draw: flipped = np.random.default_rng(seed).random(N) < p,
    a boolean array (N,); out[n] is flip_left_right of image n where flipped[n], else image n
    unchanged (out: a new array of x's shape and dtype). p outside [0, 1] raises ValueError.

    Graded: the draw above exactly only in the tests about the draw order (elsewhere: the
    fraction flipped is about p, and `flipped` says which images out flipped).

    Hint: a uniform draw u in [0, 1) satisfies u < p with probability p; np.where with
    flipped[:, None, None, None] picks whole images.
    """
    ### BEGIN SOLUTION
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    flipped = np.random.default_rng(seed).random(x.shape[0]) < p
    return np.where(flipped[:, None, None, None], flip_left_right(x), x), flipped
    ### END SOLUTION


def random_translate(x, max_shift, seed=0):
    """Translate each image by a random (dy, dx), each uniform in [-max_shift, max_shift]; returns (out, shifts).

    x: (N, H, W, C); max_shift: a non-negative int. Draw:
    shifts = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=(N, 2)),
    integers (N, 2) (column 0 is dy, column 1 is dx; both ends included); out = translate(x, shifts).
    A negative max_shift raises ValueError.

    Graded: the draw above exactly only in the tests about the draw order (elsewhere: every
    (dy, dx) in range equally likely, and `shifts` says how out was translated).

    Hint: rng.integers excludes its upper bound: integers(-m, m) never gives +m.
    """
    ### BEGIN SOLUTION
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    shifts = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=(x.shape[0], 2))
    return translate(x, shifts), shifts
    ### END SOLUTION


def augment(x, y=None, seed=0, p=0.5, max_shift=2):
    """Random flip, then random translation, of each image; labels unchanged. Returns (out, y).

    x: (N, H, W, C); y: labels (N,) or None, returned as given (flips and shifts keep an
    image's class, and images are neither reordered nor dropped).
    out = random_translate(random_flip(x, p, seed)[0], max_shift, seed + 1)[0]:
    flip first with `seed`, then translate the flipped images with `seed + 1`.

    Graded: that order and those seeds only in the tests about the draw order (elsewhere:
    each output image is image n, maybe flipped, shifted by at most max_shift).

    Hint: two lines with your random_flip and random_translate.
    """
    ### BEGIN SOLUTION
    flipped, _ = random_flip(x, p, seed)
    out, _ = random_translate(flipped, max_shift, seed + 1)
    return out, y
    ### END SOLUTION
