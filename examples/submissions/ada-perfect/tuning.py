"""Hyperparameter tuning and model selection: hold-out and k-fold splits, grid and random search.

Slides: "Regularization" (a validation set to choose what training cannot), "Hyperparameters".

Index arrays are numpy integer arrays (int64, as permutation gives them), in the order the
docstrings state. Every shuffle is np.random.default_rng(seed).permutation(n), as in
optim.minibatches: the same seed gives the same split. The rules are scikit-learn's
(train_test_split, KFold, ParameterGrid), so you can compare with it if you have it installed.

How this file is graded (docs/grading-rules.md): each test grades named functions; the exact
permutation is graded only by the tests about it (the "Graded:" lines below), the others grade
properties: the folds partition range(n), no index is both train and validation, the sizes, the
same seed gives the same split. tune_mlp is graded against YOUR optim.train_mlp: its table must
hold what your train_mlp gives on the folds, so a wrong train_mlp costs nothing here.
Functions must not print.
"""
# This file imports numpy and the standard library, and tune_mlp calls your optim.train_mlp
# (optim.py beside this file) through _train_mlp below; the other functions work without optim.py.
import itertools
import math

import numpy as np


def _train_mlp(x, y, **kwargs):
    """Your optim.train_mlp(x (N, D), y (N,), **kwargs): params {"W1": (D, H), "b1": (H,), "W2": (H, K), "b2": (K,)}."""
    from optim import train_mlp  # imported on first use: without optim.py only tune_mlp fails

    return train_mlp(x, y, **kwargs)


def train_val_split(n, val_fraction, seed=0):
    """Shuffled hold-out split of the indices 0..n-1: (train_idx, val_idx).

    n: int >= 2, val_fraction: float in (0, 1). With perm = np.random.default_rng(seed).permutation(n)
    and n_val = math.ceil(n * val_fraction) (the float product as is, as scikit-learn's
    train_test_split(test_size=val_fraction) rounds the test part up):
    val_idx = perm[:n_val] of shape (n_val,), train_idx = perm[n_val:] of shape (n - n_val,).
    ValueError when no training index would be left (n_val >= n).
    Graded: the exact arrays in one public case and one hidden test (the permutation rule); the
    others grade the sizes, that together they are range(n) with nothing in both, and seeding.

    Hint: 10 samples with val_fraction=0.25 give 3 validation indices (2.5 rounded up).
    """
    ### BEGIN SOLUTION
    n_val = math.ceil(n * val_fraction)
    if n_val >= n:
        raise ValueError(f"val_fraction={val_fraction} leaves no training sample out of n={n}")
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_val:], perm[:n_val]
    ### END SOLUTION


def kfold_indices(n, k, seed=0):
    """k-fold cross-validation splits of the indices 0..n-1: a list of k pairs (train_idx, val_idx).

    n, k: ints with 2 <= k <= n (else ValueError). perm = np.random.default_rng(seed).permutation(n)
    is cut into k consecutive folds; as scikit-learn's KFold, the first n % k folds hold n // k + 1
    indices and the others n // k. Pair i: val_idx = fold i, shape (size_i,), in the permutation's
    order, and train_idx = the permutation without fold i, shape (n - size_i,):
    np.concatenate([perm[:start], perm[stop:]]). The validation folds partition range(n).
    Graded: the exact arrays in one public case and one hidden test (the permutation rule); the
    others grade the fold sizes, the partition, no index in both parts, and seeding.

    Hint: n=10, k=3 gives validation folds of 4, 3 and 3 indices; none is dropped.
    """
    ### BEGIN SOLUTION
    if not 2 <= k <= n:
        raise ValueError(f"need 2 <= k <= n, got n={n}, k={k}")
    perm = np.random.default_rng(seed).permutation(n)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    folds, start = [], 0
    for size in sizes:
        stop = start + size
        folds.append((np.concatenate([perm[:start], perm[stop:]]), perm[start:stop]))
        start = stop
    return folds
    ### END SOLUTION


def param_grid(space):
    """Every combination of the hyperparameter values of a grid search, as a list of dicts.

    space: dict name -> non-empty list of values, e.g. {"lr": [0.01, 0.1], "hidden": [8, 16]}.
    Returns a list (P,) of P = prod(len(values)) dicts {name: value}, in ParameterGrid's order: the names
    sorted, and the LAST sorted name varying fastest (like nested loops, or itertools.product):
    [{"hidden": 8, "lr": 0.01}, {"hidden": 8, "lr": 0.1}, {"hidden": 16, "lr": 0.01}, ...].
    An empty space gives [{}] (one configuration: all defaults).

    Hint: itertools.product(*[space[name] for name in sorted(space)]).
    """
    ### BEGIN SOLUTION
    names = sorted(space)
    return [dict(zip(names, values)) for values in itertools.product(*(space[name] for name in names))]
    ### END SOLUTION


