"""Classic mistakes in regularization.py: (id, text in the solution, replacement, expected hint fragment)."""

MUTANTS = [
    ("dropout-not-inverted", "return x * mask / (1.0 - rate), mask", "return x * mask, mask",
     "scales the kept values by 1 / (1 - rate)"),
    ("dropout-divides-by-rate", "return x * mask / (1.0 - rate), mask", "return x * mask / rate, mask",
     "not by rate"),
    ("dropout-keeps-with-probability-rate", "mask = np.random.default_rng(seed).random(x.shape) >= rate",
     "mask = np.random.default_rng(seed).random(x.shape) < rate", "keep each value with probability 1 - rate"),
    ("dropout-eval-still-drops", "    if not training:\n        return x, np.ones(x.shape, dtype=bool)\n", "",
     "dropout is the identity"),
    ("dropout-eval-scales", "return x, np.ones(x.shape, dtype=bool)",
     "return x * (1.0 - rate), np.ones(x.shape, dtype=bool)", "nothing is scaled at evaluation"),
    ("dropout-ignores-given-mask", "    if mask is None:\n        mask = np.random",
     "    if True:\n        mask = np.random", "use it as is"),
    ("dropout-backward-unscaled", "return np.asarray(dout, dtype=np.float64) * mask / (1.0 - rate)",
     "return np.asarray(dout, dtype=np.float64) * mask", "must scale dout by the same factor"),
    ("l2-includes-biases", "np.sum(np.square(w)) for key, w in params.items() if _is_weight(key)",
     "np.sum(np.square(w)) for key, w in params.items()", "biases are not regularized"),
    ("l2-grad-missing-two", "2.0 * lam * w", "lam * w", "you left out the 2"),
    ("l2-grad-biases", "2.0 * lam * w if _is_weight(key) else np.zeros_like(w)", "2.0 * lam * w",
     "their gradient is zeros"),
    ("l1-grad-one-at-zero", "lam * np.sign(w)", "lam * np.where(w >= 0, 1.0, -1.0)", "|w| has no derivative at 0"),
    ("l1-grad-weights-only",
     "lam * np.sign(w) if _is_weight(key) else np.zeros_like(w)\n            for key, w in params.items()}",
     "lam * np.sign(w)\n            for key, w in params.items() if _is_weight(key)}",
     "return a gradient for every key"),
    ("early-stopping-one-late", "if wait >= patience:", "if wait > patience:", "one epoch too late"),
    ("early-stopping-one-early", "if wait >= patience:", "if wait >= patience - 1:", "one epoch too early"),
    ("early-stopping-ties-improve", "np.float32(loss + min_delta) < np.float32(best)",
     "np.float32(loss + min_delta) <= np.float32(best)", "a loss equal to the best is not an improvement"),
    ("early-stopping-ignores-min-delta", "np.float32(loss + min_delta) < np.float32(best)",
     "np.float32(loss) < np.float32(best)", "below the best by more than min_delta"),
    ("early-stopping-one-based", "for epoch, loss in enumerate(val_losses):",
     "for epoch, loss in enumerate(val_losses, start=1):", "0-based"),
    ("early-stopping-best-is-argmin", "            return epoch, best_epoch",
     "            return epoch, int(np.argmin(val_losses[:epoch + 1]))", "not simply the epoch with the lowest loss"),
    # Convention mistakes, code taking another path for large batches, and kinds hints once mistook
    # (max-pool backward assigning, Adam with no step counter, pooling sized by the pool size).
    ("dropout-backward-large-batch",
     "    return np.asarray(dout, dtype=np.float64) * mask / (1.0 - rate)\n",
     "    dout = np.asarray(dout, dtype=np.float64)\n"
     "    if dout.shape[0] > 16:  # vectorised, for large batches\n"
     "        return dout * mask\n"
     "    return np.array([d * k / (1.0 - rate) for d, k in zip(dout.ravel(), np.ravel(mask))]).reshape(dout.shape)\n",
     "must scale dout by the same factor"),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    "l1-grad-one-at-zero": "sign(0) = 0",
    "catalogue-l1_grad_one_at_zero": "sign(0) = 0",
}
