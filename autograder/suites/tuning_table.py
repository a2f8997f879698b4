"""tune_mlp graded against the student's OWN optim.train_mlp (shared by the public and hidden suites).

The expected table is what the student's train_mlp gives on the folds (calls made in the worker,
accuracies computed here from the parameters it returns), so a wrong train_mlp costs nothing in
tuning's tests. Folds and grid order may be the contract's (the reference's, or in the public suite
the recorded ones) or the student's own kfold_indices / param_grid: a mistake there costs points in
their own tests only. No dlref here: this module ships in the student bundle.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from autograder.suites.expect import call_text, check
from autograder.suites.feedback import abbrev
from autograder.suites.student import StudentError

KEYS = ("params", "scores", "mean", "std")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def run_tune(student, x, y, space, k, seed) -> tuple[Any, list[dict], Any]:
    """(best_params, table, call) of the student's tune_mlp, checked for structure; a failing train_mlp is named."""
    call = call_text("tune_mlp", x, y, space, k=k, seed=seed)
    try:
        got = student.tuning.tune_mlp(x, y, space, k=k, seed=seed)
    except StudentError as e:
        if e.kind != "not_implemented" and "optim" in e.message:
            raise StudentError("tune_mlp calls your optim.train_mlp, so optim.py must be beside tuning.py and its "
                               f"train_mlp must work:\n{e.message}", e.kind) from None
        raise
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          lambda: f"{call} returned {abbrev(got, 3)}; expected a tuple (best_params, table)")
    best, table = got
    check(isinstance(table, list) and all(isinstance(r, dict) and set(r) >= set(KEYS) for r in table),
          lambda: f"the table of {call} is {abbrev(table, 3)}; expected a list of dicts with keys {list(KEYS)}")
    for i, row in enumerate(table):
        check(isinstance(row["params"], dict), lambda: f"row {i} of the table of {call}: params is not a dict")
        check(isinstance(row["scores"], (list, tuple, np.ndarray)) and len(row["scores"]) == k
              and all(_number(s) for s in row["scores"]),
              lambda: f"row {i} of the table of {call}: scores {abbrev(row['scores'], 4)}; expected {k} numbers, "
              "one accuracy per fold")
        check(_number(row["mean"]) and _number(row["std"]),
              lambda: f"row {i} of the table of {call}: mean and std should be numbers")
    return best, table, call


def check_grid(table, grids: list[list[dict]], call) -> list[dict]:
    """The table's configurations, which must be the grid in param_grid's order (any of `grids`)."""
    got = [row["params"] for row in table]
    check(any(got == grid for grid in grids),
          lambda: f"the table of {call} holds the configurations {abbrev(got, 8)}; expected one row per "
          f"configuration of param_grid(space), in its order: {abbrev(grids[0], 8)}")
    return got


def _accuracy(params: Any, x: np.ndarray, y: np.ndarray, call) -> float:
    """Validation accuracy of a ReLU MLP's parameters (as tune_mlp's docstring computes it)."""
    check(isinstance(params, dict) and {"W1", "b1", "W2", "b2"} <= set(params)
          and all(isinstance(params[p], np.ndarray) for p in ("W1", "b1", "W2", "b2")),
          lambda: f"{call} returned {abbrev(params, 2)}: tune_mlp cannot be checked without the parameters "
          "{'W1', 'b1', 'W2', 'b2'} your train_mlp should return")
    try:
        with np.errstate(all="ignore"):
            logits = np.maximum(x @ params["W1"] + params["b1"], 0.0) @ params["W2"] + params["b2"]
    except ValueError:
        check(False, lambda: f"{call} returned parameters of shapes "
              f"{ {k: np.shape(v) for k, v in params.items()} } that do not chain into a ReLU MLP")
    return float(np.mean(np.argmax(logits, axis=1) == y))


def fold_scores(student, x, y, configs: list[dict], folds, seed) -> tuple[list[list[float]], bool]:
    """(scores[config][fold] from the student's train_mlp, whether train_mlp repeats itself for the same seed)."""
    calls = [((x[tr], y[tr]), {"seed": seed, **params}) for params in configs for tr, _ in folds]
    calls.append(calls[0])  # the first one again: the table can only be checked if train_mlp is deterministic
    try:
        trained = student.map("optim", "train_mlp", calls)
    except StudentError as e:
        raise StudentError(f"tune_mlp is graded against your optim.train_mlp, which failed: {e.message}",
                           e.kind) from None
    first = call_text("train_mlp", *calls[0][0], **calls[0][1])
    repeats = all(isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
                  for a, b in zip(_arrays(trained[0]), _arrays(trained[-1])))
    scores, i = [], 0
    for _ in configs:
        row = []
        for _, va in folds:
            row.append(_accuracy(trained[i], x[va], y[va], first))
            i += 1
        scores.append(row)
    return scores, repeats


def _arrays(params: Any) -> list:
    return [params[k] for k in sorted(params)] if isinstance(params, dict) else [params]