def random_search_space(space, n_iter, seed=0):
    """n_iter configurations of a random search, as a list of dicts {name: value}.

    space: dict name -> one of
      a list of values        -> one of them, uniformly: values[rng.integers(len(values))]
      a tuple (low, high)     -> a float, uniform: float(rng.uniform(low, high))
      (low, high, "log")      -> a float, log-uniform (0 < low): float(np.exp(rng.uniform(np.log(low), np.log(high))))
    All draws come from one rng = np.random.default_rng(seed), configuration after configuration,
    and within one configuration name by name in sorted order.
    Graded: these exact draws (this order), plus properties: values in range, log ranges spread
    evenly over the decades, the same seed the same configurations.

    Hint: a learning rate from (1e-4, 1e-1, "log") is as likely to fall in [1e-4, 1e-3] as in
    [1e-2, 1e-1]; a plain uniform draw would almost never try the small ones. rng.choice(values)
    draws the same index but returns a numpy scalar (np.str_ for "adam"), not the value as given.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(n_iter):
        config = {}
        for name in sorted(space):
            spec = space[name]
            if isinstance(spec, list):
                config[name] = spec[rng.integers(len(spec))]
            elif len(spec) == 3 and spec[2] == "log":
                config[name] = float(np.exp(rng.uniform(np.log(spec[0]), np.log(spec[1]))))
            else:
                config[name] = float(rng.uniform(spec[0], spec[1]))
        configs.append(config)
    return configs
    ### END SOLUTION


def select_best(scores, mode="max"):
    """The index (an int) of the best score in scores, a sequence of shape (N,), N >= 1.

    mode "max": the largest score is best (accuracy); "min": the smallest (a loss); on ties, the
    FIRST best index (as np.argmax / np.argmin). ValueError for another mode.

    Hint: with mode="min" a list of validation losses gives the epoch to keep.
    """
    ### BEGIN SOLUTION
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    scores = np.asarray(scores, dtype=np.float64)
    return int(np.argmax(scores) if mode == "max" else np.argmin(scores))
    ### END SOLUTION


def tune_mlp(x, y, space, k=3, seed=0):
    """Grid search with k-fold cross-validation of your optim.train_mlp: (best_params, table).

    x: (N, D) features, y: (N,) integer labels; space: as param_grid's, names of train_mlp's
    keyword arguments other than seed (e.g. {"hidden": [4, 8], "lr": [0.01]}).
    The folds are kfold_indices(N, k, seed). For each configuration params of param_grid(space),
    in that order, and each fold (train_idx, val_idx) in order:
        trained = _train_mlp(x[train_idx], y[train_idx], seed=seed, **params)
        score   = mean(argmax(relu(x[val_idx] @ W1 + b1) @ W2 + b2, axis=1) == y[val_idx])
    (the validation accuracy of trained's ReLU MLP, a float in [0, 1]).
    table: a list with one dict per configuration, in param_grid order:
        {"params": params, "scores": [k fold accuracies, in fold order],
         "mean": float mean of the scores, "std": float population std of the scores (ddof=0, np.std)}
    best_params: the params of the row with the largest mean, the first such row on ties
    (select_best(means, "max")).
    Graded: against your own train_mlp on the same folds (yours or the reference's), so only
    tune_mlp's own work counts here: the scores, then mean and std of your scores, then the choice.

    Hint: np.std's default is the population std (ddof=0); statistics.stdev is ddof=1.
    """
    ### BEGIN SOLUTION
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    folds = kfold_indices(x.shape[0], k, seed)
    table = []
    for params in param_grid(space):
        scores = []
        for train_idx, val_idx in folds:
            trained = _train_mlp(x[train_idx], y[train_idx], seed=seed, **params)
            hidden = np.maximum(x[val_idx] @ trained["W1"] + trained["b1"], 0.0)
            logits = hidden @ trained["W2"] + trained["b2"]
            scores.append(float(np.mean(np.argmax(logits, axis=1) == y[val_idx])))
        table.append({"params": params, "scores": scores, "mean": float(np.mean(scores)),
                      "std": float(np.std(scores))})
    best = select_best([row["mean"] for row in table], "max")
    return table[best]["params"], table
    ### END SOLUTION
