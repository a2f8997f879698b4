"""Classic mistakes in losses.py."""
import numpy as np

from autograder.mistakes import mistake
from dlref import losses as ref
from dlref.activations import sigmoid, softmax


def _f(a):
    return np.asarray(a, dtype=np.float64)


# --- mse --------------------------------------------------------------------------------------

@mistake("losses", "mse", "mse is the mean of the squared errors over all elements (np.mean), not their sum.")
def mse_sum(y_pred, y_true):
    return float(np.sum((_f(y_pred) - _f(y_true)) ** 2))


@mistake("losses", "mse", "average over every element (np.mean with no axis), not over the rows only.")
def mse_mean_over_rows(y_pred, y_true):
    d = _f(y_pred) - _f(y_true)
    return float(np.sum(d**2) / d.shape[0])


@mistake("losses", "mse", "square the errors: mean((y_pred - y_true)**2), not the mean absolute error.")
def mse_absolute(y_pred, y_true):
    return float(np.mean(np.abs(_f(y_pred) - _f(y_true))))


@mistake("losses", "mse", "mse returns one number, the mean over all elements; you averaged per row or column.")
def mse_per_row(y_pred, y_true):
    return np.mean((_f(y_pred) - _f(y_true)) ** 2, axis=-1)


# --- mse_grad ---------------------------------------------------------------------------------

@mistake("losses", "mse_grad", "the derivative of d**2 is 2 * d: keep the factor 2.")
def mse_grad_no_two(y_pred, y_true):
    return ref.mse_grad(y_pred, y_true) / 2


@mistake("losses", "mse_grad", "divide by y_pred.size (every element counts in the mean), not by the number of rows.")
def mse_grad_over_rows(y_pred, y_true):
    y_pred = _f(y_pred)
    return 2.0 * (y_pred - _f(y_true)) / y_pred.shape[0]


@mistake("losses", "mse_grad", "mse is a mean, so its gradient is divided by y_pred.size too.")
def mse_grad_no_mean(y_pred, y_true):
    return 2.0 * (_f(y_pred) - _f(y_true))


@mistake("losses", "mse_grad", "the gradient with respect to y_pred is 2 * (y_pred - y_true) / size: check the sign.")
def mse_grad_sign(y_pred, y_true):
    return -ref.mse_grad(y_pred, y_true)


# --- binary_cross_entropy ---------------------------------------------------------------------

def _bce(p, y, low, high):
    p = np.clip(_f(p), low, high)
    y = _f(y)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


@mistake("losses", "binary_cross_entropy",
         "clip p to [EPSILON, 1 - EPSILON] before the logs: log(0) is -inf and 0 * log(0) is nan.",
         covers=("bce_clip_low_only",))  # both nan where p is exactly 0 and 1: clipping both ends is the fix
def bce_no_clip(p, y):
    return _bce(p, y, -np.inf, np.inf)


@mistake("losses", "binary_cross_entropy",
         "clip both ends: p to [EPSILON, 1 - EPSILON], or log(1 - p) is -inf at p = 1.")
def bce_clip_low_only(p, y):
    return _bce(p, y, ref.EPSILON, np.inf)


def _bce_other_epsilon(eps):
    def bce_other_epsilon(p, y):
        return _bce(p, y, eps, 1.0 - eps)

    bce_other_epsilon.__name__ = f"bce_epsilon_{eps:g}"
    return bce_other_epsilon


for _eps in (1e-15, 1e-12, 1e-10, 1e-8, 1e-6):  # sklearn's old default, torch-style and round guesses
    mistake("losses", "binary_cross_entropy",
            "clip with EPSILON = 1e-7 (Keras' epsilon), exactly; another epsilon gives another loss near 0 and 1.")(
        _bce_other_epsilon(_eps))


@mistake("losses", "binary_cross_entropy", "cross-entropy has a minus sign: -mean(y log p + (1 - y) log(1 - p)).")
def bce_no_minus(p, y):
    return -ref.binary_cross_entropy(p, y)


