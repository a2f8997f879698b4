"""The arrays in a call's arguments: copied before the call, compared after it, named only when one changed.

Standalone (stdlib + numpy), shipped beside worker.py. The worker reports an argument the
student's function changed in place by its parameter's name (`params['W1']`); binding every
call's arguments to parameters costs more than many a call, so arrays are found without it
and named only for a change (the rare case).
"""
from __future__ import annotations

import inspect

_SIGNATURES: dict = {}


def _signature(func) -> inspect.Signature:
    """inspect.signature(func), once per function (calls come in thousands); not kept for an unhashable callable."""
    try:
        return _SIGNATURES[func]
    except KeyError:
        signature = _SIGNATURES[func] = inspect.signature(func)
        return signature
    except TypeError:
        return inspect.signature(func)


def _plain(func) -> bool:
    """Whether each argument of a call is a parameter's value as it is (no *args or **kwargs to nest it in)."""
    try:
        kinds = {p.kind for p in _signature(func).parameters.values()}
    except (TypeError, ValueError):
        return True  # labelled by position, each at the top level
    return not kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}


def _walk(label, obj, depth: int, out: list) -> None:
    """(label, array) for every array in obj; labels are built only when `label` is not None."""
    import numpy as np

    if type(obj) is np.ndarray:
        out.append((label, obj))
    elif depth < 8 and isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _walk(None if label is None else f"{label}[{i}]", v, depth + 1, out)
    elif depth < 8 and isinstance(obj, dict):
        for k, v in obj.items():
            _walk(None if label is None else f"{label}[{k!r}]", v, depth + 1, out)


def _labelled(func, args: list, kwargs: dict) -> list:
    """(label, array) for every array in the arguments, labelled by parameter name."""
    try:
        named = list(_signature(func).bind(*args, **kwargs).arguments.items())
    except (TypeError, ValueError):
        named = [(f"args[{i}]", a) for i, a in enumerate(args)] + list(kwargs.items())
    out: list = []
    for label, value in named:
        _walk(label, value, 0, out)
    return out


def snapshots(func, args: list, kwargs: dict) -> list:
    """(array, copy) for every array in the arguments: the arrays _labelled finds, found without binding
    them to parameters (a call's cost, for thousands of calls; the labels are needed only for a change)."""
    out: list = []
    if _plain(func):
        for value in (*args, *kwargs.values()):
            _walk(None, value, 0, out)
    else:
        out = _labelled(func, args, kwargs)
    return [(array, array.copy()) for _, array in out]


def labels(func, args: list, kwargs: dict, changed: list) -> list[str]:
    """The labels of the changed arrays (the same objects as in the arguments), in parameter order."""
    return [label for label, array in _labelled(func, args, kwargs) if any(array is c for c in changed)]


def changed(original, copy) -> bool:
    import numpy as np

    if original.shape != copy.shape or original.dtype != copy.dtype:
        return True
    if original.tobytes() == copy.tobytes():
        return False  # the same bits (the usual case, and the quick test): equal, NaNs included
    try:
        return not np.array_equal(original, copy, equal_nan=True)
    except TypeError:
        return not np.array_equal(original, copy)
