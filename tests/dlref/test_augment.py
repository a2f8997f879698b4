"""dlref.augment against scipy.ndimage.shift, np.flip, tf.image and Keras' RandomFlip/RandomTranslation;
the draw order; and the false-failure rates of the suites' statistical checks (scipy.stats)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

ndimage = pytest.importorskip("scipy.ndimage")
stats = pytest.importorskip("scipy.stats")

from dlref.augment import augment, flip_left_right, random_flip, random_translate, translate  # noqa: E402


@st.composite
def batches(draw, max_n=6, max_side=7, max_c=3):
    n, h, w, c = (draw(st.integers(1, m)) for m in (max_n, max_side, max_side, max_c))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((n, h, w, c)).astype(dtype)


@st.composite
def batches_and_shifts(draw):
    x = draw(batches())
    n, h, w, _ = x.shape
    shifts = np.array([[draw(st.integers(-h - 1, h + 1)), draw(st.integers(-w - 1, w + 1))] for _ in range(n)])
    return x, shifts


@given(batches_and_shifts())
def test_translate_matches_scipy_ndimage_shift(case):
    x, shifts = case
    before = x.copy()
    out = translate(x, shifts)
    assert out.dtype == x.dtype and out.shape == x.shape
    for n, (dy, dx) in enumerate(shifts):
        # order=0: whole-pixel moves; cval=0: zero fill; mode="constant" (the default): no wrap-around.
        expected = ndimage.shift(x[n], (dy, dx, 0), order=0, mode="constant", cval=0.0)
        np.testing.assert_array_equal(out[n], expected)
    np.testing.assert_array_equal(x, before)


@given(batches())
def test_flip_matches_np_flip(x):
    before = x.copy()
    out = flip_left_right(x)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, np.flip(x, axis=2))
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(flip_left_right(out), x)


def test_translate_hand_derived():
    x = np.arange(1.0, 13.0).reshape(1, 3, 4, 1)  # rows [1..4], [5..8], [9..12]
    down_right = translate(x, np.array([[1, 2]]))[0, :, :, 0]
    np.testing.assert_array_equal(down_right, [[0, 0, 0, 0], [0, 0, 1, 2], [0, 0, 5, 6]])
    up_left = translate(x, np.array([[-2, -3]]))[0, :, :, 0]
    np.testing.assert_array_equal(up_left, [[12, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(translate(x, np.array([[3, 0]])), 0)  # a shift of H rows leaves nothing
    np.testing.assert_array_equal(translate(x, np.array([[0, 0]])), x)


def test_bad_arguments_raise():
    x = np.zeros((2, 3, 4, 1))
    for shifts in (np.zeros((2, 3), int), np.zeros((3, 2), int), np.zeros((2, 2))):
        with pytest.raises(ValueError):
            translate(x, shifts)
    with pytest.raises(ValueError):
        flip_left_right(np.zeros((3, 4)))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError):
            random_flip(x, p)
    with pytest.raises(ValueError):
        random_translate(x, -1)


# ---------------------------------------------------------------- TensorFlow / Keras


def test_flip_matches_tf_image_and_keras_random_flip():
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).random((200, 5, 6, 2))
    np.testing.assert_array_equal(flip_left_right(x), tf.image.flip_left_right(x).numpy())
    # Keras' RandomFlip("horizontal") has no probability argument (it flips half the images), so its draws
    # cannot be ours; its meaning can: each image comes back either as it was or as our flip of it.
    got = keras.ops.convert_to_numpy(keras.layers.RandomFlip("horizontal", seed=3, dtype="float64")(x, training=True))
    same = np.all(got == x, axis=(1, 2, 3))
    mirrored = np.all(got == flip_left_right(x), axis=(1, 2, 3))
    assert np.all(same | mirrored) and same.any() and mirrored.any()


@pytest.mark.parametrize("side", [(5, 6), (4, 7), (28, 28)])
def test_translate_matches_keras_random_translation_with_fixed_factors(side):
    keras = pytest.importorskip("keras")
    h, w = side
    x = np.random.default_rng(1).random((2, h, w, 2))
    # A factor range (f, f) is a fixed translation of f * H rows (f * W columns); "nearest" with a
    # constant 0 fill is translate's whole-pixel zero-filled shift, positive factors moving down / right.
    for dy in range(-h + 1, h):
        for dx in sorted({-w + 1, -2, -1, 0, 1, 3, w - 1}):
            layer = keras.layers.RandomTranslation((dy / h, dy / h), (dx / w, dx / w), fill_mode="constant",
                                                   interpolation="nearest", fill_value=0.0, dtype="float64")
            got = keras.ops.convert_to_numpy(layer(x, training=True))
            np.testing.assert_array_equal(translate(x, np.tile([dy, dx], (2, 1))), got, err_msg=f"{dy}, {dx}")


# ---------------------------------------------------------------- draws


@given(x=batches(max_n=64, max_side=4), p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]), seed=st.integers(0, 2**32 - 1))
def test_random_flip_draw_order(x, p, seed):
    out, flipped = random_flip(x, p, seed)
    assert flipped.dtype == np.bool_ and flipped.shape == (len(x),)
    np.testing.assert_array_equal(flipped, np.random.default_rng(seed).random(len(x)) < p)
    np.testing.assert_array_equal(out, np.where(flipped[:, None, None, None], np.flip(x, 2), x))
    assert out.dtype == x.dtype


@given(x=batches(max_n=64, max_side=5), m=st.integers(0, 4), seed=st.integers(0, 2**32 - 1))
def test_random_translate_draw_order(x, m, seed):
    out, shifts = random_translate(x, m, seed)
    assert shifts.dtype.kind == "i" and shifts.shape == (len(x), 2)
    np.testing.assert_array_equal(shifts, np.random.default_rng(seed).integers(-m, m + 1, size=(len(x), 2)))
    for n, (dy, dx) in enumerate(shifts):
        np.testing.assert_array_equal(out[n], ndimage.shift(x[n], (dy, dx, 0), order=0, cval=0.0))


@given(x=batches(max_n=16), seed=st.integers(0, 2**32 - 2), p=st.sampled_from([0.3, 0.5]), m=st.integers(0, 3))
def test_augment_is_flip_then_translate_with_seed_and_seed_plus_one(x, seed, p, m):
    y = np.arange(len(x))
    out, labels = augment(x, y, seed=seed, p=p, max_shift=m)
    flipped = np.random.default_rng(seed).random(len(x)) < p
    shifts = np.random.default_rng(seed + 1).integers(-m, m + 1, size=(len(x), 2))
    stage = np.where(flipped[:, None, None, None], np.flip(x, 2), x)
    for n, (dy, dx) in enumerate(shifts):
        np.testing.assert_array_equal(out[n], ndimage.shift(stage[n], (dy, dx, 0), order=0, cval=0.0))
    assert labels is y
    assert augment(x, seed=seed)[1] is None


def test_draw_statistics():
    flips = random_flip(np.zeros((100_000, 1, 2, 1)), 0.3, seed=5)[1]
    assert abs(flips.mean() - 0.3) < 6 * np.sqrt(0.3 * 0.7 / flips.size)
    shifts = random_translate(np.zeros((50_000, 1, 1, 1)), 2, seed=6)[1]
    counts = np.histogram2d(shifts[:, 0], shifts[:, 1], bins=5, range=[[-2.5, 2.5]] * 2)[0]
    assert stats.chisquare(counts.ravel()).pvalue > 1e-6  # uniform over the 25 (dy, dx) pairs


# ---------------------------------------------------------------- the suites' statistical bounds


def test_suite_flip_fraction_bound_is_far_below_one_in_a_million():
    from autograder.suites.common import FLIP_N, FLIP_PS, flip_count_bounds

    for p in FLIP_PS:
        low, high = flip_count_bounds(FLIP_N, p)
        false_fail = stats.binom.cdf(low - 1, FLIP_N, p) + stats.binom.sf(high, FLIP_N, p)
        assert false_fail < 1e-8, (p, false_fail)
        # ... and flipping with probability 1 - p instead lands outside the bounds all but surely.
        caught = stats.binom.cdf(low - 1, FLIP_N, 1 - p) + stats.binom.sf(high, FLIP_N, 1 - p)
        assert caught > 1 - 1e-12, (p, caught)


def test_suite_chi_square_bound_is_far_below_one_in_a_million():
    from autograder.suites.common import CHI2_LIMITS, SHIFT_N

    for max_shift, limit in CHI2_LIMITS.items():
        cells = (2 * max_shift + 1) ** 2
        # The chi-square approximation to Pearson's statistic, with cells expecting >= 100 counts.
        assert SHIFT_N / cells >= 100
        assert stats.chi2.sf(limit, cells - 1) < 1e-9, (max_shift, stats.chi2.sf(limit, cells - 1))
        # Simulated: a correct draw's statistic stays far below the limit.
        rng = np.random.default_rng(max_shift)
        samples = stats.chisquare(rng.multinomial(SHIFT_N, np.full(cells, 1 / cells), size=2000), axis=1).statistic
        assert samples.max() < limit
