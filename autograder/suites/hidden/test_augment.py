"""Hidden tests for augment.py: agreement with dlref on random batches and seeds, the draws' properties.

Each test grades the function of its `grades` marker. The exact draws are graded only by the
tests about the draw order (`convention="draw order"`); the others check what any correct draw
satisfies, using dlref's flip and translate, never the student's.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.suites.common import CHI2_LIMITS, FLIP_N, SHIFT_N, chi_square, flip_count_bounds
from autograder.suites.differential import agree, hint
from autograder.suites.expect import assert_close, call_text, check
from autograder.suites.feedback import Mismatch, abbrev
from autograder.suites.strategies import BATCH_SIZES
from dlref import augment as ref

DRAWS = "draw order"
SEEDS = st.integers(0, 2**32 - 2)  # augment uses seed + 1 too
PS = st.sampled_from([0.0, 0.2, 0.3, 0.7, 0.9, 1.0])  # 0.5 would hide p and 1 - p swapped
MAX_SHIFTS = st.integers(0, 4)


@st.composite
def images(draw, max_side=6, max_c=3):
    """A batch (N, H, W, C), N in BATCH_SIZES (1 to 64), sides 1..6, values in [0, 1] from a drawn seed."""
    n = draw(st.sampled_from(BATCH_SIZES), label="N")
    h, w, c = draw(st.integers(1, max_side)), draw(st.integers(1, max_side)), draw(st.integers(1, max_c))
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((n, h, w, c))


@st.composite
def images_and_shifts(draw):
    """(x, shifts): shifts (N, 2) from -(side + 1) to side + 1, so that off-the-image shifts occur."""
    x = draw(images())
    _, h, w, _ = x.shape
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shifts = np.stack([rng.integers(-h - 1, h + 2, len(x)), rng.integers(-w - 1, w + 2, len(x))], axis=1)
    return x, shifts


def result(got, x, call, second):
    """A student's (out, draws), out as float64 of x's shape."""
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          lambda: f"{call} returned {abbrev(got, 4)}; expected a tuple (out, {second})")
    out = got[0]
    check(isinstance(out, np.ndarray) and out.dtype.kind in "iuf" and out.shape == x.shape,
          lambda: f"{call} returned out = {abbrev(out, 4)}; expected an array of x's shape {x.shape}")
    return out.astype(np.float64), got[1]


# ---- deterministic pieces ----------------------------------------------------------------------


@pytest.mark.grades("flip_left_right")
@pytest.mark.weight(2)
@given(x=images())
def test_flip_left_right(student, tol, x):
    """flip_left_right matches the reference (batches of 1 to 64 included)"""
    agree(student.augment.flip_left_right, ref.flip_left_right, x, tol=tol)


@pytest.mark.grades("translate")
@pytest.mark.weight(3)
@given(case=images_and_shifts())
def test_translate(student, tol, case):
    """translate matches the reference, shifts off the image included (batches of 1 to 64)"""
    x, shifts = case
    agree(student.augment.translate, ref.translate, x, shifts, tol=tol)


@pytest.mark.grades("translate")
def test_translate_each_direction(student, tol):
    """translate moves down, up, right and left, one image per direction, on a 28 x 28 image"""
    x = np.random.default_rng(0).random((8, 28, 28, 1))
    shifts = np.array([[3, 0], [-3, 0], [0, 3], [0, -3], [5, 7], [-7, 5], [27, -27], [28, 0]])
    agree(student.augment.translate, ref.translate, x, shifts, tol=tol)


# ---- random_flip -------------------------------------------------------------------------------


@pytest.mark.grades("random_flip", convention=DRAWS)
@pytest.mark.weight(2)
@given(x=images(max_side=4), p=PS, seed=SEEDS)
def test_random_flip_matches_reference(student, tol, x, p, seed):
    """random_flip draws flipped = default_rng(seed).random(N) < p, as documented"""
    agree(student.augment.random_flip, ref.random_flip, x, p, seed=seed, tol=tol)


@pytest.mark.grades("random_flip")
@given(x=images(), p=PS, seed=SEEDS)
def test_random_flip_draws_explain_output(student, tol, x, p, seed):
    """random_flip's out is x with exactly the images it says it flipped mirrored left to right"""
    call = call_text("random_flip", x, p, seed=seed)
    out, flipped = result(student.augment.random_flip(x, p, seed=seed), x, call, "flipped")
    check(isinstance(flipped, np.ndarray) and flipped.dtype == bool and flipped.shape == (len(x),),
          lambda: f"{call} returned flipped = {abbrev(flipped, 4)}; expected a boolean array of shape ({len(x)},)")
    expected = np.where(flipped[:, None, None, None], ref.flip_left_right(x), x)
    assert_close(out, expected, call=call, tol=tol, what="out (x flipped where flipped)",
                 hints=lambda g: hint("augment", "random_flip", (x, p), {"seed": seed}, (g, flipped), tol,
                                      (expected, flipped)))


@pytest.mark.grades("random_flip")
def test_random_flip_fraction(student, tol):
    """random_flip flips about a fraction p = 0.2 of many images"""
    x = np.random.default_rng(1).random((FLIP_N, 1, 2, 1))
    call = call_text("random_flip", x, 0.2, seed=21)
    got = student.augment.random_flip(x, 0.2, seed=21)
    flipped = result(got, x, call, "flipped")[1]
    check(isinstance(flipped, np.ndarray) and flipped.shape == (FLIP_N,),
          lambda: f"{call} returned flipped = {abbrev(flipped, 4)}; expected a boolean array of shape ({FLIP_N},)")
    low, high = flip_count_bounds(FLIP_N, 0.2)
    count = int(np.sum(flipped))
    check(low <= count <= high, lambda: f"{call} flipped {count} of {FLIP_N} images; a correct draw flips {low} to "
          f"{high} (6.5 standard deviations)",
          hint=lambda: hint("augment", "random_flip", (x, 0.2), {"seed": 21}, got, tol))


