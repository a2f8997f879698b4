"""Loss functions and their gradients (slides: "Quantifying loss", "Loss optimization").

Every loss is the mean over its elements (tf.reduce_mean in the slides) and is
returned as a Python float; every gradient has the shape of the prediction.

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 samples wherever there is a batch dimension; a convention (the "Graded:"
lines below) costs points only in the tests about it. Functions must not print (one test
checks it and shows what was printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy. What it needs from an
# earlier exercise is a private copy below (names starting with "_"): fill them
# in too; your code from activations.py will do.
import numpy as np

EPSILON = 1e-7  # Keras' backend.epsilon(): how far probabilities are kept from 0 and 1


def _sigmoid(z):
    """Stable sigmoid 1 / (1 + exp(-z)), elementwise; z: any shape (as activations.sigmoid).

    Hint: exponentiate only -|z|, then np.where between 1 / (1 + e) and e / (1 + e).
    """
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def _log_softmax(logits):
    """log(softmax(logits)) along the last axis, stable; logits: (N, K), returns (N, K).

    Hint: log-sum-exp: log sum_j exp(z_j) = m + log sum_j exp(z_j - m) with m = max_j z_j.
    """
    ### BEGIN SOLUTION
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    ### END SOLUTION


def mse(y_pred, y_true):
    """Mean squared error, J = mean((y_pred - y_true)**2) over all elements.

    y_pred, y_true: arrays of the same shape, e.g. (N,) or (N, K); returns a float.

    Hint: np.mean averages over every element when no axis is given.
    """
    ### BEGIN SOLUTION
    diff = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return float(np.mean(diff**2))
    ### END SOLUTION


def mse_grad(y_pred, y_true):
    """Gradient of mse with respect to y_pred: 2 * (y_pred - y_true) / y_pred.size.

    y_pred, y_true: arrays of the same shape; returns an array of that shape.

    Hint: the mean divides by the number of elements, so its gradient does too.
    """
    ### BEGIN SOLUTION
    y_pred = np.asarray(y_pred, dtype=np.float64)
    return 2.0 * (y_pred - np.asarray(y_true, dtype=np.float64)) / y_pred.size
    ### END SOLUTION


def binary_cross_entropy(p, y):
    """Binary cross-entropy of probabilities, J = -mean(y log p + (1 - y) log(1 - p)).

    p: predicted probabilities, y: labels in [0, 1], arrays of the same shape
    such as (N,); returns a float.

    Numerical stability: log(0) is -inf. Clip p to [EPSILON, 1 - EPSILON]
    first (EPSILON = 1e-7, as Keras does), so a confident wrong answer costs
    about -log(1e-7) = 16.1 instead of inf.
    Graded: EPSILON exactly 1e-7, only in the checks with p within 1e-7 of 0
    or 1 (elsewhere p is in [0.001, 0.999], where any small clip agrees).

    Hint: np.clip, then the formula.
    """
    ### BEGIN SOLUTION
    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))
    ### END SOLUTION


def sigmoid_cross_entropy_with_logits(z, y):
    """Binary cross-entropy of sigmoid(z) against y, computed from the logits z.

    z: logits, y: labels in [0, 1], arrays of the same shape such as (N,); returns a float:
        J = mean(max(z, 0) - z * y + log(1 + exp(-|z|)))
    which is -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] rearranged
    (as tf.nn.sigmoid_cross_entropy_with_logits).

    Numerical stability: sigmoid(z) rounds to exactly 0 or 1 for large |z|
    and the log of it is -inf; the rearranged form never takes the log of a
    rounded probability and exp(-|z|) never overflows.

    Hint: np.log1p(t) is log(1 + t), accurate for small t.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    ### END SOLUTION


def sigmoid_cross_entropy_grad(z, y):
    """Gradient of sigmoid_cross_entropy_with_logits with respect to z: (sigmoid(z) - y) / z.size.

    z, y: arrays of the same shape such as (N,); returns an array of that shape.

    Hint: the derivative of the per-element loss is sigmoid(z) - y, then the mean.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return (_sigmoid(z) - np.asarray(y, dtype=np.float64)) / z.size
    ### END SOLUTION


def softmax_cross_entropy_with_logits(logits, y):
    """Softmax cross-entropy, J = mean over samples of -sum_k y_k log softmax(logits)_k.

    logits: (N, K) scores, y: (N, K) one-hot or soft labels (rows sum to 1);
    returns a float (the mean over the N samples, not over N * K).

    Numerical stability: never compute log(softmax(z)) as two steps (softmax
    can round to 0, then log gives -inf). Use log-sum-exp:
        log softmax(z)_k = z_k - m - log sum_j exp(z_j - m),  m = max_j z_j.

    Graded: soft labels (rows of y any probabilities summing to 1) only in the
    checks about them; every other check, overflow and underflow included,
    uses one-hot labels.

    Hint: sum over axis 1 first, then average over the N rows.
    """
    ### BEGIN SOLUTION
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.mean(-np.sum(y * _log_softmax(logits), axis=1)))
    ### END SOLUTION


def softmax_cross_entropy_grad(logits, y):
    """Gradient of softmax_cross_entropy_with_logits w.r.t. the logits: (softmax(logits) - y) / N.

    logits: (N, K), y: (N, K) with rows summing to 1; returns (N, K).

    Graded: with soft labels only in the checks about them (one-hot elsewhere).

    Hint: softmax is exp(log_softmax); the 1 / N comes from the mean over samples.
    """
    ### BEGIN SOLUTION
    logits = np.asarray(logits, dtype=np.float64)
    probs = np.exp(_log_softmax(logits))
    return (probs - np.asarray(y, dtype=np.float64)) / logits.shape[0]
    ### END SOLUTION
