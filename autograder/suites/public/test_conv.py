"""Public checks for conv.py: fixed vectors, output sizes, and gradients consistent with your own forward.

Each test grades the functions of its `grades` marker; the self-consistency checks grade a forward
and its backward together and say which of the two fails its own checks too.
"""
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from autograder.suites.expect import array_like, call_text, check
from autograder.suites.numgrad import numerical_vjp_many, rel_error
from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded, consistency_note

# Hypothesis' explain phase re-runs a failing test up to hundreds of times (seconds) for notes the
# feedback never shows; the shrunk example is kept.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]

_rng = np.random.default_rng(2022)


def _r(*shape):
    """Fixed pseudo-random values in [-2, 2], 3 decimals (short in feedback)."""
    return np.round(_rng.uniform(-2.0, 2.0, shape), 3)


def _distinct(*shape, gap=0.1):
    """Tie-free values: a shuffled grid gap apart, so each pooling window has one clear maximum."""
    n = int(np.prod(shape))
    return (_rng.permutation(n) - n / 2).reshape(shape) * gap


# The slides' worked example (from the contract): 5x5 image, vertical-edge kernel.
SLIDES_X = np.array([[7, 2, 3, 3, 8], [4, 5, 3, 8, 4], [3, 3, 2, 8, 4], [2, 8, 7, 2, 7], [5, 4, 4, 5, 4]],
                    dtype=np.float64).reshape(1, 5, 5, 1)  # fmt: skip
EDGE_W = np.array([[1.0, 0.0, -1.0]] * 3).reshape(3, 3, 1, 1)

X = _r(2, 5, 6, 2)  # H != W, N = 2 (dw sums over the batch)
W3, W2, W4, W13 = _r(3, 3, 2, 3), _r(2, 2, 2, 3), _r(4, 4, 2, 1), _r(1, 3, 2, 2)
B3, B1, B2 = _r(3), _r(1), _r(2)
P = _distinct(2, 4, 6, 2)  # no ties
TIES_ALL = np.ones((1, 4, 4, 1))
# Each 2x2 window holds two equal maxima (5.0), in different positions.
TIES_TWO = np.array([[5, 1, 2, 4], [5, 0, 4, 3], [1, 6, 7, 2], [6, 0, 0, 7]], dtype=np.float64).reshape(1, 4, 4, 1)
LEFTOVER = -np.abs(_r(1, 5, 7, 2)) - 0.5  # all negative: padding with zeros would show

CASES = [
    case("slides-example", "conv2d_forward", SLIDES_X, EDGE_W, np.zeros(1)),
    case("forward-valid", "conv2d_forward", X, W3, B3),
    case("forward-valid-stride2", "conv2d_forward", X, W3, B3, stride=2),
    case("forward-valid-stride3-1x3", "conv2d_forward", X, W13, B2, stride=3),
    case("forward-same-3x3", "conv2d_forward", X, W3, B3, stride=1, padding="same"),
    case("forward-same-even-kernel", "conv2d_forward", X, W2, B3, stride=1, padding="same"),
    case("forward-same-4x4-stride2", "conv2d_forward", X, W4, B1, stride=2, padding="same"),
    case("forward-same-stride2", "conv2d_forward", X, W3, B3, stride=2, padding="same"),
    case("forward-bias-only", "conv2d_forward", X, np.zeros((2, 2, 2, 3)), np.array([1.0, -2.0, 0.5])),
    case("backward-valid", "conv2d_backward", _r(2, 3, 4, 3), X, W3),
    case("backward-stride2-overlapping", "conv2d_backward", _r(2, 2, 2, 3), X, W3, stride=2),
    case("backward-same-even-kernel", "conv2d_backward", _r(2, 5, 6, 3), X, W2, stride=1, padding="same"),
    case("backward-same-4x4-stride2", "conv2d_backward", _r(2, 3, 3, 1), X, W4, stride=2, padding="same"),
    case("maxpool-2x2", "maxpool_forward", P),
    case("maxpool-leftover", "maxpool_forward", LEFTOVER),
    case("maxpool-3-stride1", "maxpool_forward", P, pool_size=3, stride=1),
    case("maxpool-3-stride2", "maxpool_forward", LEFTOVER, pool_size=3, stride=2),
    case("maxpool-backward-2x2", "maxpool_backward", _r(2, 2, 3, 2), P),
    case("maxpool-backward-leftover", "maxpool_backward", _r(1, 2, 3, 2), LEFTOVER),
    case("maxpool-backward-overlapping", "maxpool_backward", _r(2, 3, 5, 2), P, pool_size=2, stride=1),
    case("maxpool-backward-3-stride1", "maxpool_backward", _r(2, 2, 4, 2), P, pool_size=3, stride=1),
    case("maxpool-backward-ties-all-equal", "maxpool_backward", np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1),
         TIES_ALL),
    case("maxpool-backward-ties-overlapping", "maxpool_backward", _r(1, 3, 3, 1), TIES_ALL, pool_size=2, stride=1),
    case("maxpool-backward-two-maxima", "maxpool_backward", np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1),
         TIES_TWO),
]  # fmt: skip


