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
]
