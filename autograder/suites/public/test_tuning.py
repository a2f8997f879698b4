"""Public checks for tuning.py: fixed vectors, split and fold properties, and tune_mlp against your own train_mlp.

Each test grades the function of its `grades` marker. The exact permutations of train_val_split and
kfold_indices (np.random.default_rng(seed).permutation(n), as their docstrings say) are graded only
by the cases about them; their other tests grade properties (a partition of range(n), the sizes,
nothing in both parts, seeding). tune_mlp is checked against YOUR optim.train_mlp on the folds.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.course.vectors import case, cases_as_params, check_quiet, check_recorded, recorded
from autograder.suites.common import blobs
from autograder.suites.expect import call_text, check
from autograder.suites.feedback import abbrev
from autograder.suites.tuning_table import check_choice, check_mean_std, check_scores, tune_inputs

# tune_mlp's data: 30 samples of 3 classes in 3 features, a 2 x 1 x 1 grid, 3 folds: six tiny trainings.
TUNE_X, TUNE_Y = blobs(30, seed=11, d=3)
TUNE_SPACE = {"hidden": [3, 6], "epochs": [3], "lr": [0.05]}
TUNE_K, TUNE_SEED = 3, 2

CASES = [
    case("train_val_split-10-0.25", "train_val_split", 10, 0.25, seed=0),
    case("kfold_indices-10-by-3", "kfold_indices", 10, 3, seed=0),
    case("param_grid-2x3", "param_grid", {"hidden": [8, 16, 32], "lr": [0.01, 0.1]}),
    # Written in neither sorted nor reversed order: each wrong order gives its own list.
    case("param_grid-3-names", "param_grid", {"optimizer": ["sgd", "adam"], "batch_size": [16, 32], "epochs": [5, 10]}),
    case("random_search_space-mixed", "random_search_space",
         {"lr": (1e-4, 1e-1, "log"), "hidden": [8, 16, 32], "dropout": (0.0, 0.5), "optimizer": ["sgd", "adam"]}, 4,
         seed=3),
    case("random_search_space-log", "random_search_space", {"lr": (1e-5, 1e-1, "log")}, 5, seed=0),
    case("select_best-max", "select_best", [0.5, 0.75, 0.625, 0.25]),
    case("select_best-min", "select_best", [0.5, 0.75, 0.125, 0.25], mode="min"),
    case("select_best-ties", "select_best", [0.5, 0.875, 0.25, 0.875, 0.875]),
    # Not graded as cases (see PARAMS): the folds and grid of the tune_mlp checks below.
    case("data-tune-folds", "kfold_indices", len(TUNE_X), TUNE_K, seed=TUNE_SEED),
    case("data-tune-grid", "param_grid", TUNE_SPACE),
]
CONVENTIONS = {"train_val_split-10-0.25": "permutation rule", "kfold_indices-10-by-3": "permutation rule"}
PARAMS = [p for p in cases_as_params("tuning", CONVENTIONS, weights={"train_val_split": 0.5, "kfold_indices": 0.5})
          if not p.id.startswith("data-")]


@pytest.mark.parametrize("c", PARAMS)
def test_recorded(student, tol, c):
    """gives the expected output on a fixed input"""
    check_recorded(student, "tuning", c, tol)


def index_pair(got, call, names=("train_idx", "val_idx")):
    """The student's (train, val) as two 1-D integer arrays, or a clear failure."""
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          lambda: f"{call} returned {abbrev(got, 4)}; expected a tuple ({', '.join(names)})")
    for a, name in zip(got, names):
        check(isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in "iu",
              lambda: f"{name} of {call} is {abbrev(a, 4)}; expected a 1-D integer numpy array")
    return got


@pytest.mark.grades("train_val_split")
@given(n=st.integers(2, 60), frac=st.sampled_from([0.1, 0.2, 0.25, 0.3, 1 / 3, 0.45]), seed=st.integers(0, 2**16))
@settings(max_examples=12)
def test_train_val_split_sizes_and_partition(student, n, frac, seed):
    """train_val_split: ceil(n * val_fraction) validation indices, the rest for training, every index once"""
    n_val = math.ceil(n * frac)
    if n_val >= n:
        return
    call = call_text("train_val_split", n, frac, seed=seed)
    train, val = index_pair(student.tuning.train_val_split(n, frac, seed=seed), call)
    check(len(val) == n_val and len(train) == n - n_val,
          lambda: f"{call} gave {len(train)} train and {len(val)} validation indices; expected {n - n_val} and "
          f"{n_val} (ceil({n} * {frac:.4g}) validation)")
    check(np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n)),
          lambda: f"{call}: together train and validation should hold every index 0..{n - 1} exactly once")