CONVENTIONS = {"maxpool-backward-ties-all-equal": "ties: first maximum", "maxpool-backward-ties-overlapping":
               "ties: first maximum", "maxpool-backward-two-maxima": "ties: first maximum"}


@pytest.mark.parametrize("c", cases_as_params("conv", CONVENTIONS))
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "conv", c, tol)


def out_size(size, k, stride, padding):
    """Output length along one dim (contract): valid floor((size - k) / stride) + 1, same ceil(size / stride)."""
    return -(-size // stride) if padding == "same" else (size - k) // stride + 1


@st.composite
def conv_shapes(draw):
    """(x, w, b, stride, padding): N 1..2, H != W, C 1..3, kernels 1..4 (odd and even), strides 1..3."""
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    lo_h, lo_w = (kh, kw) if padding == "valid" else (1, 1)
    h = draw(st.integers(lo_h, lo_h + 4))
    w = draw(st.integers(lo_w, lo_w + 3))
    w = w + 1 if lo_w <= h <= w else w  # skips h (H != W) without a filter, so shrinking stays cheap
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x, kernel = rng.uniform(-2, 2, (n, h, w, c_in)), rng.uniform(-2, 2, (kh, kw, c_in, c_out))
    return x, kernel, rng.uniform(-1, 1, c_out), stride, padding


@pytest.mark.grades("conv2d_forward")
@settings(phases=PHASES)
@given(conv_shapes())
def test_conv_output_shape(student, c):
    """conv2d_forward returns (N, H', W', C_out) with the contract's output size"""
    x, w, b, stride, padding = c
    (n, h, wd, _), (kh, kw, _, c_out) = x.shape, w.shape
    expected = (n, out_size(h, kh, stride, padding), out_size(wd, kw, stride, padding), c_out)
    array_like(student.conv.conv2d_forward(x, w, b, stride=stride, padding=padding), np.empty(expected),
               call_text("conv2d_forward", x, w, b, stride=stride, padding=padding))


@pytest.mark.grades("maxpool_forward")
@settings(phases=PHASES)
@given(n=st.integers(1, 2), h=st.integers(3, 7), w=st.integers(3, 7), c=st.integers(1, 3),
       pool=st.sampled_from([2, 3]), stride=st.integers(1, 3))
def test_maxpool_output_shape(student, n, h, w, c, pool, stride):
    """maxpool_forward returns (N, H', W', C) with H' = (H - pool_size) // stride + 1"""
    x = np.arange(n * h * w * c, dtype=np.float64).reshape(n, h, w, c)
    expected = (n, out_size(h, pool, stride, "valid"), out_size(w, pool, stride, "valid"), c)
    array_like(student.conv.maxpool_forward(x, pool_size=pool, stride=stride), np.empty(expected),
               call_text("maxpool_forward", x, pool_size=pool, stride=stride))


def _backward(student, dout, x, w, stride, padding):
    """The student's (dx, dw, db), each checked for shape."""
    call = call_text("conv2d_backward", dout, x, w, stride=stride, padding=padding)
    got = student.conv.conv2d_backward(dout, x, w, stride=stride, padding=padding)
    check(isinstance(got, (tuple, list)) and len(got) == 3, lambda: f"{call} must return a tuple (dx, dw, db)")
    return tuple(array_like(g, like, lambda: f"{name} of {call}")
                 for g, like, name in zip(got, (x, w, w[0, 0, 0]), ("dx", "dw", "db")))  # fmt: skip


# Small shapes: every numerical-gradient entry costs two calls of your conv2d_forward.
GRAD_CONFIGS = [
    pytest.param((2, 3, 4, 1), (2, 3, 1, 2), 1, "valid", id="valid-stride1-batch2"),
    pytest.param((1, 5, 3, 2), (3, 2, 2, 1), 2, "valid", id="valid-stride2"),
    pytest.param((1, 4, 5, 1), (2, 3, 1, 2), 2, "same", id="same-even-kernel-stride2"),
]


@pytest.mark.grades("conv2d_forward", "conv2d_backward")
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GRAD_CONFIGS)
def test_conv_backward_matches_numerical_grad(student, tol, x_shape, w_shape, stride, padding):
    """your conv2d_forward and conv2d_backward agree (the backward is a numerical gradient of your forward)"""
    rng = np.random.default_rng(7)
    x, w, b = rng.uniform(-2, 2, x_shape), rng.uniform(-2, 2, w_shape), rng.uniform(-1, 1, w_shape[3])
    shape = (x_shape[0], out_size(x_shape[1], w_shape[0], stride, padding),
             out_size(x_shape[2], w_shape[1], stride, padding), w_shape[3])  # fmt: skip
    dout = rng.uniform(-1, 1, shape)
    dx, dw, db = _backward(student, dout, x, w, stride, padding)

    def fwd(arg_lists):
        outs = student.conv.conv2d_forward.map(arg_lists, stride=stride, padding=padding)
        return [array_like(out, dout, lambda args=args: call_text("conv2d_forward", *args, stride=stride,
                                                                      padding=padding))
                for args, out in zip(arg_lists, outs)]

    numeric = {
        "dx": numerical_vjp_many(lambda vs: fwd([(v, w, b) for v in vs]), x, dout),
        "dw": numerical_vjp_many(lambda vs: fwd([(x, v, b) for v in vs]), w, dout),
        "db": numerical_vjp_many(lambda vs: fwd([(x, w, v) for v in vs]), b, dout),
    }
    for name, got in zip(("dx", "dw", "db"), (dx, dw, db)):
        # Forward is linear in each argument: central differences are exact up to rounding (~1e-9 relative).
        ok = np.allclose(got, numeric[name], rtol=tol.grad_rel_error, atol=1e-7)
        check(ok, lambda: f"your conv2d_forward and conv2d_backward disagree: {name} of "
                  f"{call_text('conv2d_backward', dout, x, w, stride=stride, padding=padding)} is not the numerical "
                  f"gradient of your conv2d_forward (relative error {rel_error(got, numeric[name]):.2g}, allowed "
                  f"{tol.grad_rel_error:g})",
              hint=lambda: consistency_note(student, "conv", ("conv2d_forward", "conv2d_backward"), tol))


