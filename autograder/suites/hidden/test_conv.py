"""Hidden tests for conv.py: agreement with dlref, numerical gradients, adjoint identity, pooling ties.

Batches of 1 to 64 images. Each test grades the function of its `grades` marker, compared with dlref
(gradients against dlref's forward, so a wrong forward does not fail a backward test); which maximum
gets the gradient on ties is graded only by the tests about ties (elsewhere the maxima are unique).
"""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.suites.differential import agree, hint
from autograder.suites.expect import array_like, assert_close, call_text, check, matching_hint
from autograder.suites.feedback import Mismatch, abbrev
from autograder.mistakes import hints_for
from autograder.suites.once import numerical_vjp  # reference gradients, once per session
from autograder.suites.strategies import batch_sizes
from dlref import conv as ref

PARTS = ("dx", "dw", "db")


def out_size(size, k, stride, padding):
    """Output length along one dim (contract): valid floor((size - k) / stride) + 1, same ceil(size / stride)."""
    return -(-size // stride) if padding == "same" else (size - k) // stride + 1


@st.composite
def conv_inputs(draw, padding=None, batch=True):
    """(x, w, b, dout, stride, padding): N in BATCH_SIZES (1 to 64; 1..2 if not batch), H != W, C 1..3, kernels
    1..4 (odd, even, non-square), strides 1..3; images of a large batch are small (H, W up to lo + 2)."""
    n = draw(batch_sizes()) if batch else draw(st.integers(1, 2))
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    padding = padding or draw(st.sampled_from(["valid", "same"]))
    lo_h, lo_w = (kh, kw) if padding == "valid" else (1, 1)
    h = draw(st.integers(lo_h, lo_h + (4 if n <= 8 else 2)))
    w = draw(st.integers(lo_w, lo_w + (3 if n <= 8 else 2)))
    w = w + 1 if lo_w <= h <= w else w  # skips h (H != W) without a filter, so shrinking stays cheap
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-3, 3, (n, h, w, c_in))
    kernel = rng.uniform(-2, 2, (kh, kw, c_in, c_out))
    b = rng.uniform(-1, 1, c_out)
    dout = rng.uniform(-1, 1, (n, out_size(h, kh, stride, padding), out_size(w, kw, stride, padding), c_out))
    return x, kernel, b, dout, stride, padding


def conv_hints(function, args, kwargs, tol, part=None):
    """Hint source for assert_close: the catalogued mistakes of `function` (item `part` of their tuple if given)."""
    if part is None:
        return lambda got: hint("conv", function, args, kwargs, got, tol)
    i = PARTS.index(part)

    def hints(got):
        mistaken = [(text, out[i]) for text, out in hints_for("conv", function, args, kwargs)]
        expected = getattr(ref, function)(*args, **kwargs)[i]
        return matching_hint(got, mistaken, tol, expected)

    return hints


def student_backward(student, dout, x, w, stride, padding):
    """The student's (dx, dw, db) as a 3-item sequence (items unchecked), and the call's text."""
    call = call_text("conv2d_backward", dout, x, w, stride=stride, padding=padding)
    got = student.conv.conv2d_backward(dout, x, w, stride=stride, padding=padding)
    if not (isinstance(got, (tuple, list)) and len(got) == 3):
        raise Mismatch(f"{call} returned {abbrev(got, 4)}; expected a tuple (dx, dw, db)")
    return got, call


# ---------------------------------------------------------------- conv2d_forward


@pytest.mark.grades("conv2d_forward")
@pytest.mark.weight(3)
@given(conv_inputs(padding="valid"))
def test_forward_valid(student, tol, c):
    """conv2d_forward matches the reference with 'valid' padding"""
    x, w, b, _, stride, padding = c
    agree(student.conv.conv2d_forward, ref.conv2d_forward, x, w, b, stride=stride, padding=padding, tol=tol)


