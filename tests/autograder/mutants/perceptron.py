"""Classic mistakes in perceptron.py: (id, text in the solution, replacement, expected hint fragment)."""

MUTANTS = [
    ("weighted-sum-no-bias", "    return b + x @ w\n", "    return x @ w\n", "add the bias"),
    ("forward-no-activation", "        return _sigmoid(z)\n", "        return z\n", "apply the activation g"),
    ("forward-tanh-is-sigmoid", '    if activation == "tanh":\n        return np.tanh(z)',
     '    if activation == "tanh":\n        return _sigmoid(z)', "use the `activation` argument"),
    ("forward-unknown-name-accepted",
     '        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")',
     "        return weighted_sum(x, w, b)", "never guess what an unknown name means"),
    ("forward-unknown-name-keyerror",
     '        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")',
     "        raise KeyError(activation)", "raise ValueError(...)"),
    ("predict-strict", "return (weighted_sum(x, w, b) >= 0).astype(np.int64)",
     "return (weighted_sum(x, w, b) > 0).astype(np.int64)", "z == 0 must predict 1"),
    ("predict-float-labels", "return (weighted_sum(x, w, b) >= 0).astype(np.int64)",
     "return (weighted_sum(x, w, b) >= 0).astype(np.float64)", "return integer labels"),
    # Bool labels equal 0/1 in value: only the public dtype check catches them, without a catalogued hint.
    ("predict-bool-labels", "return (weighted_sum(x, w, b) >= 0).astype(np.int64)",
     "return weighted_sum(x, w, b) >= 0", ""),
    ("train-from-ones", "    w = np.zeros(x.shape[1])\n    b = 0.0\n", "    w = np.ones(x.shape[1])\n    b = 1.0\n",
     "start from w = 0 and b = 0"),
    ("train-strict-threshold", "pred = 1.0 if b + xi @ w >= 0 else 0.0", "pred = 1.0 if b + xi @ w > 0 else 0.0",
     "z == 0 predicts 1"),
    ("train-bias-without-lr", "b = b + lr * err", "b = b + err", "the bias update is scaled by the learning rate"),
    ("train-without-lr", "w = w + lr * err * xi\n                b = b + lr * err",
     "w = w + err * xi\n                b = b + err", "multiply both updates by lr"),
    ("train-wrong-sign", "err = yi - pred", "err = pred - yi", "check the sign of the update"),
    # Not stopping early changes nothing in (w, b); only the time limit of a huge `epochs` shows it.
    ("train-no-early-stop", "        if mistakes == 0:\n            break\n", "", ""),
    ("train-shuffled", "        for xi, yi in zip(x, y):\n",
     "        order = np.random.default_rng(0).permutation(len(x))\n        for xi, yi in zip(x[order], y[order]):\n",
     ""),
    ("train-batch-update",
     "        mistakes = 0\n        for xi, yi in zip(x, y):\n            pred = 1.0 if b + xi @ w >= 0 else 0.0\n"
     "            err = yi - pred\n            if err != 0:\n                w = w + lr * err * xi\n"
     "                b = b + lr * err\n                mistakes += 1\n",
     "        err = y - (b + x @ w >= 0)\n        mistakes = np.count_nonzero(err)\n"
     "        w = w + lr * (err @ x)\n        b = b + lr * float(np.sum(err))\n",
     "update after each sample"),
    # Convention mistakes, code taking another path for large batches, and kinds hints once mistook
    # (max-pool backward assigning, Adam with no step counter, pooling sized by the pool size).
    ("weighted-sum-large-batch",
     "    return b + x @ w\n",
     "    if x.shape[0] <= 16:  # a loop over the samples\n"
     "        return np.array([b + float(xi @ w) for xi in x])\n"
     "    return x @ w  # vectorised, for large batches\n",
     "add the bias"),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    "predict-strict": "z == 0 predicts 1",
    "catalogue-predict_strict": "z == 0 predicts 1",
    "predict-float-labels": "integer labels",
    "predict-bool-labels": "integer labels",
    "catalogue-predict_float_labels": "integer labels",
    "forward-unknown-name-accepted": "ValueError for an unknown name",
    "forward-unknown-name-keyerror": "ValueError for an unknown name",
    "train-no-early-stop": "early stop",
}
