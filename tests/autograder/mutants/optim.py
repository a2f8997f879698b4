"""Classic mistakes in optim.py: (id, text in the solution, replacement, expected hint fragment)."""

MUTANTS = [
    ("sgd-ascent", "return w - lr * dw", "return w + lr * dw", "steps against the gradient"),
    ("momentum-sign", "velocity = momentum * velocity - lr * dw", "velocity = momentum * velocity + lr * dw",
     "velocity points downhill"),
    ("momentum-old-velocity", "velocity = momentum * velocity - lr * dw\n    return w + velocity, velocity",
     "new_velocity = momentum * velocity - lr * dw\n    return w + velocity, new_velocity",
     "move w by the NEW velocity"),
    ("adam-no-bias-correction", "m_hat = m / (1.0 - beta1**t)\n    v_hat = v / (1.0 - beta2**t)",
     "m_hat = m\n    v_hat = v", "needs the bias correction"),
    ("adam-eps-inside-sqrt", "(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)", "eps goes outside the square root"),
    ("adam-correction-t-minus-1", "m_hat = m / (1.0 - beta1**t)\n    v_hat = v / (1.0 - beta2**t)",
     "m_hat = m / (1.0 - beta1**(t - 1))\n    v_hat = v / (1.0 - beta2**(t - 1))", "not 1 - beta**(t - 1)"),
    ("adam-betas-swapped", "m = beta1 * m + (1.0 - beta1) * dw", "m = (1.0 - beta1) * m + beta1 * dw",
     "keep beta of the OLD value"),
    ("adam-v-unsquared", "v = beta2 * v + (1.0 - beta2) * dw**2", "v = beta2 * v + (1.0 - beta2) * dw",
     "averages the SQUARED gradient"),
    ("batches-not-shuffled", "order = np.random.default_rng(seed).permutation(n)", "order = np.arange(n)",
     "shuffle: the batches cut"),
    ("batches-drop-last", "for start in range(0, n, batch_size)]",
     "for start in range(0, n - batch_size + 1, batch_size)]", "keep the last, shorter batch"),
    ("batches-global-rng", "order = np.random.default_rng(seed).permutation(n)", "order = np.random.permutation(n)",
     ""),
    ("train-adam-t-starts-at-0", "second[key], step, lr=lr", "second[key], step - 1, lr=lr", ""),
    # Convention mistakes, code taking another path for large batches, and kinds hints once mistook
    # (max-pool backward assigning, Adam with no step counter, pooling sized by the pool size).
    ("adam-no-step-counter",
     "m_hat = m / (1.0 - beta1**t)\n"
     "    v_hat = v / (1.0 - beta2**t)",
     "m_hat = m / (1.0 - beta1)\n"
     "    v_hat = v / (1.0 - beta2)",
     ""),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    "catalogue-batches_legacy_rng": "permutation rule",
}