def valid_folds(got: Any, n: int, k: int) -> bool:
    """Whether the student's kfold_indices result can stand as folds (k pairs of integer index arrays < n)."""
    def index(a):
        return isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in "iu" and (a.size == 0 or
                                                                                     (a.min() >= 0 and a.max() < n))
    return isinstance(got, (list, tuple)) and len(got) == k and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and index(p[0]) and index(p[1]) for p in got)


def tune_inputs(student, space, n: int, k: int, seed: int, grid: list[dict], folds) -> tuple[list, list]:
    """Grid orders and fold sets tune_mlp may follow: the contract's (`grid`, `folds`: recorded, or the
    reference's), or those of the student's own param_grid and kfold_indices."""
    grids, fold_sets = [grid], [folds]
    try:
        own_grid = student.tuning.param_grid(space)
        if isinstance(own_grid, list) and own_grid != grid:
            grids.append(own_grid)
    except AssertionError:  # not implemented, or failing: its own tests say so
        pass
    try:
        own = student.tuning.kfold_indices(n, k, seed=seed)
        if valid_folds(own, n, k):
            fold_sets.append([(np.asarray(tr), np.asarray(va)) for tr, va in own])
    except AssertionError:
        pass
    return grids, fold_sets


def check_scores(student, x, y, space, k, seed, grids, fold_sets, tol) -> None:
    """The table's scores are the student's train_mlp's validation accuracies on one of `fold_sets`."""
    _, table, call = run_tune(student, x, y, space, k, seed)
    configs = check_grid(table, grids, call)
    got = np.array([[float(s) for s in row["scores"]] for row in table])
    first_expected = None
    for folds in fold_sets:
        expected, repeats = fold_scores(student, x, y, configs, folds, seed)
        if not repeats:
            # The table cannot be reproduced; what can be checked: each score is an accuracy on its fold.
            sizes = [len(va) for _, va in folds]
            ok = all(0 <= s <= 1 and abs(s * m - round(s * m)) < 1e-9 for row in got for s, m in zip(row, sizes))
            check(ok, lambda: f"the scores of {call} are not accuracies on the folds: {abbrev(got, 8)}")
            return
        if np.allclose(got, expected, rtol=tol.rtol, atol=tol.atol):
            return
        first_expected = first_expected if first_expected is not None else np.array(expected)
    bad = np.argwhere(~np.isclose(got, first_expected, rtol=tol.rtol, atol=tol.atol))[0]
    check(False, lambda: f"{call}: the validation accuracy of configuration {configs[bad[0]]} on fold {bad[1]} is "
          f"{got[tuple(bad)]:.6g}; your train_mlp, trained on that fold's training indices with seed={seed}, "
          f"scores {first_expected[tuple(bad)]:.6g} on its validation indices\n  expected scores: "
          f"{abbrev(first_expected, 12)}\n  got:             {abbrev(got, 12)}")


def check_mean_std(student, x, y, space, k, seed, grids) -> None:
    """Each row's mean and std are those of its own scores (std: population, ddof=0)."""
    _, table, call = run_tune(student, x, y, space, k, seed)
    check_grid(table, grids, call)
    for row in table:
        scores = np.array([float(s) for s in row["scores"]])
        check(np.isclose(float(row["mean"]), scores.mean(), rtol=1e-9, atol=1e-12),
              lambda: f"{call}: the row of {row['params']} has mean {row['mean']!r}; its scores "
              f"{abbrev(scores, 8)} have mean {scores.mean()!r}")
        ddof1 = np.isclose(float(row["std"]), scores.std(ddof=1), rtol=1e-9, atol=1e-12)
        check(np.isclose(float(row["std"]), scores.std(), rtol=1e-9, atol=1e-12),
              lambda: f"{call}: the row of {row['params']} has std {row['std']!r}; its scores {abbrev(scores, 8)} "
              f"have the population standard deviation (ddof=0) {scores.std()!r}",
              hint="the table's std is the population std, np.std(scores) (ddof=0), not the sample std (ddof=1)."
              if ddof1 and scores.std() != 0 else "")


def check_choice(student, x, y, space, k, seed, grids) -> None:
    """best_params is the params of a row with the largest mean, or the row your select_best(means, "max") picks.

    Any of tied best rows is accepted: the tie rule is select_best's own test.
    """
    best, table, call = run_tune(student, x, y, space, k, seed)
    check_grid(table, grids, call)
    means = [float(row["mean"]) for row in table]
    top = [row["params"] for row, m in zip(table, means) if m == max(means)]
    if best not in top:
        # The choice your own select_best makes counts too: a select_best mistake costs in its own tests.
        try:
            own = student.tuning.select_best(means, "max")
        except AssertionError:
            own = None
        if _number(own) and int(own) == own and 0 <= own < len(table) and best == table[int(own)]["params"]:
            return
    check(best in top, lambda: f"{call} chose {abbrev(best, 6)}; the table's largest mean accuracy "
          f"{max(means):.6g} belongs to {abbrev(top, 6)}",
          hint="choose the configuration with the LARGEST mean validation accuracy (select_best(means, 'max'))."
          if best in [row["params"] for row, m in zip(table, means) if m == min(means)] else "")
