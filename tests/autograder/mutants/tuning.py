"""Classic mistakes in tuning.py: (id, text in the solution, replacement, expected hint fragment)."""

MUTANTS = [
    ("split-floor", "n_val = math.ceil(n * val_fraction)", "n_val = int(n * val_fraction)",
     "the validation part is rounded UP"),
    ("split-val-last", "return perm[n_val:], perm[:n_val]", "return perm[:n - n_val], perm[n - n_val:]",
     "validation is the FIRST n_val"),
    ("split-not-shuffled", "perm = np.random.default_rng(seed).permutation(n)\n    return perm[n_val:]",
     "perm = np.arange(n)\n    return perm[n_val:]", "shuffle first"),
    ("kfold-not-shuffled", "perm = np.random.default_rng(seed).permutation(n)\n    sizes",
     "perm = np.arange(n)\n    sizes", "shuffle first: the folds"),
    ("kfold-remainder-dropped", "sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]",
     "sizes = [n // k] * k", "are never validated"),
    ("kfold-remainder-in-last", "sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]",
     "sizes = [n // k] * (k - 1) + [n - (k - 1) * (n // k)]", "the FIRST n % k folds get one extra"),
    ("kfold-val-in-train", "folds.append((np.concatenate([perm[:start], perm[stop:]]), perm[start:stop]))",
     "folds.append((perm, perm[start:stop]))", "an index in both parts"),
    ("grid-first-key-fastest",
     "return [dict(zip(names, values)) for values in itertools.product(*(space[name] for name in names))]",
     "return [dict(zip(names[::-1], values)) for values in itertools.product(*(space[name] for name in names[::-1]))]",
     "the LAST name (in sorted order) varies fastest"),
    ("search-log-as-uniform", "config[name] = float(np.exp(rng.uniform(np.log(spec[0]), np.log(spec[1]))))",
     "config[name] = float(rng.uniform(spec[0], spec[1]))", "drawn log-uniformly"),
    ("best-last-of-ties", 'return int(np.argmax(scores) if mode == "max" else np.argmin(scores))',
     'return int(len(scores) - 1 - (np.argmax(scores[::-1]) if mode == "max" else np.argmin(scores[::-1])))',
     "the FIRST best index wins"),
    ("best-modes-swapped", 'return int(np.argmax(scores) if mode == "max" else np.argmin(scores))',
     'return int(np.argmin(scores) if mode == "max" else np.argmax(scores))', "the two are swapped"),
    ("tune-std-ddof-1", '"std": float(np.std(scores))', '"std": float(np.std(scores, ddof=1))',
     "not the sample std (ddof=1)"),
    ("tune-chooses-the-smallest-mean", 'best = select_best([row["mean"] for row in table], "max")',
     'best = select_best([row["mean"] for row in table], "min")', "the LARGEST mean validation accuracy"),
    ("tune-seed-0-for-training", "y[train_idx], seed=seed, **params)", "y[train_idx], seed=0, **params)", ""),
    ("tune-folds-seed-0", "folds = kfold_indices(x.shape[0], k, seed)", "folds = kfold_indices(x.shape[0], k, 0)", ""),
    ("tune-scored-on-train",
     "hidden = np.maximum(x[val_idx] @ trained[\"W1\"] + trained[\"b1\"], 0.0)",
     "val_idx = train_idx\n            hidden = np.maximum(x[val_idx] @ trained[\"W1\"] + trained[\"b1\"], 0.0)", ""),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    "catalogue-kfold_legacy_rng": "permutation rule",
    "catalogue-kfold_sorted": "permutation rule",
    "split-val-last": "permutation rule",
    "catalogue-split_val_last": "permutation rule",
}
