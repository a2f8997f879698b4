"""Classic mistakes in losses.py: (id, text in the solution, replacement, expected hint fragment)."""

MUTANTS = [
    ("mse-sum", "return float(np.mean(diff**2))", "return float(np.sum(diff**2))", "not their sum"),
    ("mse-grad-no-two", "    return 2.0 * (y_pred - np.asarray(y_true, dtype=np.float64)) / y_pred.size",
     "    return (y_pred - np.asarray(y_true, dtype=np.float64)) / y_pred.size", "keep the factor 2"),
    ("mse-grad-over-rows", "    return 2.0 * (y_pred - np.asarray(y_true, dtype=np.float64)) / y_pred.size",
     "    return 2.0 * (y_pred - np.asarray(y_true, dtype=np.float64)) / y_pred.shape[0]", "not by the number of rows"),
    ("bce-no-clip", "    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1.0 - EPSILON)",
     "    p = np.asarray(p, dtype=np.float64)", "clip p to [EPSILON, 1 - EPSILON]"),
    ("bce-other-epsilon", "EPSILON = 1e-7  #", "EPSILON = 1e-15  #", "clip with EPSILON = 1e-7"),
    ("bce-no-minus", "    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))",
     "    return float(np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))", "has a minus sign"),
    ("sigmoid-ce-log-of-sigmoid",
     "    return float(np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))))",
     "    s = _sigmoid(z)\n    return float(-np.mean(y * np.log(s) + (1.0 - y) * np.log(1.0 - s)))",
     "do not take log(sigmoid(z))"),
    ("sigmoid-ce-sign", "np.maximum(z, 0.0) - z * y +", "np.maximum(z, 0.0) + z * y +", "check the sign of z * y"),
    ("sigmoid-ce-no-abs", "np.log1p(np.exp(-np.abs(z)))", "np.log1p(np.exp(-z))", "log1p(exp(-|z|)), not"),
    ("sigmoid-ce-grad-over-rows", "    return (_sigmoid(z) - np.asarray(y, dtype=np.float64)) / z.size",
     "    return (_sigmoid(z) - np.asarray(y, dtype=np.float64)) / z.shape[0]", "not by the number of rows"),
    ("softmax-ce-mean-over-all", "return float(np.mean(-np.sum(y * _log_softmax(logits), axis=1)))",
     "return float(np.mean(-y * _log_softmax(logits)))", "average over the N samples only"),
    ("softmax-ce-no-max-shift", "    shifted = logits - np.max(logits, axis=-1, keepdims=True)",
     "    shifted = logits", "log-sum-exp needs the max shift"),
    ("softmax-ce-log-of-softmax", "return float(np.mean(-np.sum(y * _log_softmax(logits), axis=1)))",
     "return float(np.mean(-np.sum(y * np.log(np.exp(_log_softmax(logits))), axis=1)))", "do not take log(softmax(z))"),
    ("softmax-ce-grad-no-mean", "    return (probs - np.asarray(y, dtype=np.float64)) / logits.shape[0]",
     "    return probs - np.asarray(y, dtype=np.float64)", "divide softmax(logits) - y by N"),
    ("softmax-ce-grad-over-size", "    return (probs - np.asarray(y, dtype=np.float64)) / logits.shape[0]",
     "    return (probs - np.asarray(y, dtype=np.float64)) / logits.size", "not by N * K"),
    ("softmax-ce-grad-sign", "    return (probs - np.asarray(y, dtype=np.float64)) / logits.shape[0]",
     "    return (np.asarray(y, dtype=np.float64) - probs) / logits.shape[0]", "check the sign"),
    # Convention mistakes, code taking another path for large batches, and kinds hints once mistook
    # (max-pool backward assigning, Adam with no step counter, pooling sized by the pool size).
    ("softmax-ce-one-hot-only",
     "return float(np.mean(-np.sum(y * _log_softmax(logits), axis=1)))",
     "rows = np.arange(logits.shape[0])\n"
     "    return float(np.mean(-_log_softmax(logits)[rows, np.argmax(y, axis=1)]))",
     ""),
    ("softmax-ce-grad-large-batch",
     "    return (probs - np.asarray(y, dtype=np.float64)) / logits.shape[0]\n",
     "    y = np.asarray(y, dtype=np.float64)\n"
     "    if logits.shape[0] <= 16:  # a loop over the samples\n"
     "        grad = np.empty_like(probs)\n"
     "        for i in range(logits.shape[0]):\n"
     "            grad[i] = (probs[i] - y[i]) / logits.shape[0]\n"
     "        return grad\n"
     "    return (probs - y) / logits.size  # vectorised, for large batches\n",
     "not by N * K"),
]

# Variants about a convention (docs/grading-rules.md): they may fail only the tests about it
# (test_fairness.py); ids of the corpus above, or catalogue-<name> for a catalogued mistake.
CONVENTIONS = {
    "bce-no-clip": "clipping",
    "bce-other-epsilon": "clipping",
    "softmax-ce-one-hot-only": "soft labels",
    "catalogue-bce_no_clip": "clipping",
    "catalogue-bce_clip_low_only": "clipping",
    "catalogue-bce_epsilon_1e-15": "clipping",
    "catalogue-bce_epsilon_1e-12": "clipping",
    "catalogue-bce_epsilon_1e-10": "clipping",
    "catalogue-bce_epsilon_1e-08": "clipping",
    "catalogue-bce_epsilon_1e-06": "clipping",
    "catalogue-smce_one_hot_only": "soft labels",
}
