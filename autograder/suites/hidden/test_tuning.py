"""Hidden tests for tuning.py: splits and folds (properties, and the exact permutation), grid and random search
against dlref, ties in select_best, and tune_mlp against the student's own train_mlp.

Each test grades the function of its `grades` marker. The exact permutations are graded only by
test_*_match_reference (the "permutation rule" convention, weight 0.5); the other split tests grade
one property each: sizes, a partition of range(n) with nothing in both parts, seeding.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.suites.common import blobs
from autograder.suites.differential import agree, hint
from autograder.suites.expect import call_text, check
from autograder.suites.feedback import abbrev
from autograder.suites.tuning_table import check_choice, check_mean_std, check_scores, tune_inputs
from dlref import tuning as ref

seeds = st.integers(0, 2**16)
FRACTIONS = [0.1, 0.15, 0.2, 0.25, 0.3, 1 / 3, 0.4, 0.45, 0.6]


def index_arrays(got, call, k=None):
    """[(train, val), ...] of 1-D integer arrays from the student's split (k pairs, or one pair when k is None)."""
    pairs = [got] if k is None else got
    check(isinstance(pairs, (list, tuple)) and (k is None or len(pairs) == k),
          lambda: f"{call} returned {abbrev(got, 3)}; expected a list of {k} pairs (train_idx, val_idx)")
    for p in pairs:
        check(isinstance(p, (tuple, list)) and len(p) == 2
              and all(isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in "iu" for a in p),
              lambda: f"{call} returned {abbrev(p, 4)}; expected (train_idx, val_idx), 1-D integer numpy arrays")
    return [tuple(p) for p in pairs]


def with_hint(student, tol, function, args, kwargs, got):
    """A catalogued mistake's hint for got, if it matches one on these inputs."""
    return hint("tuning", function, args, kwargs, got, tol)


# --- train_val_split ----------------------------------------------------------------------------


@pytest.mark.grades("train_val_split")
@settings(max_examples=15)
@given(n=st.integers(2, 120), frac=st.sampled_from(FRACTIONS), seed=seeds)
def test_train_val_split_sizes(student, tol, n, frac, seed):
    """train_val_split: ceil(n * val_fraction) validation indices and the rest for training"""
    n_val = math.ceil(n * frac)
    if n_val >= n:
        return
    call = call_text("train_val_split", n, frac, seed=seed)
    got = student.tuning.train_val_split(n, frac, seed=seed)
    (train, val), = index_arrays(got, call)
    check(len(val) == n_val and len(train) == n - n_val,
          lambda: f"{call} gave {len(train)} train and {len(val)} validation indices; expected {n - n_val} and {n_val}",
          hint=lambda: with_hint(student, tol, "train_val_split", (n, frac), {"seed": seed}, got))


@pytest.mark.grades("train_val_split")
@settings(max_examples=15)
@given(n=st.integers(2, 120), frac=st.sampled_from(FRACTIONS), seed=seeds)
def test_train_val_split_partition(student, n, frac, seed):
    """train_val_split: train and validation together hold every index once, none in both"""
    if math.ceil(n * frac) >= n:
        return
    call = call_text("train_val_split", n, frac, seed=seed)
    (train, val), = index_arrays(student.tuning.train_val_split(n, frac, seed=seed), call)
    both = sorted(set(train.tolist()) & set(val.tolist()))
    check(not both, lambda: f"{call}: the indices {both[:6]} are both train and validation")
    check(np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n)),
          lambda: f"{call}: together train and validation should hold every index 0..{n - 1} exactly once")


@pytest.mark.grades("train_val_split", convention="permutation rule")
@pytest.mark.weight(0.5)
def test_train_val_split_match_reference(student, tol):
    """train_val_split: validation is the start of np.random.default_rng(seed).permutation(n), train the rest"""
    for n, frac, seed in [(10, 0.25, 0), (17, 0.3, 5), (40, 0.15, 9)]:
        agree(student.tuning.train_val_split, ref.train_val_split, n, frac, seed=seed, tol=tol)


# --- kfold_indices ------------------------------------------------------------------------------


@pytest.mark.grades("kfold_indices")
@pytest.mark.weight(2)
@settings(max_examples=15)
@given(n=st.integers(2, 80), k=st.integers(2, 10), seed=seeds)
def test_kfold_partition(student, tol, n, k, seed):
    """kfold_indices: the validation folds partition range(n); each train part is all the other indices"""
    if k > n:
        return
    call = call_text("kfold_indices", n, k, seed=seed)
    got = student.tuning.kfold_indices(n, k, seed=seed)
    pairs = index_arrays(got, call, k)
    mistake = lambda: with_hint(student, tol, "kfold_indices", (n, k), {"seed": seed}, got)  # noqa: E731
    check(np.array_equal(np.sort(np.concatenate([val for _, val in pairs])), np.arange(n)),
          lambda: f"{call}: the validation folds should hold every index 0..{n - 1} exactly once; they hold "
          f"{sum(len(v) for _, v in pairs)} indices, {len(np.unique(np.concatenate([v for _, v in pairs])))} "
          "distinct", hint=mistake)
    for i, (train, val) in enumerate(pairs):
        both = sorted(set(train.tolist()) & set(val.tolist()))
        check(not both, lambda: f"{call}, fold {i}: the indices {both[:6]} are both train and validation",
              hint=mistake)
        check(np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n)),
              lambda: f"{call}, fold {i}: train should hold every index that is not in the validation fold, once")


