"""Plain-data messages between the trusted grader and the sandboxed worker.

Standalone on purpose (stdlib + numpy only): this file is copied into the
sandbox next to ``worker.py`` and must not import ``autograder`` or ``dlref``.

What crosses: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``,
numpy arrays of a numeric or bool dtype (exact ``numpy.ndarray``, no
subclasses), numpy scalars (sent as Python numbers), and ``list``, ``tuple``
and ``dict`` (``str`` keys) of those; tuples stay tuples. Nothing else, and
never pickle: decoding only ever builds these types.

Wire format. A *frame* is an 8-byte big-endian length followed by a *payload*::

    payload = b"DLG1" | u32 little-endian header length H | header (H bytes, JSON)
              | array buffers, each starting at a multiple of 16 bytes

The JSON header holds the value with tagged objects (every JSON object is a
tag, so a user dict can never be mistaken for one): ``{"t": [...]}`` tuple,
``{"d": {...}}`` dict, ``{"c": [re, im]}`` complex,
``{"a": [dtype, shape, index]}`` array ``index`` (arrays numbered in order,
their little-endian C-order bytes laid out one after another).

Threat model: the worker side is hostile. ``decode`` checks every length
against the caps before allocating (a frame over ``max_bytes`` is refused
from its 8-byte prefix), the shape product must match the buffer exactly,
there is a depth cap, a string-length cap and a header-size cap, and every
malformed input raises ``ProtocolError`` (``TooLargeError`` when it is only
too big) and nothing else. ``encode`` refuses arrays from their logical size
(``arr.size * arr.itemsize``) before copying anything, so a 10**12-element
``np.broadcast_to`` view is refused without allocating.
"""
from __future__ import annotations

import json
import os
import select
import struct
import time

import numpy as np

MAGIC = b"DLG1"
DEFAULT_MAX_BYTES = 256 << 20
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_STR = 1 << 20
MAX_HEADER = 16 << 20
MAX_NODES = 1_000_000
MAX_NDIM = 32
MAX_INT_BITS = 1024
_ALIGN = 16
_PREFIX = struct.Struct(">Q")
_HLEN = struct.Struct("<I")

# Little-endian dtype strings accepted on the wire; anything else is refused.
ALLOWED_DTYPES = frozenset({
    "|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8",
    "<f2", "<f4", "<f8", "<c8", "<c16",
})


class ProtocolError(Exception):
    """A message that cannot be encoded or decoded; the text says why."""


class TooLargeError(ProtocolError):
    """A message over one of the size caps."""


class UnserializableError(ProtocolError):
    """A value of a type that cannot cross (object arrays, classes, functions...)."""