@pytest.mark.grades("conv2d_forward", "conv2d_backward")
@settings(max_examples=15, phases=PHASES)
@given(conv_shapes(), st.integers(0, 2**16))
def test_conv_adjoint_identity(student, tol, c, seed):
    """your conv2d_forward and conv2d_backward agree: sum(dout * conv(x, w)) equals sum(x * dx) and sum(w * dw)"""
    x, w, _, stride, padding = c
    (n, h, wd, _), (kh, kw, _, c_out) = x.shape, w.shape
    shape = (n, out_size(h, kh, stride, padding), out_size(wd, kw, stride, padding), c_out)
    dout = np.random.default_rng(seed).uniform(-1, 1, shape)
    zero_b = np.zeros(c_out)  # conv without bias is linear in x and in w
    y = array_like(student.conv.conv2d_forward(x, w, zero_b, stride=stride, padding=padding), dout,
                   call_text("conv2d_forward", x, w, zero_b, stride=stride, padding=padding))
    dx, dw, _ = _backward(student, dout, x, w, stride, padding)
    lhs, via_x, via_w = float(np.sum(dout * y)), float(np.sum(x * dx)), float(np.sum(w * dw))
    # Each side is a sum of at most this much absolute mass; rounding is ~1e-16 of it.
    scale = float(np.sum(np.abs(dout))) * float(np.max(np.abs(x))) * float(np.sum(np.abs(w))) + 1.0
    for name, val in (("sum(x * dx)", via_x), ("sum(w * dw)", via_w)):
        check(abs(lhs - val) <= tol.rtol * scale,
              lambda: f"your conv2d_forward and conv2d_backward disagree (adjoint identity, stride={stride}, "
              f"padding={padding!r}): sum(dout * conv(x, w)) = {lhs:.10g} but {name} = {val:.10g}",
              hint=lambda: consistency_note(student, "conv", ("conv2d_forward", "conv2d_backward"), tol))