@mistake("losses", "binary_cross_entropy", "the loss is the mean over the elements, not the sum.")
def bce_sum(p, y):
    return ref.binary_cross_entropy(p, y) * _f(p).size


# --- sigmoid_cross_entropy_with_logits --------------------------------------------------------

@mistake("losses", "sigmoid_cross_entropy_with_logits",
         "do not take log(sigmoid(z)): sigmoid rounds to 0 or 1 for large |z| and the log is -inf. "
         "Use max(z, 0) - z * y + log1p(exp(-|z|)).")
def sigce_log_of_sigmoid(z, y):
    s, y = sigmoid(z), _f(y)
    return float(-np.mean(y * np.log(s) + (1.0 - y) * np.log(1.0 - s)))


@mistake("losses", "sigmoid_cross_entropy_with_logits",
         "exp(-z) overflows for large negative z: use max(z, 0) - z * y + log1p(exp(-|z|)).",
         covers=("sigce_no_abs",))  # both overflow for large negative z: the stable form is the fix
def sigce_exp_overflow(z, y):
    z, y = _f(z), _f(y)
    return float(np.mean((1.0 - y) * z + np.log(1.0 + np.exp(-z))))


@mistake("losses", "sigmoid_cross_entropy_with_logits",
         "max(z, 0) - z * y + log1p(exp(-|z|)): check the sign of z * y.")
def sigce_sign(z, y):
    z, y = _f(z), _f(y)
    return float(np.mean(np.maximum(z, 0.0) + z * y + np.log1p(np.exp(-np.abs(z)))))


@mistake("losses", "sigmoid_cross_entropy_with_logits", "the loss is the mean over the elements, not the sum.")
def sigce_sum(z, y):
    return ref.sigmoid_cross_entropy_with_logits(z, y) * _f(z).size


@mistake("losses", "sigmoid_cross_entropy_with_logits",
         "use the absolute value inside the exponential: log1p(exp(-|z|)), not log1p(exp(-z)).")
def sigce_no_abs(z, y):
    z, y = _f(z), _f(y)
    return float(np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-z))))


# --- sigmoid_cross_entropy_grad ---------------------------------------------------------------

@mistake("losses", "sigmoid_cross_entropy_grad",
         "divide by z.size (every element counts in the mean), not by the number of rows.")
def sigce_grad_over_rows(z, y):
    z = _f(z)
    return (sigmoid(z) - _f(y)) / z.shape[0]


@mistake("losses", "sigmoid_cross_entropy_grad", "the loss is a mean, so divide sigmoid(z) - y by z.size.")
def sigce_grad_no_mean(z, y):
    return sigmoid(z) - _f(y)


@mistake("losses", "sigmoid_cross_entropy_grad", "the gradient is (sigmoid(z) - y) / z.size: check the sign.")
def sigce_grad_sign(z, y):
    return -ref.sigmoid_cross_entropy_grad(z, y)


@mistake("losses", "sigmoid_cross_entropy_grad",
         "the gradient of the cross-entropy of sigmoid(z) is sigmoid(z) - y (the sigmoid's derivative cancels); "
         "do not multiply by sigmoid'(z).")
def sigce_grad_times_sigmoid_prime(z, y):
    s = sigmoid(_f(z))
    return (s - _f(y)) * s * (1.0 - s) / s.size


# The unshifted softmax and the unshifted log-sum-exp are one mistake in two spellings: one hint.
NO_SHIFT = ("log-sum-exp needs the max shift: subtract each row's max m before exp, log(sum(exp(z))) = "
            "m + log(sum(exp(z - m))); exp(1000) overflows to inf, and inf / inf is nan.")


# --- softmax_cross_entropy_with_logits --------------------------------------------------------

def _log_softmax(logits):
    logits = _f(logits)
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


@mistake("losses", "softmax_cross_entropy_with_logits",
         "average over the N samples only: sum -y * log_softmax over the classes (axis=1) first, then take the mean.")
