"""The catalogue of classic mistakes, evaluated in the trusted process on a failing input.

Each entry re-creates one mistake from the reference's pieces; when a student's output
equals that mistake's output, and no other mistake with another hint gives it too, the feedback
names the mistake and how to fix it (expect.matching_hint). One module per exercise registers
its entries with `@mistake(module, function, hint)`; `covers` names entries of the same function
whose hint this one's replaces where both give the same output (e.g. taking log(softmax) in two
steps is also what an unshifted softmax does on an input that only underflows).
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MODULES = ("activations", "perceptron", "losses", "backprop", "optim", "regularization", "conv", "augment", "tuning")


@dataclass(frozen=True)
class Mistake:
    """A known wrong way to write `module.function`, and the hint for it."""

    module: str
    function: str
    name: str
    hint: str
    fn: Callable[..., Any]
    covers: tuple[str, ...] = ()


CATALOGUE: dict[tuple[str, str], list[Mistake]] = {}


def mistake(module: str, function: str, hint: str, covers: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Register a function computing what the mistaken code returns (same signature as the real one)."""

    def register(fn: Callable) -> Callable:
        CATALOGUE.setdefault((module, function), []).append(Mistake(module, function, fn.__name__, hint, fn,
                                                                    tuple(covers)))
        return fn

    return register


_loaded = False


def _load() -> None:
    global _loaded
    _loaded = True
    for name in MODULES:
        try:
            importlib.import_module(f"autograder.mistakes.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"autograder.mistakes.{name}":
                raise


def hints_for(module: str, function: str, args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    """[(hint, mistaken output)] for every catalogued mistake that runs on these inputs.

    An entry covered by another one (`covers`) is left out where both give the same output.
    """
    from autograder.suites.feedback import difference

    if not _loaded:
        _load()
    found: list[tuple[Mistake, Any]] = []
    for m in CATALOGUE.get((module, function), []):
        try:
            with np.errstate(all="ignore"):
                value = m.fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        except Exception:  # a mistake that cannot run on this input simply does not match
            continue
        found.append((m, value))
    return [(m.hint, value) for m, value in found
            if not any(m.name in c.covers and difference(value, v, 1e-9, 1e-12) is None for c, v in found)]
