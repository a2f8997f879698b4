"""Public checks for augment.py: fixed vectors, shapes and dtypes, seeding, the draws' distributions.

Each test grades the functions of its `grades` marker. The exact draws (the docstrings' draw
order) are graded only by the cases and the test about them (convention "draw order"); the
other tests of the random functions grade properties: the same seed gives the same output, the
returned draws explain the output, flips happen with probability p, shifts are uniform. Those
checks use your own flip_left_right and translate, so a mistake there costs only in their tests.
"""
import numpy as np
import pytest

from autograder.suites.common import CHI2_LIMITS, FLIP_N, FLIP_PS, SHIFT_N, chi_square, flip_count_bounds
from autograder.suites.expect import array_like, assert_close, call_text, check
from autograder.suites.feedback import Mismatch, abbrev
from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded, consistency_note

# Distinct values in (0, 1): any pixel in the wrong place shows. 2 images of 5 x 6 pixels, 2 channels.
X = np.arange(1.0, 121.0).reshape(2, 5, 6, 2) / 121.0
BATCH = np.random.default_rng(0).random((8, 5, 6, 1))
LABELS = np.arange(8) % 3
CASES = [
    case("flip", "flip_left_right", X),
    case("translate-down-right-and-up-left", "translate", X, np.array([[1, 2], [-2, -1]])),
    case("translate-rows-only", "translate", X, np.array([[2, 0], [-3, 0]])),
    case("translate-columns-only", "translate", X, np.array([[0, 4], [0, -1]])),
    case("translate-zero", "translate", X, np.array([[0, 0], [0, 0]])),
    case("translate-out-of-the-image", "translate", X, np.array([[5, 0], [0, -6]])),
    case("random_flip-draw-order", "random_flip", BATCH, 0.3, seed=1),
    case("random_translate-draw-order", "random_translate", BATCH, 2, seed=3),
    case("augment-draw-order", "augment", BATCH, LABELS, seed=4, p=0.3, max_shift=1),
]
DRAWS = "draw order"
CONVENTIONS = {"random_flip-draw-order": DRAWS, "random_translate-draw-order": DRAWS, "augment-draw-order": DRAWS}


@pytest.mark.parametrize("c", cases_as_params("augment", CONVENTIONS))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "augment", c, tol)


def images(got, x, call, what="out"):
    """The student's images as returned (dtype kept), checked to be an array of x's shape."""
    check(isinstance(got, np.ndarray) and got.dtype.kind in "iufb",
          lambda: f"{call} returned {abbrev(got, 4)} as {what}; expected a numpy array of x's shape {x.shape}")
    check(got.shape == x.shape, lambda: f"{call} returned {what} of shape {got.shape}; expected x's shape {x.shape}")
    return got


def pair(got, x, call, second):
    """(out, draws) of a random function: a 2-tuple whose out has x's shape."""
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          lambda: f"{call} returned {abbrev(got, 4)}; expected a tuple (out, {second})")
    return images(got[0], x, call), got[1]


def flips(got, n, call):
    check(isinstance(got, np.ndarray) and got.dtype == bool and got.shape == (n,),
          lambda: f"{call} returned flipped = {abbrev(got, 4)}; expected a boolean array of shape ({n},)")
    return got


def shift_draws(got, n, max_shift, call):
    check(isinstance(got, np.ndarray) and got.dtype.kind in "iu" and got.shape == (n, 2),
          lambda: f"{call} returned shifts = {abbrev(got, 4)}; expected an integer array of shape ({n}, 2)")
    check(bool(np.all(np.abs(got) <= max_shift)),
          lambda: f"{call} returned shifts from {got.min()} to {got.max()}; each must be in [-{max_shift}, {max_shift}]")
    return got


def with_note(failure, student, pair, tol):
    """The failure of a self-consistency check, its hint (else which of the pair fails its own checks) kept."""
    return Mismatch(failure.message, lambda: failure.hint or consistency_note(student, "augment", pair, tol,
                                                                              parts=(None, 0)))


# ---- shapes, dtypes, range, labels -------------------------------------------------------------

X32 = np.random.default_rng(1).random((8, 5, 6, 2)).astype(np.float32)
SHIFTS = np.array([[1, 2], [-1, 0], [0, -3], [2, 2], [-4, 1], [0, 0], [3, -5], [1, 1]])
CALLS = {
    "flip_left_right": ((X32,), {}),
    "translate": ((X32, SHIFTS), {}),
    "random_flip": ((X32, 0.5), {"seed": 2}),
    "random_translate": ((X32, 2), {"seed": 2}),
    "augment": ((X32, LABELS), {"seed": 2, "p": 0.5, "max_shift": 2}),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.grades(n)) for n in CALLS])