def format_bytes(n: int) -> str:
    """Human-readable size: 1536 -> '1.5 KiB'."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _align(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _type_name(x: object) -> str:
    # Never repr() a hostile object: only its type's names are read.
    t = type(x)
    if callable(x) and t.__name__ in ("function", "builtin_function_or_method", "method"):
        return "a function"
    if isinstance(x, type):
        return "a class"
    mod = getattr(t, "__module__", "") or ""
    name = getattr(t, "__qualname__", t.__name__)
    full = name if mod in ("builtins", "__main__") else f"{mod}.{name}"
    return f"an object of type {full}"


def _where(path) -> str:
    """The text of a path built as (parent, key) pairs: ("value", 0), "x") -> "value[0]['x']"."""
    keys = []
    while type(path) is tuple:
        path, key = path
        keys.append(f"[{key!r}]")
    return path + "".join(reversed(keys))


def _wire_dtype(dt: np.dtype):
    """(little-endian dtype, its string) for an array dtype that may cross, or (None, reason)."""
    if dt.kind not in "biufc" or dt.fields is not None or dt.subdtype is not None:
        return None, {"O": "object arrays", "U": "string arrays", "S": "bytes arrays",
                      "V": "structured (void) arrays", "M": "datetime arrays",
                      "m": "timedelta arrays"}.get(dt.kind, f"arrays of dtype {dt}") + \
            " are not supported; use a numeric dtype"
    wire = dt.newbyteorder("<")
    if wire.str not in ALLOWED_DTYPES:
        return None, f"arrays of dtype {dt} are not supported"
    return wire, wire.str


_WIRE: dict = {}  # dtype -> _wire_dtype(dtype): a message holds many arrays of a few dtypes


class _Encoder:
    # Paths of values (for the error messages) are (parent, key) pairs, rendered only on error.
    def __init__(self, max_bytes: int, max_depth: int, max_str: int):
        self.max_bytes, self.max_depth, self.max_str = max_bytes, max_depth, max_str
        self.arrays: list[np.ndarray] = []
        self.data_bytes = 0
        self.nodes = 0

    def node(self, x, depth: int, path):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise TooLargeError(f"{_where(path)}: more than {MAX_NODES:,} values in lists/tuples/dicts; "
                                "use numpy arrays for bulk data")
        if depth > self.max_depth:
            raise UnserializableError(f"{_where(path)}: nested deeper than {self.max_depth} levels")
        t = type(x)
        if x is None or t is bool or t is float:
            return x
        if t is np.ndarray:
            return self.array(x, path)
        if t is int:
            if x.bit_length() > MAX_INT_BITS:
                raise UnserializableError(f"{_where(path)}: integer with more than {MAX_INT_BITS} bits")
            return x
        if t is str:
            return self.string(x, path)
        if t is list:
            return [self.node(v, depth + 1, (path, i)) for i, v in enumerate(x)]
        if t is tuple:
            return {"t": [self.node(v, depth + 1, (path, i)) for i, v in enumerate(x)]}
        if t is dict:
            out = {}
            for k, v in x.items():
                if type(k) is not str:
                    raise UnserializableError(f"{_where(path)}: dict key of type {type(k).__name__}; "
                                              "only str keys are supported")
                self.string(k, path)
                out[k] = self.node(v, depth + 1, (path, k))
            return {"d": out}
        if t is complex:
            return {"c": [x.real, x.imag]}
        if isinstance(x, np.generic):
            return self.scalar(x, path)
        if isinstance(x, np.ndarray):
            raise UnserializableError(
                f"{_where(path)}: {t.__module__}.{t.__name__} is a subclass of numpy.ndarray, which is not "
                "supported; use a plain array (numpy.asarray)")
        raise UnserializableError(
            f"{_where(path)} is {_type_name(x)}; only numbers, strings, None, numpy arrays "
            "and lists/tuples/dicts of those are supported")

    def string(self, s: str, path) -> str:
        if len(s) > self.max_str:
            raise TooLargeError(f"{_where(path)}: string of {len(s):,} characters (limit {self.max_str:,})")
        if not s.isascii():
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                raise UnserializableError(f"{_where(path)}: string is not valid Unicode (lone surrogate)") from None
        return s

    def scalar(self, x: np.generic, path):
        if isinstance(x, np.bool_):
            return bool(x)
        if isinstance(x, np.integer):
            return int(x)
        if isinstance(x, np.floating) and x.dtype.itemsize <= 8:
            return float(x)
        if isinstance(x, np.complexfloating) and x.dtype.itemsize <= 16:
            return {"c": [float(x.real), float(x.imag)]}
        raise UnserializableError(f"{_where(path)}: numpy scalar of dtype {x.dtype} is not supported")

    def array(self, x: np.ndarray, path):
        dt = x.dtype
        try:
            wire, name = _WIRE[dt]
        except KeyError:
            wire, name = _WIRE[dt] = _wire_dtype(dt)
        except TypeError:  # an unhashable dtype: not one that may cross
            wire, name = _wire_dtype(dt)
        if wire is None:
            raise UnserializableError(f"{_where(path)}: {name}")
        if x.ndim > MAX_NDIM:
            raise UnserializableError(f"{_where(path)}: array with {x.ndim} dimensions (limit {MAX_NDIM})")
        # Logical size, computed before anything is copied: broadcast views are caught here.
        nbytes = x.size * wire.itemsize
        self.data_bytes += _align(nbytes)
        if self.data_bytes > self.max_bytes:
            raise TooLargeError(
                f"{_where(path)}: array of shape {tuple(x.shape)} and dtype {dt} is {format_bytes(nbytes)}, "
                f"over the {format_bytes(self.max_bytes)} message limit")
        index = len(self.arrays)
        ready = dt == wire and x.flags.c_contiguous  # what np.require would return as it is
        self.arrays.append(x if ready else np.require(x, dtype=wire, requirements="C"))
        return {"a": [name, list(x.shape), index]}


def encode_parts(obj, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH,
                 max_str: int = DEFAULT_MAX_STR) -> list:
    """Payload of `obj` as a list of byte chunks (arrays are not copied again)."""
    enc = _Encoder(max_bytes, max_depth, max_str)
    root = enc.node(obj, 0, "value")
    try:
        header = json.dumps(root, allow_nan=True, ensure_ascii=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError) as e:
        raise UnserializableError(f"value cannot be encoded: {e}") from None
    if len(header) > MAX_HEADER:
        raise TooLargeError(f"the non-array part of the value is {format_bytes(len(header))} "
                            f"(limit {format_bytes(MAX_HEADER)}); use numpy arrays for bulk data")
    parts: list = [MAGIC, _HLEN.pack(len(header)), header]
    pos = len(MAGIC) + _HLEN.size + len(header)
    for arr in enc.arrays:
        pad = _align(pos) - pos
        if pad:
            parts.append(bytes(pad))
        raw = arr.reshape(-1).view(np.uint8)
        parts.append(memoryview(raw))
        pos += pad + raw.nbytes
    if pos > max_bytes:
        raise TooLargeError(f"message of {format_bytes(pos)} is over the "
                            f"{format_bytes(max_bytes)} limit")
    return parts


def encode(obj, **caps) -> bytes:
    """Payload bytes for `obj` (see the module docstring for what is accepted)."""
    return b"".join(encode_parts(obj, **caps))


_DTYPES = {name: np.dtype(name) for name in ALLOWED_DTYPES}


class _Decoder:
    def __init__(self, mv: memoryview, data_start: int, max_depth: int, max_str: int):
        self.mv, self.pos = mv, data_start
        self.max_depth, self.max_str = max_depth, max_str
        self.count = 0
        self.readonly = mv.readonly

    def node(self, x, depth: int):
        if depth > self.max_depth:
            raise ProtocolError(f"message nested deeper than {self.max_depth} levels")
        t = type(x)
        if x is None or t is bool or t is int or t is float:
            return x
        if t is str:
            if len(x) > self.max_str:
                raise TooLargeError(f"string of {len(x):,} characters (limit {self.max_str:,})")
            return x
        if t is list:
            return [self.node(v, depth + 1) for v in x]
        if t is not dict or len(x) != 1:
            raise ProtocolError("unexpected JSON object in message")
        (tag, v), = x.items()
        if tag == "a" and type(v) is list and len(v) == 3:
            return self.array(*v)
        if tag == "t" and type(v) is list:
            return tuple([self.node(e, depth + 1) for e in v])
        if tag == "d" and type(v) is dict:
            out = {}
            for k, e in v.items():
                if len(k) > self.max_str:
                    raise TooLargeError(f"dict key of {len(k):,} characters")
                out[k] = self.node(e, depth + 1)
            return out
        if tag == "c" and type(v) is list and len(v) == 2 and all(type(e) in (int, float) for e in v):
            return complex(v[0], v[1])
        raise ProtocolError(f"malformed {tag!r} entry in message")

    def array(self, dtype, shape, index) -> np.ndarray:
        dt = _DTYPES.get(dtype) if type(dtype) is str else None
        if dt is None:
            raise ProtocolError(f"array dtype {str(dtype)[:40]!r} is not allowed")
        if type(shape) is not list or len(shape) > MAX_NDIM:
            raise ProtocolError("malformed array shape")
        count = 1
        for d in shape:
            if type(d) is not int or not 0 <= d < 2**62:
                raise ProtocolError("malformed array shape")
            count *= d
        if type(index) is not int or index != self.count:
            raise ProtocolError("array buffers out of order")
        self.count += 1
        nbytes = count * dt.itemsize
        start = _align(self.pos)
        if start + nbytes > len(self.mv):
            raise ProtocolError(f"array of shape {tuple(shape)} needs {format_bytes(nbytes)}, "
                                "more than the message holds")
        self.pos = start + nbytes
        if count == 0:
            return np.zeros(shape, dtype=dt)
        arr = np.frombuffer(self.mv, dtype=dt, count=count, offset=start).reshape(shape)
        return arr.copy() if self.readonly else arr


def decode(payload, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH,
           max_str: int = DEFAULT_MAX_STR):
    """Value held by `payload` (bytes-like); any malformed input raises ProtocolError."""
    try:
        return _decode(memoryview(payload).cast("B"), max_bytes, max_depth, max_str)
    except ProtocolError:
        raise
    except Exception as e:  # noqa: BLE001 - one error type for every malformed input
        raise ProtocolError(f"malformed message ({type(e).__name__}: {str(e)[:200]})") from None


def _decode(mv: memoryview, max_bytes: int, max_depth: int, max_str: int):
    n = len(mv)
    if n > max_bytes:
        raise TooLargeError(f"message of {format_bytes(n)} is over the {format_bytes(max_bytes)} limit")
    head = len(MAGIC) + _HLEN.size
    if n < head or bytes(mv[:len(MAGIC)]) != MAGIC:
        raise ProtocolError("message does not start with the protocol signature")
    hlen = _HLEN.unpack(mv[len(MAGIC):head])[0]
    if hlen > MAX_HEADER or head + hlen > n:
        raise ProtocolError(f"header length {hlen} does not fit the message")
    text = bytes(mv[head:head + hlen]).decode("utf-8")
    root = json.loads(text)
    dec = _Decoder(mv, head + hlen, max_depth, max_str)
    value = dec.node(root, 0)
    if dec.pos != n:
        raise ProtocolError(f"{n - dec.pos} unexpected bytes after the last array")
    return value


# --- frames over pipes -------------------------------------------------------------

def _wait(fd: int, events: int, deadline: float | None) -> None:
    if deadline is None:
        timeout = None
    else:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            raise TimeoutError("deadline passed")
    poller = select.poll()
    poller.register(fd, events)
    if not poller.poll(None if timeout is None else max(1, int(timeout * 1000) + 1)):
        raise TimeoutError("deadline passed")


_IOV_MAX = 1024  # Linux's limit on chunks per writev


def write_all(fd: int, parts, deadline: float | None = None) -> None:
    """Write every chunk to `fd` (blocking or non-blocking), by `deadline` (time.monotonic).

    One writev per batch of chunks: a message is many small chunks, and a syscall each
    cost more than encoding it.
    """
    views = [v for v in (memoryview(p).cast("B") for p in parts) if len(v)]
    first = 0
    while first < len(views):
        try:
            n = os.writev(fd, views[first:first + _IOV_MAX])
        except BlockingIOError:
            _wait(fd, select.POLLOUT, deadline)
            continue
        while n:
            size = len(views[first])
            if n >= size:
                n -= size
                first += 1
            else:
                views[first] = views[first][n:]
                n = 0


def read_exact(fd: int, buf, deadline: float | None = None) -> bool:
    """Fill `buf` from `fd`; False on EOF before the first byte, EOFError after it."""
    view = memoryview(buf).cast("B")
    pos = 0
    while pos < len(view):
        try:
            n = os.readv(fd, [view[pos:]])
        except BlockingIOError:
            _wait(fd, select.POLLIN, deadline)
            continue
        if n == 0:
            if pos == 0:
                return False
            raise EOFError("the pipe closed in the middle of a message")
        pos += n
    return True


def send(fd: int, obj, *, max_bytes: int = DEFAULT_MAX_BYTES, deadline: float | None = None,
         **caps) -> None:
    """Encode `obj` and write it to `fd` as one frame."""
    parts = encode_parts(obj, max_bytes=max_bytes, **caps)
    total = sum(memoryview(p).nbytes for p in parts)
    write_all(fd, [_PREFIX.pack(total), *parts], deadline)


def recv(fd: int, *, max_bytes: int = DEFAULT_MAX_BYTES, deadline: float | None = None, **caps):
    """Read one frame from `fd` and decode it; EOFError when the pipe is closed."""
    prefix = bytearray(_PREFIX.size)
    if not read_exact(fd, prefix, deadline):
        raise EOFError("the pipe is closed")
    (length,) = _PREFIX.unpack(prefix)
    if length > max_bytes:
        # Refused from the prefix alone: nothing of that size is allocated.
        raise TooLargeError(f"message of {format_bytes(length)} is over the "
                            f"{format_bytes(max_bytes)} limit")
    body = bytearray(length)
    if not read_exact(fd, body, deadline) and length:
        raise EOFError("the pipe closed in the middle of a message")
    return decode(body, max_bytes=max_bytes, **caps)
