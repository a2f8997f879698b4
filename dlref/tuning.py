"""Hyperparameter tuning: hold-out and k-fold splits, grid and random search spaces, cross-validated MLP tuning.

The index rules are scikit-learn's (validated in tests/dlref/test_tuning.py): train_test_split's
sizes (the validation part is ceil(n * val_fraction)), KFold's fold sizes (the first n % k folds
one larger) and ParameterGrid's order (keys sorted, the last one varying fastest). The shuffle is
`np.random.default_rng(seed).permutation(n)`, as optim.minibatches'.
"""
from __future__ import annotations

import itertools
import math
import numbers
from typing import Any, Callable

import numpy as np

from dlref.backprop import mlp_forward
from dlref.optim import train_mlp

MODES = ("max", "min")


def _count(n: Any, name: str, low: int) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {n!r}")
    return int(n)


def train_val_split(n: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train (n - n_val,), val (n_val,)) int64 indices: val is the first n_val = ceil(n * val_fraction) of the permutation.

    The permutation is default_rng(seed).permutation(n); train is the rest of it, in its order
    (scikit-learn's ShuffleSplit / train_test_split with test_size=val_fraction, same sizes).
    """
    n = _count(n, "n", 2)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real) or not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
    n_val = math.ceil(n * float(val_fraction))  # float64 product, as scikit-learn computes it
    if n_val >= n:
        raise ValueError(f"val_fraction={val_fraction} leaves no training sample out of n={n}")
    order = np.random.default_rng(seed).permutation(n)
    return order[n_val:], order[:n_val]


def fold_sizes(n: int, k: int) -> list[int]:
    """KFold's sizes (k,): n // k each, the first n % k folds one more."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def kfold_indices(n: int, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k pairs (train, val) of int64 index arrays: val is fold i, consecutive pieces of default_rng(seed).permutation(n).

    Fold sizes as KFold (fold_sizes); train is the permutation without fold i, in its order:
    concatenate(perm[:start], perm[stop:]). The validation folds partition range(n).
    """
    n, k = _count(n, "n", 2), _count(k, "k", 2)
    if k > n:
        raise ValueError(f"k={k} folds need at least k samples, got n={n}")
    order = np.random.default_rng(seed).permutation(n)
    out, start = [], 0
    for size in fold_sizes(n, k):
        stop = start + size
        out.append((np.concatenate([order[:start], order[stop:]]), order[start:stop]))
        start = stop
    return out


def _values(space: dict, key: str) -> list:
    values = space[key]
    if not isinstance(values, (list, tuple)) or len(values) == 0:
        raise ValueError(f"space[{key!r}] must be a non-empty list of values, got {values!r}")
    return list(values)


def param_grid(space: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of space's lists as dicts, in ParameterGrid's order: keys sorted, the last key varying fastest."""
    if not isinstance(space, dict):
        raise ValueError(f"space must be a dict of name -> list of values, got {type(space).__name__}")
    keys = sorted(space)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(_values(space, key) for key in keys))]


def _draw(rng: np.random.Generator, key: str, spec: Any) -> Any:
    """One value: a list is a choice (rng.integers(len)); (low, high) uniform; (low, high, "log") log-uniform."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"space[{key!r}] is an empty list")
        return spec[int(rng.integers(len(spec)))]
    if isinstance(spec, tuple) and len(spec) == 2:
        low, high = float(spec[0]), float(spec[1])
        if not low <= high:
            raise ValueError(f"space[{key!r}] = {spec!r}: low must be <= high")
        return float(rng.uniform(low, high))
    if isinstance(spec, tuple) and len(spec) == 3 and spec[2] == "log":
        low, high = float(spec[0]), float(spec[1])
        if not 0.0 < low <= high:
            raise ValueError(f"space[{key!r}] = {spec!r}: a log range needs 0 < low <= high")
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    raise ValueError(f"space[{key!r}] must be a list, (low, high) or (low, high, 'log'), got {spec!r}")


def random_search_space(space: dict[str, Any], n_iter: int, seed: int = 0) -> list[dict[str, Any]]:
    """n_iter dicts drawn from one default_rng(seed): per dict, one draw per key in sorted key order (see _draw)."""
    if not isinstance(space, dict):
        raise ValueError(f"space must be a dict, got {type(space).__name__}")
    n_iter = _count(n_iter, "n_iter", 0)
    rng = np.random.default_rng(seed)
    keys = sorted(space)
    return [{key: _draw(rng, key, space[key]) for key in keys} for _ in range(n_iter)]


def select_best(scores, mode: str = "max") -> int:
    """Index (int) of the best of scores (N,), N >= 1: the largest for "max", the smallest for "min"; the first on ties."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D sequence, got shape {scores.shape}")
    return int(np.argmax(scores) if mode == "max" else np.argmin(scores))


def validation_accuracy(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """Mean of argmax(mlp_forward(params, x, "relu")) == y over the rows of x (N, D), y (N,) integer labels."""
    predicted = np.argmax(mlp_forward(params, np.asarray(x, dtype=np.float64), activation="relu"), axis=1)
    return float(np.mean(predicted == np.asarray(y)))


def table_row(params: dict[str, Any], scores: list[float]) -> dict[str, Any]:
    """{"params", "scores" (k fold accuracies), "mean", "std" (population, ddof=0)} of one configuration."""
    scores = [float(s) for s in scores]
    return {"params": dict(params), "scores": scores, "mean": float(np.mean(scores)), "std": float(np.std(scores))}


def tune_mlp(
    x: np.ndarray, y: np.ndarray, space: dict[str, list], k: int = 3, seed: int = 0,
    train: Callable[..., dict[str, np.ndarray]] = train_mlp,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(best params, table): k-fold cross-validation of train over param_grid(space), folds kfold_indices(N, k, seed).

    Each configuration is trained once per fold, train(x[tr], y[tr], seed=seed, **params), and scored
    by validation_accuracy on x[val], y[val]; the table holds table_row per configuration in grid
    order and the best is select_best of the means ("max", the first on ties). x (N, D), y (N,).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (N, D) and y (N,) labels, got {x.shape} and {y.shape}")
    folds = kfold_indices(x.shape[0], k, seed)
    table = []
    for params in param_grid(space):
        if "seed" in params:
            raise ValueError("space must not hold 'seed': every configuration is trained with seed=seed")
        scores = [validation_accuracy(train(x[tr], y[tr], seed=seed, **params), x[va], y[va]) for tr, va in folds]
        table.append(table_row(params, scores))
    best = select_best([row["mean"] for row in table], "max")
    return dict(table[best]["params"]), table