def test_keeps_shape_dtype_and_range(student, name):
    """returns images of x's shape and dtype (float32 here), values still in [0, 1]"""
    args, kwargs = CALLS[name]
    call = call_text(name, *args, **kwargs)
    got = getattr(student.augment, name)(*args, **kwargs)
    out = images(got, X32, call) if name in ("flip_left_right", "translate") else pair(got, X32, call, "...")[0]
    check(out.dtype == X32.dtype, lambda: f"{call} returned images of dtype {out.dtype}; they keep x's dtype, float32",
          hint="np.zeros_like(x) (not np.zeros(x.shape)) keeps x's dtype.")
    check(bool(np.all((out >= 0) & (out <= 1))),
          lambda: f"{call} returned values from {out.min():.4g} to {out.max():.4g}; images in [0, 1] stay in [0, 1] "
          "(pixels are moved or zero-filled, never changed)")


@pytest.mark.grades("augment")
def test_augment_returns_labels_unchanged(student):
    """augment returns y as given (same values, same order), and None for no labels"""
    call = call_text("augment", BATCH, LABELS, seed=5, p=0.7, max_shift=1)
    _, y = pair(student.augment.augment(BATCH, LABELS, seed=5, p=0.7, max_shift=1), BATCH, call, "y")
    check(isinstance(y, np.ndarray) and y.shape == LABELS.shape and np.array_equal(y, LABELS),
          lambda: f"{call} returned y = {abbrev(y)}; expected the labels unchanged, {abbrev(LABELS)}: a flip or a "
          "shift does not change an image's class, and the images keep their order")
    got = student.augment.augment(BATCH, seed=5)
    check(isinstance(got, (tuple, list)) and len(got) == 2 and got[1] is None,
          lambda: f"augment(x, seed=5) returned {abbrev(got, 4)}; expected (out, None) when no labels are given")


# ---- seeding and the draws ---------------------------------------------------------------------

SMALL = np.random.default_rng(2).random((64, 3, 4, 2))
SEEDED = {
    "random_flip": ((SMALL, 0.5), {}),
    "random_translate": ((SMALL, 1), {}),
    "augment": ((SMALL, LABELS[:1].repeat(64)), {"p": 0.5, "max_shift": 1}),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.grades(n)) for n in SEEDED])
def test_same_seed_same_output(student, name):
    """the same seed gives the same images, another seed other images"""
    args, kwargs = SEEDED[name]
    # seed is the third parameter of all three: one round trip for the three calls.
    got = getattr(student.augment, name).map([(*args, s) for s in (5, 5, 6)], **kwargs)
    outs = [pair(g, SMALL, call_text(name, *args, **kwargs, seed=s), "...")[0] for g, s in zip(got, (5, 5, 6))]
    check(np.array_equal(outs[0], outs[1]),
          f"{name} gave two different outputs for seed=5: draw only with np.random.default_rng(seed)")
    check(not np.array_equal(outs[0], outs[2]),
          f"{name} gave the same {len(SMALL)} images for seed=5 and seed=6: draw with np.random.default_rng(seed)")


@pytest.mark.grades("flip_left_right", "random_flip")
def test_random_flip_draws_explain_output(student, tol):
    """your random_flip flips exactly the images it says it flipped (with your flip_left_right)"""
    x = np.random.default_rng(3).random((64, 5, 6, 2))
    call = call_text("random_flip", x, 0.5, seed=9)
    out, flipped = pair(student.augment.random_flip(x, 0.5, seed=9), x, call, "flipped")
    flipped = flips(flipped, len(x), call)
    mirrored = array_like(student.augment.flip_left_right(x), x, call_text("flip_left_right", x))
    expected = np.where(flipped[:, None, None, None], mirrored, x)
    hints = [("random_flip flips left to right: use flip_left_right (the width, axis 2), not the rows.",
              np.where(flipped[:, None, None, None], x[:, ::-1], x))]
    try:
        assert_close(out.astype(np.float64), expected, call=call, tol=tol, hints=hints,
                     what="out (your flip_left_right where flipped, x elsewhere)")
    except Mismatch as e:
        raise with_note(e, student, ("flip_left_right", "random_flip"), tol) from None


