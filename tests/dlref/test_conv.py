"""dlref.conv vs TensorFlow (forward, GradientTape), numerical VJPs, adjoint identities, hand-worked cases."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlref.conv import conv2d_backward, conv2d_forward, maxpool_backward, maxpool_forward
from dlref.gradcheck import numerical_vjp

tf = pytest.importorskip("tensorflow")

# float64 sums of at most 4*4*3 products of O(1) numbers: rounding is ~1e-15, so 1e-10/1e-12
# only allows for a different summation order, not for a wrong index or padding.
RTOL, ATOL = 1e-10, 1e-12


@st.composite
def conv_cases(draw):
    """(x, w, b, dout, stride, padding) over the space in the brief; invalid combinations skipped."""
    N = draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    C_in, C_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    assume(padding == "same" or (KH <= H and KW <= W))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, H, W, C_in))
    w = rng.standard_normal((KH, KW, C_in, C_out))
    b = rng.standard_normal(C_out)
    Ho, Wo = _expected_out_size(H, KH, stride, padding), _expected_out_size(W, KW, stride, padding)
    dout = rng.standard_normal((N, Ho, Wo, C_out))
    return x, w, b, dout, stride, padding


def _expected_out_size(size, k, s, padding):
    # From TensorFlow's documentation, written here independently of dlref.
    return -(-size // s) if padding == "same" else (size - k) // s + 1


def _tf_conv_and_grads(x, w, b, dout, stride, padding):
    xt, wt, bt = tf.constant(x), tf.constant(w), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([xt, wt, bt])
        y = tf.nn.conv2d(xt, wt, strides=stride, padding=padding.upper()) + bt
    dx, dw, db = tape.gradient(y, [xt, wt, bt], output_gradients=tf.constant(dout))
    return y.numpy(), dx.numpy(), dw.numpy(), db.numpy()


# ---------------------------------------------------------------- conv2d vs TensorFlow


@settings(max_examples=60)
@given(conv_cases())
def test_conv2d_forward_matches_tf(case):
    x, w, b, dout, stride, padding = case
    y_tf, *_ = _tf_conv_and_grads(x, w, b, dout, stride, padding)
    np.testing.assert_allclose(conv2d_forward(x, w, b, stride, padding), y_tf, rtol=RTOL, atol=ATOL)


@settings(max_examples=60)
@given(conv_cases())
def test_conv2d_backward_matches_tf_gradient_tape(case):
    x, w, b, dout, stride, padding = case
    _, dx_tf, dw_tf, db_tf = _tf_conv_and_grads(x, w, b, dout, stride, padding)
    dx, dw, db = conv2d_backward(dout, x, w, stride, padding)
    np.testing.assert_allclose(dx, dx_tf, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dw, dw_tf, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(db, db_tf, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv2d_all_kernel_shapes_match_tf(stride, padding):
    # Hypothesis samples the space; this sweeps every (KH, KW) in 1..4 so odd/even kernels
    # with 'same' (the asymmetric bottom/right padding) are always covered.
    rng = np.random.default_rng(stride)
    x = rng.standard_normal((2, 6, 5, 2))
    b = rng.standard_normal(3)
    for KH in range(1, 5):
        for KW in range(1, 5):
            w = rng.standard_normal((KH, KW, 2, 3))
            Ho, Wo = _expected_out_size(6, KH, stride, padding), _expected_out_size(5, KW, stride, padding)
            dout = rng.standard_normal((2, Ho, Wo, 3))
            y_tf, dx_tf, dw_tf, _ = _tf_conv_and_grads(x, w, b, dout, stride, padding)
            np.testing.assert_allclose(conv2d_forward(x, w, b, stride, padding), y_tf, rtol=RTOL, atol=ATOL)
            dx, dw, _ = conv2d_backward(dout, x, w, stride, padding)
            np.testing.assert_allclose(dx, dx_tf, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(dw, dw_tf, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------- conv2d: independent checks


def test_conv2d_slides_worked_example():
    image = np.array(
        [[7, 2, 3, 3, 8], [4, 5, 3, 8, 4], [3, 3, 2, 8, 4], [2, 8, 7, 2, 7], [5, 4, 4, 5, 4]], dtype=np.float64
    )
    kernel = np.array([[1, 0, -1]] * 3, dtype=np.float64)
    # Expected values from the course slides (vertical-edge detector, valid, stride 1).
    expected = np.array([[6, -9, -8], [-3, -2, -3], [-3, 0, -2]], dtype=np.float64)
    out = conv2d_forward(image[None, :, :, None], kernel[:, :, None, None], np.zeros(1))
    assert out.shape == (1, 3, 3, 1)
    np.testing.assert_array_equal(out[0, :, :, 0], expected)  # small integers: exact


def test_conv2d_same_even_kernel_pads_bottom_right():
    # 4x4 ramp, 2x2 ones kernel, 'same': pad_total = 1, all of it at the bottom/right, so
    # out[i, j] = x[i, j] + x[i, j+1] + x[i+1, j] + x[i+1, j+1] with zeros past the edge.
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    expected = np.array(
        [[10, 14, 18, 10], [26, 30, 34, 18], [42, 46, 50, 26], [25, 27, 29, 15]], dtype=np.float64
    )
    out = conv2d_forward(x, np.ones((2, 2, 1, 1)), np.zeros(1), stride=1, padding="same")
    np.testing.assert_array_equal(out[0, :, :, 0], expected)


@pytest.mark.parametrize(
    "H, K, s, padding, expected",
    [
        (5, 3, 1, "valid", 3),
        (5, 3, 2, "valid", 2),
        (6, 3, 2, "valid", 2),
        (5, 5, 1, "valid", 1),
        (5, 3, 2, "same", 3),
        (6, 3, 2, "same", 3),
        (7, 4, 3, "same", 3),
        (2, 4, 1, "same", 2),  # kernel larger than the input is fine with 'same'
    ],
)
def test_conv2d_output_size(H, K, s, padding, expected):
    x = np.zeros((1, H, H + 1, 1))
    out = conv2d_forward(x, np.zeros((K, K, 1, 2)), np.zeros(2), stride=s, padding=padding)
    assert out.shape[1:3] == (expected, _expected_out_size(H + 1, K, s, padding))


@settings(max_examples=40)
@given(conv_cases())
def test_conv2d_adjoint_identities(case):
    # Without bias, conv is linear in x and in w: <dout, conv(x, w)> = <x, dx> = <w, dw>.
    x, w, b, dout, stride, padding = case
    y = conv2d_forward(x, w, np.zeros_like(b), stride, padding)
    dx, dw, db = conv2d_backward(dout, x, w, stride, padding)
    inner = np.sum(dout * y)
    scale = np.sum(np.abs(dout) * np.abs(y)) + 1.0  # rounding scales with the terms, not the sum
    assert abs(np.sum(x * dx) - inner) <= 1e-12 * scale
    assert abs(np.sum(w * dw) - inner) <= 1e-12 * scale
    np.testing.assert_allclose(db, dout.sum(axis=(0, 1, 2)), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "shape, kshape, stride, padding",
    [
        ((1, 5, 4, 2), (3, 3, 2, 2), 1, "valid"),
        ((2, 5, 6, 1), (2, 3, 1, 2), 2, "same"),
        ((1, 6, 5, 2), (4, 2, 2, 1), 3, "same"),
        ((1, 4, 4, 3), (2, 2, 3, 2), 2, "valid"),
    ],
)
def test_conv2d_backward_numerical_vjp(shape, kshape, stride, padding):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(shape), rng.standard_normal(kshape), rng.standard_normal(kshape[3])
    dout = rng.standard_normal(conv2d_forward(x, w, b, stride, padding).shape)
    dx, dw, db = conv2d_backward(dout, x, w, stride, padding)
    # Central differences are exact for a linear map up to rounding: ~1e-16 * |f| / 1e-6 ~ 1e-9.
    tol = dict(rtol=1e-6, atol=1e-7)
    num_dx = numerical_vjp(lambda v: conv2d_forward(v, w, b, stride, padding), x, dout)
    num_dw = numerical_vjp(lambda v: conv2d_forward(x, v, b, stride, padding), w, dout)
    num_db = numerical_vjp(lambda v: conv2d_forward(x, w, v, stride, padding), b, dout)
    np.testing.assert_allclose(num_dx, dx, **tol)
    np.testing.assert_allclose(num_dw, dw, **tol)
    np.testing.assert_allclose(num_db, db, **tol)


def test_conv2d_does_not_modify_inputs():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 5, 5, 2)), rng.standard_normal((3, 3, 2, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((2, 3, 3, 2))
    copies = [a.copy() for a in (x, w, b, dout)]
    conv2d_forward(x, w, b, 2, "same")
    conv2d_backward(dout, x, w, 2, "same")
    for a, c in zip((x, w, b, dout), copies):
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- conv2d: errors


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, kwargs, message",
    [
        ((1, 5, 5, 1), (3, 3, 1, 1), (1,), {"padding": "full"}, "padding"),
        ((1, 5, 5, 1), (3, 3, 1, 1), (1,), {"padding": None}, "padding"),
        ((1, 5, 5, 2), (3, 3, 3, 1), (1,), {}, "channel"),
        ((1, 5, 5, 1), (3, 3, 1, 1), (1,), {"stride": 0}, "stride"),
        ((1, 5, 5, 1), (3, 3, 1, 1), (1,), {"stride": 1.5}, "stride"),
        ((1, 2, 5, 1), (3, 3, 1, 1), (1,), {"padding": "valid"}, "larger"),
        ((1, 5, 2, 1), (1, 3, 1, 1), (1,), {"padding": "valid"}, "larger"),
        ((5, 5, 1), (3, 3, 1, 1), (1,), {}, "x must have 4 dims"),
        ((1, 5, 5, 1), (3, 3, 1), (1,), {}, "w must have 4 dims"),
        ((1, 5, 5, 1), (3, 3, 1, 2), (3,), {}, "b must have shape"),
    ],
)
def test_conv2d_forward_errors(x_shape, w_shape, b_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv2d_forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape), **kwargs)


def test_conv2d_backward_errors():
    x, w = np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 2))
    with pytest.raises(ValueError, match="dout must have shape"):
        conv2d_backward(np.zeros((1, 5, 5, 2)), x, w, padding="valid")
    with pytest.raises(ValueError, match="padding"):
        conv2d_backward(np.zeros((1, 3, 3, 2)), x, w, padding="SAME!")


# ---------------------------------------------------------------- max pooling


def _distinct_values(rng, shape):
    """Distinct values at least 1 apart (a shuffled ramp): no ties, far from any kink."""
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) - 10.0


@st.composite
def pool_cases(draw):
    """(x, dout, pool_size, stride) with distinct x values; pool 1..4, stride 1..4 (overlap, gaps)."""
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    pool, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    assume(pool <= H and pool <= W)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = _distinct_values(rng, (N, H, W, C))
    dout = rng.standard_normal((N, (H - pool) // stride + 1, (W - pool) // stride + 1, C))
    return x, dout, pool, stride


def _tf_pool_and_grad(x, dout, pool, stride):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, ksize=pool, strides=stride, padding="VALID")
    return y.numpy(), tape.gradient(y, xt, output_gradients=tf.constant(dout)).numpy()


@settings(max_examples=50)
@given(pool_cases())
def test_maxpool_matches_tf(case):
    x, dout, pool, stride = case
    y_tf, dx_tf = _tf_pool_and_grad(x, dout, pool, stride)
    np.testing.assert_array_equal(maxpool_forward(x, pool, stride), y_tf)  # a max is exact
    # No ties: each dx entry is a sum of at most 4 dout entries (overlap), so rounding only.
    np.testing.assert_allclose(maxpool_backward(dout, x, pool, stride), dx_tf, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "shape, pool, stride",
    [((2, 6, 7, 2), 2, 2), ((1, 7, 6, 3), 3, 1), ((2, 8, 8, 1), 2, 3), ((1, 5, 9, 2), 4, 2), ((1, 6, 6, 1), 3, 3)],
)
def test_maxpool_fixed_cases_match_tf(shape, pool, stride):
    # Always covers overlap (stride < pool), gaps (stride > pool) and tiling (stride == pool).
    rng = np.random.default_rng(11)
    x = _distinct_values(rng, shape)
    dout = rng.standard_normal((shape[0], (shape[1] - pool) // stride + 1, (shape[2] - pool) // stride + 1, shape[3]))
    y_tf, dx_tf = _tf_pool_and_grad(x, dout, pool, stride)
    np.testing.assert_array_equal(maxpool_forward(x, pool, stride), y_tf)
    np.testing.assert_allclose(maxpool_backward(dout, x, pool, stride), dx_tf, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape, pool, stride", [((1, 5, 4, 2), 2, 1), ((2, 4, 6, 1), 2, 2), ((1, 7, 7, 1), 3, 2)])
def test_maxpool_backward_numerical_vjp(shape, pool, stride):
    rng = np.random.default_rng(5)
    x = _distinct_values(rng, shape) * 0.5  # values 0.5 apart, far beyond h = 1e-6: no tie is crossed
    dout = rng.standard_normal(maxpool_forward(x, pool, stride).shape)
    num = numerical_vjp(lambda v: maxpool_forward(v, pool, stride), x, dout)
    # Locally the max is a selection, i.e. linear: the differences are exact up to rounding.
    np.testing.assert_allclose(maxpool_backward(dout, x, pool, stride), num, rtol=1e-6, atol=1e-7)


@settings(max_examples=30)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([(2, 2), (2, 1), (3, 2), (3, 1), (2, 3)]),
)
def test_maxpool_gradient_sum_equals_dout_sum(seed, pool_stride):
    # Holds with ties too (small integers make plenty): each dout entry goes to exactly one place.
    pool, stride = pool_stride
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(2, 7, 6, 2)).astype(np.float64)
    dout = rng.standard_normal(maxpool_forward(x, pool, stride).shape)
    dx = maxpool_backward(dout, x, pool, stride)
    np.testing.assert_allclose(dx.sum(axis=(1, 2)), dout.sum(axis=(1, 2)), rtol=1e-12, atol=1e-12)
    # and each gradient lands on a maximum position only
    assert np.all((dx == 0) | np.isin(x, maxpool_forward(x, pool, stride)))


def test_maxpool_tie_all_equal_goes_to_top_left():
    x = np.full((1, 2, 2, 1), 3.0)
    dx = maxpool_backward(np.array([[[[5.0]]]]), x, 2, 2)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[5.0, 0.0], [0.0, 0.0]])


def test_maxpool_tie_first_in_row_major_order():
    # Equal maxima at (0, 1) and (1, 0): row-major order reaches (0, 1) first.
    x = np.array([[1.0, 4.0], [4.0, 2.0]]).reshape(1, 2, 2, 1)
    dx = maxpool_backward(np.array([[[[5.0]]]]), x, 2, 2)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 5.0], [0.0, 0.0]])


def test_maxpool_tie_per_channel_and_window():
    # Channel 0: all 1 -> top-left of each window. Channel 1: window 0's max at (1, 1);
    # window 1 ties at (0, 2) and (1, 3), and (0, 2) comes first in row-major order.
    x = np.zeros((1, 2, 4, 2))
    x[..., 0] = 1.0
    x[0, 1, 1, 1] = 2.0
    x[0, 0, 2, 1] = 2.0
    x[0, 1, 3, 1] = 2.0
    dout = np.array([3.0, 7.0, 4.0, 9.0]).reshape(1, 1, 2, 2)  # (window, channel) values
    dx = maxpool_backward(dout, x, 2, 2)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3.0, 0.0, 4.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dx[0, :, :, 1], [[0.0, 0.0, 9.0, 0.0], [0.0, 7.0, 0.0, 0.0]])


def test_maxpool_tie_with_overlap_accumulates():
    # Pool 2, stride 1 on [[1, 3, 3], [0, 0, 0]]: window 0 max 3 at x[0, 1]; window 1 ties
    # x[0, 1] and x[0, 2], first in row-major order is x[0, 1]. Both gradients land there.
    x = np.array([[1.0, 3.0, 3.0], [0.0, 0.0, 0.0]]).reshape(1, 2, 3, 1)
    dx = maxpool_backward(np.array([2.0, 7.0]).reshape(1, 1, 2, 1), x, 2, 1)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 9.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(maxpool_forward(x, 2, 1)[0, :, :, 0], [[3.0, 3.0]])


def test_maxpool_worked_example():
    # 4x4, pool 2, stride 2: the maxima of the four quadrants, worked by hand.
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float64).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(maxpool_forward(x)[0, :, :, 0], [[6.0, 8.0], [3.0, 4.0]])
    dx = maxpool_backward(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1), x)
    np.testing.assert_array_equal(
        dx[0, :, :, 0], [[0, 0, 0, 0], [0, 1, 0, 2], [3, 0, 0, 0], [0, 0, 0, 4]]
    )


def test_maxpool_does_not_modify_inputs():
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((1, 4, 4, 2)), rng.standard_normal((1, 2, 2, 2))
    x0, d0 = x.copy(), dout.copy()
    maxpool_forward(x)
    maxpool_backward(dout, x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


@pytest.mark.parametrize(
    "shape, kwargs, message",
    [
        ((1, 3, 3, 1), {"pool_size": 4}, "larger"),
        ((1, 3, 5, 1), {"pool_size": 4}, "larger"),
        ((1, 4, 4, 1), {"pool_size": 0}, "pool_size"),
        ((1, 4, 4, 1), {"stride": 0}, "stride"),
        ((4, 4, 1), {}, "4 dims"),
    ],
)
def test_maxpool_errors(shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        maxpool_forward(np.zeros(shape), **kwargs)


def test_maxpool_backward_dout_shape_error():
    with pytest.raises(ValueError, match="dout must have shape"):
        maxpool_backward(np.zeros((1, 3, 3, 1)), np.zeros((1, 4, 4, 1)), 2, 2)


def test_conv2d_non_contiguous_inputs():
    # Strided views (as a caller might pass) must give the same result as their copies.
    rng = np.random.default_rng(4)
    x_view = rng.standard_normal((2, 10, 7, 2))[:, ::2]
    w_view = rng.standard_normal((3, 2, 3, 2)).transpose(0, 1, 3, 2)
    dout = rng.standard_normal((2, 3, 6, 3))
    b = np.zeros(3)
    x_copy, w_copy = x_view.copy(), w_view.copy()
    np.testing.assert_array_equal(conv2d_forward(x_view, w_view, b), conv2d_forward(x_copy, w_copy, b))
    for got, want in zip(conv2d_backward(dout, x_view, w_view), conv2d_backward(dout, x_copy, w_copy)):
        np.testing.assert_array_equal(got, want)
