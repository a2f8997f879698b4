"""Classic mistakes in activations.py: (id, text in the solution, replacement, expected hint fragment)."""

MUTANTS = [
    ("relu-grad-one-at-zero", "return (np.asarray(z, dtype=np.float64) > 0).astype(np.float64)",
     "return (np.asarray(z, dtype=np.float64) >= 0).astype(np.float64)", "relu'(0) must be 0"),
    ("tanh-grad-unsquared", "return 4.0 * e / (1.0 + e) ** 2", "return 1.0 - np.tanh(z)", "square the tanh"),
    ("sigmoid-grad-of-z", "return e / (1.0 + e) ** 2", "return sigmoid(z) * (1 - z)", "not sigmoid(z) * (1 - z)"),
    ("softmax-no-shift", "z - np.max(z, axis=axis, keepdims=True)", "z", "subtract the max"),
    ("softmax-whole-array", "np.sum(e, axis=axis, keepdims=True)", "np.sum(e)", "normalise along `axis`"),
    ("sigmoid-wrong-sign", "return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
     "return np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))", "check the sign inside exp"),
    # Convention mistakes, code taking another path for large batches, and kinds hints once mistook
    # (max-pool backward assigning, Adam with no step counter, pooling sized by the pool size).
    ("tanh-overflow-warning",
     "    return np.tanh(np.asarray(z, dtype=np.float64))\n",
     "    z = np.asarray(z, dtype=np.float64)\n"
     "    return 1.0 - 2.0 / (np.exp(2.0 * z) + 1.0)  # exp overflows (a warning) for z > 354\n",
     ""),
    ("sigmoid-prints",
     "    e = np.exp(-np.abs(z))\n"
     "    return np.where(z >= 0,",
     "    e = np.exp(-np.abs(z))\n"
     "    print(\"sigmoid: z has shape\", z.shape)\n"
     "    return np.where(z >= 0,",
     ""),
    ("softmax-large-batch",
     "    e = np.exp(z - np.max(z, axis=axis, keepdims=True))\n"
     "    return e / np.sum(e, axis=axis, keepdims=True)\n",
     "    e = np.exp(z - np.max(z, axis=axis, keepdims=True))\n"
     "    if z.ndim == 2 and z.shape[0] > 16:  # a vectorised path for large batches\n"
     "        return e / np.sum(e)\n"
     "    return e / np.sum(e, axis=axis, keepdims=True)\n",
     "normalise along `axis`"),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    'relu-grad-one-at-zero': "relu'(0)",
    'catalogue-relu_grad_one_at_zero': "relu'(0)",
    "tanh-overflow-warning": "no warnings",
    "sigmoid-prints": "no printing",
}