# ---- random_translate --------------------------------------------------------------------------


@pytest.mark.grades("random_translate", convention=DRAWS)
@pytest.mark.weight(2)
@given(x=images(max_side=5), max_shift=MAX_SHIFTS, seed=SEEDS)
def test_random_translate_matches_reference(student, tol, x, max_shift, seed):
    """random_translate draws default_rng(seed).integers(-max_shift, max_shift + 1, size=(N, 2)), as documented"""
    agree(student.augment.random_translate, ref.random_translate, x, max_shift, seed=seed, tol=tol)


@pytest.mark.grades("random_translate")
@given(x=images(), max_shift=MAX_SHIFTS, seed=SEEDS)
def test_random_translate_draws_explain_output(student, tol, x, max_shift, seed):
    """random_translate's shifts are integers in range, and out is x translated by them"""
    call = call_text("random_translate", x, max_shift, seed=seed)
    out, shifts = result(student.augment.random_translate(x, max_shift, seed=seed), x, call, "shifts")
    check(isinstance(shifts, np.ndarray) and shifts.dtype.kind in "iu" and shifts.shape == (len(x), 2),
          lambda: f"{call} returned shifts = {abbrev(shifts, 4)}; expected an integer array of shape ({len(x)}, 2)")
    check(bool(np.all(np.abs(shifts) <= max_shift)),
          lambda: f"{call} returned shifts from {shifts.min()} to {shifts.max()}; each in [-{max_shift}, {max_shift}]")
    expected = ref.translate(x, shifts)
    assert_close(out, expected, call=call, tol=tol, what="out (x translated by the shifts returned)",
                 hints=lambda g: hint("augment", "translate", (x, shifts), {}, g, tol, expected))


@pytest.mark.grades("random_translate")
def test_random_translate_uniform(student, tol):
    """random_translate's (dy, dx) are uniform over [-1, 1]^2 over many images"""
    x = np.zeros((SHIFT_N, 1, 1, 1))
    call = call_text("random_translate", x, 1, seed=22)
    got = student.augment.random_translate(x, 1, seed=22)
    shifts = result(got, x, call, "shifts")[1]
    check(isinstance(shifts, np.ndarray) and shifts.dtype.kind in "iu" and shifts.shape == (SHIFT_N, 2)
          and bool(np.all(np.abs(shifts) <= 1)),
          lambda: f"{call} returned shifts = {abbrev(shifts, 4)}; expected integers in [-1, 1] of shape ({SHIFT_N}, 2)")
    stat = chi_square(shifts, 1)
    check(stat <= CHI2_LIMITS[1], lambda: f"{call}: the (dy, dx) pairs are not uniform: chi-square {stat:.1f} over 9 "
          f"cells, allowed {CHI2_LIMITS[1]:g}",
          hint=lambda: hint("augment", "random_translate", (x, 1), {"seed": 22}, got, tol))


# ---- augment -----------------------------------------------------------------------------------


@pytest.mark.grades("augment", convention=DRAWS)
@pytest.mark.weight(2)
@given(x=images(max_side=5), p=PS, max_shift=MAX_SHIFTS, seed=SEEDS)
def test_augment_matches_reference(student, tol, x, p, max_shift, seed):
    """augment = random_translate(random_flip(x, p, seed)[0], max_shift, seed + 1)[0], labels unchanged"""
    y = np.arange(len(x)) % 10
    agree(student.augment.augment, ref.augment, x, y, seed=seed, p=p, max_shift=max_shift, tol=tol)


@pytest.mark.grades("augment")
@settings(max_examples=10)
@given(x=images(max_side=5), p=st.sampled_from([0.0, 1.0]), max_shift=st.integers(0, 2), seed=SEEDS)
def test_augment_gives_flipped_and_shifted_copies(student, tol, x, p, max_shift, seed):
    """augment's image n is image n, flipped when p = 1 (never when p = 0), shifted by at most max_shift"""
    y = np.arange(len(x)) % 10
    call = call_text("augment", x, y, seed=seed, p=p, max_shift=max_shift)
    out, labels = result(student.augment.augment(x, y, seed=seed, p=p, max_shift=max_shift), x, call, "y")
    check(isinstance(labels, np.ndarray) and np.array_equal(labels, y),
          lambda: f"{call} returned y = {abbrev(labels)}; expected the labels unchanged, {abbrev(y)}")
    moves = np.array([(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)])
    source = ref.flip_left_right(x) if p == 1.0 else x
    candidates = ref.translate(np.repeat(source, len(moves), axis=0), np.tile(moves, (len(x), 1)))
    candidates = candidates.reshape(len(x), len(moves), -1)
    close = np.isclose(candidates, out.reshape(len(x), 1, -1), rtol=tol.rtol, atol=tol.atol).all(axis=2).any(axis=1)
    bad = int(np.argmin(close))
    check(bool(close.all()), lambda: f"{call}: image {bad} of out is not image {bad} of x "
          f"{'flipped and ' if p else ''}translated by at most {max_shift} pixel(s)",
          hint=lambda: hint("augment", "augment", (x, y), {"seed": seed, "p": p, "max_shift": max_shift},
                            (out, labels), tol))