@pytest.mark.grades("kfold_indices")
@given(n=st.integers(2, 40), k=st.integers(2, 6), seed=st.integers(0, 2**16))
@settings(max_examples=12)
def test_kfold_partition_and_sizes(student, n, k, seed):
    """kfold_indices: k folds of KFold's sizes that partition range(n), each train part the rest"""
    if k > n:
        return
    call = call_text("kfold_indices", n, k, seed=seed)
    got = student.tuning.kfold_indices(n, k, seed=seed)
    check(isinstance(got, list) and len(got) == k, lambda: f"{call} returned {abbrev(got, 3)}; expected a list of "
          f"{k} pairs (train_idx, val_idx)")
    pairs = [index_pair(p, f"fold {i} of {call}") for i, p in enumerate(got)]
    sizes = [len(val) for _, val in pairs]
    expected = [n // k + (1 if i < n % k else 0) for i in range(k)]
    check(sizes == expected, lambda: f"{call} gave validation folds of sizes {sizes}; expected {expected} (the first "
          f"n % k = {n % k} folds one larger)")
    check(np.array_equal(np.sort(np.concatenate([val for _, val in pairs])), np.arange(n)),
          lambda: f"{call}: the validation folds should hold every index 0..{n - 1} exactly once")
    for i, (train, val) in enumerate(pairs):
        check(np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n)),
              lambda: f"{call}, fold {i}: train and validation together should hold every index once "
              f"(an index in both parts? {sorted(set(train.tolist()) & set(val.tolist()))[:5]})")


@pytest.mark.parametrize("fn, arg", [pytest.param("train_val_split", 0.25, marks=pytest.mark.grades("train_val_split")),
                                     pytest.param("kfold_indices", 4, marks=pytest.mark.grades("kfold_indices"))])
def test_split_depends_on_the_seed(student, fn, arg):
    """the split is shuffled; the same seed gives the same split, another seed another one"""
    def validation(seed):
        call = call_text(fn, 20, arg, seed=seed)
        got = getattr(student.tuning, fn)(20, arg, seed=seed)
        if fn == "kfold_indices":
            check(isinstance(got, list), lambda: f"{call} returned {abbrev(got, 3)}; expected a list of pairs")
        pairs = [index_pair(got, call)] if fn == "train_val_split" else [index_pair(p, call) for p in got]
        return np.concatenate([val for _, val in pairs])

    a, b, c = validation(0), validation(0), validation(1)
    check(np.array_equal(a, b), f"two calls of {fn}(20, {arg}, seed=0) gave different splits: draw the permutation "
          "with np.random.default_rng(seed)")
    check(not np.array_equal(a, c), f"{fn}(20, {arg}) gave the same validation indices for seed=0 and seed=1")
    check(not np.array_equal(np.sort(a), a), f"{fn}(20, {arg}, seed=0) did not shuffle the indices")


def _data(case_id):
    return next(c.expected for c in recorded("tuning") if c.id == case_id)


def _tune_inputs(student):
    """Grid orders and fold sets tune_mlp may follow: the recorded ones, or the student's own functions'."""
    return tune_inputs(student, TUNE_SPACE, len(TUNE_X), TUNE_K, TUNE_SEED, _data("data-tune-grid"),
                       _data("data-tune-folds"))


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
    grids, _ = _tune_inputs(student)
    check_mean_std(student, TUNE_X, TUNE_Y, TUNE_SPACE, TUNE_K, TUNE_SEED, grids)


@pytest.mark.grades("tune_mlp")
@pytest.mark.slow_calls
def test_tune_mlp_chooses_the_best_mean(student):
    """tune_mlp returns the params of the row with the largest mean accuracy"""
    grids, _ = _tune_inputs(student)
    check_choice(student, TUNE_X, TUNE_Y, TUNE_SPACE, TUNE_K, TUNE_SEED, grids)


@pytest.mark.grades("train_val_split", "kfold_indices", "param_grid", "random_search_space", "select_best",
                    convention="no printing")
def test_does_not_print(student):
    """no function prints (each is called once on a fixed input)"""
    check_quiet(student, "tuning")
