"""Classic mistakes in augment.py.

Modifying x in place is not here: its output is right, and the worker already fails every call
that changes an argument, naming it ("modified its argument(s) x in place").
"""
import numpy as np

from autograder.mistakes import mistake
from dlref import augment as ref

UP_DOWN = "flip_left_right mirrors the width axis (axis 2 of NHWC): x[:, :, ::-1]; axis 1 flips the images upside down."
CHANNELS = "NHWC: the width is axis 2; axis 3 (the last) holds the channels, which a flip must leave in place."
ALL_AXES = "np.flip(x) without an axis reverses every axis (images, rows, channels); flip only the width, axis=2."
ROLL = ("np.roll wraps the pixels that leave one side around to the other; translate fills the uncovered "
        "pixels with zeros instead (np.zeros_like(x), then copy the overlapping rectangle).")
SWAPPED = "shifts[n] is (dy, dx): dy moves the rows (axis 1), dx the columns (axis 2); yours are swapped."
SIGN = ("out[n, i, j] = x[n, i - dy, j - dx]: a positive dy moves the content down, a positive dx to the right; "
        "your shifts go the other way.")
NCHW = "images are NHWC: dy shifts axis 1 (the rows) and dx axis 2 (the columns), not axes 2 and 3 (NCHW's)."
ONE_P = "flip where rng.random(N) < p (probability p); rng.random(N) > p flips with probability 1 - p."
ONE_DRAW = "draw one decision per image, rng.random(N) < p, not a single one for the whole batch."
BOTH_ENDS = ("rng.integers(low, high) excludes high: draw rng.integers(-max_shift, max_shift + 1, size=(N, 2)) so that "
             "+max_shift can occur.")
SAME_DY_DX = "draw dy and dx independently, size=(N, 2): one draw used for both only moves images diagonally."
ONE_SHIFT = "draw a shift for each image, size=(N, 2), not one (dy, dx) for the whole batch."
LEGACY = ("draw with np.random.default_rng(seed).random(N); the legacy np.random.seed / np.random.rand give other "
          "numbers for the same seed.")
SEPARATE = "draw the shifts in one call, rng.integers(-max_shift, max_shift + 1, size=(N, 2)): dy, dx of image 0 first."
ORDER = "augment flips first, then translates the flipped images: random_translate(random_flip(x, p, seed)[0], ...)."
SAME_SEED = "augment translates with seed + 1 (random_flip uses seed): the same seed twice reuses the same numbers."
ONE_RNG = ("augment calls random_flip(x, p, seed), then random_translate(..., max_shift, seed + 1): each makes its own "
           "generator, rather than one generator shared by both.")
DEFAULTS = "pass p and max_shift on to random_flip and random_translate (yours uses their defaults)."


def _translate_axes(x, shifts, axes, fill=True):
    """Each image shifted by its (dy, dx) along `axes` of the image (1, 2 is right), zero-filled or rolled."""
    out = np.empty_like(x) if not fill else np.zeros_like(x)
    for n, (dy, dx) in enumerate(np.asarray(shifts)):
        if fill:
            out[n] = _shift_image(x[n], {axes[0] - 1: int(dy), axes[1] - 1: int(dx)})
        else:
            out[n] = np.roll(x[n], (int(dy), int(dx)), axis=(axes[0] - 1, axes[1] - 1))
    return out


def _shift_image(image, moves):
    """image (H, W, C) shifted by `moves` {axis: amount}, zero fill."""
    out = image
    for axis, amount in moves.items():
        moved = np.zeros_like(out)
        size = out.shape[axis]
        if abs(amount) < size:
            src = [slice(None)] * 3
            dst = [slice(None)] * 3
            src[axis] = slice(max(-amount, 0), size + min(-amount, 0))
            dst[axis] = slice(max(amount, 0), size + min(amount, 0))
            moved[tuple(dst)] = out[tuple(src)]
        out = moved
    return out


# ---- flip_left_right -------------------------------------------------------------------------


@mistake("augment", "flip_left_right", UP_DOWN)
def flip_up_down(x):
    return np.asarray(x)[:, ::-1].copy()


@mistake("augment", "flip_left_right", CHANNELS)
def flip_channels(x):
    return np.asarray(x)[..., ::-1].copy()


