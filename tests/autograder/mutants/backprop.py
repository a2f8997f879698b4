"""Classic mistakes in backprop.py: (id, text in the solution, replacement, expected hint fragment)."""

MUTANTS = [
    ("db-averaged", "np.sum(dout, axis=0)", "np.mean(dout, axis=0)", "db is the SUM of dout"),
    ("dW-transposed", "x.T @ dout, np.sum", "dout.T @ x, np.sum", "you computed its transpose"),
    ("dx-without-transpose", "return dout @ W.T, x.T", "return dout @ W, x.T", "you multiplied by W instead"),
    ("activation-on-last-layer", "a = z if i == num_layers else _activation(z, activation)\n    return a",
     "a = _activation(z, activation)\n    return a", "the last layer gives the logits"),
    ("loss-activation-on-last-layer",
     "pre_acts.append(z)\n        a = z if i == num_layers else _activation(z, activation)",
     "pre_acts.append(z)\n        a = _activation(z, activation)", "the last layer gives the logits"),
    ("missing-activation-derivative", "dz = da * _activation_grad(pre_acts[i - 2], activation)", "dz = da",
     "multiply by the activation's derivative"),
    ("derivative-of-post-activation", "_activation_grad(pre_acts[i - 2], activation)",
     "_activation_grad(inputs[i - 1], activation)", "PRE-activation"),
    ("loss-summed", "loss = float(np.mean(-np.sum(y * log_probs, axis=1)))",
     "loss = float(np.sum(-np.sum(y * log_probs, axis=1)))", "MEAN over the N samples"),
    ("grads-not-divided-by-n", "dz = (np.exp(log_probs) - y) / x.shape[0]", "dz = np.exp(log_probs) - y",
     "divide by N once"),
    ("relu-grad-one-at-zero", "return (z > 0).astype(np.float64)", "return (z >= 0).astype(np.float64)",
     "relu'(0) must be 0"),
    ("no-max-shift", "shifted = a - np.max(a, axis=1, keepdims=True)", "shifted = a", "subtract the row max"),
    ("init-variance-as-scale", 'params[f"W{i}"] = rng.normal(0.0, sigma, size',
     'params[f"W{i}"] = rng.normal(0.0, sigma**2, size', "takes the standard deviation"),
    ("init-random-biases", 'params[f"b{i}"] = np.zeros(fan_out)',
     'params[f"b{i}"] = rng.normal(0.0, sigma, size=fan_out)', ""),
    ("init-unseeded", "rng = np.random.default_rng(seed)\n    params = {}",
     "rng = np.random.default_rng()\n    params = {}", ""),
    # Convention mistakes, code taking another path for large batches, and kinds hints once mistook
    # (max-pool backward assigning, Adam with no step counter, pooling sized by the pool size).
    ("dense-backward-large-batch",
     "    return dout @ W.T, x.T @ dout, np.sum(dout, axis=0)\n",
     "    if dout.shape[0] <= 8:  # a loop over the samples\n"
     "        db = np.zeros(dout.shape[1])\n"
     "        for row in dout:\n"
     "            db += row\n"
     "    else:  # vectorised, for large batches\n"
     "        db = np.mean(dout, axis=0)\n"
     "    return dout @ W.T, x.T @ dout, db\n",
     "db is the SUM of dout"),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    'relu-grad-one-at-zero': "relu'(0)",
    'catalogue-relu_grad_one_at_zero': "relu'(0)",
}
