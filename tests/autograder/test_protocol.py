"""autograder.inside.protocol: plain-data round trips, refusals, and hostile bytes."""
import json
import os
import struct
import time
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from autograder.inside import protocol as P
from autograder.inside.protocol import ProtocolError, TooLargeError, UnserializableError


def roundtrip(obj, **caps):
    return P.decode(P.encode(obj, **caps), **caps)


def payload(header, *buffers: bytes) -> bytes:
    """A hand-made payload: signature, header JSON, 16-byte aligned buffers."""
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    out = bytearray(P.MAGIC + struct.pack("<I", len(text)) + text)
    for buf in buffers:
        out += bytes(-len(out) % 16)
        out += buf
    return bytes(out)


# --- round trips -------------------------------------------------------------------

def test_nested_value_keeps_types():
    value = {"a": (1, -2.5, None, True, "ü€", [3 + 4j, False]), "b": [], "c": (), "d": {}}
    out = roundtrip(value)
    assert out == value
    assert type(out["a"]) is tuple and type(out["a"][5]) is list and type(out["c"]) is tuple
    assert type(out["a"][0]) is int and type(out["a"][3]) is bool


def test_dict_that_looks_like_a_tag_is_still_a_dict():
    # User dicts are always wrapped, so a key named like a tag cannot be misread.
    value = {"a": ["|f8", [2], 0], "t": [1], "d": {"c": [1, 2]}}
    assert roundtrip(value) == value


def test_numpy_scalars_become_python_numbers():
    out = roundtrip([np.float64(1.5), np.float32(0.25), np.int64(-7), np.uint8(200), np.bool_(True),
                     np.complex128(1 - 2j)])
    assert out == [1.5, 0.25, -7, 200, True, 1 - 2j]
    assert [type(v) for v in out] == [float, float, int, int, bool, complex]


def test_special_floats_survive_bit_for_bit():
    out = roundtrip([float("nan"), float("inf"), -float("inf"), -0.0, 5e-324, 1.7976931348623157e308])
    assert np.isnan(out[0]) and out[1:3] == [float("inf"), -float("inf")]
    assert [struct.pack("<d", v) for v in out[3:]] == [struct.pack("<d", v)
                                                       for v in (-0.0, 5e-324, 1.7976931348623157e308)]