@pytest.mark.grades("conv2d_forward")
@pytest.mark.weight(3)
@given(conv_inputs(padding="same"))
def test_forward_same(student, tol, c):
    """conv2d_forward matches the reference with 'same' padding"""
    x, w, b, _, stride, padding = c
    agree(student.conv.conv2d_forward, ref.conv2d_forward, x, w, b, stride=stride, padding=padding, tol=tol)


@pytest.mark.grades("conv2d_forward")
@pytest.mark.weight(2)
def test_forward_slides_example(student, tol):
    """conv2d_forward gives the slides' worked example (5x5 image, vertical-edge kernel)"""
    x = np.array([[7, 2, 3, 3, 8], [4, 5, 3, 8, 4], [3, 3, 2, 8, 4], [2, 8, 7, 2, 7], [5, 4, 4, 5, 4]],
                 dtype=np.float64).reshape(1, 5, 5, 1)  # fmt: skip
    w = np.array([[1.0, 0.0, -1.0]] * 3).reshape(3, 3, 1, 1)
    b = np.zeros(1)
    # The contract's numbers, not dlref's: this test also pins the reference.
    expected = np.array([[6, -9, -8], [-3, -2, -3], [-3, 0, -2]], dtype=np.float64).reshape(1, 3, 3, 1)
    got = student.conv.conv2d_forward(x, w, b)
    assert_close(got, expected, call=call_text("conv2d_forward", x, w, b), tol=tol,
                 hints=conv_hints("conv2d_forward", (x, w, b), {}, tol))  # fmt: skip


# Odd total padding, so TensorFlow puts the extra row/column at the bottom/right.
SAME_EDGES = [
    pytest.param((1, 5, 6, 2), (2, 2, 2, 3), 1, id="2x2-stride1"),
    pytest.param((2, 6, 5, 1), (4, 4, 1, 2), 1, id="4x4-stride1"),
    pytest.param((1, 6, 7, 2), (3, 3, 2, 1), 2, id="3x3-stride2"),
    pytest.param((1, 5, 7, 1), (2, 4, 1, 2), 3, id="2x4-stride3"),
]


@pytest.mark.grades("conv2d_forward")
@pytest.mark.parametrize("x_shape, w_shape, stride", SAME_EDGES)
def test_forward_same_extra_padding_bottom_right(student, tol, x_shape, w_shape, stride):
    """'same' padding puts the extra row/column at the bottom/right, as TensorFlow"""
    rng = np.random.default_rng(3)
    x, w, b = rng.uniform(-3, 3, x_shape), rng.uniform(-2, 2, w_shape), rng.uniform(-1, 1, w_shape[3])
    agree(student.conv.conv2d_forward, ref.conv2d_forward, x, w, b, stride=stride, padding="same", tol=tol)


SHAPES = [
    pytest.param((2, 5, 5, 3), (3, 3, 3, 3), 1, "same", id="3x3-same"),
    pytest.param((2, 5, 5, 3), (3, 3, 3, 3), 1, "valid", id="3x3-valid"),
    pytest.param((1, 7, 6, 2), (2, 2, 2, 4), 2, "same", id="2x2-stride2-same"),
    pytest.param((1, 7, 6, 2), (2, 3, 2, 1), 2, "valid", id="2x3-stride2-valid"),
    pytest.param((2, 8, 5, 1), (4, 1, 1, 2), 3, "valid", id="4x1-stride3-valid"),
    pytest.param((1, 2, 3, 1), (4, 4, 1, 1), 1, "same", id="kernel-larger-than-image-same"),
]