@pytest.mark.grades("kfold_indices")
@pytest.mark.weight(0.5)
@pytest.mark.parametrize("n, k", [(12, 3), (10, 3), (11, 3), (7, 7), (9, 4), (2, 2)],
                         ids=["divides", "remainder-1", "remainder-2", "k=n", "remainder-1-of-4", "n=2"])
def test_kfold_sizes(student, tol, n, k):
    """kfold_indices: fold sizes as KFold (the first n % k folds one larger)"""
    call = call_text("kfold_indices", n, k, seed=4)
    got = student.tuning.kfold_indices(n, k, seed=4)
    pairs = index_arrays(got, call, k)
    sizes = [(len(tr), len(va)) for tr, va in pairs]
    expected = [(len(tr), len(va)) for tr, va in ref.kfold_indices(n, k, seed=4)]
    check(sizes == expected, lambda: f"{call} gave (train, validation) sizes {sizes}; expected {expected}",
          hint=lambda: with_hint(student, tol, "kfold_indices", (n, k), {"seed": 4}, got))


@pytest.mark.grades("kfold_indices")
@settings(max_examples=8)
@given(n=st.integers(10, 60), k=st.integers(2, 6), pair=st.lists(seeds, min_size=2, max_size=2, unique=True))
def test_kfold_shuffle_with_the_seed(student, n, k, pair):
    """kfold_indices: shuffled, the same seed gives the same folds and different seeds different ones"""
    def order(seed):
        call = call_text("kfold_indices", n, k, seed=seed)
        return np.concatenate([val for _, val in index_arrays(student.tuning.kfold_indices(n, k, seed=seed), call, k)])

    first = order(pair[0])
    check(np.array_equal(first, order(pair[0])), lambda: f"two calls of kfold_indices({n}, {k}, seed={pair[0]}) "
          "gave different folds")
    # n >= 10: a shuffle gives the identity, or two seeds the same order, with probability <= 1 / 10!.
    check(not np.array_equal(first, np.sort(first)), lambda: f"kfold_indices({n}, {k}, seed={pair[0]}) did not shuffle")
    check(not np.array_equal(first, order(pair[1])),
          lambda: f"kfold_indices({n}, {k}) gave the same folds for seed={pair[0]} and seed={pair[1]}")


@pytest.mark.grades("kfold_indices", convention="permutation rule")
@pytest.mark.weight(0.5)
def test_kfold_match_reference(student, tol):
    """kfold_indices cuts np.random.default_rng(seed).permutation(n) as documented, in its order"""
    for n, k, seed in [(10, 3, 0), (16, 4, 7), (9, 2, 1)]:
        agree(student.tuning.kfold_indices, ref.kfold_indices, n, k, seed=seed, tol=tol)


# --- param_grid and random_search_space ---------------------------------------------------------

NAMES = ["lr", "hidden", "epochs", "optimizer", "batch_size", "dropout"]
values = st.lists(st.one_of(st.integers(1, 64), st.sampled_from(["sgd", "momentum", "adam"]),
                            st.sampled_from([1e-3, 0.01, 0.1, 0.5])), min_size=1, max_size=3, unique=True)


@pytest.mark.grades("param_grid")
@pytest.mark.weight(2)
@settings(max_examples=15)
@given(space=st.dictionaries(st.sampled_from(NAMES), values, min_size=0, max_size=4))
def test_param_grid_matches_reference(student, tol, space):
    """param_grid: every combination, names sorted, the last name varying fastest"""
    agree(student.tuning.param_grid, ref.param_grid, space, tol=tol)


# Lists hold values of one type, as a hyperparameter's do (rng.choice would turn a mixed list into strings).
ranges = st.one_of(
    st.lists(st.integers(1, 64), min_size=1, max_size=4),
    st.lists(st.sampled_from(["sgd", "momentum", "adam"]), min_size=1, max_size=3),
    st.tuples(st.sampled_from([0.0, 0.1, -1.0]), st.sampled_from([0.5, 1.0, 2.0])),
    st.tuples(st.sampled_from([1e-5, 1e-4, 1e-3]), st.sampled_from([1e-2, 0.1, 1.0]), st.just("log")),
)


@pytest.mark.grades("random_search_space")
@pytest.mark.weight(2)
@settings(max_examples=15)
@given(space=st.dictionaries(st.sampled_from(NAMES), ranges, min_size=1, max_size=4), n_iter=st.integers(1, 6),
       seed=seeds)
def test_random_search_matches_reference(student, tol, space, n_iter, seed):
    """random_search_space: the documented draws, configuration by configuration, names in sorted order"""
    agree(student.tuning.random_search_space, ref.random_search_space, space, n_iter, seed=seed, tol=tol)