@given(hnp.arrays(dtype=st.sampled_from(["f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u1",
                                         "c16", "c8", "?", ">f8", ">i4"]),
                  shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_arrays_roundtrip_exactly(arr):
    out = roundtrip({"x": arr})["x"]
    assert type(out) is np.ndarray
    assert out.shape == arr.shape
    assert out.dtype == arr.dtype.newbyteorder("=")  # sent little-endian, same kind and size
    assert out.tobytes() == arr.astype(out.dtype).tobytes()  # bit-exact, NaN payloads included
    assert out.flags.writeable and out.flags.c_contiguous


def test_non_contiguous_views_are_sent_as_their_values():
    base = np.arange(24.0).reshape(4, 6)
    for view in (base.T, base[::2, 1::3], base[:, ::-1]):
        np.testing.assert_array_equal(roundtrip(view), view)


def test_several_arrays_keep_their_order_and_alignment():
    arrays = [np.arange(3, dtype="u1"), np.arange(5.0), np.ones((2, 2), dtype="c16"), np.array(7)]
    out = roundtrip(arrays)
    for a, b in zip(arrays, out):
        np.testing.assert_array_equal(a, b)
        assert b.dtype == a.dtype and b.flags.aligned


def test_decoding_bytes_gives_writable_arrays():
    out = P.decode(bytes(P.encode(np.arange(4.0))))
    out[0] = 9.0
    assert out[0] == 9.0


# --- refused on encode ----------------------------------------------------------------

class Thing:
    pass


class MyArray(np.ndarray):
    pass


class Lazy:
    """A value built inside the test (np.matrix warns when created)."""

    def __init__(self, make):
        self.make = make


def matrix():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix warns on creation
        return np.matrix([[1.0]])


@pytest.mark.parametrize("value, words", [
    (np.array([1, "a"], dtype=object), "object arrays"),
    (np.array(["a", "b"]), "string arrays"),
    (np.zeros(2, dtype=[("a", "f8")]), "structured"),
    (np.zeros(2, dtype="M8[s]"), "datetime"),
    (np.zeros(2, dtype=np.longdouble), "float128"),
    (Lazy(matrix), "subclass of numpy.ndarray"),
    (Lazy(lambda: np.zeros(3).view(MyArray)), "MyArray is a subclass"),
    (np.ma.masked_array([1.0, 2.0]), "subclass of numpy.ndarray"),
    (Thing(), "Thing"),
    (lambda x: x, "a function"),
    (Thing, "a class"),
    ({1: 2}, "only str keys"),
    (b"bytes", "bytes"),
    ({1, 2}, "set"),
    ("\ud800", "surrogate"),
    (2 ** 5000, "bits"),
    (np.datetime64("2020-01-01"), "datetime64"),
])
def test_unsupported_values_are_refused_with_a_reason(value, words):
    if isinstance(value, Lazy):
        value = value.make()
    with pytest.raises(UnserializableError, match=words):
        P.encode([value])


def test_error_names_where_the_bad_value_is():
    with pytest.raises(UnserializableError, match=r"value\[1\]\['w'\]"):
        P.encode([1, {"w": object()}])


def test_broadcast_view_of_a_trillion_elements_is_refused_without_allocating():
    view = np.broadcast_to(np.float64(1.0), (10**6, 10**6))
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError, match="7.28 TiB"):
            P.encode(view)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # nothing near the array's size was materialised


def test_message_cap_applies_to_the_sum_of_arrays():
    with pytest.raises(TooLargeError):
        P.encode([np.zeros(600), np.zeros(600)], max_bytes=8 * 1024)
    assert len(P.encode([np.zeros(400), np.zeros(400)], max_bytes=8 * 1024)) <= 8 * 1024


def test_depth_and_string_caps():
    deep = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(UnserializableError, match="nested deeper"):
        P.encode(deep, max_depth=32)
    with pytest.raises(TooLargeError, match="string"):
        P.encode("x" * 101, max_str=100)
    with pytest.raises(TooLargeError, match="values"):
        P.encode([0] * (P.MAX_NODES + 1))


# --- hostile bytes on decode ----------------------------------------------------------

def test_every_truncation_of_a_valid_message_is_a_protocol_error():
    good = P.encode({"x": np.arange(5.0), "y": ("a", 2)})
    for cut in range(len(good)):
        with pytest.raises(ProtocolError):
            P.decode(good[:cut])


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_protocol_error(data):
    for blob in (data, P.MAGIC + data):
        try:
            P.decode(blob)
        except ProtocolError:
            pass


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_corrupted_bytes_never_raise_anything_else(seed, byte):
    good = bytearray(P.encode({"x": np.arange(6.0).reshape(2, 3), "s": "text", "t": (1, None)}))
    good[seed % len(good)] = byte
    try:
        P.decode(good)
    except ProtocolError:
        pass


@pytest.mark.parametrize("header, buffers, words", [
    ({"a": ["<f8", [3], 0]}, [b"\0" * 16], "more than the message holds"),  # shape > buffer
    ({"a": ["<f8", [1], 0]}, [b"\0" * 16], "unexpected bytes"),  # shape < buffer
    ({"a": ["<f8", [10**6, 10**6], 0]}, [b"\0" * 8], "more than the message holds"),
    ({"a": ["<f8", [-1], 0]}, [], "shape"),
    ({"a": ["<f8", [True], 0]}, [b"\0" * 8], "shape"),
    ({"a": ["<f8", [1] * 40, 0]}, [b"\0" * 8], "shape"),
    ({"a": ["|O8", [1], 0]}, [b"\0" * 8], "not allowed"),
    ({"a": ["<U1", [1], 0]}, [b"\0" * 8], "not allowed"),
    ({"a": ["<f8", [1], 1]}, [b"\0" * 8], "out of order"),
    ({"t": [{"a": ["<f8", [1], 0]}, {"a": ["<f8", [1], 0]}]}, [b"\0" * 8] * 2, "out of order"),
    ({"x": 1}, [], "malformed"),
    ({"a": 1, "t": 2}, [], "unexpected JSON object"),
    ({"c": [1, "2"]}, [], "malformed"),
    ({"d": [1]}, [], "malformed"),
])
def test_crafted_headers_are_rejected(header, buffers, words):
    with pytest.raises(ProtocolError, match=words):
        P.decode(payload(header, *buffers))


def test_header_length_beyond_the_message_is_rejected():
    with pytest.raises(ProtocolError, match="header length"):
        P.decode(P.MAGIC + struct.pack("<I", 2**32 - 1) + b"{}")
    with pytest.raises(ProtocolError, match="signature"):
        P.decode(b"XXXX" + struct.pack("<I", 2) + b"{}")


def test_deep_json_nesting_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        P.decode(payload(b"[" * 200_000 + b"]" * 200_000))
    with pytest.raises(ProtocolError, match="nested deeper"):
        P.decode(payload([[[[1]]]]), max_depth=2)


def test_invalid_utf8_and_oversized_strings_in_the_header():
    with pytest.raises(ProtocolError):
        P.decode(payload(b'"\xff\xfe"'))
    with pytest.raises(TooLargeError):
        P.decode(payload("y" * 50), max_str=10)
    with pytest.raises(ProtocolError):
        P.decode(payload(b"1" * 10000))  # over Python's int-string limit


def test_decode_cap_on_the_whole_message():
    data = P.encode(np.zeros(1000))
    with pytest.raises(TooLargeError):
        P.decode(data, max_bytes=len(data) - 1)
    assert P.decode(data, max_bytes=len(data)).shape == (1000,)


# --- frames over pipes --------------------------------------------------------------

@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def test_send_recv_over_a_pipe(pipe):
    r, w = pipe
    P.send(w, {"x": np.arange(3.0)})
    P.send(w, "second")
    assert P.recv(r)["x"].tolist() == [0.0, 1.0, 2.0]
    assert P.recv(r) == "second"


def test_frame_length_over_the_cap_is_refused_from_the_prefix(pipe):
    r, w = pipe
    os.write(w, struct.pack(">Q", 2**62))
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError):
            P.recv(r, max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 16


def test_eof_mid_frame_and_clean_eof(pipe):
    r, w = pipe
    data = P.encode("hello")
    os.write(w, struct.pack(">Q", len(data)) + data[:5])
    os.close(w)
    with pytest.raises(EOFError):
        P.recv(r)
    with pytest.raises(EOFError):
        P.recv(r)


def test_recv_times_out_on_a_silent_pipe(pipe):
    r, _ = pipe
    os.set_blocking(r, False)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        P.recv(r, deadline=time.monotonic() + 0.2)
    assert 0.15 < time.monotonic() - start < 2.0