@pytest.mark.grades("conv2d_forward")
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", SHAPES)
def test_forward_output_shape(student, tol, x_shape, w_shape, stride, padding):
    """conv2d_forward returns (N, H', W', C_out) with the right output size"""
    rng = np.random.default_rng(5)
    x, w, b = rng.uniform(-3, 3, x_shape), rng.uniform(-2, 2, w_shape), rng.uniform(-1, 1, w_shape[3])
    kwargs = dict(stride=stride, padding=padding)
    expected = (x_shape[0], out_size(x_shape[1], w_shape[0], stride, padding),
                out_size(x_shape[2], w_shape[1], stride, padding), w_shape[3])  # fmt: skip
    got = student.conv.conv2d_forward(x, w, b, **kwargs)
    call = call_text("conv2d_forward", x, w, b, **kwargs)
    if isinstance(got, np.ndarray) and got.shape != expected:
        raise Mismatch(f"{call} returned shape {got.shape}; expected {expected}",
                       hint("conv", "conv2d_forward", (x, w, b), kwargs, got, tol))  # fmt: skip
    array_like(got, np.empty(expected), call)


@pytest.mark.grades("conv2d_forward")
@pytest.mark.parametrize("stride, padding", [(1, "valid"), (2, "same")])
def test_forward_bias(student, tol, stride, padding):
    """adds b[o] once to every output pixel of channel o"""
    rng = np.random.default_rng(9)
    x, b = rng.uniform(-3, 3, (2, 5, 4, 2)), np.array([1.5, -2.0, 0.25])
    agree(student.conv.conv2d_forward, ref.conv2d_forward, x, np.zeros((3, 2, 2, 3)), b,
          stride=stride, padding=padding, tol=tol, what="with a zero kernel, the output")  # fmt: skip


# ---------------------------------------------------------------- conv2d_backward


@pytest.mark.grades("conv2d_backward")
@pytest.mark.parametrize("part", [pytest.param(p, marks=pytest.mark.weight(2 if p != "db" else 1)) for p in PARTS])
@given(conv_inputs())
def test_backward_matches_reference(student, tol, part, c):
    """conv2d_backward's gradient matches the reference"""
    x, w, _, dout, stride, padding = c
    got, call = student_backward(student, dout, x, w, stride, padding)
    expected = ref.conv2d_backward(dout, x, w, stride, padding)[PARTS.index(part)]
    kwargs = dict(stride=stride, padding=padding)
    assert_close(got[PARTS.index(part)], expected, call=call, tol=tol, what=part,
                 hints=conv_hints("conv2d_backward", (dout, x, w), kwargs, tol, part))  # fmt: skip


@pytest.mark.grades("conv2d_backward")
@pytest.mark.parametrize("part", PARTS)
@settings(max_examples=10)
@given(conv_inputs(batch=False))  # small batches: each entry of x costs two forward passes
def test_backward_matches_numerical_grad(student, tol, part, c):
    """conv2d_backward's gradient agrees with a numerical gradient of the forward pass"""
    x, w, b, dout, stride, padding = c
    got, call = student_backward(student, dout, x, w, stride, padding)
    args = {"dx": (x, lambda v: ref.conv2d_forward(v, w, b, stride, padding)),
            "dw": (w, lambda v: ref.conv2d_forward(x, v, b, stride, padding)),
            "db": (b, lambda v: ref.conv2d_forward(x, w, v, stride, padding))}  # fmt: skip
    at, f = args[part]
    numeric = numerical_vjp(f, at, dout)
    # Linear in each argument: central differences are exact up to rounding (~1e-9); entries can be
    # exactly 0 (pixels no window reads), so allclose with a small atol rather than relative error.
    grad_tol = dataclasses.replace(tol, rtol=tol.grad_rel_error, atol=1e-7)
    kwargs = dict(stride=stride, padding=padding)
    assert_close(got[PARTS.index(part)], numeric, call=call, tol=grad_tol, what=f"{part} (vs a numerical gradient)",
                 hints=conv_hints("conv2d_backward", (dout, x, w), kwargs, tol, part))  # fmt: skip


