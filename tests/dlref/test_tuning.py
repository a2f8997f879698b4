"""dlref.tuning against scikit-learn: train_test_split's sizes and split, KFold's folds, ParameterGrid's order.

scikit-learn draws its shuffle from a RandomState; `Permuting` is a RandomState whose permutation and
shuffle give default_rng(seed)'s permutation (what the contract uses), so scikit-learn's own splitting
code runs on our permutation and the comparisons are exact, not only in sizes.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

sklearn_ms = pytest.importorskip("sklearn.model_selection")

from dlref.optim import train_mlp  # noqa: E402
from dlref.tuning import (  # noqa: E402
    kfold_indices,
    param_grid,
    random_search_space,
    select_best,
    table_row,
    train_val_split,
    tune_mlp,
    validation_accuracy,
)


class Permuting(np.random.RandomState):
    """A RandomState (so scikit-learn's check_random_state takes it as is) shuffling as default_rng(seed)."""

    def __init__(self, seed):
        super().__init__(0)
        self.rule_seed = seed

    def permutation(self, x):
        return np.random.default_rng(self.rule_seed).permutation(x)

    def shuffle(self, x):
        x[:] = x[np.random.default_rng(self.rule_seed).permutation(len(x))]


seeds = st.integers(0, 2**32 - 1)


@given(n=st.integers(2, 400), frac=st.floats(0.001, 0.999), seed=seeds)
def test_train_val_split_is_sklearns_shuffle_split(n, frac, seed):
    if math.ceil(n * frac) >= n:
        with pytest.raises(ValueError):
            sklearn_ms.train_test_split(np.arange(n), test_size=frac, random_state=0)
        with pytest.raises(ValueError):
            train_val_split(n, frac, seed=seed)
        return
    train, val = train_val_split(n, frac, seed=seed)
    sk_train, sk_val = sklearn_ms.train_test_split(np.arange(n), test_size=frac, random_state=Permuting(seed))
    # Same sizes (ceil for the validation part), same indices in the same order.
    np.testing.assert_array_equal(val, sk_val)
    np.testing.assert_array_equal(train, sk_train)
    assert train.dtype == np.int64 and val.dtype == np.int64


@pytest.mark.parametrize("n, frac, n_val", [(10, 0.25, 3), (10, 0.2, 2), (7, 0.5, 4), (3, 0.1, 1), (100, 0.07, 8),
                                            (100, 0.29, 29), (20, 0.15, 3)])
def test_train_val_split_sizes_match_sklearn_by_hand(n, frac, n_val):
    # 0.07 * 100 = 7.000000000000001 in float64, so 8 (scikit-learn too): ceil of the float64 product as is.
    _, sk_val = sklearn_ms.train_test_split(np.arange(n), test_size=frac, random_state=0)
    assert len(sk_val) == len(train_val_split(n, frac)[1]) == n_val


@given(n=st.integers(2, 300), k=st.integers(2, 12), seed=seeds)
def test_kfold_is_sklearns_kfold(n, k, seed):
    if k > n:
        with pytest.raises(ValueError):
            kfold_indices(n, k, seed)
        return
    folds = kfold_indices(n, k, seed=seed)
    sk = list(sklearn_ms.KFold(n_splits=k, shuffle=True, random_state=Permuting(seed)).split(np.zeros(n)))
    assert len(folds) == len(sk) == k
    for (train, val), (sk_train, sk_val) in zip(folds, sk):
        # scikit-learn returns each fold sorted; ours keep the permutation's order (a documented choice).
        np.testing.assert_array_equal(np.sort(val), sk_val)
        np.testing.assert_array_equal(np.sort(train), sk_train)
        assert train.dtype == np.int64 and val.dtype == np.int64
    perm = np.random.default_rng(seed).permutation(n)
    np.testing.assert_array_equal(np.concatenate([val for _, val in folds]), perm)
    for train, val in folds:
        start = int(np.flatnonzero(perm == val[0])[0])
        np.testing.assert_array_equal(train, np.concatenate([perm[:start], perm[start + len(val):]]))


def test_kfold_sizes_by_hand():
    assert [len(v) for _, v in kfold_indices(10, 3)] == [4, 3, 3]
    assert [len(v) for _, v in kfold_indices(11, 3)] == [4, 4, 3]
    assert [len(v) for _, v in kfold_indices(9, 3)] == [3, 3, 3]


@pytest.mark.parametrize("n, k", [(5, 1), (3, 4), (5, 0), (2.5, 2)])
def test_kfold_rejects_bad_sizes(n, k):
    with pytest.raises(ValueError):
        kfold_indices(n, k)


spaces = st.dictionaries(st.sampled_from(["lr", "hidden", "epochs", "optimizer", "batch_size", "a", "B", "_z"]),
                         st.lists(st.one_of(st.integers(-5, 5), st.sampled_from(["sgd", "adam"]), st.floats(0, 1)),
                                  min_size=1, max_size=3), max_size=4)


@given(space=spaces)
def test_param_grid_is_sklearns_parameter_grid(space):
    assert param_grid(space) == list(sklearn_ms.ParameterGrid(space))


def test_param_grid_order_by_hand():
    assert param_grid({"b": [1, 2], "a": [3, 4]}) == [{"a": 3, "b": 1}, {"a": 3, "b": 2}, {"a": 4, "b": 1},
                                                      {"a": 4, "b": 2}]
    assert param_grid({}) == [{}]
    with pytest.raises(ValueError):
        param_grid({"a": []})


def test_random_search_space_draw_order_by_hand():
    space = {"lr": (1e-4, 1e-1, "log"), "hidden": [8, 16, 32], "dropout": (0.0, 0.5)}
    rng = np.random.default_rng(7)
    expected = []
    for _ in range(4):
        d = {"dropout": rng.uniform(0.0, 0.5)}  # keys in sorted order: dropout, hidden, lr
        d["hidden"] = [8, 16, 32][rng.integers(3)]
        d["lr"] = np.exp(rng.uniform(np.log(1e-4), np.log(1e-1)))
        expected.append(d)
    assert random_search_space(space, 4, seed=7) == expected
    # rng.choice(list) draws as rng.integers(len(list)): students may use either.
    rng = np.random.default_rng(3)
    assert [d["h"] for d in random_search_space({"h": [1, 2, 3, 4]}, 20, seed=3)] == [rng.choice([1, 2, 3, 4])
                                                                                        for _ in range(20)]


def test_random_search_log_range_is_log_uniform():
    draws = np.array([d["lr"] for d in random_search_space({"lr": (1e-6, 1.0, "log")}, 20000, seed=1)])
    assert draws.min() >= 1e-6 and draws.max() <= 1.0
    # log10 of a log-uniform draw is uniform on [-6, 0]: mean -3, and each decade holds ~1/6 of the draws.
    logs = np.log10(draws)
    assert abs(logs.mean() + 3.0) < 0.05
    counts = np.histogram(logs, bins=6, range=(-6, 0))[0] / len(logs)
    assert np.all(np.abs(counts - 1 / 6) < 0.02)


def test_sklearn_parameter_sampler_draws_the_same_distribution():
    # scikit-learn's loguniform (scipy) is the same law: compare quantiles of many draws.
    scipy_stats = pytest.importorskip("scipy.stats")
    sampler = sklearn_ms.ParameterSampler({"lr": scipy_stats.loguniform(1e-4, 1e-1)}, n_iter=20000, random_state=0)
    theirs = np.sort([d["lr"] for d in sampler])
    ours = np.sort([d["lr"] for d in random_search_space({"lr": (1e-4, 1e-1, "log")}, 20000, seed=0)])
    q = np.linspace(0.05, 0.95, 10)
    np.testing.assert_allclose(np.log(np.quantile(ours, q)), np.log(np.quantile(theirs, q)), atol=0.1)


def test_select_best_ties_and_modes():
    assert select_best([0.5, 0.9, 0.9, 0.1]) == 1
    assert select_best([0.5, 0.1, 0.9, 0.1], mode="min") == 1
    assert select_best(np.array([3.0])) == 0
    assert isinstance(select_best([1.0, 2.0]), int)
    with pytest.raises(ValueError):
        select_best([1.0], mode="best")
    with pytest.raises(ValueError):
        select_best([])


def test_table_row_std_is_population():
    row = table_row({"a": 1}, [0.5, 1.0])
    assert row == {"params": {"a": 1}, "scores": [0.5, 1.0], "mean": 0.75, "std": 0.25}


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    x = rng.normal(size=(n, 3))
    x[:, :2] += np.array([[0.0, 3.0], [-2.6, -1.5], [2.6, -1.5]])[y]
    return x, y


def test_tune_mlp_is_sklearn_cross_validation():
    """The table's per-fold scores are what scikit-learn's cross_validate computes with our folds and model."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class MLP(ClassifierMixin, BaseEstimator):
        def __init__(self, hidden=64, epochs=20, lr=1e-2):
            self.hidden, self.epochs, self.lr = hidden, epochs, lr

        def fit(self, x, y):
            self.params_ = train_mlp(x, y, hidden=self.hidden, epochs=self.epochs, lr=self.lr, seed=4)
            self.classes_ = np.unique(y)
            return self

        def predict(self, x):
            return np.argmax(validation_logits(self.params_, x), axis=1)

    def validation_logits(params, x):
        return np.maximum(x @ params["W1"] + params["b1"], 0.0) @ params["W2"] + params["b2"]

    x, y = blobs(60, 1)
    space = {"hidden": [4, 16], "lr": [0.01, 0.1], "epochs": [3]}
    best, table = tune_mlp(x, y, space, k=4, seed=4)
    folds = [(tr, va) for tr, va in kfold_indices(60, 4, seed=4)]
    search = sklearn_ms.GridSearchCV(MLP(), space, cv=folds, scoring="accuracy", error_score="raise").fit(x, y)
    assert [row["params"] for row in table] == list(search.cv_results_["params"])
    for i, row in enumerate(table):
        theirs = [search.cv_results_[f"split{f}_test_score"][i] for f in range(4)]
        np.testing.assert_allclose(row["scores"], theirs, rtol=0, atol=1e-15)
        # cv_results_ keeps the population std (np.std), as our table does.
        np.testing.assert_allclose([row["mean"], row["std"]],
                                   [search.cv_results_["mean_test_score"][i], search.cv_results_["std_test_score"][i]],
                                   rtol=1e-12, atol=1e-15)
    # GridSearchCV's best_index_ is the first of the tied best means (rank 1, lowest index), as select_best.
    assert best == search.best_params_
    assert validation_accuracy(train_mlp(x, y, hidden=16, epochs=10, lr=0.1, seed=4), x, y) > 0.8


def test_tune_mlp_rejects_seed_in_space_and_bad_shapes():
    x, y = blobs(12, 2)
    with pytest.raises(ValueError):
        tune_mlp(x, y, {"seed": [1, 2]})
    with pytest.raises(ValueError):
        tune_mlp(x, y[:5], {"hidden": [2]})