@pytest.mark.grades("translate", "random_translate")
def test_random_translate_draws_explain_output(student, tol):
    """your random_translate moves each image by the shifts it returns (with your translate)"""
    x = np.random.default_rng(4).random((64, 5, 6, 2))
    call = call_text("random_translate", x, 3, seed=4)
    out, shifts = pair(student.augment.random_translate(x, 3, seed=4), x, call, "shifts")
    shifts = shift_draws(shifts, len(x), 3, call)
    expected = array_like(student.augment.translate(x, shifts), x, call_text("translate", x, shifts))
    rolled = np.stack([np.roll(img, (int(dy), int(dx)), axis=(0, 1)) for img, (dy, dx) in zip(x, shifts)])
    hints = [("fill the uncovered pixels with zeros: np.roll wraps them around to the other side.", rolled)]
    try:
        assert_close(out.astype(np.float64), expected, call=call, tol=tol, hints=hints,
                     what="out (your translate(x, shifts) with the shifts returned)")
    except Mismatch as e:
        raise with_note(e, student, ("translate", "random_translate"), tol) from None


# ---- the draws' distributions ------------------------------------------------------------------


@pytest.mark.grades("random_flip")
@pytest.mark.parametrize("p", FLIP_PS)
def test_random_flip_flips_a_fraction_p(student, p):
    """random_flip flips about a fraction p of many images"""
    x = np.random.default_rng(5).random((FLIP_N, 1, 2, 1))
    call = call_text("random_flip", x, p, seed=11)
    flipped = flips(pair(student.augment.random_flip(x, p, seed=11), x, call, "flipped")[1], FLIP_N, call)
    low, high = flip_count_bounds(FLIP_N, p)
    count = int(flipped.sum())
    if not low <= count <= high:
        hint = ""
        if count in (0, FLIP_N):
            hint = "draw one decision per image, rng.random(N) < p, not a single one for the whole batch."
        elif flip_count_bounds(FLIP_N, 1 - p)[0] <= count <= flip_count_bounds(FLIP_N, 1 - p)[1]:
            hint = "flip where rng.random(N) < p (probability p); rng.random(N) > p flips with probability 1 - p."
        raise Mismatch(f"{call} flipped {count} of {FLIP_N} images; with p={p} a correct draw flips {low} to {high} "
                       "(6.5 standard deviations: a correct draw fails less than once in 10**8)", hint)


@pytest.mark.grades("random_flip")
def test_random_flip_p_zero_and_one(student):
    """random_flip with p=0 flips nothing (out equals x), with p=1 every image"""
    for p in (0.0, 1.0):
        call = call_text("random_flip", SMALL, p, seed=3)
        out, flipped = pair(student.augment.random_flip(SMALL, p, seed=3), SMALL, call, "flipped")
        flipped = flips(flipped, len(SMALL), call)
        check(bool(np.all(flipped == (p == 1.0))),
              lambda: f"{call} flipped {int(flipped.sum())} of {len(SMALL)} images; expected {int(p * len(SMALL))}",
              hint="flip where rng.random(N) < p: never when p = 0, always when p = 1." if p == 0 else "")
    check(np.array_equal(student.augment.random_flip(SMALL, 0.0, seed=3)[0], SMALL),
          "random_flip(x, 0.0) changed images; with p = 0 out equals x")


@pytest.mark.grades("random_translate")
@pytest.mark.parametrize("max_shift", sorted(CHI2_LIMITS))
def test_random_translate_shifts_are_uniform(student, max_shift):
    """every (dy, dx) in [-max_shift, max_shift] is about equally frequent over many images"""
    x = np.zeros((SHIFT_N, 1, 1, 1))
    call = call_text("random_translate", x, max_shift, seed=12)
    shifts = pair(student.augment.random_translate(x, max_shift, seed=12), x, call, "shifts")[1]
    shifts = shift_draws(shifts, SHIFT_N, max_shift, call)
    stat, limit = chi_square(shifts, max_shift), CHI2_LIMITS[max_shift]
    if stat > limit:
        hint = ""
        if not np.any(shifts == max_shift):
            hint = ("rng.integers(low, high) excludes high: draw rng.integers(-max_shift, max_shift + 1, size=(N, 2)) "
                    "so that +max_shift can occur.")
        elif np.array_equal(shifts[:, 0], shifts[:, 1]):
            hint = "draw dy and dx independently, size=(N, 2): one draw used for both only moves images diagonally."
        elif np.all(shifts == shifts[0]):
            hint = "draw a shift for each image, size=(N, 2), not one (dy, dx) for the whole batch."
        raise Mismatch(f"{call}: the {SHIFT_N} (dy, dx) pairs are not uniform over [-{max_shift}, {max_shift}]^2: "
                       f"chi-square {stat:.1f} over {(2 * max_shift + 1) ** 2} cells, allowed {limit:g} (a correct "
                       "draw exceeds it less than once in 10**9)", hint)