@pytest.mark.grades("conv2d_backward")
@settings(max_examples=15)
@given(conv_inputs())
def test_adjoint_identity(student, tol, c):
    """sum(dout * conv(x, w)) equals sum(x * dx) and sum(w * dw) with your conv2d_backward"""
    x, w, _, dout, stride, padding = c
    y = ref.conv2d_forward(x, w, np.zeros(w.shape[3]), stride, padding)  # without bias: linear in x and in w
    got, call = student_backward(student, dout, x, w, stride, padding)
    dx, dw = array_like(got[0], x, lambda: f"dx of {call}"), array_like(got[1], w, lambda: f"dw of {call}")
    lhs, via_x, via_w = float(np.sum(dout * y)), float(np.sum(x * dx)), float(np.sum(w * dw))
    # Each side sums at most this much absolute mass; float64 rounding is ~1e-15 of it.
    scale = float(np.sum(np.abs(dout)) * np.max(np.abs(x)) * np.sum(np.abs(w))) + 1.0
    for name, val in (("sum(x * dx)", via_x), ("sum(w * dw)", via_w)):
        check(abs(lhs - val) <= tol.rtol * scale,
              lambda: f"adjoint identity fails for {call}: sum(dout * conv(x, w)) = {lhs:.10g} but {name} = {val:.10g}")


# ---------------------------------------------------------------- max pooling


@st.composite
def pool_inputs(draw, distinct=False, batch=True):
    """(x, dout, pool_size, stride): N in BATCH_SIZES (1 to 64; 1..2 if not batch), pool 2 or 3, stride 1..3
    (overlapping windows when < pool), H != W."""
    n, c = (draw(batch_sizes()) if batch else draw(st.integers(1, 2))), draw(st.integers(1, 3))
    pool, stride = draw(st.sampled_from([2, 3])), draw(st.integers(1, 3))
    h = draw(st.integers(pool, pool + 4))
    w = draw(st.integers(pool, pool + 3))
    w = w + 1 if pool <= h <= w else w  # skips h (H != W)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if distinct:
        # A shuffled grid 0.05 apart: no ties, and h = 1e-6 never changes which input is a maximum.
        x = (rng.permutation(n * h * w * c).reshape(n, h, w, c) - n * h * w * c / 2) * 0.05
    else:
        x = rng.uniform(-3, 3, (n, h, w, c))
    dout = rng.uniform(-1, 1, (n, out_size(h, pool, stride, "valid"), out_size(w, pool, stride, "valid"), c))
    return x, dout, pool, stride


@pytest.mark.grades("maxpool_forward")
@pytest.mark.weight(2)
@given(pool_inputs())
def test_maxpool_forward(student, tol, c):
    """maxpool_forward matches the reference (pool 2 and 3, strides 1 to 3)"""
    x, _, pool, stride = c
    agree(student.conv.maxpool_forward, ref.maxpool_forward, x, pool_size=pool, stride=stride, tol=tol)


@pytest.mark.grades("maxpool_forward")
@pytest.mark.parametrize("pool, stride", [(2, 2), (3, 2), (2, 3)])
def test_maxpool_forward_drops_leftovers(student, tol, pool, stride):
    """maxpool_forward uses 'valid' padding: leftover rows/columns are dropped"""
    rng = np.random.default_rng(13)
    x = -rng.uniform(0.5, 3, (1, 7, 6, 2))  # all negative: padding with zeros (or -inf) would show
    agree(student.conv.maxpool_forward, ref.maxpool_forward, x, pool_size=pool, stride=stride, tol=tol)


@pytest.mark.grades("maxpool_backward")
@pytest.mark.weight(2)
@given(pool_inputs(distinct=True))
def test_maxpool_backward(student, tol, c):
    """maxpool_backward matches the reference (no ties)"""
    x, dout, pool, stride = c
    agree(student.conv.maxpool_backward, ref.maxpool_backward, dout, x, pool_size=pool, stride=stride, tol=tol)


