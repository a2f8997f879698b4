"""The catalogue of classic mistakes, evaluated in the trusted process on a failing input.

Each entry re-creates one mistake from the reference's pieces; when a student's output
equals that mistake's output, the feedback names the mistake and how to fix it. One module
per exercise registers its entries with `@mistake(module, function, hint)`.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MODULES = ("activations", "perceptron", "losses", "backprop", "optim", "regularization", "conv")


@dataclass(frozen=True)
class Mistake:
    """A known wrong way to write `module.function`, and the hint for it."""

    module: str
    function: str
    name: str
    hint: str
    fn: Callable[..., Any]


CATALOGUE: dict[tuple[str, str], list[Mistake]] = {}


def mistake(module: str, function: str, hint: str) -> Callable[[Callable], Callable]:
    """Register a function computing what the mistaken code returns (same signature as the real one)."""

    def register(fn: Callable) -> Callable:
        CATALOGUE.setdefault((module, function), []).append(Mistake(module, function, fn.__name__, hint, fn))
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
    """[(hint, mistaken output)] for every catalogued mistake that runs on these inputs."""
    if not _loaded:
        _load()
    out = []
    for m in CATALOGUE.get((module, function), []):
        try:
            with np.errstate(all="ignore"):
                value = m.fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        except Exception:  # a mistake that cannot run on this input simply does not match
            continue
        out.append((m.hint, value))
    return out
