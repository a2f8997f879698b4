"""Regularization: dropout, early stopping, L1/L2 weight penalties.

Slides: "Regularization 1: Dropout", "Regularization 2: Early stopping".

Dropout works on activations of any shape, e.g. (N, M); the penalties work on
a params dict {"W1": (D, H), "b1": (H,), ...} and only the weights ("W...") are penalized.

How this file is graded (docs/grading-rules.md): each test grades named functions, with
batches of 1 to 64 samples wherever there is a batch dimension; a convention (the "Graded:"
lines below) costs points only in the tests about it. Functions must not print (one test
checks it and shows what was printed) and must not warn for finite inputs.
"""
# Self-contained rule: this file imports only numpy and needs no other exercise.
import numpy as np


def _is_weight(key):
    """True for weight arrays ("W1", "W2", ...): biases are not penalized."""
    return key.startswith("W")


def dropout_forward(x, rate, training=True, seed=0, mask=None):
    """Inverted dropout: zero each value with probability `rate`, scale the rest by 1 / (1 - rate).

    x: activations of any shape, e.g. (N, M); rate: drop probability in [0, 1).
    Returns (out, mask), both of x's shape: mask is the boolean keep-mask
    (True with probability 1 - rate) and out = x * mask / (1 - rate), so the
    expected value of out equals x and nothing needs rescaling at test time.
    - mask None: draw it as np.random.default_rng(seed).random(x.shape) >= rate.
    - mask given: use it as is (how a layer reuses one mask in forward and backward).
    - training=False: no dropout; return (x, an all-True mask).
    rate outside [0, 1) raises ValueError (rate 1 would divide by zero).

    Hint: a uniform draw u in [0, 1) satisfies u >= rate with probability 1 - rate.
    """
    ### BEGIN SOLUTION
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    x = np.asarray(x, dtype=np.float64)
    if not training:
        return x, np.ones(x.shape, dtype=bool)
    if mask is None:
        mask = np.random.default_rng(seed).random(x.shape) >= rate
    return x * mask / (1.0 - rate), mask
    ### END SOLUTION


def dropout_backward(dout, mask, rate):
    """Gradient of inverted dropout: dx = dout * mask / (1 - rate).

    dout: upstream gradient, mask: the boolean keep-mask from dropout_forward,
    both of the same shape (e.g. (N, M)); returns dx of that shape.

    Hint: the forward pass is linear in x for a fixed mask.
    """
    ### BEGIN SOLUTION
    return np.asarray(dout, dtype=np.float64) * mask / (1.0 - rate)
    ### END SOLUTION


def l2_penalty(params, lam):
    """L2 weight penalty, lam * sum_i sum(Wi**2), as keras.regularizers.L2(lam).

    params: dict {"W1": (D, H), "b1": (H,), ...}; lam: float; returns a float.
    Only keys starting with "W" count; biases are not penalized.

    Hint: add it to the data loss; the optimizer then shrinks large weights.
    """
    ### BEGIN SOLUTION
    return float(lam * sum(np.sum(np.square(w)) for key, w in params.items() if _is_weight(key)))
    ### END SOLUTION


def l2_penalty_grad(params, lam):
    """Gradient of l2_penalty: 2 * lam * W for each weight, zeros for each bias.

    params: dict {"W1": (D, H), "b1": (H,), ...}; returns a dict with the
    same keys, each value of its parameter's shape.

    Hint: np.zeros_like for the biases.
    """
    ### BEGIN SOLUTION
    return {key: 2.0 * lam * w if _is_weight(key) else np.zeros_like(w)
            for key, w in params.items()}
    ### END SOLUTION


def l1_penalty(params, lam):
    """L1 weight penalty, lam * sum_i sum(|Wi|), as keras.regularizers.L1(lam).

    params: dict {"W1": (D, H), "b1": (H,), ...}; lam: float; returns a float.
    Only keys starting with "W" count.

    Hint: L1 pushes weights to exactly zero (sparse networks), L2 only shrinks them.
    """
    ### BEGIN SOLUTION
    return float(lam * sum(np.sum(np.abs(w)) for key, w in params.items() if _is_weight(key)))
    ### END SOLUTION


def l1_penalty_grad(params, lam):
    """(Sub)gradient of l1_penalty: lam * sign(W) per weight (0 where W == 0), zeros per bias.

    params: dict {"W1": (D, H), "b1": (H,), ...}; returns a dict with the
    same keys, each value of its parameter's shape.

    Graded: 0 at w == 0 only in the checks about it (elsewhere no weight is 0).

    Hint: |w| has no derivative at 0; np.sign gives 0 there, the usual choice.
    """
    ### BEGIN SOLUTION
    return {key: lam * np.sign(w) if _is_weight(key) else np.zeros_like(w)
            for key, w in params.items()}
    ### END SOLUTION


def early_stopping(val_losses, patience, min_delta=0.0):
    """When keras.callbacks.EarlyStopping(monitor="val_loss", patience, min_delta) stops training.

    val_losses: sequence of E validation losses, one per epoch; patience: int;
    min_delta: float. Returns (stop_epoch, best_epoch), 0-based ints.
    An epoch improves when its loss is below the best so far by more than
    |min_delta| (the first epoch always does); it becomes the new best and the
    wait restarts. Each epoch without improvement adds 1 to the wait; training
    stops at the epoch where the wait reaches `patience`. stop_epoch is that
    epoch, or E - 1 when it never stops; best_epoch is the last improving epoch.
    Empty val_losses raise ValueError.

    Like Keras, compare in float32 (Keras' default float type): loss + min_delta
    against the best loss, both rounded to float32. So 0.7 with min_delta 0.1
    does not improve on 0.8 (0.7 + 0.1 = 0.7999999999999999 in float64, but
    0.8 in float32), exactly as keras.callbacks.EarlyStopping decides.

    Hint: a short loop with `best` and `wait`; patience=0 stops at the first
    epoch that does not improve.
    """
    ### BEGIN SOLUTION
    if len(val_losses) == 0:
        raise ValueError("val_losses is empty")
    min_delta = abs(min_delta)
    best, best_epoch, wait = None, 0, 0
    for epoch, loss in enumerate(val_losses):
        loss = float(loss)
        with np.errstate(over="ignore"):  # beyond float32's range is inf, as in TensorFlow
            improved = best is None or np.float32(loss + min_delta) < np.float32(best)
        if improved:
            best, best_epoch, wait = loss, epoch, 0
            continue
        wait += 1
        if wait >= patience:
            return epoch, best_epoch
    return len(val_losses) - 1, best_epoch
    ### END SOLUTION