@pytest.mark.grades("maxpool_backward")
@settings(max_examples=10)
@given(pool_inputs(distinct=True, batch=False))  # small batches: each entry of x costs two forward passes
def test_maxpool_backward_numerical(student, tol, c):
    """maxpool_backward agrees with a numerical gradient of max pooling (no ties)"""
    x, dout, pool, stride = c
    kwargs = dict(pool_size=pool, stride=stride)
    numeric = numerical_vjp(lambda v: ref.maxpool_forward(v, pool, stride), x, dout)
    # Most entries are exactly 0 (not a maximum): allclose with a small atol, not relative error.
    grad_tol = dataclasses.replace(tol, rtol=tol.grad_rel_error, atol=1e-7)
    assert_close(student.conv.maxpool_backward(dout, x, **kwargs), numeric, tol=grad_tol,
                 call=call_text("maxpool_backward", dout, x, **kwargs), what="the gradient (vs a numerical gradient)",
                 hints=conv_hints("maxpool_backward", (dout, x), kwargs, tol))  # fmt: skip


@pytest.mark.grades("maxpool_backward")
@given(pool_inputs(distinct=True))
def test_maxpool_gradients_sum_to_dout(student, tol, c):
    """without ties, the maxpool gradients add up to sum(dout)"""
    x, dout, pool, stride = c
    call = call_text("maxpool_backward", dout, x, pool_size=pool, stride=stride)
    dx = array_like(student.conv.maxpool_backward(dout, x, pool_size=pool, stride=stride), x, call)
    check(np.isclose(dx.sum(), dout.sum(), rtol=tol.rtol, atol=tol.atol),
          lambda: f"{call}: the gradients add up to {dx.sum():.6g}, not sum(dout) = {dout.sum():.6g}")


@pytest.mark.grades("maxpool_backward")
def test_maxpool_backward_overlapping_windows(student, tol):
    """an input that is the maximum of several overlapping windows gets the sum of their gradients"""
    x = np.arange(25, dtype=np.float64).reshape(1, 5, 5, 1) / 10
    x[0, 2, 2, 0] = 9.0  # the maximum of all nine 3x3 windows
    # No dout value is the count of windows (9) or any sum of others: each mistake gives its own answer.
    dout = np.array([0.3, 1.7, 0.9, 2.3, 0.6, 1.1, 2.9, 0.4, 1.3]).reshape(1, 3, 3, 1)
    agree(student.conv.maxpool_backward, ref.maxpool_backward, dout, x, pool_size=3, stride=1, tol=tol)


@pytest.mark.grades("maxpool_backward", convention="ties: first maximum")
@pytest.mark.parametrize("pool, stride", [(2, 2), (2, 1), (3, 2)])
def test_maxpool_backward_ties_all_equal(student, tol, pool, stride):
    """on ties (all-equal windows) the gradient goes to the first maximum in row-major order"""
    x = np.full((2, 5, 6, 2), 0.5)
    dout = np.random.default_rng(17).uniform(0.5, 1.5, (2, out_size(5, pool, stride, "valid"),
                                                        out_size(6, pool, stride, "valid"), 2))  # fmt: skip
    agree(student.conv.maxpool_backward, ref.maxpool_backward, dout, x, pool_size=pool, stride=stride, tol=tol)


@pytest.mark.grades("maxpool_backward", convention="ties: first maximum")
def test_maxpool_backward_ties_two_maxima(student, tol):
    """on ties (two equal maxima) the gradient goes to the first maximum in row-major order"""
    # Every 2x2 window holds exactly two equal maxima, each pair in a different arrangement.
    x = np.array([[5, 1, 2, 4], [5, 0, 4, 3], [1, 6, 7, 2], [6, 0, 0, 7]], dtype=np.float64).reshape(1, 4, 4, 1)
    dout = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    agree(student.conv.maxpool_backward, ref.maxpool_backward, dout, x, pool_size=2, stride=2, tol=tol)

