"""Classic mistakes in perceptron.py."""
import numpy as np

from autograder.mistakes import mistake
from dlref import activations
from dlref import perceptron as ref


def _z(x, w, b):
    return ref.weighted_sum(x, w, b)


# --- weighted_sum -----------------------------------------------------------------------------

@mistake("perceptron", "weighted_sum", "add the bias: z = b + x @ w.")
def weighted_sum_no_bias(x, w, b):
    return np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64)


@mistake("perceptron", "weighted_sum", "the bias is added (z = b + x @ w), not subtracted.")
def weighted_sum_minus_bias(x, w, b):
    return np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64) - b


# --- perceptron_forward -----------------------------------------------------------------------

@mistake("perceptron", "perceptron_forward", "apply the activation g to z = b + x @ w; you returned z itself.")
def forward_no_activation(x, w, b, activation="sigmoid"):
    activations.get(activation, ref.ACTIVATIONS)
    return _z(x, w, b)


@mistake("perceptron", "perceptron_forward", "use the `activation` argument to pick g; you always applied the sigmoid.")
def forward_always_sigmoid(x, w, b, activation="sigmoid"):
    activations.get(activation, ref.ACTIVATIONS)
    return activations.sigmoid(_z(x, w, b))


@mistake("perceptron", "perceptron_forward", "the activation acts on z = b + x @ w: add the bias before applying g.")
def forward_bias_after_activation(x, w, b, activation="sigmoid"):
    g, _ = activations.get(activation, ref.ACTIVATIONS)
    return g(_z(x, w, 0.0)) + b


# --- perceptron_predict -----------------------------------------------------------------------

@mistake("perceptron", "perceptron_predict", "z == 0 must predict 1: compare with z >= 0, not z > 0.")
def predict_strict(x, w, b):
    return (_z(x, w, b) > 0).astype(np.int64)


@mistake("perceptron", "perceptron_predict", "return integer labels: cast the comparison with .astype(int), not float.")
def predict_float_labels(x, w, b):
    return (_z(x, w, b) >= 0).astype(np.float64)


@mistake("perceptron", "perceptron_predict", "return hard 0/1 labels (z >= 0), not the sigmoid probability.")
def predict_probabilities(x, w, b):
    return activations.sigmoid(_z(x, w, b))


@mistake("perceptron", "perceptron_predict", "labels are 0 and 1, not -1 and 1: use 1 where z >= 0, else 0.")
def predict_sign(x, w, b):
    return np.where(_z(x, w, b) >= 0, 1, -1).astype(np.int64)


# --- perceptron_train -------------------------------------------------------------------------
# Each re-runs Rosenblatt's rule with one change; same loop as the reference otherwise.
# These run in the trusted process without a time limit, and a mistaken rule may never converge:
# past MAX_EPOCHS they stop (a hint for a run that long would only be a guess anyway).
MAX_EPOCHS = 1000

def _train(x, y, lr, epochs, *, w0=0.0, b_lr=True, w_lr=True, strict=False, sign=1.0, per_epoch=False):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.full(x.shape[1], w0)
    b = float(w0)
    for _ in range(min(epochs, MAX_EPOCHS)):
        if per_epoch:
            z = b + x @ w
            err = y - ((z > 0) if strict else (z >= 0))
            if not np.any(err):
                break
            w = w + sign * (lr if w_lr else 1.0) * (err @ x)
            b = b + sign * (lr if b_lr else 1.0) * float(np.sum(err))
            continue
        mistakes = 0
        for xi, yi in zip(x, y):
            z = b + xi @ w
            pred = 1.0 if (z > 0 if strict else z >= 0) else 0.0
            err = yi - pred
            if err != 0:
                w = w + sign * (lr if w_lr else 1.0) * err * xi
                b = b + sign * (lr if b_lr else 1.0) * err
                mistakes += 1
        if mistakes == 0:
            break
    return w, float(b)


@mistake("perceptron", "perceptron_train",
         "the bias update is scaled by the learning rate too: b += lr * (y_i - pred_i).")
def train_bias_without_lr(x, y, lr=1.0, epochs=100):
    return _train(x, y, lr, epochs, b_lr=False)


@mistake("perceptron", "perceptron_train",
         "the weight update is scaled by the learning rate: w += lr * (y_i - pred_i) * x_i.")
def train_weights_without_lr(x, y, lr=1.0, epochs=100):
    return _train(x, y, lr, epochs, w_lr=False)


@mistake("perceptron", "perceptron_train",
         "multiply both updates by lr: w += lr * (y_i - pred_i) * x_i and b += lr * (y_i - pred_i).")
def train_without_lr(x, y, lr=1.0, epochs=100):
    return _train(x, y, lr, epochs, w_lr=False, b_lr=False)


@mistake("perceptron", "perceptron_train",
         "in training too, z == 0 predicts 1 (pred_i = 1 if z >= 0): at the start w = 0, b = 0 give z = 0.")
def train_strict_threshold(x, y, lr=1.0, epochs=100):
    return _train(x, y, lr, epochs, strict=True)


@mistake("perceptron", "perceptron_train",
         "check the sign of the update: w += lr * (y_i - pred_i) * x_i, with y_i - pred_i, not pred_i - y_i.")
def train_wrong_sign(x, y, lr=1.0, epochs=100):
    return _train(x, y, lr, epochs, sign=-1.0)


@mistake("perceptron", "perceptron_train", "start from w = 0 and b = 0 (np.zeros), not from ones.")
def train_from_ones(x, y, lr=1.0, epochs=100):
    return _train(x, y, lr, epochs, w0=1.0)


@mistake("perceptron", "perceptron_train",
         "update after each sample, in order, with the current w and b; you updated once per epoch "
         "with the predictions of the whole batch.")
def train_batch_update(x, y, lr=1.0, epochs=100):
    return _train(x, y, lr, epochs, per_epoch=True)
