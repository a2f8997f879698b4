"""Classic mistakes in tuning.py: split sizes and order, fold sizes, grid order, random-search draws, ties."""
import itertools
import math

import numpy as np

from autograder.mistakes import mistake


def _perm(n, seed):
    return np.random.default_rng(seed).permutation(n)


# --- train_val_split ------------------------------------------------------------------------------


ROUND_UP = ("the validation part is rounded UP, as scikit-learn's train_test_split does: n_val = "
            "math.ceil(n * val_fraction), not int() (down) or round() (to the nearest).")


@mistake("tuning", "train_val_split", ROUND_UP)
def split_floor(n, val_fraction, seed=0):
    n_val = int(n * val_fraction)
    perm = _perm(n, seed)
    return perm[n_val:], perm[:n_val]


@mistake("tuning", "train_val_split", ROUND_UP)
def split_round(n, val_fraction, seed=0):
    n_val = round(n * val_fraction)
    perm = _perm(n, seed)
    return perm[n_val:], perm[:n_val]


@mistake("tuning", "train_val_split", "validation is the FIRST n_val indices of the permutation (perm[:n_val]) "
         "and train the rest (perm[n_val:]).")
def split_val_last(n, val_fraction, seed=0):
    n_val = math.ceil(n * val_fraction)
    perm = _perm(n, seed)
    return perm[:n - n_val], perm[n - n_val:]


@mistake("tuning", "train_val_split", "shuffle first: split np.random.default_rng(seed).permutation(n), not "
         "range(n) in order.")
def split_not_shuffled(n, val_fraction, seed=0):
    n_val = math.ceil(n * val_fraction)
    order = np.arange(n)
    return order[n_val:], order[:n_val]


# --- kfold_indices --------------------------------------------------------------------------------


def _folds(order, sizes, train_all=False):
    out, start = [], 0
    for size in sizes:
        stop = start + size
        train = order if train_all else np.concatenate([order[:start], order[stop:]])
        out.append((train, order[start:stop]))
        start = stop
    return out


def _sizes(n, k):
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


@mistake("tuning", "kfold_indices", "shuffle first: the folds cut np.random.default_rng(seed).permutation(n), not "
         "range(n) in order.")
def kfold_not_shuffled(n, k, seed=0):
    return _folds(np.arange(n), _sizes(n, k))


@mistake("tuning", "kfold_indices", "use np.random.default_rng(seed).permutation(n); the legacy np.random.seed / "
         "RandomState give another order for the same seed.")
def kfold_legacy_rng(n, k, seed=0):
    return _folds(np.random.RandomState(seed).permutation(n), _sizes(n, k))


@mistake("tuning", "kfold_indices", "every index is in exactly one validation fold: with n // k per fold the "
         "n % k remaining ones are never validated. As KFold, give the first n % k folds one more.")
def kfold_remainder_dropped(n, k, seed=0):
    order, size = _perm(n, seed), n // k
    return [(np.concatenate([order[:i * size], order[(i + 1) * size:]]), order[i * size:(i + 1) * size])
            for i in range(k)]


@mistake("tuning", "kfold_indices", "as scikit-learn's KFold, the FIRST n % k folds get one extra index each "
         "(np.array_split does this); the last fold does not take the whole remainder.")
def kfold_remainder_in_last(n, k, seed=0):
    return _folds(_perm(n, seed), [n // k] * (k - 1) + [n - (k - 1) * (n // k)])


@mistake("tuning", "kfold_indices", "train is the permutation WITHOUT the validation fold: an index in both parts "
         "lets the model be scored on samples it was trained on.")
def kfold_val_in_train(n, k, seed=0):
    return _folds(_perm(n, seed), _sizes(n, k), train_all=True)


@mistake("tuning", "kfold_indices", "keep the permutation's order inside each part (perm[start:stop], and "
         "np.concatenate([perm[:start], perm[stop:]])); do not sort them (scikit-learn sorts, the contract does not).")
def kfold_sorted(n, k, seed=0):
    return [(np.sort(train), np.sort(val)) for train, val in _folds(_perm(n, seed), _sizes(n, k))]


# --- param_grid -----------------------------------------------------------------------------------


@mistake("tuning", "param_grid", "the LAST name (in sorted order) varies fastest, as in nested loops or "
         "itertools.product; here the first one does.")
def grid_first_key_fastest(space):
    names = sorted(space)
    combos = itertools.product(*(space[name] for name in reversed(names)))
    return [dict(zip(reversed(names), values)) for values in combos]


@mistake("tuning", "param_grid", "sort the names first (sorted(space)), as ParameterGrid does; the dict's own "
         "order is how it was written, not a rule.")
def grid_unsorted_names(space):
    names = list(space)
    return [dict(zip(names, values)) for values in itertools.product(*(space[name] for name in names))]


# --- random_search_space --------------------------------------------------------------------------


def _search(space, n_iter, seed, log_uniform=True, names=None, by_name=False):
    rng = np.random.default_rng(seed)
    names = sorted(space) if names is None else names

    def draw(spec):
        if isinstance(spec, list):
            return spec[rng.integers(len(spec))]
        if len(spec) == 3 and spec[2] == "log" and log_uniform:
            return float(np.exp(rng.uniform(np.log(spec[0]), np.log(spec[1]))))
        return float(rng.uniform(spec[0], spec[1]))

    if by_name:
        columns = {name: [draw(space[name]) for _ in range(n_iter)] for name in names}
        return [{name: columns[name][i] for name in names} for i in range(n_iter)]
    return [{name: draw(space[name]) for name in names} for _ in range(n_iter)]


@mistake("tuning", "random_search_space", "a (low, high, \"log\") range is drawn log-uniformly: "
         "np.exp(rng.uniform(np.log(low), np.log(high))); a plain uniform draw almost never tries the small values.")
def search_log_as_uniform(space, n_iter, seed=0):
    return _search(space, n_iter, seed, log_uniform=False)


@mistake("tuning", "random_search_space", "draw the names in sorted order (sorted(space)) within each "
         "configuration; the dict's own order is how it was written.")
def search_unsorted_names(space, n_iter, seed=0):
    return _search(space, n_iter, seed, names=list(space))


@mistake("tuning", "random_search_space", "draw configuration by configuration (all names of the first, then the "
         "second, ...), not all values of one name first.")
def search_by_name(space, n_iter, seed=0):
    return _search(space, n_iter, seed, by_name=True)


# --- select_best ----------------------------------------------------------------------------------


@mistake("tuning", "select_best", "on ties the FIRST best index wins (np.argmax / np.argmin do that); "
         "a loop with >= (or <=) keeps the last.")
def best_last_of_ties(scores, mode="max"):
    scores = np.asarray(scores, dtype=np.float64)
    flipped = scores[::-1]
    return int(len(scores) - 1 - (np.argmax(flipped) if mode == "max" else np.argmin(flipped)))


@mistake("tuning", "select_best", "mode=\"max\" keeps the LARGEST score (accuracy), mode=\"min\" the smallest "
         "(a loss); the two are swapped here.")
def best_modes_swapped(scores, mode="max"):
    scores = np.asarray(scores, dtype=np.float64)
    return int(np.argmin(scores) if mode == "max" else np.argmax(scores))