POOL_CONFIGS = [
    pytest.param((1, 4, 5, 2), 2, 2, id="pool2-stride2"),
    pytest.param((1, 4, 5, 1), 2, 1, id="pool2-stride1-overlapping"),
    pytest.param((1, 5, 4, 1), 3, 2, id="pool3-stride2-overlapping"),
]


@pytest.mark.grades("maxpool_forward", "maxpool_backward")
@pytest.mark.parametrize("x_shape, pool, stride", POOL_CONFIGS)
def test_maxpool_backward_matches_numerical_grad(student, tol, x_shape, pool, stride):
    """your maxpool_forward and maxpool_backward agree (the backward is a numerical gradient of your forward, no ties)"""
    rng = np.random.default_rng(11)
    # Distinct values 0.1 apart: the perturbation h = 1e-6 never changes which input is a maximum.
    x = (rng.permutation(int(np.prod(x_shape))).reshape(x_shape) - 10.0) * 0.1
    kw = dict(pool_size=pool, stride=stride)
    dout = rng.uniform(-1, 1, (x_shape[0], out_size(x_shape[1], pool, stride, "valid"),
                               out_size(x_shape[2], pool, stride, "valid"), x_shape[3]))  # fmt: skip
    call = call_text("maxpool_backward", dout, x, **kw)
    got = array_like(student.conv.maxpool_backward(dout, x, **kw), x, call)
    numeric = numerical_vjp_many(
        lambda vs: [array_like(o, dout, lambda v=v: call_text("maxpool_forward", v, **kw))
                    for v, o in zip(vs, student.conv.maxpool_forward.map([(v,) for v in vs], **kw))],
        x, dout)  # fmt: skip
    # Most entries are exactly 0 (not a window maximum): compare with allclose, not relative error.
    check(np.allclose(got, numeric, rtol=tol.grad_rel_error, atol=1e-7),
          lambda: f"your maxpool_forward and maxpool_backward disagree: {call} is not the numerical gradient of your "
          f"maxpool_forward (relative error {rel_error(got, numeric):.2g}, allowed {tol.grad_rel_error:g})",
          hint=lambda: consistency_note(student, "conv", ("maxpool_forward", "maxpool_backward"), tol))


@pytest.mark.grades("maxpool_backward")
@settings(phases=PHASES)
@given(n=st.integers(1, 2), h=st.integers(3, 6), w=st.integers(3, 6), pool=st.sampled_from([2, 3]),
       stride=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_maxpool_gradient_sum(student, tol, n, h, w, pool, stride, seed):
    """without ties, the maxpool gradients add up to sum(dout): each one goes to exactly one input"""
    rng = np.random.default_rng(seed)
    x = rng.permutation(n * h * w * 2).reshape(n, h, w, 2).astype(np.float64)
    dout = rng.uniform(0.5, 1.5, (n, out_size(h, pool, stride, "valid"), out_size(w, pool, stride, "valid"), 2))
    call = call_text("maxpool_backward", dout, x, pool_size=pool, stride=stride)
    dx = array_like(student.conv.maxpool_backward(dout, x, pool_size=pool, stride=stride), x, call)
    check(np.isclose(dx.sum(), dout.sum(), rtol=tol.rtol, atol=tol.atol),
          lambda: f"{call}: the gradients add up to {dx.sum():.6g}, not sum(dout) = {dout.sum():.6g}")


@pytest.mark.grades("conv2d_forward", "conv2d_backward", "maxpool_forward", "maxpool_backward", convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "conv")