def smce_mean_over_all(logits, y):
    return float(np.mean(-_f(y) * _log_softmax(logits)))


@mistake("losses", "softmax_cross_entropy_with_logits", "the loss is the mean over the samples, not the sum.")
def smce_sum(logits, y):
    return float(np.sum(-_f(y) * _log_softmax(logits)))


# Before the unshifted versions: where both give inf, the two-step log(softmax) is the cause.
@mistake("losses", "softmax_cross_entropy_with_logits",
         "do not take log(softmax(z)): softmax rounds to 0 for very negative logits and log(0) is -inf. "
         "Use log_softmax = z - m - log(sum(exp(z - m))).",
         covers=("smce_no_shift",))  # where both give the same, the unshifted softmax's log(0) is the cause
def smce_log_of_softmax(logits, y):
    return float(np.mean(-np.sum(_f(y) * np.log(softmax(_f(logits), axis=1)), axis=1)))


@mistake("losses", "softmax_cross_entropy_with_logits", NO_SHIFT)
def smce_no_shift(logits, y):
    e = np.exp(_f(logits))
    return float(np.mean(-np.sum(_f(y) * np.log(e / np.sum(e, axis=1, keepdims=True)), axis=1)))


@mistake("losses", "softmax_cross_entropy_with_logits", NO_SHIFT)
def smce_lse_no_shift(logits, y):
    logits = _f(logits)
    log_sm = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return float(np.mean(-np.sum(_f(y) * log_sm, axis=1)))


@mistake("losses", "softmax_cross_entropy_with_logits",
         "softmax runs over the classes of each sample (axis=1, along a row), not over the samples.")
def smce_wrong_axis(logits, y):
    logits = _f(logits)
    shifted = logits - np.max(logits, axis=0, keepdims=True)
    log_sm = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))
    return float(np.mean(-np.sum(_f(y) * log_sm, axis=1)))


@mistake("losses", "softmax_cross_entropy_with_logits",
         "y can hold soft labels (any probabilities that sum to 1 per row): sum y * log_softmax over every class, "
         "not only the class of argmax(y).")
def smce_one_hot_only(logits, y):
    rows = np.arange(_f(logits).shape[0])
    return float(np.mean(-_log_softmax(logits)[rows, np.argmax(_f(y), axis=1)]))


# --- softmax_cross_entropy_grad ---------------------------------------------------------------

@mistake("losses", "softmax_cross_entropy_grad",
         "the loss is a mean over the N samples, so divide softmax(logits) - y by N.")
def smce_grad_no_mean(logits, y):
    return softmax(_f(logits), axis=1) - _f(y)


@mistake("losses", "softmax_cross_entropy_grad", "divide by N, the number of samples (rows), not by N * K.")
def smce_grad_over_size(logits, y):
    logits = _f(logits)
    return (softmax(logits, axis=1) - _f(y)) / logits.size


@mistake("losses", "softmax_cross_entropy_grad", "the gradient is (softmax(logits) - y) / N: check the sign.")
def smce_grad_sign(logits, y):
    return -ref.softmax_cross_entropy_grad(logits, y)


@mistake("losses", "softmax_cross_entropy_grad", NO_SHIFT)
def smce_grad_no_shift(logits, y):
    logits = _f(logits)
    e = np.exp(logits)
    return (e / np.sum(e, axis=1, keepdims=True) - _f(y)) / logits.shape[0]


@mistake("losses", "softmax_cross_entropy_grad", NO_SHIFT)
def smce_grad_lse_no_shift(logits, y):
    logits = _f(logits)
    probs = np.exp(logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True)))
    return (probs - _f(y)) / logits.shape[0]


@mistake("losses", "softmax_cross_entropy_grad",
         "softmax runs over the classes of each sample (axis=1, along a row), not over the samples.")
def smce_grad_wrong_axis(logits, y):
    logits = _f(logits)
    return (softmax(logits, axis=0) - _f(y)) / logits.shape[0]