@pytest.mark.grades("random_search_space")
def test_random_search_log_range_spreads_over_decades(student, tol):
    """random_search_space: a (low, high, "log") range puts as many draws in each decade"""
    space = {"lr": (1e-5, 1e-1, "log")}
    call = call_text("random_search_space", space, 2000, seed=8)
    got = student.tuning.random_search_space(space, 2000, seed=8)
    check(isinstance(got, list) and len(got) == 2000 and all(isinstance(d, dict) and "lr" in d for d in got),
          lambda: f"{call} returned {abbrev(got, 3)}; expected a list of 2000 dicts with the key 'lr'")
    draws = np.array([float(d["lr"]) for d in got])
    check(np.all((draws >= 1e-5) & (draws <= 1e-1)), lambda: f"{call}: draws outside [1e-5, 1e-1]: "
          f"{abbrev(draws[(draws < 1e-5) | (draws > 1e-1)], 5)}")
    # Log-uniform: each of the 4 decades holds 1/4 of the draws; the sampling error's std is
    # sqrt(0.25 * 0.75 / 2000) ~ 0.0097, so 6 of them (0.058) fail a right answer about once in 10**9.
    shares = np.histogram(np.log10(draws), bins=4, range=(-5, -1))[0] / len(draws)
    check(np.all(np.abs(shares - 0.25) <= 0.058),
          lambda: f"{call}: the shares of draws in the decades 1e-5..1e-4, ..., 1e-2..1e-1 are {abbrev(shares, 4)}; "
          "a log-uniform draw puts about 0.25 in each",
          hint=lambda: with_hint(student, tol, "random_search_space", (space, 2000), {"seed": 8}, got))


# --- select_best --------------------------------------------------------------------------------


@pytest.mark.grades("select_best")
@pytest.mark.weight(2)
@settings(max_examples=15)
@given(scores=st.lists(st.sampled_from([i / 16 for i in range(17)]), min_size=1, max_size=12, unique=True),
       mode=st.sampled_from(["max", "min"]))
def test_select_best_matches_reference(student, tol, scores, mode):
    """select_best: the index of the largest (mode "max") or smallest ("min") score, scores without ties"""
    agree(student.tuning.select_best, ref.select_best, scores, mode=mode, tol=tol)


@pytest.mark.grades("select_best")
@pytest.mark.weight(0.5)
@pytest.mark.parametrize("scores, mode", [([0.5, 0.875, 0.25, 0.875], "max"), ([0.25, 0.75, 0.25, 0.5], "min"),
                                          ([0.5, 0.5, 0.5], "max"), ([2.0, 1.0, 3.0, 1.0, 1.0], "min")],
                         ids=["max-two", "min-two", "all-equal", "min-three"])
def test_select_best_ties(student, tol, scores, mode):
    """select_best: the first of tied best scores"""
    agree(student.tuning.select_best, ref.select_best, np.array(scores), mode=mode, tol=tol)


# --- tune_mlp -----------------------------------------------------------------------------------

# 31 samples in 3 folds of 11, 10, 10; a 2 x 1 grid of sgd learning rates; six tiny trainings per check.
TUNE_X, TUNE_Y = blobs(31, seed=21, d=4)
TUNE_SPACE = {"lr": [0.02, 0.3], "hidden": [5], "epochs": [2], "batch_size": [8], "optimizer": ["sgd"]}
TUNE_K, TUNE_SEED = 3, 6


def _tune_inputs(student):
    """Grid orders and fold sets tune_mlp may follow: the reference's, or the student's own functions'."""
    return tune_inputs(student, TUNE_SPACE, len(TUNE_X), TUNE_K, TUNE_SEED, ref.param_grid(TUNE_SPACE),
                       ref.kfold_indices(len(TUNE_X), TUNE_K, seed=TUNE_SEED))


@pytest.mark.grades("tune_mlp")
@pytest.mark.weight(3)
@pytest.mark.slow_calls
def test_tune_mlp_scores(student, tol):
    """tune_mlp: each score is the validation accuracy your train_mlp reaches on that fold"""
    grids, fold_sets = _tune_inputs(student)
    check_scores(student, TUNE_X, TUNE_Y, TUNE_SPACE, TUNE_K, TUNE_SEED, grids, fold_sets, tol)


@pytest.mark.grades("tune_mlp")
@pytest.mark.slow_calls
def test_tune_mlp_mean_and_std(student):
    """tune_mlp: each row's mean and population std (ddof=0) of its scores"""
    check_mean_std(student, TUNE_X, TUNE_Y, TUNE_SPACE, TUNE_K, TUNE_SEED, _tune_inputs(student)[0])


@pytest.mark.grades("tune_mlp")
@pytest.mark.slow_calls
def test_tune_mlp_chooses_the_best_mean(student):
    """tune_mlp returns the params of the row with the largest mean accuracy"""
    check_choice(student, TUNE_X, TUNE_Y, TUNE_SPACE, TUNE_K, TUNE_SEED, _tune_inputs(student)[0])