@mistake("augment", "flip_left_right", ALL_AXES)
def flip_all_axes(x):
    return np.flip(np.asarray(x)).copy()


# ---- translate -------------------------------------------------------------------------------


@mistake("augment", "translate", ROLL)
def translate_rolls(x, shifts):
    return _translate_axes(np.asarray(x), shifts, (1, 2), fill=False)


@mistake("augment", "translate", SWAPPED)
def translate_swapped(x, shifts):
    return ref.translate(x, np.asarray(shifts)[:, ::-1])


@mistake("augment", "translate", SIGN)
def translate_sign_reversed(x, shifts):
    return ref.translate(x, -np.asarray(shifts))


@mistake("augment", "translate", NCHW)
def translate_nchw_axes(x, shifts):
    return _translate_axes(np.asarray(x), shifts, (2, 3))


# ---- random_flip -----------------------------------------------------------------------------


def _flip_where(x, flipped):
    return np.where(np.asarray(flipped)[:, None, None, None], ref.flip_left_right(x), x), flipped


@mistake("augment", "random_flip", ONE_P)
def random_flip_one_minus_p(x, p=0.5, seed=0):
    return _flip_where(x, np.random.default_rng(seed).random(len(x)) > p)


@mistake("augment", "random_flip", ONE_DRAW)
def random_flip_one_draw(x, p=0.5, seed=0):
    return _flip_where(x, np.full(len(x), np.random.default_rng(seed).random() < p))


@mistake("augment", "random_flip", UP_DOWN)
def random_flip_up_down(x, p=0.5, seed=0):
    flipped = ref.flip_draws(len(x), p, seed)
    return np.where(flipped[:, None, None, None], np.asarray(x)[:, ::-1], x), flipped


@mistake("augment", "random_flip", LEGACY)
def random_flip_legacy_rng(x, p=0.5, seed=0):
    return _flip_where(x, np.random.RandomState(seed).random_sample(len(x)) < p)


# ---- random_translate ------------------------------------------------------------------------


@mistake("augment", "random_translate", BOTH_ENDS)
def random_translate_excludes_max(x, max_shift, seed=0):
    shifts = np.random.default_rng(seed).integers(-max_shift, max_shift, size=(len(x), 2))
    return ref.translate(x, shifts), shifts


@mistake("augment", "random_translate", SAME_DY_DX)
def random_translate_dy_is_dx(x, max_shift, seed=0):
    s = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=len(x))
    shifts = np.stack([s, s], axis=1)
    return ref.translate(x, shifts), shifts


@mistake("augment", "random_translate", ONE_SHIFT)
def random_translate_one_shift(x, max_shift, seed=0):
    shifts = np.tile(np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=2), (len(x), 1))
    return ref.translate(x, shifts), shifts


@mistake("augment", "random_translate", ROLL)
def random_translate_rolls(x, max_shift, seed=0):
    shifts = ref.shift_draws(len(x), max_shift, seed)
    return translate_rolls(x, shifts), shifts


@mistake("augment", "random_translate", SEPARATE)
def random_translate_separate_draws(x, max_shift, seed=0):
    rng = np.random.default_rng(seed)
    shifts = np.stack([rng.integers(-max_shift, max_shift + 1, size=len(x)),
                       rng.integers(-max_shift, max_shift + 1, size=len(x))], axis=1)
    return ref.translate(x, shifts), shifts


# ---- augment ---------------------------------------------------------------------------------


@mistake("augment", "augment", ORDER)
def augment_translates_first(x, y=None, seed=0, p=0.5, max_shift=2):
    moved, _ = ref.random_translate(x, max_shift, seed + 1)
    return ref.random_flip(moved, p, seed)[0], y


@mistake("augment", "augment", SAME_SEED)
def augment_same_seed(x, y=None, seed=0, p=0.5, max_shift=2):
    return ref.random_translate(ref.random_flip(x, p, seed)[0], max_shift, seed)[0], y


@mistake("augment", "augment", ONE_RNG)
def augment_one_rng(x, y=None, seed=0, p=0.5, max_shift=2):
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(x)) < p
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))
    return ref.translate(_flip_where(x, flipped)[0], shifts), y


@mistake("augment", "augment", DEFAULTS)
def augment_ignores_p_and_max_shift(x, y=None, seed=0, p=0.5, max_shift=2):
    return ref.augment(x, y, seed)