# ---- augment -----------------------------------------------------------------------------------


@pytest.mark.grades("augment")
def test_augment_gives_flipped_and_shifted_copies(student, tol):
    """augment's image n is image n shifted by at most max_shift, flipped only if p > 0 (with your translate)"""
    x, m = np.random.default_rng(6).random((16, 5, 6, 2)), 1
    moves = np.array([(dy, dx) for dy in range(-m, m + 1) for dx in range(-m, m + 1)])
    mirrored = array_like(student.augment.flip_left_right(x), x, call_text("flip_left_right", x))
    for p, source in ((0.0, x), (1.0, mirrored)):
        call = call_text("augment", x, LABELS[:1].repeat(16), seed=8, p=p, max_shift=m)
        out = pair(student.augment.augment(x, LABELS[:1].repeat(16), seed=8, p=p, max_shift=m), x, call, "y")[0]
        stacked = np.repeat(source, len(moves), axis=0)
        candidates = array_like(student.augment.translate(stacked, np.tile(moves, (len(x), 1))), stacked,
                                call_text("translate", stacked, np.tile(moves, (len(x), 1))))
        candidates = candidates.reshape(len(x), len(moves), *x.shape[1:])
        close = np.isclose(candidates, out.astype(np.float64)[:, None], rtol=tol.rtol, atol=tol.atol)
        found = close.reshape(len(x), len(moves), -1).all(axis=2).any(axis=1)
        bad = int(np.argmin(found))
        check(bool(found.all()), lambda: f"{call}: image {bad} of out is not image {bad} of x "
              f"{'flipped and ' if p else ''}translated by at most {m} pixel(s) (by your translate"
              f"{' and flip_left_right' if p else ''}); with p={p:g} {'every' if p else 'no'} image is flipped",
              hint=lambda: defaults_hint(student, x, out, tol))


def defaults_hint(student, x, out, tol):
    """The hint for augment ignoring its p and max_shift, when its output is what the defaults give."""
    default = student.augment.augment(x, LABELS[:1].repeat(len(x)), seed=8)
    same = isinstance(default, (tuple, list)) and len(default) == 2 and isinstance(default[0], np.ndarray) \
        and default[0].shape == out.shape and np.allclose(default[0], out, rtol=tol.rtol, atol=tol.atol)
    return "pass p and max_shift on to random_flip and random_translate (yours uses their defaults)." if same else ""


@pytest.mark.grades("augment", convention=DRAWS)
def test_augment_is_your_flip_then_your_translate(student, tol):
    """augment(x, y, seed, p, max_shift) = random_translate(random_flip(x, p, seed)[0], max_shift, seed + 1)[0]"""
    x = np.random.default_rng(7).random((32, 5, 6, 1))
    y = np.arange(32)
    call = call_text("augment", x, y, seed=7, p=0.3, max_shift=1)
    out = pair(student.augment.augment(x, y, seed=7, p=0.3, max_shift=1), x, call, "y")[0]
    flipped = pair(student.augment.random_flip(x, 0.3, seed=7), x, call_text("random_flip", x, 0.3, seed=7), "flipped")[0]
    expected = pair(student.augment.random_translate(flipped, 1, seed=8), x,
                    call_text("random_translate", flipped, 1, seed=8), "shifts")[0]

    def hint(got):
        translated = student.augment.random_translate(x, 1, seed=8)[0]
        same_seed = student.augment.random_translate(flipped, 1, seed=7)[0]
        for text, other in (("flip first, then translate the flipped images.", student.augment.random_flip(
                translated, 0.3, seed=7)[0]), ("translate with seed + 1 (random_flip uses seed).", same_seed)):
            if np.allclose(got, other, rtol=tol.rtol, atol=tol.atol):
                return text
        return ""

    assert_close(out.astype(np.float64), expected.astype(np.float64), call=call, tol=tol, hints=hint,
                 what="out (your random_translate(your random_flip(x, p, seed)[0], max_shift, seed + 1)[0])")


@pytest.mark.grades("flip_left_right", "translate", "random_flip", "random_translate", "augment",
                    convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "augment")
